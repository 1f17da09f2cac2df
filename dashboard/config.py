"""``dashboard.config``: the process-wide knobs of the viewers' feeds, as params (like Panel's ``pn.config``).

::

    import dashboard
    dashboard.config.flush_interval = 0.1          # at most ten updates a second per viewer
    with dashboard.config.set(max_in_flight=8):    # for a block (tests, a benchmark), then restored
        ...
    pn.Param(dashboard.config)                     # widgets for every knob, in a notebook

A feed takes its flush interval when it is made and reads the others as it goes. This module imports
neither panel nor bokeh.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import param


class Config(param.Parameterized):
    """Tunables shared by every viewer's feed in the process."""

    flush_interval = param.Number(
        default=0.05, bounds=(0.005, 10.0),
        doc="Seconds between two flushes into one viewer's document (at most one update per interval).")

    max_pending = param.Integer(
        default=512, bounds=(1, 1_000_000),
        doc="Published items the hub may have waiting, and status events a viewer may hold, before the "
            "oldest are dropped (counted).")

    resolution = param.Integer(
        default=1200, bounds=(50, 20_000),
        doc="Buckets a plot's window is cut into (about its width in pixels): each becomes at most two "
            "rows per series, its min and max.")

    max_in_flight = param.Integer(
        default=2, bounds=(1, 1_000_000),
        doc="Flushes a page may have unacknowledged before its feed waits for it (backpressure).")

    ack_timeout = param.Number(
        default=5.0, bounds=(0.1, 600),
        doc="Until a viewer first acknowledges (a page still rendering its first document), it gets one "
            "more flush per this many seconds once max_in_flight are unacknowledged.")

    @contextlib.contextmanager
    def set(self, **values: Any) -> Iterator[Config]:
        """Set some knobs for the length of a ``with`` block, then restore what they were."""
        before = {name: getattr(self, name) for name in values}
        self.param.update(**values)
        try:
            yield self
        finally:
            self.param.update(**before)

    def defaults(self) -> dict[str, Any]:
        """The default of every knob."""
        return {name: p.default for name, p in self.param.objects("existing").items() if name != "name"}


#: The process's one configuration object.
config = Config(name="dashboard.config")
