"""The kill switch, the paper/live guard and the position cap refuse with a reason a trader can act on."""

from dataclasses import replace

import pytest

from broker.adapters.simulated import SimulatedAdapter
from broker.models import Order, RiskLimits
from broker.orders import OrderRefused, account_is_paper, order_submit
from broker.portfolio import apply_fill
from tests.broker.portfolio.conftest import make_fill, make_order, new_order
from workflows.models import Strategy


class LiveAccountAdapter(SimulatedAdapter):
    """The simulated exchange reporting a live (non-DU) IBKR-style account id."""

    def account_summary(self):
        return replace(super().account_summary(), account_id="U7654321", paper=False)


def test_the_kill_switch_refuses_every_order_with_its_reason(alice, adapter, sim_aapl):
    limits = RiskLimits.current()
    limits.kill_switch, limits.kill_switch_reason = True, "Flash crash review"
    limits.save()
    order = new_order(alice, sim_aapl)

    with pytest.raises(OrderRefused, match="kill switch \\(Flash crash review\\)"):
        order_submit(order, adapter=adapter)

    assert not Order.objects.exists()
    assert adapter.find_orders_by_ref(order.idempotency_key) == []


def test_a_saved_order_refused_by_the_kill_switch_is_marked_rejected_with_the_reason(alice, adapter, sim_aapl):
    order = new_order(alice, sim_aapl)
    order.save()
    RiskLimits.objects.update_or_create(pk=1, defaults={"kill_switch": True, "kill_switch_reason": "Audit"})

    with pytest.raises(OrderRefused):
        order_submit(order, adapter=adapter)

    order.refresh_from_db()
    assert order.status == Order.Status.REJECTED and "Audit" in order.status_message


def test_paper_mode_refuses_to_trade_a_live_account(alice, sim_aapl, settings):
    settings.TRADING_MODE = "paper"
    live = LiveAccountAdapter()

    with pytest.raises(OrderRefused, match="TRADING_MODE is paper but broker account U7654321 is a LIVE account"):
        order_submit(new_order(alice, sim_aapl), adapter=live)

    assert live.open_orders() == []


def test_live_mode_refuses_a_paper_account(alice, adapter, sim_aapl, settings):
    settings.TRADING_MODE = "live"

    with pytest.raises(OrderRefused, match="TRADING_MODE is live but broker account DUSIM0001 is a paper account"):
        order_submit(new_order(alice, sim_aapl), adapter=adapter)


def test_live_mode_refuses_a_strategy_without_allow_live(alice, sim_aapl, settings):
    settings.TRADING_MODE = "live"
    strategy = Strategy.objects.create(owner=alice, name="Momentum", allow_live=False)

    with pytest.raises(OrderRefused, match="Strategy 'Momentum' does not allow live trading"):
        order_submit(new_order(alice, sim_aapl, strategy=strategy), adapter=LiveAccountAdapter())


def test_live_mode_places_for_a_strategy_that_allows_live(alice, sim_aapl, settings):
    settings.TRADING_MODE = "live"
    strategy = Strategy.objects.create(owner=alice, name="Momentum", allow_live=True)

    order = order_submit(new_order(alice, sim_aapl, strategy=strategy), adapter=LiveAccountAdapter())

    assert order.status == Order.Status.SUBMITTED and order.paper is False


def test_ibkr_paper_accounts_are_the_ones_starting_with_du(adapter):
    class IbkrNamed(SimulatedAdapter):
        name = "ibkr"

    summary = adapter.account_summary()
    assert account_is_paper(replace(summary, account_id="DU1234567", paper=False), IbkrNamed())
    assert not account_is_paper(replace(summary, account_id="U1234567", paper=True), IbkrNamed())


def test_an_order_growing_a_position_above_the_cap_is_refused_and_a_reducing_one_is_not(alice, adapter, sim_aapl):
    apply_fill(make_order(alice, sim_aapl, "BUY", 100), make_fill(100, "20.00"))  # 2 000 held
    RiskLimits.objects.update_or_create(pk=1, defaults={"max_position_pct": "0.01"})  # 1 % of 100 000

    with pytest.raises(OrderRefused, match="worth 2020.00 .* above the cap of 1.0% per position") as refusal:
        order_submit(new_order(alice, sim_aapl, quantity=1, order_type="LMT", price="20.00"), adapter=adapter)
    assert refusal.value.http_status == 400

    reducing = new_order(alice, sim_aapl, side="SELL", quantity=60, order_type="LMT", price="20.00")
    assert order_submit(reducing, adapter=adapter).status == Order.Status.SUBMITTED
