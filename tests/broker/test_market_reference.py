"""The market reference: the broker's quote (last trade, else the bid/ask mid), or without a quote the
last close of the freshest bars; never a guess."""

import socket
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from broker.adapters import Quote, reset_adapter
from broker.marketdata import ReferenceUnavailable, bars_reference, bars_to_frame, market_reference, quote_reference
from broker.models import Instrument
from broker.simulation import generate_bars

NOW = datetime(2026, 3, 4, 15, 30, tzinfo=UTC)


def quote(last, bid=None, ask=None, market_data_type=""):
    return Quote(conid=1, bid=bid, ask=ask, last=last, time=NOW, market_data_type=market_data_type)


def test_a_quote_prices_at_its_last_trade_and_says_which_kind_of_quote_it_was():
    reference = quote_reference(quote(Decimal("101.25"), Decimal("101.20"), Decimal("101.30"), "delayed"))
    assert (reference.price, reference.source, reference.time, reference.market_data_type) == (
        Decimal("101.25"),
        "quote_last",
        NOW,
        "delayed",
    )


def test_without_a_last_trade_the_quote_prices_at_the_middle_of_bid_and_ask():
    reference = quote_reference(quote(Decimal("0"), Decimal("101.20"), Decimal("101.31")))
    assert (reference.price, reference.source) == (Decimal("101.255"), "quote_mid")
    assert quote_reference(quote(Decimal("0"), None, Decimal("101.31"))) is None


@pytest.fixture
def unreachable_broker(settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        settings.IBKR_PORT = probe.getsockname()[1]  # nothing listens once the probe closes
    settings.BROKER_ADAPTER, settings.IBKR_HOST, settings.IBKR_TIMEOUT = "ibkr", "127.0.0.1", 2.0
    reset_adapter()
    yield
    reset_adapter()


def test_without_a_quote_the_last_close_of_the_freshest_bars_is_the_reference(unreachable_broker):
    daily = bars_to_frame(generate_bars("AAPL", "3m", "1d", end=NOW))
    hourly = bars_to_frame(generate_bars("AAPL", "5d", "1h", end=NOW))
    instrument = Instrument(symbol="AAPL", conid=265598)

    reference = market_reference(instrument, [daily, hourly])

    assert reference.source == "bars_close"
    assert reference.price == Decimal(str(hourly["close"].iloc[-1])).quantize(Decimal("0.000001"))
    assert reference.time == hourly.index[-1].to_pydatetime() and reference.time > daily.index[-1].to_pydatetime()
    assert bars_reference([hourly, daily]) == reference


def test_without_a_quote_or_bars_there_is_no_price(unreachable_broker):
    with pytest.raises(ReferenceUnavailable, match="No market price for AAPL: no quote"):
        market_reference(Instrument(symbol="AAPL", conid=265598), [])
