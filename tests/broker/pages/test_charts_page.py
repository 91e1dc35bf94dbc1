"""The charts page: any known instrument's bars and indicators as JSON, the timeframes side by side,
and the newest analysis of that symbol the trader may see."""

from django.urls import reverse

from execution.models import Decision


def test_chart_data_has_candles_volume_and_indicator_lines(alice_client, simulated_stock):
    response = alice_client.get(reverse("chart-data", args=[simulated_stock.conid]), {"timeframe": "1y-1d"})
    data = response.json()
    assert response.status_code == 200
    assert data["symbol"] == simulated_stock.symbol and data["bar"] == "1d"
    assert len(data["candles"]) > 200
    candle = data["candles"][-1]
    body = sorted([candle["open"], candle["close"]])
    assert candle["low"] <= body[0] <= body[1] <= candle["high"]
    assert len(data["volume"]) == len(data["candles"])
    for line in ("sma_20", "sma_50", "sma_200", "bb_upper", "supertrend", "rsi_14", "macd", "macd_signal"):
        assert data["lines"][line], line
    assert {"time", "value", "up"} <= set(data["lines"]["supertrend"][-1])
    assert data["candles"][0]["time"] < data["candles"][-1]["time"]


def test_short_histories_name_the_indicators_left_out(alice_client, simulated_stock):
    data = alice_client.get(reverse("chart-data", args=[simulated_stock.conid]), {"timeframe": "6m-1d"}).json()
    assert "sma_200" not in data["lines"]
    assert any("SMA 200" in warning for warning in data["warnings"])


def test_a_bad_timeframe_is_400_and_an_unknown_instrument_404(alice_client, simulated_stock):
    bad = alice_client.get(reverse("chart-data", args=[simulated_stock.conid]), {"timeframe": "1y-1s"})
    assert bad.status_code == 400 and "Unknown timeframe" in bad.json()["error"]
    assert alice_client.get(reverse("chart-data", args=[424242])).status_code == 404


def test_the_page_charts_the_chosen_instrument_daily_and_weekly(alice_client, simulated_stock):
    html = alice_client.get(reverse("charts"), {"symbol": "ko", "timeframe": "5y-1w"}).content.decode()
    data_url = reverse("chart-data", args=[simulated_stock.conid])
    assert f'data-url="{data_url}?timeframe=5y-1w"' in html  # the main chart
    assert f'data-url="{data_url}?timeframe=1y-1d"' in html and "Weekly" in html and "Daily" in html
    assert 'data-indicator="rsi"' in html


def test_it_shows_the_newest_analysis_the_trader_may_see(client, alice, bob, alice_history, bob_history):
    stock = alice_history.decision.instrument
    alice_history.decision.analysis_text = "Alice's read: the trend is up."
    alice_history.decision.save()
    Decision.objects.create(
        execution=bob_history.execution, instrument=stock, type=Decision.Type.SELL, analysis_text="Bob's secret read."
    )
    client.force_login(alice)
    html = client.get(reverse("charts"), {"symbol": stock.symbol}).content.decode()
    assert f'data-analysis="{alice_history.decision.pk}"' in html
    assert "the trend is up" in html
    assert "Bob&#x27;s secret read." not in html


def test_without_an_analysis_it_says_how_to_get_one(alice_client, simulated_stock):
    html = alice_client.get(reverse("charts"), {"symbol": simulated_stock.symbol}).content.decode()
    assert "No analysis of this instrument yet" in html


def test_an_unknown_symbol_falls_back_with_a_warning(alice_client, alice_history):
    html = alice_client.get(reverse("charts"), {"symbol": "NOPE", "timeframe": "forever"}).content.decode()
    assert "No instrument NOPE is known yet" in html
    assert "Unknown timeframe" in html
    assert reverse("chart-data", args=[alice_history.order.instrument.conid]) in html


def test_with_no_instruments_at_all_it_says_what_to_do(alice_client):
    html = alice_client.get(reverse("charts")).content.decode()
    assert "No instruments to chart yet" in html
