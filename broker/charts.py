"""Chart images: candlesticks with indicators, rendered with mplfinance on the Agg backend.

Layout: price panel (candles, SMAs, Bollinger Bands, SuperTrend green while up and red
while down), volume, MACD, and RSI with its 30/70 zones. PNGs go to the default storage as
charts/{symbol}_{period}-{bar}_{timestamp}.png; a storage that keeps failing gets three
tries with backoff, after which the PNG stays on local disk under MEDIA_ROOT.

A chart is drawn once per content: its `content_key` is a hash of what the image shows (the
instrument, timeframe, bars, indicators, size and DRAWING_VERSION), so strategies charting the
same bars share one Chart, and two workers asking at once wait on one lock (broker.coordination)
while one of them draws it.
"""

import hashlib
import io
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import mplfinance as mpf  # noqa: E402
import pandas as pd  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.files.base import ContentFile  # noqa: E402
from django.core.files.storage import default_storage  # noqa: E402
from django.utils import timezone  # noqa: E402

from broker.coordination import named_lock  # noqa: E402
from broker.indicators import RSI_OVERBOUGHT, RSI_OVERSOLD, compute_indicators  # noqa: E402
from broker.marketdata import freshness, frozen_bars, get_bars  # noqa: E402
from broker.models import Chart, Instrument  # noqa: E402

logger = logging.getLogger(__name__)

DPI = 100
# Part of every chart's content key: raise it when a change to the drawing changes the image, so charts
# drawn before are not reused for the same bars.
DRAWING_VERSION = 2
UPLOAD_ATTEMPTS = 3
UPLOAD_BACKOFF_SECONDS = 1.0
SMA_COLORS = {"sma_20": "#1f77b4", "sma_50": "#ff7f0e", "sma_200": "#9467bd"}
UP_COLOR, DOWN_COLOR = "#16a34a", "#dc2626"
STYLE = mpf.make_mpf_style(base_mpf_style="yahoo", gridstyle=":", y_on_right=True, rc={"font.size": 11})


def _line(series: pd.Series, panel: int, color: str, width: float = 1.2, **extra):
    return mpf.make_addplot(series, panel=panel, color=color, width=width, **extra)


def _plotted(frame: pd.DataFrame, column: str) -> bool:
    return column in frame and frame[column].notna().any()


def _price_overlays(frame: pd.DataFrame) -> tuple[list, dict | None]:
    plots = [_line(frame[c], 0, color) for c, color in SMA_COLORS.items() if _plotted(frame, c)]
    fill = None
    if _plotted(frame, "bb_upper"):
        plots += [_line(frame[c], 0, "#64748b", 0.8, linestyle="--") for c in ("bb_upper", "bb_lower")]
        fill = {
            "y1": frame["bb_upper"].to_numpy(),
            "y2": frame["bb_lower"].to_numpy(),
            "alpha": 0.07,
            "color": "#64748b",
        }
    if _plotted(frame, "supertrend"):
        direction = frame["supertrend_direction"]
        for sign, color in ((1, UP_COLOR), (-1, DOWN_COLOR)):
            segment = frame["supertrend"].where(direction == sign)
            if segment.notna().any():
                plots.append(_line(segment, 0, color, 1.8))
    return plots, fill


def _oscillator_panels(frame: pd.DataFrame, first_panel: int) -> tuple[list, list[float], dict[str, int]]:
    """MACD and RSI panels; returns the plots, their height ratios and each panel's number."""
    plots, ratios, panels, panel = [], [], {}, first_panel
    if _plotted(frame, "macd"):
        panels["macd"] = panel
        plots += [
            _line(frame["macd"], panel, "#2563eb", ylabel="MACD", secondary_y=False),
            _line(frame["macd_signal"], panel, "#f59e0b", secondary_y=False),
        ]
        ratios.append(2)
        panel += 1
    if _plotted(frame, "rsi_14"):
        panels["rsi"] = panel
        plots += [
            _line(frame["rsi_14"], panel, "#7c3aed", ylabel="RSI 14", ylim=(0, 100)),
            _line(pd.Series(RSI_OVERBOUGHT, index=frame.index), panel, DOWN_COLOR, 0.8, linestyle="--"),
            _line(pd.Series(RSI_OVERSOLD, index=frame.index), panel, UP_COLOR, 0.8, linestyle="--"),
        ]
        ratios.append(2)
    return plots, ratios, panels


