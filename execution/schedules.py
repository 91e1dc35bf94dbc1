"""Schedules: cron entries (UTC) that run a workflow for a strategy, on django-celery-beat.

Each Schedule owns one PeriodicTask (its CrontabSchedule) calling the thin task
`execution.run_scheduled_workflow`, which calls `schedule_fire`. Every change, from the API or
the admin, goes through `schedule_sync`, so the beat entry always matches the row. A firing:

- claims its cron slot once (a Redis key per schedule and slot), so two beats or a redelivered
  trigger never start the same slot twice;
- is skipped (and logged) while an earlier run of the same schedule is still going, unless
  allow_overlap;
- with market_hours_only, runs only the symbols whose exchange is open at that minute (holidays,
  half days and regular hours from exchange_calendars), and is skipped when none is.
"""

import datetime
import functools
import json
import logging

import exchange_calendars
import pandas as pd
from celery.schedules import ParseException, crontab
from cron_descriptor import ExpressionDescriptor
from croniter import croniter
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from broker.models import Instrument
from execution.maintenance import crontab_for
from execution.models import Schedule, WorkflowExecution
from execution.services import execution_create, execution_enqueue
from tradingweb.access import may_see_owned
from workflows.models import Strategy, Workflow

logger = logging.getLogger(__name__)

CRON_FIELDS = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")
TRIGGER_TASK = "execution.run_scheduled_workflow"
# How far ahead next_runs looks for slots when market hours filter most of them out.
MAX_SLOTS_SCANNED = 20000
SLOT_CLAIM_SECONDS = 2 * 24 * 3600
ACTIVE_STATUSES = (
    WorkflowExecution.Status.PENDING,
    WorkflowExecution.Status.RUNNING,
    WorkflowExecution.Status.AWAITING_APPROVAL,
)

# IBKR exchange names -> exchange_calendars codes; other exchanges fall back on the currency's main market.
EXCHANGE_CALENDARS = {
    "NYSE": "XNYS", "NASDAQ": "XNYS", "ISLAND": "XNYS", "ARCA": "XNYS", "AMEX": "XNYS", "BATS": "XNYS",
    "IEX": "XNYS", "LSE": "XLON", "IBIS": "XETR", "XETRA": "XETR", "FWB": "XFRA", "SBF": "XPAR", "AEB": "XAMS",
    "EBS": "XSWX", "TSE": "XTSE", "TSEJ": "XTKS", "SEHK": "XHKG", "ASX": "XASX", "SGX": "XSES",
}  # fmt: skip
CURRENCY_CALENDARS = {
    "USD": "XNYS", "EUR": "XETR", "GBP": "XLON", "CAD": "XTSE", "JPY": "XTKS", "HKD": "XHKG", "AUD": "XASX",
    "CHF": "XSWX", "SGD": "XSES",
}  # fmt: skip
DEFAULT_CALENDAR = "XNYS"


# --- cron expressions ---------------------------------------------------------------------------


def parse_cron(expression: str) -> list[str]:
    """The five fields of a cron expression; ValidationError({"cron_expression": …}) saying what is wrong."""
    fields = (expression or "").split()
    if len(fields) != 5:
        raise ValidationError(
            {
                "cron_expression": f"expected 5 fields (minute hour day-of-month month day-of-week, in UTC), "
                f"got {len(fields)} in {expression!r}; e.g. '30 14 * * 1-5' is 14:30 UTC on weekdays"
            }
        )
    try:
        crontab(**dict(zip(CRON_FIELDS, fields, strict=True)))
    except (ValueError, ParseException) as exc:  # ParseException ("-", "5-"…) is not a ValueError
        raise ValidationError({"cron_expression": f"invalid cron expression {expression!r}: {exc}"}) from exc
    if not croniter.is_valid(" ".join(fields)):
        raise ValidationError({"cron_expression": f"invalid cron expression {expression!r}"})
    return fields


def describe_cron(expression: str) -> str:
    """A sentence for people: "At 14:30, Monday through Friday" (times in UTC)."""
    fields = parse_cron(expression)
    return ExpressionDescriptor(" ".join(fields), use_24hour_time_format=True).get_description() + " (UTC)"


def cron_slots(expression: str, start: datetime.datetime | None = None):
    """The cron's firing times after `start` (default now), UTC, endlessly."""
    iterator = croniter(" ".join(parse_cron(expression)), start or timezone.now())
    while True:
        yield iterator.get_next(datetime.datetime).astimezone(datetime.UTC)


def current_slot(expression: str, now: datetime.datetime) -> datetime.datetime:
    """The slot a firing at `now` belongs to: the latest cron time not after `now`."""
    later = now + datetime.timedelta(microseconds=1)
    return croniter(" ".join(parse_cron(expression)), later).get_prev(datetime.datetime).astimezone(datetime.UTC)


# --- market hours -------------------------------------------------------------------------------


