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
