"""A backtest's ledger charges its own commission and slippage, on an account nothing else uses."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from broker.adapters import OrderRequest
from broker.simulation import SimulatedExchange

pytestmark = pytest.mark.django_db
MONDAY_NOON = datetime(2024, 3, 4, 12, 0, tzinfo=UTC)


def market_buy(exchange: SimulatedExchange, quantity: int):
    info = exchange.qualify("AAPL")
    request = OrderRequest(conid=info.conid, symbol="AAPL", side="BUY", quantity=Decimal(quantity), order_type="MKT",
                           limit_price=None, tif="DAY", order_ref=f"{exchange.account_id}-buy")  # fmt: skip
    placed = exchange.place_order(request, now=MONDAY_NOON)
    return exchange.order_status(placed.broker_order_id, now=datetime(2024, 3, 4, 13, 0, tzinfo=UTC))


def test_slippage_moves_a_market_fill_against_the_order_and_commission_is_per_share():
    plain = SimulatedExchange(account_id="BT-PLAIN", starting_cash=Decimal("50000"), commission_per_share=Decimal("0"))
    costly = SimulatedExchange(account_id="BT-COSTLY", starting_cash=Decimal("50000"),
                               commission_per_share=Decimal("0.01"), slippage_bps=Decimal("10"))  # fmt: skip
    free_fill, costly_fill = market_buy(plain, 10), market_buy(costly, 10)
    assert free_fill.status == costly_fill.status == "filled"
    expected = (free_fill.avg_fill_price * Decimal("1.001")).quantize(Decimal("0.01"))
    assert costly_fill.avg_fill_price == expected
    assert sum(fill.commission for fill in costly_fill.fills) == Decimal("0.10")
    assert sum(fill.commission for fill in free_fill.fills) == 0
    assert plain.account().starting_cash == Decimal("50000")
    assert plain.account().cash == Decimal("50000") - 10 * free_fill.avg_fill_price
