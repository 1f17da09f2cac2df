"""The servable app for ``panel serve dashboard/app.py``: a live dashboard of this machine.

Panel runs this file once per session; the metrics service behind it is shared by the whole process.
"""

from dashboard.server import TITLE, build_app

build_app().servable(title=TITLE)
