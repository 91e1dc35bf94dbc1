"""Risk arithmetic (DESIGN.md §5): pure functions, Decimal in and out.

"price" is the market reference (broker.marketdata.MarketReference), never a number a model wrote;
the model's own price is only checked against it (`price_deviation_error`).
buy needs stop < price < target, R = (target - price) / (price - stop);
sell needs target < price < stop, R = (price - target) / (stop - price).
Levels on the wrong side are rejected as inconsistent, never turned into a negative R.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from broker.models import RiskLimits

ATR_STOP_MULTIPLE = Decimal("2")
EXPOSURE_WARNING_PCT = Decimal("0.75")
LOSS_STREAK_ALERT = 3  # alert after MORE than this many consecutive losing trades
RATIO = Decimal("0.0001")
CENT = Decimal("0.01")
SUB_DOLLAR_TICK = Decimal("0.0001")  # prices below $1 trade in hundredths of a cent
BASIS_POINT = Decimal("0.0001")
ONE = Decimal("1")


def price_text(value: Decimal) -> str:
    """A price as a trader writes it: cents from $1 up, more places below."""
    if abs(value) >= 1:
        return f"{value.quantize(CENT, ROUND_HALF_UP)}"
    return f"{value.quantize(SUB_DOLLAR_TICK, ROUND_HALF_UP).normalize():f}"


def _decimal(value, name: str) -> Decimal | None:
    if value is None:
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except ArithmeticError:
        raise ValueError(f"{name} is not a number: {value!r}") from None
    if not number.is_finite():
        raise ValueError(f"{name} is not a finite number: {value!r}")
    return number


@dataclass(frozen=True)
class RiskConfig:
    min_r_coefficient: Decimal = Decimal("1.0")
    min_profit_margin: Decimal = Decimal("0.05")
    risk_per_trade: Decimal = Decimal("0.01")
    max_position_pct: Decimal = Decimal("0.10")
    max_exposure_pct: Decimal = Decimal("0.90")
    max_open_positions: int = 10
    max_price_deviation: Decimal = Decimal("0.01")  # how far the model's price may be from the market

    @classmethod
    def from_dict(cls, values: dict) -> RiskConfig:
        """A config from a step's config dict (unknown keys ignored, missing ones default)."""
        known = {f.name: f for f in fields(cls)}
        converted = {}
        for name, value in values.items():
            if name not in known or value is None:
                continue
            converted[name] = int(value) if name == "max_open_positions" else _decimal(value, name)
        return cls(**converted)

    def capped_by(self, limits: RiskLimits) -> RiskConfig:
        """This config tightened by the staff's global caps; caps never loosen anything."""
        return replace(
            self,
            min_r_coefficient=max(self.min_r_coefficient, limits.min_r_coefficient),
            risk_per_trade=min(self.risk_per_trade, limits.risk_per_trade),
            max_position_pct=min(self.max_position_pct, limits.max_position_pct),
            max_exposure_pct=min(self.max_exposure_pct, limits.max_exposure_pct),
            max_open_positions=min(self.max_open_positions, limits.max_open_positions),
            max_price_deviation=min(self.max_price_deviation, limits.max_price_deviation),
        )


@dataclass(frozen=True)
class RiskVerdict:
    approved: bool
    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    r_coefficient: Decimal | None = None
    profit_margin: Decimal | None = None
    stop: Decimal | None = None
    quantity: int = 0
    risk_amount: Decimal | None = None
    exposure_after_pct: Decimal | None = None

    def as_dict(self) -> dict:
        """JSON-safe: Decimals as strings so no precision is lost."""
        return {
            f.name: str(value) if isinstance(value, Decimal) else value
            for f in fields(self)
            for value in [getattr(self, f.name)]
        }


def levels_error(side: str, price: Decimal, target: Decimal, stop: Decimal) -> str:
    """Why the levels do not fit the side around the market price (empty when they do)."""
    if stop <= 0 or target <= 0:
        return f"Stop and target must be positive, got stop {stop}, target {target}"
    got = f"got stop {price_text(stop)}, market {price_text(price)}, target {price_text(target)}"
    if side == "buy" and not stop < price < target:
        return f"Inconsistent levels for a buy: need stop < market price < target, {got}"
    if side == "sell" and not target < price < stop:
        return f"Inconsistent levels for a sell: need target < market price < stop, {got}"
    return ""


