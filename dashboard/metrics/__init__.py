"""Metrics model, store and rates. No panel or bokeh imports here."""

from .frames import to_epoch, to_frame
from .model import Batch, SeriesInfo, SeriesKey
from .rates import RateConverter
from .store import RingBuffer, Store

__all__ = ["Batch", "RateConverter", "RingBuffer", "SeriesInfo", "SeriesKey", "Store", "to_epoch", "to_frame"]
