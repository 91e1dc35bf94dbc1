"""Model clients: one protocol, an OpenAI-compatible provider and the offline analyst.

Everything above this module asks `get_model_client(model)` for a client and calls
`client.complete(messages, ...)`; it never asks which provider answered. Retries, logging and
budgets live in `agents.calls`, so the clients themselves make exactly one request per call.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import openai
from django.conf import settings

from agents.providers import Provider, UnknownModel, default_provider, resolve_model


class ModelError(Exception):
    """A model call failed in a way that retrying will not fix (bad request, auth, unknown model)."""


class TransientModelError(ModelError):
    """A model call failed in a way that may pass on retry (rate limit, 5xx, timeout, connection)."""


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
        self._client = openai.OpenAI(
            # Local OpenAI-compatible servers often need no key, but the client insists on one.
            api_key=provider.api_key or "no-key-configured",
            base_url=self.base_url,
            timeout=timeout if timeout is not None else settings.LLM_TIMEOUT,
            # agents.calls retries with its own backoff and logs every attempt.
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
        except (openai.APITimeoutError, openai.APIConnectionError) as exc:
            raise TransientModelError(f"{self.model} at provider {self.provider}: {type(exc).__name__}: {exc}") from exc
        except openai.APIStatusError as exc:
            error_class = (
                TransientModelError if exc.status_code in TRANSIENT_STATUSES or exc.status_code >= 500 else ModelError
            )
            where = f"{self.model} at provider {self.provider}"
            raise error_class(f"{where}: HTTP {exc.status_code}: {exc.message}") from exc
        except openai.OpenAIError as exc:
            raise ModelError(f"{self.model} at provider {self.provider}: {type(exc).__name__}: {exc}") from exc

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


def get_model_client(model: str | None = None, provider: str = "") -> ModelClient:
    """The client for `model` at the named provider (see agents.providers.resolve_model).

    The offline analyst answers for its own model name and for an offline provider. Raises
    ModelError when no provider offers the model.
    """
    from agents.offline import OfflineAnalyst

    try:
        chosen, model = resolve_model(provider, model or "")
    except UnknownModel as exc:
        raise ModelError(str(exc)) from exc
    if chosen.offline:
        return OfflineAnalyst()
    return OpenAICompatibleClient(model, provider=chosen)
