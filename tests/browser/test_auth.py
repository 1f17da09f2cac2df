"""Who may look, through a real ``dashboard serve`` with Panel's basic auth: every route of the server's own
table behind the login, the login in Chromium (a wrong password refused and never logged, the user in the
header, logout), ``/metrics`` with a bearer token, annotations by a logged-in viewer, the cookie secret kept
in the data folder so that a login survives a restart, and the refusal to start off loopback without a
login."""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from dashboard.devtools import free_port

from ..support import http_ok, poll, stop_process
from .conftest import CHROMIUM_FLAGS, PLOT_STATE_JS, chromium_path

pytestmark = [pytest.mark.browser, pytest.mark.server]
ROOT = Path(__file__).resolve().parents[2]
SPEC = """title: who may look
system: false
sources:
  - type: synthetic
    name: waves
    rate: 10
    series_count: 1
    interval: 0.5
panels:
  - metric: synthetic
    title: Waves
"""
#: A user name is the user's to choose (and an OAuth provider's): shown as text, never as markup.
BOB = 'bob<img src=x onerror="window.bobWasHere=1">'
USERS = {"ada": "correct horse battery", BOB: "staple <script>", "carol": "not on the list"}
PASSWORD_IN_LOG = re.compile("|".join(re.escape(p) for p in [*USERS.values(), "wrong-password-123"]))
#: Routes a visitor may reach without a login: the libraries' assets, the login itself, and /ingest (its own
#: token; loopback here).
PUBLIC = re.compile(r"^/(static|embed/static|components)/|^/favicon\.ico$|^/(login|logout|ingest)$")
METRICS_TOKEN = "scrape-me-please"
#: Keeps every websocket a page opens (in ``window.dashboardSockets``), and the code it closed with.
SOCKETS_JS = """
window.dashboardSockets = []
const Native = window.WebSocket
window.WebSocket = function (...args) {
  const socket = new Native(...args)
  window.dashboardSockets.push(socket)
  socket.addEventListener('close', (event) => { socket.closedWith = event.code })
  return socket
}
window.WebSocket.prototype = Native.prototype
Object.assign(window.WebSocket, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3})
"""
#: [readyState, close code] of each websocket the page opened.
SOCKET_STATES_JS = "() => window.dashboardSockets.map(s => [s.readyState, s.closedWith ?? null])"


class AuthServer:
    """``python -m dashboard serve SPEC --basic-auth USERS.json`` on a free loopback port, restartable."""

    def __init__(self, tmp_path: Path, *extra: str, auth: str | None = None, port: int | None = None,
                 tls: bool = False) -> None:
        self.port = port or free_port()
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.data = tmp_path / "data"
        self.users = tmp_path / "users.json"
        self.users.write_text(json.dumps(USERS))
        self.spec = tmp_path / "spec.yaml"
        self.spec.write_text(SPEC if auth is None else f"{SPEC}auth:\n{auth}")
        self.log_path = tmp_path / "serve.log"
        login = ["--basic-auth", str(self.users)] if auth is None else []
        self.args = [*login, "--data-dir", str(self.data), *extra]
        self.proc: subprocess.Popen | None = None

    def start(self) -> AuthServer:
        with self.log_path.open("a") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "dashboard", "serve", str(self.spec), "--port", str(self.port), *self.args],
                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        poll(lambda: self.proc.poll() is not None or self.answers(), timeout=60, what="dashboard serve to answer")
        assert self.proc.poll() is None, self.log()
        return self

    def answers(self) -> bool:
        if self.url.startswith("http:"):
            return http_ok(f"{self.url}/favicon.ico")
        try:  # (the test's own certificate)
            return httpx.get(f"{self.url}/favicon.ico", verify=False, timeout=30).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            stop_process(self.proc)

    def log(self) -> str:
        return self.log_path.read_text()


@pytest.fixture
def server(tmp_path):
    srv = AuthServer(tmp_path, "--metrics-token", METRICS_TOKEN).start()
    yield srv
    srv.stop()
    log = srv.log()
    assert "Traceback" not in log
    assert not PASSWORD_IN_LOG.search(log), "a password in the server's log"


