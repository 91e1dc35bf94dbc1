"""Manual orders (POST /api/orders/) with any payload: a refusal is a 4xx naming the fields (or the
reason) and leaves no order, fill, position or broker-side order behind; nothing answers 5xx."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.models import Fill, Order, Position, SimulatedExecution, SimulatedOrder, Trade
from tests.tradingweb.fuzz.conftest import FUZZ
from tests.tradingweb.fuzz.strategies import json_values

# Qualified instruments are shared reference data cached on first lookup, so they are not counted.
ORDER_ROWS = (Order, Fill, Position, Trade, SimulatedOrder, SimulatedExecution)
FIELD_VALUES = {
    "symbol": st.sampled_from(["AAPL", "ZZAL", "aapl ", "", "NOSUCHSYMBOL", "A" * 40]) | json_values,
    "conid": st.integers(min_value=-5, max_value=10**12) | json_values,
    "side": st.sampled_from(["BUY", "SELL", "buy", "HOLD", ""]) | json_values,
    "quantity": st.sampled_from(["1", "10", "0", "-5", "1.5", "1e9", "NaN", "Infinity", "99999999999999999999"])
    | json_values,
    "price": st.sampled_from(["100.25", "0", "-1", "1e-9", "NaN", None, "12345678901234567890.1"]) | json_values,
    "order_type": st.sampled_from(["LMT", "MKT", "lmt", "STP", ""]) | json_values,
    "tif": st.sampled_from(["DAY", "GTC", "IOC", ""]) | json_values,
    "idempotency_key": st.sampled_from(["", "k1", "k" * 200]) | json_values,
}
payloads = st.fixed_dictionaries({}, optional=FIELD_VALUES) | json_values


def row_counts():
    return [model.objects.count() for model in ORDER_ROWS]


@pytest.mark.django_db
@FUZZ
@given(payload=payloads)
def test_a_refused_order_is_a_4xx_with_its_reasons_and_changes_nothing(alice_api, alice_world, payload):
    before = row_counts()
    response = alice_api.post("/api/orders/", payload, format="json")
    assert response.status_code < 500, response.content
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body, dict) and body, response.content
        assert row_counts() == before
    else:
        assert response.status_code == 201
        assert Order.objects.count() == before[0] + 1
