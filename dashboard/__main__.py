"""``python -m dashboard``: the same command line as ``dashboard``."""

from dashboard.cli import main

raise SystemExit(main())
