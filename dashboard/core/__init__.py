"""The seed's patterns, corrected, each with a job in the data flow. No panel or bokeh imports here."""

from .batching import BatchProcessor
from .cache import TTLCache
from .lifecycle import Service, ServiceError, ServiceRegistry
from .loop import LoopThread, ThreadedService
from .publisher import MetricsPublisher, Subscription
from .resilience import CircuitBreaker, CircuitOpen, RetriesExhausted, RetryPolicy, retry
from .resources import ResourceManager
from .state import ConnectionState, ConnectionStateMachine, InvalidTransition, Transition

__all__ = [
    "BatchProcessor",
    "CircuitBreaker",
    "CircuitOpen",
    "ConnectionState",
    "ConnectionStateMachine",
    "InvalidTransition",
    "LoopThread",
    "MetricsPublisher",
    "ResourceManager",
    "RetriesExhausted",
    "RetryPolicy",
    "Service",
    "ServiceError",
    "ServiceRegistry",
    "Subscription",
    "TTLCache",
    "ThreadedService",
    "Transition",
    "retry",
]
