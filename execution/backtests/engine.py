"""Running a backtest: at each decision point the pinned version's real steps, then the ledger.

At a point t (execution.backtests.calendar) every symbol goes through the version's steps, in
workflow order, with a SymbolContext whose inputs are `PointInTimeInputs`: bars completed by t
(from the simulated exchange's deterministic price paths), charts and indicators drawn from those
bars, the market reference as their last close, and the account as the backtest's own ledger has
it at t. The steps run on a dry-run WorkflowExecution inside a transaction that is rolled back, so
no execution, decision, chart or model-call row of theirs remains; what they decided is kept as
BacktestDecision rows, and the order place_order would have sent goes to the ledger at t.

A point is stored in one transaction: its BacktestPoint (the ledger at t), its decisions, its orders on the
ledger and the model-call tally, under the run's lease (execution.leases.claim_backtest). The ledger's
fills are matched lazily up to a moment and never again, so after the last stored point the ledger is
what it was when that point was stored: a worker that takes over a backtest whose worker died goes on
from there, and computes no stored point again.

The ledger is a simulated exchange account of the backtest's own (Backtest.ledger_account_id):
its orders fill on the minute bars after t through the exchange's matching (limits, stops,
brackets, partial fills by volume), with the backtest's commission and slippage. Points run in
order, since the account at t depends on the fills before it. A `wait` step does not wait (time
passes between points, not inside them). The cancel flag (and the loss of the lease) is read between
points; a cancelled backtest keeps the points it computed, with their results.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import pandas as pd
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from agents.answer_cache import AnswerBook, CachingClient
from agents.calls import get_model_client
from broker.adapters import BrokerError, OrderRequest
from broker.charts import render_chart
from broker.contract_value import exposure
from broker.marketdata import MarketReference, ReferenceUnavailable, bars_reference, bars_to_frame
from broker.models import Chart, RiskLimits
from broker.risk import RiskConfig
from broker.simulation import SimulatedExchange, generate_bars
from broker.timeframes import validate_timeframe
from execution import leases, progress
from execution.backtests.calendar import decision_points
from execution.backtests.results import PointMark, backtest_report
from execution.graph import build_graph
from execution.models import Backtest, BacktestDecision, BacktestPoint, Decision, WorkflowExecution
from execution.steps import get_step
from execution.steps.base import StepError, StepSkipped, SymbolContext
from execution.steps.inputs import AccountState, ChartRequest, LiveInputs
from workflows.parameters import merge_parameters, resolve_config
from workflows.steps import STEP_TYPES

logger = logging.getLogger(__name__)

STEPS_NOT_RUN = ("wait",)  # time passes between decision points, not inside them


def backtest_exchange(backtest: Backtest) -> SimulatedExchange:
    """The backtest's own ledger: an account of the simulated exchange that nothing else uses."""
    return SimulatedExchange(
        account_id=backtest.ledger_account_id,
        starting_cash=backtest.initial_cash,
        commission_per_share=backtest.commission,
        slippage_bps=backtest.slippage_bps,
    )


def account_at(exchange: SimulatedExchange, moment: datetime) -> AccountState:
    """The ledger at `moment`: every order matched against the bars completed by then, positions at cost."""
    summary = exchange.account_summary(now=moment)
    positions = exchange.positions(now=moment)
    return AccountState(equity=summary.equity, exposure=exposure(positions, summary), open_positions=len(positions))


