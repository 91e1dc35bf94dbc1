"""Human approval around place_order: park the execution, take the answer, resume it.

With human approval on, the engine asks `approval_needed` before each place_order; when a
person has to decide, `park_execution` saves where the run is (symbol, finished steps; the
decision is a row and bars are cached) in `execution.progress["parked"]` through the engine's one
suspension mechanism (execution.leases.suspend, without a wake time), opens an ApprovalRequest
with a deadline, tells the owner, and the task returns: no worker slot is held while a person
thinks. approve / reject / modify (or the deadline) answer the request and send the run's
continuation on its priority queue; the engine then restores the symbol's
context with `restore_symbol_context`, runs place_order (or skips it for a refused decision)
and goes on with the remaining steps and symbols.

A stale approval is a different trade: when the broker's price has moved more than
settings.APPROVAL_MAX_PRICE_MOVE_PCT from the decision's market reference, approving or modifying expires
the request instead (no order), and says why.
"""

import logging
from decimal import Decimal
from typing import TypedDict

from django.db import transaction
from django.utils import timezone

from agents.approvals import (
    EXPIRED_REASON,
    approval_answer,
    approval_create,
    decision_was_answered,
    is_overdue,
    overdue_approvals,
    pending_approval_for,
    stale_price_message,
)
from agents.models import AgentMessage, ApprovalRequest
from agents.team_config import team_settings
from broker.adapters import get_adapter
from broker.marketdata import get_bars
from broker.models import Chart, Order
from execution import dispatch, leases, notifications, progress
from execution.models import Decision, StepRun, WorkflowExecution
from execution.steps.base import SymbolContext
from execution.steps.risk import validate_risk

logger = logging.getLogger(__name__)

MODIFIABLE_FIELDS = ("target_price", "stop_loss", "quantity")


class ApprovalConflict(Exception):  # noqa: N818 - the API answers 409 with its message
    """The execution is not waiting for this answer (not parked, already answered, or the trade went stale)."""


class ApprovalRefused(Exception):  # noqa: N818 - the API answers 400 with the reasons
    """A modification the risk rules refuse; the request stays pending and the decision unchanged."""

    def __init__(self, reasons: list[str]):
        super().__init__("; ".join(reasons))
        self.reasons = reasons


class ApprovalEvent(TypedDict):
    type: str  # "approval.requested" | "approval.answered"
    execution_id: int
    status: str  # the approval's status
    owner_id: int
    approval_id: int
    symbol: str
    deadline: str
    decision: dict


# --- when to ask --------------------------------------------------------------


def human_approval_required(execution: WorkflowExecution, steps: list[dict], decision: Decision) -> bool:
    """The strategy asks for approval, or the agent team that made the decision does (step or strategy config)."""
    strategy = execution.strategy
    if strategy is not None and strategy.human_approval:
        return True
    step = next((step for step in steps if step.get("id") == decision.step_id), None)
    if step is None or step.get("type") != "agent_team":
        return False
    strategy_config = ((strategy.params or {}).get("autogen_config") or {}) if strategy else {}
    return team_settings(step.get("config") or {}, strategy_config).human_approval


def approval_needed(ctx: SymbolContext, step: dict) -> bool:
    """True when `step` is a place_order that must wait for a person to answer about the context's decision."""
    decision = ctx.decision
    if step.get("type") != "place_order" or decision is None or not decision.is_actionable():
        return False
    if not human_approval_required(ctx.execution, ctx.steps, decision):
        return False
    if not decision_was_answered(decision):
        return True
    answer = ApprovalRequest.objects.filter(decision=decision).exclude(status=ApprovalRequest.Status.PENDING).first()
    if answer.status in (ApprovalRequest.Status.REJECTED, ApprovalRequest.Status.EXPIRED):
        # A redelivered run re-validated the decision: a person's (or the deadline's) no still stands.
        _refuse_decision(decision, answer.response.get("reason") or EXPIRED_REASON)
    return False


# --- parking --------------------------------------------------------------------


