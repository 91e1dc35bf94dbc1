"""An AutoGen agent team debating one symbol and ending with the Executor's decision.

How a debate runs (autogen-agentchat 0.7, agents.debate_chat):

1. Turns. A DebateGroupChat of all the agents, started with the task. Its turns follow a fixed
   order, so no model is spent on choosing speakers: the analysts (every enabled agent except the
   RiskManager and the Executor: TechnicalAnalyst, Fundamental, Sentiment) speak together, their
   model calls at the same time, since each answers the same shared context; then the
   RiskManager, who checks their proposals with its tools; then the Executor; then the analysts
   again. Agents that were left out are skipped. The TechnicalAnalyst gets the charts as images;
   everyone gets the indicator summaries in `<indicators>` blocks.
2. It stops when the Executor says FINAL DECISION (TextMentionTermination) or after `max_rounds`
   turns (the analysts speaking together are one turn) - then the decision is HOLD, "No
   consensus reached", with the reason.
3. Every message, tool call and tool result is stored as an AgentMessage as it arrives and
   handed to `on_message` (the agent_team step pushes it to the execution's websocket group).
   The `round` of a row is its turn. Within a turn rows are stored in speaking order, not in the
   order the analysts happen to finish: the first analyst's messages are stored the moment they
   arrive, a later one's as soon as everyone before it has finished. Every agent reads the
   others' messages in that order too, so the same debate sends the same prompts (replays find
   their recorded answers).

An agent whose model keeps failing (call_model's retries with backoff exhausted) leaves the
debate with a note and the others go on; if the Executor fails, nobody can decide, and the run
aborts with TeamFailed. A final decision that does not parse is sent back to the Executor at
most twice with the error.

Model calls, tools and database writes are blocking; they run in threads beside the event loop.
"""

import asyncio
import base64
import json
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal

from autogen_agentchat.agents import AssistantAgent, BaseChatAgent
from autogen_agentchat.base import Response, TaskResult
from autogen_agentchat.conditions import TextMentionTermination
from autogen_agentchat.messages import (
    BaseAgentEvent,
    BaseChatMessage,
    MultiModalMessage,
    TextMessage,
    ToolCallExecutionEvent,
    ToolCallRequestEvent,
)
from autogen_core import CancellationToken, Image
from django.db import connections

from agents.agent_templates import EXECUTOR
from agents.autogen_client import AgentBackend, CallScope, TeamModelClient, agent_backend
from agents.calls import BudgetExceeded, cost_text, sum_costs
from agents.cancels import CallCancelled
from agents.clients import ModelError
from agents.debate_chat import DebateGroupChat
from agents.decisions import InvalidDecision, parse_decision
from agents.models import AgentMessage
from agents.prompts import LANGUAGE_INSTRUCTION, indicator_blocks, render_prompt
from agents.stances import FINAL_DECISION_MARKER, TEAM_SPEAKER, is_final_decision, read_stance
from agents.team_config import AgentSettings, TeamSettings
from agents.tools import TradingDesk, bind_tool

logger = logging.getLogger(__name__)

RISK_MANAGER = "RiskManager"
CHART_READER = "TechnicalAnalyst"
DECISION_RETRIES = 2
NO_CONSENSUS = "No consensus reached"
TURN_KEY = "turn"  # in the metadata of everything a team member says
STORED = ToolCallRequestEvent | ToolCallExecutionEvent | BaseChatMessage  # what becomes an AgentMessage

TASK_PROMPT = (
    """The team must decide whether to BUY, SELL or HOLD {{symbol}}.
Symbol: {{symbol}}
Current price: {{current_price}}
Timeframes: {{timeframes}}

Indicator summaries, one block per timeframe (the first is the primary timeframe):

{{indicators}}

Analysts give their view first; the RiskManager checks any proposed trade with its tools; the Executor
ends the debate with FINAL DECISION and the decision JSON.
"""
    + LANGUAGE_INSTRUCTION
)


class TeamFailed(Exception):
    """The debate cannot produce a decision (the Executor's model failed, the budget is spent...)."""


