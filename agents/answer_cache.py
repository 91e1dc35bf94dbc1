"""Model answers kept by the hash of their full input (agents.models.ModelAnswer).

A backtest asks the same question again when it is rerun, or when a second workflow version shares
steps with the first: `CachingClient` answers those from the kept answer, paying nothing, and counts
calls, cached calls and cost. The offline analyst is deterministic and free, so its answers are not kept.

New answers wait in the `AnswerBook` until `save()`: a backtest computes each decision point inside a
transaction it rolls back, and keeps its answers after that.
"""

import hashlib
import json
import threading
from decimal import Decimal

from agents.calls import call_cost
from agents.clients import Completion, ModelClient
from agents.models import ModelAnswer

OFFLINE_PROVIDER = "offline"


def answer_key(
    client: ModelClient,
    messages: list[dict],
    *,
    temperature: float,
    max_tokens: int,
    images: list[bytes] | None,
    json_schema: dict | None,
) -> str:
    """sha256 of everything the answer depends on: provider, model, messages, images, settings and schema."""
    payload = {
        "provider": client.provider,
        "model": client.model,
        "messages": messages,
        "images": [hashlib.sha256(png).hexdigest() for png in images or []],
        "temperature": temperature,
        "max_tokens": max_tokens,
        "json_schema": json_schema,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


class AnswerBook:
    """The answers of one backtest: looked up in ModelAnswer, new ones kept until `save()`; and the tally."""

    def __init__(
        self, *, calls: int = 0, cached_calls: int = 0, cost: Decimal = Decimal("0"), cost_known: bool = True
    ):
        """The tally starts where an interrupted run of the same backtest left it (zero for a new one)."""
        self.lock = threading.Lock()
        self.new: dict[str, ModelAnswer] = {}
        self.calls = calls
        self.cached_calls = cached_calls
        self.cost = cost
        self.cost_known = cost_known

    def find(self, key: str) -> ModelAnswer | None:
        with self.lock:
            if key in self.new:
                return self.new[key]
        return ModelAnswer.objects.filter(key=key).first()

    def keep(self, key: str, completion: Completion, cost: Decimal | None) -> None:
        with self.lock:
            self.new[key] = ModelAnswer(
                key=key,
                provider=completion.provider,
                model=completion.model,
                response=completion.text,
                tokens_in=completion.tokens_in,
                tokens_out=completion.tokens_out,
                cost=cost,
            )

    def count(self, *, cached: bool, cost: Decimal | None) -> None:
        with self.lock:
            self.calls += 1
            self.cached_calls += int(cached)
            if cost is None:
                self.cost_known = False
            else:
                self.cost += cost

    def save(self) -> None:
        with self.lock:
            answers, self.new = list(self.new.values()), {}
        ModelAnswer.objects.bulk_create(answers, ignore_conflicts=True)


class CachingClient:
    """A ModelClient answering from the AnswerBook when the same full input was answered before."""

    def __init__(self, client: ModelClient, book: AnswerBook):
        self.client = client
        self.book = book
        self.model = client.model
        self.provider = client.provider

    def complete(
        self,
        messages: list[dict],
        *,
        temperature: float = 0.2,
        max_tokens: int = 2000,
        images: list[bytes] | None = None,
        json_schema: dict | None = None,
    ) -> Completion:
        options = {"temperature": temperature, "max_tokens": max_tokens, "images": images, "json_schema": json_schema}
        if self.client.provider == OFFLINE_PROVIDER:
            self.book.count(cached=False, cost=Decimal("0"))
            return self.client.complete(messages, **options)
        key = answer_key(self.client, messages, **options)
        kept = self.book.find(key)
        if kept is not None:
            self.book.count(cached=True, cost=Decimal("0"))
            return Completion(text=kept.response, tokens_in=0, tokens_out=0, model=kept.model, provider=kept.provider)
        completion = self.client.complete(messages, **options)
        cost = call_cost(
            completion.provider, completion.model, completion.tokens_in, completion.tokens_out, priced_as=self.model
        )
        self.book.keep(key, completion, cost)
        self.book.count(cached=False, cost=cost)
        return completion
