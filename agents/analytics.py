"""Agent analytics: which agents of the teams argued for the decisions made, and were they right.

For each debate (an execution and symbol with a final decision) an agent's stance is the last
BUY/SELL/HOLD it stated. Per agent:

- decisions_influenced: debates whose final decision matches the agent's stance;
- accuracy: over debates that led to a closed trade, the share where the agent was right - it
  argued for the trade's side and the trade made money, or argued against it (the other side or
  HOLD) and the trade lost. Only the sign of the realized P&L counts, which is the same in the
  instrument's currency as in the account's, so a trade needs no exchange rate to be scored; a
  trade still open (its realized P&L so far is the entry commission) is not scored yet;
- average_confidence and tokens_used over all its messages.
The most and least valuable agents are ranked by accuracy, then by decisions influenced.
"""

from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Avg, Sum

from agents.models import AgentMessage
from agents.stances import TEAM_SPEAKER
from broker.models import Trade

TRADE_SIDES = {Trade.Direction.LONG: "BUY", Trade.Direction.SHORT: "SELL"}
PLACES = Decimal("0.0001")


def _ratio(part: int, whole: int) -> Decimal | None:
    return (Decimal(part) / Decimal(whole)).quantize(PLACES, ROUND_HALF_UP) if whole else None


def agent_analytics(*, owner=None) -> dict:
    """Per-agent figures over the debates of `owner` (everyone's when None)."""
    messages = AgentMessage.objects.exclude(agent_name=TEAM_SPEAKER).owned_by(owner)
    verdicts = AgentMessage.objects.filter(message_type=AgentMessage.MessageType.DECISION).owned_by(owner)
    finals = {
        (row["execution_id"], row["symbol"]): row["stance"]
        for row in verdicts.order_by("id").values("execution_id", "symbol", "stance")
    }
    stances: dict[str, dict[tuple, str]] = defaultdict(dict)
    for row in messages.exclude(stance="").order_by("id").values("agent_name", "execution_id", "symbol", "stance"):
        stances[row["agent_name"]][(row["execution_id"], row["symbol"])] = row["stance"]
    trades = Trade.objects.filter(decision__isnull=False, exit_at__isnull=False).owned_by(owner)
    outcomes = {
        (row["decision__execution_id"], row["instrument__symbol"]): (TRADE_SIDES[row["direction"]],
                                                                    row["realized_pnl"] > 0)
        for row in trades.values("decision__execution_id", "instrument__symbol", "direction", "realized_pnl")
    }
    usage = {
        row["agent_name"]: row
        for row in messages.values("agent_name").annotate(tokens=Sum("tokens"), confidence=Avg("confidence"))
    }
    agents = []
    for name in sorted(usage):
        agent_stances = stances.get(name, {})
        influenced = sum(1 for debate, side in agent_stances.items() if finals.get(debate) == side)
        scored = [(side, outcomes[debate]) for debate, side in agent_stances.items() if debate in outcomes]
        correct = sum(1 for side, (trade_side, won) in scored if (side == trade_side) == won)
        confidence = usage[name]["confidence"]
        agents.append({
            "agent_name": name,
            "debates": len(agent_stances),
            "decisions_influenced": influenced,
            "trades_scored": len(scored),
            "correct": correct,
            "accuracy": _ratio(correct, len(scored)),
            "average_confidence": Decimal(confidence).quantize(PLACES, ROUND_HALF_UP) if confidence is not None
            else None,
            "tokens_used": usage[name]["tokens"] or 0,
        })
    ranked = sorted(
        (agent for agent in agents if agent["debates"]),
        key=lambda agent: (agent["accuracy"] if agent["accuracy"] is not None else Decimal("-1"),
                           agent["decisions_influenced"]),
    )
    return {
        "agents": agents,
        "most_valuable": ranked[-1]["agent_name"] if ranked else None,
        "least_valuable": ranked[0]["agent_name"] if ranked else None,
        "debates": len(finals),
        "trades_scored": len(outcomes),
    }
