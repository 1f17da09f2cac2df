"""Alerts that run the same in a notebook and on a server: rules evaluated by the service over its store,
states from an explicit state machine, ``ALERTS`` series, and delivery to Alertmanager or a webhook.

This package imports neither panel nor bokeh (its ``http`` route, which the server loads, shares the
viewers' door of :mod:`dashboard.auth`); the plots draw thresholds and alert bands, and
:class:`~dashboard.ui.alerts.AlertList` lists them.
"""

from .alerting import Alerting
from .engine import ALERTS_SOURCE, AlertEngine, AlertEvent
from .receivers import Receiver
from .rules import TRANSITIONS, Alert, AlertRule, AlertState

__all__ = ["ALERTS_SOURCE", "TRANSITIONS", "Alert", "AlertEngine", "AlertEvent", "AlertRule", "AlertState", "Alerting",
           "Receiver"]
