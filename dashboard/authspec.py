"""A spec's ``auth:`` section: who may look, as ``dashboard serve``'s options say it (they win over it)::

    auth:
      basic_auth_file: users.json      # {"user": "password"}, relative to the spec
      cookie_secret_env: DASHBOARD_COOKIE_SECRET
      metrics_token_env: SCRAPE_TOKEN  # /metrics for Prometheus, with a bearer token
      viewers: [ada, grace, groups=sre]  # who may look: users, or CLAIM=VALUE of an OAuth login's
                                         # claims (default: every login the provider accepts)
      writers: [ada]                   # who may post annotations, the same way (default: every viewer)

or ``oauth_provider``, ``oauth_key``, ``oauth_secret_env``, ``oauth_redirect_uri``, ``oauth_extra_params``,
``oauth_encryption_key_env``, ``login_endpoint``, ``logout_endpoint``, ``metrics_public``. A secret is
never written in the file (whoever reads the file, or its history in version control, would have it): a
spec names the environment variable that holds it, and ``validate`` refuses ``cookie_secret: ...`` and the
like at their line. This module imports neither panel nor bokeh.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from yaml.nodes import Node

#: Fields that hold a secret, and what a spec names instead.
SECRETS = {"basic_auth": "basic_auth_file (a JSON file of users) or basic_auth_env",
           "cookie_secret": "cookie_secret_env", "oauth_secret": "oauth_secret_env",
           "oauth_encryption_key": "oauth_encryption_key_env", "metrics_token": "metrics_token_env"}
#: The fields of ``auth:`` and what each takes.
FIELDS = {"basic_auth_file": "path", "basic_auth_env": "env", "cookie_secret_env": "env",
          "oauth_provider": "text", "oauth_key": "text", "oauth_secret_env": "env", "oauth_redirect_uri": "text",
          "oauth_extra_params": "mapping", "oauth_encryption_key_env": "env", "login_endpoint": "path",
          "logout_endpoint": "path", "metrics_public": "bool", "metrics_token_env": "env", "writers": "names",
          "viewers": "names"}
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,200}")


def check_auth(checker: Any, node: Node) -> dict[str, Any]:
    """The checked ``auth:`` mapping (each problem reported through ``checker`` at its line)."""
    out: dict[str, Any] = {}
    for name, (key_node, value_node) in (checker.mapping(node, "auth") or {}).items():
        where = f"auth.{name}"
        if name in SECRETS:
            checker.fail(value_node, where, "a secret does not belong in the spec file (whoever reads the file "
                                            f"has it); name the environment variable that holds it: {SECRETS[name]}")
            continue
        kind = FIELDS.get(name)
        if kind is None:
            checker.fail(key_node, where, f"unknown field; expected one of {', '.join(FIELDS)}")
            continue
        value = checker.value(value_node)
        problem = _problem(kind, value)
        if problem:
            checker.fail(value_node, where, problem)
        elif name == "basic_auth_file":
            out[name] = str(Path(checker.path).parent / Path(value).expanduser())
        else:
            out[name] = value
    return out


def _problem(kind: str, value: Any) -> str | None:
    if kind == "env":
        return None if isinstance(value, str) and ENV_NAME.fullmatch(value) else \
            f"expected the name of an environment variable, got {value!r}"
    if kind == "bool":
        return None if isinstance(value, bool) else f"expected true or false, got {value!r}"
    if kind == "mapping":
        return None if isinstance(value, Mapping) else f"expected a mapping of name: value, got {value!r}"
    if kind == "names":
        ok = isinstance(value, list) and all(isinstance(v, str) and v for v in value)
        return None if ok else f"expected a list of user names, got {value!r}"
    return None if isinstance(value, str) and value else f"expected a text, got {value!r}"


def auth_values(section: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """The options a checked ``auth:`` section gives (:class:`~dashboard.auth.AuthOptions` fields), its
    secrets read from ``environ``; ValueError naming a variable that is not set."""
    out: dict[str, Any] = {}
    for name, value in section.items():
        if name.endswith("_env"):
            if not environ.get(value):
                raise ValueError(f"spec auth.{name}: the environment variable {value} is not set")
            out[name.removesuffix("_env")] = environ[value]
        elif name == "basic_auth_file":
            out["basic_auth"] = value
        elif name in ("writers", "viewers"):
            out[name] = tuple(value)
        else:
            out[name] = dict(value) if name == "oauth_extra_params" else value
    return out
