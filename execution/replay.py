"""Replaying a finished execution on its frozen inputs, with no order placed, and what changed.

Every run keeps what its steps saw: fetch_data keeps the bars themselves (`frozen_bars`) and
their hash, generate_chart the chart row and its sha256, the model steps their rendered prompts
and the models' raw answers (StepRun.output and one LLMCall row per call), validate_risk the
account, caps and kill switch it judged with. A replay is a new dry-run WorkflowExecution of the
same pinned steps and symbols (`params.replay_of`, `params.replay_mode`) whose steps get those
inputs back through `ReplayInputs`:

- mode "stored": each model call is answered with the answer recorded for the same symbol, step
  (and agent) and prompt, so the replay reproduces the original decisions exactly; a prompt the
  original never sent means the inputs differ, and that step fails saying so.
- mode "model": the current model client answers again, on the same bars, charts and account.

Neither asks a person for approval nor reaches the broker's order path (a dry run's place_order
records a mock confirmation). The report compares every decision, symbol by symbol, and is kept
in the replay's `results["replay"]`.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation

from autogen_core import FunctionCall
from autogen_core.models import CreateResult, LLMMessage, RequestUsage
from django.core.exceptions import PermissionDenied, ValidationError

from agents.autogen_client import transcript
from agents.calls import prompt_record
from agents.clients import Completion, ModelError
from agents.models import LLMCall
from agents.team import configured_backend
from broker.marketdata import MarketReference, bars_reference, thawed_bars
from broker.models import Chart
from broker.risk import RiskConfig
from execution.engine import ExecutionRun
from execution.models import StepRun, WorkflowExecution
from execution.services import execution_enqueue
from execution.steps.base import StepError
from execution.steps.data import bars_sha256
from execution.steps.inputs import AccountState, ChartRequest, LiveInputs
from tradingweb.access import may_see_owned

logger = logging.getLogger(__name__)

STORED = "stored"
MODEL = "model"
MODES = (STORED, MODEL)
REPLAY_PROVIDER = "replay"
DECISION_STEP_TYPES = ("decide", "agent_team")
# What a decision is compared on: the model's call and levels, and the risk check's verdict.
COMPARED_FIELDS = ("type", "current_price", "target_price", "stop_loss", "confidence", "risk_approved")


class ReplayConflict(Exception):
    """The execution cannot be replayed now (it has not finished)."""


# --- what the original run kept ------------------------------------------------------


class Recording:
    """The original run's step outputs by (symbol, step id) and its model answers by (symbol, step, agent, prompt)."""

    def __init__(self, execution: WorkflowExecution):
        self.execution_id = execution.pk
        runs = StepRun.objects.filter(execution=execution, status=StepRun.Status.COMPLETED).order_by("id")
        # A redelivered run leaves later rows for the same step; the latest one is what the run went on with.
        self.outputs = {(run.symbol, run.step_id): run.output or {} for run in runs}
        self.answers: dict[tuple, deque[LLMCall]] = defaultdict(deque)
        self.models: dict[tuple, str] = {}
        for call in LLMCall.objects.filter(execution=execution, error="").order_by("id"):
            self.answers[(call.symbol, call.step_id, call.agent_name, call.prompt)].append(call)
            self.models.setdefault((call.symbol, call.step_id, call.agent_name), call.model)
        self.lock = threading.Lock()

    def output(self, symbol: str, step_id: str, keys: Sequence[str]) -> dict:
        output = self.outputs.get((symbol, step_id))
        missing = [key for key in keys if key not in (output or {})]
        if output is None or missing:
            kept = "kept no completed output" if output is None else f"kept no {', '.join(missing)}"
            raise StepError(
                f"execution {self.execution_id} {kept} for step {step_id} of {symbol}; "
                "it cannot be replayed exactly (it may predate replays, or the step did not finish)"
            )
        return output

    def answer(self, symbol: str, step_id: str, agent_name: str, prompt: str) -> LLMCall:
        with self.lock:
            answers = self.answers.get((symbol, step_id, agent_name, prompt))
            if answers:
                return answers.popleft()
        who = f"agent {agent_name} of " if agent_name else ""
        raise ModelError(
            f"no recorded answer of execution {self.execution_id} for {who}step {step_id} of {symbol} with this "
            f"prompt: the replayed inputs differ from the original run's (prompt begins {prompt[:120]!r})"
        )

    def model(self, symbol: str, step_id: str, agent_name: str = "") -> str:
        return self.models.get((symbol, step_id, agent_name), "")

    def reference(self, symbol: str, step_id: str) -> dict | None:
        """The market reference the step (else the symbol's first decision step) recorded."""
        own = (self.outputs.get((symbol, step_id)) or {}).get("reference")
        if own:
            return own
        recorded = [output.get("reference") for (name, _), output in self.outputs.items() if name == symbol]
        return next((reference for reference in recorded if reference), None)

    def risk(self, symbol: str, step_id: str) -> dict | None:
        """The account, caps and kill switch the original risk check judged with, when it judged a trade."""
        risk = (self.outputs.get((symbol, step_id)) or {}).get("risk") or {}
        return risk if "equity" in risk and "config" in risk else None


