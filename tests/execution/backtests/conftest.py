"""Backtests of a small single-timeframe workflow (3 months of daily bars) on two simulated symbols."""

from datetime import date
from decimal import Decimal

import pytest

from execution.backtests.services import backtest_create
from tests.execution.conftest import make_strategy, make_workflow, workflow_from_template

STEPS = [
    {"id": "fetch", "type": "fetch_data", "name": "Daily", "config": {"label": "daily", "period": "3m", "bar": "1d",
                                                                       "indicators": ["sma", "rsi", "atr"]}},
    {"id": "chart", "type": "generate_chart", "name": "Chart", "config": {"label": "daily", "source": "daily"}},
    {"id": "analyze", "type": "ai_analyze", "name": "Analyze", "config": {"label": "daily", "input": "daily"}},
    {"id": "decide", "type": "decide", "name": "Decide", "config": {"input": "daily"}},
    {"id": "risk", "type": "validate_risk", "name": "Risk", "config": {"min_r_coefficient": 0.5,
                                                                        "min_profit_margin": 0.01}},
    {"id": "order", "type": "place_order", "name": "Order", "config": {"order_type": "MKT", "tif": "DAY"}},
]  # fmt: skip


def small_workflow(owner, steps=STEPS):
    return make_workflow(owner, steps, name="Backtested")


def new_backtest(owner, workflow=None, *, start=date(2024, 3, 1), end=date(2024, 3, 8), every="1d", **overrides):
    workflow = workflow or small_workflow(owner)
    strategy = make_strategy(owner, workflow, symbols=["AAPL", "MSFT"])
    values = {"model": "", "initial_cash": Decimal("100000"), "commission": Decimal("0.005"),
              "slippage_bps": Decimal("5"), **overrides}  # fmt: skip
    return backtest_create(owner=owner, workflow=workflow, strategy=strategy, start=start, end=end, every=every,
                           **values)  # fmt: skip


@pytest.fixture
def template_workflow(alice):
    return workflow_from_template(alice, "single_timeframe")