def price_deviation_error(model_price: Decimal | None, market: Decimal, tolerance: Decimal) -> str:
    """Why the model's price cannot be trusted next to the market's (empty when within `tolerance`)."""
    if model_price is None or model_price <= 0:
        shown = "missing" if model_price is None else price_text(model_price)
        return f"The model's price {shown} is not a price; the market is {price_text(market)}"
    deviation = (model_price - market) / market
    if abs(deviation) <= tolerance:
        return ""
    direction = "above" if deviation > 0 else "below"
    return (
        f"The model's price {price_text(model_price)} is {abs(deviation) * 100:.1f} % {direction} "
        f"the market {price_text(market)} (tolerance {tolerance * 100:.1f} %)"
    )


def entry_limit(side: str, market: Decimal, allowance_bps: Decimal) -> Decimal:
    """A limit entry at the market price plus (buy) or minus (sell) an allowance in basis points.

    Rounded to the tick toward the market, so the limit never gives away more than the allowance.
    """
    allowance = Decimal(str(allowance_bps)) * BASIS_POINT
    tick = CENT if market >= 1 else SUB_DOLLAR_TICK
    if side == "buy":
        limit = (market * (1 + allowance)).quantize(tick, ROUND_FLOOR)
    else:
        limit = (market * (1 - allowance)).quantize(tick, ROUND_CEILING)
    return max(limit, tick)


def r_coefficient(side: str, price: Decimal, target: Decimal, stop: Decimal) -> Decimal:
    """Reward over risk for levels already known to be consistent."""
    if side == "buy":
        return (target - price) / (price - stop)
    return (price - target) / (stop - price)


def atr_stop(side: str, price: Decimal, atr: Decimal) -> Decimal:
    """Stop at 2 × ATR(14) below a buy's price or above a sell's."""
    offset = ATR_STOP_MULTIPLE * atr
    return price - offset if side == "buy" else price + offset


def position_size(
    *, equity: Decimal, price: Decimal, stop: Decimal, config: RiskConfig, unit_value: Decimal = ONE
) -> int:
    """floor(equity × risk_per_trade / (|price − stop| × unit_value)), at least 1, at most
    floor(equity × max_position_pct / (price × unit_value)).

    `unit_value` is what a move of 1 in the price of one contract is worth in the account's currency
    (broker.contract_value: multiplier × exchange rate). 0 only when even one contract would exceed the cap.
    """
    cap = int((equity * config.max_position_pct / (price * unit_value)).to_integral_value(ROUND_FLOOR))
    by_risk = int((equity * config.risk_per_trade / (abs(price - stop) * unit_value)).to_integral_value(ROUND_FLOOR))
    return min(max(by_risk, 1), cap)


