"""What the execution pages show, assembled from the rows: plain functions the views call and tests read.

- `progress_figures` turns an execution's progress JSON into the monitor's bar and labels;
- `symbol_timelines` lays the pinned steps out per symbol with each step's latest run (a step
  not reached yet is "pending"), the shape the detail page's timeline and its live updates share;
- `execution_report` gathers the rest of the detail page: charts, analyses, decisions with their
  model cost, orders, the agent conversation, errors.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils import timezone

from agents.agent_templates import EXECUTOR
from agents.calls import sum_costs
from agents.models import AgentMessage, LLMCall
from broker.models import Chart, Order
from execution.engine import load_steps
from execution.models import Decision, StepRun, WorkflowExecution

PENDING = "pending"
ANALYSIS_STEP_TYPES = ("ai_analyze", "consolidate")
# Colours and icons of the agents in the conversation (Tailwind classes are spelled out for the build).
AGENT_LOOKS = {
    "TechnicalAnalyst": {"icon": "chart-bar", "tone": "bg-sky-500/15 text-sky-300 ring-sky-400/30"},
    "RiskManager": {"icon": "shield-check", "tone": "bg-amber-500/15 text-amber-300 ring-amber-400/30"},
    "Fundamental": {"icon": "building-library", "tone": "bg-violet-500/15 text-violet-300 ring-violet-400/30"},
    "Sentiment": {"icon": "newspaper", "tone": "bg-pink-500/15 text-pink-300 ring-pink-400/30"},
    EXECUTOR: {"icon": "bolt", "tone": "bg-emerald-500/15 text-emerald-300 ring-emerald-400/30"},
}
OTHER_AGENT_LOOK = {"icon": "cpu-chip", "tone": "bg-slate-500/15 text-slate-300 ring-slate-400/30"}
# Messages longer than this start collapsed.
LONG_MESSAGE_CHARS = 600


def _count(value) -> int:
    """A count stored as a number (or, by older runs, as the list of what it counts)."""
    if isinstance(value, list | tuple):
        return len(value)
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def progress_figures(execution: WorkflowExecution) -> dict:
    """The monitor's view of the progress JSON: percent done, the step and symbol being worked on."""
    progress = execution.progress or {}
    total = _count(progress.get("total_steps"))
    done = _count(progress.get("current_step"))
    if execution.status == WorkflowExecution.Status.COMPLETED:
        percent = 100
    else:
        percent = min(100, round(100 * done / total)) if total else 0
    return {
        "percent": percent,
        "done_steps": done,
        "total_steps": total,
        "current_symbol": progress.get("current_symbol") or "",
        "current_step_id": progress.get("current_step_id") or "",
        "completed_symbols": _count(progress.get("completed_symbols")),
        "symbol_count": len(execution.symbols or []),
    }


def elapsed_seconds(execution: WorkflowExecution, now=None) -> int | None:
    """Seconds the execution has been running (or ran), None before it started."""
    if execution.started_at is None:
        return None
    end = execution.completed_at or now or timezone.now()
    return max(0, int((end - execution.started_at).total_seconds()))


@dataclass
class TimelineStep:
    step_id: str
    step_type: str
    name: str
    index: int
    status: str = PENDING
    attempt: int = 0
    duration_ms: int | None = None
    error: str = ""
    output: dict = field(default_factory=dict)


@dataclass
class SymbolTimeline:
    symbol: str
    steps: list[TimelineStep]

    @property
    def status(self) -> str:
        """The symbol's state: failed if any step failed, running while any runs, completed when all ended."""
        states = {step.status for step in self.steps}
        if StepRun.Status.FAILED in states:
            return StepRun.Status.FAILED
        if StepRun.Status.RUNNING in states:
            return StepRun.Status.RUNNING
        if states <= {StepRun.Status.COMPLETED, StepRun.Status.SKIPPED} and self.steps:
            return StepRun.Status.COMPLETED
        if StepRun.Status.CANCELLED in states:
            return StepRun.Status.CANCELLED
        return PENDING

    @property
    def finished_count(self) -> int:
        return sum(step.status in (StepRun.Status.COMPLETED, StepRun.Status.SKIPPED) for step in self.steps)