class RecordedModelClient:
    """A ModelClient answering each call of one step with the original run's answer to the same prompt.

    It spends no tokens, so its calls are logged with zero tokens and cost under the provider "replay".
    """

    provider = REPLAY_PROVIDER

    def __init__(self, recording: Recording, symbol: str, step_id: str):
        self.recording = recording
        self.symbol = symbol
        self.step_id = step_id
        self.model = recording.model(symbol, step_id) or REPLAY_PROVIDER

    def complete(
        self,
        messages: list[dict],
        *,
        temperature: float = 0.2,
        max_tokens: int = 2000,
        images: list[bytes] | None = None,
        json_schema: dict | None = None,
    ) -> Completion:
        call = self.recording.answer(self.symbol, self.step_id, "", prompt_record(messages, images))
        return Completion(text=call.response, tokens_in=0, tokens_out=0, model=call.model, provider=self.provider)


def _function_calls(text: str, prefix: str) -> list[FunctionCall] | None:
    """The tool calls an agent's recorded answer stands for (agents.autogen_client.response_text's JSON), or None."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    if not isinstance(value, list) or not value:
        return None
    if not all(isinstance(item, dict) and set(item) == {"name", "arguments"} for item in value):
        return None
    return [
        FunctionCall(id=f"{prefix}-{number}", name=item["name"], arguments=item["arguments"])
        for number, item in enumerate(value, start=1)
    ]


class RecordedAgentBackend:
    """One agent of a team answering with its recorded answers (agents.autogen_client.AgentBackend)."""

    provider = REPLAY_PROVIDER

    def __init__(self, recording: Recording, symbol: str, step_id: str, agent):
        self.recording = recording
        self.symbol = symbol
        self.step_id = step_id
        self.agent_name = agent.name
        self.model = recording.model(symbol, step_id, agent.name) or REPLAY_PROVIDER
        # What the agent's model can do decides what AutoGen sends it (images, tools): as configured.
        self.model_info = configured_backend(agent).model_info
        self.turns = 0

    def respond(self, messages: Sequence[LLMMessage], tools: Sequence) -> CreateResult:
        call = self.recording.answer(self.symbol, self.step_id, self.agent_name, transcript(messages, tools))
        self.turns += 1
        calls = _function_calls(call.response, f"replay-{self.agent_name}-{self.turns}")
        return CreateResult(
            finish_reason="function_calls" if calls else "stop",
            content=calls or call.response,
            usage=RequestUsage(prompt_tokens=0, completion_tokens=0),
            cached=False,
        )


class ReplayInputs(LiveInputs):
    """The steps' inputs frozen from the original run; the model's answers too in mode "stored"."""

    asks_for_approval = False

    def __init__(self, original: WorkflowExecution, mode: str):
        self.recording = Recording(original)
        self.mode = mode
        self.notes: list[str] = []
        self.notes_lock = threading.Lock()

    def bars(self, ctx, period: str, bar: str):
        output = self.recording.output(ctx.symbol, ctx.step_id, ("frozen_bars", "bars_sha256"))
        bars = thawed_bars(output["frozen_bars"])
        if bars_sha256(bars) != output["bars_sha256"]:
            raise StepError(f"the frozen {period}/{bar} bars of {ctx.symbol} do not match their recorded hash")
        return bars

    def reference(self, ctx) -> MarketReference:
        """The market reference the original decision was made at (the same prompt, the same prices).

        Asked by a later step (place_order), the symbol's decision's reference: the market of a
        replay stands still. A run from before references were recorded put the primary
        timeframe's last close in its prompt; that close is its reference.
        """
        recorded = self.recording.reference(ctx.symbol, ctx.step_id)
        if recorded:
            return MarketReference.from_dict(recorded)
        primary = ctx.primary_fetch()
        with ctx.lock:
            bars = ctx.bars[primary["label"]]
        return bars_reference([bars])

    def chart(self, ctx, request: ChartRequest) -> Chart:
        output = self.recording.output(ctx.symbol, ctx.step_id, ("chart_id", "sha256"))
        chart = Chart.objects.filter(pk=output["chart_id"]).first()
        if chart is None or chart.sha256 != output["sha256"]:
            raise StepError(f"the chart {output['chart_id']} of {ctx.symbol} that the original run drew is gone")
        return chart

    def risk_limits(self, ctx, step_config: RiskConfig) -> tuple[RiskConfig, bool]:
        recorded = self.recording.risk(ctx.symbol, ctx.step_id)
        if recorded is None:
            self._note(f"{ctx.symbol}: the original risk check judged no trade; caps and kill switch are today's")
            return super().risk_limits(ctx, step_config)
        return RiskConfig.from_dict(recorded["config"]), bool(recorded.get("kill_switch"))

    def account(self, ctx) -> AccountState:
        recorded = self.recording.risk(ctx.symbol, ctx.step_id)
        if recorded is None:
            self._note(f"{ctx.symbol}: the original risk check judged no trade; the account is today's")
            return super().account(ctx)
        return AccountState(
            equity=Decimal(recorded["equity"]),
            exposure=Decimal(recorded["exposure"]),
            open_positions=int(recorded["open_positions"]),
            unit_value=Decimal(recorded.get("unit_value", "1")),
        )

    def model_client(self, ctx, model: str | None):
        if self.mode == STORED:
            return RecordedModelClient(self.recording, ctx.symbol, ctx.step_id)
        return None

    def agent_backends(self, ctx):
        if self.mode != STORED:
            return None
        symbol, step_id = ctx.symbol, ctx.step_id
        return lambda agent: RecordedAgentBackend(self.recording, symbol, step_id, agent)

    def _note(self, note: str) -> None:
        with self.notes_lock:
            self.notes.append(note)


# --- the report ------------------------------------------------------------------------


@dataclass
class DecisionDiff:
    symbol: str
    step_id: str
    original: dict | None
    replayed: dict | None
    changed: list[str]
    error: str = ""


@dataclass
class ReplayReport:
    replay_execution_id: int
    original_execution_id: int
    mode: str
    status: str
    task_id: str = ""  # the Celery task of a queued (model) replay
    identical: bool | None = None  # None until the replay has run
    decisions: list[DecisionDiff] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ReplayReport:
        return cls(**{**data, "decisions": [DecisionDiff(**entry) for entry in data.get("decisions") or []]})


def _decision_values(output: dict, risk_approved: bool | None) -> dict:
    decision = output["decision"]
    return {
        "type": str(decision.get("decision", "")).lower(),
        "current_price": decision.get("current_price"),
        "target_price": decision.get("target_price"),
        "stop_loss": decision.get("stop_loss"),
        "confidence": decision.get("confidence"),
        "risk_approved": risk_approved,
    }


def execution_decisions(execution: WorkflowExecution) -> dict[tuple[str, str], dict]:
    """The model's decision of each (symbol, decision step) as it answered, with the risk check's verdict."""
    runs = StepRun.objects.filter(
        execution=execution,
        status=StepRun.Status.COMPLETED,
        step_type__in=(*DECISION_STEP_TYPES, "validate_risk"),
    ).order_by("id")
    made, verdicts = {}, {}
    for run in runs:
        output = run.output or {}
        if run.step_type == "validate_risk":
            verdicts[run.symbol] = output.get("approved")
        elif "decision" in output:  # a redelivered step that reused its decision keeps no new answer
            made[(run.symbol, run.step_id)] = output
    return {key: _decision_values(output, verdicts.get(key[0])) for key, output in made.items()}


def _same(left, right) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        try:
            return Decimal(left) == Decimal(right)
        except InvalidOperation:
            return left == right
    return left == right


def decisions_diff(
    original: WorkflowExecution, replay: WorkflowExecution, errors_of_replay: list[dict]
) -> list[DecisionDiff]:
    before, after = execution_decisions(original), execution_decisions(replay)
    errors = defaultdict(list)
    for entry in errors_of_replay:
        errors[entry.get("symbol", "")].append(entry.get("error", ""))
    symbol_order = {symbol: index for index, symbol in enumerate(original.symbols or [])}
    keys = sorted(set(before) | set(after), key=lambda key: (symbol_order.get(key[0], len(symbol_order)), key))
    diffs = []
    for symbol, step_id in keys:
        old, new = before.get((symbol, step_id)), after.get((symbol, step_id))
        if old is None or new is None:
            changed = list(COMPARED_FIELDS)
        else:
            changed = [name for name in COMPARED_FIELDS if not _same(old[name], new[name])]
        diffs.append(DecisionDiff(symbol, step_id, old, new, changed, "; ".join(errors.get(symbol, []))))
    decided = {symbol for symbol, _ in keys}
    for symbol, messages in errors.items():
        if symbol not in decided:  # the replay failed before any decision, and so did the original
            diffs.append(DecisionDiff(symbol, "", None, None, [], "; ".join(messages)))
    return diffs


# --- running a replay ------------------------------------------------------------------


def _report(replay: WorkflowExecution) -> ReplayReport:
    kept = (replay.results or {}).get("replay")
    if kept:
        return ReplayReport.from_dict({**kept, "status": replay.status, "task_id": replay.task_id})
    return ReplayReport(
        replay_execution_id=replay.pk,
        original_execution_id=replay.params["replay_of"],
        mode=replay.params["replay_mode"],
        status=replay.status,
        task_id=replay.task_id,
    )


def _original_of(replay: WorkflowExecution) -> WorkflowExecution:
    """The execution `replay` replays; only one of the same owner, so a crafted parameter reads nobody else's run."""
    original = WorkflowExecution.objects.filter(pk=replay.params["replay_of"], owner_id=replay.owner_id).first()
    if original is None or replay.params.get("replay_mode") not in MODES:
        raise ReplayConflict(f"execution {replay.pk} is not a valid replay (replay_of {replay.params['replay_of']!r})")
    return original


