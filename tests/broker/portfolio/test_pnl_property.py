"""For any sequence of fills, realized + unrealized P&L is the mark-to-market change of cash plus positions."""

from decimal import Decimal

from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from broker.models import Instrument, Position, Trade
from broker.portfolio import apply_fill, mark_to_market, realized_pnl
from tests.broker.conftest import usd_account
from tests.broker.portfolio.conftest import make_fill, make_order

cents = st.integers(min_value=1, max_value=50_000).map(lambda c: Decimal(c) / 100)
fills = st.tuples(
    st.sampled_from(["BUY", "SELL"]),
    st.integers(min_value=1, max_value=300),
    cents,
    st.integers(min_value=0, max_value=500).map(lambda c: Decimal(c) / 100),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=st.lists(fills, min_size=1, max_size=12), mark=cents)
def test_realized_plus_unrealized_equals_the_change_of_cash_plus_positions(alice, sequence, mark):
    with transaction.atomic():
        instrument = Instrument.objects.create(symbol="PROP", conid=999001)
        cash = Decimal("0")
        for minute, (side, quantity, price, commission) in enumerate(sequence):
            apply_fill(
                make_order(alice, instrument, side, quantity), make_fill(quantity, price, commission, minutes=minute)
            )
            cash += (-quantity if side == "BUY" else quantity) * price - commission
        mark_to_market(alice, {instrument.conid: mark})

        position = Position.objects.get(owner=alice, instrument=instrument)
        shares = sum(q if side == "BUY" else -q for side, q, _, _ in sequence)
        assert position.quantity == shares
        assert realized_pnl(alice, usd_account()) + position.unrealized_pnl == cash + shares * mark
        assert Trade.objects.filter(owner=alice, exit_at__isnull=True).count() == (1 if shares else 0)
        transaction.set_rollback(True)
