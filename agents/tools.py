"""The tools agents may call: risk calculator, position sizer, market data, fundamentals, news, Python.

Each tool is a plain function bound to one `TradingDesk` (the symbol, the account and the risk
settings of the run) and handed to AutoGen as a `FunctionTool`; its name, argument names and
docstring are what the model sees. Tools answer JSON text. Bad arguments come back as
`{"error": ...}` so the model can correct itself instead of the run failing.

Fundamentals and news come from pluggable providers (dotted paths in settings); with none
configured the tools say so honestly: they never make data up.
"""

import functools
import inspect
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from autogen_core.tools import FunctionTool
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connections
from django.utils.module_loading import import_string

from broker.adapters import get_adapter
from broker.contract_value import exposure, instrument_unit_value
from broker.indicators import indicator_summary
from broker.instruments import qualify_symbol
from broker.marketdata import get_bars
from broker.models import RiskLimits
from broker.risk import RiskConfig, evaluate_trade, position_size

CENT = Decimal("0.01")
MAX_CODE_ATTEMPTS = 3
# Code results larger than this are stored as a file; the agent gets a reference.
MAX_INLINE_RESULT_BYTES = 1024 * 1024
# What a code runner receives and returns: (code, inputs) -> JSON-safe dict with at least "ok".
CodeRunner = Callable[[str, dict], dict]


@dataclass
class TradingDesk:
    """What the tools of one team run know: the symbol, the account and the risk settings."""

    symbol: str
    equity: Decimal
    exposure: Decimal
    open_positions: int
    risk_config: RiskConfig
    summaries: dict = field(default_factory=dict)  # timeframe label -> indicator summary
    unit_value: Decimal = Decimal("1")  # a price move of 1 of one contract, in the account's currency
    execution_id: int | None = None
    code_runner: CodeRunner | None = None
    code_inputs: dict = field(default_factory=dict)
    code_attempts: int = 0


def trading_desk(
    *,
    symbol: str,
    summaries: dict,
    risk_config: RiskConfig | None = None,
    execution_id: int | None = None,
    code_runner: CodeRunner | None = None,
    code_inputs: dict | None = None,
    instrument=None,
) -> TradingDesk:
    """A desk with the account as the broker reports it now and risk limits capped by the staff's caps.

    `instrument` (the symbol's Instrument) prices its contract through its multiplier and currency.
    """
    adapter = get_adapter()
    account = adapter.account_summary()
    positions = [position for position in adapter.positions() if position.quantity]
    return TradingDesk(
        symbol=symbol,
        equity=account.equity,
        exposure=exposure(positions, account),
        open_positions=len(positions),
        unit_value=instrument_unit_value(instrument, account) if instrument is not None else Decimal("1"),
        risk_config=(risk_config or RiskConfig()).capped_by(RiskLimits.current()),
        summaries=summaries,
        execution_id=execution_id,
        code_runner=code_runner,
        code_inputs=code_inputs or {},
    )


def as_json(value) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


def _money(value: Decimal) -> str:
    return str(value.quantize(CENT))


def _positive(value, name: str) -> Decimal:
    number = Decimal(str(value))
    if not number.is_finite() or number <= 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return number


def risk_calculator(desk: TradingDesk, side: str, entry_price: float, target_price: float, stop_loss: float) -> str:
    """Reward/risk of a proposed trade: R coefficient, position size, amount at risk and profit potential.

    side is "buy" or "sell". BUY needs stop_loss < entry_price < target_price, SELL the reverse.
    """
    side = (side or "").strip().lower()
    if side not in ("buy", "sell"):
        raise ValueError(f"side must be 'buy' or 'sell', got {side!r}")
    price = _positive(entry_price, "entry_price")
    target = _positive(target_price, "target_price")
    stop = _positive(stop_loss, "stop_loss")
    verdict = evaluate_trade(
        side=side,
        price=price,
        target=target,
        stop=stop,
        equity=desk.equity,
        exposure=desk.exposure,
        open_positions=desk.open_positions,
        config=desk.risk_config,
        unit_value=desk.unit_value,
    )
    profit_potential = None
    if verdict.r_coefficient is not None:
        profit_potential = verdict.quantity * abs(target - price) * desk.unit_value
    return as_json({
        "symbol": desk.symbol,
        "side": side,
        "r_coefficient": verdict.r_coefficient,
        "position_size": verdict.quantity,
        "risk_amount": verdict.risk_amount,
        "profit_potential": _money(profit_potential) if profit_potential is not None else None,
        "profit_margin": verdict.profit_margin,
        "acceptable": verdict.approved,
        "reasons": verdict.reasons,
        "warnings": verdict.warnings,
        "min_r_coefficient": desk.risk_config.min_r_coefficient,
    })