def _draw_macd_histogram(axis, histogram: pd.Series) -> None:
    """Histogram as one line collection: hundreds of bar patches would triple the render time."""
    values = histogram.fillna(0).to_numpy()
    colors = [UP_COLOR if value >= 0 else DOWN_COLOR for value in values]
    axis.vlines(range(values.size), 0, values, colors=colors, linewidth=2.0, alpha=0.5)


def _volume_panel(frame: pd.DataFrame) -> list:
    """Panel 1 for the volume, with an invisible line: the bars themselves are drawn by _draw_volume."""
    return [_line(frame["volume"], 1, UP_COLOR, 0, alpha=0, ylabel="Volume")]


def _draw_volume(axis, frame: pd.DataFrame) -> None:
    """Volume bars as one line collection, green on up bars and red on down bars, as mplfinance colours them;
    its own volume bars are one patch each."""
    rising = (frame["close"] >= frame["open"]).to_numpy()
    colors = [UP_COLOR if up else DOWN_COLOR for up in rising]
    axis.vlines(range(len(frame)), 0, frame["volume"].to_numpy(), colors=colors, linewidth=2.0, alpha=0.6)
    axis.set_ylim(bottom=0)


def render_png(
    symbol: str, period: str, bar: str, bars: pd.DataFrame, indicators: list[str] | None, width: int, height: int
) -> bytes:
    """The chart as PNG bytes of exactly width × height pixels."""
    if bars.empty:
        raise ValueError(f"No bars to chart for {symbol} {period}/{bar}")
    frame = compute_indicators(bars, indicators).frame
    frame.index = frame.index.tz_convert(None)  # mplfinance wants naive timestamps (they are UTC)
    overlays, fill = _price_overlays(frame)
    oscillators, oscillator_ratios, panels = _oscillator_panels(frame, first_panel=2)
    title = f"{symbol}  {period} / {bar}  {frame.index[0]:%Y-%m-%d} to {frame.index[-1]:%Y-%m-%d} (UTC)"
    options = {"fill_between": fill} if fill else {}
    figure, axes = mpf.plot(
        frame[["open", "high", "low", "close", "volume"]],
        type="candle",
        style=STYLE,
        addplot=overlays + _volume_panel(frame) + oscillators,
        panel_ratios=(6, 1.5, *oscillator_ratios),
        figsize=(width / DPI, height / DPI),
        title=title,
        scale_padding={"left": 0.4, "right": 0.9, "top": 0.7, "bottom": 0.9},
        returnfig=True,
        warn_too_much_data=len(frame) + 1,
        **options,
    )
    # mplfinance returns a primary and a secondary axis per panel.
    _draw_volume(axes[2], frame)
    if "macd" in panels:
        _draw_macd_histogram(axes[2 * panels["macd"]], frame["macd_hist"])
    if "rsi" in panels:
        rsi_axis = axes[2 * panels["rsi"]]
        rsi_axis.axhspan(RSI_OVERBOUGHT, 100, color=DOWN_COLOR, alpha=0.08)
        rsi_axis.axhspan(0, RSI_OVERSOLD, color=UP_COLOR, alpha=0.08)
    buffer = io.BytesIO()
    figure.set_size_inches(width / DPI, height / DPI)
    figure.savefig(buffer, format="png", dpi=DPI)
    plt.close(figure)
    return buffer.getvalue()


