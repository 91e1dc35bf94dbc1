"""place_order: the approved decision as a broker order, placed at most once per idempotency key.

The key is derived from the execution, the step and the decision, so a redelivered task (which
reuses its decision, see the decide step) computes the same key. broker.orders.order_submit
stores the Order row with that key before the broker hears of it, sends the key as the order
reference, and asks the broker for orders carrying it before placing, so no second order is
placed even when the broker took the first one and its answer was lost. It also applies the
kill switch, the paper/live guard, a paused strategy and the global position cap, at the moment
the order is about to go out.

The order is priced from the market, never from the model: a limit entry is the market reference
plus (buy) or minus (sell) `limit_allowance_bps`, the reference is asked again when older than
settings.PRICE_REFERENCE_MAX_AGE_SECONDS (a move beyond the risk tolerance since the decision
refuses the order), the bracket's exits must sit on the right sides of it, and a quantity fixed
in the step's config passes the same caps as a risk-sized one.
"""

from decimal import Decimal

from django.conf import settings

from agents.approvals import EXPIRED_REASON
from agents.models import ApprovalRequest
from broker.adapters import BrokerError, OrderRequest, TransientBrokerError
from broker.marketdata import MarketReference, ReferenceUnavailable
from broker.models import Order
from broker.orders import OrderRefused, order_submit
from broker.risk import RiskConfig, check_caps, entry_limit, levels_error, price_deviation_error, price_text
from execution import notifications
from execution.models import Decision
from execution.steps.base import PermanentStepError, StepError, StepSkipped, SymbolContext
from workflows.steps import STEP_TYPES

DRY_RUN_MESSAGE = "Dry run - order not placed"
DEFAULT_LIMIT_ALLOWANCE_BPS = STEP_TYPES["place_order"].defaults["limit_allowance_bps"]


def idempotency_key(execution_id: int, step_id: str, decision_id: int) -> str:
    return f"tw-{execution_id}-{step_id}-{decision_id}"


def _refuse(decision: Decision, reason: str):
    """The decision may not be ordered as it stands: rejected with the reason, and the step skipped."""
    decision.status = Decision.Status.REJECTED
    decision.rejection_reasons = [reason]
    decision.save(update_fields=["status", "rejection_reasons"])
    raise StepSkipped(f"Order refused: {reason}", {"decision_id": decision.pk})


def _risk_config(ctx: SymbolContext, decision: Decision) -> RiskConfig:
    """The limits validate_risk judged the decision with, under today's global caps."""
    recorded = RiskConfig.from_dict((decision.risk or {}).get("config") or {})
    return ctx.inputs.risk_limits(ctx, recorded)[0]


def placing_reference(ctx: SymbolContext, decision: Decision, tolerance: Decimal) -> MarketReference:
    """The market price to order at: the decision's reference, asked again when older than
    settings.PRICE_REFERENCE_MAX_AGE_SECONDS; refused when the market moved beyond `tolerance` since."""
    recorded = decision.market_reference()
    if recorded is not None and recorded.age_seconds() <= settings.PRICE_REFERENCE_MAX_AGE_SECONDS:
        return recorded
    try:
        fresh = ctx.inputs.reference(ctx)
    except ReferenceUnavailable as exc:
        raise StepError(str(exc)) from exc
    if recorded is None:  # a decision from before references: its own price is all there is to compare
        deviation = price_deviation_error(decision.current_price, fresh.price, tolerance)
        if deviation:
            _refuse(decision, deviation)
        return fresh
    moved = (fresh.price - recorded.price) / recorded.price
    if abs(moved) > tolerance:
        _refuse(
            decision,
            f"The market moved {moved * 100:+.1f} % since the decision, from {price_text(recorded.price)} to "
            f"{price_text(fresh.price)} (tolerance {tolerance * 100:.1f} %)",
        )
    return fresh


def _check_fixed_quantity(ctx: SymbolContext, quantity: Decimal, price: Decimal, config: RiskConfig) -> str:
    """Why a quantity fixed in the step's config exceeds the caps a risk-sized one passes ("" when it does not)."""
    account = ctx.inputs.account(ctx)
    caps = check_caps(
        quantity=quantity,
        price=price,
        equity=account.equity,
        exposure=account.exposure,
        open_positions=account.open_positions,
        config=config,
        unit_value=account.unit_value,
    )
    return "; ".join(caps.reasons)


def _order_request(config: dict, ctx: SymbolContext, decision: Decision, key: str) -> tuple[OrderRequest, dict]:
    """The broker request for the decision, priced from the market reference; and that reference."""
    fixed = config.get("quantity")
    quantity = fixed or decision.quantity
    if not quantity or Decimal(quantity) < 1:
        raise StepSkipped("Risk sizing leaves no whole share to order", {"decision_id": decision.pk})
    quantity = Decimal(quantity)
    risk_config = _risk_config(ctx, decision)
    reference = placing_reference(ctx, decision, risk_config.max_price_deviation)
    if fixed:
        over = _check_fixed_quantity(ctx, quantity, reference.price, risk_config)
        if over:
            _refuse(decision, f"the fixed quantity {quantity.normalize():f} exceeds the risk caps: {over}")
    order_type = config.get("order_type") or Order.Type.LIMIT
    instrument = ctx.get_instrument()
    # A bracket needs both exits; without them (or with `bracket` off) the entry goes alone.
    bracket = config.get("bracket", True) is not False and None not in (decision.target_price, decision.stop_loss)
    if bracket:
        wrong_side = levels_error(decision.type, reference.price, decision.target_price, decision.stop_loss)
        if wrong_side:
            _refuse(decision, wrong_side)
    allowance = Decimal(str(config.get("limit_allowance_bps", DEFAULT_LIMIT_ALLOWANCE_BPS)))
    request = OrderRequest(
        conid=instrument.conid,
        symbol=instrument.symbol,
        side=Order.Side.BUY if decision.type == Decision.Type.BUY else Order.Side.SELL,
        quantity=quantity,
        order_type=order_type,
        limit_price=entry_limit(decision.type, reference.price, allowance) if order_type == Order.Type.LIMIT else None,
        tif=config.get("tif") or Order.TimeInForce.DAY,
        order_ref=key,
        take_profit=decision.target_price if bracket else None,
        stop_loss=decision.stop_loss if bracket else None,
    )
    errors = request.validation_errors()
    if errors:
        raise PermanentStepError("place_order: " + "; ".join(errors))
    return request, reference.as_dict()