def _decision_summary(decision: Decision) -> dict:
    def text(value):
        return None if value is None else str(value)

    return {
        "id": decision.pk,
        "symbol": decision.instrument.symbol,
        "type": decision.type,
        "current_price": text(decision.current_price),
        "reference_price": text(decision.reference_price),
        "reference_source": decision.reference_source,
        "reference_age_seconds": decision.reference_age_seconds(),
        "target_price": text(decision.target_price),
        "stop_loss": text(decision.stop_loss),
        "quantity": text(decision.quantity),
        "confidence": text(decision.confidence),
        "r_coefficient": text(decision.r_coefficient),
        "profit_margin": text(decision.profit_margin),
        "status": decision.status,
    }


def _publish(event_type: str, approval: ApprovalRequest) -> None:
    execution, decision = approval.execution, approval.decision
    event: ApprovalEvent = {
        "type": event_type,
        "execution_id": execution.pk,
        "status": approval.status,
        "owner_id": execution.owner_id,
        "approval_id": approval.pk,
        "symbol": decision.instrument.symbol,
        "deadline": approval.deadline.isoformat(),
        "decision": _decision_summary(decision),
    }
    progress.publish(execution.pk, event)


def _schedule_expiry(approval: ApprovalRequest) -> None:
    """A countdown task for the deadline; the periodic sweep catches any the countdown misses."""
    dispatch.send_approval_expiry(approval.pk, max(0.0, (approval.deadline - timezone.now()).total_seconds()))


def park_execution(
    *, execution: WorkflowExecution, point: dict, results: dict, progress_state: dict
) -> ApprovalRequest | None:
    """Leave the run waiting for a person at `point` (a resume point, see execution.engine, with step_index,
    step_id and decision_id); None when it could not park (cancelled meanwhile, or another worker's now)."""
    decision = Decision.objects.select_related("instrument").get(pk=point["decision_id"])
    with transaction.atomic():
        already_asked = pending_approval_for(decision)  # a redelivered run parks again at the same request
        approval = already_asked or approval_create(execution=execution, decision=decision)
        parked = leases.suspend(
            execution,
            point={**point, "approval_id": approval.pk},
            wake_at=None,  # nobody needs to run it until it is answered (and its continuation sent)
            results=results,
            progress_state={**progress_state, "current_symbol": point["symbol"]},
            status=WorkflowExecution.Status.AWAITING_APPROVAL,
        )
        if not parked:
            transaction.set_rollback(True)
            return None
        transaction.on_commit(lambda: _schedule_expiry(approval))
    logger.info(
        "Execution %s parked before %s of %s: approval %s due %s",
        execution.pk,
        point["step_id"],
        point["symbol"],
        approval.pk,
        approval.deadline.isoformat(),
    )
    progress.execution_status(execution)
    _publish("approval.requested", approval)
    if already_asked is None:
        notifications.approval_requested(execution, decision, approval.deadline)
    return approval


def parked_point(execution: WorkflowExecution) -> dict | None:
    """Where a parked execution continues, or None."""
    return leases.suspended_point(execution)


def restore_symbol_context(ctx: SymbolContext, point: dict, *, load_bars: bool = True) -> SymbolContext:
    """Put back what the finished steps of a suspended symbol had produced, from their StepRun rows.

    Bars come again from the market data cache; charts, decisions and orders are rows; analyses
    and the risk verdict are in the step outputs.
    """
    finished = set(point.get("finished") or [])
    runs = StepRun.objects.filter(execution=ctx.execution, symbol=ctx.symbol, index__in=finished).order_by("id")
    latest = {run.index: run for run in runs}  # a redelivered run leaves later rows for the same step
    decision = None
    if point.get("decision_id"):
        decision = Decision.objects.select_related("instrument").get(pk=point["decision_id"])
        ctx.instrument = decision.instrument
    for index in sorted(latest):
        run = latest[index]
        output = run.output or {}
        ctx.outputs[run.step_id] = output
        if run.status != StepRun.Status.COMPLETED:
            continue
        if run.step_type == "fetch_data":
            indicators = output.get("indicators")
            ctx.fetches[output["label"]] = {
                "label": output["label"],
                "index": run.index,
                "period": output["period"],
                "bar": output["bar"],
                "indicators": indicators if isinstance(indicators, list) else None,
                "summary": output.get("summary") or {},
            }
            if load_bars:
                ctx.bars[output["label"]] = get_bars(ctx.get_instrument(), output["period"], output["bar"])
        elif run.step_type == "generate_chart":
            ctx.charts[output["label"]] = Chart.objects.get(pk=output["chart_id"])
            ctx.chart_sources[output["label"]] = output["source"]
        elif run.step_type in ("ai_analyze", "consolidate"):
            ctx.analyses[output["label"]] = output.get("response", "")
        elif run.step_type == "validate_risk":
            ctx.verdict = output.get("risk")
        elif run.step_type == "place_order" and output.get("order_id"):
            ctx.order = Order.objects.get(pk=output["order_id"])
    for step_id, reason in (point.get("skipped") or {}).items():
        ctx.outputs[step_id] = {"skipped": True, "reason": reason}
    if decision is not None:
        ctx.decision = decision
    return ctx


