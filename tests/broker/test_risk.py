"""The risk arithmetic of DESIGN.md §5, checked on examples and as properties."""

import math
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broker.models import RiskLimits
from broker.risk import (
    RiskConfig,
    consecutive_losses,
    evaluate_trade,
    loss_streak_alert,
    position_size,
)

prices = st.decimals(min_value="1", max_value="5000", places=2)
fractions = st.decimals(min_value="0.01", max_value="0.5", places=2)
equities = st.decimals(min_value="1000", max_value="10000000", places=2)
LOOSE = RiskConfig(
    min_r_coefficient=Decimal("0"),
    min_profit_margin=Decimal("0"),
    max_exposure_pct=Decimal("100"),
    max_open_positions=1000,
)


def evaluate(**overrides):
    arguments = {
        "side": "buy",
        "price": Decimal("100"),
        "target": Decimal("120"),
        "stop": Decimal("90"),
        "equity": Decimal("100000"),
        "exposure": Decimal("0"),
        "open_positions": 0,
        "config": RiskConfig(),
    }
    return evaluate_trade(**{**arguments, **overrides})


def test_a_sound_buy_is_approved_with_its_numbers():
    verdict = evaluate()

    assert verdict.approved, verdict.reasons
    assert verdict.r_coefficient == Decimal("2.0000")
    assert verdict.profit_margin == Decimal("0.2000")
    assert verdict.quantity == 100  # floor(100000 * 0.01 / 10) = 100, cap floor(10000 / 100) = 100
    assert verdict.risk_amount == Decimal("1000.00")
    assert verdict.exposure_after_pct == Decimal("0.1000")
    assert verdict.as_dict()["r_coefficient"] == "2.0000"


@given(price=prices, up=fractions, down=fractions)
def test_buy_r_is_reward_over_risk(price, up, down):
    target, stop = price * (1 + up), price * (1 - down)
    verdict = evaluate(price=price, target=target, stop=stop, config=LOOSE)
    expected = ((target - price) / (price - stop)).quantize(Decimal("0.0001"), ROUND_HALF_UP)
    assert verdict.r_coefficient == expected > 0


@given(price=prices, up=fractions, down=fractions)
def test_sell_r_is_reward_over_risk(price, up, down):
    target, stop = price * (1 - down), price * (1 + up)
    verdict = evaluate(side="sell", price=price, target=target, stop=stop, config=LOOSE)
    expected = ((price - target) / (stop - price)).quantize(Decimal("0.0001"), ROUND_HALF_UP)
    assert verdict.r_coefficient == expected > 0


@given(side=st.sampled_from(["buy", "sell"]), price=prices, a=fractions, b=fractions)
def test_levels_on_the_wrong_side_are_rejected_not_given_a_negative_r(side, price, a, b):
    # For a buy: target below and stop above the price; for a sell the mirror image.
    target, stop = (price * (1 - a), price * (1 + b)) if side == "buy" else (price * (1 + a), price * (1 - b))
    verdict = evaluate(side=side, price=price, target=target, stop=stop, config=LOOSE)
    assert not verdict.approved
    assert verdict.r_coefficient is None
    assert "Inconsistent levels" in verdict.reasons[-1]


def test_without_a_stop_it_uses_two_atr():
    buy = evaluate(stop=None, atr=Decimal("4"))
    sell = evaluate(side="sell", target=Decimal("80"), stop=None, atr=Decimal("4"))

    assert buy.stop == Decimal("92.00") and sell.stop == Decimal("108.00")
    assert any("ATR" in warning for warning in buy.warnings)
    assert not evaluate(stop=None).approved  # neither stop nor ATR


@given(equity=equities, price=prices, distance=fractions, risk=fractions, cap=fractions)
def test_size_is_risk_over_stop_distance_within_one_and_the_position_cap(equity, price, distance, risk, cap):
    stop = price * (1 - distance)
    config = RiskConfig(risk_per_trade=risk / 10, max_position_pct=cap)
    quantity = position_size(equity=equity, price=price, stop=stop, config=config)
    ceiling = math.floor(equity * cap / price)
    by_risk = math.floor(equity * risk / 10 / (price - stop))
    assert quantity == min(max(by_risk, 1), ceiling)
    assert quantity * price <= equity * cap
    if ceiling >= 1:
        assert quantity >= 1