class PointInTimeInputs(LiveInputs):
    """The steps' inputs at decision point `point`: nothing completed after it is seen."""

    asks_for_approval = False

    def __init__(self, point: datetime, account: AccountState, model: str, answers: AnswerBook):
        self.point = point
        self.account_state = account
        self.model = model
        self.answers = answers
        self.drawn: list[str] = []  # chart files stored at this point; their rows are rolled back with it

    def bars(self, ctx, period: str, bar: str) -> pd.DataFrame:
        errors = validate_timeframe(period, bar)
        if errors:
            raise StepError("; ".join(errors))
        return bars_to_frame(generate_bars(ctx.symbol, period, bar, end=self.point))

    def reference(self, ctx) -> MarketReference:
        with ctx.lock:
            reference = bars_reference(list(ctx.bars.values()))
        if reference is None:
            raise ReferenceUnavailable(f"no bars of {ctx.symbol} completed by {self.point.isoformat()}")
        return reference

    def chart(self, ctx, request: ChartRequest) -> Chart:
        chart = render_chart(
            ctx.get_instrument(), request.period, request.bar, request.bars, request.indicators,
            request.width, request.height,
        )  # fmt: skip
        self.drawn.append(chart.image.name)
        return chart

    def risk_limits(self, ctx, step_config: RiskConfig) -> tuple[RiskConfig, bool]:
        """The staff's caps hold in a backtest too; the kill switch stops live orders, not a simulation."""
        return step_config.capped_by(RiskLimits.current()), False

    def account(self, ctx) -> AccountState:
        return self.account_state

    def model_client(self, ctx, model: str | None):
        """The backtest's model when it names one, else the step's; answered from the cache when asked before."""
        provider = "" if self.model else str(ctx.steps[ctx.step_index]["config"].get("provider") or "")
        return CachingClient(get_model_client(self.model or model, provider), self.answers)

    def agent_backends(self, ctx):
        raise StepError("agent_team steps are not backtested")


@dataclass
class SymbolDecision:
    """What the steps decided for one symbol at one point, kept once the point's transaction is rolled back."""

    symbol: str
    type: str = Decision.Type.HOLD
    status: str = Decision.Status.PROPOSED
    reference_price: Decimal | None = None
    target_price: Decimal | None = None
    stop_loss: Decimal | None = None
    quantity: Decimal | None = None
    confidence: Decimal | None = None
    r_coefficient: Decimal | None = None
    analysis_text: str = ""
    rejection_reasons: list = field(default_factory=list)
    error: str = ""
    order: dict | None = None  # place_order's confirmation (a dry run's), for the ledger

    @classmethod
    def of(cls, symbol: str, decision: Decision | None, error: str, order: dict | None) -> "SymbolDecision":
        if decision is None:
            return cls(symbol=symbol, error=error)
        return cls(
            symbol=symbol, type=decision.type, status=decision.status, reference_price=decision.reference_price,
            target_price=decision.target_price, stop_loss=decision.stop_loss, quantity=decision.quantity,
            confidence=decision.confidence, r_coefficient=decision.r_coefficient,
            analysis_text=decision.analysis_text, rejection_reasons=list(decision.rejection_reasons or []),
            error=error, order=order,
        )  # fmt: skip


def backtest_params(backtest: Backtest) -> dict:
    strategy_params = (backtest.strategy.params or {}) if backtest.strategy else {}
    return merge_parameters(backtest.version.parameters, strategy_params, {})


def _resolved(step: dict, params: dict) -> dict:
    step_type = STEP_TYPES.get(step.get("type"))
    config = resolve_config(step.get("config") or {}, params)
    return {**step, "config": step_type.with_defaults(config) if step_type else config}


