"""agent_team: an AutoGen team debates the symbol and the Executor's final decision becomes the Decision.

The team is the step's config overlaid with the strategy's `autogen_config`; it sees the
indicator summaries of every fetch and the PNGs of the charts named in `inputs` (all charts
when empty). Every message is stored as it arrives (agents.team) and pushed to the
execution's websocket group here, because only `execution` may publish progress. The tools
size trades with the risk settings of the workflow's validate_risk step; code the agents
write runs in the agents' sandbox (agents.sandbox), handed to the team as a plain function.
"""

from datetime import datetime
from typing import TypedDict

from agents.calls import BudgetExceeded
from agents.clients import ModelError
from agents.decisions import jsonable_decision
from agents.models import AgentMessage
from agents.sandbox import SandboxUnavailable, run_code
from agents.team import TeamFailed, TeamRequest, run_team
from agents.team_config import team_settings, validate_autogen_config
from agents.tools import trading_desk
from broker.risk import RiskConfig
from execution import progress
from execution.steps.ai import record_decision, reference_now, reused_decision
from execution.steps.base import PermanentStepError, StepError, SymbolContext
from execution.steps.risk import RISK_SETTINGS
from workflows.parameters import resolve_config


class AgentMessageEvent(TypedDict):
    type: str  # "agent.message"
    execution_id: int
    status: str  # "running": the debate goes on
    owner_id: int
    symbol: str
    step_id: str
    agent_name: str
    message_type: str
    message_content: str
    round: int
    timestamp: datetime | str
    tokens_used: int
    model: str


def _publisher(ctx: SymbolContext, step_id: str):
    execution = ctx.execution

    def publish(message: AgentMessage) -> None:
        event: AgentMessageEvent = {
            "type": "agent.message",
            "execution_id": execution.pk,
            "status": "running",
            "owner_id": execution.owner_id,
            "symbol": message.symbol,
            "step_id": step_id,
            "agent_name": message.agent_name,
            "message_type": message.message_type,
            "message_content": message.content,
            "round": message.round,
            "timestamp": message.created_at.isoformat(),
            "tokens_used": message.tokens,
            "model": message.model,
        }
        progress.publish(execution.pk, event)

    return publish


def _strategy_config(ctx: SymbolContext) -> dict:
    strategy = ctx.execution.strategy
    config = (strategy.params or {}).get("autogen_config") or {} if strategy else {}
    errors = validate_autogen_config(config)
    if errors:
        details = "; ".join(f"{field}: {', '.join(messages)}" for field, messages in errors.items())
        raise PermanentStepError(f"the strategy's autogen_config is invalid: {details}")
    return config


def _risk_config(ctx: SymbolContext) -> RiskConfig:
    """The limits of the workflow's validate_risk step, so the RiskManager sizes as the check will."""
    step = next((step for step in ctx.steps if step.get("type") == "validate_risk"), None)
    if step is None:
        return RiskConfig()
    config = resolve_config(step.get("config") or {}, ctx.params)
    try:
        return RiskConfig.from_dict({name: config.get(name) for name in RISK_SETTINGS})
    except ValueError as exc:
        raise PermanentStepError(f"validate_risk settings: {exc}") from exc


def _chart_images(config: dict, ctx: SymbolContext) -> list[bytes]:
    with ctx.lock:
        labels = config.get("inputs") or list(ctx.charts)
        missing = [label for label in labels if label not in ctx.charts]
        charts = [ctx.charts[label] for label in labels if label in ctx.charts]
    if missing:
        raise StepError(f"no chart under the label(s) {', '.join(missing)}")
    images = []
    for chart in charts:
        with chart.image.open("rb") as image:
            images.append(image.read())
    return images


def _run_agent_code(code: str, inputs: dict) -> dict:
    try:
        return run_code(code, inputs=inputs).as_dict()
    except SandboxUnavailable as exc:
        return {"ok": False, "error": str(exc)}


def agent_team(config: dict, ctx: SymbolContext) -> dict:
    step_id = ctx.step_id
    instrument = ctx.get_instrument()
    reused = reused_decision(ctx, instrument)
    if reused is not None:
        return reused
    settings = team_settings(config, _strategy_config(ctx))
    summaries = ctx.summaries()
    reference = reference_now(ctx)
    request = TeamRequest(
        symbol=ctx.symbol,
        current_price=reference.price,
        summaries=summaries,
        charts=_chart_images(config, ctx),
        language=ctx.params.get("analysis_language") or "en",
        execution_id=ctx.execution.pk,
        step_id=step_id,
    )
    desk = trading_desk(
        symbol=ctx.symbol,
        summaries=summaries,
        risk_config=_risk_config(ctx),
        execution_id=ctx.execution.pk,
        code_runner=_run_agent_code if settings.code_execution else None,
        instrument=ctx.get_instrument(),
    )
    try:
        outcome = run_team(
            request,
            settings,
            desk=desk,
            on_message=_publisher(ctx, step_id),
            backend_for=ctx.inputs.agent_backends(ctx),
        )
    except (TeamFailed, BudgetExceeded, ModelError) as exc:
        raise StepError(f"agent team: {exc}") from exc
    decision = record_decision(ctx, instrument, outcome.decision, reference)
    return {
        "decision_id": decision.pk,
        "type": decision.type,
        "decision": jsonable_decision(outcome.decision),
        "reference": reference.as_dict(),
        "agents": [agent.name for agent in settings.agents],
        "max_rounds": settings.max_rounds,
        "human_approval": settings.human_approval,
        "charts": len(request.charts),
        **outcome.summary(),
    }