@functools.lru_cache(maxsize=16)
def _calendar(code: str):
    return exchange_calendars.get_calendar(code)


def calendar_code(instrument: Instrument | None) -> str:
    if instrument is None:
        return DEFAULT_CALENDAR
    for exchange in (instrument.primary_exchange, instrument.exchange):
        if exchange and exchange.upper() in EXCHANGE_CALENDARS:
            return EXCHANGE_CALENDARS[exchange.upper()]
    return CURRENCY_CALENDARS.get((instrument.currency or "").upper(), DEFAULT_CALENDAR)


def market_is_open(code: str, at: datetime.datetime) -> bool:
    """Whether the exchange trades at that minute (holidays, early closes and regular hours included)."""
    calendar = _calendar(code)
    minute = pd.Timestamp(at).tz_convert("UTC").floor("min")
    if not calendar.first_minute <= minute <= calendar.last_minute:
        return False
    return bool(calendar.is_open_on_minute(minute))


def symbol_calendars(symbols: list[str]) -> dict[str, str]:
    """Each symbol's exchange calendar code (US equities when the instrument is not known yet)."""
    instruments = {}
    for instrument in Instrument.objects.filter(symbol__in=symbols).order_by("-created_at"):
        instruments.setdefault(instrument.symbol, instrument)
    return {symbol: calendar_code(instruments.get(symbol)) for symbol in symbols}


def open_symbols(symbols: list[str], at: datetime.datetime) -> list[str]:
    calendars = symbol_calendars(symbols)
    return [symbol for symbol in symbols if market_is_open(calendars[symbol], at)]


# --- next runs ----------------------------------------------------------------------------------


def schedule_next_runs(schedule: Schedule, count: int = 5, start: datetime.datetime | None = None):
    """The next `count` times the schedule will start a run (market hours applied); [] when disabled."""
    if not schedule.enabled:
        return []
    calendars = set(symbol_calendars(schedule.strategy.symbols).values()) if schedule.market_hours_only else set()
    runs = []
    for scanned, slot in enumerate(cron_slots(schedule.cron_expression, start)):
        if len(runs) >= count or scanned >= MAX_SLOTS_SCANNED:
            break
        if not calendars or any(market_is_open(code, slot) for code in calendars):
            runs.append(slot)
    return runs


# --- create, change, delete ---------------------------------------------------------------------


def _check_strategy(owner, strategy: Strategy | None) -> Strategy:
    if strategy is None or not may_see_owned(owner, strategy.owner_id):
        raise ValidationError({"strategy_id": "strategy not found"})
    if not strategy.active:
        raise ValidationError({"strategy_id": f"strategy {strategy.name!r} is not active"})
    if not strategy.symbols:
        raise ValidationError({"strategy_id": f"strategy {strategy.name!r} has no instruments to run"})
    return strategy


def _check_workflow(owner, workflow: Workflow) -> None:
    if not may_see_owned(owner, workflow.owner_id):
        raise ValidationError({"workflow": "workflow not found"})
    if workflow.deleted_at is not None or workflow.current_version_id is None:
        raise ValidationError({"workflow": f"workflow {workflow.name!r} has no saved version to run"})


def _check_priority(priority: str) -> None:
    if priority not in WorkflowExecution.Priority.values:
        raise ValidationError({"priority": f"must be one of {', '.join(WorkflowExecution.Priority.values)}"})


def schedule_create(
    *,
    owner,
    workflow: Workflow,
    strategy: Strategy | None,
    cron_expression: str,
    enabled: bool = True,
    description: str = "",
    allow_overlap: bool = False,
    market_hours_only: bool = False,
    priority: str = WorkflowExecution.Priority.NORMAL,
) -> Schedule:
    """A schedule running `workflow` for `strategy`'s symbols at each cron slot; nothing is saved if invalid."""
    _check_workflow(owner, workflow)
    _check_strategy(owner, strategy)
    if strategy.owner_id != workflow.owner_id:
        raise ValidationError({"strategy_id": "the strategy and the workflow must belong to the same trader"})
    fields = parse_cron(cron_expression)
    _check_priority(priority)
    with transaction.atomic():
        schedule = Schedule.objects.create(
            owner=workflow.owner,
            workflow=workflow,
            strategy=strategy,
            cron_expression=" ".join(fields),
            enabled=bool(enabled),
            description=description,
            allow_overlap=bool(allow_overlap),
            market_hours_only=bool(market_hours_only),
            priority=priority,
        )
        schedule_sync(schedule)
    logger.info("Schedule %s created: %s", schedule.pk, schedule)
    return schedule


SCHEDULE_CHANGES = ("strategy", "cron_expression", "enabled", "description", "allow_overlap", "market_hours_only",
                    "priority")  # fmt: skip


