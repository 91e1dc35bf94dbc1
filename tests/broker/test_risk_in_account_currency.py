"""Risk in the account's currency: a future's multiplier and the broker's exchange rate size and cap every trade.

Without them an E-mini (multiplier 50) would be sized as one share of a $5,000 stock, fifty times
the risk budget, and a pound-quoted ETF as if its pounds were dollars.
"""

from decimal import Decimal

import pytest

from broker.adapters.base import AccountSummary, BrokerPosition
from broker.contract_value import ExchangeRateUnknown, contract_multiplier, exposure, unit_value
from broker.risk import RiskConfig, check_caps, evaluate_trade, position_size

USD_ACCOUNT = AccountSummary(
    account_id="DU1",
    equity=Decimal("1000000"),
    cash=Decimal("1000000"),
    paper=True,
    currency="USD",
    exchange_rates={"GBP": Decimal("1.25"), "JPY": Decimal("0.0067")},
)
WIDE = RiskConfig(max_position_pct=Decimal("0.5"), max_exposure_pct=Decimal("5"), max_open_positions=100)


def test_a_future_is_sized_by_its_multiplier():
    per_point = unit_value(multiplier="50", currency="USD", account=USD_ACCOUNT)
    by_risk_alone = RiskConfig(max_position_pct=Decimal("5"))

    def size(config, **kwargs):
        return position_size(
            equity=USD_ACCOUNT.equity, price=Decimal("5000"), stop=Decimal("4980"), config=config, **kwargs
        )

    assert per_point == 50
    # 1 % of 1,000,000 at risk over a 20-point stop: 10,000 / (20 × 50) = 10 contracts; as shares, 500.
    assert size(by_risk_alone, unit_value=per_point) == 10
    assert size(by_risk_alone) == 500
    # A 50 % position cap allows 500,000 / (5000 × 50) = 2 contracts; as shares, 100.
    assert size(WIDE, unit_value=per_point) == 2
    assert size(WIDE) == 100


def test_the_verdict_of_a_future_states_its_risk_in_dollars():
    verdict = evaluate_trade(
        side="buy",
        price=Decimal("5000"),
        target=Decimal("5300"),
        stop=Decimal("4990"),
        equity=USD_ACCOUNT.equity,
        exposure=Decimal("0"),
        open_positions=0,
        config=RiskConfig(max_position_pct=Decimal("1"), max_exposure_pct=Decimal("5")),
        unit_value=Decimal("50"),
    )

    # 10,000 at risk over 10 points × 50 = 20 contracts; cap 1,000,000 / 250,000 = 4.
    assert verdict.approved, verdict.reasons
    assert verdict.quantity == 4
    assert verdict.risk_amount == Decimal("2000.00")  # 4 contracts × 10 points × 50
    assert verdict.exposure_after_pct == Decimal("1.0000")  # 4 × 5000 × 50 = the whole equity


def test_a_pound_quoted_etf_is_capped_at_the_brokers_rate():
    rate = unit_value(multiplier="", currency="GBP", account=USD_ACCOUNT)
    config = RiskConfig(max_position_pct=Decimal("0.10"))

    quantity = position_size(
        equity=Decimal("100000"), price=Decimal("100"), stop=Decimal("95"), config=config, unit_value=rate
    )

    # The 10 % cap is $10,000: 80 shares at £100 × 1.25, where dollars-as-pounds would allow 100.
    assert rate == Decimal("1.25")
    assert quantity == 80


def test_a_fixed_quantity_of_futures_passes_the_caps_in_contract_value():
    caps = check_caps(
        quantity=3,
        price=Decimal("5000"),
        equity=Decimal("1000000"),
        exposure=Decimal("0"),
        open_positions=0,
        config=RiskConfig(),
        unit_value=Decimal("50"),
    )

    assert caps.reasons == [
        "3 shares at 5000.00 are worth 750000.00, 75.0% of equity 1000000.00, above the position cap of 10%"
    ]


def test_exposure_adds_positions_in_the_accounts_currency():
    positions = [
        BrokerPosition(conid=1, symbol="ES", quantity=Decimal("-1"), average_cost=Decimal("5000"), multiplier="50"),
        BrokerPosition(conid=2, symbol="VWRL", quantity=Decimal("10"), average_cost=Decimal("100"), currency="GBP"),
        BrokerPosition(conid=3, symbol="AAPL", quantity=Decimal("5"), average_cost=Decimal("200")),
    ]

    assert exposure(positions, USD_ACCOUNT) == Decimal("250000") + Decimal("1250") + Decimal("1000")


def test_a_currency_without_a_broker_rate_is_refused_not_guessed():
    with pytest.raises(ExchangeRateUnknown, match="no exchange rate from CHF to the account's USD"):
        unit_value(multiplier="", currency="CHF", account=USD_ACCOUNT)


@pytest.mark.parametrize(("text", "expected"), [("", Decimal("1")), ("0", Decimal("1")), ("50", Decimal("50"))])
def test_a_blank_or_zero_multiplier_means_one(text, expected):
    assert contract_multiplier(text) == expected


@pytest.mark.parametrize("text", ["fifty", "-5", "NaN"])
def test_a_malformed_multiplier_is_a_clear_error(text):
    with pytest.raises(ValueError, match="multiplier"):
        contract_multiplier(text)
