"""Prompt templates and their rendering.

Templates use `{{name}}` and `{{a.b}}` placeholders. Context values that are dicts or lists are
rendered as JSON; None renders as an empty string. Substituted values are never scanned again,
so an indicator summary full of braces is safe. A `{{` that does not open a valid placeholder is
an error; a lone `}}` is literal text (JSON examples in a template keep working).

Context names the default templates use: symbol, timeframe, indicators (one or more
`<indicators>` blocks, see `indicator_blocks`), analyses, analysis, current_price,
decision_schema, analysis_language ("en" | "zh-Hant"). The `*_prompt` builders below fill them.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal

from agents.decisions import DECISION_SCHEMA

LANGUAGES = ("en", "zh-Hant")
PLACEHOLDER = re.compile(r"\{\{([^{}]*)\}\}")
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$")


class PromptError(ValueError):
    pass


def lookup(context: dict, name: str):
    value = context
    walked = []
    for part in name.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list | tuple) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            where = f" (no '{part}' in '{'.'.join(walked)}')" if walked else ""
            known = ", ".join(sorted(context)) or "none"
            raise PromptError(f"unknown name '{{{{{name}}}}}'{where}; known names: {known}")
        walked.append(part)
    return value


def as_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, indent=2, ensure_ascii=False, default=str)
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def render_prompt(template: str, context: dict) -> str:
    """Substitute every `{{name}}` / `{{a.b}}` in one pass; PromptError names what is wrong and where."""
    out = []
    position = 0
    for match in PLACEHOLDER.finditer(template):
        literal = template[position : match.start()]
        check_literal(template, literal, position)
        name = match.group(1).strip()
        if not NAME.match(name):
            raise PromptError(f"malformed placeholder {match.group(0)!r} at character {match.start()}")
        out += [literal, as_text(lookup(context, name))]
        position = match.end()
    check_literal(template, template[position:], position)
    out.append(template[position:])
    return "".join(out)


def check_literal(template: str, literal: str, offset: int) -> None:
    opening = literal.find("{{")
    if opening >= 0:
        at = offset + opening
        excerpt = template[at : at + 30]
        raise PromptError(f"unclosed '{{{{' at character {at}: {excerpt!r}")


LANGUAGE_INSTRUCTION = """Language: {{analysis_language}}
Write all prose in the language on the Language line: en = English, zh-Hant = Traditional Chinese (繁體中文).
Keep JSON keys, the decision values BUY/SELL/HOLD and numbers as they are."""

ANALYSIS_PROMPT = (
    """You are an experienced technical analyst.
Symbol: {{symbol}}
Timeframe: {{timeframe}}

The price chart of {{symbol}} on the {{timeframe}} timeframe is attached as an image: candles with the
selected indicators. The indicator values the chart was drawn from are summarised here:

{{indicators}}

Write a structured technical analysis with these sections:
Trend: direction and strength (moving averages, SuperTrend, crosses).
Momentum: MACD and RSI.
Volatility: ATR and the Bollinger bands.
Levels: support and resistance, with distances in ATR.
Conclusion: bullish, bearish or neutral, and why.
"""
    + LANGUAGE_INSTRUCTION
)

CONSOLIDATE_PROMPT = (
    """You are a senior technical analyst consolidating analyses of several timeframes.
Symbol: {{symbol}}

The analyses, one per timeframe:

{{analyses}}

The indicator summaries behind them:

{{indicators}}

Write one consolidated analysis: where the timeframes agree, where they conflict, which timeframe
dominates and why, the key levels, and an overall conclusion (bullish, bearish or neutral).
"""
    + LANGUAGE_INSTRUCTION
)

DECISION_PROMPT = (
    """You are a disciplined trader. Decide BUY, SELL or HOLD for {{symbol}}.
Symbol: {{symbol}}
Current price: {{current_price}}

Consolidated analysis:

{{analysis}}

Indicator summaries:

{{indicators}}

Rules: BUY needs stop_loss < current_price < target_price; SELL needs target_price < current_price < stop_loss.
Use ATR and support/resistance for the levels. Choose HOLD when the signals conflict or the reward/risk
is poor; a HOLD may leave target_price and stop_loss null. confidence is between 0 and 1.

Answer with exactly one JSON object, no other text, matching this JSON schema:
<decision_schema>
{{decision_schema}}
</decision_schema>
"""
    + LANGUAGE_INSTRUCTION
)


def indicator_blocks(summaries: dict[str, dict]) -> str:
    """One `<indicators>` block per timeframe (the first is the primary one), each carrying its timeframe."""
    blocks = []
    for timeframe, summary in summaries.items():
        labelled = {"timeframe": timeframe, **summary} if "timeframe" not in summary else summary
        body = json.dumps(labelled, indent=2, ensure_ascii=False, default=str)
        blocks.append(f"<indicators>\n{body}\n</indicators>")
    return "\n\n".join(blocks)


def checked_language(analysis_language: str) -> str:
    if analysis_language not in LANGUAGES:
        raise PromptError(f"analysis_language must be one of {', '.join(LANGUAGES)}, not {analysis_language!r}")
    return analysis_language


def analysis_prompt(
    *,
    symbol: str,
    timeframe: str,
    summary: dict,
    analysis_language: str = "en",
    template: str | None = None,
    extra: dict | None = None,
) -> str:
    context = {
        **(extra or {}),
        "symbol": symbol,
        "timeframe": timeframe,
        "indicators": indicator_blocks({timeframe: summary}),
        "analysis_language": checked_language(analysis_language),
    }
    return render_prompt(template or ANALYSIS_PROMPT, context)


def consolidate_prompt(
    *,
    symbol: str,
    analyses: dict[str, str],
    summaries: dict[str, dict],
    analysis_language: str = "en",
    template: str | None = None,
    extra: dict | None = None,
) -> str:
    context = {
        **(extra or {}),
        "symbol": symbol,
        "analyses": "\n\n".join(f"--- {timeframe} ---\n{text}" for timeframe, text in analyses.items()),
        "indicators": indicator_blocks(summaries),
        "analysis_language": checked_language(analysis_language),
    }
    return render_prompt(template or CONSOLIDATE_PROMPT, context)


def decision_prompt(
    *,
    symbol: str,
    analysis: str,
    current_price: Decimal | float | str,
    summaries: dict[str, dict],
    analysis_language: str = "en",
    template: str | None = None,
    extra: dict | None = None,
) -> str:
    context = {
        **(extra or {}),
        "symbol": symbol,
        "analysis": analysis,
        "current_price": current_price,
        "indicators": indicator_blocks(summaries),
        "decision_schema": DECISION_SCHEMA,
        "analysis_language": checked_language(analysis_language),
    }
    return render_prompt(template or DECISION_PROMPT, context)
