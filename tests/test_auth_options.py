"""The viewer-login options: what ``dashboard serve`` refuses, what it passes to Panel, the kept secret."""

from __future__ import annotations

import stat

import pytest

from dashboard.auth import AuthOptions, cookie_secret, refusal
from dashboard.cli import main


def test_off_loopback_needs_a_login_or_an_explicit_allowance():
    assert refusal("127.0.0.1", AuthOptions()) is None
    assert refusal("localhost", AuthOptions()) is None
    assert refusal("::1", AuthOptions()) is None
    why = refusal("0.0.0.0", AuthOptions())
    assert why is not None and "--basic-auth" in why and "--allow-unauthenticated" in why
    assert refusal("10.1.2.3", AuthOptions(basic_auth="pw")) is None
    assert refusal("10.1.2.3", AuthOptions(allow_unauthenticated=True)) is None


@pytest.mark.parametrize(("options", "message"), [
    (AuthOptions(basic_auth="pw", oauth_provider="github", oauth_key="k", oauth_secret="s"), "exclude"),
    (AuthOptions(oauth_provider="github"), "--oauth-key and --oauth-secret"),
    (AuthOptions(metrics_public=True, metrics_token="t"), "exclude"),
    (AuthOptions(basic_auth="pw", login_endpoint="login"), "--login-endpoint"),
])
def test_options_that_cannot_work_are_named(options, message):
    with pytest.raises(ValueError, match=message):
        options.check()


def test_panel_gets_its_own_options_as_given():
    assert AuthOptions().panel_kwargs("s") == {}
    kwargs = AuthOptions(oauth_provider="generic", oauth_key="k", oauth_secret="s", oauth_extra_params={"a": 1},
                         logout_endpoint="/bye").panel_kwargs("secret")
    assert kwargs == {"oauth_provider": "generic", "oauth_key": "k", "oauth_secret": "s",
                      "oauth_extra_params": {"a": 1}, "logout_endpoint": "/bye", "cookie_secret": "secret"}


def test_the_cookie_secret_is_made_once_and_kept_private(tmp_path):
    first = cookie_secret(tmp_path / "data")
    path = tmp_path / "data" / "cookie_secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(first) >= 40
    assert cookie_secret(tmp_path / "data") == first


def test_serve_refuses_bad_auth_options_before_binding(tmp_path, capsys):
    assert main(["serve", "--no-history", "--address", "0.0.0.0"]) == 2
    assert "no viewer login" in capsys.readouterr().err
    assert main(["serve", "--no-history", "--oauth-provider", "github"]) == 2
    assert "--oauth-key" in capsys.readouterr().err
    assert main(["serve", "--no-history", "--basic-auth", "pw", "--oauth-extra-params", "{nope"]) == 2
    assert "--oauth-extra-params: not JSON" in capsys.readouterr().err
    assert main(["serve", "--no-history", "--ssl-keyfile", str(tmp_path / "key.pem")]) == 2
    assert "--ssl-keyfile needs --ssl-certfile" in capsys.readouterr().err
    assert main(["serve", "--no-history", "--ssl-certfile", str(tmp_path / "missing.pem")]) == 2
    assert f"cannot read {tmp_path / 'missing.pem'}" in capsys.readouterr().err


def test_a_spec_names_secrets_by_variable_and_refuses_them_at_their_line(tmp_path):
    from dashboard.authspec import auth_values
    from dashboard.spec import SpecError, parse_spec

    path = str(tmp_path / "spec.yaml")
    with pytest.raises(SpecError) as caught:
        parse_spec("title: t\nauth:\n  basic_auth_file: users.json\n  cookie_secret: hunter2\n"
                   "  metrics_token_env: not a name\n  writers: ada\n", path)
    problems = caught.value.problems
    assert any(p.startswith(f"{path}:4: auth.cookie_secret: a secret does not belong in the spec file")
               and "cookie_secret_env" in p for p in problems)
    assert any(p.startswith(f"{path}:5: auth.metrics_token_env: expected the name of an environment variable")
               for p in problems)
    assert any(p.startswith(f"{path}:6: auth.writers: expected a list of user names") for p in problems)
    assert not any("hunter2" in p for p in problems), "the secret is not repeated in the message"
    spec = parse_spec("auth:\n  basic_auth_file: users.json\n  cookie_secret_env: MY_SECRET\n"
                      "  writers: [ada]\n", path)
    assert spec.auth["basic_auth_file"] == str(tmp_path / "users.json")
    with pytest.raises(ValueError, match="MY_SECRET is not set"):
        auth_values(spec.auth, {})
    assert auth_values(spec.auth, {"MY_SECRET": "s3"}) == {
        "basic_auth": str(tmp_path / "users.json"), "cookie_secret": "s3", "writers": ("ada",)}


def test_writers_are_the_only_logins_that_post_when_named():
    assert AuthOptions().may_write("anyone") and not AuthOptions().may_write(None)
    assert AuthOptions(writers=("ada",)).may_write("ada") and not AuthOptions(writers=("ada",)).may_write("bob")


def test_writers_may_name_an_oauth_claim():
    options = AuthOptions(writers=("ada", "groups=sre", "role=editor"))
    assert options.may_write("bob", {"groups": ["dba", "sre"]})
    assert options.may_write("bob", {"role": "editor"})
    assert not options.may_write("bob", {"groups": ["dba"], "role": "viewer"})
    assert not options.may_write("bob", {"groups": "sre-team"}), "a string claim must equal the value"
    assert not options.may_write("bob") and options.may_write("ada")
    assert not options.may_write("groups=sre"), "an entry with = is a claim, never a user name"
