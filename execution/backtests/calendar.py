"""Decision points of a backtest: when, over its date range, the pinned steps run.

The simulated market trades on weekdays (UTC) and a daily bar is complete at the next midnight
(broker.simulation), so the decision point of a trading day is its close, the next 00:00 UTC:
at t the day's bar is in, and orders placed at t fill on the bars after it.
`1d` is every trading day's close, `1w` the close of each week's last trading day in the range,
anything else a cron expression (UTC) whose firings in the range are the points.
"""

from datetime import UTC, date, datetime, time, timedelta

from croniter import croniter
from croniter.croniter import CroniterError

DAILY, WEEKLY = "1d", "1w"
MAX_POINTS = 5000


def every_error(every: str) -> str:
    """Why `every` names no schedule ("" when it does)."""
    if every in (DAILY, WEEKLY):
        return ""
    try:
        croniter(every)
    except (CroniterError, ValueError) as exc:
        return f"must be 1d, 1w or a cron expression: {exc}"
    return ""


def _close_of(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)


def _trading_days(start: date, end: date) -> list[date]:
    days, day = [], start
    while day <= end:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def decision_points(start: date, end: date, every: str) -> list[datetime]:
    """The points, oldest first (at most MAX_POINTS + 1, so a caller can tell there are too many)."""
    if every == DAILY:
        return [_close_of(day) for day in _trading_days(start, end)][: MAX_POINTS + 1]
    if every == WEEKLY:
        last_of_week: dict[tuple[int, int], date] = {}
        for day in _trading_days(start, end):
            last_of_week[day.isocalendar()[:2]] = day
        return [_close_of(day) for day in sorted(last_of_week.values())][: MAX_POINTS + 1]
    first = datetime.combine(start, time(), tzinfo=UTC)
    stop = datetime.combine(end + timedelta(days=1), time(), tzinfo=UTC)
    points = []
    schedule = croniter(every, first - timedelta(seconds=1))
    while len(points) <= MAX_POINTS:
        moment = schedule.get_next(datetime)
        if moment >= stop:
            break
        points.append(moment)
    return points
