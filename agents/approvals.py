"""Human approval of a decision: the rules of one ApprovalRequest, without knowing how executions run.

A request is created pending with a deadline, answered once (approved, rejected, modified or
expired), and never answered again. Parking and resuming the execution around it is
`execution.approvals`' job; this module only keeps the request's own rules.
"""

from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from agents.models import ApprovalRequest

PERCENT_PLACES = Decimal("0.01")
EXPIRED_REASON = "Approval expired"


class ApprovalAlreadyAnswered(Exception):  # noqa: N818 - reads as the situation it names
    """The request was answered before (by a person, or by its expiry)."""

    def __init__(self, approval: ApprovalRequest):
        super().__init__(f"approval request {approval.pk} is already {approval.status}")
        self.approval = approval


def approval_create(*, execution, decision, now: datetime | None = None) -> ApprovalRequest:
    """A pending request for `decision`, due settings.APPROVAL_TIMEOUT_SECONDS from now."""
    now = now or timezone.now()
    return ApprovalRequest.objects.create(
        execution=execution,
        decision=decision,
        deadline=now + timedelta(seconds=settings.APPROVAL_TIMEOUT_SECONDS),
    )


def pending_approval_for(decision) -> ApprovalRequest | None:
    return ApprovalRequest.objects.filter(decision=decision, status=ApprovalRequest.Status.PENDING).first()


def decision_was_answered(decision) -> bool:
    """True once a request about `decision` has an answer: a person (or the clock) decided, do not ask again."""
    return ApprovalRequest.objects.filter(decision=decision).exclude(status=ApprovalRequest.Status.PENDING).exists()


def approval_answer(
    approval: ApprovalRequest, *, status: str, responder=None, response: dict | None = None
) -> ApprovalRequest:
    """Record the one answer a pending request gets; the caller holds the row lock (select_for_update)."""
    if not approval.is_pending():
        raise ApprovalAlreadyAnswered(approval)
    if status == ApprovalRequest.Status.PENDING or status not in ApprovalRequest.Status.values:
        raise ValueError(f"an approval is answered with one of approved, rejected, modified, expired; not {status!r}")
    approval.status = status
    approval.responder = responder
    approval.response = response or {}
    approval.responded_at = timezone.now()
    approval.save(update_fields=["status", "responder", "response", "responded_at"])
    return approval


def is_overdue(approval: ApprovalRequest, now: datetime | None = None) -> bool:
    return approval.is_pending() and approval.deadline <= (now or timezone.now())


def overdue_approvals(now: datetime | None = None) -> QuerySet:
    """Pending requests whose deadline has passed, oldest deadline first."""
    return ApprovalRequest.objects.filter(
        status=ApprovalRequest.Status.PENDING, deadline__lte=now or timezone.now()
    ).order_by("deadline")


def price_move_pct(entry: Decimal, price: Decimal) -> Decimal:
    """How far `price` is from the proposed `entry`, in percent of the entry (always >= 0)."""
    return (abs(Decimal(price) - Decimal(entry)) / Decimal(entry) * 100).quantize(PERCENT_PLACES)


def max_price_move_pct() -> Decimal:
    return Decimal(str(settings.APPROVAL_MAX_PRICE_MOVE_PCT))


def stale_price_message(entry: Decimal, price: Decimal) -> str:
    """Why an approval no longer stands when the price moved too far from the proposal, else ""."""
    if not entry:
        return ""
    moved = price_move_pct(entry, price)
    limit = max_price_move_pct()
    if moved <= limit:
        return ""
    return (
        f"The price moved {moved}% from the proposed entry {entry} to {price} (more than {limit}%): "
        "this is a different trade now, so the approval expired"
    )