def replay_run(replay_execution_id: int, token: int | None = None) -> ReplayReport:
    """Run (one segment of) a replay execution made by `execution_replay` and keep its report; a finished one is
    only reported. `token` is a continuation's (see execution.leases)."""
    replay = WorkflowExecution.objects.select_related("owner", "workflow", "version", "strategy").get(
        pk=replay_execution_id
    )
    if replay.is_finished():
        return _report(replay)
    try:
        original = _original_of(replay)
    except ReplayConflict as exc:
        replay.status, replay.error = WorkflowExecution.Status.FAILED, str(exc)
        replay.save(update_fields=["status", "error"])
        logger.error("Replay %s not run: %s", replay.pk, exc)
        return _report(replay)
    run = ReplayRun(replay, original, ReplayInputs(original, replay.params["replay_mode"]))
    run.run(token)
    if run.report is None:  # another delivery had finished it, or it was settled without running
        replay.refresh_from_db()
        return _report(replay)
    return run.report


class ReplayRun(ExecutionRun):
    """A replay's run: its report is saved with its final status, so whoever sees it finished sees the report."""

    def __init__(self, replay: WorkflowExecution, original: WorkflowExecution, inputs: ReplayInputs):
        super().__init__(replay, inputs=inputs)
        self.original = original
        self.report: ReplayReport | None = None

    def closing_results(self, status: str) -> dict:
        diffs = decisions_diff(self.original, self.execution, self.results["errors"])
        self.report = ReplayReport(
            replay_execution_id=self.execution.pk,
            original_execution_id=self.original.pk,
            mode=self.inputs.mode,
            status=status,
            task_id=self.execution.task_id,
            identical=status == WorkflowExecution.Status.COMPLETED and not any(diff.changed for diff in diffs),
            decisions=diffs,
            notes=list(self.inputs.notes),
        )
        logger.info(
            "Replay %s of execution %s (%s): %s",
            self.execution.pk,
            self.original.pk,
            self.inputs.mode,
            "identical" if self.report.identical else f"{sum(1 for diff in diffs if diff.changed)} decision(s) differ",
        )
        return {**self.results, "replay": self.report.as_dict()}


