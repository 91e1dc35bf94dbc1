"""validate_risk: approve or reject the decision with the risk arithmetic of broker.risk.

Everything is computed from the decision's market reference (the broker's quote when the decision
was made, else the last close of the freshest bars), never from the model's own price, which is
only checked against it: beyond max_price_deviation the decision is rejected naming both.

A HOLD is recorded as such and keeps its status: there is nothing to approve. The step's
limits can only be tightened by the global caps staff set (RiskLimits), and the
kill switch rejects everything. Equity, exposure and open positions come from the broker,
through ctx.inputs, so that a replay gives the step the ones its original run saw.
"""

from decimal import Decimal

from broker.marketdata import MarketReference, ReferenceUnavailable
from broker.risk import RiskConfig, evaluate_trade
from execution.models import Decision
from execution.steps.base import PermanentStepError, StepError, SymbolContext

RISK_SETTINGS = (
    "min_r_coefficient",
    "min_profit_margin",
    "risk_per_trade",
    "max_position_pct",
    "max_exposure_pct",
    "max_open_positions",
    "max_price_deviation",
)


def _as_decimal(value) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def decision_reference(ctx: SymbolContext, decision: Decision) -> MarketReference:
    """The reference recorded with the decision; one from before references is given today's and keeps it."""
    reference = decision.market_reference()
    if reference is not None:
        return reference
    try:
        reference = ctx.inputs.reference(ctx)
    except ReferenceUnavailable as exc:
        raise StepError(str(exc)) from exc
    decision.set_market_reference(reference)
    decision.save(update_fields=list(Decision.REFERENCE_FIELDS))
    return reference


def validate_risk(config: dict, ctx: SymbolContext) -> dict:
    decision = ctx.decision
    if decision is None:
        raise StepError("validate_risk needs a decision from an earlier decide or agent_team step")
    if decision.status == Decision.Status.EXECUTED or decision.orders.exists():
        # A redelivered task: this decision was validated and ordered before.
        with ctx.lock:
            ctx.verdict = dict(decision.risk)
        return {"approved": True, "reused": True, "decision_id": decision.pk, "risk": decision.risk}
    if decision.type == Decision.Type.HOLD:
        risk = {"approved": False, "reasons": ["HOLD: there is nothing to place"]}
        Decision.objects.filter(pk=decision.pk).update(risk=risk)
        with ctx.lock:
            ctx.verdict = risk
        return {"decision_id": decision.pk, "approved": False, "reasons": risk["reasons"], "risk": risk}
    try:
        step_config = RiskConfig.from_dict({name: config.get(name) for name in RISK_SETTINGS})
    except ValueError as exc:
        raise PermanentStepError(f"validate_risk: {exc}") from exc
    risk_config, kill_switch = ctx.inputs.risk_limits(ctx, step_config)
    try:
        account = ctx.inputs.account(ctx)
    except ValueError as exc:  # no exchange rate for the contract's currency, a malformed multiplier
        raise PermanentStepError(f"validate_risk: {exc}") from exc
    summary = ctx.primary_fetch()["summary"] if ctx.fetches else {}
    reference = decision_reference(ctx, decision)
    verdict = evaluate_trade(
        side=decision.type,
        price=reference.price,
        model_price=decision.current_price,
        target=decision.target_price,
        stop=decision.stop_loss,
        atr=summary.get("atr14"),
        equity=account.equity,
        exposure=account.exposure,
        open_positions=account.open_positions,
        config=risk_config,
        kill_switch=kill_switch,
        unit_value=account.unit_value,
    )
    risk = {
        **verdict.as_dict(),
        "reference": reference.as_dict(),
        "model_price": None if decision.current_price is None else str(decision.current_price),
        "equity": str(account.equity),
        "exposure": str(account.exposure),
        "open_positions": account.open_positions,
        "unit_value": str(account.unit_value),
        "config": {name: str(getattr(risk_config, name)) for name in RISK_SETTINGS},
        "kill_switch": kill_switch,
    }
    decision.status = Decision.Status.APPROVED if verdict.approved else Decision.Status.REJECTED
    decision.rejection_reasons = list(verdict.reasons)
    decision.risk = risk
    decision.r_coefficient = _as_decimal(verdict.r_coefficient)
    decision.profit_margin = _as_decimal(verdict.profit_margin)
    decision.quantity = Decimal(verdict.quantity) if verdict.quantity else None
    if decision.stop_loss is None and verdict.stop is not None:
        decision.stop_loss = _as_decimal(verdict.stop)
    decision.save(
        update_fields=["status", "rejection_reasons", "risk", "r_coefficient", "profit_margin", "quantity", "stop_loss"]
    )
    with ctx.lock:
        ctx.verdict = risk
    return {
        "decision_id": decision.pk,
        "approved": verdict.approved,
        "reasons": list(verdict.reasons),
        "warnings": list(verdict.warnings),
        "quantity": verdict.quantity,
        "risk": risk,
    }