def schedule_update(schedule: Schedule, *, by, **changes) -> Schedule:
    """Change the given fields (SCHEDULE_CHANGES) and the beat entry with them; nothing changes if invalid."""
    unknown = set(changes) - set(SCHEDULE_CHANGES)
    if unknown:
        raise ValidationError({name: "cannot be changed" for name in sorted(unknown)})
    if "strategy" in changes:
        _check_strategy(by, changes["strategy"])
    if "cron_expression" in changes:
        changes["cron_expression"] = " ".join(parse_cron(changes["cron_expression"]))
    if "priority" in changes:
        _check_priority(changes["priority"])
    with transaction.atomic():
        for name, value in changes.items():
            setattr(schedule, name, value)
        schedule.save()
        schedule_sync(schedule)
    return schedule


def schedule_delete(schedule: Schedule) -> None:
    with transaction.atomic():
        if schedule.periodic_task_id:
            schedule.periodic_task.delete()
        schedule.delete()


def periodic_task_name(schedule: Schedule) -> str:
    return f"schedule {schedule.pk}"


def schedule_sync(schedule: Schedule) -> PeriodicTask:
    """Make the schedule's PeriodicTask say what the schedule says (creating it the first time)."""
    values = {
        "name": periodic_task_name(schedule),
        "task": TRIGGER_TASK,
        "crontab": crontab_for(" ".join(parse_cron(schedule.cron_expression))),
        "interval": None,
        "kwargs": json.dumps({"schedule_id": schedule.pk}),
        # The trigger only creates and enqueues the execution: it must not wait behind a backlog.
        "queue": WorkflowExecution.Priority.HIGH,
        "enabled": schedule.enabled,
        "description": schedule.description or str(schedule),
    }
    task = schedule.periodic_task
    if task is None:
        task = PeriodicTask.objects.create(**values)
        Schedule.objects.filter(pk=schedule.pk).update(periodic_task=task)
        schedule.periodic_task = task
    else:
        for name, value in values.items():
            setattr(task, name, value)
        task.save()
    return task


# --- firing -------------------------------------------------------------------------------------


def claim_slot(schedule: Schedule, slot: datetime.datetime) -> bool:
    """True for the first firing of this slot, False for any other (Redis SET NX, kept two days)."""
    return cache.add(f"schedule:{schedule.pk}:slot:{slot.isoformat()}", timezone.now().isoformat(), SLOT_CLAIM_SECONDS)


def schedule_fire(schedule_id: int, *, now: datetime.datetime | None = None) -> dict:
    """Start the run of the schedule's current slot, or say why not: {"status": "started"|"skipped", …}."""
    now = now or timezone.now()
    schedule = Schedule.objects.select_related("workflow", "strategy", "owner").filter(pk=schedule_id).first()
    if schedule is None or not schedule.enabled:
        logger.info("Schedule %s: skipped, it is deleted or disabled", schedule_id)
        return {"status": "skipped", "reason": "deleted or disabled"}
    slot = current_slot(schedule.cron_expression, now)
    if not claim_slot(schedule, slot):
        logger.info("Schedule %s: slot %s has already fired; not starting it twice", schedule.pk, slot.isoformat())
        return {"status": "skipped", "reason": "slot already fired", "slot": slot.isoformat()}
    symbols = None
    if schedule.market_hours_only:
        symbols = open_symbols(schedule.strategy.symbols, now)
        if not symbols:
            logger.info("Schedule %s: skipped at %s, the market is closed for all its symbols", schedule.pk, now)
            return {"status": "skipped", "reason": "market closed", "slot": slot.isoformat()}
    with transaction.atomic():
        Schedule.objects.select_for_update().filter(pk=schedule.pk).first()  # one firing at a time per schedule
        running = schedule.executions.filter(status__in=ACTIVE_STATUSES).values_list("pk", flat=True).first()
        if running is not None and not schedule.allow_overlap:
            logger.info(
                "Schedule %s: skipped slot %s, its previous run (execution %s) is still going",
                schedule.pk,
                slot.isoformat(),
                running,
            )
            return {"status": "skipped", "reason": f"execution {running} still running", "slot": slot.isoformat()}
        try:
            execution = execution_create(
                owner=schedule.owner,
                workflow=schedule.workflow,
                strategy=schedule.strategy,
                symbols=symbols,
                priority=schedule.priority,
                triggered_by=WorkflowExecution.Trigger.SCHEDULE,
                schedule=schedule,
            )
        except ValidationError as exc:
            logger.warning("Schedule %s: cannot start a run: %s", schedule.pk, "; ".join(exc.messages))
            return {"status": "skipped", "reason": "; ".join(exc.messages), "slot": slot.isoformat()}
        task_id = execution_enqueue(execution)
        Schedule.objects.filter(pk=schedule.pk).update(last_run_at=now)
    logger.info("Schedule %s: slot %s started execution %s", schedule.pk, slot.isoformat(), execution.pk)
    return {"status": "started", "execution_id": execution.pk, "task_id": task_id, "slot": slot.isoformat()}
