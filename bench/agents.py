"""One agent-team decision: wall time beside its model calls one after another, with a model of fixed delay.

    .venv/bin/python bench/agents.py [--delay 0.5] [--repeat 3]

Every agent's model is the offline analyst answering after `--delay` seconds. For each team it
prints the model calls' sum (what the turns would take one speaker at a time), the critical path
(per turn the slowest speaker; the analysts of a turn speak at once) and the wall time, whose gap to
the critical path is what the team adds around the model calls (AutoGen's runtime, tools, one
AgentMessage row per message, one LLMCall row per call). The teams: the core team (its four calls
depend on each other: TechnicalAnalyst, the RiskManager's tool call and its reading, the
Executor), the full team with Fundamental and Sentiment, and the full team over two rounds (the
Executor asks for another round before it decides). Runs against a throwaway SQLite database in a
temp dir; set BENCH_DATABASE_URL to measure on PostgreSQL instead.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)  # not bench/: bench/queue.py would shadow the standard library's queue
WORKDIR = tempfile.mkdtemp(prefix="tw-bench-agents-")
os.environ["VAR_DIR"] = WORKDIR
os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{WORKDIR}/bench.sqlite3"
os.environ["REDIS_URL"] = ""
os.environ["LLM_PROVIDER"] = "offline"
os.environ["BROKER_ADAPTER"] = "simulated"
os.environ["LOG_LEVEL"] = "WARNING"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradingweb.settings")

import django  # noqa: E402

django.setup()

from autogen_core.models import CreateResult, RequestUsage  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402

from agents.agent_templates import EXECUTOR  # noqa: E402
from agents.models import AgentMessage, LLMCall  # noqa: E402
from agents.offline_team import OfflineTeamMember  # noqa: E402
from agents.team import TeamRequest, run_team  # noqa: E402
from agents.team_config import AgentSettings, team_settings  # noqa: E402
from agents.tools import TradingDesk  # noqa: E402
from broker.risk import RiskConfig  # noqa: E402
from execution.models import WorkflowExecution  # noqa: E402

SUMMARY = {
    "last_close": 110.0,
    "indicators": {"sma": {"sma_20": 105.0, "sma_50": 100.0, "sma_200": 90.0}, "rsi": {"rsi_14": 62.0},
                   "macd": {"macd": 1.2, "signal": 0.8, "hist": 0.4}},
    "supertrend": {"direction": "up", "value": 104.0},
    "trend": "up",
    "atr14": 2.0,
    "support": 100.0,
    "resistance": 125.0,
}


class DelayedModel(OfflineTeamMember):
    """The offline analyst in a role, answering after a fixed delay like a remote model would.

    As the Executor it asks for another round until it has spoken `rounds` times, then decides.
    """

    def __init__(self, role: str, delay: float, rounds: int):
        super().__init__(role)
        self.delay = delay
        self.rounds_left = rounds

    def respond(self, messages, tools):
        time.sleep(self.delay)
        if self.role == EXECUTOR:
            self.rounds_left -= 1
            if self.rounds_left > 0:
                usage = RequestUsage(prompt_tokens=100, completion_tokens=10)
                return CreateResult(finish_reason="stop", content="Another round, please.", usage=usage, cached=False)
        return super().respond(messages, tools)


def critical_path(execution) -> float:
    """Seconds of model calls on the debate's critical path: per turn, the slowest speaker's calls."""
    per_speaker = {}
    for message in AgentMessage.objects.filter(execution=execution):
        key = (message.round, message.agent_name)
        per_speaker[key] = per_speaker.get(key, 0) + message.latency_ms
    slowest = {}
    for (turn, _), latency in per_speaker.items():
        slowest[turn] = max(slowest.get(turn, 0), latency)
    return sum(slowest.values()) / 1000


def one_decision(owner, settings, delay: float, rounds: int) -> dict:
    execution = WorkflowExecution.objects.create(owner=owner, symbols=["AAPL"])
    request = TeamRequest(symbol="AAPL", current_price=Decimal("110"), summaries={"daily": SUMMARY},
                          execution_id=execution.pk, step_id="agent_team")
    desk = TradingDesk(symbol="AAPL", equity=Decimal("100000"), exposure=Decimal("0"), open_positions=0,
                       risk_config=RiskConfig(), summaries=request.summaries)

    def backend_for(agent: AgentSettings):
        return DelayedModel(agent.name, delay, rounds)

    started = time.perf_counter()
    outcome = run_team(request, settings, desk=desk, backend_for=backend_for)
    wall = time.perf_counter() - started
    calls = LLMCall.objects.filter(execution=execution)
    return {
        "wall": wall,
        "sum": sum(call.latency_ms for call in calls) / 1000,
        "path": critical_path(execution),
        "calls": calls.count(),
        "turns": outcome.turns,
        "decision": outcome.decision["decision"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--delay", type=float, default=0.5, help="seconds each model call takes")
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    call_command("migrate", verbosity=0)
    owner, _ = User.objects.get_or_create(username="bench-agents")
    everyone = {"agents": [{"name": "Fundamental", "enabled": True}, {"name": "Sentiment", "enabled": True}]}
    teams = {
        "core team (3 agents), 1 round": ({}, 1),
        "full team (5 agents), 1 round": (everyone, 1),
        "full team (5 agents), 2 rounds": (everyone, 2),
    }
    print(f"model delay {options.delay:.2f} s per call, median of {options.repeat} decisions each")
    for label, (config, rounds) in teams.items():
        settings = team_settings(config)
        runs = [one_decision(owner, settings, options.delay, rounds) for _ in range(options.repeat)]
        figure = {key: statistics.median(run[key] for run in runs) for key in ("wall", "sum", "path")}
        first = runs[0]
        print(
            f"{label}: {first['calls']} model calls in {first['turns']} turns; "
            f"one after another {figure['sum']:.2f} s, critical path {figure['path']:.2f} s, "
            f"wall {figure['wall']:.2f} s ({figure['wall'] / figure['sum']:.2f}x the calls' sum, "
            f"{figure['wall'] - figure['path']:+.2f} s over the critical path); decision {first['decision']}"
        )


if __name__ == "__main__":
    main()
