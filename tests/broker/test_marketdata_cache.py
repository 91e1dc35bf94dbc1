"""Bars come from the MarketData cache while fresh, and concurrent identical requests fetch once."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from broker import marketdata
from broker.adapters.simulated import SimulatedAdapter
from broker.instruments import qualify_symbol
from broker.models import Instrument, MarketData


class CountingAdapter(SimulatedAdapter):
    """The simulated adapter, counting (and slowing) historical-data requests like a paced gateway."""

    def __init__(self, delay: float = 0.0):
        super().__init__()
        self.delay = delay
        self.requests = 0
        self.guard = threading.Lock()

    def historical_bars(self, conid, symbol, period, bar):
        with self.guard:
            self.requests += 1
        time.sleep(self.delay)
        return super().historical_bars(conid, symbol, period, bar)


@pytest.fixture
def adapter(monkeypatch):
    counting = CountingAdapter()
    monkeypatch.setattr(marketdata, "get_adapter", lambda: counting)
    return counting


@pytest.mark.django_db
def test_it_returns_a_utc_frame_of_floats(adapter):
    frame = marketdata.get_bars(qualify_symbol("AAPL"), "3m", "1d")

    assert list(frame.columns) == ["open", "high", "low", "close", "volume"]
    assert str(frame.index.tz) == "UTC"
    assert frame.index.is_monotonic_increasing
    assert set(frame.dtypes.astype(str)) == {"float64"}
    assert 55 <= len(frame) <= 70


@pytest.mark.django_db
def test_a_fresh_cache_row_is_reused(adapter):
    instrument = qualify_symbol("AAPL")
    first = marketdata.get_bars(instrument, "1y", "1d")
    second = marketdata.get_bars(instrument, "1y", "1d")

    assert adapter.requests == 1
    assert first.equals(second)
    assert MarketData.objects.filter(conid=instrument.conid).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(("bar", "age", "refetched"), [("5min", 61, True), ("5min", 30, False), ("1d", 120, False)])
def test_intraday_bars_stay_fresh_an_hour_and_daily_bars_a_day(adapter, bar, age, refetched):
    instrument = qualify_symbol("MSFT")
    marketdata.get_bars(instrument, "5d", bar)
    MarketData.objects.update(fetched_at=timezone.now() - timedelta(minutes=age))

    marketdata.get_bars(instrument, "5d", bar)

    assert adapter.requests == (2 if refetched else 1)


@pytest.mark.django_db
def test_it_refuses_an_unknown_timeframe_and_fetches_nothing(adapter):
    with pytest.raises(ValueError, match="bar size"):
        marketdata.get_bars(qualify_symbol("AAPL"), "1y", "7d")
    assert adapter.requests == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_identical_requests_fetch_once(monkeypatch):
    counting = CountingAdapter(delay=0.5)
    monkeypatch.setattr(marketdata, "get_adapter", lambda: counting)
    instrument = qualify_symbol("NVDA")
    results = []

    def worker():
        try:
            results.append(len(marketdata.get_bars(Instrument.objects.get(pk=instrument.pk), "6m", "1d")))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert counting.requests == 1
    assert len(results) == 4 and len(set(results)) == 1


@pytest.mark.django_db
def test_qualify_symbol_stores_the_instrument_once(adapter):
    first = qualify_symbol(" aapl ")
    second = qualify_symbol("AAPL")

    assert first.pk == second.pk
    assert (first.symbol, first.sec_type, first.currency) == ("AAPL", "STK", "USD")
    assert Instrument.objects.count() == 1
