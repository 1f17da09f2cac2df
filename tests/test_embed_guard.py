"""The embed guard on requests Tornado builds: who may frame the dashboard, and what goes into a script."""

from __future__ import annotations

from tornado.httputil import HTTPHeaders, HTTPServerRequest, RequestStartLine

from dashboard.embed import EmbedGuard

AUTOLOAD = b'(function(){ var js_urls = ["../static/extensions/panel/shim.js"]; })();'


def answer(host: str, referer: str | None = None) -> tuple[dict, bytes]:
    headers = HTTPHeaders({"Host": host, **({"Referer": referer} if referer else {})})
    line = RequestStartLine("GET", "/embed/autoload.js?bokeh-autoload-element=el-1", "HTTP/1.1")
    request = HTTPServerRequest(start_line=line, headers=headers)
    guard = type("Guard", (EmbedGuard,), {"origins": frozenset({"127.0.0.1:5006", "intranet:8080"})})
    out: dict = {}
    _, out, chunk = guard(request).transform_first_chunk(200, HTTPHeaders(), AUTOLOAD, True)
    return out, chunk


def test_every_answer_names_the_origins_that_may_frame_it():
    headers, _ = answer("127.0.0.1:5006")
    assert headers["Content-Security-Policy"] == (
        "frame-ancestors 'self' http://127.0.0.1:5006 http://intranet:8080 https://127.0.0.1:5006 "
        "https://intranet:8080")


def test_the_relative_script_path_becomes_this_servers():
    _, chunk = answer("127.0.0.1:5006", referer="http://intranet:8080/page")
    assert b'"http://127.0.0.1:5006/static/extensions/panel/shim.js"' in chunk


def test_a_page_of_another_origin_gets_the_refusal_as_text():
    headers, chunk = answer("127.0.0.1:5006", referer="http://other:9000/<img src=x onerror=alert(1)>")
    text = chunk.decode()
    assert "textContent = text" in text and "innerHTML" not in text
    assert "a page of http://other:9000 may not embed" in text
    assert headers["Content-Length"] == str(len(chunk))
