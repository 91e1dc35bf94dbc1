"""Pick the broker adapter named by settings.BROKER_ADAPTER."""

from dataclasses import asdict

from django.conf import settings
from django.core.cache import cache

from broker.adapters.base import (
    AccountSummary,
    BrokerAdapter,
    BrokerError,
    BrokerPosition,
    BrokerStatus,
    BrokerUnavailable,
    ContractInfo,
    FillInfo,
    OrderRequest,
    OrderState,
    PermanentBrokerError,
    Quote,
    TransientBrokerError,
)

__all__ = [
    "AccountSummary",
    "BrokerAdapter",
    "BrokerError",
    "BrokerPosition",
    "BrokerStatus",
    "BrokerUnavailable",
    "ContractInfo",
    "FillInfo",
    "OrderRequest",
    "OrderState",
    "PermanentBrokerError",
    "Quote",
    "TransientBrokerError",
    "cached_status",
    "get_adapter",
]

ADAPTERS = ("simulated", "ibkr")


def get_adapter() -> BrokerAdapter:
    """The configured adapter. The IBKR adapter is one per worker process (it holds the connection)."""
    name = settings.BROKER_ADAPTER
    if name == "simulated":
        from broker.adapters.simulated import SimulatedAdapter

        return SimulatedAdapter()
    if name == "ibkr":
        from broker.adapters.ibkr import shared_ibkr_adapter

        return shared_ibkr_adapter()
    raise PermanentBrokerError(f"Unknown BROKER_ADAPTER {name!r}; expected one of {', '.join(ADAPTERS)}")


STATUS_CACHE_SECONDS = 30


def cached_status() -> BrokerStatus:
    """The adapter's status, asked at most once per 30 s for all callers (it may mean a gateway round trip)."""
    key = f"broker:status:{settings.BROKER_ADAPTER}"
    stored = cache.get(key)
    if stored is None:
        stored = asdict(get_adapter().status())
        cache.set(key, stored, STATUS_CACHE_SECONDS)
    return BrokerStatus(**stored)