def store_png(name: str, content: bytes) -> str:
    """Save through the default storage (3 tries, backoff 1 s, 2 s); after that keep it on local disk.

    Returns the stored name.
    """
    for attempt in range(1, UPLOAD_ATTEMPTS + 1):
        try:
            return default_storage.save(name, ContentFile(content))
        except Exception as exc:  # storage backends raise anything from OSError to botocore errors
            logger.warning("Chart upload attempt %d/%d for %s failed: %s", attempt, UPLOAD_ATTEMPTS, name, exc)
            if attempt < UPLOAD_ATTEMPTS:
                time.sleep(UPLOAD_BACKOFF_SECONDS * 2 ** (attempt - 1))
    local = Path(settings.MEDIA_ROOT) / name
    local.parent.mkdir(parents=True, exist_ok=True)
    local.write_bytes(content)
    logger.error("Chart storage failed %d times; %s kept on local disk at %s", UPLOAD_ATTEMPTS, name, local)
    return name


def chart_content_key(
    instrument: Instrument, period: str, bar: str, bars: pd.DataFrame, indicators: list[str] | None, width: int,
    height: int,
) -> str:
    """What a chart shows, as a hash: equal keys draw the same image."""
    content = {
        "drawing_version": DRAWING_VERSION,
        "conid": instrument.conid,
        "symbol": instrument.symbol,
        "period": period,
        "bar": bar,
        "indicators": sorted(indicators) if indicators is not None else None,
        "size": [width, height],
        "bars": frozen_bars(bars),
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def chart_once(content_key: str, draw: Callable[[], Chart]) -> Chart:
    """The chart of `content_key`: one drawn already, else the one `draw()` makes.

    While one worker draws a content, others asking for it wait on its lock and then read its row
    (the pattern of broker.marketdata.get_bars), so a chart is drawn once however many ask at once.
    """
    drawn = Chart.objects.filter(content_key=content_key).first()
    if drawn is not None:
        return drawn
    hold = settings.CHART_RENDER_TIMEOUT_SECONDS
    with named_lock(f"chart:{content_key}", hold_seconds=hold, wait_seconds=hold * 2):
        return Chart.objects.filter(content_key=content_key).first() or draw()


def draw_chart(
    instrument: Instrument,
    period: str,
    bar: str,
    bars: pd.DataFrame,
    indicators: list[str] | None,
    width: int,
    height: int,
    content_key: str,
) -> Chart:
    """Render, store and record one chart (its content's lock, if any, is the caller's: see chart_once)."""
    png = render_png(instrument.symbol, period, bar, bars, indicators, width, height)
    stamp = timezone.now().strftime("%Y%m%dT%H%M%S")
    name = store_png(f"charts/{instrument.symbol}_{period}-{bar}_{stamp}.png", png)
    chart = Chart(
        instrument=instrument,
        timeframe=f"{period}/{bar}",
        period=period,
        bar=bar,
        width=width,
        height=height,
        sha256=hashlib.sha256(png).hexdigest(),
        content_key=content_key,
    )
    chart.image.name = name
    chart.save()
    return chart


def render_chart(
    instrument: Instrument,
    period: str,
    bar: str,
    bars: pd.DataFrame,
    indicators: list[str] | None = None,
    width: int | None = None,
    height: int | None = None,
) -> Chart:
    """The chart of these bars, drawn here unless a chart of the same content exists (chart_once)."""
    width, height = width or settings.CHART_WIDTH, height or settings.CHART_HEIGHT
    key = chart_content_key(instrument, period, bar, bars, indicators, width, height)
    return chart_once(key, lambda: draw_chart(instrument, period, bar, bars, indicators, width, height, key))


def chart_for(instrument: Instrument, period: str, bar: str) -> Chart:
    """A chart of this timeframe made within the bars' freshness window, or a new one."""
    recent = Chart.objects.filter(
        instrument=instrument, period=period, bar=bar, created_at__gte=timezone.now() - freshness(bar)
    ).first()
    return recent or render_chart(instrument, period, bar, get_bars(instrument, period, bar))