def evaluate_trade(
    *,
    side: str,
    price,
    target,
    stop,
    atr=None,
    equity,
    exposure,
    open_positions: int,
    config: RiskConfig,
    kill_switch: bool = False,
    model_price=None,
    unit_value: Decimal = ONE,
) -> RiskVerdict:
    """Approve or reject one proposed trade, with every reason and the size it may have.

    `price` is the market reference; every number is computed from it. `model_price`, the price
    the model wrote, is only compared with it: beyond config.max_price_deviation the trade is
    rejected naming both. `exposure` is the market value already held (absolute); the new order
    adds quantity × price × unit_value (the account-currency worth of a price move of 1 per contract:
    multiplier × exchange rate, see broker.contract_value), all in the account's currency. Rejected
    when the exposure after the order would exceed max_exposure_pct of equity, or when the new
    position would take the count of open positions past max_open_positions.
    """
    side = (side or "").lower()
    if side not in ("buy", "sell", "hold"):
        return RiskVerdict(approved=False, reasons=[f"Unknown side {side!r}: expected buy, sell or hold"])
    if side == "hold":
        return RiskVerdict(approved=False, reasons=["HOLD: there is nothing to place"])
    price, target, stop = _decimal(price, "price"), _decimal(target, "target"), _decimal(stop, "stop")
    atr, equity, exposure = _decimal(atr, "atr"), _decimal(equity, "equity"), _decimal(exposure, "exposure") or 0
    reasons, warnings = [], []
    if kill_switch:
        reasons.append("Kill switch is on: every order is blocked")
    if price is None or price <= 0:
        return RiskVerdict(approved=False, reasons=[*reasons, f"Price must be positive, got {price}"])
    model_price = _decimal(model_price, "model_price")
    if model_price is not None:
        deviation = price_deviation_error(model_price, price, config.max_price_deviation)
        if deviation:
            reasons.append(deviation)
    if equity is None or equity <= 0:
        return RiskVerdict(approved=False, reasons=[*reasons, f"Equity must be positive, got {equity}"])
    if target is None:
        return RiskVerdict(approved=False, reasons=[*reasons, "No target price"])
    if stop is None:
        if atr is None or atr <= 0:
            return RiskVerdict(approved=False, reasons=[*reasons, "No stop loss and no ATR(14) to derive one"])
        stop = atr_stop(side, price, atr).quantize(CENT, ROUND_HALF_UP)
        warnings.append(f"No stop loss given: using 2 × ATR(14) = {stop}")
    inconsistent = levels_error(side, price, target, stop)
    if inconsistent:
        return RiskVerdict(approved=False, reasons=[*reasons, inconsistent], warnings=warnings, stop=stop)

    r_value = r_coefficient(side, price, target, stop).quantize(RATIO, ROUND_HALF_UP)
    margin = (abs(target - price) / price).quantize(RATIO, ROUND_HALF_UP)
    if r_value < config.min_r_coefficient:
        reasons.append(f"R coefficient {r_value} is below the minimum {config.min_r_coefficient}")
    if margin < config.min_profit_margin:
        reasons.append(f"Profit margin {margin:.2%} is below the minimum {config.min_profit_margin:.2%}")
    quantity = position_size(equity=equity, price=price, stop=stop, config=config, unit_value=unit_value)
    if quantity < 1:
        reasons.append(
            f"One share at {price_text(price)} exceeds the position cap of {config.max_position_pct:.0%} of equity"
        )
    caps = check_caps(
        quantity=quantity,
        price=price,
        equity=equity,
        exposure=exposure,
        open_positions=open_positions,
        config=config,
        sized=True,
        unit_value=unit_value,
    )
    reasons += caps.reasons
    warnings += caps.warnings
    exposure_after = caps.exposure_after_pct
    return RiskVerdict(
        approved=not reasons,
        reasons=reasons,
        warnings=warnings,
        r_coefficient=r_value,
        profit_margin=margin,
        stop=stop,
        quantity=quantity,
        risk_amount=(quantity * abs(price - stop) * unit_value).quantize(CENT, ROUND_HALF_UP),
        exposure_after_pct=exposure_after,
    )


@dataclass(frozen=True)
class CapCheck:
    reasons: list[str]
    warnings: list[str]
    exposure_after_pct: Decimal


def check_caps(
    *,
    quantity,
    price: Decimal,
    equity: Decimal,
    exposure: Decimal,
    open_positions: int,
    config: RiskConfig,
    sized: bool = False,
    unit_value: Decimal = ONE,
) -> CapCheck:
    """The caps every order passes, sized by the risk rules (`sized`, already within the position cap) or fixed.

    The position stays within max_position_pct of equity, the exposure after the order within
    max_exposure_pct, and the new position may not take the open positions past max_open_positions.
    Values are quantity × price × unit_value, in the account's currency.
    """
    quantity = Decimal(quantity)
    reasons, warnings = [], []
    value = quantity * price * unit_value
    if not sized and value > equity * config.max_position_pct:
        reasons.append(
            f"{quantity.normalize():f} shares at {price_text(price)} are worth {value:.2f}, "
            f"{value / equity:.1%} of equity {equity:.2f}, above the position cap of {config.max_position_pct:.0%}"
        )
    exposure_after = ((exposure + value) / equity).quantize(RATIO, ROUND_HALF_UP)
    if exposure_after > config.max_exposure_pct:
        reasons.append(f"Exposure after the order would be {exposure_after:.1%}, above {config.max_exposure_pct:.0%}")
    elif exposure_after > EXPOSURE_WARNING_PCT:
        warnings.append(f"Exposure after the order would be {exposure_after:.1%}, above {EXPOSURE_WARNING_PCT:.0%}")
    if open_positions + 1 > config.max_open_positions:
        reasons.append(f"{open_positions} positions are open; the maximum is {config.max_open_positions}")
    return CapCheck(reasons=reasons, warnings=warnings, exposure_after_pct=exposure_after)


def consecutive_losses(pnls: list[Decimal]) -> int:
    """Losing trades in a row at the end of `pnls` (oldest first); a break-even trade ends the streak."""
    streak = 0
    for pnl in reversed(pnls):
        if pnl >= 0:
            break
        streak += 1
    return streak


def loss_streak_alert(pnls: list[Decimal]) -> bool:
    """True after more than three consecutive losing trades."""
    return consecutive_losses(pnls) > LOSS_STREAK_ALERT
