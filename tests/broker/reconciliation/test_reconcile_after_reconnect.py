"""An IBKR reconnect reconciles the books on a worker soon after, once however many processes reconnect."""

from decimal import Decimal

import pytest
from django.core.cache import cache

from broker.adapters.ibkr import IBKRAdapter
from broker.models import Alert, Position
from broker.signals import gateway_reconnected
from execution.tasks import reconcile_after_reconnect


@pytest.mark.django_db(transaction=True)
def test_a_reconnect_reconciles_with_the_broker_on_a_worker_once(alice, sim_aapl, celery_worker):
    cache.delete("broker:reconcile-after-reconnect")
    # While the connection was down, the broker closed a position our books still hold.
    position = Position.objects.create(
        owner=alice,
        instrument=sim_aapl,
        quantity=Decimal("10"),
        average_cost=Decimal("100"),
        cost_basis=Decimal("1000"),
    )

    answers = dict(gateway_reconnected.send(sender=IBKRAdapter, adapter=None))
    report = answers[reconcile_after_reconnect].get(timeout=60)

    assert [discrepancy["position_id"] for discrepancy in report["discrepancies"]] == [position.pk]
    position.refresh_from_db()
    assert position.needs_review
    assert Alert.objects.filter(kind=Alert.Kind.DISCREPANCY, owner=alice, pk__in=report["alerts"]).exists()
    # The other worker processes reconnecting to the same gateway a moment later start no second one.
    assert dict(gateway_reconnected.send(sender=IBKRAdapter, adapter=None))[reconcile_after_reconnect] is None
