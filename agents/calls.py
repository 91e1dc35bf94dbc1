"""Every model call goes through `call_model`: budget check, the provider's limits (agents.limits),
retries with backoff, one LLMCall row per attempt."""

from __future__ import annotations

import itertools
import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.apps import apps
from django.conf import settings
from django.db.models import F, Q, Sum
from django.utils import timezone

from agents.cancels import CancelWatch
from agents.clients import (
    ModelClient,
    ModelError,
    OpenAICompatibleClient,
    TransientModelError,
    estimate_tokens,
    messages_text,
)
from agents.limits import client_limits, pause_provider, provider_capacity
from agents.models import BudgetLedger, LLMCall
from agents.offline import OfflineAnalyst
from agents.providers import UnknownModel, model_price, resolve_model

logger = logging.getLogger(__name__)

COST_PLACES = Decimal("0.000001")
TOKENS_PER_PRICE = 1_000_000  # prices are USD per 1M tokens


class BudgetExceeded(ModelError):
    """The strategy has spent its daily token or cost budget; no further model calls today."""


@dataclass
class RetryBudget:
    """When to retry a transiently failed model call, for settings.LLM_RETRY_BUDGET_SECONDS from its first failure.

    Retry n waits a random time up to base x 2^(n-1) seconds, capped at LLM_RETRY_MAX_DELAY_SECONDS
    ("full jitter": callers refused together do not come back together), or, when the provider says
    how long (Retry-After), that long plus up to one base of jitter.
    """

    first_failure: float | None = None
    retries: int = 0

    def next_delay(self, error: TransientModelError) -> float | None:
        """Seconds to wait before the next attempt; None when that attempt would start beyond the budget."""
        now = time.monotonic()
        if self.first_failure is None:
            self.first_failure = now
        base = settings.LLM_RETRY_BASE_SECONDS
        if error.retry_after is not None:
            delay = error.retry_after + random.uniform(0, base)
        else:
            delay = random.uniform(0, min(settings.LLM_RETRY_MAX_DELAY_SECONDS, base * 2**self.retries))
        if now - self.first_failure + delay >= settings.LLM_RETRY_BUDGET_SECONDS:
            return None
        self.retries += 1
        return delay


class UnpricedModel(BudgetExceeded):
    """A strategy with a cost budget asked for a model whose price is unknown: it fails closed."""


def get_model_client(model: str | None = None, provider: str = "") -> ModelClient:
    """The client for `model` at the named provider (see agents.providers.resolve_model).

    The offline analyst answers for its own model name and for an offline provider. Raises
    ModelError when no provider offers the model.
    """
    try:
        chosen, model = resolve_model(provider, model or "")
    except UnknownModel as exc:
        raise ModelError(str(exc)) from exc
    if chosen.offline:
        return OfflineAnalyst()
    return OpenAICompatibleClient(model, provider=chosen)


def call_cost(provider: str, model: str, tokens_in: int, tokens_out: int, *, priced_as: str = "") -> Decimal | None:
    """USD of one call at the provider's prices for `model` (or `priced_as`, the model asked for); None: unknown."""
    prices = model_price(provider, model) or (model_price(provider, priced_as) if priced_as else None)
    if prices is None:
        logger.warning("no price for model %s at provider %s; its cost is unknown", model, provider)
        return None
    price_in, price_out = prices
    return ((Decimal(tokens_in) * price_in + Decimal(tokens_out) * price_out) / TOKENS_PER_PRICE).quantize(
        COST_PLACES, rounding=ROUND_HALF_UP
    )


def unpriced_model_message(provider: str, model: str, strategy_id: int) -> str:
    return (
        f"model {model!r} at provider {provider!r} has no known price, and strategy {strategy_id} has a cost "
        "budget: it cannot run on an unpriced model (staff add the price in the admin under Model prices, "
        "or pick a priced model)"
    )


