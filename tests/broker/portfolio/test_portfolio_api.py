"""The portfolio API: each trader sees their own book; staff see everyone's or one trader's."""

from datetime import UTC, datetime
from decimal import Decimal

from broker.models import Trade
from broker.portfolio import apply_fill
from tests.broker.portfolio.conftest import make_fill, make_order


def book_round_trip(owner, instrument, buy="100.00", sell="110.00", quantity=10):
    apply_fill(make_order(owner, instrument, "BUY", quantity), make_fill(quantity, buy, minutes=0))
    apply_fill(make_order(owner, instrument, "SELL", quantity), make_fill(quantity, sell, minutes=90))


def test_the_summary_is_the_callers_own(alice_api, bob_api, alice, bob, sim_aapl):
    book_round_trip(alice, sim_aapl, sell="110.00")  # +100
    book_round_trip(bob, sim_aapl, sell="95.00")  # -50

    alices = alice_api.get("/api/portfolio/").json()
    bobs = bob_api.get("/api/portfolio/").json()

    assert Decimal(alices["realized_pnl"]) == 100 and alices["trades_all_time"] == 1 and alices["wins"] == 1
    assert Decimal(bobs["realized_pnl"]) == -50 and bobs["losses"] == 1
    assert Decimal(alices["total_value"]) > 0 and alices["paper"] is True


def test_staff_see_everyones_book_or_one_traders(staff_api, alice, bob, sim_aapl):
    book_round_trip(alice, sim_aapl, sell="110.00")
    book_round_trip(bob, sim_aapl, sell="95.00")

    assert Decimal(staff_api.get("/api/portfolio/").json()["realized_pnl"]) == 50
    assert Decimal(staff_api.get(f"/api/portfolio/?owner={bob.pk}").json()["realized_pnl"]) == -50
    assert staff_api.get("/api/portfolio/?owner=999999").status_code == 404


def test_a_trader_cannot_ask_for_another_traders_book(bob_api, alice, sim_aapl):
    book_round_trip(alice, sim_aapl)

    assert Decimal(bob_api.get(f"/api/portfolio/?owner={alice.pk}").json()["realized_pnl"]) == 0


def test_positions_are_marked_at_the_brokers_price(alice_api, bob_api, alice, adapter, sim_aapl):
    apply_fill(make_order(alice, sim_aapl, "BUY", 10), make_fill(10, "1.00"))
    last = adapter.quote(sim_aapl.conid, "AAPL").last

    body = alice_api.get("/api/portfolio/positions/").json()

    (row,) = body["positions"]
    assert (row["symbol"], row["direction"], Decimal(row["quantity"])) == ("AAPL", "long", 10)
    assert Decimal(row["current_price"]) == last
    assert Decimal(row["unrealized_pnl"]) == 10 * last - 10
    assert body["top_positions"] == body["positions"]
    assert bob_api.get("/api/portfolio/positions/").json()["positions"] == []


def test_trades_list_filters_and_tells_the_holding_period(alice_api, bob_api, alice, sim_aapl, msft):
    book_round_trip(alice, sim_aapl)
    book_round_trip(alice, msft)
    Trade.objects.filter(instrument=msft).update(entry_at=datetime(2025, 6, 1, tzinfo=UTC))

    aapl_trades = alice_api.get("/api/portfolio/trades/?symbol=AAPL").json()["results"]
    recent = alice_api.get("/api/portfolio/trades/?since=2026-01-01").json()["results"]

    (trade,) = aapl_trades
    assert trade["direction"] == "long" and Decimal(trade["realized_pnl"]) == 100 and trade["is_closed"]
    assert trade["holding_period_seconds"] == 90 * 60 and trade["holding_period_days"] == "0.06"
    assert [t["symbol"] for t in recent] == ["AAPL"]
    assert bob_api.get("/api/portfolio/trades/").json()["results"] == []


def test_risk_reports_exposure_against_the_account_equity(alice_api, alice, sim_aapl):
    apply_fill(make_order(alice, sim_aapl, "BUY", 10), make_fill(10, "1.00"))

    risk = alice_api.get("/api/portfolio/risk/").json()

    assert risk["open_positions"] == 1 and Decimal(risk["exposure"]) > 0
    assert Decimal(risk["exposure_pct"]) == (Decimal(risk["exposure"]) / Decimal(risk["equity"]) * 100).quantize(
        Decimal("0.01")
    )
    assert isinstance(risk["warnings"], list)


def test_anonymous_callers_are_refused(api_client, db):
    for path in ("/api/portfolio/", "/api/portfolio/positions/", "/api/portfolio/trades/", "/api/portfolio/risk/"):
        assert api_client.get(path).status_code in (401, 403)


def test_a_broker_outage_answers_502(alice_api, monkeypatch, db):
    from tests.broker.portfolio.test_orders_api import UnreachableGateway

    monkeypatch.setattr("broker.adapters.get_adapter", UnreachableGateway)

    response = alice_api.get("/api/portfolio/risk/")

    assert response.status_code == 502 and "IB Gateway is not reachable" in response.json()["detail"]
