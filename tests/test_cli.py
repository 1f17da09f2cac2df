"""Command line parsing and the server's origin policy."""

from __future__ import annotations

import subprocess
import sys

import pytest

from dashboard.cli import _parser, main
from dashboard.server import websocket_origins


def test_serve_defaults():
    args = _parser().parse_args(["serve"])
    assert (args.port, args.address, args.show) == (5006, "127.0.0.1", False)


def test_show_and_no_show():
    assert _parser().parse_args(["serve", "--show"]).show is True
    assert _parser().parse_args(["serve", "--no-show"]).show is False


def test_bad_port_is_a_clear_error(capsys):
    assert main(["serve", "--port", "70000"]) == 2
    assert "--port must be between 1 and 65535, not 70000" in capsys.readouterr().err


def test_unknown_log_level_is_refused(capsys):
    with pytest.raises(SystemExit):
        main(["--log-level", "LOUD", "serve"])
    assert "invalid choice: 'LOUD'" in capsys.readouterr().err


def test_websocket_origins_are_what_was_asked():
    assert websocket_origins("127.0.0.1", 5006) == ["127.0.0.1:5006", "localhost:5006"]
    assert websocket_origins("10.1.2.3", 8000) == ["10.1.2.3:8000"], "no wildcard, no localhost"
    assert websocket_origins("0.0.0.0", 80, ["dash.example.org"]) == ["0.0.0.0:80", "dash.example.org"]


def test_python_dash_m_help():
    out = subprocess.run([sys.executable, "-m", "dashboard", "serve", "--help"], capture_output=True,
                         text=True, check=True)
    assert "--no-show" in out.stdout and "--address" in out.stdout