@dataclass
class TeamRequest:
    symbol: str
    current_price: Decimal
    summaries: dict[str, dict]  # timeframe label -> indicator summary, primary first
    charts: list[bytes] = field(default_factory=list)  # PNG images for the TechnicalAnalyst
    language: str = "en"
    execution_id: int | None = None
    step_id: str = ""

    def task_text(self) -> str:
        return render_prompt(TASK_PROMPT, {
            "symbol": self.symbol,
            "current_price": self.current_price,
            "timeframes": ", ".join(self.summaries),
            "indicators": indicator_blocks(self.summaries),
            "analysis_language": self.language,
        })


@dataclass
class TeamOutcome:
    decision: dict  # parse_decision's shape: decision, current_price, target_price, stop_loss, confidence ...
    consensus: bool
    stop_reason: str
    turns: int
    left_out: dict[str, str]  # agent -> why
    llm_call_ids: list[int]
    tokens_in: int
    tokens_out: int
    cost: Decimal | None  # None: a model without a known price took part
    message_count: int

    def summary(self) -> dict:
        """JSON-safe, for the step's output."""
        return {
            "consensus": self.consensus,
            "stop_reason": self.stop_reason,
            "turns": self.turns,
            "left_out": self.left_out,
            "llm_call_ids": self.llm_call_ids,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "cost": cost_text(self.cost),
            "messages": self.message_count,
        }


class TeamMember(BaseChatAgent):
    """An AssistantAgent that takes its turn in the debate's order and leaves, instead of failing it, when
    its model keeps failing.

    It reads the messages of the turns since it last spoke in speaking order (`speaking_order`
    ranks a message by its turn and speaker), whatever order they arrived in; only the chart
    reader is shown the charts of the task. Everything it says is marked with its `turn`, which
    the debate sets when it gives it the floor. The Executor cannot leave (nobody else decides),
    and a spent budget or a cancelled execution stops everyone: those errors propagate.
    """

    def __init__(self, inner: AssistantAgent, *, speaking_order: Callable[[BaseChatMessage], tuple],
                 sees_charts: bool):
        super().__init__(inner.name, inner.description)
        self.inner = inner
        self.speaking_order = speaking_order
        self.sees_charts = sees_charts
        self.turn = 0
        self.error: ModelError | CallCancelled | None = None

    @property
    def produced_message_types(self):
        return self.inner.produced_message_types

    async def on_messages(self, messages: Sequence[BaseChatMessage], cancellation_token: CancellationToken):
        response = None
        async for item in self.on_messages_stream(messages, cancellation_token):
            if isinstance(item, Response):
                response = item
        return response

    async def on_messages_stream(self, messages: Sequence[BaseChatMessage], cancellation_token: CancellationToken):
        heard = sorted((self.readable(message) for message in messages), key=self.speaking_order)
        try:
            async for item in self.inner.on_messages_stream(heard, cancellation_token):
                if isinstance(item, Response):
                    yield Response(chat_message=self.marked(item.chat_message), inner_messages=item.inner_messages)
                else:
                    yield self.marked(item)
        except CallCancelled as exc:
            self.error = exc
            raise
        except ModelError as exc:
            self.error = exc
            if self.name == EXECUTOR or isinstance(exc, BudgetExceeded):
                raise
            logger.warning("agent %s leaves the debate: %s", self.name, exc)
            note = f"{self.name} leaves the debate: its model failed after retries ({exc})."
            yield Response(chat_message=self.marked(TextMessage(source=self.name, content=note,
                                                                metadata={"left_out": "true"})))

    def readable(self, message: BaseChatMessage) -> BaseChatMessage:
        if isinstance(message, MultiModalMessage) and not self.sees_charts:
            text = "\n".join(part for part in message.content if isinstance(part, str))
            return TextMessage(source=message.source, content=text, metadata=message.metadata)
        return message

    def marked(self, item):
        return item.model_copy(update={"metadata": {**item.metadata, TURN_KEY: str(self.turn)}})

    async def on_reset(self, cancellation_token: CancellationToken) -> None:
        await self.inner.on_reset(cancellation_token)


def turn_of(item: BaseAgentEvent | BaseChatMessage) -> int:
    """The turn a team member said this in; 0 for the task."""
    return int(item.metadata.get(TURN_KEY, 0))


