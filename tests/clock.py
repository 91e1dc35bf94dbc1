"""The clock a test needs: moved with time-machine, in the test's process and every one it starts.

The simulated exchange's prices are a function of the date, and it fills orders only on weekdays,
so a test that needs a market outcome (an approved trade, a fill, an open market) moves the clock
to a moment known to give it, instead of hoping today does. Other tests run on whatever the clock
says, and `make test-clocks` runs the suite at awkward moments to prove they do not care.
"""

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import time_machine
from time_machine import escape_hatch

# A Wednesday, 15:00 UTC (11:00 in New York): the market is open, and the simulated year of daily
# bars up to it gives approved trades for AAPL, MSFT and NVDA on the built-in templates.
MARKET_OPEN = datetime(2026, 4, 15, 15, 0, tzinfo=UTC)


@contextmanager
def clock_at(instant: datetime) -> Iterator[time_machine.Traveller]:
    """The clock reads `instant` now and ticks on, here and in processes started inside the block."""
    previous = os.environ.get("TEST_CLOCK")
    real_now = escape_hatch.time.time() if escape_hatch.is_travelling() else time.time()
    os.environ["TEST_CLOCK"] = f"{instant.isoformat()}@{real_now!r}"
    try:
        with time_machine.travel(instant, tick=True) as traveller:
            yield traveller
    finally:
        if previous is None:
            os.environ.pop("TEST_CLOCK", None)
        else:
            os.environ["TEST_CLOCK"] = previous
