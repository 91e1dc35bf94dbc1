"""Every model call goes through `call_model`: budget check, retries with backoff, one LLMCall row per attempt."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.apps import apps
from django.conf import settings
from django.db.models import Sum
from django.utils import timezone

from agents.clients import ModelClient, ModelError, TransientModelError, get_model_client
from agents.models import LLMCall

logger = logging.getLogger(__name__)

COST_PLACES = Decimal("0.000001")


class BudgetExceeded(ModelError):
    """The strategy has spent its daily token or cost budget; no further model calls today."""


def backoff_delays() -> list[float]:
    """Seconds to wait before each retry: base, 2 x base, 4 x base ... (settings.TASK_MAX_RETRIES retries)."""
    return [settings.LLM_RETRY_BASE_SECONDS * 2**retry for retry in range(settings.TASK_MAX_RETRIES)]


def model_prices(model: str) -> tuple[Decimal, Decimal] | None:
    """(input, output) USD per 1,000 tokens; dated variants such as gpt-4o-2024-08-06 use gpt-4o's prices."""
    if model in settings.LLM_PRICES:
        return settings.LLM_PRICES[model]
    prefixes = [name for name in settings.LLM_PRICES if model.startswith(name)]
    return settings.LLM_PRICES[max(prefixes, key=len)] if prefixes else None


def call_cost(model: str, tokens_in: int, tokens_out: int) -> Decimal:
    prices = model_prices(model)
    if prices is None:
        logger.warning("no price for model %s in settings.LLM_PRICES; its calls are counted at zero cost", model)
        return Decimal("0")
    price_in, price_out = prices
    return ((Decimal(tokens_in) * price_in + Decimal(tokens_out) * price_out) / 1000).quantize(COST_PLACES)


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
    """One model answer, logged. Transient errors are retried after 1, 2, 4 ... s; every attempt is a row.

    Raises BudgetExceeded before calling when the execution's strategy has spent today's budget,
    ModelError at once for permanent errors, and TransientModelError after the last retry.
    `client` replaces the configured client (another provider, or a test double).
    """
    if execution_id is not None:
        check_execution_budget(execution_id)
    client = client or get_model_client(model)
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": prompt}]
    row = {
        "execution_id": execution_id,
        "step_id": step_id,
        "symbol": symbol,
        "agent_name": agent_name,
        "provider": client.provider,
        "model": client.model,
        "prompt": prompt_record(messages, images),
    }
    delays = backoff_delays()
    for attempt in range(1, len(delays) + 2):
        started = time.monotonic()
        try:
            completion = client.complete(
                messages, temperature=temperature, max_tokens=max_tokens, images=images, json_schema=json_schema
            )
        except ModelError as exc:
            latency_ms = round((time.monotonic() - started) * 1000)
            LLMCall.objects.create(**row, attempt=attempt, latency_ms=latency_ms, error=f"{type(exc).__name__}: {exc}")
            if not isinstance(exc, TransientModelError):
                raise
            if attempt > len(delays):
                raise TransientModelError(
                    f"{client.model}: gave up after {attempt} attempts; last error: {exc}"
                ) from exc
            logger.warning(
                "model call %s (execution %s, step %s, %s) attempt %d failed, retrying in %.1fs: %s",
                client.model,
                execution_id,
                step_id,
                symbol,
                attempt,
                delays[attempt - 1],
                exc,
            )
            time.sleep(delays[attempt - 1])
            continue
        return LLMCall.objects.create(
            **{**row, "provider": completion.provider, "model": completion.model},
            response=completion.text,
            tokens_in=completion.tokens_in,
            tokens_out=completion.tokens_out,
            cost=call_cost(completion.model, completion.tokens_in, completion.tokens_out),
            latency_ms=round((time.monotonic() - started) * 1000),
            attempt=attempt,
        )
    raise AssertionError("unreachable: the loop returns or raises")


@dataclass(frozen=True)
class BudgetStatus:
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


def budget_remaining(strategy) -> BudgetStatus:
    """Today's (UTC) model usage of all the strategy's executions against its daily budgets."""
    usage = LLMCall.objects.filter(execution__strategy_id=strategy.pk, created_at__gte=start_of_today()).aggregate(
        tokens_in=Sum("tokens_in"), tokens_out=Sum("tokens_out"), cost=Sum("cost")
    )
    return BudgetStatus(
        strategy_id=strategy.pk,
        tokens_used=(usage["tokens_in"] or 0) + (usage["tokens_out"] or 0),
        cost_used=usage["cost"] or Decimal("0"),
        token_budget=strategy.daily_token_budget,
        cost_budget=strategy.daily_cost_budget,
    )


def check_budget(strategy) -> BudgetStatus:
    """The strategy's budget status; raises BudgetExceeded once today's tokens or cost are spent.

    A call is refused only after the budget is reached, so the last call of a day may overshoot it.
    """
    status = budget_remaining(strategy)
    if status.exceeded:
        raise BudgetExceeded(status.message())
    return status


def check_execution_budget(execution_id: int) -> None:
    strategy_model = apps.get_model("workflows", "Strategy")
    strategy = (
        strategy_model.objects.filter(executions__id=execution_id)
        .only("pk", "daily_token_budget", "daily_cost_budget")
        .first()
    )
    if strategy and (strategy.daily_token_budget is not None or strategy.daily_cost_budget is not None):
        check_budget(strategy)


def total_cost(calls) -> Decimal:
    return calls.aggregate(cost=Sum("cost"))["cost"] or Decimal("0")


def execution_cost(execution_id: int) -> Decimal:
    """Total model cost of an execution, failed attempts included."""
    return total_cost(LLMCall.objects.filter(execution_id=execution_id))


def decision_cost(decision) -> Decimal:
    """Model cost of producing a decision: every call of its execution for its symbol."""
    return total_cost(LLMCall.objects.filter(execution_id=decision.execution_id, symbol=decision.instrument.symbol))
