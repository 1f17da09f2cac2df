"""``GET /alerts``: the current alerts as JSON, like Prometheus's ``/api/v1/alerts``.

``{"status": "success", "alerts": [{name, state, labels, summary, value, since, severity, metric}],
"data": {"alerts": [{labels, annotations: {summary}, state, activeAt, value}]}}``: the first list in this
dashboard's terms, the second in Prometheus's shape. Open to whoever may open the page
(:class:`~dashboard.auth.ViewerRoute`).
"""

from __future__ import annotations

from typing import Any

from ..auth import ViewerRoute
from .receivers import _iso


class AlertsHandler(ViewerRoute):
    def initialize(self, service: Any) -> None:
        self._service = service

    def get(self) -> None:
        engine = self._service.alert_engine
        alerts = engine.alerts(include_inactive=self.get_query_argument("all", "") in ("1", "true"))
        ours = [a.as_dict() for a in alerts]
        prometheus = [{"labels": a.labels(), "annotations": {"summary": a.summary}, "state": a.state.value,
                       "activeAt": _iso(a.machine.since), "value": str(a.value)} for a in alerts]
        self.finish({"status": "success", "alerts": ours, "data": {"alerts": prometheus}})
