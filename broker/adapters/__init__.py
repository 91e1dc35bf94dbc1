"""Pick the broker adapter named by settings.BROKER_ADAPTER."""

import logging
import sys
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
    "account_currency",
    "cached_status",
    "get_adapter",
    "remember_account",
    "remembered_account",
    "reset_adapter",
]

logger = logging.getLogger(__name__)

ADAPTERS = ("simulated", "ibkr")


def get_adapter() -> BrokerAdapter:
    """The configured adapter. The IBKR adapter is one per worker process (it holds the connection)."""
    # Each adapter is imported when chosen: the IBKR one loads ib_insync and its event loop, which a
    # simulated deployment never needs, and both import broker.adapters.base through this package.
    name = settings.BROKER_ADAPTER
    if name == "simulated":
        from broker.adapters.simulated import SimulatedAdapter

        return SimulatedAdapter()
    if name == "ibkr":
        from broker.adapters.ibkr import shared_ibkr_adapter

        return shared_ibkr_adapter()
    raise PermanentBrokerError(f"Unknown BROKER_ADAPTER {name!r}; expected one of {', '.join(ADAPTERS)}")


def reset_adapter() -> None:
    """Close and forget this process's cached adapter, so the next get_adapter() follows the current settings
    (tests that point BROKER_ADAPTER/IBKR_PORT elsewhere; nothing to do unless the IBKR adapter was loaded)."""
    ibkr = sys.modules.get("broker.adapters.ibkr")
    if ibkr is not None:
        ibkr.reset_shared_ibkr_adapter()


STATUS_CACHE_SECONDS = 30


def cached_status() -> BrokerStatus:
    """The adapter's status, asked at most once per 30 s for all callers (it may mean a gateway round trip)."""
    key = f"broker:status:{settings.BROKER_ADAPTER}"
    stored = cache.get(key)
    if stored is None:
        stored = asdict(get_adapter().status())
        cache.set(key, stored, STATUS_CACHE_SECONDS)
    return BrokerStatus(**stored)


ACCOUNT_CACHE_SECONDS = 24 * 3600


def _account_key() -> str:
    return f"broker:account:{settings.BROKER_ADAPTER}"


def remember_account(account: AccountSummary) -> None:
    """Keep the account summary (its currency and the broker's exchange rates) for pages that state
    amounts in the account's currency without asking the broker."""
    cache.set(_account_key(), account, ACCOUNT_CACHE_SECONDS)


def remembered_account() -> AccountSummary | None:
    """The account summary the broker last gave, None before it was first asked (or a day after)."""
    return cache.get(_account_key())


def account_currency(*, ask_broker: bool = True) -> str | None:
    """The broker account's currency: remembered from the last account summary, else asked of the
    broker (unless `ask_broker` is False, for pages a slow broker must not delay); None when unknown."""
    account = remembered_account()
    if account is None and ask_broker:
        try:
            account = get_adapter().account_summary()
        except BrokerError as error:
            logger.warning("The account's currency is unknown, the broker did not answer: %s", error)
            return None
        remember_account(account)
    return account.currency if account else None