def _message_content(item: BaseAgentEvent | BaseChatMessage) -> tuple[str, str]:
    """(message_type, content) of something the team produced."""
    if isinstance(item, ToolCallRequestEvent):
        calls = [
            {"id": call.id, "name": call.name, "arguments": _json_or_text(call.arguments)} for call in item.content
        ]
        return AgentMessage.MessageType.TOOL_CALL, json.dumps(calls, ensure_ascii=False)
    if isinstance(item, ToolCallExecutionEvent):
        results = [
            {"call_id": result.call_id, "name": result.name, "content": _json_or_text(result.content),
             "is_error": bool(result.is_error)}
            for result in item.content
        ]
        return AgentMessage.MessageType.TOOL_RESULT, json.dumps(results, ensure_ascii=False)
    text = item.to_text()
    if isinstance(item, BaseChatMessage) and item.metadata.get("left_out"):
        return AgentMessage.MessageType.ERROR, text
    if item.source == EXECUTOR and is_final_decision(text):
        return AgentMessage.MessageType.DECISION, text
    return AgentMessage.MessageType.TEXT, text


def _json_or_text(text: str):
    try:
        return json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return text


class Debate:
    """One run of the team for one symbol; see the module docstring."""

    def __init__(self, request: TeamRequest, settings: TeamSettings, desk: TradingDesk,
                 on_message: Callable[[AgentMessage], None] | None = None,
                 backend_for: Callable[[AgentSettings], AgentBackend] | None = None):
        self.request = request
        self.settings = settings
        self.desk = desk
        self.on_message = on_message
        self.calls_pool = ThreadPoolExecutor(max_workers=len(settings.agents) + 1, thread_name_prefix="agent-call")
        self.recorder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="agent-recorder")
        scope = CallScope(execution_id=request.execution_id, step_id=request.step_id, symbol=request.symbol)
        backend_for = backend_for or configured_backend
        self.clients = {
            agent.name: TeamModelClient(
                agent_name=agent.name,
                backend=backend_for(agent),
                scope=scope,
                pool=self.calls_pool,
                temperature=agent.temperature,
            )
            for agent in settings.agents
        }
        analysts = [agent.name for agent in settings.agents if agent.name not in (RISK_MANAGER, EXECUTOR)]
        followers = [[name] for name in (RISK_MANAGER, EXECUTOR) if name in self.clients]
        # The turns of one round, in order; the speakers of one turn answer at the same time.
        self.round = [analysts, *followers] if analysts else followers
        self.order = [name for turn in self.round for name in turn]
        self.members = {agent.name: self.member(agent) for agent in settings.agents}
        self.place_in_round = -1
        self.turn = 0
        self.speakers: dict[int, list[str]] = {}  # turn -> who spoke in it, in speaking order
        self.final_answer: str | None = None
        self.stored = 0
        self.calls_told = dict.fromkeys(self.clients, 0)  # agent -> how many of its calls its messages showed
        self.held: dict[tuple[int, str], list] = {}  # (turn, agent) -> messages waiting for the ones before
        self.storing = (1, 0)  # (turn, place in that turn) whose messages are stored as they arrive

    # --- building ---------------------------------------------------------------------------

    def member(self, agent: AgentSettings) -> TeamMember:
        tools = [bind_tool(name, self.desk) for name in agent.tools
                 if name != "run_python" or self.desk.code_runner is not None]
        return TeamMember(
            AssistantAgent(
                agent.name,
                model_client=self.clients[agent.name],
                tools=tools or None,
                system_message=agent.system_prompt,
                description=f"The team's {agent.name}.",
                max_tool_iterations=agent.max_iterations,
                reflect_on_tool_use=True,
            ),
            speaking_order=self.speaking_order,
            sees_charts=agent.name == CHART_READER,
        )

    def task_message(self, text: str) -> BaseChatMessage:
        if self.request.charts:
            images = [Image.from_base64(base64.b64encode(png).decode("ascii")) for png in self.request.charts]
            return MultiModalMessage(source="user", content=[text, *images])
        return TextMessage(source="user", content=text)

    def speaking_order(self, item: BaseAgentEvent | BaseChatMessage) -> tuple[int, int]:
        return turn_of(item), self.order.index(item.source) if item.source in self.order else -1

    # --- turns ------------------------------------------------------------------------------

    def next_speakers(self) -> list[str]:
        """The next turn's speakers: the next group of the round with someone still in the debate."""
        for step in range(1, len(self.round) + 1):
            place = (self.place_in_round + step) % len(self.round)
            speakers = [name for name in self.round[place] if self.members[name].error is None]
            if speakers:
                break
        self.place_in_round = place
        self.turn += 1
        self.speakers[self.turn] = speakers
        for name in speakers:
            self.members[name].turn = self.turn
        return speakers

    # --- recording --------------------------------------------------------------------------

    async def arrived(self, item) -> None:
        """Store `item` now if its speaker is the one being stored, else when everyone before it has finished."""
        if not isinstance(item, STORED):
            return
        self.held.setdefault((turn_of(item), item.source), []).append(item)
        while (speaker := self.speaker_being_stored()) is not None and self.held.get(speaker):
            items = self.held[speaker]
            while items:
                done = isinstance(items[0], BaseChatMessage)
                await self.record(items.pop(0), speaker[0])
                if done:
                    del self.held[speaker]
                    self.storing = self.next_place(*self.storing)
                    break

    def speaker_being_stored(self) -> tuple[int, str] | None:
        turn, place = self.storing
        speakers = self.speakers.get(turn)
        return (turn, speakers[place]) if speakers else None

    def next_place(self, turn: int, place: int) -> tuple[int, int]:
        return (turn, place + 1) if place + 1 < len(self.speakers[turn]) else (turn + 1, 0)

    async def store_held(self) -> None:
        """What is still held when the team stops (a speaker failed mid-turn), in speaking order."""
        waiting = [items for items in self.held.values() if items]
        for items in sorted(waiting, key=lambda items: self.speaking_order(items[0])):
            for item in items:
                await self.record(item, turn_of(item))
        self.held.clear()

    async def record(self, item, turn: int) -> None:
        client = self.clients.get(item.source)
        call = None
        if item.models_usage is not None and client is not None and self.calls_told[item.source] < len(client.calls):
            call = client.calls[self.calls_told[item.source]]
            self.calls_told[item.source] += 1
        message_type, content = _message_content(item)
        await asyncio.get_running_loop().run_in_executor(
            self.recorder, self.store, item.source, turn, message_type, content, item.models_usage, call
        )

    def store(self, agent_name, turn, message_type, content, usage, call) -> AgentMessage:
        stance = read_stance(content) if message_type == AgentMessage.MessageType.TEXT else None
        if message_type == AgentMessage.MessageType.DECISION:
            stance = _decision_stance(content)
        row = AgentMessage.objects.create(
            execution_id=self.request.execution_id,
            symbol=self.request.symbol,
            round=turn,
            agent_name=agent_name,
            message_type=message_type,
            content=content,
            tokens=(usage.prompt_tokens + usage.completion_tokens) if usage else 0,
            cost=call.cost if call else Decimal("0"),  # None: the model has no price
            model=call.model if call else (self.clients[agent_name].model if agent_name in self.clients else ""),
            latency_ms=call.latency_ms if call else 0,
            stance=stance.side if stance else "",
            confidence=stance.confidence if stance else None,
        )
        self.stored += 1
        if self.on_message is not None:
            self.on_message(row)
        return row

    # --- the debate -------------------------------------------------------------------------

    async def debate(self) -> TeamOutcome:
        token = CancellationToken()
        team = DebateGroupChat(
            [self.members[name] for name in self.order],
            next_speakers=self.next_speakers,
            termination_condition=TextMentionTermination(FINAL_DECISION_MARKER, sources=[EXECUTOR]),
            max_turns=self.settings.max_rounds,
        )
        result: TaskResult | None = None
        try:
            async for item in team.run_stream(task=[self.task_message(self.request.task_text())],
                                              output_task_messages=False, cancellation_token=token):
                if isinstance(item, TaskResult):
                    result = item
                    continue
                if isinstance(item, BaseChatMessage) and item.source == EXECUTOR and is_final_decision(item.to_text()):
                    self.final_answer = item.to_text()
                await self.arrived(item)
        except RuntimeError as exc:  # AutoGen reports an agent's error as a RuntimeError with its text
            errors = [member.error for member in self.members.values()]
            cancelled = next((error for error in errors if isinstance(error, CallCancelled)), None)
            if cancelled is not None:
                raise cancelled from exc
            failed = self.members[EXECUTOR].error or next(
                (error for error in errors if isinstance(error, BudgetExceeded)), None
            )
            raise TeamFailed(f"the debate on {self.request.symbol} stopped: {failed or exc}") from exc
        finally:
            await self.store_held()
        decision = await self.final_decision(token)
        return await self.outcome(decision, result)

    async def final_decision(self, token: CancellationToken) -> dict | None:
        """The Executor's FINAL DECISION parsed; an invalid one goes back to the Executor with the error."""
        executor = self.members[EXECUTOR]
        answer = self.final_answer
        if answer is None:
            return None
        for attempt in range(DECISION_RETRIES + 1):
            try:
                return parse_decision(answer.split(FINAL_DECISION_MARKER, 1)[-1])
            except InvalidDecision as exc:
                if attempt == DECISION_RETRIES:
                    raise TeamFailed(
                        f"the Executor's final decision on {self.request.symbol} is invalid: {exc}"
                    ) from exc
                retry = TextMessage(source="user", content=(
                    f"Your final decision could not be used: {exc}. Answer again with {FINAL_DECISION_MARKER} "
                    "and exactly one JSON object that fixes these problems."
                ))
                answer = ""
                self.turn += 1
                executor.turn = self.turn
                async for item in executor.on_messages_stream([retry], token):
                    if isinstance(item, Response):
                        item = item.chat_message
                        answer = item.to_text()
                    if isinstance(item, STORED):
                        await self.record(item, self.turn)
        return None

    async def outcome(self, decision: dict | None, result: TaskResult | None) -> TeamOutcome:
        stop_reason = (result.stop_reason if result else "") or ""
        consensus = decision is not None
        if decision is None:
            reason = (
                f"the debate stopped after {self.turn} agent turns (max_rounds {self.settings.max_rounds}) without a "
                f"final decision from the Executor ({stop_reason or 'no reason given'})"
            )
            decision = {
                "decision": "HOLD",
                "current_price": self.request.current_price,
                "target_price": None,
                "stop_loss": None,
                "confidence": Decimal("0"),
                "key_factors": [NO_CONSENSUS, reason],
                "analysis": f"{NO_CONSENSUS}: {reason}.",
            }
            stop_reason = f"{NO_CONSENSUS}: {reason}"
            content = json.dumps({**decision, "current_price": str(decision["current_price"]), "confidence": "0"})
            await asyncio.get_running_loop().run_in_executor(
                self.recorder, self.store, TEAM_SPEAKER, self.turn, AgentMessage.MessageType.DECISION,
                f"{FINAL_DECISION_MARKER}\n{content}", None, None,
            )
        calls = [call for client in self.clients.values() for call in client.calls]
        left_out = {name: str(member.error) for name, member in self.members.items() if member.error is not None}
        return TeamOutcome(
            decision=decision,
            consensus=consensus,
            stop_reason=stop_reason,
            turns=self.turn,
            left_out=left_out,
            llm_call_ids=[call.pk for call in calls],
            tokens_in=sum(call.tokens_in for call in calls),
            tokens_out=sum(call.tokens_out for call in calls),
            cost=sum_costs(call.cost for call in calls),
            message_count=self.stored,
        )

    async def run(self) -> TeamOutcome:
        try:
            return await self.debate()
        finally:
            self.calls_pool.shutdown(wait=True)
            self.recorder.submit(connections.close_all).result()
            self.recorder.shutdown(wait=True)


def _decision_stance(content: str):
    try:
        decision = parse_decision(content.split(FINAL_DECISION_MARKER, 1)[-1])
    except InvalidDecision:
        return None
    return read_stance(f"Stance: {decision['decision']}\nConfidence: {decision['confidence']}")


def configured_backend(agent: AgentSettings) -> AgentBackend:
    """The agent's model as configured: the offline analyst in its role, or its provider's endpoint."""
    return agent_backend(agent.name, provider=agent.provider, model=agent.model, temperature=agent.temperature)


def run_team(request: TeamRequest, settings: TeamSettings, *, desk: TradingDesk,
             on_message: Callable[[AgentMessage], None] | None = None,
             backend_for: Callable[[AgentSettings], AgentBackend] | None = None) -> TeamOutcome:
    """Run the debate for one symbol (blocking); raises TeamFailed when it cannot produce a decision.

    `on_message` gets every stored AgentMessage as it arrives; `backend_for` replaces the configured
    models (another provider, or a benchmark's model with a fixed delay).
    """
    if not any(agent.name == EXECUTOR for agent in settings.agents):
        raise TeamFailed("the team has no Executor: nobody could decide")
    return asyncio.run(Debate(request, settings, desk, on_message, backend_for).run())

