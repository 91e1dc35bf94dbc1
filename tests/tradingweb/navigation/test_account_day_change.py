"""The account card states today's change only when it is known: the realized P&L of trades closed today."""

from datetime import timedelta
from decimal import Decimal

from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from broker.models import Trade
from tradingweb.selectors import realized_pnl_today


def account_card(client, user) -> str:
    client.force_login(user)
    with override_settings(BROKER_ADAPTER="simulated"):
        return client.get(reverse("dashboard-account")).content.decode()


def closed_just_now(history) -> None:
    """The seeded trade closed two hours ago, which is yesterday between 00:00 and 02:00 UTC."""
    Trade.objects.filter(pk=history.trade.pk).update(exit_at=timezone.now())


def close_trade(history, pnl: str, exit_at) -> Trade:
    return Trade.objects.create(
        owner=history.trade.owner,
        instrument=history.trade.instrument,
        direction=Trade.Direction.LONG,
        quantity=Decimal("5"),
        entry_price=Decimal("100"),
        entry_at=exit_at - timedelta(hours=1),
        exit_price=Decimal("100"),
        exit_at=exit_at,
        realized_pnl=Decimal(pnl),
    )


def test_it_shows_the_realized_pnl_of_trades_closed_today(client, alice, alice_history):
    closed_just_now(alice_history)  # +65.00
    close_trade(alice_history, "-20.00", timezone.now())
    html = account_card(client, alice)
    assert "data-day-change" in html
    assert "+45.00" in html
    assert "realized today" in html


def test_it_leaves_the_change_out_when_no_trade_closed_today(client, alice, alice_history):
    start_of_today = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    Trade.objects.filter(owner=alice).update(exit_at=start_of_today - timedelta(hours=3))
    html = account_card(client, alice)
    assert 'data-stat="Equity"' in html
    assert "data-day-change" not in html
    assert realized_pnl_today(alice, "USD") is None


def test_the_change_counts_only_the_viewers_own_trades(client, alice, bob, alice_history, bob_history):
    closed_just_now(alice_history)
    closed_just_now(bob_history)
    close_trade(bob_history, "500.00", timezone.now())
    assert realized_pnl_today(alice, "USD") == Decimal("65.00")
    assert realized_pnl_today(bob, "USD") == Decimal("565.00")


def test_a_day_that_nets_to_zero_still_says_so(client, alice, alice_history):
    closed_just_now(alice_history)
    close_trade(alice_history, "-65.00", timezone.now())
    assert realized_pnl_today(alice, "USD") == Decimal("0")
    assert "+0.00" in account_card(client, alice)


def test_the_dashboard_totals_the_realized_pnl_of_every_closed_trade(client, alice, alice_history, bob_history):
    close_trade(alice_history, "-15.00", timezone.now() - timedelta(days=2))
    account_card(client, alice)  # the broker names the account's currency (USD), in which the totals add up
    response = client.get(reverse("dashboard"))
    assert response.context["totals"].realized_pnl == Decimal("50.00")
    assert "+50.00" in response.content.decode()
