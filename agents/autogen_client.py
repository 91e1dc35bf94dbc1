"""AutoGen's ChatCompletionClient, routed through our client layer.

Each agent of a team gets a `TeamModelClient`. Its `create()` hands the AutoGen request (the
conversation and the tool schemas) to a backend - the offline analyst in its team role, or an
OpenAI-compatible endpoint through autogen-ext's OpenAI client - by way of `agents.calls.call_model`,
so every attempt is an LLMCall row with tokens, latency and cost, the strategy's daily budget is
checked, and transient errors are retried with backoff exactly as for single-model steps.

`model_info` declares what the backend can do (function calling, vision, JSON output, family):
AssistantAgent refuses tools unless function calling is declared, and strips images from the
context of models without vision.
"""

import asyncio
import functools
import json
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import openai
from autogen_core import CancellationToken, FunctionCall, Image
from autogen_core.models import (
    AssistantMessage,
    ChatCompletionClient,
    CreateResult,
    FunctionExecutionResultMessage,
    LLMMessage,
    ModelInfo,
    RequestUsage,
    SystemMessage,
)
from autogen_core.tools import Tool, ToolSchema
from autogen_ext.models.openai import OpenAIChatCompletionClient
from autogen_ext.models.openai._model_info import get_info as openai_model_info
from django.conf import settings
from django.db import connections

from agents.calls import call_model
from agents.clients import Completion, ModelError, estimate_tokens, model_error
from agents.limits import client_limits
from agents.models import LLMCall
from agents.offline_team import OfflineTeamMember
from agents.providers import Provider, UnknownModel, resolve_model

# What we assume of an OpenAI-compatible model autogen-ext does not know (a local Llama, a proxy):
# tools and JSON yes, images no (they are replaced by a placeholder rather than rejected).
UNKNOWN_MODEL_INFO: ModelInfo = {
    "vision": False,
    "function_calling": True,
    "json_output": True,
    "structured_output": False,
    "family": "unknown",
}


class AgentBackend(Protocol):
    """Answers one AutoGen request synchronously (it runs in a worker thread)."""

    model: str
    provider: str
    model_info: ModelInfo

    def respond(self, messages: Sequence[LLMMessage], tools: Sequence[Tool | ToolSchema]) -> CreateResult: ...


def known_model_info(model: str) -> ModelInfo:
    try:
        info = dict(openai_model_info(model))
    except ValueError:
        return dict(UNKNOWN_MODEL_INFO)
    # Every model we route agents to must take tools; AutoGen's table says so for the ones it knows.
    return {**info, "function_calling": True}


class OpenAIAgentBackend:
    """An OpenAI-compatible endpoint through autogen-ext's client (tools, images, usage).

    Endpoint and key come from one `Provider`, so its key only ever goes to its base URL.
    """

    def __init__(self, model: str, *, provider: Provider, temperature: float = 0.2, max_tokens: int = 2000):
        self.model = model
        self.provider = provider.name
        self.base_url = provider.base_url
        self.limits = provider.limits
        self._api_key = provider.api_key
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.model_info = known_model_info(self.model)

    def respond(self, messages: Sequence[LLMMessage], tools: Sequence[Tool | ToolSchema]) -> CreateResult:
        # A client per request: its async HTTP pool belongs to the event loop of this one call.
        client = OpenAIChatCompletionClient(
            model=self.model,
            base_url=self.base_url,
            api_key=self._api_key or "no-key-configured",
            model_info=self.model_info,
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            timeout=settings.LLM_TIMEOUT,
            max_retries=0,
        )

        async def create() -> CreateResult:
            try:
                return await client.create(messages, tools=tools)
            finally:
                await client.close()

        try:
            return asyncio.run(create())
        except openai.OpenAIError as exc:
            raise model_error(exc, f"{self.model} at provider {self.provider}") from exc


def agent_backend(role: str, *, provider: str = "", model: str = "", temperature: float = 0.2,
                  max_tokens: int = 2000) -> AgentBackend:
    """The agent's model at the named provider (as get_model_client picks it): offline analyst or OpenAI-compatible.

    Raises ModelError when the provider or model is not offered here.
    """
    try:
        chosen, model = resolve_model(provider, model)
    except UnknownModel as exc:
        raise ModelError(f"agent {role}: {exc}") from exc
    if chosen.offline:
        return OfflineTeamMember(role)
    return OpenAIAgentBackend(model, provider=chosen, temperature=temperature, max_tokens=max_tokens)


