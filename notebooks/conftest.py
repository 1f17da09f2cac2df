"""The shipped notebooks as a person runs them: nbval (``--nbval-lax``) runs every cell in one kernel and
fails on an exception; this also fails a cell whose outputs show an error a person would see in red
(an error output, or a traceback or an error logged to stderr), which nbval-lax lets pass."""

from __future__ import annotations

import re
from typing import Any

import pytest

#: What in a cell's stderr is an error (a warning, or a plain log line, is not).
ERROR_TEXT = re.compile(r"Traceback \(most recent call last\)|^\w*(Error|Exception)\b|\bERROR\b", re.M)


def shown_errors(outputs: list[Any]) -> list[str]:
    """The error outputs among a cell's outputs, and the stderr text that reads as one."""
    found = []
    for out in outputs:
        kind = out.get("output_type")
        if kind == "error":
            found.append(f"{out.get('ename')}: {out.get('evalue')}")
        elif kind == "stream" and out.get("name") == "stderr" and ERROR_TEXT.search(out.get("text", "")):
            found.append(out["text"][-2000:])
    return found


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item):
    yield
    errors = shown_errors(getattr(item, "test_outputs", None) or [])
    if errors:
        raise AssertionError(f"{item.name} shows an error:\n" + "\n".join(errors))
