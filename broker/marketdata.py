"""Historical bars through the cache, and the market reference every order is priced from.

Bars: MarketData rows, refreshed once per freshness window.
However many workers ask for the same (conid, period, bar) at once, one fetches from the
broker while the others wait on a short lock and then read its row, so the broker's pacing
budget is spent once per symbol and timeframe per window.

The market reference (`market_reference`): the broker's quote, its last trade or else the middle
of its bid and ask, or, when the broker has no quote, the last close of the freshest bars; kept
with its source and time on every decision (DESIGN.md §5).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import pandas as pd
from django.conf import settings
from django.utils import timezone

from broker.adapters import BrokerError, PermanentBrokerError, Quote, get_adapter
from broker.coordination import named_lock
from broker.models import Instrument, MarketData
from broker.timeframes import is_intraday, validate_timeframe

logger = logging.getLogger(__name__)

INTRADAY_FRESHNESS = timedelta(hours=1)
DAILY_FRESHNESS = timedelta(days=1)
COLUMNS = ["open", "high", "low", "close", "volume"]
PRICE_PLACES = Decimal("0.000001")


def freshness(bar: str) -> timedelta:
    return INTRADAY_FRESHNESS if is_intraday(bar) else DAILY_FRESHNESS


def bars_to_frame(bars: list[dict]) -> pd.DataFrame:
    """Broker bars `{t, o, h, l, c, v}` as a DataFrame with a UTC DatetimeIndex and float columns."""
    if not bars:
        return pd.DataFrame(columns=COLUMNS, index=pd.DatetimeIndex([], tz="UTC", name="time"), dtype=float)
    frame = pd.DataFrame(bars)
    frame.index = pd.DatetimeIndex(pd.to_datetime(frame["t"], utc=True), name="time")
    frame = frame.rename(columns={"o": "open", "h": "high", "l": "low", "c": "close", "v": "volume"})
    return frame[COLUMNS].astype(float)


def frozen_bars(bars: pd.DataFrame) -> dict:
    """The bars as plain JSON (ISO times, float columns): kept in a step's output so a replay sees the same
    data, and sent to the chart renderer of another process.

    Python's float repr round-trips exactly, so `thawed_bars(frozen_bars(bars))` equals `bars`.
    """
    return {"time": [stamp.isoformat() for stamp in bars.index], **{name: bars[name].tolist() for name in COLUMNS}}


def thawed_bars(frozen: dict) -> pd.DataFrame:
    index = pd.DatetimeIndex(pd.to_datetime(frozen["time"], utc=True), name="time")
    return pd.DataFrame({name: frozen[name] for name in COLUMNS}, index=index).astype(float)


def _fresh_row(instrument: Instrument, period: str, bar: str) -> MarketData | None:
    return MarketData.objects.filter(
        conid=instrument.conid, period=period, bar=bar, fetched_at__gte=timezone.now() - freshness(bar)
    ).first()


def get_bars(instrument: Instrument, period: str, bar: str) -> pd.DataFrame:
    """Bars for an instrument and timeframe, from the cache when fresh, else from the broker.

    ValueError for an unknown period or bar size; broker errors propagate (never made-up data).
    """
    errors = validate_timeframe(period, bar)
    if errors:
        raise ValueError("; ".join(errors))
    row = _fresh_row(instrument, period, bar)
    if row is None:
        lock = f"marketdata:{instrument.conid}:{period}:{bar}"
        with named_lock(lock, hold_seconds=settings.BROKER_LOCK_SECONDS, wait_seconds=settings.BROKER_LOCK_SECONDS * 5):
            row = _fresh_row(instrument, period, bar) or _fetch(instrument, period, bar)
    return bars_to_frame(row.data)


def _fetch(instrument: Instrument, period: str, bar: str) -> MarketData:
    bars = get_adapter().historical_bars(instrument.conid, instrument.symbol, period, bar)
    if not bars:
        raise PermanentBrokerError(f"The broker returned no {period}/{bar} bars for {instrument.symbol}")
    row, _ = MarketData.objects.update_or_create(
        conid=instrument.conid,
        period=period,
        bar=bar,
        defaults={"instrument": instrument, "data": bars, "fetched_at": timezone.now()},
    )
    logger.info("Fetched %d %s/%s bars for %s", len(bars), period, bar, instrument.symbol)
    return row


# --- the market reference: the price every order is computed from ------------------------------

QUOTE_LAST = "quote_last"
QUOTE_MID = "quote_mid"
BARS_CLOSE = "bars_close"
REFERENCE_SOURCES = (QUOTE_LAST, QUOTE_MID, BARS_CLOSE)


class ReferenceUnavailable(Exception):  # noqa: N818 - the reason a price cannot be known
    """Neither a quote nor bars give a price for the instrument."""


@dataclass(frozen=True)
class MarketReference:
    """A market price, where it came from and when: the broker's quote (last, else mid) or a bar's close.

    `time` is the quote's time or the last bar's (start) time; `market_data_type` is the broker's
    kind of quote (live, frozen, delayed) when it says.
    """

    price: Decimal
    source: str
    time: datetime
    market_data_type: str = ""

    def age_seconds(self, now: datetime | None = None) -> float:
        return max(0.0, ((now or timezone.now()) - self.time).total_seconds())

    def as_dict(self) -> dict:
        return {
            "price": str(self.price),
            "source": self.source,
            "time": self.time.isoformat(),
            "market_data_type": self.market_data_type,
        }

    @classmethod
    def from_dict(cls, data: dict) -> MarketReference:
        return cls(
            price=Decimal(data["price"]),
            source=data["source"],
            time=datetime.fromisoformat(data["time"]),
            market_data_type=data.get("market_data_type") or "",
        )


def quote_reference(quote: Quote) -> MarketReference | None:
    """The quote's last trade, else the middle of its bid and ask; None when it has neither."""
    data_type = quote.market_data_type
    if quote.last is not None and quote.last > 0:
        return MarketReference(price=quote.last, source=QUOTE_LAST, time=quote.time, market_data_type=data_type)
    if quote.bid and quote.ask and quote.bid > 0 and quote.ask > 0:
        mid = ((quote.bid + quote.ask) / 2).quantize(PRICE_PLACES)
        return MarketReference(price=mid, source=QUOTE_MID, time=quote.time, market_data_type=data_type)
    return None


