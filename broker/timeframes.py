"""Periods ("5d", "1y") and bar sizes ("5min", "1d", "1M") understood everywhere in the broker app."""

import re
from datetime import datetime, timedelta

import numpy as np
from dateutil.relativedelta import relativedelta

INTRADAY_BARS = {"1min": 1, "2min": 2, "5min": 5, "15min": 15, "30min": 30, "1h": 60, "4h": 240}
BAR_SIZES = (*INTRADAY_BARS, "1d", "1w", "1M")
PERIOD_PATTERN = re.compile(r"(\d{1,3})([dwmy])")
PERIOD_EXAMPLES = "1d, 5d, 1w, 1m, 3m, 6m, 1y, 2y, 5y"


def is_intraday(bar: str) -> bool:
    return bar in INTRADAY_BARS


def parse_period(period: str) -> tuple[int, str]:
    """(count, unit) with unit d (business days), w (weeks), m (months) or y (years)."""
    match = PERIOD_PATTERN.fullmatch((period or "").strip().lower())
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"Unknown period {period!r}; use e.g. {PERIOD_EXAMPLES}")
    return int(match.group(1)), match.group(2)


def check_bar(bar: str) -> str:
    if bar not in BAR_SIZES:
        raise ValueError(f"Unknown bar size {bar!r}; use one of {', '.join(BAR_SIZES)}")
    return bar


def validate_timeframe(period: str, bar: str) -> list[str]:
    """Errors for a (period, bar) pair, empty when both are understood."""
    errors = []
    for check, value in ((parse_period, period), (check_bar, bar)):
        try:
            check(value)
        except ValueError as exc:
            errors.append(str(exc))
    return errors


def period_start(end: datetime, period: str) -> datetime:
    """Start of a period ending at `end`: Nd business days, Nw weeks, Nm months, Ny years."""
    count, unit = parse_period(period)
    if unit == "d":
        start_day = np.busday_offset(np.datetime64(end.date(), "D"), -count, roll="forward")
        return datetime.combine(start_day.astype(datetime), end.timetz())
    delta = {"w": relativedelta(weeks=count), "m": relativedelta(months=count), "y": relativedelta(years=count)}
    return end - delta[unit]


def floor_to_bar(moment: datetime, bar: str) -> datetime:
    """Start of the bar containing `moment`."""
    check_bar(bar)
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if bar in INTRADAY_BARS:
        minutes = (moment - midnight) // timedelta(minutes=INTRADAY_BARS[bar])
        return midnight + timedelta(minutes=minutes * INTRADAY_BARS[bar])
    if bar == "1d":
        return midnight
    if bar == "1w":
        return midnight - timedelta(days=midnight.weekday())
    return midnight.replace(day=1)
