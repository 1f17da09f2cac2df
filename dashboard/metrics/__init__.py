"""Metrics model, store and rates. No panel or bokeh imports here."""

from .model import Batch, SeriesInfo, SeriesKey
from .rates import RateConverter
from .store import RingBuffer, Store, to_epoch, to_frame

__all__ = ["Batch", "RateConverter", "RingBuffer", "SeriesInfo", "SeriesKey", "Store", "to_epoch", "to_frame"]
