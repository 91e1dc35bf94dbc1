"""One agent-team decision: wall time beside the sum of its model calls, with a model of fixed delay.

    .venv/bin/python bench/agents.py [--delay 0.5] [--optional] [--repeat 3]

Every agent's model is the offline analyst answering after `--delay` seconds, so the figures
show what the team adds around the model calls (AutoGen's runtime, tools, one AgentMessage row
per message, one LLMCall row per call) and what the concurrent openings save: with the optional
Fundamental and Sentiment agents, three openings run at once. Runs against a throwaway SQLite
database in a temp dir; set BENCH_DATABASE_URL to measure on PostgreSQL instead.
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

from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402

from agents.models import LLMCall  # noqa: E402
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
    """The offline analyst in a role, answering after a fixed delay like a remote model would."""

    def __init__(self, role: str, delay: float):
        super().__init__(role)
        self.delay = delay

    def respond(self, messages, tools):
        time.sleep(self.delay)
        return super().respond(messages, tools)


def one_decision(owner, settings, delay: float) -> tuple[float, float, int, str]:
    execution = WorkflowExecution.objects.create(owner=owner, symbols=["AAPL"])
    request = TeamRequest(symbol="AAPL", current_price=Decimal("110"), summaries={"daily": SUMMARY},
                          execution_id=execution.pk, step_id="agent_team")
    desk = TradingDesk(symbol="AAPL", equity=Decimal("100000"), exposure=Decimal("0"), open_positions=0,
                       risk_config=RiskConfig(), summaries=request.summaries)

    def backend_for(agent: AgentSettings):
        return DelayedModel(agent.name, delay)

    started = time.perf_counter()
    outcome = run_team(request, settings, desk=desk, backend_for=backend_for)
    wall = time.perf_counter() - started
    calls = LLMCall.objects.filter(execution=execution)
    return wall, sum(call.latency_ms for call in calls) / 1000, calls.count(), outcome.decision["decision"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--delay", type=float, default=0.5, help="seconds each model call takes")
    parser.add_argument("--optional", action="store_true", help="enable Fundamental and Sentiment too")
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    call_command("migrate", verbosity=0)
    owner, _ = User.objects.get_or_create(username="bench-agents")
    configs = {"core team (3 agents)": {}}
    if options.optional:
        configs["full team (5 agents)"] = {"agents": [{"name": "Fundamental", "enabled": True},
                                                      {"name": "Sentiment", "enabled": True}]}
    print(f"model delay {options.delay:.2f} s per call, {options.repeat} decisions each")
    for label, config in configs.items():
        settings = team_settings(config)
        runs = [one_decision(owner, settings, options.delay) for _ in range(options.repeat)]
        wall = statistics.median(run[0] for run in runs)
        model = statistics.median(run[1] for run in runs)
        print(
            f"{label}: wall {wall:.2f} s per decision beside {model:.2f} s in {runs[0][2]} model calls "
            f"(overhead {wall - model:+.2f} s, {(wall / model if model else 0):.2f}x the calls' sum); "
            f"decision {runs[0][3]}"
        )


if __name__ == "__main__":
    main()
