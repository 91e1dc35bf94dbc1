"""The offline analyst: a deterministic, rule-based model behind the ModelClient protocol.

It lets every workflow run without network or API key. It reads the numbers, not the chart:

- Input: every JSON object between `<indicators>` and `</indicators>` in the messages is one
  timeframe's indicator summary (from `broker.indicators.indicator_summary`). The FIRST block is
  the primary timeframe: the price, ATR and support/resistance of the trade levels come from it.
  Key names are read tolerantly (`close`/`last_close`, `sma50`/`sma.50`/`sma_50`, nested or flat).
  An optional line `Current price: 123.45` overrides the primary close; `Symbol: XYZ` names the
  instrument; `Language: zh-Hant` switches the prose to Traditional Chinese (default English).
- Mode rule: a request is a DECISION request when the caller passes `json_schema` or the prompt
  contains the `<decision_schema>` marker (DECISION_PROMPT embeds both the marker and the schema).
  Decisions are answered as one JSON object (decision, current_price, target_price, stop_loss,
  confidence, key_factors, analysis). Every other request gets a multi-paragraph analysis
  (trend, momentum, volatility, levels, conclusion).
- Rules: each timeframe scores its signals (+1 bullish, -1 bearish): close vs SMA20/50/200,
  SMA50 vs SMA200, SuperTrend direction, trend reading, the latest golden/death cross, MACD vs
  signal, RSI zones, closes outside the Bollinger band. A score of +3 or more is bullish, -3 or
  less bearish. BUY/SELL needs a directional primary timeframe and no timeframe pointing the
  other way; otherwise HOLD. Levels: stop just beyond support/resistance when it lies within
  3 ATR, else 2 ATR away; target at the opposite level when it is more than 1.5 ATR away, else
  (the level is being tested, a breakout is assumed) 4 ATR away. A setup under 1.5 R is a HOLD.
  BUY always has stop < price < target and SELL target < price < stop.
- Same prompt, same answer: nothing random, no clock. Tokens are estimated at ~4 characters each.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.conf import settings

from agents.clients import Completion, ModelError, estimate_tokens, messages_text

INDICATOR_BLOCK = re.compile(r"<indicators>(.*?)</indicators>", re.S)
DECISION_MARKER = "<decision_schema>"
LANGUAGE_LINE = re.compile(r"^\s*Language:\s*([A-Za-z-]+)\s*$", re.M)
SYMBOL_LINE = re.compile(r"^\s*Symbol:\s*(\S+)\s*$", re.M)
CURRENT_PRICE_LINE = re.compile(r"^\s*Current price:\s*([0-9][0-9,]*(?:\.[0-9]+)?)\s*$", re.M)

BIAS_THRESHOLD = 3
MIN_REWARD_RISK = Decimal("1.5")
STOP_ATR = Decimal("2")
TARGET_ATR = Decimal("4")
TESTED_LEVEL_ATR = Decimal("1.5")
LEVEL_REACH_ATR = Decimal("3")
STOP_BEYOND_LEVEL_ATR = Decimal("0.25")
FALLBACK_ATR_PCT = Decimal("0.02")
# Moving averages closer than this (in ATR) say nothing about the trend.
ALIGNMENT_MIN_ATR = Decimal("0.5")

# One sentence per signal, in each supported language. Parameters are pre-formatted strings.
MESSAGES = {
    "above_sma": ("Close {price} is above SMA{n} ({value}).", "收盤價 {price} 高於 SMA{n}（{value}）。"),
    "below_sma": ("Close {price} is below SMA{n} ({value}).", "收盤價 {price} 低於 SMA{n}（{value}）。"),
    "sma_bull_alignment": (
        "SMA50 ({fast}) is above SMA200 ({slow}), a bullish alignment.",
        "SMA50（{fast}）位於 SMA200（{slow}）之上，均線呈多頭排列。",
    ),
    "sma_bear_alignment": (
        "SMA50 ({fast}) is below SMA200 ({slow}), a bearish alignment.",
        "SMA50（{fast}）位於 SMA200（{slow}）之下，均線呈空頭排列。",
    ),
    "sma_intertwined": (
        "SMA50 ({fast}) and SMA200 ({slow}) are intertwined: no established trend.",
        "SMA50（{fast}）與 SMA200（{slow}）糾結，尚無明確趨勢。",
    ),
    "supertrend_up": ("SuperTrend points up (line at {value}).", "SuperTrend 指向上方（趨勢線 {value}）。"),
    "supertrend_down": ("SuperTrend points down (line at {value}).", "SuperTrend 指向下方（趨勢線 {value}）。"),
    "supertrend_flip": ("SuperTrend last flipped on {date}.", "SuperTrend 最近一次翻轉於 {date}。"),
    "trend_up": ("The trend reading is up.", "整體趨勢判讀為上升。"),
    "trend_down": ("The trend reading is down.", "整體趨勢判讀為下降。"),
    "trend_flat": ("The trend reading is sideways.", "整體趨勢判讀為盤整。"),
    "golden_cross": (
        "The latest cross is a golden cross (SMA50 above SMA200) on {date}.",
        "最近一次交叉為 {date} 的黃金交叉（SMA50 上穿 SMA200）。",
    ),
    "death_cross": (
        "The latest cross is a death cross (SMA50 below SMA200) on {date}.",
        "最近一次交叉為 {date} 的死亡交叉（SMA50 下穿 SMA200）。",
    ),
    "macd_bull": (
        "MACD {macd} is above its signal line {signal} (histogram {hist}): momentum is positive.",
        "MACD {macd} 高於訊號線 {signal}（柱狀體 {hist}），動能偏多。",
    ),
    "macd_bear": (
        "MACD {macd} is below its signal line {signal} (histogram {hist}): momentum is negative.",
        "MACD {macd} 低於訊號線 {signal}（柱狀體 {hist}），動能偏空。",
    ),
    "rsi_overbought": ("RSI {rsi} is overbought; the move is stretched.", "RSI {rsi} 處於超買區，漲勢過度延伸。"),
    "rsi_oversold": ("RSI {rsi} is oversold; selling looks exhausted.", "RSI {rsi} 處於超賣區，賣壓可能衰竭。"),
    "rsi_strong": ("RSI {rsi} shows firm buying momentum.", "RSI {rsi} 顯示買盤動能穩健。"),
    "rsi_weak": ("RSI {rsi} shows weak momentum.", "RSI {rsi} 顯示動能疲弱。"),
    "rsi_neutral": ("RSI {rsi} is neutral.", "RSI {rsi} 位於中性區間。"),
    "atr": ("ATR(14) is {atr} ({pct}% of price).", "ATR(14) 為 {atr}（約為價格的 {pct}%）。"),
    "atr_estimated": (
        "No ATR was given; volatility is assumed at 2% of price ({atr}).",
        "未提供 ATR，以價格的 2%（{atr}）估計波動。",
    ),
    "bb_position": (
        "Price sits at {pct}% of the Bollinger band ({lower} to {upper}).",
        "價格位於布林通道 {pct}% 的位置（{lower} 至 {upper}）。",
    ),
    "bb_above": (
        "Close {price} is above the upper Bollinger band {upper}; a pullback is likely.",
        "收盤價 {price} 突破布林上軌 {upper}，短線可能回檔。",
    ),
    "bb_below": (
        "Close {price} is below the lower Bollinger band {lower}; a rebound is likely.",
        "收盤價 {price} 跌破布林下軌 {lower}，短線可能反彈。",
    ),
    "support": ("Support at {level} ({distance} ATR below).", "支撐位 {level}（低於現價 {distance} 個 ATR）。"),
    "resistance": ("Resistance at {level} ({distance} ATR above).", "壓力位 {level}（高於現價 {distance} 個 ATR）。"),
    "no_levels": ("No support or resistance level was given.", "未提供支撐或壓力位。"),
    "bias_bullish": (
        "{timeframe}: bullish (score {score}; {bull} bullish, {bear} bearish signals).",
        "{timeframe}：偏多（評分 {score}；{bull} 個多方訊號、{bear} 個空方訊號）。",
    ),
    "bias_bearish": (
        "{timeframe}: bearish (score {score}; {bull} bullish, {bear} bearish signals).",
        "{timeframe}：偏空（評分 {score}；{bull} 個多方訊號、{bear} 個空方訊號）。",
    ),
    "bias_neutral": (
        "{timeframe}: neutral (score {score}; {bull} bullish, {bear} bearish signals).",
        "{timeframe}：中性（評分 {score}；{bull} 個多方訊號、{bear} 個空方訊號）。",
    ),
    "outlook_buy": (
        "The signals agree on an uptrend: a long entry near {price} with a stop at {stop} and a target "
        "at {target} offers {r}R.",
        "訊號一致看多：於 {price} 附近做多，停損 {stop}，目標 {target}，報酬風險比 {r}R。",
    ),
    "outlook_sell": (
        "The signals agree on a downtrend: a short entry near {price} with a stop at {stop} and a target "
        "at {target} offers {r}R.",
        "訊號一致看空：於 {price} 附近做空，停損 {stop}，目標 {target}，報酬風險比 {r}R。",
    ),
    "hold_conflict": (
        "The timeframes disagree ({detail}); standing aside is the prudent choice.",
        "各時間週期訊號分歧（{detail}），宜觀望。",
    ),
    "hold_weak": (
        "The primary timeframe's signals are too weak or mixed for a trade (score {score}); hold.",
        "主要時間週期訊號過弱或分歧（評分 {score}），維持觀望。",
    ),
    "hold_poor_r": (
        "A {side} here offers only {r}R (target {target}, stop {stop}), below the 1.5R minimum; hold.",
        "此處{side}的報酬風險比僅 {r}R（目標 {target}，停損 {stop}），低於 1.5R 門檻，維持觀望。",
    ),
    "hold_no_room": (
        "There is no room for consistent {side} levels below a zero price; hold.",
        "價格空間不足，無法設定一致的{side}價位，維持觀望。",
    ),
}
WORDS = {
    "header": ("{symbol} technical analysis ({timeframes})", "{symbol} 技術分析（{timeframes}）"),
    "trend": ("Trend", "趨勢"),
    "momentum": ("Momentum", "動能"),
    "volatility": ("Volatility", "波動性"),
    "levels": ("Levels", "關鍵價位"),
    "conclusion": ("Conclusion", "結論"),
    "bullish": ("bullish", "偏多"),
    "bearish": ("bearish", "偏空"),
    "neutral": ("neutral", "中性"),
    "long": ("long entry", "做多"),
    "short": ("short entry", "做空"),
    "instrument": ("The instrument", "此標的"),
    "separator": ("; ", "；"),
    "colon": (": ", "："),
    "space": (" ", ""),
}
SECTIONS = ("trend", "momentum", "volatility", "levels")


def text_in(language: str, pair: tuple[str, str]) -> str:
    return pair[1] if language == "zh-Hant" else pair[0]


def to_decimal(value) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | Decimal):
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    if isinstance(value, str):
        try:
            number = Decimal(value.replace(",", "").strip())
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    return None


def fmt(value: Decimal, places: int | None = None) -> str:
    if places is None:
        places = 2 if abs(value) >= Decimal("0.1") else 4
    return str(value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def signed(score: int) -> str:
    return f"{score:+d}"


def direction_of(value) -> int:
    """+1 for up-ish values (1, "up", "bullish", "long"), -1 for down-ish, 0 otherwise."""
    number = to_decimal(value)
    if number is not None:
        return (number > 0) - (number < 0)
    if isinstance(value, str):
        word = value.lower()
        if any(token in word for token in ("up", "bull", "long", "buy", "rising")):
            return 1
        if any(token in word for token in ("down", "bear", "short", "sell", "falling")):
            return -1
    return 0


def normalize_key(key) -> str:
    return re.sub(r"[^a-z0-9]", "", str(key).lower())


def flatten(value, prefix: str = "") -> dict[str, object]:
    """{"sma": {"sma_50": 1}} -> {"sma": {...}, "sma.sma50": 1}: every subtree under its normalized path."""
    flat: dict[str, object] = {}
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{prefix}.{normalize_key(key)}" if prefix else normalize_key(key)
            flat[path] = item
            flat.update(flatten(item, path))
    return flat


class SummaryReader:
    """Finds values in an indicator summary whatever its exact key spelling and nesting."""

    def __init__(self, summary: dict):
        self.flat = flatten(summary)

    def raw(self, *names: str, nested: bool = True):
        """The first non-empty value found under one of `names`, also inside sections unless nested=False."""
        for name in names:
            matches = sorted(
                (path for path in self.flat if path == name or (nested and path.endswith("." + name))),
                key=lambda path: (path.count("."), path),
            )
            for path in matches:
                if self.flat[path] not in (None, "", [], {}):
                    return self.flat[path]
        return None

    def number(self, *names: str) -> Decimal | None:
        for name in names:
            number = to_decimal(self.raw(name))
            if number is not None:
                return number
        return None

    def text(self, *names: str) -> str:
        value = self.raw(*names)
        return value if isinstance(value, str) else ""

    def levels(self, *names: str) -> list[Decimal]:
        value = self.raw(*names)
        if isinstance(value, dict):
            value = list(value.values())
        values = value if isinstance(value, list) else [value]
        levels = []
        for item in values:
            number = to_decimal(item.get("price", item.get("level")) if isinstance(item, dict) else item)
            if number is not None:
                levels.append(number)
        return levels


@dataclass
class Signal:
    section: str
    weight: int
    key: str
    params: dict = field(default_factory=dict)

    def sentence(self, language: str) -> str:
        return text_in(language, MESSAGES[self.key]).format(**self.params)


@dataclass
class Timeframe:
    label: str
    price: Decimal
    atr: Decimal
    support: Decimal | None
    resistance: Decimal | None
    signals: list[Signal]

    @property
    def score(self) -> int:
        return sum(signal.weight for signal in self.signals)

    @property
    def bias(self) -> int:
        if self.score >= BIAS_THRESHOLD:
            return 1
        if self.score <= -BIAS_THRESHOLD:
            return -1
        return 0

    def count(self, sign: int) -> int:
        return sum(1 for signal in self.signals if signal.weight * sign > 0)


def latest_cross(crosses) -> tuple[int, str] | None:
    """(+1 golden / -1 death, date) of the most recent cross, from a list or a {kind: date} mapping."""
    entries: list[tuple[str, int]] = []
    if isinstance(crosses, dict):
        for key, value in crosses.items():
            kind = 1 if "golden" in key.lower() else -1 if "death" in key.lower() else 0
            dates = value if isinstance(value, list) else [value]
            entries += [(str(date), kind) for date in dates if kind and date]
    elif isinstance(crosses, list):
        for item in crosses:
            if not isinstance(item, dict):
                continue
            label = " ".join(str(item.get(key, "")) for key in ("type", "kind", "name", "cross")).lower()
            kind = 1 if "golden" in label else -1 if "death" in label else 0
            date = item.get("date") or item.get("time") or item.get("t") or ""
            if kind:
                entries.append((str(date), kind))
    if not entries:
        return None
    date, kind = max(entries)
    return kind, date[:10] or "?"


def read_timeframe(summary: dict, index: int, price_override: Decimal | None) -> Timeframe:
    reader = SummaryReader(summary)
    label = reader.text("timeframe", "bar", "label", "period") or f"timeframe {index + 1}"
    price = price_override or reader.number("lastclose", "close", "last.close", "price", "last")
    if price is None or price <= 0:
        raise ModelError(f"indicator block {index + 1} ({label}) has no positive close price")
    signals: list[Signal] = []
    shown_price = fmt(price)

    atr = reader.number("atr14", "atr.14", "atr.value", "atr")
    if atr is None or atr <= 0:
        atr = price * FALLBACK_ATR_PCT
        signals.append(Signal("volatility", 0, "atr_estimated", {"atr": fmt(atr)}))
    else:
        signals.append(Signal("volatility", 0, "atr", {"atr": fmt(atr), "pct": fmt(atr / price * 100, 1)}))

    for n in (20, 50, 200):
        sma = reader.number(f"sma{n}", f"sma.{n}")
        if sma is not None:
            above = price > sma
            signals.append(
                Signal(
                    "trend",
                    1 if above else -1,
                    "above_sma" if above else "below_sma",
                    {"price": shown_price, "n": n, "value": fmt(sma)},
                )
            )
    fast, slow = reader.number("sma50", "sma.50"), reader.number("sma200", "sma.200")
    if fast is not None and slow is not None and abs(fast - slow) < ALIGNMENT_MIN_ATR * atr:
        signals.append(Signal("trend", 0, "sma_intertwined", {"fast": fmt(fast), "slow": fmt(slow)}))
    elif fast is not None and slow is not None:
        bullish = fast > slow
        signals.append(
            Signal(
                "trend",
                1 if bullish else -1,
                "sma_bull_alignment" if bullish else "sma_bear_alignment",
                {"fast": fmt(fast), "slow": fmt(slow)},
            )
        )
    supertrend = reader.raw("supertrend.direction", "supertrenddirection", "supertrend.trend")
    supertrend_value = reader.number("supertrend.value", "supertrend.supertrend", "supertrend.line", "supertrend")
    direction = direction_of(supertrend)
    if direction:
        signals.append(
            Signal(
                "trend",
                direction,
                "supertrend_up" if direction > 0 else "supertrend_down",
                {"value": fmt(supertrend_value) if supertrend_value is not None else "n/a"},
            )
        )
        flip = reader.raw("supertrend.lastflip", "supertrend.flip", "supertrend.lastflipdate", "supertrendlastflip")
        if isinstance(flip, dict):
            flip = flip.get("date") or flip.get("time") or flip.get("t")
        if flip:
            signals.append(Signal("trend", 0, "supertrend_flip", {"date": str(flip)[:10]}))
    # Top level only: "supertrend.trend" is SuperTrend's own reading, counted above.
    trend = direction_of(reader.raw("trend.direction", "trend", nested=False))
    signals.append(Signal("trend", trend, {1: "trend_up", -1: "trend_down", 0: "trend_flat"}[trend]))
    cross = latest_cross(reader.raw("crosses", "cross"))
    if cross:
        kind, date = cross
        signals.append(Signal("trend", kind, "golden_cross" if kind > 0 else "death_cross", {"date": date}))

    macd = reader.number("macd.macd", "macd.value", "macd.line", "macd")
    macd_signal = reader.number("macd.signal", "macdsignal", "signal")
    hist = reader.number("macd.hist", "macd.histogram", "macdhist", "histogram", "hist")
    if hist is None and macd is not None and macd_signal is not None:
        hist = macd - macd_signal
    if hist is not None and hist != 0:
        bullish = hist > 0
        signals.append(
            Signal(
                "momentum",
                1 if bullish else -1,
                "macd_bull" if bullish else "macd_bear",
                {
                    "macd": fmt(macd) if macd is not None else "n/a",
                    "signal": fmt(macd_signal) if macd_signal is not None else "n/a",
                    "hist": fmt(hist),
                },
            )
        )
    rsi = reader.number("rsi14", "rsi.14", "rsi.value", "rsi")
    if rsi is not None:
        zone = (
            ("rsi_overbought", -1)
            if rsi >= 70
            else ("rsi_oversold", 1)
            if rsi <= 30
            else ("rsi_strong", 1)
            if rsi >= 55
            else ("rsi_weak", -1)
            if rsi <= 45
            else ("rsi_neutral", 0)
        )
        signals.append(Signal("momentum", zone[1], zone[0], {"rsi": fmt(rsi, 1)}))

    upper = reader.number("bollinger.upper", "bbupper", "bb.upper", "bollingerupper", "upper")
    lower = reader.number("bollinger.lower", "bblower", "bb.lower", "bollingerlower", "lower")
    if upper is not None and lower is not None and upper > lower:
        if price > upper:
            signals.append(Signal("volatility", -1, "bb_above", {"price": shown_price, "upper": fmt(upper)}))
        elif price < lower:
            signals.append(Signal("volatility", 1, "bb_below", {"price": shown_price, "lower": fmt(lower)}))
        else:
            position = (price - lower) / (upper - lower) * 100
            signals.append(
                Signal(
                    "volatility", 0, "bb_position", {"pct": fmt(position, 0), "lower": fmt(lower), "upper": fmt(upper)}
                )
            )

    supports = [level for level in reader.levels("support", "supports", "recentlow") if level < price]
    resistances = [level for level in reader.levels("resistance", "resistances", "recenthigh") if level > price]
    support = max(supports) if supports else None
    resistance = min(resistances) if resistances else None
    if support is not None:
        signals.append(
            Signal("levels", 0, "support", {"level": fmt(support), "distance": fmt((price - support) / atr, 1)})
        )
    if resistance is not None:
        signals.append(
            Signal(
                "levels", 0, "resistance", {"level": fmt(resistance), "distance": fmt((resistance - price) / atr, 1)}
            )
        )
    if support is None and resistance is None:
        signals.append(Signal("levels", 0, "no_levels"))
    return Timeframe(label, price, atr, support, resistance, signals)


@dataclass
class Outlook:
    decision: str  # BUY | SELL | HOLD
    price: Decimal
    target: Decimal | None
    stop: Decimal | None
    confidence: Decimal
    reason: Signal


def price_places(price: Decimal) -> int:
    return 2 if price >= 1 else 4


def trade_levels(primary: Timeframe, price: Decimal, side: int) -> tuple[Decimal, Decimal]:
    """Unrounded stop and target for a long (+1) or short (-1) entry at `price`."""
    atr = primary.atr
    near_level = primary.support if side > 0 else primary.resistance
    far_level = primary.resistance if side > 0 else primary.support
    if near_level is not None and abs(price - near_level) <= LEVEL_REACH_ATR * atr:
        stop = near_level - side * STOP_BEYOND_LEVEL_ATR * atr
    else:
        stop = price - side * STOP_ATR * atr
    if far_level is not None and abs(far_level - price) > TESTED_LEVEL_ATR * atr:
        target = far_level
    else:
        target = price + side * TARGET_ATR * atr
    return stop, target


def hold(price: Decimal, confidence: str, key: str, params: dict) -> Outlook:
    return Outlook("HOLD", price, None, None, Decimal(confidence), Signal("conclusion", 0, key, params))


def outlook(timeframes: list[Timeframe], language: str) -> Outlook:
    primary = timeframes[0]
    places = price_places(primary.price)
    price = Decimal(fmt(primary.price, places))
    side = primary.bias
    if side == 0:
        return hold(price, "0.50", "hold_weak", {"score": signed(primary.score)})
    if any(frame.bias and frame.bias != side for frame in timeframes):
        detail = text_in(language, WORDS["separator"]).join(
            f"{frame.label} {text_in(language, WORDS['bullish' if frame.bias > 0 else 'bearish'])}"
            for frame in timeframes
            if frame.bias
        )
        return hold(price, "0.60", "hold_conflict", {"detail": detail})
    exact_stop, exact_target = trade_levels(primary, price, side)
    stop, target = Decimal(fmt(exact_stop, places)), Decimal(fmt(exact_target, places))
    side_word = text_in(language, WORDS["long" if side > 0 else "short"])
    if stop <= 0 or target <= 0 or not (stop < price < target if side > 0 else target < price < stop):
        return hold(price, "0.50", "hold_no_room", {"side": side_word})
    # Judged on the exact levels, so cent rounding cannot tip a setup across the threshold.
    if abs(exact_target - price) / abs(price - exact_stop) < MIN_REWARD_RISK:
        reward_risk = abs(target - price) / abs(price - stop)
        params = {"side": side_word, "r": fmt(reward_risk, 2), "target": fmt(target), "stop": fmt(stop)}
        return hold(price, "0.55", "hold_poor_r", params)
    reward_risk = abs(target - price) / abs(price - stop)
    total = abs(sum(frame.score for frame in timeframes))
    confidence = min(Decimal("0.50") + Decimal("0.04") * total, Decimal("0.85"))
    if any(frame.bias == 0 for frame in timeframes):
        confidence -= Decimal("0.10")
    if any(signal.key in ("rsi_overbought", "rsi_oversold") and signal.weight * side < 0 for signal in primary.signals):
        confidence -= Decimal("0.10")
    key = "outlook_buy" if side > 0 else "outlook_sell"
    params = {"price": fmt(price), "stop": fmt(stop), "target": fmt(target), "r": fmt(reward_risk, 2)}
    return Outlook("BUY" if side > 0 else "SELL", price, target, stop, confidence, Signal("conclusion", 0, key, params))


def bias_sentence(frame: Timeframe, language: str) -> str:
    key = {1: "bias_bullish", -1: "bias_bearish", 0: "bias_neutral"}[frame.bias]
    params = {"timeframe": frame.label, "score": signed(frame.score), "bull": frame.count(1), "bear": frame.count(-1)}
    return Signal("conclusion", 0, key, params).sentence(language)


def joined(language: str, sentences) -> str:
    return text_in(language, WORDS["space"]).join(sentences)


def labelled(language: str, label: str, text: str) -> str:
    return f"{label}{text_in(language, WORDS['colon'])}{text}"


def conclusion(timeframes: list[Timeframe], view: Outlook, language: str) -> str:
    return joined(language, [*(bias_sentence(frame, language) for frame in timeframes), view.reason.sentence(language)])


def write_analysis(symbol: str, timeframes: list[Timeframe], view: Outlook, language: str) -> str:
    labels = ", ".join(frame.label for frame in timeframes)
    paragraphs = [text_in(language, WORDS["header"]).format(symbol=symbol, timeframes=labels)]
    several = len(timeframes) > 1
    for section in SECTIONS:
        parts = []
        for frame in timeframes:
            sentences = joined(language, (s.sentence(language) for s in frame.signals if s.section == section))
            if sentences:
                parts.append(labelled(language, frame.label, sentences) if several else sentences)
        if parts:
            paragraphs.append(labelled(language, text_in(language, WORDS[section]), joined(language, parts)))
    paragraphs.append(
        labelled(language, text_in(language, WORDS["conclusion"]), conclusion(timeframes, view, language))
    )
    return "\n\n".join(paragraphs)


def key_factors(timeframes: list[Timeframe], view: Outlook, language: str) -> list[str]:
    """The reason first, then the signals that point the decision's way (both ways for HOLD)."""
    wanted = {"BUY": (1,), "SELL": (-1,), "HOLD": (1, -1)}[view.decision]
    factors = [view.reason.sentence(language)]
    for frame in timeframes:
        for signal in frame.signals:
            if signal.weight in wanted:
                sentence = signal.sentence(language)
                factors.append(labelled(language, frame.label, sentence) if len(timeframes) > 1 else sentence)
    return factors[:6]


