"""An entry with a target and a stop goes out as a bracket whose legs the UI can follow."""

from decimal import Decimal

import pytest
from django.test import Client

from broker.models import Order, Position, Trade
from broker.orders import order_cancel, order_submit, poll_open_orders

from .conftest import let_market_trade, new_order

pytestmark = pytest.mark.django_db


def test_a_bracket_entry_saves_its_take_profit_and_stop_as_child_orders(alice, adapter, sim_aapl):
    last = adapter.quote(sim_aapl.conid, "AAPL").last

    entry = order_submit(
        new_order(alice, sim_aapl),
        adapter=adapter,
        take_profit=last * 2,
        stop_loss=(last / 2).quantize(Decimal("0.01")),
    )

    take_profit, stop_loss = entry.children.order_by("id")
    assert (take_profit.side, take_profit.order_type, take_profit.limit_price) == ("SELL", "LMT", last * 2)
    assert (stop_loss.side, stop_loss.stop_price) == ("SELL", (last / 2).quantize(Decimal("0.01")))
    assert take_profit.broker_order_id and stop_loss.broker_order_id
    assert {take_profit.status, stop_loss.status} == {Order.Status.SUBMITTED}
    assert take_profit.quantity == stop_loss.quantity == entry.quantity


def test_when_the_take_profit_fills_the_stop_is_cancelled(alice, adapter, sim_aapl):
    last = adapter.quote(sim_aapl.conid, "AAPL").last
    take_profit_price = (last * Decimal("1.001")).quantize(Decimal("0.01"))
    entry = order_submit(
        new_order(alice, sim_aapl),
        adapter=adapter,
        take_profit=take_profit_price,
        stop_loss=(last / 2).quantize(Decimal("0.01")),
    )

    let_market_trade(adapter)
    poll_open_orders(adapter=adapter)

    entry.refresh_from_db()
    take_profit, stop_loss = entry.children.order_by("id")
    assert entry.status == Order.Status.FILLED
    assert take_profit.status == Order.Status.FILLED and take_profit.avg_fill_price >= take_profit_price
    assert stop_loss.status == Order.Status.CANCELLED
    assert Position.objects.get(owner=alice, instrument=sim_aapl).quantity == 0
    trade = Trade.objects.get(owner=alice, instrument=sim_aapl)
    assert trade.is_closed() and trade.exit_price == take_profit.avg_fill_price


def test_cancelling_a_resting_bracket_entry_cancels_its_legs(alice, adapter, sim_aapl):
    last = adapter.quote(sim_aapl.conid, "AAPL").last
    far_below = (last / 3).quantize(Decimal("0.01"))
    entry = order_submit(
        new_order(alice, sim_aapl, order_type="LMT", price=far_below),
        adapter=adapter,
        take_profit=last,
        stop_loss=(far_below / 2).quantize(Decimal("0.01")),
    )

    order_cancel(entry, adapter=adapter)

    assert set(entry.children.values_list("status", flat=True)) == {Order.Status.CANCELLED}


def test_a_refused_bracket_entry_leaves_no_leg_waiting(alice, adapter, sim_aapl):
    from broker.models import RiskLimits
    from broker.orders import OrderRefused

    RiskLimits.objects.update_or_create(pk=1, defaults={"kill_switch": True, "kill_switch_reason": "test"})
    with pytest.raises(OrderRefused):
        order_submit(new_order(alice, sim_aapl), adapter=adapter, take_profit=Decimal("999"), stop_loss=Decimal("1"))

    assert not Order.objects.filter(owner=alice).exists()


@pytest.mark.parametrize(("config", "legs"), [({}, 2), ({"bracket": False}, 0)])
def test_the_place_order_step_sends_the_decisions_target_and_stop_as_a_bracket(
    alice, adapter, sim_aapl, settings, config, legs
):
    from execution.models import Decision, WorkflowExecution
    from execution.steps.base import SymbolContext
    from execution.steps.orders import place_order

    settings.BROKER_ADAPTER = "simulated"
    last = adapter.quote(sim_aapl.conid, "AAPL").last
    execution = WorkflowExecution.objects.create(owner=alice, symbols=["AAPL"])
    decision = Decision.objects.create(
        execution=execution,
        instrument=sim_aapl,
        type="buy",
        current_price=last,
        target_price=(last * Decimal("1.1")).quantize(Decimal("0.01")),
        stop_loss=(last * Decimal("0.9")).quantize(Decimal("0.01")),
        quantity=Decimal("2"),
        status="approved",
    )
    ctx = SymbolContext(execution=execution, symbol="AAPL", params={}, instrument=sim_aapl, decision=decision)

    with ctx.running({"id": "order"}, 0):
        output = place_order({"order_type": "LMT", "tif": "DAY", **config}, ctx)

    entry = Order.objects.get(pk=output["order_id"])
    assert entry.children.count() == legs
    if legs:
        take_profit, stop_loss = entry.children.order_by("id")
        assert (take_profit.limit_price, stop_loss.stop_price) == (decision.target_price, decision.stop_loss)
        assert take_profit.decision == stop_loss.decision == decision


def test_the_orders_api_and_page_show_each_leg_with_its_own_type_price_and_entry(alice, alice_api, adapter, sim_aapl):
    last = adapter.quote(sim_aapl.conid, "AAPL").last
    target, stop = (last * Decimal("1.2")).quantize(Decimal("0.01")), (last * Decimal("0.9")).quantize(Decimal("0.01"))
    entry = order_submit(new_order(alice, sim_aapl), adapter=adapter, take_profit=target, stop_loss=stop)

    listed = {row["id"]: row for row in alice_api.get("/api/orders/").json()["results"]}

    take_profit, stop_loss = entry.children.order_by("id")
    assert listed[take_profit.pk]["order_type"] == "LMT" and Decimal(listed[take_profit.pk]["price"]) == target
    assert listed[stop_loss.pk]["order_type"] == "STP" and Decimal(listed[stop_loss.pk]["price"]) == stop
    assert Decimal(listed[stop_loss.pk]["stop_price"]) == stop and listed[stop_loss.pk]["limit_price"] is None
    assert listed[take_profit.pk]["parent"] == listed[stop_loss.pk]["parent"] == entry.pk
    assert listed[entry.pk]["order_type"] == "MKT" and listed[entry.pk]["parent"] is None

    client = Client()
    client.force_login(alice)
    page = client.get("/orders/").content.decode()
    stop_row = page[page.index(f'data-order="{stop_loss.pk}"') :].split("</tr>")[0]
    assert 'data-order-type="STP"' in stop_row and f"stop @ {stop:,}" in stop_row
    assert f"Stop-loss of #{entry.pk}" in stop_row
