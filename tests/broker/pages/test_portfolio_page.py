"""The portfolio page: the trader's own positions at the broker's prices with totals, concentration
and risk warnings; P&L series; performance figures; filtered trades."""

from datetime import timedelta
from decimal import Decimal

from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from broker.models import Position, Trade
from broker.pnl_history import realized_pnl_by_day
from tests.broker.pages.conftest import working_order


def held(owner, instrument, quantity, cost, stop=None):
    return Position.objects.create(
        owner=owner,
        instrument=instrument,
        quantity=Decimal(quantity),
        average_cost=Decimal(cost),
        cost_basis=Decimal(quantity) * Decimal(cost),
        stop_price=Decimal(stop) if stop else None,
    )


def test_positions_are_marked_with_concentration_flag_and_risk_warnings(alice_client, alice, bob, simulated_stock):
    from broker.adapters.simulated import SimulatedAdapter

    price = SimulatedAdapter().quote(simulated_stock.conid, simulated_stock.symbol).last
    shares = int(30_000 / price) + 1  # about 30% of the 100,000 simulated equity
    position = held(alice, simulated_stock, shares, price, stop=price * 2)  # a long whose stop is above the price
    held(bob, simulated_stock, 5, price)
    html = alice_client.get(reverse("portfolio-live")).content.decode()
    assert f'data-position="{position.pk}"' in html
    assert html.count("data-position=") == 1
    assert "data-concentrated" in html
    assert "data-risk-warnings" in html
    assert f"{simulated_stock.symbol} is " in html and "above 20" in html
    assert "has breached its stop" in html
    position.refresh_from_db()
    assert position.current_price == price  # marked at the broker's last price


def test_without_positions_the_risk_panel_is_clear_and_the_table_says_what_to_do(alice_client, simulated_stock):
    html = alice_client.get(reverse("portfolio-live")).content.decode()
    assert "data-risk-clear" in html
    assert "No open positions" in html and "Place an order" in html


def test_an_unavailable_broker_is_explained_and_positions_still_show(alice_client, alice_history):
    with override_settings(BROKER_ADAPTER="carrier-pigeon"):
        response = alice_client.get(reverse("portfolio-live"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Broker unavailable" in html and "carrier-pigeon" in html
    assert f'data-position="{alice_history.position.pk}"' in html


def test_the_page_shows_own_trades_performance_and_chart_data(alice_client, alice_history, bob_history):
    html = alice_client.get(reverse("portfolio")).content.decode()
    assert f'data-trade="{alice_history.trade.pk}"' in html
    assert f'data-trade="{bob_history.trade.pk}"' not in html
    assert 'data-stat-chart="pnl-over-time"' in html and 'id="pnl-by-day-data"' in html
    assert 'data-stat-chart="pnl-by-strategy"' in html and "Alice strategy" in html
    assert 'data-metric="Win rate"' in html and "100.00%" in html
    assert "hx-get=\"/portfolio/live/\"" in html


def test_without_trades_the_charts_are_empty_states(alice_client):
    html = alice_client.get(reverse("portfolio")).content.decode()
    assert "data-stat-chart" not in html
    assert "No closed trades yet" in html and "No trades yet" in html


def test_trades_filter_by_state_direction_symbol_and_dates(alice_client, alice, alice_history, simulated_stock):
    now = timezone.now()
    short_open = Trade.objects.create(
        owner=alice, instrument=simulated_stock, direction=Trade.Direction.SHORT, quantity=3,
        entry_price=Decimal("50"), entry_at=now - timedelta(days=20),
    )

    def listed(**params):
        html = alice_client.get(reverse("portfolio"), params).content.decode()
        return {pk for pk in (alice_history.trade.pk, short_open.pk) if f'data-trade="{pk}"' in html}

    assert listed() == {alice_history.trade.pk, short_open.pk}
    assert listed(state="open") == {short_open.pk}
    assert listed(state="closed") == {alice_history.trade.pk}
    assert listed(direction="short") == {short_open.pk}
    assert listed(symbol="aapl") == {alice_history.trade.pk}
    assert listed(since=(now - timedelta(days=10)).date().isoformat()) == {alice_history.trade.pk}


def test_realized_pnl_by_day_runs_a_total_over_exit_days(alice, alice_history):
    trade = alice_history.trade
    Trade.objects.create(
        owner=alice, instrument=trade.instrument, direction=Trade.Direction.LONG, quantity=1, entry_price=10,
        entry_at=trade.exit_at - timedelta(days=5), exit_price=8, exit_at=trade.exit_at - timedelta(days=1),
        realized_pnl=Decimal("-2.00"),
    )
    series = realized_pnl_by_day(Trade.objects.filter(owner=alice), "USD")
    assert [(row["pnl"], row["cumulative"]) for row in series] == [
        (Decimal("-2.00"), Decimal("-2.00")), (Decimal("65.00"), Decimal("63.00"))
    ]


def test_a_working_order_is_not_a_position(alice_client, alice, simulated_stock):
    working_order(alice, simulated_stock)
    assert "No open positions" in alice_client.get(reverse("portfolio-live")).content.decode()
