"""History on disk: the store's samples kept across restarts, in raw, per-minute and per-hour tiers.

The storage layer: nothing here imports panel or bokeh.
"""

from .disk import History, HistoryInUse
from .files import Chunk
from .retention import Retention, parse_size
from .tiers import TIERS

__all__ = ["TIERS", "Chunk", "History", "HistoryInUse", "Retention", "parse_size"]
