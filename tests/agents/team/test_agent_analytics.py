"""Agent analytics: decisions influenced, accuracy against trade outcomes, confidence, tokens."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from agents.analytics import agent_analytics
from agents.models import AgentMessage
from broker.models import Instrument, Trade
from execution.models import Decision, WorkflowExecution

AT = datetime(2025, 3, 3, 15, 0, tzinfo=UTC)


def _debate(owner, instrument, stances: dict[str, tuple[str, str]], final: str, pnl: str | None):
    """One execution where each agent argued a (stance, confidence), the Executor decided `final`, traded `pnl`."""
    execution = WorkflowExecution.objects.create(owner=owner, symbols=[instrument.symbol])
    for agent, (stance, confidence) in stances.items():
        AgentMessage.objects.create(execution=execution, symbol=instrument.symbol, round=1, agent_name=agent,
                                    content=f"Stance: {stance}", stance=stance, confidence=Decimal(confidence),
                                    tokens=100)
    AgentMessage.objects.create(execution=execution, symbol=instrument.symbol, round=3, agent_name="Executor",
                                message_type="decision", content="FINAL DECISION {}", stance=final,
                                confidence=Decimal("0.8"), tokens=300)
    decision = Decision.objects.create(execution=execution, instrument=instrument, type=final.lower(),
                                       current_price=Decimal("100"))
    if pnl is not None:
        Trade.objects.create(owner=owner, instrument=instrument, decision=decision, direction="long",
                             quantity=Decimal("10"), entry_price=Decimal("100"), entry_at=AT, exit_at=AT,
                             exit_price=Decimal("100") + Decimal(pnl) / 10, realized_pnl=Decimal(pnl))
    return execution


@pytest.fixture
def history(alice, bob):
    aapl = Instrument.objects.create(symbol="AAPL", conid=265598)
    # A winning long: the TechnicalAnalyst argued BUY, the RiskManager HOLD.
    _debate(alice, aapl, {"TechnicalAnalyst": ("BUY", "0.8"), "RiskManager": ("HOLD", "0.6")}, "BUY", "50")
    # A losing long: both argued BUY.
    _debate(alice, aapl, {"TechnicalAnalyst": ("BUY", "0.6"), "RiskManager": ("BUY", "0.4")}, "BUY", "-30")
    # A winning long in bob's account: the RiskManager argued SELL.
    _debate(bob, aapl, {"TechnicalAnalyst": ("BUY", "0.7"), "RiskManager": ("SELL", "0.9")}, "BUY", "20")


def _by_agent(report):
    return {agent["agent_name"]: agent for agent in report["agents"]}


def test_it_scores_agents_against_the_trades_their_debates_led_to(alice, history):
    report = agent_analytics(owner=alice)

    agents = _by_agent(report)
    analyst, risk = agents["TechnicalAnalyst"], agents["RiskManager"]
    assert analyst["decisions_influenced"] == 2 and risk["decisions_influenced"] == 1
    assert analyst["trades_scored"] == risk["trades_scored"] == 2
    assert analyst["accuracy"] == Decimal("0.5000")  # right on the winner, wrong on the loser
    assert risk["accuracy"] == Decimal("0.0000")  # against the winner, for the loser
    assert analyst["average_confidence"] == Decimal("0.7000") and analyst["tokens_used"] == 200
    assert agents["Executor"]["tokens_used"] == 600
    assert report["least_valuable"] == "RiskManager"
    assert report["debates"] == 2 and report["trades_scored"] == 2


def test_staff_see_every_traders_debates(history):
    assert agent_analytics()["debates"] == 3


def test_the_api_answers_for_the_caller_only(alice_api, bob_api, staff_api, history):
    assert alice_api.get("/api/autogen/agent-analytics/").json()["debates"] == 2
    assert bob_api.get("/api/autogen/agent-analytics/").json()["debates"] == 1
    assert staff_api.get("/api/autogen/agent-analytics/").json()["debates"] == 3


def test_a_trade_still_open_is_not_scored_as_a_loss(alice, history):
    """An open trade's realized P&L so far is its entry commission: negative, yet nothing was lost or won."""
    aapl = Instrument.objects.get(symbol="AAPL")
    execution = _debate(alice, aapl, {"TechnicalAnalyst": ("BUY", "0.9")}, "BUY", None)
    Trade.objects.create(owner=alice, instrument=aapl, decision=execution.decisions.get(), direction="long",
                         quantity=Decimal("10"), entry_price=Decimal("100"), entry_at=AT, realized_pnl=Decimal("-1"))

    report = agent_analytics(owner=alice)

    assert report["trades_scored"] == 2
    assert _by_agent(report)["TechnicalAnalyst"]["accuracy"] == Decimal("0.5000")


def test_a_winning_trade_in_another_currency_is_scored_without_an_exchange_rate(alice):
    sap = Instrument.objects.create(symbol="SAP", conid=14204, primary_exchange="IBIS", currency="EUR")
    _debate(alice, sap, {"TechnicalAnalyst": ("BUY", "0.8")}, "BUY", "995")  # booked with no EURUSD rate

    assert _by_agent(agent_analytics(owner=alice))["TechnicalAnalyst"]["accuracy"] == Decimal("1.0000")