def bars_reference(bars: list[pd.DataFrame]) -> MarketReference | None:
    """The last close of the freshest of these bar sets (the one whose last bar is latest), or None."""
    candidates = [frame for frame in bars if frame is not None and not frame.empty]
    if not candidates:
        return None
    freshest = max(candidates, key=lambda frame: frame.index[-1])
    close = Decimal(str(float(freshest["close"].iloc[-1]))).quantize(PRICE_PLACES)
    if close <= 0:
        return None
    return MarketReference(price=close, source=BARS_CLOSE, time=freshest.index[-1].to_pydatetime())


def market_reference(instrument: Instrument, bars: list[pd.DataFrame] = ()) -> MarketReference:
    """The broker's quote for `instrument` or, when the broker has none, the last close of the freshest `bars`.

    ReferenceUnavailable when neither gives a price: an order is never priced from a guess.
    """
    quote_error = ""
    try:
        reference = quote_reference(get_adapter().quote(instrument.conid, instrument.symbol))
    except BrokerError as error:
        reference, quote_error = None, str(error)
        logger.warning("No quote for %s (%s); using the last close of its bars", instrument.symbol, error)
    reference = reference or bars_reference(list(bars))
    if reference is None:
        why = f": {quote_error}" if quote_error else ""
        raise ReferenceUnavailable(f"No market price for {instrument.symbol}: no quote{why} and no bars")
    return reference
