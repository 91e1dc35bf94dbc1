"""Model clients: one protocol and the OpenAI-compatible provider (the offline analyst, agents.offline, is the other).

Everything above asks `agents.calls.get_model_client(model)` for a client and calls
`client.complete(messages, ...)`; it never asks which provider answered. Retries, logging,
budgets and the providers' limits live in `agents.calls`, so the clients themselves make exactly
one request per call.
"""

from __future__ import annotations

import base64
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Protocol, runtime_checkable

import openai
from django.conf import settings

from agents.providers import Provider, default_provider


class ModelError(Exception):
    """A model call failed in a way that retrying will not fix (bad request, auth, unknown model)."""


class TransientModelError(ModelError):
    """A model call failed in a way that may pass on retry (rate limit, 5xx, timeout, connection).

    `status` is the HTTP status (None: no answer), `retry_after` the seconds the provider asked us
    to wait (None: it did not say).
    """

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


@dataclass(frozen=True)
class Completion:
    text: str
    tokens_in: int
    tokens_out: int
    model: str
    provider: str


@runtime_checkable
class ModelClient(Protocol):
    model: str
    provider: str

    def complete(
        self,
        messages: list[dict],
        *,
        temperature: float = 0.2,
        max_tokens: int = 2000,
        images: list[bytes] | None = None,
        json_schema: dict | None = None,
    ) -> Completion: ...


def estimate_tokens(text: str) -> int:
    """Rough token count (about four characters per token) for providers that report none."""
    return math.ceil(len(text) / 4) if text else 0


def messages_text(messages: list[dict]) -> str:
    """The plain text of chat messages, whether their content is a string or a list of parts."""
    parts = []
    for message in messages:
        content = message.get("content") or ""
        if isinstance(content, str):
            parts.append(content)
        else:
            parts.extend(part.get("text", "") for part in content if part.get("type") == "text")
    return "\n".join(parts)


def image_data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def with_images(messages: list[dict], images: list[bytes]) -> list[dict]:
    """Attach PNG images to the last user message as vision content parts."""
    last_user = max((i for i, message in enumerate(messages) if message.get("role") == "user"), default=None)
    if last_user is None:
        raise ModelError("images were given but there is no user message to attach them to")
    message = messages[last_user]
    content = message.get("content") or ""
    parts = [{"type": "text", "text": content}] if isinstance(content, str) else list(content)
    parts += [{"type": "image_url", "image_url": {"url": image_data_url(png)}} for png in images]
    return [*messages[:last_user], {**message, "content": parts}, *messages[last_user + 1 :]]


def response_format(json_schema: dict) -> dict:
    return {
        "type": "json_schema",
        "json_schema": {"name": json_schema.get("title", "response"), "schema": json_schema, "strict": False},
    }


# HTTP statuses worth retrying besides 5xx: request timeout, conflict, rate limit.
TRANSIENT_STATUSES = {408, 409, 429}


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """The wait a provider asks for: `retry-after-ms`, or `Retry-After` in seconds or as an HTTP date.

    None when it asks for none (or says something unreadable); never negative.
    """
    try:
        if headers.get("retry-after-ms"):
            return max(float(headers["retry-after-ms"]) / 1000, 0.0)
        value = (headers.get("retry-after") or "").strip()
        if not value:
            return None
        try:
            return max(float(value), 0.0)
        except ValueError:
            moment = parsedate_to_datetime(value).timestamp()
            return max(moment - (time.time() if now is None else now), 0.0)
    except (TypeError, ValueError, OverflowError):
        return None


def model_error(exc: openai.OpenAIError, where: str) -> ModelError:
    """Our error for an OpenAI client error: transient (with the provider's Retry-After) for timeouts,
    connection errors, 408/409/429 and 5xx; permanent for the rest (400, 401, 403, 404, unreadable answers)."""
    if isinstance(exc, openai.APITimeoutError | openai.APIConnectionError):
        return TransientModelError(f"{where}: {type(exc).__name__}: {exc}")
    if isinstance(exc, openai.APIStatusError):
        message = f"{where}: HTTP {exc.status_code}: {exc.message}"
        if exc.status_code in TRANSIENT_STATUSES or exc.status_code >= 500:
            return TransientModelError(
                message, status=exc.status_code, retry_after=retry_after_seconds(exc.response.headers)
            )
        return ModelError(message)
    return ModelError(f"{where}: {type(exc).__name__}: {exc}")


class OpenAICompatibleClient:
    """Chat completions on any OpenAI-compatible endpoint (OpenAI, Azure-style proxies, vLLM, Ollama...).

    The endpoint and key come from one `Provider` (the default one when none is given), so a
    provider's key is only ever sent to that provider's base URL. Errors name the provider, not
    its URL: traders read them, and the URL is staff's business.
    """

    def __init__(self, model: str | None = None, *, provider: Provider | None = None, timeout: float | None = None):
        provider = provider or default_provider()
        self.model = model or settings.LLM_MODEL
        self.provider = provider.name
        self.base_url = provider.base_url
        self.limits = provider.limits
        self._client = openai.OpenAI(
            # Local OpenAI-compatible servers often need no key, but the client insists on one.
            api_key=provider.api_key or "no-key-configured",
            base_url=self.base_url,
            timeout=timeout if timeout is not None else settings.LLM_TIMEOUT,
            # One retry policy: agents.calls retries, within the provider's limits, and logs every attempt.
            max_retries=0,
        )

    def complete(
        self,
        messages: list[dict],
        *,
        temperature: float = 0.2,
        max_tokens: int = 2000,
        images: list[bytes] | None = None,
        json_schema: dict | None = None,
    ) -> Completion:
        request = {
            "model": self.model,
            "messages": with_images(messages, images) if images else messages,
            "temperature": temperature,
            "max_tokens": max_tokens,
        }
        if json_schema:
            request["response_format"] = response_format(json_schema)
        try:
            response = self._client.chat.completions.create(**request)
        except openai.OpenAIError as exc:
            raise model_error(exc, f"{self.model} at provider {self.provider}") from exc

        if not response.choices:
            raise ModelError(f"{self.model} at provider {self.provider}: the response had no choices")
        text = response.choices[0].message.content or ""
        usage = response.usage
        return Completion(
            text=text,
            tokens_in=usage.prompt_tokens if usage else estimate_tokens(messages_text(messages)),
            tokens_out=usage.completion_tokens if usage else estimate_tokens(text),
            model=response.model or self.model,
            provider=self.provider,
        )
