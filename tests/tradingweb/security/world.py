"""One trader's objects of every kind, each carrying a marker that must never reach another trader.

Text fields carry `OWNER_MARKER`; positions and trades, which have no text, carry `AMOUNT_MARKER`
as a price. A response to another trader containing either marker is a leak.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from agents.models import AgentMessage, ApprovalRequest
from broker.models import Chart, Instrument, Order, Position, Trade
from execution.models import (
    Backtest,
    BacktestDecision,
    Decision,
    Notification,
    NotificationPreference,
    Schedule,
    StepRun,
    WorkflowExecution,
)
from tests.support.seed import History, trading_history
from workflows.models import Strategy, Workflow, WorkflowVersion

OWNER_MARKER = "ALICEONLY"
AMOUNT_MARKER = "4242.4242"
MARKERS = (OWNER_MARKER, AMOUNT_MARKER)
OWNED_MODELS = [
    Workflow, WorkflowVersion, Strategy, WorkflowExecution, StepRun, Decision, Order, Position, Trade,
    Schedule, Notification, NotificationPreference, ApprovalRequest, AgentMessage, Backtest, BacktestDecision,
]


@dataclass
class World(History):
    instrument: Instrument
    notification: Notification
    approval: ApprovalRequest
    chart: Chart
    backtest: Backtest


def owned_world(user, *, symbol: str = "ZZAL", marker: str = OWNER_MARKER) -> World:
    """Everything a trader can own, created straight on the models, marked as theirs."""
    history = trading_history(user, label=marker, symbol=symbol)
    execution = history.execution
    execution.task_id = f"task-{marker}-{execution.pk}"
    execution.params = {"note": marker}
    execution.save(update_fields=["task_id", "params"])
    history.decision.analysis_text = f"{marker} thinks this goes up"
    history.decision.save(update_fields=["analysis_text"])
    history.position.average_cost = Decimal(AMOUNT_MARKER)
    history.position.save(update_fields=["average_cost"])
    history.trade.entry_price = Decimal(AMOUNT_MARKER)
    history.trade.save(update_fields=["entry_price"])
    StepRun.objects.create(
        execution=execution, symbol=symbol, index=0, step_id="fetch", step_type="fetch_data",
        status=StepRun.Status.COMPLETED, output={"note": marker},
    )
    chart = Chart(instrument=history.order.instrument, timeframe="1y/1d", period="1y", bar="1d")
    chart.image.name = default_storage.save(f"charts/{symbol}-{marker}.png", ContentFile(f"{marker} chart".encode()))
    chart.save()
    StepRun.objects.create(
        execution=execution, symbol=symbol, index=1, step_id="chart", step_type="generate_chart",
        status=StepRun.Status.COMPLETED, output={"chart_id": chart.pk},
    )
    AgentMessage.objects.create(
        execution=execution, symbol=symbol, agent_name="analyst", content=f"{marker} says buy"
    )
    approval = ApprovalRequest.objects.create(
        execution=execution, decision=history.decision, deadline=timezone.now() + timedelta(minutes=5)
    )
    notification = Notification.objects.create(
        owner=user, kind=Notification.Kind.ORDER_FILLED, title=f"{marker} order filled"
    )
    backtest = Backtest.objects.create(
        owner=user, workflow=history.workflow, version=history.workflow.current_version, strategy=history.strategy,
        symbols=[symbol], start=date(2024, 3, 4), end=date(2024, 3, 8), initial_cash=Decimal("100000"),
        commission=Decimal("0.005"), status=Backtest.Status.RUNNING, results={"note": marker},
    )
    BacktestDecision.objects.create(
        backtest=backtest, point=timezone.now(), symbol=symbol, type="buy", status="approved",
        analysis_text=f"{marker} backtested",
    )
    return World(
        **vars(history), instrument=history.order.instrument, notification=notification, approval=approval,
        chart=chart, backtest=backtest,
    )


def database_snapshot() -> dict:
    """Every row (all fields, timestamps included) of every model a trader owns: any change shows."""
    return {model.__name__: list(model.objects.order_by("pk").values()) for model in OWNED_MODELS}
