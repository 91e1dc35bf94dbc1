"""Pick the broker adapter named by settings.BROKER_ADAPTER."""

from django.conf import settings

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