def transcript(messages: Sequence[LLMMessage], tools: Sequence[Tool | ToolSchema] = ()) -> str:
    """The request as text for LLMCall.prompt: each message labelled by role and source, images noted."""
    parts = []
    for message in messages:
        if isinstance(message, SystemMessage):
            label, content = "system", message.content
        elif isinstance(message, FunctionExecutionResultMessage):
            label = "tool results"
            content = "\n".join(f"{result.name}: {result.content}" for result in message.content)
        else:
            label = "assistant" if isinstance(message, AssistantMessage) else f"user: {message.source}"
            content = message.content
        if not isinstance(content, str):
            content = "\n".join(
                part if isinstance(part, str)
                else "[image]" if isinstance(part, Image)
                else f"[call {part.name}({part.arguments})]" if isinstance(part, FunctionCall)
                else str(part)
                for part in content
            )
        parts.append(f"[{label}]\n{content}")
    names = [tool["name"] if isinstance(tool, dict) else tool.name for tool in tools]
    if names:
        parts.append(f"[tools] {', '.join(names)}")
    return "\n\n".join(parts)


def response_text(result: CreateResult) -> str:
    """The answer as text for LLMCall.response: the text, or the function calls as JSON."""
    if isinstance(result.content, str):
        return result.content
    return json.dumps([{"name": call.name, "arguments": call.arguments} for call in result.content])


class AgentTurn:
    """One AutoGen request dressed as a ModelClient, so that it goes through `call_model`.

    call_model sends the transcript it logs as `messages`; the request answered is the AutoGen
    conversation given here, with its tools.
    """

    def __init__(self, backend: AgentBackend, messages: Sequence[LLMMessage], tools: Sequence[Tool | ToolSchema]):
        self.backend = backend
        self.model = backend.model
        self.provider = backend.provider
        self.limits = client_limits(backend)
        self.messages = messages
        self.tools = tools
        self.result: CreateResult | None = None

    def complete(self, messages: list[dict], **options) -> Completion:
        self.result = self.backend.respond(self.messages, self.tools)
        return Completion(
            text=response_text(self.result),
            tokens_in=self.result.usage.prompt_tokens,
            tokens_out=self.result.usage.completion_tokens,
            model=self.backend.model,
            provider=self.backend.provider,
        )


def in_own_connection(function, *args, **kwargs):
    """Run `function` in a pool thread and close that thread's database connection afterwards."""
    try:
        return function(*args, **kwargs)
    finally:
        connections.close_all()


@dataclass(frozen=True)
class CallScope:
    """Where an agent's model calls are logged."""

    execution_id: int | None = None
    step_id: str = ""
    symbol: str = ""


class TeamModelClient(ChatCompletionClient):
    """The ChatCompletionClient of one agent; see the module docstring. `calls` are its LLMCall rows."""

    def __init__(self, *, agent_name: str, backend: AgentBackend, scope: CallScope, pool: Executor,
                 temperature: float = 0.2, max_tokens: int = 2000):
        self.agent_name = agent_name
        self.backend = backend
        self.scope = scope
        self.pool = pool
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.calls: list[LLMCall] = []
        self._last_usage = RequestUsage(prompt_tokens=0, completion_tokens=0)
        self._total_usage = RequestUsage(prompt_tokens=0, completion_tokens=0)

    @property
    def model(self) -> str:
        return self.backend.model

    async def create(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = [],  # noqa: B006 - AutoGen's signature
        tool_choice: Tool | Literal["auto", "required", "none"] = "auto",
        json_output: bool | type | None = None,
        extra_create_args: Mapping[str, Any] = {},  # noqa: B006 - AutoGen's signature
        cancellation_token: CancellationToken | None = None,
    ) -> CreateResult:
        turn = AgentTurn(self.backend, list(messages), list(tools))
        call = await asyncio.get_running_loop().run_in_executor(
            self.pool,
            functools.partial(
                in_own_connection,
                call_model,
                prompt=transcript(messages, tools),
                client=turn,
                temperature=self.temperature,
                max_tokens=self.max_tokens,
                execution_id=self.scope.execution_id,
                step_id=self.scope.step_id,
                symbol=self.scope.symbol,
                agent_name=self.agent_name,
            ),
        )
        self.calls.append(call)
        self._last_usage = RequestUsage(prompt_tokens=call.tokens_in, completion_tokens=call.tokens_out)
        self._total_usage = RequestUsage(
            prompt_tokens=self._total_usage.prompt_tokens + call.tokens_in,
            completion_tokens=self._total_usage.completion_tokens + call.tokens_out,
        )
        return turn.result.model_copy(update={"usage": self._last_usage})

    async def create_stream(self, messages: Sequence[LLMMessage], **options):
        yield await self.create(messages, **options)

    async def close(self) -> None:
        return None

    def actual_usage(self) -> RequestUsage:
        return self._last_usage

    def total_usage(self) -> RequestUsage:
        return self._total_usage

    def count_tokens(self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = ()) -> int:
        return estimate_tokens(transcript(messages, tools))

    def remaining_tokens(self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = ()) -> int:
        return max(128_000 - self.count_tokens(messages, tools=tools), 0)

    @property
    def capabilities(self) -> ModelInfo:
        return self.model_info

    @property
    def model_info(self) -> ModelInfo:
        return self.backend.model_info
