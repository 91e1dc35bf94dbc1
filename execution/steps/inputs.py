"""Where the steps' outside inputs come from: the market, the account, the risk caps and the model.

A run asks `ctx.inputs` for them. `LiveInputs` asks the broker, the chart renderer, the staff's
risk limits and the configured model client; a replay (execution/replay.py) hands the steps the
same things frozen from the run it replays. The steps never ask which one they have.
"""

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import pandas as pd

from agents.clients import ModelClient
from broker.adapters import get_adapter
from broker.contract_value import exposure, instrument_unit_value
from broker.marketdata import MarketReference, get_bars, market_reference
from broker.models import Chart, RiskLimits
from broker.risk import RiskConfig
from execution.dispatch import render_chart


@dataclass(frozen=True)
class AccountState:
    """What the risk check needs of the account: equity, open exposure and the number of open positions,
    in the account's currency, and what a price move of 1 of the symbol's contract is worth in it."""

    equity: Decimal
    exposure: Decimal
    open_positions: int
    unit_value: Decimal = Decimal("1")


@dataclass(frozen=True)
class ChartRequest:
    period: str
    bar: str
    bars: pd.DataFrame
    indicators: list[str] | None
    width: int | None
    height: int | None


class LiveInputs:
    """The inputs of a normal run: everything is asked for now."""

    asks_for_approval = True  # a person answers before a decision needing approval is ordered

    def bars(self, ctx, period: str, bar: str) -> pd.DataFrame:
        return get_bars(ctx.get_instrument(), period, bar)

    def reference(self, ctx) -> MarketReference:
        """The market price now: the broker's quote, else the last close of the freshest bars fetched."""
        with ctx.lock:
            bars = list(ctx.bars.values())
        return market_reference(ctx.get_instrument(), bars)

    def chart(self, ctx, request: ChartRequest) -> Chart:
        """Drawn by a cpu worker when there is one (execution.dispatch)."""
        return render_chart(
            ctx.get_instrument(),
            request.period,
            request.bar,
            request.bars,
            indicators=request.indicators,
            width=request.width,
            height=request.height,
        )

    def risk_limits(self, ctx, step_config: RiskConfig) -> tuple[RiskConfig, bool]:
        """The step's limits tightened by the staff's global caps, and whether the kill switch is on."""
        limits = RiskLimits.current()
        return step_config.capped_by(limits), limits.kill_switch

    def account(self, ctx) -> AccountState:
        """Raises contract_value.ExchangeRateUnknown when a currency involved has no rate from the broker."""
        adapter = get_adapter()
        summary = adapter.account_summary()
        positions = [position for position in adapter.positions() if position.quantity]
        return AccountState(
            equity=summary.equity,
            exposure=exposure(positions, summary),
            open_positions=len(positions),
            unit_value=instrument_unit_value(ctx.get_instrument(), summary),
        )

    def model_client(self, ctx, model: str | None) -> ModelClient | None:
        """None: agents.calls picks the configured client for `model`."""
        return None

    def agent_backends(self, ctx) -> Callable | None:
        """None: each agent of a team gets its configured model (agents.team.configured_backend)."""
        return None