def prompt_record(messages: list[dict], images: list[bytes] | None) -> str:
    """What was sent, as stored in LLMCall.prompt: the system prompt marked, images noted by size."""
    if len(messages) == 1 and not images:
        return messages[0]["content"]
    parts = [f"[{message['role']}]\n{message['content']}" for message in messages]
    parts += [f"[image {index + 1}: PNG, {len(png)} bytes]" for index, png in enumerate(images or [])]
    return "\n\n".join(parts)


def call_model(
    *,
    prompt: str,
    model: str | None = None,
    provider: str = "",
    system: str | None = None,
    images: list[bytes] | None = None,
    temperature: float = 0.2,
    max_tokens: int = 2000,
    json_schema: dict | None = None,
    execution_id: int | None = None,
    step_id: str = "",
    symbol: str = "",
    agent_name: str = "",
    client: ModelClient | None = None,
) -> LLMCall:
    """One model answer, logged, every attempt a row.

    Each attempt first waits for room within its provider's limits (agents.limits) and gives the
    room back when answered. Transient errors (429, 5xx, timeouts) are retried as RetryBudget says;
    while one waits to retry it holds no slot.
    Raises BudgetExceeded before calling when the execution's strategy has spent today's budget
    (UnpricedModel when it has a cost budget and the model no price), ModelError at once for
    permanent errors, ProviderBusy when the provider had no room for LLM_LIMIT_WAIT_SECONDS,
    TransientModelError when the retry budget is spent, and CallCancelled (agents.cancels) as soon as
    `execution_id` is cancelled while the call waits for its retry or for the provider's room.
    `provider` and `model` name the model (agents.providers.resolve_model); `client` replaces the
    configured client (a recording, or a test double).
    """
    client = client or get_model_client(model, provider)
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": prompt}]
    reservation = reserve_budget(execution_id, client, messages, max_tokens) if execution_id is not None else None
    row = {
        "execution_id": execution_id,
        "step_id": step_id,
        "symbol": symbol,
        "agent_name": agent_name,
        "provider": client.provider,
        "model": client.model,
        "prompt": prompt_record(messages, images),
    }
    limits = client_limits(client)
    tokens = estimate_tokens(messages_text(messages)) + max_tokens
    retries = RetryBudget()
    cancels = CancelWatch(execution_id, f"model call {client.model} at provider {client.provider} waited to retry")
    try:
        for attempt in itertools.count(1):
            with provider_capacity(
                client.provider, limits, tokens=tokens, model=client.model, execution_id=execution_id
            ) as capacity:
                started = time.monotonic()
                try:
                    completion = client.complete(
                        messages, temperature=temperature, max_tokens=max_tokens, images=images, json_schema=json_schema
                    )
                except ModelError as exc:
                    failure = exc
                else:
                    failure = None
                    capacity.used(completion.tokens_in + completion.tokens_out)
            latency_ms = round((time.monotonic() - started) * 1000)
            if failure is None:
                cost = call_cost(
                    completion.provider,
                    completion.model,
                    completion.tokens_in,
                    completion.tokens_out,
                    priced_as=client.model,
                )
                if reservation is not None:
                    reservation.settle(completion.tokens_in + completion.tokens_out, cost)
                return LLMCall.objects.create(
                    **{**row, "provider": completion.provider, "model": completion.model},
                    response=completion.text,
                    tokens_in=completion.tokens_in,
                    tokens_out=completion.tokens_out,
                    cost=cost,
                    latency_ms=latency_ms,
                    attempt=attempt,
                )
            LLMCall.objects.create(
                **row, attempt=attempt, latency_ms=latency_ms, error=f"{type(failure).__name__}: {failure}"
            )
            if not isinstance(failure, TransientModelError):
                raise failure
            delay = retries.next_delay(failure)
            if delay is None:
                raise TransientModelError(
                    f"{client.model}: gave up after {attempt} attempts (retry budget "
                    f"LLM_RETRY_BUDGET_SECONDS={settings.LLM_RETRY_BUDGET_SECONDS:g} s); last error: {failure}",
                    status=failure.status,
                ) from failure
            if failure.retry_after is not None:
                pause_provider(client.provider, limits, failure.retry_after)
            logger.warning(
                "model call %s at provider %s (execution %s, step %s, %s) attempt %d failed (HTTP %s), "
                "retrying in %.2fs%s: %s",
                client.model,
                client.provider,
                execution_id,
                step_id,
                symbol,
                attempt,
                failure.status or "-",
                delay,
                f" (Retry-After {failure.retry_after:g} s)" if failure.retry_after is not None else "",
                failure,
            )
            cancels.sleep(delay)
    finally:
        if reservation is not None:
            reservation.release()


