from datetime import UTC, datetime

import pytest
from ib_insync import Contract, Stock

from broker.simulation import conid_for, generate_bars, last_price

from .conftest import MARKET_START


def test_it_qualifies_a_stock_with_its_simulated_conid(ib):
    contract = Stock("AAPL", "SMART", "USD")

    qualified = ib.qualifyContracts(contract)

    assert qualified == [contract]
    assert contract.conId == conid_for("AAPL")
    assert contract.symbol == "AAPL"
    assert contract.exchange == "SMART"


def test_it_answers_an_unknown_symbol_with_error_200(ib):
    errors = []
    ib.errorEvent += lambda req_id, code, message, contract: errors.append(code)

    qualified = ib.qualifyContracts(Stock("NO_SUCH", "SMART", "USD"))

    assert qualified == []
    assert 200 in errors


def test_it_serves_daily_bars_equal_to_the_simulated_exchange(ib):
    end = datetime(2024, 1, 3, 21, 0, tzinfo=UTC)

    bars = ib.reqHistoricalData(
        Stock("MSFT", "SMART", "USD"),
        endDateTime=end,
        durationStr="6 M",
        barSizeSetting="1 day",
        whatToShow="TRADES",
        useRTH=True,
    )

    expected = generate_bars("MSFT", "6m", "1d", end=end)
    assert len(bars) == len(expected) > 100
    assert [bar.date.isoformat() for bar in bars] == [row["t"][:10] for row in expected]
    assert [(b.open, b.high, b.low, b.close, b.volume) for b in bars] == [
        (row["o"], row["h"], row["l"], row["c"], row["v"]) for row in expected
    ]


@pytest.mark.parametrize("format_date", [1, 2])
def test_it_serves_intraday_bars_with_utc_times(ib, format_date):
    end = datetime(2024, 1, 3, 15, 0, tzinfo=UTC)

    bars = ib.reqHistoricalData(
        Stock("MSFT", "SMART", "USD"),
        endDateTime=end,
        durationStr="2 D",
        barSizeSetting="1 hour",
        whatToShow="TRADES",
        useRTH=False,
        formatDate=format_date,
    )

    expected = generate_bars("MSFT", "2d", "1h", end=end)
    assert [bar.date for bar in bars] == [datetime.fromisoformat(row["t"]) for row in expected]
    assert [bar.close for bar in bars] == [row["c"] for row in expected]


def test_it_knows_a_contract_by_conid_once_qualified(ib):
    ib.qualifyContracts(Stock("KO", "SMART", "USD"))
    by_conid = Contract(conId=conid_for("KO"))

    assert ib.qualifyContracts(by_conid) == [by_conid]
    assert by_conid.symbol == "KO"
    assert ib.qualifyContracts(Contract(conId=123)) == []


def test_it_answers_a_snapshot_with_bid_ask_and_last(gateway, ib):
    contract = Stock("AAPL", "SMART", "USD")
    ib.qualifyContracts(contract)

    [ticker] = ib.reqTickers(contract)

    assert ticker.bid < ticker.last < ticker.ask
    assert ticker.volume > 0
    assert abs(ticker.last - float(last_price("AAPL", gateway.clock.now()))) < ticker.last * 0.02
    assert MARKET_START < gateway.clock.now()
