"""The market time the simulator trades at: wall-clock time, or a replay that runs faster.

The simulated exchange matches orders against one-minute bars completed up to "now", so a
replay clock that starts on a weekday and runs, say, 600x lets a test watch an order fill in
parts within a second, on any day of the week.
"""

import time
from datetime import UTC, datetime, timedelta


class MarketClock:
    def __init__(self, start: datetime | None = None, speed: float = 1.0):
        if speed <= 0:
            raise ValueError(f"The clock speed must be positive, got {speed}")
        if start is not None and start.tzinfo is None:
            raise ValueError("The market clock needs a timezone-aware start")
        self.is_wall_clock = start is None and speed == 1.0
        self.speed = speed
        self._origin = start or datetime.now(UTC)
        self._started = time.monotonic()

    def now(self) -> datetime:
        if self.is_wall_clock:
            return datetime.now(UTC)
        return self._origin + timedelta(seconds=(time.monotonic() - self._started) * self.speed)
