"""Errors a user can act on: what was wrong and where (source, line, field).

* :class:`DataError`: a source answered, but with something that cannot be read (a malformed payload).
  The service counts it and shows it; it is not retried with backoff (the next collection would read the
  same thing), and it never opens the circuit breaker.
* :class:`ParseError`: one bad line or item of a payload, with its 1-based number and the reason.
  Parsers collect these and keep every good line; a payload is refused only when nothing in it was good.
* :class:`SourceUnavailable`: a source asked for cannot run here (no GPU, a missing optional package).

:func:`describe_error` is how any of them (or any other exception) reads in the status table.
"""

from __future__ import annotations


def describe_error(error: BaseException | str) -> str:
    """``Type: message`` (the type alone when there is no message); text is kept as it is."""
    if isinstance(error, str):
        return error
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


class DataError(ValueError):
    """A payload that could not be read."""

    def __init__(self, message: str, *, source: str = "", errors: list[ParseError] | None = None) -> None:
        self.source = source
        self.errors = list(errors or [])
        super().__init__(f"{source}: {message}" if source else message)


class ParseError(DataError):
    """One bad line (or item) of a payload: where it was and why it was refused."""

    def __init__(self, line: int, reason: str, *, source: str = "", field: str = "", unit: str = "line") -> None:
        self.line = line
        self.reason = reason
        self.field = field
        self.unit = unit  # "line" of a text payload, "item" of a JSON array
        where = f"{unit} {line}" + (f", {field}" if field else "")
        super().__init__(f"{where}: {reason}", source=source)

    def as_dict(self) -> dict[str, object]:
        """The JSON form used in ``/ingest`` answers: ``{"line": 3, "reason": ...}`` (or ``"item"``)."""
        out: dict[str, object] = {self.unit: self.line, "reason": self.reason}
        if self.field:
            out["field"] = self.field
        return out


class SourceUnavailable(RuntimeError):
    """A source that cannot run on this machine, with the reason."""


def describe_failure(error: BaseException, timeout: float) -> str:
    """A source's failed collection as the status table shows it: ``Type: message``; a timeout says how
    long it waited (``timeout`` seconds, when it says nothing itself)."""
    if isinstance(error, TimeoutError):
        return f"TimeoutError: {str(error) or f'no answer within {timeout:g}s'}"
    if isinstance(error, SourceUnavailable):
        return str(error)
    return describe_error(error)