def route_table(tmp_path: Path) -> list[tuple[str, str]]:
    """The routes ``dashboard serve`` builds with a login on: read from the Tornado application that
    :func:`dashboard.server.make_server` makes, in a process of its own (Panel's auth config is global)."""
    code = ("import json, sys; from dashboard.server import make_server, route_table; "
            "from dashboard.auth import AuthOptions; from dashboard.service import MetricsService; "
            "server, _ = make_server(port=0, service=MetricsService([]), "
            "auth=AuthOptions(basic_auth='pw', cookie_secret='s', metrics_token='t')); "
            "sys.stdout.write('ROUTES' + json.dumps(route_table(server)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT,
                         timeout=120)
    return [tuple(r) for r in json.loads(out.stdout.split("ROUTES", 1)[1])]


def concrete(pattern: str) -> str:
    """A path the route ``pattern`` matches."""
    path = pattern.rstrip("$").replace("(?!extensions/)", "").replace("(.*)", "x")
    path = path.replace("/?", "/") if path != "/?" else "/"
    if path.endswith("autoload.js"):  # what server_document asks for (without it: 400, before any login)
        path += "?bokeh-autoload-element=p1&bokeh-app-path=/"
    return path


def test_every_route_of_the_server_s_table_is_behind_the_login(server, tmp_path):
    routes = route_table(tmp_path)
    ours = {handler for _, handler in routes if handler.startswith("dashboard.")}
    assert {"dashboard.exporter.MetricsHandler", "dashboard.ui.snapshot.SnapshotHandler",
            "dashboard.alerts.http.AlertsHandler", "dashboard.ingest.AnnotationsHandler"} <= ours
    checked = []
    for pattern, handler in routes:
        path = concrete(pattern)
        if PUBLIC.search(path):
            continue
        for method, headers in (("GET", {}), ("GET", {"Accept": "text/html"}), ("POST", {})):
            answer = httpx.request(method, server.url + path, headers=headers, content=b"{}", timeout=30)
            refused = answer.status_code in (401, 403, 405) or (  # 405: a method the route has not
                answer.status_code == 302 and answer.headers["location"].split("?")[0].endswith("/login")) or (
                # server_document's script: a login link where the plot would be, and no session
                "autoload.js" in path and answer.status_code == 200 and "dashboard-embed-login" in answer.text
                and "/login" in answer.text and "token" not in answer.text)
            assert refused, f"{method} {path} ({handler}) answered {answer.status_code} without a login"
        upgrade = httpx.get(server.url + path, timeout=30, headers={
            "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Origin": server.url})
        assert upgrade.status_code != 101, f"{path}: a websocket opened without a login"
        checked.append(path)
    assert {"/", "/ws", "/embed/", "/embed/ws", "/metrics", "/snapshot", "/download", "/alerts",
            "/annotations"} <= set(checked)
    assert any(p.startswith("/embed/autoload.js?") for p in checked)
    # a browser asking for one of the project's pages is sent to the login page, with the way back
    answer = httpx.get(f"{server.url}/snapshot?window=1m", headers={"Accept": "text/html"}, timeout=30)
    assert answer.status_code == 302 and answer.headers["location"].startswith("/login?next=")
    # /metrics: a scraper with the token gets the exposition, a wrong token does not
    assert httpx.get(f"{server.url}/metrics", headers={"Authorization": "Bearer wrong"}, timeout=30).status_code == 401
    scraped = httpx.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=30)
    assert scraped.status_code == 200 and "dashboard_" in scraped.text


def log_in(page, url: str, user: str, password: str) -> None:
    page.goto(url)
    page.locator("input[name=username]").fill(user)
    page.locator("input[name=password]").fill(password)
    page.locator("input[name=password]").press("Enter")


def plotted(page) -> bool:
    try:
        state = page.evaluate("() => window.Bokeh ? 1 : 0") and page.evaluate(PLOT_STATE_JS)
    except Exception:
        return False
    return bool(state) and all(v and v["rows"] > 0 for v in state.values())


