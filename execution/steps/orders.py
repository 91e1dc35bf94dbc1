"""place_order: the approved decision as a broker order, placed at most once per idempotency key.

The key is derived from the execution, the step and the decision, so a redelivered task (which
reuses its decision, see the decide step) computes the same key. broker.orders.order_submit
stores the Order row with that key before the broker hears of it, sends the key as the order
reference, and asks the broker for orders carrying it before placing, so no second order is
placed even when the broker took the first one and its answer was lost. It also applies the
kill switch, the paper/live guard and the global position cap.
"""

from decimal import Decimal

from agents.approvals import EXPIRED_REASON
from agents.models import ApprovalRequest
from broker.adapters import BrokerError, OrderRequest, TransientBrokerError
from broker.models import Order
from broker.orders import OrderRefused, order_submit
from execution import notifications
from execution.models import Decision
from execution.steps.base import PermanentStepError, StepError, StepSkipped, SymbolContext

DRY_RUN_MESSAGE = "Dry run - order not placed"


def idempotency_key(execution_id: int, step_id: str, decision_id: int) -> str:
    return f"tw-{execution_id}-{step_id}-{decision_id}"


def _order_request(config: dict, ctx: SymbolContext, decision: Decision, key: str) -> OrderRequest:
    quantity = config.get("quantity") or decision.quantity
    if not quantity or Decimal(quantity) < 1:
        raise StepSkipped("Risk sizing leaves no whole share to order", {"decision_id": decision.pk})
    order_type = config.get("order_type") or Order.Type.LIMIT
    instrument = ctx.get_instrument()
    # A bracket needs both exits; without them (or with `bracket` off) the entry goes alone.
    bracket = config.get("bracket", True) is not False and None not in (decision.target_price, decision.stop_loss)
    request = OrderRequest(
        conid=instrument.conid,
        symbol=instrument.symbol,
        side=Order.Side.BUY if decision.type == Decision.Type.BUY else Order.Side.SELL,
        quantity=Decimal(quantity),
        order_type=order_type,
        limit_price=decision.current_price if order_type == Order.Type.LIMIT else None,
        tif=config.get("tif") or Order.TimeInForce.DAY,
        order_ref=key,
        take_profit=decision.target_price if bracket else None,
        stop_loss=decision.stop_loss if bracket else None,
    )
    errors = request.validation_errors()
    if errors:
        raise PermanentStepError("place_order: " + "; ".join(errors))
    return request


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


def place_order(config: dict, ctx: SymbolContext) -> dict:
    decision = ctx.decision
    reason = _skip_reason(decision)
    if reason:
        raise StepSkipped(reason, {"decision_id": decision.pk if decision else None})
    key = idempotency_key(ctx.execution.pk, ctx.step_id, decision.pk)
    request = _order_request(config, ctx, decision, key)
    if ctx.execution.dry_run:
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
            "decision_id": decision.pk,
        }
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
    try:
        order = order_submit(order, take_profit=request.take_profit, stop_loss=request.stop_loss)
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
    return {**_order_output(order), "decision_id": decision.pk}
