"""reqHistoricalData in TWS terms ("1 Y", "1 day") answered with broker.simulation.generate_bars."""

import math
import re
from collections import deque
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from broker.pacing import IBKR_HISTORICAL, PacingRules, required_wait
from broker.timeframes import is_intraday

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


class PacingMonitor:
    """IBKR's pacing as the gateway applies it: a historical request that breaks a rule is refused
    with error 162, a message beyond 50 a second with error 100 (the app's pacer makes callers wait).

    The hard historical limits bind bars of 30 s or less; every bar size counts towards the 50
    requests in flight (the caller says when each one is answered, `finished`).
    """

    def __init__(self, rules: PacingRules = IBKR_HISTORICAL):
        self.rules = rules
        self.in_flight = 0
        self._requests: list[tuple[float, int, tuple]] = []  # (time, conid, request key) of small-bar requests
        self._messages: dict[int, deque[float]] = {}  # client id -> times of its last second's messages

    def message_allowed(self, client_id: int, now: float) -> bool:
        """True (and the message is counted) when the client sent fewer than the limit in the last second."""
        times = self._messages.setdefault(client_id, deque())
        while times and times[0] <= now - 1.0:
            times.popleft()
        if len(times) >= self.rules.max_messages_per_second:
            return False
        times.append(now)
        return True

    def allows(self, conid: int, request_key: tuple, bar_seconds: int, now: float) -> bool:
        """True (and the request is counted, in flight until `finished`) when it keeps every rule at `now`."""
        if self.in_flight >= self.rules.max_in_flight:
            return False
        if self.rules.is_small(bar_seconds) and not self._keeps_hard_limits(conid, request_key, now):
            return False
        self.in_flight += 1
        return True

    def finished(self) -> None:
        self.in_flight -= 1

    def _keeps_hard_limits(self, conid: int, request_key: tuple, now: float) -> bool:
        self._requests = [r for r in self._requests if r[0] > now - self.rules.window_seconds]
        wait = required_wait(
            now,
            self.rules,
            [when for when, _, _ in self._requests],
            [when for when, c, _ in self._requests if c == conid],
            [when for when, _, key in self._requests if key == request_key],
        )
        if wait > 0:
            return False
        self._requests.append((now, conid, request_key))
        return True