class BacktestRun:
    """One backtest, point after point (see the module doc). `run()` is what the task calls, and tests."""

    def __init__(self, backtest: Backtest):
        self.backtest = backtest
        self.exchange = backtest_exchange(backtest)
        self.params = {**backtest_params(backtest), "symbol_delay": 0}
        self.steps = [_resolved(step, self.params) for step in backtest.version.steps]
        self.graph = build_graph(self.steps)
        self.points = decision_points(backtest.start, backtest.end, backtest.every)
        self.answers = AnswerBook(
            calls=backtest.model_calls,
            cached_calls=backtest.cached_calls,
            cost=backtest.cost or Decimal("0"),
            cost_known=backtest.cost is not None or not backtest.model_calls,
        )
        self.lease: leases.HeldLease | None = None

    def run(self) -> Backtest:
        """Run it from its first point not yet stored. Raises leases.ExecutionHeld when another worker runs it."""
        backtest = self.backtest
        claim = leases.claim_backtest(backtest)
        if claim.finished:
            logger.info("Backtest %s is %s; not run again", backtest.pk, backtest.status)
            return backtest
        stored = list(backtest.points.values_list("point", flat=True))
        if claim.taken_over:
            logger.warning("Backtest %s lost its worker after %d of %d points; going on from there",
                           backtest.pk, len(stored), len(self.points))  # fmt: skip
        if claim.settle_status:
            return self._finish(claim.settle_status, self._kept(claim.error, len(stored)))
        self.lease = leases.hold_lease(backtest)
        try:
            return self._run_points(set(stored))
        finally:
            self.lease.release()

    def _run_points(self, stored: set[datetime]) -> Backtest:
        backtest = self.backtest
        self.exchange.account()  # the ledger opens with the initial cash
        status, error = Backtest.Status.COMPLETED, ""
        try:
            for done, point in enumerate(self.points):
                if point in stored:
                    continue
                if self.lease.lost.is_set():
                    return backtest
                if backtest.cancel_was_requested():
                    status = Backtest.Status.CANCELLED
                    break
                if not self._decide_and_order(point, account_at(self.exchange, point)):
                    return backtest
                self._report_progress(done + 1, point)
        except Exception as exc:
            logger.exception("Backtest %s failed", backtest.pk)
            status, error = Backtest.Status.FAILED, f"{type(exc).__name__}: {exc}"
        return self._finish(status, error)

    def _kept(self, error: str, points_done: int) -> str:
        """A settled run's error, saying what of it is kept."""
        return f"{error}; the {points_done} of {len(self.points)} decision points it computed are kept"

    def _still_mine(self) -> bool:
        """Under a row lock: this run's attempt still owns the backtest (no other worker took it over)."""
        backtest = self.backtest
        owned = Backtest.objects.select_for_update().filter(
            pk=backtest.pk, attempt=backtest.attempt, status=Backtest.Status.RUNNING
        )
        return owned.exists()

    def _decide_and_order(self, point: datetime, account: AccountState) -> bool:
        """Decide at `point` and store it (see the module doc); False when the run lost the backtest meanwhile."""
        inputs = PointInTimeInputs(point, account, self.backtest.model, self.answers)
        with transaction.atomic():
            execution = WorkflowExecution.objects.create(
                owner=self.backtest.owner, workflow=self.backtest.workflow, version=self.backtest.version,
                strategy=self.backtest.strategy, dry_run=True, symbols=list(self.backtest.symbols),
                params=self.params, status=WorkflowExecution.Status.RUNNING,
            )  # fmt: skip
            decisions = [self._run_symbol(execution, symbol, inputs) for symbol in self.backtest.symbols]
            transaction.set_rollback(True)
        for name in inputs.drawn:
            default_storage.delete(name)
        self.answers.save()
        with transaction.atomic():
            if not self._still_mine():
                logger.warning("Backtest %s was taken over by another worker; point %s not stored by this run",
                               self.backtest.pk, point.isoformat())  # fmt: skip
                return False
            BacktestPoint.objects.create(
                backtest=self.backtest, point=point, equity=account.equity, open_positions=account.open_positions
            )
            for decided in decisions:
                order_id = self._place(decided, point)
                BacktestDecision.objects.create(
                    backtest=self.backtest, point=point, symbol=decided.symbol, type=decided.type,
                    status=decided.status, reference_price=decided.reference_price,
                    target_price=decided.target_price, stop_loss=decided.stop_loss, quantity=decided.quantity,
                    confidence=decided.confidence, r_coefficient=decided.r_coefficient,
                    analysis_text=decided.analysis_text, rejection_reasons=decided.rejection_reasons,
                    error=decided.error, order_id=order_id,
                )  # fmt: skip
            Backtest.objects.filter(pk=self.backtest.pk).update(**self._tally())
        return True

    def _tally(self) -> dict:
        answers = self.answers
        return {
            "model_calls": answers.calls,
            "cached_calls": answers.cached_calls,
            "cost": answers.cost if answers.cost_known else None,
        }

    def _run_symbol(self, execution: WorkflowExecution, symbol: str, inputs: PointInTimeInputs) -> SymbolDecision:
        """The steps in workflow order (an order of the dependency graph), as the engine would run them."""
        ctx = SymbolContext(execution=execution, symbol=symbol, params=self.params, steps=self.steps, inputs=inputs)
        skipped: set[str] = set()
        order, error = None, ""
        for node in self.graph:
            step = node.step
            inputs_skipped = node.data_inputs and all(self.steps[index]["id"] in skipped for index in node.data_inputs)
            if step["id"] in skipped or inputs_skipped or step["type"] in STEPS_NOT_RUN:
                skipped.add(step["id"])
                continue
            try:
                with ctx.running(step, node.index):
                    output = get_step(step["type"])(step["config"], ctx) or {}
            except StepSkipped as exc:
                output = {"skipped": True, "reason": exc.reason}
            except (StepError, BrokerError, ReferenceUnavailable) as exc:
                error = f"{step['id']}: {exc}"
                break
            ctx.outputs[step["id"]] = output
            skipped.update(output.get("skip_steps", []))
            if step["type"] == "place_order" and output.get("dry_run"):
                order = output["confirmation"]
        if ctx.decision is not None:
            ctx.decision.refresh_from_db()
        return SymbolDecision.of(symbol, ctx.decision, error, order)

    def _place(self, decided: SymbolDecision, point: datetime) -> str:
        """The order place_order priced at `point`, on the ledger; its id there ("" when there is none)."""
        order = decided.order
        if order is None:
            return ""
        info = self.exchange.qualify(decided.symbol)
        request = OrderRequest(
            conid=info.conid,
            symbol=info.symbol,
            side=order["side"],
            quantity=Decimal(order["quantity"]),
            order_type=order["order_type"],
            limit_price=None if order["limit_price"] is None else Decimal(order["limit_price"]),
            tif=order["tif"],
            order_ref=f"{self.backtest.ledger_account_id}-{point:%Y%m%d%H%M}-{decided.symbol}",
            take_profit=None if order["take_profit"] is None else Decimal(order["take_profit"]),
            stop_loss=None if order["stop_loss"] is None else Decimal(order["stop_loss"]),
        )
        return self.exchange.place_order(request, now=point).broker_order_id

    def _report_progress(self, done: int, point: datetime) -> None:
        backtest = self.backtest
        backtest.progress = {"points_done": done, "points_total": len(self.points), "current_point": point.isoformat()}
        Backtest.objects.filter(pk=backtest.pk).update(progress=backtest.progress)
        progress.backtest_progress(backtest)

    def _finish(self, status: str, error: str) -> Backtest:
        """End the backtest with the report of its stored points; nothing when another worker took it over."""
        backtest = self.backtest
        marks = [
            PointMark(row.point, row.equity, row.open_positions) for row in backtest.points.order_by("point")
        ]
        cancelled = status == Backtest.Status.CANCELLED
        results = backtest_report(backtest, self.exchange, marks, len(self.points), cancelled=cancelled)
        fields = {
            "status": status, "error": error, "results": results, "completed_at": timezone.now(),
            "lease_expires_at": None, **self._tally(),
        }  # fmt: skip
        ended = Backtest.objects.filter(pk=backtest.pk, attempt=backtest.attempt).update(**fields)
        if not ended:
            logger.warning("Backtest %s was taken over by another worker; this run leaves it", backtest.pk)
            return backtest
        for name, value in fields.items():
            setattr(backtest, name, value)
        progress.backtest_progress(backtest)
        logger.info("Backtest %s %s after %d of %d points", backtest.pk, status, len(marks), len(self.points))
        return backtest


def run_backtest(backtest_id: int) -> Backtest:
    backtest = Backtest.objects.select_related("owner", "workflow", "version", "strategy").get(pk=backtest_id)
    return BacktestRun(backtest).run()
