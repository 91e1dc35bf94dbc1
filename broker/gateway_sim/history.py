"""reqHistoricalData in TWS terms ("1 Y", "1 day") answered with broker.simulation.generate_bars."""

import math
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from broker.simulation import is_intraday

# TWS bar size setting -> the simulated exchange's bar size.
BAR_SIZES = {
    "1 min": "1min",
    "2 mins": "2min",
    "5 mins": "5min",
    "15 mins": "15min",
    "30 mins": "30min",
    "1 hour": "1h",
    "4 hours": "4h",
    "1 day": "1d",
    "1 week": "1w",
    "1 month": "1M",
}
DURATION = re.compile(r"^(\d+) ([SDWMY])$")
END_TIME = re.compile(r"^(\d{8})[ -](\d{2}:\d{2}:\d{2})(?: (\S+))?$")


class HistoryRequestError(ValueError):
    """A historical data request TWS would refuse (its error 321, request validation)."""


def simulated_bar_size(bar_size: str) -> str:
    bar = BAR_SIZES.get(bar_size.strip())
    if bar is None:
        raise HistoryRequestError(
            f"Historical data bar size setting {bar_size!r} is not offered by the simulator; "
            f"use one of {', '.join(BAR_SIZES)}"
        )
    return bar


def simulated_period(duration: str) -> tuple[str, timedelta | None]:
    """The exchange's period for a TWS duration, plus a cut-off span when the duration is in seconds."""
    match = DURATION.match(duration.strip())
    if not match:
        raise HistoryRequestError(f"Historical data duration {duration!r} is invalid; use e.g. '1 Y', '6 M', '30 D'")
    count, unit = int(match.group(1)), match.group(2)
    if count == 0:
        raise HistoryRequestError(f"Historical data duration {duration!r} is empty")
    if unit == "S":
        return f"{math.ceil(count / 86400) + 1}d", timedelta(seconds=count)
    return f"{count}{unit.lower()}", None


def parse_end_time(text: str, now: datetime) -> datetime:
    """TWS endDateTime ("20240103 14:30:00 UTC", "20240103-14:30:00", empty for now)."""
    if not text.strip():
        return now
    match = END_TIME.match(text.strip())
    if not match:
        raise HistoryRequestError(f"End date/time {text!r} is invalid; use 'yyyymmdd hh:mm:ss UTC'")
    day, clock, zone = match.groups()
    try:
        tz = ZoneInfo(zone) if zone else UTC
    except (ZoneInfoNotFoundError, ValueError):
        raise HistoryRequestError(f"End date/time {text!r} has an unknown time zone") from None
    return datetime.strptime(day + clock, "%Y%m%d%H:%M:%S").replace(tzinfo=tz).astimezone(UTC)


def bar_date(iso_time: str, bar: str, format_date: int) -> str:
    """A bar's date as TWS sends it: yyyymmdd for daily and longer bars, else per formatDate."""
    moment = datetime.fromisoformat(iso_time)
    if not is_intraday(bar):
        return moment.strftime("%Y%m%d")
    if format_date == 2:
        return str(int(moment.timestamp()))
    return moment.astimezone(UTC).strftime("%Y%m%d %H:%M:%S UTC")


class PacingRules:
    """IBKR's historical data pacing: no identical request within 15 s, at most 60 requests per 10 min."""

    IDENTICAL_WINDOW = 15.0
    BUDGET_WINDOW = 600.0
    BUDGET = 60

    def __init__(self):
        self._recent: list[tuple[float, tuple]] = []

    def violation(self, request_key: tuple, now: float) -> str:
        """Why this request breaks the rules (empty when it does not); records it when allowed."""
        self._recent = [(when, key) for when, key in self._recent if now - when < self.BUDGET_WINDOW]
        if any(key == request_key and now - when < self.IDENTICAL_WINDOW for when, key in self._recent):
            return "identical historical data request within 15 seconds"
        if len(self._recent) >= self.BUDGET:
            return f"more than {self.BUDGET} historical data requests within 10 minutes"
        self._recent.append((now, request_key))
        return ""