def test_a_viewer_logs_in_sees_their_name_posts_a_note_and_logs_out(server, page):
    page.goto(server.url)
    poll(lambda: "/login" in page.url, timeout=30, what="the login page for /")
    log_in(page, server.url, "ada", "wrong-password-123")
    poll(lambda: "error=" in page.url, timeout=30, what="the wrong password refused")
    assert page.locator("input[name=password]").is_visible()
    log_in(page, server.url, BOB, USERS[BOB])
    poll(lambda: plotted(page), timeout=60, what="the live page after logging in")
    login = next(c for c in page.context.cookies(server.url) if c["name"] == "user")
    assert login["sameSite"] == "Lax" and not login["secure"], "over plain HTTP the cookie stays Panel's"
    who = page.locator(".dashboard-who").first
    poll(lambda: "bob" in (who.evaluate("e => (e.shadowRoot ?? e).textContent") or ""), timeout=30,
         what="the user's name in the header")
    assert page.evaluate("() => window.bobWasHere === undefined"), "a user name is text, never markup"
    # the logged-in browser may post a note as JSON, with its cookie
    posted = page.request.post(f"{server.url}/annotations", data=json.dumps({"text": "deploy 42"}),
                               headers={"Content-Type": "application/json"})
    assert posted.status == 200, posted.text()
    listed = page.request.get(f"{server.url}/annotations").json()["annotations"]
    assert [n["text"] for n in listed] == ["deploy 42"]
    # without the cookie: refused
    assert httpx.post(f"{server.url}/annotations", json={"text": "x"}, timeout=30).status_code == 401
    other = page.context.new_page()  # a second tab of the same viewer, which the logout ends too
    # Its websockets as its own script sees them, read with an evaluate. (Playwright's sync API delivers a
    # page's events only while the test calls it: a poll of a list its "close" handler fills sleeps between
    # looks and never sees a close that came after the last call; on a busy machine it often came later.)
    # A reconnect whose upgrade is refused closes too.
    other.add_init_script(SOCKETS_JS)
    other.goto(server.url)
    poll(lambda: plotted(other), timeout=60, what="the second tab")
    kept = {c["name"]: c["value"] for c in page.context.cookies(server.url)}  # a copy of the login
    assert httpx.get(f"{server.url}/alerts", cookies=kept, timeout=30).status_code == 200
    page.locator(".dashboard-who a").first.click()
    poll(lambda: "/logout" in page.url, timeout=30, what="the logout page")
    # the login is revoked on the server: the second tab's websocket is closed, and a reconnect or the
    # copied cookie is refused
    def all_closed() -> list | None:
        states = other.evaluate(SOCKET_STATES_JS)
        return states if states and all(state == 3 for state, _ in states) else None

    sockets = poll(all_closed, timeout=30, what="the second tab's websockets closed")
    assert sockets[0][1] == 1000, sockets  # closed by the server, as it closes a logged-out page's socket
    assert httpx.get(f"{server.url}/alerts", cookies=kept, timeout=30).status_code == 401
    back = httpx.get(f"{server.url}/", cookies=kept, timeout=30)
    assert back.status_code == 302 and "/login" in back.headers["location"]
    other.close()
    page.goto(server.url)
    poll(lambda: "/login" in page.url, timeout=30, what="the login page again after logging out")
    assert f"session opened by {BOB}" in server.log()
    assert re.search(re.escape(BOB) + r" logged out: [12] open page\(s\) closed", server.log())
    # logging in again works at once
    log_in(page, server.url, BOB, USERS[BOB])
    poll(lambda: plotted(page), timeout=60, what="the live page after logging in again")
    assert not [m for m in page.errors.messages if m.startswith(("dialog", "pageerror"))]


def test_a_login_survives_a_restart_through_the_kept_cookie_secret(server, page):
    log_in(page, server.url, "ada", USERS["ada"])
    poll(lambda: plotted(page), timeout=60, what="the live page")
    secret = server.data / "cookie_secret"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    kept = secret.read_text()
    server.stop()
    server.start()
    page.goto(server.url)
    poll(lambda: plotted(page), timeout=60, what="the live page after the restart, without logging in again")
    assert "/login" not in page.url and secret.read_text() == kept


