"""Fixtures for agent-team tests: the offline analyst and an execution to log into.

Debates run model calls and tools in threads, which see only committed rows: tests that run a
team use `@pytest.mark.django_db(transaction=True)`.
"""

from decimal import Decimal

import pytest

from agents.team import TeamRequest
from agents.tools import TradingDesk
from broker.risk import RiskConfig
from execution.models import WorkflowExecution
from tests.agents.conftest import BEARISH, BULLISH, FLAT

__all__ = ["BEARISH", "BULLISH", "FLAT"]

# Weekly agrees with daily, so the offline analyst proposes a trade.
BULLISH_WEEKLY = {**BULLISH, "last_close": 110.0, "atr": 4.0, "support": 95.0, "resistance": 130.0}


@pytest.fixture
def offline(settings):
    settings.LLM_PROVIDER = "offline"
    settings.LLM_RETRY_BASE_SECONDS = 0
    settings.TASK_MAX_RETRIES = 2
    return settings


@pytest.fixture
def execution(alice):
    return WorkflowExecution.objects.create(owner=alice, symbols=["AAPL"], params={"symbol_delay": 0})


def desk(symbol="AAPL", equity="100000", summaries=None) -> TradingDesk:
    return TradingDesk(
        symbol=symbol,
        equity=Decimal(equity),
        exposure=Decimal("0"),
        open_positions=0,
        risk_config=RiskConfig(),
        summaries=summaries or {},
    )


def team_request(execution, summaries=None, price="110") -> TeamRequest:
    return TeamRequest(
        symbol="AAPL",
        current_price=Decimal(price),
        summaries=summaries or {"daily": BULLISH, "weekly": BULLISH_WEEKLY},
        execution_id=execution.pk,
        step_id="agent_team",
    )
