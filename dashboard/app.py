"""The servable app for ``panel serve dashboard/app.py``: a live dashboard of this machine.

``panel serve dashboard/app.py --args spec.yaml`` serves the dashboard a spec describes instead. Panel runs
this file once per session; the metrics service behind it is shared by the whole process. (``/ingest`` is
served by ``dashboard serve``, which can add routes; ``panel serve`` cannot.)
"""

import sys

from dashboard.server import TITLE, build_app, spec_app_cached
from dashboard.ui import propcache

propcache.apply()  # (Bokeh's property defaults read once per class: the process is a server's)

if len(sys.argv) > 1:
    title, app = spec_app_cached(sys.argv[1])
    app().servable(title=title)
else:
    build_app().servable(title=TITLE)