def write_decision(timeframes: list[Timeframe], view: Outlook, language: str) -> str:
    def number(value: Decimal | None) -> float | None:
        return float(value) if value is not None else None

    return json.dumps(
        {
            "decision": view.decision,
            "current_price": number(view.price),
            "target_price": number(view.target),
            "stop_loss": number(view.stop),
            "confidence": float(view.confidence),
            "key_factors": key_factors(timeframes, view, language),
            "analysis": conclusion(timeframes, view, language),
        },
        ensure_ascii=False,
        indent=2,
    )


def indicator_summaries(prompt: str) -> list[dict]:
    summaries = []
    for index, block in enumerate(INDICATOR_BLOCK.findall(prompt)):
        try:
            summary = json.loads(block, parse_float=Decimal)
        except json.JSONDecodeError as exc:
            raise ModelError(f"indicator block {index + 1} is not valid JSON: {exc}") from exc
        if not isinstance(summary, dict):
            raise ModelError(f"indicator block {index + 1} is a JSON {type(summary).__name__}, not an object")
        summaries.append(summary)
    return summaries


def prompt_language(prompt: str) -> str:
    matches = LANGUAGE_LINE.findall(prompt)
    return "zh-Hant" if matches and matches[-1].lower() == "zh-hant" else "en"


