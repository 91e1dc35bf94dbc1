"""The analysts of a turn speak at once, in every round: their model calls are in flight together, and the
debate keeps its order.

A fake OpenAI-compatible server plays every agent; the Executor asks for a second round before it
decides. Each analyst's call waits at a barrier for all the analysts' calls, so none is answered
unless the three are in flight together (a debate that calls them one by one fails: the barrier
breaks and the analysts are left out). Past the barrier they are answered last first, yet the
conversation is stored, and read by the RiskManager, in speaking order.
"""

import json
import threading
from collections import Counter

import pytest

from agents.models import AgentMessage, LLMCall, ModelProvider
from agents.stances import FINAL_DECISION_MARKER, stance_lines
from agents.team import run_team
from agents.team_config import team_settings
from tests.agents.team.conftest import desk, team_request
from tests.support.fake_openai import fake_openai_server

ANALYSTS = ("TechnicalAnalyst", "Fundamental", "Sentiment")
WAIT = 20  # seconds a call waits for the others before the test counts it as not concurrent
DECISION = {
    "decision": "BUY", "current_price": 110, "target_price": 125, "stop_loss": 104, "confidence": 0.7,
    "key_factors": ["trend up"], "analysis": "The team agrees on a long.",
}
ANSWERS = {
    "TechnicalAnalyst": f"The trend is up on both timeframes.\n\n{stance_lines('BUY', '0.7')}",
    "Fundamental": f"No fundamental data moves me.\n\n{stance_lines('', None)}",
    "Sentiment": f"News flow is mildly positive.\n\n{stance_lines('BUY', '0.6')}",
    "RiskManager": f"A long at 110 with a stop at 104 risks 1 % of equity.\n\n{stance_lines('BUY', '0.7')}",
    "Executor": f"{FINAL_DECISION_MARKER}\n{json.dumps(DECISION)}",
}
ANOTHER_ROUND = "Before I decide: does the trend hold? Everyone, once more."


class Panel:
    """Answers as the agent whose system prompt the request carries; analysts only all together."""

    def __init__(self):
        self.barrier = threading.Barrier(len(ANALYSTS), timeout=WAIT)
        self.lock = threading.Lock()
        self.calls = Counter()
        self.answered: dict[tuple[str, int], threading.Event] = {}
        self.risk_manager_heard: list[list[str]] = []

    def __call__(self, body: dict) -> str:
        system = body["messages"][0]["content"]
        agent = next(name for name in ANSWERS if system.startswith(f"You are the {name}"))
        with self.lock:
            self.calls[agent] += 1
            turn = self.calls[agent]
        if agent in ANALYSTS:
            self.barrier.wait()
            for later in ANALYSTS[ANALYSTS.index(agent) + 1:]:
                self.answer_of(later, turn).wait(WAIT)
            self.answer_of(agent, turn).set()
        if agent == "RiskManager":
            self.risk_manager_heard.append([message.get("name", message["role"]) for message in body["messages"][1:]])
        if agent == "Executor" and turn == 1:
            return ANOTHER_ROUND
        return ANSWERS[agent]

    def answer_of(self, agent: str, turn: int) -> threading.Event:
        with self.lock:
            return self.answered.setdefault((agent, turn), threading.Event())


def round_of(analysts_turn: int) -> list[tuple]:
    """(round, agent, message type, content) of the analysts' turn and the RiskManager's after it."""
    speakers = [(analysts_turn, name) for name in ANALYSTS] + [(analysts_turn + 1, "RiskManager")]
    return [(turn, name, "text", ANSWERS[name]) for turn, name in speakers]


@pytest.mark.django_db(transaction=True)
def test_the_analysts_models_answer_together_and_the_conversation_keeps_speaking_order(offline, execution):
    panel = Panel()
    with fake_openai_server(panel) as server:
        ModelProvider.objects.create(name="panel", base_url=server.url, allowed_models=["gpt-4o"])
        offline.LLM_PROVIDER = "openai"
        offline.LLM_TIMEOUT = 2 * WAIT
        everyone = {"provider": "panel", "model": "gpt-4o",
                    "agents": [{"name": "Fundamental", "enabled": True}, {"name": "Sentiment", "enabled": True}]}

        outcome = run_team(team_request(execution), team_settings(everyone), desk=desk())

    assert outcome.left_out == {}
    assert outcome.consensus and outcome.decision["decision"] == "BUY" and outcome.turns == 6
    conversation = AgentMessage.objects.filter(execution=execution).order_by("id")
    assert [(m.round, m.agent_name, m.message_type, m.content) for m in conversation] == [
        *round_of(1), (3, "Executor", "text", ANOTHER_ROUND), *round_of(4),
        (6, "Executor", "decision", ANSWERS["Executor"]),
    ]
    # The RiskManager's context, in speaking order both times ("assistant": its own first answer).
    assert panel.risk_manager_heard == [["user", *ANALYSTS], ["user", *ANALYSTS, "assistant", "Executor", *ANALYSTS]]
    calls = LLMCall.objects.filter(execution=execution)
    assert Counter(calls.values_list("agent_name", flat=True)) == dict.fromkeys([*ANSWERS], 2)
    assert all(not call.error for call in calls)
