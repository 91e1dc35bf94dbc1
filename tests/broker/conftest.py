from datetime import UTC, datetime
from decimal import Decimal

import pytest

# A Wednesday afternoon: the simulated market is open (it trades 24 hours on weekdays).
WEDNESDAY = datetime(2026, 11, 18, 14, 0, 30, tzinfo=UTC)


@pytest.fixture
def rich_account(settings):
    """Enough cash that buying power never gets in the way of a fill test."""
    settings.SIMULATED_STARTING_CASH = Decimal("10000000")
    settings.SIMULATED_COMMISSION_PER_SHARE = Decimal("0.005")
    return settings


def usd_account(equity="1000000", **rates: str):
    """A USD broker account of `equity`, reporting `rates` (EUR="1.08") as IBKR's ExchangeRate values."""
    from broker.adapters.base import AccountSummary

    return AccountSummary(
        account_id="DU0001",
        equity=Decimal(equity),
        cash=Decimal(equity),
        paper=True,
        currency="USD",
        exchange_rates={currency: Decimal(rate) for currency, rate in rates.items()},
    )