def test_off_loopback_without_a_login_the_server_refuses_to_start(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    out = subprocess.run([sys.executable, "-m", "dashboard", "serve", str(spec), "--address", "0.0.0.0",
                          "--port", str(free_port()), "--no-history"],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 2
    assert "not a loopback address and no viewer login" in out.stderr and "--basic-auth" in out.stderr
    assert "--allow-unauthenticated" in out.stderr


def test_the_spec_s_auth_section_logs_in_and_only_its_writers_post(tmp_path, page):
    server = AuthServer(tmp_path, auth="  basic_auth_file: users.json\n  metrics_public: true\n"
                                       "  writers: [ada]\n").start()
    try:
        assert httpx.get(f"{server.url}/metrics", timeout=30).status_code == 200, "metrics_public"
        assert httpx.get(f"{server.url}/alerts", timeout=30).status_code == 401
        note = {"data": json.dumps({"text": "restart"}), "headers": {"Content-Type": "application/json"}}
        log_in(page, server.url, BOB, USERS[BOB])
        poll(lambda: plotted(page), timeout=60, what="the page for a viewer who may only read")
        refused = page.request.post(f"{server.url}/annotations", **note)
        assert refused.status == 403 and "may look but not write" in refused.text()
        page.context.clear_cookies()
        log_in(page, server.url, "ada", USERS["ada"])
        poll(lambda: plotted(page), timeout=60, what="the page for a writer")
        assert page.request.post(f"{server.url}/annotations", **note).status == 200
        listed = page.request.get(f"{server.url}/annotations").json()["annotations"]
        assert [(n["text"], n["author"]) for n in listed] == [("restart", "ada")]
        assert "1 annotation(s) posted by ada" in server.log()
    finally:
        server.stop()
    assert "Traceback" not in server.log()


def test_a_login_not_among_the_viewers_is_refused_everywhere(tmp_path, page):
    server = AuthServer(tmp_path, auth="  basic_auth_file: users.json\n  viewers: [ada]\n").start()
    try:
        log_in(page, server.url, "carol", USERS["carol"])  # a good password, but not a viewer
        text = poll(lambda: page.evaluate("() => document.body && document.body.innerText"), timeout=30,
                    what="the answer to the login")
        poll(lambda: "not authorized" in page.evaluate("() => document.body.innerText"), timeout=30,
             what="Panel's refusal page")
        assert not page.evaluate("() => !!window.Bokeh"), f"no session for carol: {text[:200]}"
        for route in ("/alerts", "/snapshot?window=1m", "/annotations", "/metrics"):
            answer = page.request.get(server.url + route)
            assert answer.status == 403 and "auth.viewers" in answer.text(), (route, answer.status)
        script = page.request.get(f"{server.url}/embed/autoload.js?bokeh-autoload-element=p1"
                                  "&bokeh-app-path=/embed&panel=synthetic")
        assert script.status == 403 and "dashboard-embed-refused" in script.text() and "token" not in script.text()
        page.context.clear_cookies()
        log_in(page, server.url, "ada", USERS["ada"])
        poll(lambda: plotted(page), timeout=60, what="the page for a viewer")
        assert "carol may not look (not among auth.viewers)" in server.log()
    finally:
        server.stop()
    assert "Traceback" not in server.log()


class OidcProvider(BaseHTTPRequestHandler):
    """A small OAuth 2 / OpenID provider for the test, on loopback: ``/authorize`` consents at once for
    ``user`` (sends the browser back with a code), ``/token`` trades the code (and the client's secret) for
    an access token, ``/userinfo`` names the user that token belongs to. Every call is recorded."""

    user = "grace@example.org"
    calls: list[str] = []

    def log_message(self, *args) -> None:  # quiet
        return None

    def _json(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.calls.append(url.path)
        if url.path == "/authorize":
            back = f"{query['redirect_uri']}?{urlencode({'code': 'code-for-grace', 'state': query['state']})}"
            self.send_response(302)
            self.send_header("Location", back)
            self.end_headers()
        elif url.path == "/userinfo":
            ok = self.headers.get("Authorization") == "Bearer token-for-grace"
            self._json(200 if ok else 401, {"email": self.user, "name": "Grace", "groups": ["sre", "dba"]}
                       if ok else {"error": "no"})
        else:
            self._json(404, {"error": "not found"})

    def do_POST(self) -> None:
        body = parse_qs(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode())
        self.calls.append(self.path)
        if self.path == "/token" and body.get("code") == ["code-for-grace"] \
                and body.get("client_secret") == ["test-secret"]:
            self._json(200, {"access_token": "token-for-grace", "token_type": "bearer", "expires_in": 3600})
        else:
            self._json(400, {"error": "invalid_grant"})


@contextlib.contextmanager
def oidc_provider():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), OidcProvider)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_an_oauth_login_names_the_user_who_sees_the_page_but_is_no_writer(tmp_path, page):
    with oidc_provider() as provider:
        port = free_port()
        extra = json.dumps({"AUTHORIZE_URL": f"{provider}/authorize", "TOKEN_URL": f"{provider}/token",
                            "USER_URL": f"{provider}/userinfo"})
        server = AuthServer(tmp_path, "--oauth-provider", "generic", "--oauth-key", "dash",
                            "--oauth-secret", "test-secret", "--oauth-extra-params", extra,
                            "--oauth-redirect-uri", f"http://127.0.0.1:{port}/login",
                            auth="  writers: [ada@example.org, groups=ops]\n", port=port)
        server.start()
        try:
            assert httpx.get(f"{server.url}/alerts", timeout=30).status_code == 401
            page.goto(server.url)
            poll(lambda: plotted(page), timeout=60, what="the page after the provider's consent")
            assert OidcProvider.calls[:3] == ["/authorize", "/token", "/userinfo"], OidcProvider.calls
            who = page.locator(".dashboard-who").first
            poll(lambda: "grace@example.org" in (who.evaluate("e => (e.shadowRoot ?? e).textContent") or ""),
                 timeout=30, what="the OAuth user's name in the header")
            refused = page.request.post(f"{server.url}/annotations", data=json.dumps({"text": "x"}),
                                        headers={"Content-Type": "application/json"})
            assert refused.status == 403, "grace is not among the writers, nor in their group"
            assert "session opened by grace@example.org" in server.log()
            # the same login, once the writers name a group of hers (from the provider's user info)
            server.stop()
            server.spec.write_text(SPEC + "auth:\n  writers: [ada@example.org, groups=sre]\n")
            server.start()
            posted = page.request.post(f"{server.url}/annotations", data=json.dumps({"text": "failover"}),
                                       headers={"Content-Type": "application/json"})
            assert posted.status == 200, posted.text()
            listed = page.request.get(f"{server.url}/annotations").json()["annotations"]
            assert [(n["text"], n["author"]) for n in listed] == [("failover", "grace@example.org")]
        finally:
            server.stop()
        assert "Traceback" not in server.log() and "test-secret" not in server.log()


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, made for the test, and its key (PEM files)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_a_plot_embedded_in_another_site_s_page_over_tls_shows_for_a_logged_in_viewer(tmp_path, browser):
    from bokeh.embed import server_document

    from .test_embed import host_page, rows

    cert, key = self_signed(tmp_path)
    site_port = free_port()  # the embedding page: http://localhost:PORT, another site than 127.0.0.1
    srv = AuthServer(tmp_path, "--ssl-certfile", str(cert), "--ssl-keyfile", str(key),
                     "--allow-websocket-origin", f"localhost:{site_port}", tls=True).start()
    # A profile that allows another site's cookies, as a viewer's Chrome does by default (Playwright's
    # contexts block them, as an incognito window does); then the login cookie's own attributes decide.
    profile = tmp_path / "profile"
    (profile / "Default").mkdir(parents=True)
    (profile / "Default" / "Preferences").write_text(json.dumps({"profile": {"cookie_controls_mode": 0}}))
    context = browser.browser_type.launch_persistent_context(
        profile, executable_path=chromium_path(), args=CHROMIUM_FLAGS, viewport={"width": 1000, "height": 800},
        ignore_https_errors=True)  # (the test's own certificate)
    try:
        page = context.pages[0] if context.pages else context.new_page()
        script = server_document(f"{srv.url}/embed", arguments={"panel": "synthetic"}, with_credentials=True)
        with host_page(f'<div style="width:700px;height:320px">{script}</div>', site_port) as url:
            embedding = url.replace("127.0.0.1", "localhost")
            # not logged in: a login link where the plot would be
            page.goto(embedding)
            login_link = page.locator(".dashboard-embed-login a")
            poll(lambda: login_link.count() and login_link.is_visible(), timeout=30, what="the login link")
            assert login_link.get_attribute("href") == f"{srv.url}/login"
            # logged in on the dashboard: its cookie crosses sites over TLS, so the embedded plot streams
            log_in(page, srv.url, "ada", USERS["ada"])
            poll(lambda: plotted(page), timeout=60, what="the dashboard after logging in")
            login = next(c for c in context.cookies(srv.url) if c["name"] == "user")
            assert login["sameSite"] == "None" and login["secure"] and login["httpOnly"], login
            page.goto(embedding)
            poll(lambda: rows(page, "Waves") > 0, timeout=60, what="the embedded plot's data")
            first = rows(page, "Waves")
            poll(lambda: rows(page, "Waves") > first + 4, timeout=30, what="the embedded plot to stream")
            assert not page.evaluate("() => document.querySelector('.dashboard-embed-login')")
    finally:
        context.close()
        srv.stop()
    log = srv.log()
    assert "Traceback" not in log and "serving on https://127.0.0.1" in log
