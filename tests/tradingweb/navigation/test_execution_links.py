"""Wherever a run shows up (dashboard, a strategy's last execution, an order, a decision) it links to its page."""

from decimal import Decimal

from django.urls import reverse

from broker.models import Order
from tests.tradingweb.navigation.links import hrefs_with


def detail_url(execution) -> str:
    return reverse("executions-detail", args=[execution.pk])


def test_recent_executions_on_the_dashboard_link_to_their_detail_page(client, alice, alice_history):
    client.force_login(alice)
    html = client.get(reverse("dashboard")).content.decode()
    assert hrefs_with(html, "data-execution-link") == [detail_url(alice_history.execution)]
    assert client.get(detail_url(alice_history.execution)).status_code == 200


def test_recent_decisions_on_the_dashboard_link_to_their_execution(client, alice, alice_history):
    client.force_login(alice)
    html = client.get(reverse("dashboard")).content.decode()
    assert hrefs_with(html, "data-decision-execution") == [detail_url(alice_history.execution)]


def test_a_strategys_last_execution_links_to_it_on_the_list_and_in_the_builder(client, alice, alice_history):
    client.force_login(alice)
    for page in (reverse("strategies"), reverse("workflows-builder", args=[alice_history.workflow.pk])):
        html = client.get(page).content.decode()
        assert hrefs_with(html, "data-last-execution") == [detail_url(alice_history.execution)], page


def test_a_strategy_never_run_says_so_without_a_link(client, alice, alice_history):
    alice_history.execution.delete()
    client.force_login(alice)
    html = client.get(reverse("strategies")).content.decode()
    assert hrefs_with(html, "data-last-execution") == []
    assert "Never run" in html


def test_an_order_placed_by_a_workflow_links_to_its_decisions_execution(client, alice, alice_history):
    manual = Order.objects.create(
        owner=alice,
        instrument=alice_history.order.instrument,
        side=Order.Side.SELL,
        quantity=Decimal("5"),
        status=Order.Status.FILLED,
        idempotency_key="alice-manual-sell",
    )
    client.force_login(alice)
    html = client.get(reverse("orders"), {"tab": "history"}).content.decode()
    assert f'data-order="{manual.pk}"' in html
    assert hrefs_with(html, "data-order-execution") == [detail_url(alice_history.decision.execution)]
    assert client.get(detail_url(alice_history.decision.execution)).status_code == 200


def test_orders_on_their_own_execution_page_do_not_link_back_to_it(client, alice, alice_history):
    client.force_login(alice)
    html = client.get(reverse("executions-results", args=[alice_history.execution.pk])).content.decode()
    assert f'data-order="{alice_history.order.pk}"' in html
    assert hrefs_with(html, "data-order-execution") == []