@dataclass(frozen=True)
class BudgetStatus:
    """Today's usage of a strategy; `*_used` counts what is spent and what calls in flight may spend."""

    strategy_id: int
    tokens_used: int
    cost_used: Decimal
    token_budget: int | None
    cost_budget: Decimal | None

    @property
    def tokens_remaining(self) -> int | None:
        return None if self.token_budget is None else max(self.token_budget - self.tokens_used, 0)

    @property
    def cost_remaining(self) -> Decimal | None:
        return None if self.cost_budget is None else max(self.cost_budget - self.cost_used, Decimal("0"))

    @property
    def exceeded(self) -> bool:
        return self.tokens_remaining == 0 or self.cost_remaining == 0

    def message(self) -> str:
        spent = []
        if self.tokens_remaining == 0:
            spent.append(f"{self.tokens_used} of {self.token_budget} tokens")
        if self.cost_remaining == 0:
            spent.append(f"${self.cost_used} of ${self.cost_budget}")
        if not spent:
            return f"strategy {self.strategy_id} is within today's model budget"
        return (
            f"strategy {self.strategy_id} has spent today's model budget ({', '.join(spent)}); it resumes at 00:00 UTC"
        )


def start_of_today() -> datetime:
    return timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)


def todays_ledger(strategy_id: int) -> BudgetLedger:
    """The strategy's ledger row of today (UTC), made on first use; a concurrent maker wins, the other reads it."""
    return BudgetLedger.objects.get_or_create(strategy_id=strategy_id, day=start_of_today().date())[0]


def budget_remaining(strategy) -> BudgetStatus:
    """Today's (UTC) model usage of all the strategy's executions against its daily budgets."""
    ledger = BudgetLedger.objects.filter(strategy_id=strategy.pk, day=start_of_today().date()).first()
    return BudgetStatus(
        strategy_id=strategy.pk,
        tokens_used=(ledger.tokens_spent + ledger.tokens_reserved) if ledger else 0,
        cost_used=(ledger.cost_spent + ledger.cost_reserved) if ledger else Decimal("0"),
        token_budget=strategy.daily_token_budget,
        cost_budget=strategy.daily_cost_budget,
    )


def check_budget(strategy) -> BudgetStatus:
    """The strategy's budget status; raises BudgetExceeded once today's tokens or cost are spent.

    A call is admitted while the budget is not reached, so the last call of a day may overshoot it;
    while it is in flight its worst case counts as spent, so no other call can take the same remainder.
    """
    status = budget_remaining(strategy)
    if status.exceeded:
        raise BudgetExceeded(status.message())
    return status


def unpriced_choice_problem(strategy, choices) -> str | None:
    """Why a strategy with a cost budget cannot start on these (provider, model) choices, or None.

    A model without a known price would make the budget meaningless, so the run is refused up front.
    """
    if strategy.daily_cost_budget is None:
        return None
    for provider_name, model in choices:
        try:
            provider, model = resolve_model(provider_name, model)
        except UnknownModel as exc:
            return str(exc)
        if provider.price(model) is None:
            return unpriced_model_message(provider.name, model, strategy.pk)
    return None


