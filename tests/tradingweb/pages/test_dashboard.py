from decimal import Decimal

from django.test import override_settings
from django.urls import reverse

from broker.models import Position
from execution.models import Decision


def test_the_account_card_shows_equity_and_cash_from_the_broker(client, alice):
    client.force_login(alice)
    with override_settings(BROKER_ADAPTER="simulated"):
        html = client.get(reverse("dashboard-account")).content.decode()
    assert 'data-stat="Equity"' in html
    assert 'data-stat="Cash"' in html
    assert "data-broker-unavailable" not in html


def test_the_account_card_says_why_when_the_broker_is_unavailable(client, alice):
    client.force_login(alice)
    with override_settings(BROKER_ADAPTER="carrier-pigeon"):
        response = client.get(reverse("dashboard-account"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Broker unavailable:" in html
    assert "carrier-pigeon" in html


def test_the_dashboard_loads_the_account_card_after_the_page(client, alice):
    client.force_login(alice)
    html = client.get(reverse("dashboard")).content.decode()
    assert f'hx-get="{reverse("dashboard-account")}"' in html


def test_it_counts_active_strategies_and_workflows(client, alice, alice_history):
    client.force_login(alice)
    response = client.get(reverse("dashboard"))
    assert response.context["active_strategies"] == 1
    assert response.context["active_workflows"] == 1


def test_recent_decisions_say_whether_an_order_followed(client, alice, alice_history):
    Decision.objects.create(
        execution=alice_history.execution,
        strategy=alice_history.strategy,
        instrument=alice_history.decision.instrument,
        type=Decision.Type.SELL,
        status=Decision.Status.REJECTED,
        rejection_reasons=["R coefficient 0.8 is below the minimum 1.0"],
    )
    client.force_login(alice)
    html = client.get(reverse("dashboard")).content.decode()
    assert "Order filled" in html
    assert "Blocked by risk" in html
    assert "R coefficient 0.8 is below the minimum 1.0" in html


def test_open_positions_show_at_most_five_and_skip_closed_ones(client, alice, alice_history):
    from tests.support.seed import instrument

    for index in range(6):
        Position.objects.create(
            owner=alice, instrument=instrument(f"SYM{index}"), quantity=Decimal("1"), unrealized_pnl=Decimal(index)
        )
    Position.objects.create(owner=alice, instrument=instrument("FLAT"), quantity=Decimal("0"))
    client.force_login(alice)
    positions = list(client.get(reverse("dashboard")).context["open_positions"])
    assert len(positions) == 5
    assert "FLAT" not in [position.instrument.symbol for position in positions]


def test_a_new_trader_sees_empty_states_that_say_what_to_do_next(client, alice):
    client.force_login(alice)
    html = client.get(reverse("dashboard")).content.decode()
    assert "No executions yet" in html
    assert "No open positions" in html
    assert "No decisions yet" in html
    assert "No trades yet" in html