def _skip_reason(decision: Decision | None) -> str:
    if decision is None:
        return "No decision to order"
    if decision.type == Decision.Type.HOLD:
        return "HOLD: nothing to order"
    if decision.status == Decision.Status.REJECTED:
        return _rejection(decision)
    if decision.status not in (Decision.Status.APPROVED, Decision.Status.EXECUTED):
        return f"Decision is {decision.status}, not approved by validate_risk"
    return ""


def _rejection(decision: Decision) -> str:
    """Who refused the decision: a person answering its approval, the approval's expiry, or the risk rules."""
    reasons = "; ".join(decision.rejection_reasons or [])
    refusals = (ApprovalRequest.Status.REJECTED, ApprovalRequest.Status.EXPIRED)
    refusal = decision.approval_requests.filter(status__in=refusals).values_list("status", flat=True).first()
    if refusal == ApprovalRequest.Status.REJECTED:
        return f"Decision rejected at approval: {reasons}"  # the reason names the person: "Rejected by alice: …"
    if refusal == ApprovalRequest.Status.EXPIRED:
        return "Approval expired: HOLD, no order" if reasons == EXPIRED_REASON else f"Approval expired: {reasons}"
    return f"Decision rejected by risk: {reasons}"


def _order_output(order: Order) -> dict:
    return {
        "order_id": order.pk,
        "idempotency_key": order.idempotency_key,
        "broker_order_id": order.broker_order_id,
        "status": order.status,
        "status_message": order.status_message,
        "side": order.side,
        "quantity": str(order.quantity),
        "order_type": order.order_type,
        "limit_price": None if order.limit_price is None else str(order.limit_price),
        "tif": order.tif,
        "paper": order.paper,
    }


def _dry_run_output(request: OrderRequest, key: str, reference: dict, decision: Decision) -> dict:
    price = f" @ {request.limit_price}" if request.limit_price is not None else " at market"
    return {
        "dry_run": True,
        "message": f"{DRY_RUN_MESSAGE}: {request.side} {request.quantity} {request.symbol} "
        f"{request.order_type}{price} {request.tif}",
        "confirmation": {
            "status": "dry_run",
            "order_ref": key,
            "side": request.side,
            "quantity": str(request.quantity),
            "order_type": request.order_type,
            "limit_price": None if request.limit_price is None else str(request.limit_price),
            "take_profit": None if request.take_profit is None else str(request.take_profit),
            "stop_loss": None if request.stop_loss is None else str(request.stop_loss),
            "tif": request.tif,
        },
        "reference": reference,
        "decision_id": decision.pk,
    }


def place_order(config: dict, ctx: SymbolContext) -> dict:
    decision = ctx.decision
    reason = _skip_reason(decision)
    if reason:
        raise StepSkipped(reason, {"decision_id": decision.pk if decision else None})
    key = idempotency_key(ctx.execution.pk, ctx.step_id, decision.pk)
    saved = None if ctx.execution.dry_run else Order.objects.filter(idempotency_key=key).first()
    if saved is not None:
        # A redelivered task: the order was priced and saved before; it is resumed as it is, never priced again.
        order, take_profit, stop_loss, reference = saved, None, None, None
    else:
        request, reference = _order_request(config, ctx, decision, key)
        if ctx.execution.dry_run:
            return _dry_run_output(request, key, reference, decision)
        order = Order(
            owner=ctx.execution.owner,
            decision=decision,
            execution=ctx.execution,
            strategy=ctx.execution.strategy,
            instrument=ctx.get_instrument(),
            side=request.side,
            quantity=request.quantity,
            order_type=request.order_type,
            limit_price=request.limit_price,
            tif=request.tif,
            idempotency_key=key,
        )
        take_profit, stop_loss = request.take_profit, request.stop_loss
    try:
        order = order_submit(order, take_profit=take_profit, stop_loss=stop_loss)
    except OrderRefused as exc:
        notifications.order_failed(order, exc.reason)
        raise StepError(f"order {key} refused: {exc.reason}") from exc
    except BrokerError as exc:
        if not isinstance(exc, TransientBrokerError):  # a transient one is retried, or settled by reconciliation
            notifications.order_failed(order, f"The broker refused the order: {exc}")
        raise StepError(f"the broker did not confirm order {key}: {exc}") from exc
    notifications.order_update(order)
    if order.status == Order.Status.REJECTED:
        raise StepError(f"the broker rejected order {key}: {order.status_message}")
    if decision.status != Decision.Status.EXECUTED:
        decision.status = Decision.Status.EXECUTED
        decision.save(update_fields=["status"])
    with ctx.lock:
        ctx.order = order
    return {**_order_output(order), "reference": reference, "decision_id": decision.pk}