def execution_replay(*, execution: WorkflowExecution, mode: str, user) -> ReplayReport:
    """Replay a finished execution (see the module docstring) as a new dry-run execution owned by its owner.

    Mode "stored" runs at once and returns the full report; mode "model" is queued on Celery and
    returns the pending report (the finished one is in the replay's results["replay"]).
    Raises PermissionDenied for someone else's execution, ValidationError for an unknown mode and
    ReplayConflict for an execution that has not finished.
    """
    if not may_see_owned(user, execution.owner_id):
        raise PermissionDenied(f"execution {execution.pk} is not yours")
    if mode not in MODES:
        raise ValidationError({"mode": f"must be one of {', '.join(MODES)}, not {mode!r}"})
    if not execution.is_finished():
        raise ReplayConflict(f"execution {execution.pk} is {execution.status}; only a finished execution is replayed")
    params = {**execution.params, "replay_of": execution.pk, "replay_mode": mode}
    if mode == STORED:
        params["symbol_delay"] = 0  # the delay spares the broker's and the model's rate limits; neither is asked
    replay = WorkflowExecution.objects.create(
        owner=execution.owner,
        workflow=execution.workflow,
        version=execution.version,
        strategy=execution.strategy,
        priority=execution.priority,
        dry_run=True,
        symbols=list(execution.symbols or []),
        params=params,
        triggered_by=WorkflowExecution.Trigger.USER,
    )
    if mode == STORED:
        return replay_run(replay.pk)
    execution_enqueue(replay)  # the worker's run_execution sees a replay and comes back to replay_run
    return _report(replay)