# --- answering ------------------------------------------------------------------


def _current_approval(execution: WorkflowExecution) -> ApprovalRequest:
    latest = execution.approval_requests.select_related("decision__instrument").order_by("-created_at").first()
    if latest is not None and not latest.is_pending():
        raise ApprovalConflict(f"the approval request {latest.pk} was already answered ({latest.status})")
    if execution.status != WorkflowExecution.Status.AWAITING_APPROVAL or latest is None:
        raise ApprovalConflict(f"execution {execution.pk} is {execution.status}, not awaiting approval")
    return latest


def _locked(approval: ApprovalRequest) -> ApprovalRequest:
    """The request re-read under a row lock; a conflict when someone (or the deadline) answered first."""
    locked = ApprovalRequest.objects.select_for_update().select_related("execution", "decision__instrument")
    approval = locked.get(pk=approval.pk)
    if not approval.is_pending():
        raise ApprovalConflict(f"the approval request {approval.pk} was already answered ({approval.status})")
    return approval


def _refuse_decision(decision: Decision, reason: str) -> None:
    decision.status = Decision.Status.REJECTED
    decision.rejection_reasons = [reason]
    decision.save(update_fields=["status", "rejection_reasons"])


def _resume(execution: WorkflowExecution) -> None:
    """Send the parked execution's continuation (on its priority queue) once the answer is committed."""
    if WorkflowExecution.objects.filter(pk=execution.pk, status=WorkflowExecution.Status.AWAITING_APPROVAL).exists():
        leases.continue_now(execution)


def _check_price(approval: ApprovalRequest) -> None:
    """Expire the request (and say why) when the broker's price has left the decision's market reference too far."""
    decision = approval.decision
    instrument = decision.instrument
    entry = decision.reference_price or decision.current_price  # a decision from before references had only its own
    if entry is None:
        return
    quote = get_adapter().quote(instrument.conid, instrument.symbol)
    message = stale_price_message(entry, quote.last)
    if message:
        expire_approval(approval.pk, reason=message, details={"quote": str(quote.last)})
        raise ApprovalConflict(message)


def approval_approve(*, execution: WorkflowExecution, user) -> ApprovalRequest:
    """Approve the parked decision as proposed; the resumed run places its order."""
    approval = _current_approval(execution)
    _check_price(approval)
    with transaction.atomic():
        approval = _locked(approval)
        approval_answer(
            approval, status=ApprovalRequest.Status.APPROVED, responder=user, response={"action": "approve"}
        )
        _resume(execution)
    logger.info("Execution %s: %s approved decision %s", execution.pk, user, approval.decision_id)
    _publish("approval.answered", approval)
    return approval


def approval_reject(*, execution: WorkflowExecution, user, reason: str = "") -> ApprovalRequest:
    """Refuse the parked decision: no order, the resumed run goes on with the rest."""
    approval = _current_approval(execution)
    why = f"Rejected by {user.get_username()}" + (f": {reason}" if reason else "")
    with transaction.atomic():
        approval = _locked(approval)
        response = {"action": "reject", "reason": why}
        approval_answer(approval, status=ApprovalRequest.Status.REJECTED, responder=user, response=response)
        _refuse_decision(approval.decision, why)
        _resume(execution)
    logger.info("Execution %s: decision %s %s", execution.pk, approval.decision_id, why)
    _publish("approval.answered", approval)
    return approval