def position_sizer(desk: TradingDesk, entry_price: float, stop_loss: float) -> str:
    """Shares to trade so that hitting the stop loses the risk budget (equity x risk_per_trade), within the cap."""
    price = _positive(entry_price, "entry_price")
    stop = _positive(stop_loss, "stop_loss")
    if price == stop:
        raise ValueError("stop_loss must differ from entry_price")
    quantity = position_size(
        equity=desk.equity, price=price, stop=stop, config=desk.risk_config, unit_value=desk.unit_value
    )
    return as_json({
        "symbol": desk.symbol,
        "quantity": quantity,
        "risk_amount": _money(quantity * abs(price - stop) * desk.unit_value),
        "position_value": _money(quantity * price * desk.unit_value),
        "equity": _money(desk.equity),
        "risk_per_trade": desk.risk_config.risk_per_trade,
        "max_position_pct": desk.risk_config.max_position_pct,
    })


def market_data(desk: TradingDesk, period: str = "6m", bar: str = "1d") -> str:
    """A snapshot of the symbol's market: last close, trend, ATR(14), support, resistance and indicators.

    period: 1d 5d 1w 1m 3m 6m 1y 2y 5y 10y; bar: e.g. 1h 1d 1w 1M.
    """
    bars = get_bars(qualify_symbol(desk.symbol), period, bar)
    return as_json({"symbol": desk.symbol, "period": period, "bar": bar, **indicator_summary(bars)})


def _provided(setting: str, what: str, symbol: str) -> str:
    path = getattr(settings, setting)
    if not path:
        return as_json({
            "symbol": symbol,
            "available": False,
            "message": f"No {what} data provider is configured ({setting} is empty), so there is no {what} "
            f"data for {symbol}. Do not assume any.",
        })
    return as_json({"symbol": symbol, "available": True, **import_string(path)(symbol)})


def fundamentals(desk: TradingDesk) -> str:
    """Fundamental data of the symbol (valuation, earnings, growth) from the configured provider, if any."""
    return _provided("AGENT_FUNDAMENTALS_PROVIDER", "fundamentals", desk.symbol)


def news_sentiment(desk: TradingDesk) -> str:
    """Recent news and their sentiment for the symbol from the configured provider, if any."""
    return _provided("AGENT_NEWS_PROVIDER", "news", desk.symbol)


def run_python(desk: TradingDesk, code: str) -> str:
    """Run Python (numpy, pandas, scipy; no network) in the sandbox. `inputs` holds the indicator summaries.

    Assign the answer to a variable named `result`. At most 3 runs per debate.
    """
    if desk.code_runner is None:
        raise ValueError("code execution is off for this team")
    if desk.code_attempts >= MAX_CODE_ATTEMPTS:
        raise ValueError(f"the {MAX_CODE_ATTEMPTS} code runs of this debate are used up")
    desk.code_attempts += 1
    outcome = desk.code_runner(code, {"symbol": desk.symbol, "indicators": desk.summaries, **desk.code_inputs})
    text = as_json(outcome)
    if len(text.encode()) <= MAX_INLINE_RESULT_BYTES:
        return text
    name = default_storage.save(f"agent_code/{desk.execution_id or 'adhoc'}/{uuid.uuid4().hex}.json",
                                ContentFile(text.encode()))
    return as_json({
        "ok": outcome.get("ok"),
        "stored": True,
        "size_bytes": len(text.encode()),
        "reference": name,
        "message": "The result is larger than 1 MB and was stored; only its reference is shown.",
    })


TOOLS: dict[str, Callable[..., str]] = {
    "risk_calculator": risk_calculator,
    "position_sizer": position_sizer,
    "market_data": market_data,
    "fundamentals": fundamentals,
    "news_sentiment": news_sentiment,
    "run_python": run_python,
}


def bind_tool(name: str, desk: TradingDesk) -> FunctionTool:
    """The named tool as an AutoGen FunctionTool working on `desk`; the model sees the arguments after `desk`.

    AutoGen runs sync tools in a pool thread, so the tool closes that thread's database connection
    when done. Bad arguments are answered as {"error": ...} for the model to correct.
    """
    if name not in TOOLS:
        raise ValueError(f"unknown tool {name!r}; known: {', '.join(TOOLS)}")
    tool = TOOLS[name]

    def run(**arguments) -> str:
        try:
            return tool(desk, **arguments)
        except (ValueError, ArithmeticError) as exc:
            return as_json({"error": str(exc)})
        finally:
            connections.close_all()

    functools.update_wrapper(run, tool)
    signature = inspect.signature(tool)
    run.__signature__ = signature.replace(parameters=list(signature.parameters.values())[1:])
    return FunctionTool(run, description=" ".join(tool.__doc__.split()), name=name)
