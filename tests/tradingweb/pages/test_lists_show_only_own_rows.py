"""Every section lists the viewer's own rows; another trader's never appear; staff see everyone's."""

import pytest
from django.urls import reverse

# page -> the text that identifies a trader's row on it
SECTIONS = {
    "strategies": "{label} strategy",
    "workflows": "{label} workflow",
    "executions": "{label} workflow",
    "schedules": "{label} daily",
    "analytics": "{label} workflow",
    "orders": "{symbol}",
    "portfolio": "{symbol}",
    "dashboard": "{label} workflow",
}


def marker(page, label, symbol):
    return SECTIONS[page].format(label=label, symbol=symbol)


@pytest.mark.parametrize("page", SECTIONS)
def test_a_trader_sees_their_own_rows_and_not_another_traders(client, alice, alice_history, bob_history, page):
    client.force_login(alice)
    html = client.get(reverse(page)).content.decode()
    assert marker(page, "Alice", "AAPL") in html
    assert marker(page, "Bob", "MSFT") not in html


@pytest.mark.parametrize("page", SECTIONS)
def test_staff_see_every_traders_rows(client, staff, alice_history, bob_history, page):
    client.force_login(staff)
    html = client.get(reverse(page)).content.decode()
    assert marker(page, "Alice", "AAPL") in html
    assert marker(page, "Bob", "MSFT") in html


def test_the_task_queue_lists_only_the_traders_waiting_executions(client, alice, alice_history, bob_history):
    for history in (alice_history, bob_history):
        history.execution.status = "pending"
        history.execution.save()
    client.force_login(alice)
    html = client.get(reverse("tasks")).content.decode()
    assert f'data-execution="{alice_history.execution.pk}"' in html
    assert f'data-execution="{bob_history.execution.pk}"' not in html


def test_charts_list_only_charts_of_instruments_the_trader_trades(client, alice, alice_history, bob_history):
    from django.core.files.base import ContentFile

    from broker.models import Chart

    charts = {}
    for history in (alice_history, bob_history):
        stock = history.strategy.instruments.get()
        chart = Chart(instrument=stock, timeframe="daily", period="1y", bar="1d")
        chart.image.save(f"{stock.symbol}.png", ContentFile(b"\x89PNG\r\n"), save=True)
        charts[stock.symbol] = chart
    client.force_login(alice)
    html = client.get(reverse("charts")).content.decode()
    assert f'data-chart="{charts["AAPL"].pk}"' in html
    assert f'data-chart="{charts["MSFT"].pk}"' not in html