def approval_modify(*, execution: WorkflowExecution, user, changes: dict[str, Decimal]) -> ApprovalRequest:
    """Change target, stop or quantity, re-validate with validate_risk, and approve the result.

    When the changed decision fails risk, ApprovalRefused carries the reasons and nothing changes.
    """
    unknown = set(changes) - set(MODIFIABLE_FIELDS)
    if unknown or not changes:
        raise ValueError(f"a modification changes some of {', '.join(MODIFIABLE_FIELDS)}")
    approval = _current_approval(execution)
    _check_price(approval)
    with transaction.atomic():
        approval = _locked(approval)
        decision = approval.decision
        previous = {name: _text(getattr(decision, name)) for name in changes}
        levels = [name for name in changes if name != "quantity"]
        for name in levels:
            setattr(decision, name, changes[name])
        if levels:
            decision.save(update_fields=levels)
        ctx = SymbolContext(execution=execution, symbol=decision.instrument.symbol, params=execution.params)
        restore_symbol_context(ctx, parked_point(execution) or {"decision_id": decision.pk}, load_bars=False)
        verdict = validate_risk((decision.risk or {}).get("config") or {}, ctx)
        reasons = [] if verdict["approved"] else list(verdict["reasons"])
        quantity = changes.get("quantity")
        if quantity is not None and verdict["approved"] and quantity > verdict["quantity"]:
            reasons.append(f"quantity {quantity} is above the {verdict['quantity']} shares the risk rules allow")
        if reasons:
            raise ApprovalRefused(reasons)  # leaving the atomic block undoes the changed levels
        decision = ctx.decision
        if quantity is not None:
            decision.quantity = quantity
            decision.save(update_fields=["quantity"])
        response = {
            "action": "modify",
            "changes": {name: _text(value) for name, value in changes.items()},
            "previous": previous,
            "risk": verdict["risk"],
        }
        approval_answer(approval, status=ApprovalRequest.Status.MODIFIED, responder=user, response=response)
        _resume(execution)
    logger.info("Execution %s: %s modified and approved decision %s: %s", execution.pk, user, decision.pk, changes)
    _publish("approval.answered", approval)
    return approval


def _text(value) -> str | None:
    return None if value is None else str(value)


# --- expiry -----------------------------------------------------------------------


def expire_approval(approval_id: int, *, reason: str = EXPIRED_REASON, details: dict | None = None) -> bool:
    """Expire a pending request: HOLD, no order, the reason on the decision, the execution resumed.

    False when it had been answered already.
    """
    with transaction.atomic():
        locked = ApprovalRequest.objects.select_for_update().select_related("execution", "decision__instrument")
        approval = locked.get(pk=approval_id)
        if not approval.is_pending():
            return False
        approval_answer(approval, status=ApprovalRequest.Status.EXPIRED, response={"reason": reason, **(details or {})})
        _refuse_decision(approval.decision, reason)
        _resume(approval.execution)
    logger.warning(
        "Execution %s: approval %s of decision %s expired, HOLD with no order: %s",
        approval.execution_id,
        approval.pk,
        approval.decision_id,
        reason,
    )
    _publish("approval.answered", approval)
    return True


def expire_if_overdue(approval_id: int) -> bool:
    """The countdown task's work: expire the request if its deadline has passed and nobody answered."""
    approval = ApprovalRequest.objects.filter(pk=approval_id).first()
    if approval is None or not is_overdue(approval):
        return False
    return expire_approval(approval_id)


def expire_overdue_approvals() -> int:
    """The periodic sweep: expire every pending request past its deadline; returns how many."""
    expired = sum(expire_approval(pk) for pk in overdue_approvals().values_list("pk", flat=True))
    if expired:
        logger.info("Expired %s overdue approval request(s)", expired)
    return expired


# --- what a trader sees -----------------------------------------------------------


def approval_overview(execution: WorkflowExecution) -> dict | None:
    """The latest request of `execution` with what a trader needs to answer it, or None when none was asked."""
    approval = (
        execution.approval_requests.select_related("decision__instrument", "responder").order_by("-created_at").first()
    )
    if approval is None:
        return None
    decision = approval.decision
    symbol = decision.instrument.symbol
    chart_runs = StepRun.objects.filter(
        execution=execution, symbol=symbol, step_type="generate_chart", status=StepRun.Status.COMPLETED
    )
    chart_ids = [run.output["chart_id"] for run in chart_runs if run.output.get("chart_id")]
    return {
        "execution": execution,
        "approval": approval,
        "decision": decision,
        "charts": Chart.objects.filter(pk__in=chart_ids).select_related("instrument").order_by("created_at"),
        "transcript": AgentMessage.objects.filter(execution=execution, symbol=symbol).order_by("id"),
    }
