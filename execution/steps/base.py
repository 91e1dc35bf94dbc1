"""What every step implementation shares: the per-symbol context and the errors steps raise.

A step is a function `(config, ctx) -> dict`: `config` is the step's config with the
workflow's parameters already substituted, `ctx` the SymbolContext of the symbol being
processed; the returned dict is stored as the StepRun's output. Steps of independent
branches run in threads at the same time, so they write to the context only under
`ctx.lock` and only under their own label.
"""

import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from broker.instruments import qualify_symbol
from execution.steps.inputs import LiveInputs


class StepError(Exception):
    """The step failed; the symbol is recorded as failed and the run goes on with the next symbol.

    `output` keeps what the step had produced before failing (e.g. a sandbox's stdout); the
    message and `output` are the owner's to read. `detail` (e.g. a traceback from inside the
    sandbox) is kept for staff only, beside the step's own traceback.
    """

    def __init__(self, message: str, output: dict | None = None, detail: str = ""):
        super().__init__(message)
        self.output = output or {}
        self.detail = detail


class PermanentStepError(StepError):
    """The step can never succeed as configured (retrying will not help)."""


class StepSkipped(Exception):  # noqa: N818 - a signal, not an error
    """The step had nothing to do (e.g. place_order for a rejected decision); recorded as skipped."""

    def __init__(self, reason: str, output: dict | None = None):
        super().__init__(reason)
        self.reason = reason
        self.output = output or {}


class WaitRequested(Exception):  # noqa: N818 - a signal, not an error
    """The step waits `seconds` before it is done (a `wait` step): the engine schedules its end rather than
    sleeping, and its StepRun stays running until then (see execution.engine)."""

    def __init__(self, seconds: float):
        super().__init__(f"wait {seconds:g} s")
        self.seconds = seconds


class CriticalError(Exception):
    """The whole execution must stop (broker authentication lost, database gone); work done is kept."""


@dataclass
class SymbolContext:
    """Everything the steps of one symbol produce and read, keyed by the producing step's label."""

    execution: Any  # execution.models.WorkflowExecution
    symbol: str
    params: dict
    steps: list[dict] = field(default_factory=list)
    instrument: Any = None  # broker.models.Instrument, qualified by the first step that needs it
    bars: dict = field(default_factory=dict)  # fetch label -> DataFrame
    fetches: dict = field(default_factory=dict)  # fetch label -> {"label", "index", "period", "bar", "summary", …}
    charts: dict = field(default_factory=dict)  # chart label -> broker.models.Chart
    chart_sources: dict = field(default_factory=dict)  # chart label -> the fetch label it was drawn from
    analyses: dict = field(default_factory=dict)  # analysis label -> text
    decision: Any = None  # execution.models.Decision
    verdict: dict | None = None  # the risk verdict's as_dict()
    order: Any = None  # broker.models.Order
    outputs: dict = field(default_factory=dict)  # step id -> output dict
    inputs: Any = field(default_factory=LiveInputs)  # market, account, risk caps and model (see steps/inputs.py)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _running: threading.local = field(default_factory=threading.local, repr=False)

    @contextmanager
    def running(self, step: dict, index: int):
        """Marks `step` as the one this thread runs, so the step can ask for its own id."""
        self._running.step, self._running.index = step, index
        try:
            yield self
        finally:
            self._running.step, self._running.index = None, None

    @property
    def step_id(self) -> str:
        step = getattr(self._running, "step", None)
        return step["id"] if step else ""

    @property
    def step_index(self) -> int | None:
        return getattr(self._running, "index", None)

    def get_instrument(self):
        """The symbol's Instrument, qualified once (through the broker) for all the steps that need it."""
        with self.lock:
            if self.instrument is None:
                self.instrument = qualify_symbol(self.symbol)
            return self.instrument

    def fetch(self, label: str) -> dict:
        with self.lock:
            if label not in self.fetches:
                known = ", ".join(self.fetches) or "none yet"
                raise StepError(f"no bars fetched under the label {label!r} (fetched: {known})")
            return self.fetches[label]

    def summaries(self) -> dict[str, dict]:
        """Indicator summaries by fetch label, in workflow order (the first is the primary timeframe)."""
        with self.lock:
            ordered = sorted(self.fetches.items(), key=lambda item: item[1]["index"])
        return {label: fetch["summary"] for label, fetch in ordered}

    def primary_fetch(self) -> dict:
        with self.lock:
            if not self.fetches:
                raise StepError("no bars were fetched before this step")
            return min(self.fetches.values(), key=lambda fetch: fetch["index"])

    def prompt_context(self) -> dict:
        """Extra names a custom prompt template may use: the parameters and the analyses so far."""
        with self.lock:
            return {**self.params, "analysis": dict(self.analyses)}

    def decision_values(self) -> dict | None:
        decision = self.decision
        if decision is None:
            return None
        return {
            "id": decision.pk,
            "type": decision.type,
            "action": decision.type.upper(),
            "status": decision.status,
            "current_price": _number(decision.current_price),
            "target_price": _number(decision.target_price),
            "stop_loss": _number(decision.stop_loss),
            "confidence": _number(decision.confidence),
            "profit_margin": _number(decision.profit_margin),
            "r_coefficient": _number(decision.r_coefficient),
            "key_factors": list(decision.key_factors or []),
        }

    def values(self) -> dict:
        """A JSON-safe view of the context for condition expressions and custom code."""
        with self.lock:
            order = self.order
            return {
                "symbol": self.symbol,
                "params": dict(self.params),
                "indicators": {label: fetch.get("summary", {}) for label, fetch in self.fetches.items()},
                "analysis": dict(self.analyses),
                "decision": self.decision_values(),
                "risk": dict(self.verdict) if self.verdict else None,
                "order": None
                if order is None
                else {"id": order.pk, "status": order.status, "quantity": _number(order.quantity), "side": order.side},
                "steps": dict(self.outputs),
                **{name: value for name, value in self.params.items() if name not in _RESERVED_NAMES},
            }


_RESERVED_NAMES = {"symbol", "params", "indicators", "analysis", "decision", "risk", "order", "steps"}


def _number(value):
    return None if value is None else float(value)