def step_plan(execution: WorkflowExecution) -> list[dict]:
    """The steps the execution runs, in order: id, type and name (the pinned version's)."""
    steps, _warnings = load_steps(execution)
    return [
        {"id": step["id"], "type": step["type"], "name": step.get("name") or step["id"], "index": position}
        for position, step in enumerate(steps)
    ]


def symbol_timelines(execution: WorkflowExecution) -> list[SymbolTimeline]:
    """Every symbol with every planned step and its latest run; steps without a run yet are pending."""
    plan = step_plan(execution)
    latest: dict[tuple[str, str], StepRun] = {}
    for run in StepRun.objects.filter(execution=execution).order_by("id"):
        latest[(run.symbol, run.step_id)] = run
    symbols = list(execution.symbols or [])
    symbols += sorted({symbol for symbol, _ in latest} - set(symbols))
    timelines = []
    for symbol in symbols:
        steps = []
        for planned in plan:
            run = latest.get((symbol, planned["id"]))
            step = TimelineStep(planned["id"], planned["type"], planned["name"], planned["index"])
            if run is not None:
                step.status = run.status
                step.attempt = run.attempt
                step.duration_ms = run.duration_ms
                step.error = run.error
                step.output = run.output or {}
            steps.append(step)
        timelines.append(SymbolTimeline(symbol, steps))
    return timelines


def agent_look(name: str) -> dict:
    return AGENT_LOOKS.get(name, OTHER_AGENT_LOOK)


def conversation(execution: WorkflowExecution) -> list[dict]:
    """The agent team's messages, oldest first, with the agent's look and whether it is the final decision."""
    messages = []
    for message in AgentMessage.objects.filter(execution=execution).order_by("id"):
        is_final = message.message_type == AgentMessage.MessageType.DECISION
        messages.append(
            {
                "message": message,
                "look": agent_look(message.agent_name),
                "is_final": is_final,
                # The final decision is always shown whole.
                "is_long": not is_final and len(message.content) > LONG_MESSAGE_CHARS,
            }
        )
    return messages


def _decision_costs(execution: WorkflowExecution) -> dict[str, Decimal | None]:
    """Model cost per symbol: its LLM calls, or its agents' messages when a team decided; None: unknown."""
    calls = LLMCall.objects.filter(execution=execution)
    if not calls.exists():
        calls = AgentMessage.objects.filter(execution=execution)
    costs: dict[str, list] = defaultdict(list)
    for symbol, cost in calls.values_list("symbol", "cost"):
        costs[symbol].append(cost)
    return {symbol: sum_costs(symbol_costs) for symbol, symbol_costs in costs.items()}


def execution_report(execution: WorkflowExecution) -> dict:
    """The detail page's sections beside the timeline."""
    runs = list(StepRun.objects.filter(execution=execution).order_by("id"))
    chart_ids = [run.output.get("chart_id") for run in runs if run.step_type == "generate_chart" and run.output]
    charts = Chart.objects.filter(pk__in=[pk for pk in chart_ids if pk]).select_related("instrument").order_by("id")
    analyses = [
        {"symbol": run.symbol, "step_id": run.step_id, "step_type": run.step_type, "output": run.output}
        for run in runs
        if run.step_type in ANALYSIS_STEP_TYPES and run.status == StepRun.Status.COMPLETED and run.output
    ]
    costs = _decision_costs(execution)
    decisions = list(
        Decision.objects.filter(execution=execution).select_related("instrument").prefetch_related("orders")
    )
    for decision in decisions:
        decision.model_cost = costs.get(decision.instrument.symbol)
        decision.model_cost_unknown = decision.instrument.symbol in costs and decision.model_cost is None
    problems = [run for run in runs if run.error]
    return {
        "charts": charts,
        "analyses": analyses,
        "decisions": decisions,
        "orders": Order.objects.filter(execution=execution).select_related("instrument").order_by("id"),
        "messages": conversation(execution),
        "problems": problems,
        "total_cost": sum_costs(costs.values()),
    }


def has_agent_team(execution: WorkflowExecution) -> bool:
    return any(step["type"] == "agent_team" for step in step_plan(execution)) or execution.agent_messages.exists()