class OfflineAnalyst:
    """ModelClient that answers from the indicator summaries in the prompt; see the module docstring."""

    provider = "offline"

    def __init__(self):
        self.model = settings.OFFLINE_MODEL_NAME

    def complete(
        self,
        messages: list[dict],
        *,
        temperature: float = 0.2,
        max_tokens: int = 2000,
        images: list[bytes] | None = None,
        json_schema: dict | None = None,
    ) -> Completion:
        prompt = messages_text(messages)
        text = self.answer(prompt, decision=json_schema is not None or DECISION_MARKER in prompt)
        return Completion(
            text=text,
            tokens_in=estimate_tokens(prompt),
            tokens_out=estimate_tokens(text),
            model=self.model,
            provider=self.provider,
        )

    def answer(self, prompt: str, *, decision: bool) -> str:
        market = read_market(prompt)
        if decision:
            return write_decision(market.timeframes, market.view, market.language)
        return write_analysis(market.symbol, market.timeframes, market.view, market.language)


@dataclass
class MarketReading:
    """What the offline analyst reads from a prompt: the instrument, the timeframes and its view of them."""

    symbol: str
    language: str
    timeframes: list[Timeframe]
    view: Outlook


def read_market(prompt: str) -> MarketReading:
    """The offline analyst's reading of the indicator summaries in `prompt`; ModelError when there are none."""
    summaries = indicator_summaries(prompt)
    if not summaries:
        raise ModelError(
            "the offline analyst needs at least one indicator summary between <indicators> and "
            "</indicators> in the prompt (add {{indicators}} to the prompt template)"
        )
    language = prompt_language(prompt)
    price_line = CURRENT_PRICE_LINE.search(prompt)
    price_override = to_decimal(price_line.group(1)) if price_line else None
    timeframes = [
        read_timeframe(summary, index, price_override if index == 0 else None)
        for index, summary in enumerate(summaries)
    ]
    symbol_line = SYMBOL_LINE.search(prompt)
    symbol = (
        symbol_line.group(1)
        if symbol_line
        else SummaryReader(summaries[0]).text("symbol") or text_in(language, WORDS["instrument"])
    )
    return MarketReading(symbol, language, timeframes, outlook(timeframes, language))
