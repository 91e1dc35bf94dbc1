"""Historical bars through the cache: MarketData rows, refreshed once per freshness window.

However many workers ask for the same (conid, period, bar) at once, one fetches from the
broker while the others wait on a short lock and then read its row, so the broker's pacing
budget is spent once per symbol and timeframe per window.
"""

import logging
from datetime import timedelta

import pandas as pd
from django.conf import settings
from django.utils import timezone

from broker.adapters import PermanentBrokerError, get_adapter
from broker.coordination import named_lock
from broker.models import Instrument, MarketData
from broker.timeframes import is_intraday, validate_timeframe

logger = logging.getLogger(__name__)

INTRADAY_FRESHNESS = timedelta(hours=1)
DAILY_FRESHNESS = timedelta(days=1)
COLUMNS = ["open", "high", "low", "close", "volume"]


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
