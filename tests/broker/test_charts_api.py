"""The chart endpoints make or reuse a chart, list the history, and answer 502 when the broker fails."""

import socket

import pytest

from broker.instruments import qualify_symbol
from broker.models import Chart

pytestmark = pytest.mark.django_db


@pytest.fixture
def small_charts(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.CHART_WIDTH, settings.CHART_HEIGHT = 640, 360


def test_it_generates_a_chart_then_reuses_it(alice_api, small_charts):
    conid = qualify_symbol("AAPL").conid

    first = alice_api.get(f"/api/charts/{conid}/?period=3m&bar=1d")
    again = alice_api.get(f"/api/charts/{conid}/?period=3m&bar=1d")

    assert first.status_code == 200
    body = first.json()
    assert (body["period"], body["bar"], body["symbol"]) == ("3m", "1d", "AAPL")
    assert body["chart_url"].startswith(f"http://testserver/charts/images/{body['id']}.png?grant=")
    assert body["generated_at"]
    assert again.json()["id"] == body["id"]
    assert Chart.objects.count() == 1

    history = alice_api.get(f"/api/charts/history/{conid}/").json()
    assert [chart["id"] for chart in history["results"]] == [body["id"]]


def test_it_refuses_an_unknown_timeframe_or_instrument(alice_api):
    conid = qualify_symbol("AAPL").conid
    bad = alice_api.get(f"/api/charts/{conid}/?period=forever&bar=1d")
    assert bad.status_code == 400 and "timeframe" in bad.json()
    assert alice_api.get("/api/charts/12345/").status_code == 404
    assert alice_api.get("/api/charts/history/12345/").status_code == 404
    assert not Chart.objects.exists()


def test_a_broker_failure_is_a_502_with_the_brokers_message(alice_api, settings):
    conid = qualify_symbol("AAPL").conid
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        settings.IBKR_PORT = probe.getsockname()[1]  # nothing listens there
    settings.BROKER_ADAPTER, settings.IBKR_TIMEOUT = "ibkr", 2.0

    response = alice_api.get(f"/api/charts/{conid}/?period=1y&bar=1d")

    assert response.status_code == 502
    assert "unreachable" in response.json()["detail"]
    assert not Chart.objects.exists()


def test_the_chart_url_s_grant_lets_the_trader_who_asked_see_the_image_and_nobody_else(
    alice_api, client, alice, bob, small_charts
):
    body = alice_api.get(f"/api/charts/{qualify_symbol('AAPL').conid}/?period=3m&bar=1d").json()
    url = body["chart_url"].removeprefix("http://testserver")

    client.force_login(alice)  # no strategy, position, order or run of alice touches AAPL
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert client.get(url.split("?")[0]).status_code == 404
    client.force_login(bob)
    assert client.get(url).status_code == 404