@dataclass
class BudgetReservation:
    """The worst case of one call, held on the strategy's ledger until the call settles or fails."""

    ledger_id: int
    tokens: int
    cost: Decimal
    open: bool = True

    def settle(self, tokens: int, cost: Decimal | None) -> None:
        """Replace the worst case by what the call used (an unknown cost keeps the worst case: fail closed)."""
        spent_cost = self.cost if cost is None else cost
        BudgetLedger.objects.filter(pk=self.ledger_id).update(
            tokens_reserved=F("tokens_reserved") - self.tokens,
            cost_reserved=F("cost_reserved") - self.cost,
            tokens_spent=F("tokens_spent") + tokens,
            cost_spent=F("cost_spent") + spent_cost,
        )
        self.open = False

    def release(self) -> None:
        if self.open:
            BudgetLedger.objects.filter(pk=self.ledger_id).update(
                tokens_reserved=F("tokens_reserved") - self.tokens, cost_reserved=F("cost_reserved") - self.cost
            )
            self.open = False


def worst_case(client: ModelClient, messages: list[dict], max_tokens: int) -> tuple[int, Decimal | None]:
    """Tokens and USD one call may use at most: its prompt (estimated) and `max_tokens` of answer."""
    tokens_in = estimate_tokens(messages_text(messages))
    prices = model_price(client.provider, client.model)
    if prices is None:
        return tokens_in + max_tokens, None
    cost = (Decimal(tokens_in) * prices[0] + Decimal(max_tokens) * prices[1]) / TOKENS_PER_PRICE
    return tokens_in + max_tokens, cost.quantize(COST_PLACES, rounding=ROUND_HALF_UP)


def reserve_budget(execution_id: int, client: ModelClient, messages: list[dict], max_tokens: int):
    """Hold the call's worst case on its strategy's ledger; raises BudgetExceeded when nothing is left.

    One conditional UPDATE both checks and reserves, so two calls at the same moment cannot both
    take the last of a budget: the database runs them one after the other, and the second sees the
    first's reservation. None for an execution without a strategy.
    """
    strategy_model = apps.get_model("workflows", "Strategy")
    strategy = (
        strategy_model.objects.filter(executions__id=execution_id)
        .only("pk", "daily_token_budget", "daily_cost_budget")
        .first()
    )
    if strategy is None:
        return None
    tokens, cost = worst_case(client, messages, max_tokens)
    if cost is None:
        if strategy.daily_cost_budget is not None:
            raise UnpricedModel(unpriced_model_message(client.provider, client.model, strategy.pk))
        cost = Decimal("0")
    ledger = todays_ledger(strategy.pk)
    within = Q()
    if strategy.daily_token_budget is not None:
        within &= Q(tokens_spent__lt=strategy.daily_token_budget - F("tokens_reserved"))
    if strategy.daily_cost_budget is not None:
        within &= Q(cost_spent__lt=strategy.daily_cost_budget - F("cost_reserved"))
    admitted = (
        BudgetLedger.objects.filter(pk=ledger.pk)
        .filter(within)
        .update(tokens_reserved=F("tokens_reserved") + tokens, cost_reserved=F("cost_reserved") + cost)
    )
    if not admitted:
        raise BudgetExceeded(budget_remaining(strategy).message())
    return BudgetReservation(ledger_id=ledger.pk, tokens=tokens, cost=cost)


def sum_costs(costs) -> Decimal | None:
    """The total of some costs; None ("unknown") when any of them is unknown."""
    costs = list(costs)
    return None if any(cost is None for cost in costs) else sum(costs, Decimal("0"))


def cost_text(cost: Decimal | None) -> str:
    """A cost as JSON outputs show it: the decimal, or "unknown" for a model without a price."""
    return "unknown" if cost is None else str(cost)


def total_cost(calls) -> Decimal | None:
    """The calls' total USD; None ("unknown") when any of them had no price."""
    if calls.filter(cost__isnull=True).exists():
        return None
    return calls.aggregate(cost=Sum("cost"))["cost"] or Decimal("0")


def execution_cost(execution_id: int) -> Decimal | None:
    """Total model cost of an execution, failed attempts included."""
    return total_cost(LLMCall.objects.filter(execution_id=execution_id))


def decision_cost(decision) -> Decimal | None:
    """Model cost of producing a decision: every call of its execution for its symbol."""
    return total_cost(LLMCall.objects.filter(execution_id=decision.execution_id, symbol=decision.instrument.symbol))
