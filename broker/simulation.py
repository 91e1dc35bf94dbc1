"""The simulated exchange: deterministic price paths and a paper matching engine.

Price paths. Every symbol has a profile derived from its name (price level, volatility,
growth, typical volume) and a seeded random walk of business days starting at ORIGIN:
regime-switching drift and volatility per block of BLOCK_DAYS days, occasional jumps that
show up as opening gaps, and a slow pull back to the symbol's growth line so prices stay
plausible over decades. Each business day is then filled with a one-minute path (a Brownian
bridge from that day's open to its close), and every bar size is aggregated from those
minutes, so a daily bar's high is the highest minute of that day and a limit order fills
exactly when the minute bars say it should. The simulated market trades 24 hours on
weekdays (UTC) and is closed on weekends; bars end at the last bar completed before `end`,
so repeated calls within one bar agree.

Matching. `SimulatedExchange` keeps its book (account cash, orders, executions,
positions) in the broker app's Simulated* tables, so it survives restarts and every worker
process sees one book; each change locks the account row. Orders are matched against the
one-minute bars completed since they were placed: market orders at the next bar's open,
limit orders when the bar trades through the limit (at the open when it gaps through), and
at most LIQUIDITY_FRACTION of a bar's volume per bar, so large orders fill over several bars.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from functools import lru_cache

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from scipy.signal import lfilter

from broker.adapters.base import (
    AccountSummary,
    AmbiguousContract,
    BrokerPosition,
    ContractInfo,
    ContractSpec,
    FillInfo,
    OrderRequest,
    OrderState,
    PermanentBrokerError,
    Quote,
)
from broker.contract_value import contract_multiplier
from broker.listings import (
    conid_for,
    contract_terms,
    exchange_rates,
    find_listings,
    is_future,
    listed_symbols,
    listing_by_conid,
    reference_level,
    symbol_hash,
)
from broker.models import Order, SimulatedAccount, SimulatedExecution, SimulatedOrder, SimulatedPosition
from broker.timeframes import INTRADAY_BARS, floor_to_bar, is_intraday, period_start

ORIGIN = np.datetime64("2012-01-02", "D")  # a Monday: business day 0 of every price walk
BLOCK_DAYS = 64
MINUTES_PER_DAY = 1440
MEAN_REVERSION = 0.004  # per day; half-life about six months, keeps levels plausible
JUMP_PROBABILITY = 0.03
LIQUIDITY_FRACTION = Decimal("0.10")  # share of one minute bar's volume an order may take
MAX_BARS = 50_000
EXCHANGE = "SIMX"
DEFAULT_ACCOUNT_ID = "DUSIM0001"

SYMBOL_PATTERN = re.compile(r"[A-Z][A-Z0-9.\-]{0,11}")
CENT = Decimal("0.01")
MONEY_PLACES = Decimal("0.0001")
FUTURE_INITIAL_MARGIN = Decimal("0.06")  # about CME's E-mini margin, as a share of the notional


# --- symbols -------------------------------------------------------------------------


def normalize_symbol(symbol: str) -> str:
    """Upper-case ticker, or PermanentBrokerError (code 200, as IBKR says) when it cannot be one."""
    cleaned = (symbol or "").strip().upper()
    if not SYMBOL_PATTERN.fullmatch(cleaned):
        raise PermanentBrokerError(f"No security definition has been found for the request: {symbol!r}", code=200)
    return cleaned


_symbol_hash = symbol_hash


@dataclass(frozen=True)
class SymbolProfile:
    base_price: float
    annual_vol: float
    annual_growth: float
    daily_volume: float

    @property
    def daily_vol(self) -> float:
        return self.annual_vol / math.sqrt(252)


def symbol_profile(symbol: str) -> SymbolProfile:
    """Character of a symbol, derived from its name only (the seed changes the path, not the character).

    FX pairs and E-minis keep to their level of broker.listings, without a trend.
    """
    fractions = np.random.default_rng(_symbol_hash(symbol)).random(4)
    reference = reference_level(symbol.upper())
    if reference is not None:
        level, annual_vol = reference
        return SymbolProfile(
            base_price=level, annual_vol=annual_vol, annual_growth=0.0, daily_volume=float(3e6 + fractions[3] * 3e6)
        )
    return SymbolProfile(
        base_price=float(np.exp(np.log(8) + fractions[0] * (np.log(600) - np.log(8)))),
        annual_vol=float(0.15 + fractions[1] * 0.35),
        annual_growth=float(-0.03 + fractions[2] * 0.18),
        daily_volume=float(np.exp(np.log(3e5) + fractions[3] * (np.log(3e7) - np.log(3e5)))),
    )


# --- the daily walk and the minute paths ------------------------------------------------


@lru_cache(maxsize=128)
def _daily_walk(symbol: str, seed: int, n_blocks: int) -> dict[str, np.ndarray]:
    """Log open/close, volume target and intraday volatility for business days 0..n_blocks*BLOCK_DAYS."""
    profile = symbol_profile(symbol)
    sym = _symbol_hash(symbol)
    shocks, gaps, vols = [], [], []
    for block in range(n_blocks):
        rng = np.random.default_rng([seed, sym, block])
        drift = rng.normal(0.0, profile.daily_vol * 0.03)
        vol = profile.daily_vol * float(np.exp(rng.normal(0.0, 0.25)))
        eps = rng.standard_normal(BLOCK_DAYS)
        jumps = (rng.random(BLOCK_DAYS) < JUMP_PROBABILITY) * rng.normal(0.0, 3 * vol, BLOCK_DAYS)
        gap_noise = rng.normal(0.0, 0.25 * vol, BLOCK_DAYS)
        shocks.append(drift + vol * eps + jumps)
        gaps.append(jumps + gap_noise)
        vols.append(np.full(BLOCK_DAYS, vol))
    shock = np.concatenate(shocks)
    deviation = lfilter([1.0], [1.0, -(1.0 - MEAN_REVERSION)], shock)
    days = np.arange(shock.size)
    log_close = np.log(profile.base_price) + profile.annual_growth * days / 252 + deviation
    previous_close = np.concatenate([[np.log(profile.base_price)], log_close[:-1]])
    vol = np.concatenate(vols)
    volume_noise = np.random.default_rng([seed, sym, 1 << 40]).normal(0.0, 0.3, shock.size)
    volume = profile.daily_volume * np.exp(volume_noise) * (0.6 + 0.4 * np.abs(shock) / vol)
    return {
        "log_open": previous_close + np.concatenate(gaps),
        "log_close": log_close,
        "volume": volume,
        "intraday_vol": 0.7 * vol,
    }


@lru_cache(maxsize=6)
def _minute_block(symbol: str, seed: int, block: int) -> dict[str, np.ndarray]:
    """One-minute OHLCV of every day in one block, arrays shaped (BLOCK_DAYS, MINUTES_PER_DAY)."""
    walk = _daily_walk(symbol, seed, block + 1)
    days = slice(block * BLOCK_DAYS, (block + 1) * BLOCK_DAYS)
    log_open = walk["log_open"][days][:, None]
    log_close = walk["log_close"][days][:, None]
    minute_vol = (walk["intraday_vol"][days] / math.sqrt(MINUTES_PER_DAY))[:, None]
    rng = np.random.default_rng([seed, _symbol_hash(symbol), block, 1])
    shape = (BLOCK_DAYS, MINUTES_PER_DAY)
    walk_noise = np.cumsum(rng.standard_normal(shape) * minute_vol, axis=1)
    elapsed = np.arange(1, MINUTES_PER_DAY + 1) / MINUTES_PER_DAY
    path = log_open + (log_close - log_open) * elapsed + walk_noise - walk_noise[:, -1:] * elapsed
    opens = np.concatenate([log_open, path[:, :-1]], axis=1)
    wick_up = np.abs(rng.standard_normal(shape)) * minute_vol * 0.4
    wick_down = np.abs(rng.standard_normal(shape)) * minute_vol * 0.4
    moves = np.abs(path - opens) / minute_vol
    weights = rng.gamma(2.0, 1.0, shape) * (1.0 + moves)
    volume = np.maximum(np.round(walk["volume"][days][:, None] * weights / weights.sum(axis=1, keepdims=True)), 1)
    return {
        "o": np.round(np.exp(opens), 2),
        "h": np.round(np.exp(np.maximum(opens, path) + wick_up), 2),
        "l": np.round(np.exp(np.minimum(opens, path) - wick_down), 2),
        "c": np.round(np.exp(path), 2),
        "v": volume,
    }


@lru_cache(maxsize=4096)
def _daily_block(symbol: str, seed: int, block: int) -> dict[str, np.ndarray]:
    """Daily OHLCV of one block, reduced from its minutes."""
    minutes = _minute_block(symbol, seed, block)
    return {
        "o": minutes["o"][:, 0].copy(),
        "h": minutes["h"].max(axis=1),
        "l": minutes["l"].min(axis=1),
        "c": minutes["c"][:, -1].copy(),
        "v": minutes["v"].sum(axis=1),
    }


def _day_index(day: np.datetime64) -> int:
    return int(np.busday_count(ORIGIN, day))


def _day_date(index: int) -> np.datetime64:
    return np.busday_offset(ORIGIN, index)


def _to_datetime(value: np.datetime64) -> datetime:
    return value.astype("datetime64[s]").astype(datetime).replace(tzinfo=UTC)


def _to_datetime64(value: datetime) -> np.datetime64:
    return np.datetime64(value.astimezone(UTC).replace(tzinfo=None), "m")


def _days_from_blocks(block_source, symbol: str, seed: int, first_day: int, last_day: int) -> dict[str, np.ndarray]:
    """Rows first_day..last_day (business-day indices) of per-block arrays, concatenated."""
    if first_day < 0:
        raise ValueError(f"The simulated market opens on {ORIGIN}; no data before it")
    parts = {key: [] for key in "ohlcv"}
    for block in range(first_day // BLOCK_DAYS, last_day // BLOCK_DAYS + 1):
        arrays = block_source(symbol, seed, block)
        lo = max(first_day - block * BLOCK_DAYS, 0)
        hi = min(last_day - block * BLOCK_DAYS, BLOCK_DAYS - 1) + 1
        for key in parts:
            parts[key].append(arrays[key][lo:hi])
    return {key: np.concatenate(value) for key, value in parts.items()}


def _minutes_of_days(symbol: str, seed: int, first_day: int, last_day: int) -> dict[str, np.ndarray]:
    """Minute arrays (n_days, 1440) for business days first_day..last_day inclusive."""
    return _days_from_blocks(_minute_block, symbol, seed, first_day, last_day)


def _daily_of_days(symbol: str, seed: int, first_day: int, last_day: int) -> dict[str, np.ndarray]:
    return _days_from_blocks(_daily_block, symbol, seed, first_day, last_day)


# --- bars ------------------------------------------------------------------------------------


def _bars_as_dicts(times: np.ndarray, data: dict[str, np.ndarray]) -> list[dict]:
    return [
        {
            "t": _to_datetime(t).isoformat(),
            "o": float(o),
            "h": float(h),
            "l": float(low),
            "c": float(c),
            "v": float(v),
        }
        for t, o, h, low, c, v in zip(times, data["o"], data["h"], data["l"], data["c"], data["v"], strict=True)
    ]


def _aggregate(groups: np.ndarray, data: dict[str, np.ndarray]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """OHLCV per consecutive group key (keys sorted ascending)."""
    keys, starts = np.unique(groups, return_index=True)
    ends = np.append(starts[1:], groups.size) - 1
    return keys, {
        "o": data["o"][starts],
        "h": np.maximum.reduceat(data["h"], starts),
        "l": np.minimum.reduceat(data["l"], starts),
        "c": data["c"][ends],
        "v": np.add.reduceat(data["v"], starts),
    }


def generate_bars(
    symbol: str, period: str, bar: str, *, seed: int | None = None, end: datetime | None = None
) -> list[dict]:
    """Deterministic OHLCV bars `{"t", "o", "h", "l", "c", "v"}`, oldest first, completed before `end`.

    Same symbol, seed and end bar → same bars. ValueError for unknown periods or bar sizes,
    or a request of more than MAX_BARS bars.
    """
    symbol = normalize_symbol(symbol)
    seed = settings.SIMULATED_SEED if seed is None else seed
    end = (end or timezone.now()).astimezone(UTC)
    start = floor_to_bar(period_start(end, period), bar)
    if is_intraday(bar):
        bar_minutes = INTRADAY_BARS[bar]
        if (end - start) / timedelta(minutes=bar_minutes) > MAX_BARS * 1.5:
            raise ValueError(f"{period} of {bar} bars is more than {MAX_BARS} bars; choose a shorter period")
        first_day = _day_index(np.datetime64(start.date(), "D"))
        last_day = _day_index(np.datetime64(end.date(), "D")) + int(np.is_busday(np.datetime64(end.date(), "D"))) - 1
        if last_day < first_day:
            return []
        minutes = _minutes_of_days(symbol, seed, first_day, last_day)
        n_days = last_day - first_day + 1
        per_day = MINUTES_PER_DAY // bar_minutes
        flat = {key: value.reshape(n_days * per_day, bar_minutes) for key, value in minutes.items()}
        data = {
            "o": flat["o"][:, 0],
            "h": flat["h"].max(axis=1),
            "l": flat["l"].min(axis=1),
            "c": flat["c"][:, -1],
            "v": flat["v"].sum(axis=1),
        }
        day_starts = np.array([_day_date(i) for i in range(first_day, last_day + 1)]).astype("datetime64[m]")
        times = (day_starts[:, None] + np.arange(per_day) * bar_minutes).ravel()
        step = np.timedelta64(bar_minutes, "m")
    else:
        first_day = _day_index(np.datetime64(start.date(), "D"))
        last_day = _day_index(np.datetime64(end.date(), "D")) - 1  # today's bar is still trading
        if last_day < first_day:
            return []
        data = _daily_of_days(symbol, seed, first_day, last_day)
        times = np.busday_offset(ORIGIN, np.arange(first_day, last_day + 1)).astype("datetime64[m]")
        if bar == "1w":
            # numpy weeks start on Thursdays (1970-01-01); shifting by three days keys each bar by its Monday.
            weeks = (times.astype("datetime64[D]") + 3).astype("datetime64[W]")
            weeks, data = _aggregate(weeks, data)
            times = (weeks.astype("datetime64[D]") - 3).astype("datetime64[m]")
            step = np.timedelta64(5 * 24 * 60, "m")  # a week's bar is complete at Friday's close
        elif bar == "1M":
            times, data = _aggregate(times.astype("datetime64[M]"), data)
            times = times.astype("datetime64[m]")
            step = None
        else:
            step = np.timedelta64(24 * 60, "m")
    end64 = _to_datetime64(end)
    bar_ends = (times.astype("datetime64[M]") + 1).astype("datetime64[m]") if step is None else times + step
    keep = (times >= _to_datetime64(start)) & (bar_ends <= end64)
    if keep.sum() > MAX_BARS:
        raise ValueError(f"{period} of {bar} bars is more than {MAX_BARS} bars; choose a shorter period")
    return _bars_as_dicts(times[keep], {key: value[keep] for key, value in data.items()})


def minute_bars(symbol: str, start: datetime, end: datetime, *, seed: int | None = None) -> dict[str, np.ndarray]:
    """One-minute bars starting in [start, end) on trading days: arrays t (datetime64[m]), o, h, l, c, v."""
    seed = settings.SIMULATED_SEED if seed is None else seed
    start64, end64 = _to_datetime64(start), _to_datetime64(end)
    first_day = _day_index(start64.astype("datetime64[D]"))
    last_day = _day_index(end64.astype("datetime64[D]")) + int(np.is_busday(end64.astype("datetime64[D]"))) - 1
    if end64 <= start64 or last_day < first_day:
        return {"t": np.array([], dtype="datetime64[m]"), **{key: np.array([]) for key in "ohlcv"}}
    minutes = _minutes_of_days(symbol, seed, first_day, last_day)
    day_starts = np.array([_day_date(i) for i in range(first_day, last_day + 1)]).astype("datetime64[m]")
    times = (day_starts[:, None] + np.arange(MINUTES_PER_DAY)).ravel()
    keep = (times >= start64) & (times < end64)
    return {"t": times[keep], **{key: value.ravel()[keep] for key, value in minutes.items()}}


def last_price(symbol: str, moment: datetime, *, seed: int | None = None) -> Decimal:
    """Close of the last one-minute bar completed at `moment` (Friday's close over a weekend)."""
    seed = settings.SIMULATED_SEED if seed is None else seed
    moment64 = _to_datetime64(moment.astimezone(UTC))
    day = moment64.astype("datetime64[D]")
    minute = int((moment64 - day.astype("datetime64[m]")).astype(int))
    if np.is_busday(day) and minute > 0:
        day_index, minute_index = _day_index(day), minute - 1
    else:
        day_index, minute_index = _day_index(day) - 1, MINUTES_PER_DAY - 1
    block = _minute_block(symbol, seed, day_index // BLOCK_DAYS)
    return Decimal(str(block["c"][day_index % BLOCK_DAYS, minute_index])).quantize(CENT)


# --- the exchange ---------------------------------------------------------------------------


def _order_state(order: SimulatedOrder) -> OrderState:
    return OrderState(
        broker_order_id=str(order.pk),
        order_ref=order.order_ref,
        status=order.status,
        filled_quantity=order.filled_quantity,
        avg_fill_price=order.avg_fill_price,
        fills=[
            FillInfo(
                exec_id=e.exec_id,
                quantity=e.quantity,
                price=e.price,
                commission=e.commission,
                time=e.executed_at,
                exchange_rate=e.exchange_rate,
            )
            for e in order.executions.all()
        ],
        message=order.message,
    )


def _next_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0) + timedelta(minutes=1)


def _end_of_day(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)


class SimulatedExchange:
    """A paper exchange whose book lives in the database; safe to use from many processes at once."""

    def __init__(
        self,
        *,
        seed: int | None = None,
        account_id: str = DEFAULT_ACCOUNT_ID,
        starting_cash: Decimal | None = None,
        commission_per_share: Decimal | None = None,
        slippage_bps: Decimal = Decimal("0"),
    ):
        """`starting_cash` opens a new account with that cash (default settings.SIMULATED_STARTING_CASH);
        `slippage_bps` moves market and stop fills against the order (a backtest's own account sets both)."""
        self.seed = settings.SIMULATED_SEED if seed is None else seed
        self.account_id = account_id
        self.starting_cash = starting_cash
        self.commission_per_share = commission_per_share
        self.slippage_bps = Decimal(slippage_bps)

    # reference data and prices

    def qualify(self, contract: str | ContractSpec, now: datetime | None = None) -> ContractInfo:
        """The one contract `contract` names: a listing of broker.listings (AmbiguousContract when it
        fits several), else a simulated US stock; PermanentBrokerError (code 200) when none."""
        spec = ContractSpec(contract) if isinstance(contract, str) else contract
        symbol = normalize_symbol(spec.symbol)
        found = find_listings(spec, now or timezone.now())
        if len(found) > 1:
            raise AmbiguousContract(spec, [listing.info for listing in found])
        if found:
            return found[0].info
        us_stock = spec.sec_type == "STK" and spec.currency in ("", "USD") and not spec.expiry
        if symbol in listed_symbols() or not us_stock or spec.exchange not in ("", "SMART", EXCHANGE):
            raise PermanentBrokerError(
                f"No security definition has been found for {spec.describe()}: the simulated market lists no "
                "such contract, or the future has expired",
                code=200,
            )
        return ContractInfo(
            conid=conid_for(symbol),
            symbol=symbol,
            exchange=EXCHANGE,
            currency="USD",
            sec_type="STK",
            name=f"{symbol} (simulated)",
        )

    def key_for(self, conid: int, symbol: str) -> str:
        """The symbol under which the exchange prices and books a contract: its listing's key, or the US stock's."""
        listing = listing_by_conid(conid, timezone.now())
        return listing.key if listing else normalize_symbol(symbol)

    def exchange_rates(self, now: datetime | None = None) -> dict[str, Decimal]:
        """What one unit of each currency the listings trade in is worth in the account's, from the FX pairs."""
        now = now or timezone.now()
        return exchange_rates(lambda key: self.price(key, now), base=self.account().currency)

    def _unit_value(self, key: str, rates: dict[str, Decimal]) -> tuple[Decimal, Decimal]:
        """(account-currency value of a move of 1 in the price of one contract of `key`, the rate used)."""
        currency, multiplier = contract_terms(key)
        rate = Decimal("1") if currency == self.account().currency else rates.get(currency)
        if rate is None:
            raise PermanentBrokerError(f"The simulated exchange has no {currency} rate to book {key}", code=321)
        return contract_multiplier(multiplier) * rate, rate

    def price(self, symbol: str, now: datetime | None = None) -> Decimal:
        return last_price(normalize_symbol(symbol), now or timezone.now(), seed=self.seed)

    def quote(self, symbol: str, now: datetime | None = None) -> Quote:
        now = now or timezone.now()
        last = self.price(symbol, now)
        half_spread = max(CENT, (last * Decimal("0.0001")).quantize(CENT))
        return Quote(
            conid=conid_for(normalize_symbol(symbol)),
            bid=last - half_spread,
            ask=last + half_spread,
            last=last,
            time=now,
        )

    def bars(self, symbol: str, period: str, bar: str, end: datetime | None = None) -> list[dict]:
        return generate_bars(symbol, period, bar, seed=self.seed, end=end)

    # the account

    def account(self) -> SimulatedAccount:
        cash = settings.SIMULATED_STARTING_CASH if self.starting_cash is None else self.starting_cash
        account, _ = SimulatedAccount.objects.get_or_create(
            account_id=self.account_id,
            defaults={"starting_cash": cash, "cash": cash},
        )
        return account

    def _locked_account(self) -> SimulatedAccount:
        self.account()
        return SimulatedAccount.objects.select_for_update().get(account_id=self.account_id)

    def positions(self, now: datetime | None = None) -> list[BrokerPosition]:
        self.process_market(now)
        positions = []
        for p in SimulatedPosition.objects.filter(account__account_id=self.account_id).exclude(quantity=0):
            currency, multiplier = contract_terms(p.symbol)
            positions.append(
                BrokerPosition(
                    conid=p.conid,
                    symbol=p.symbol,
                    quantity=p.quantity,
                    average_cost=p.average_cost,
                    currency=currency,
                    multiplier=multiplier,
                )
            )
        return positions

    def account_summary(self, now: datetime | None = None) -> AccountSummary:
        now = now or timezone.now()
        self.process_market(now)
        account = self.account()
        return AccountSummary(
            account_id=account.account_id,
            equity=self._equity(account, now).quantize(CENT, ROUND_HALF_UP),
            cash=account.cash.quantize(CENT, ROUND_HALF_UP),
            paper=True,
            currency=account.currency,
            exchange_rates=self.exchange_rates(now),
        )

    def _equity(self, account: SimulatedAccount, now: datetime) -> Decimal:
        """Cash plus every position marked at the last price, in the account's currency."""
        rates = self.exchange_rates(now)
        market_value = sum(
            (
                p.quantity * self.price(p.symbol, now) * self._unit_value(p.symbol, rates)[0]
                for p in account.positions.exclude(quantity=0)
            ),
            Decimal("0"),
        )
        return account.cash + market_value

    # orders

    def place_order(self, req: OrderRequest, now: datetime | None = None) -> OrderState:
        errors = req.validation_errors()
        if errors:
            raise PermanentBrokerError("Order refused: " + "; ".join(errors), code=321)
        symbol = self.key_for(req.conid, req.symbol)
        now = now or timezone.now()
        with transaction.atomic():
            account = self._locked_account()
            order = SimulatedOrder.objects.create(
                account=account,
                order_ref=req.order_ref,
                conid=req.conid,
                symbol=symbol,
                side=req.side,
                quantity=req.quantity,
                order_type=req.order_type,
                limit_price=req.limit_price if req.order_type == "LMT" else None,
                tif=req.tif,
                placed_at=now,
                next_bar_at=_next_minute(now),
            )
            refusal = self._buying_power_refusal(account, order, now)
            if refusal:
                order.status = Order.Status.REJECTED
                order.message = refusal
                order.save(update_fields=["status", "message", "updated_at"])
            else:
                self._attach_bracket(order, req)
        return _order_state(order)

    def _buying_power_refusal(self, account: SimulatedAccount, order: SimulatedOrder, now: datetime) -> str:
        price = order.limit_price or self.price(order.symbol, now)
        notional = order.quantity * price * self._unit_value(order.symbol, self.exchange_rates(now))[0]
        if is_future(order.symbol):
            # A future is bought on margin: what the account must hold is the initial margin, not the
            # notional (cash goes below zero by the rest, and equity stays cash plus the position's value).
            notional *= FUTURE_INITIAL_MARGIN
        if order.side == Order.Side.BUY:
            if notional > account.cash:
                return f"Insufficient cash: the order needs {notional:.2f}, cash available is {account.cash:.2f}"
            return ""
        held = SimulatedPosition.objects.filter(account=account, conid=order.conid).values_list("quantity", flat=True)
        short_quantity = order.quantity - max(next(iter(held), Decimal("0")), Decimal("0"))
        equity = self._equity(account, now)
        if short_quantity > 0 and short_quantity * notional / order.quantity > equity:
            return f"Insufficient equity to short {short_quantity} {order.symbol}: equity is {equity:.2f}"
        return ""

    def _attach_bracket(self, parent: SimulatedOrder, req: OrderRequest) -> None:
        """Take-profit (limit) and stop-loss (stop) children, one-cancels-other, live once the parent fills."""
        exit_side = Order.Side.SELL if req.side == "BUY" else Order.Side.BUY
        legs = [("LMT", "limit_price", req.take_profit), ("STP", "stop_price", req.stop_loss)]
        for order_type, price_field, price in legs:
            if price is None:
                continue
            SimulatedOrder.objects.create(
                account=parent.account,
                parent=parent,
                order_ref=req.order_ref,
                conid=parent.conid,
                symbol=parent.symbol,
                side=exit_side,
                quantity=parent.quantity,
                order_type=order_type,
                tif=Order.TimeInForce.GTC,
                active=False,
                placed_at=parent.placed_at,
                next_bar_at=parent.next_bar_at,
                **{price_field: price},
            )

    def cancel_order(self, broker_order_id: str, now: datetime | None = None) -> OrderState:
        self.process_market(now)
        with transaction.atomic():
            order = self._locked_working_order(broker_order_id, "cancelled", code=161)
            self._cancel(order, "Cancelled by request")
            for child in order.children.filter(status__in=[Order.Status.SUBMITTED, Order.Status.PARTIALLY_FILLED]):
                self._cancel(child, "Parent cancelled")
        return _order_state(order)

    def modify_order(
        self,
        broker_order_id: str,
        *,
        quantity: Decimal | None = None,
        limit_price: Decimal | None = None,
        now: datetime | None = None,
    ) -> OrderState:
        """Change a working order's quantity (above what has filled) and/or limit price (LMT orders only)."""
        self.process_market(now)
        with transaction.atomic():
            order = self._locked_working_order(broker_order_id, "modified", code=104)
            if quantity is not None:
                if quantity <= order.filled_quantity:
                    raise PermanentBrokerError(
                        f"Order {broker_order_id} has filled {order.filled_quantity}; "
                        f"its quantity cannot become {quantity}",
                        code=104,
                    )
                order.quantity = quantity
            if limit_price is not None:
                if order.order_type != SimulatedOrder.Type.LIMIT or limit_price <= 0:
                    raise PermanentBrokerError(f"Order {broker_order_id} takes no limit price {limit_price}", code=104)
                order.limit_price = limit_price
            order.message = "Modified by request"
            order.save(update_fields=["quantity", "limit_price", "message", "updated_at"])
        return _order_state(order)

    def _cancel(self, order: SimulatedOrder, message: str) -> None:
        order.status = Order.Status.CANCELLED
        order.message = message
        order.save(update_fields=["status", "message", "updated_at"])

    def _locked_working_order(self, broker_order_id: str, change: str, *, code: int) -> SimulatedOrder:
        """The order, still working, with the account locked for the change (inside a transaction)."""
        self._locked_account()
        order = self._get_order(broker_order_id)
        if not order.is_working():
            raise PermanentBrokerError(f"Order {broker_order_id} cannot be {change}: it is {order.status}", code=code)
        return order

    def _get_order(self, broker_order_id: str) -> SimulatedOrder:
        try:
            return SimulatedOrder.objects.get(account__account_id=self.account_id, pk=int(broker_order_id))
        except (ValueError, SimulatedOrder.DoesNotExist):
            raise PermanentBrokerError(f"Order {broker_order_id!r} is unknown to the simulated exchange") from None

    def order_status(self, broker_order_id: str, now: datetime | None = None) -> OrderState:
        self.process_market(now)
        return _order_state(self._get_order(broker_order_id))

    def find_orders_by_ref(self, order_ref: str, now: datetime | None = None) -> list[OrderState]:
        self.process_market(now)
        orders = SimulatedOrder.objects.filter(
            account__account_id=self.account_id, order_ref=order_ref, parent__isnull=True
        ).prefetch_related("executions")
        return [_order_state(order) for order in orders]

    def open_orders(self, now: datetime | None = None) -> list[OrderState]:
        self.process_market(now)
        orders = SimulatedOrder.objects.filter(
            account__account_id=self.account_id,
            status__in=[Order.Status.SUBMITTED, Order.Status.PARTIALLY_FILLED],
        ).prefetch_related("executions")
        return [_order_state(order) for order in orders]

    # matching

    def _working_orders(self):
        return SimulatedOrder.objects.filter(
            account__account_id=self.account_id,
            active=True,
            status__in=[Order.Status.SUBMITTED, Order.Status.PARTIALLY_FILLED],
        )

    def process_market(self, now: datetime | None = None) -> int:
        """Match every working order against the minute bars completed up to `now`; returns executions made."""
        completed_until = (now or timezone.now()).replace(second=0, microsecond=0)
        if not self._working_orders().filter(next_bar_at__lt=completed_until).exists():
            return 0
        executions = 0
        with transaction.atomic():
            account = self._locked_account()
            # Each pass moves every order's next_bar_at up to completed_until; a further pass
            # only matches bracket legs that a parent's fill armed.
            while True:
                pending = list(self._working_orders().filter(next_bar_at__lt=completed_until))
                if not pending:
                    break
                for order in pending:
                    executions += self._match(account, order, completed_until)
        return executions

    def _match(self, account: SimulatedAccount, order: SimulatedOrder, completed_until: datetime) -> int:
        expiry = _end_of_day(order.placed_at) if order.tif == Order.TimeInForce.DAY else None
        bars = minute_bars(order.symbol, order.next_bar_at, completed_until, seed=self.seed)
        executions = 0
        for index in self._executable_bars(order, bars):
            bar_start = _to_datetime(bars["t"][index])
            if expiry and bar_start >= expiry:
                break
            price = self._execution_price(order, bars, index)
            bar_volume = Decimal(str(bars["v"][index]))
            capacity = (bar_volume * LIQUIDITY_FRACTION).to_integral_value(ROUND_FLOOR) or Decimal("1")
            quantity = min(order.remaining_quantity, capacity)
            self._execute(account, order, quantity, price, bar_start + timedelta(seconds=30))
            executions += 1
            if not order.is_working():
                break
        if order.is_working() and expiry and completed_until >= expiry:
            self._cancel(order, "Day order expired at the end of the trading day")
        elif order.is_working():
            order.next_bar_at = max(order.next_bar_at, completed_until)
            order.save(update_fields=["next_bar_at", "updated_at"])
        return executions

    @staticmethod
    def _executable_bars(order: SimulatedOrder, bars: dict[str, np.ndarray]) -> np.ndarray:
        if order.order_type == SimulatedOrder.Type.MARKET:
            return np.arange(bars["t"].size)
        if order.order_type == SimulatedOrder.Type.LIMIT:
            limit = float(order.limit_price)
            crossed = bars["l"] <= limit if order.side == Order.Side.BUY else bars["h"] >= limit
        else:
            stop = float(order.stop_price)
            crossed = bars["h"] >= stop if order.side == Order.Side.BUY else bars["l"] <= stop
        return np.flatnonzero(crossed)

    def _execution_price(self, order: SimulatedOrder, bars: dict[str, np.ndarray], index: int) -> Decimal:
        """The open when it is already at or through the order's price (a gap), else the order's price.

        Market and stop fills then slip `slippage_bps` against the order; a limit never fills beyond its limit.
        """
        bar_open = Decimal(str(bars["o"][index])).quantize(CENT)
        buying = order.side == Order.Side.BUY
        if order.order_type == SimulatedOrder.Type.LIMIT:
            return min(bar_open, order.limit_price) if buying else max(bar_open, order.limit_price)
        if order.order_type == SimulatedOrder.Type.MARKET:
            price = bar_open
        else:
            price = max(bar_open, order.stop_price) if buying else min(bar_open, order.stop_price)
        slip = price * self.slippage_bps / Decimal("10000")
        return (price + slip if buying else price - slip).quantize(CENT, ROUND_HALF_UP)

    def _execute(
        self, account: SimulatedAccount, order: SimulatedOrder, quantity: Decimal, price: Decimal, when: datetime
    ) -> None:
        per_share = self.commission_per_share
        if per_share is None:
            per_share = settings.SIMULATED_COMMISSION_PER_SHARE
        commission = (quantity * per_share).quantize(Decimal("0.0001"), ROUND_HALF_UP)
        unit_value, rate = self._unit_value(order.symbol, self.exchange_rates(when))
        sequence = order.executions.count() + 1
        SimulatedExecution.objects.create(
            order=order,
            exec_id=f"SIM.{order.pk:08d}.{sequence:03d}",
            quantity=quantity,
            price=price,
            commission=commission,
            exchange_rate=rate,
            executed_at=when,
        )
        previous_value = (order.avg_fill_price or Decimal("0")) * order.filled_quantity
        order.filled_quantity += quantity
        order.avg_fill_price = ((previous_value + quantity * price) / order.filled_quantity).quantize(
            Decimal("0.000001"), ROUND_HALF_UP
        )
        order.commission += commission
        order.status = Order.Status.FILLED if order.remaining_quantity <= 0 else Order.Status.PARTIALLY_FILLED
        order.next_bar_at = _next_minute(when)
        order.save()
        signed = quantity if order.side == Order.Side.BUY else -quantity
        # Cash and realized P&L are in the account's currency, converted at the rate of the fill.
        realized = self._update_position(account, order, signed, price) * unit_value
        account.realized_pnl += realized.quantize(MONEY_PLACES, ROUND_HALF_UP)
        account.cash -= (signed * price * unit_value + commission * rate).quantize(MONEY_PLACES, ROUND_HALF_UP)
        account.commissions += commission
        account.save(update_fields=["cash", "realized_pnl", "commissions", "updated_at"])
        if order.status == Order.Status.FILLED:
            self._on_filled(order)

    @staticmethod
    def _update_position(account: SimulatedAccount, order: SimulatedOrder, signed: Decimal, price: Decimal) -> Decimal:
        """Apply a signed fill to the position; returns the P&L it realizes."""
        position, _ = SimulatedPosition.objects.get_or_create(
            account=account, conid=order.conid, defaults={"symbol": order.symbol}
        )
        held, cost = position.quantity, position.average_cost
        realized = Decimal("0")
        if held == 0 or (held > 0) == (signed > 0):
            position.average_cost = (abs(held) * cost + abs(signed) * price) / (abs(held) + abs(signed))
        else:
            closed = min(abs(signed), abs(held))
            realized = closed * (price - cost) * (1 if held > 0 else -1)
            if abs(signed) > abs(held):
                position.average_cost = price
            elif abs(signed) == abs(held):
                position.average_cost = Decimal("0")
        position.quantity = held + signed
        position.average_cost = position.average_cost.quantize(Decimal("0.000001"), ROUND_HALF_UP)
        position.save()
        return realized

    @staticmethod
    def _on_filled(order: SimulatedOrder) -> None:
        """A filled parent arms its bracket; a filled bracket leg cancels its sibling."""
        if order.parent_id is None:
            order.children.filter(status=Order.Status.SUBMITTED).update(
                active=True, quantity=order.filled_quantity, next_bar_at=order.next_bar_at
            )
            return
        order.parent.children.exclude(pk=order.pk).filter(
            status__in=[Order.Status.SUBMITTED, Order.Status.PARTIALLY_FILLED]
        ).update(status=Order.Status.CANCELLED, message="One-cancels-other: the other bracket leg filled")