def test_a_share_above_the_position_cap_is_rejected():
    verdict = evaluate(price=Decimal("5000"), target=Decimal("6000"), stop=Decimal("4500"), equity=Decimal("10000"))
    assert not verdict.approved and verdict.quantity == 0
    assert any("position cap" in reason for reason in verdict.reasons)


@given(exposure_pct=st.decimals(min_value="0", max_value="1.5", places=3))
def test_exposure_above_the_limit_is_rejected_and_above_75_percent_is_flagged(exposure_pct):
    verdict = evaluate(exposure=Decimal("100000") * exposure_pct)
    after = exposure_pct + Decimal("0.1")
    assert verdict.exposure_after_pct == after.quantize(Decimal("0.0001"), ROUND_HALF_UP)
    assert verdict.approved == (after <= Decimal("0.90"))
    assert any("75%" in warning for warning in verdict.warnings) == (Decimal("0.75") < after <= Decimal("0.90"))


def test_open_positions_may_not_exceed_the_maximum():
    assert evaluate(open_positions=9).approved
    rejected = evaluate(open_positions=10)
    assert not rejected.approved and "maximum is 10" in rejected.reasons[0]


def test_low_r_and_thin_margins_are_rejected():
    verdict = evaluate(target=Decimal("104"), stop=Decimal("90"))
    assert not verdict.approved
    assert any("R coefficient" in reason for reason in verdict.reasons)
    assert any("Profit margin" in reason for reason in verdict.reasons)


@given(side=st.sampled_from(["buy", "sell"]), price=prices, a=fractions, b=fractions)
def test_the_kill_switch_blocks_every_order(side, price, a, b):
    target, stop = (price * (1 + a), price * (1 - b)) if side == "buy" else (price * (1 - a), price * (1 + b))
    verdict = evaluate(side=side, price=price, target=target, stop=stop, config=LOOSE, kill_switch=True)
    assert not verdict.approved
    assert "Kill switch" in verdict.reasons[0]


def test_hold_places_nothing():
    verdict = evaluate(side="hold")
    assert not verdict.approved and verdict.quantity == 0


@settings(max_examples=50)
@given(
    config=st.builds(
        RiskConfig,
        min_r_coefficient=st.decimals("0", "5", places=2),
        risk_per_trade=st.decimals("0", "0.1", places=3),
        max_position_pct=st.decimals("0", "1", places=2),
        max_exposure_pct=st.decimals("0", "1", places=2),
        max_open_positions=st.integers(0, 50),
    ),
    caps=st.tuples(
        st.decimals("0", "5", places=2),
        st.decimals("0", "0.1", places=3),
        st.decimals("0", "1", places=2),
        st.decimals("0", "1", places=2),
        st.integers(0, 50),
    ),
)
def test_global_caps_only_tighten(config, caps):
    limits = RiskLimits(
        min_r_coefficient=caps[0],
        risk_per_trade=caps[1],
        max_position_pct=caps[2],
        max_exposure_pct=caps[3],
        max_open_positions=caps[4],
    )
    capped = config.capped_by(limits)
    assert capped.min_r_coefficient >= config.min_r_coefficient
    assert capped.risk_per_trade <= min(config.risk_per_trade, limits.risk_per_trade)
    assert capped.max_position_pct <= min(config.max_position_pct, limits.max_position_pct)
    assert capped.max_exposure_pct <= min(config.max_exposure_pct, limits.max_exposure_pct)
    assert capped.max_open_positions <= min(config.max_open_positions, limits.max_open_positions)
    assert capped.min_profit_margin == config.min_profit_margin


def test_config_reads_a_step_config():
    config = RiskConfig.from_dict({"min_r_coefficient": "1.5", "max_open_positions": "4", "unrelated": 1})
    assert config.min_r_coefficient == Decimal("1.5") and config.max_open_positions == 4
    assert config.risk_per_trade == Decimal("0.01")


@pytest.mark.parametrize(
    ("pnls", "streak", "alert"),
    [
        ([], 0, False),
        ([Decimal("5"), Decimal("-1"), Decimal("-2"), Decimal("-3")], 3, False),
        ([Decimal("-1")] * 4, 4, True),
        ([Decimal("-1"), Decimal("-1"), Decimal("-1"), Decimal("-1"), Decimal("0")], 0, False),
    ],
)
def test_more_than_three_losses_in_a_row_raise_an_alert(pnls, streak, alert):
    assert consecutive_losses(pnls) == streak
    assert loss_streak_alert(pnls) is alert
