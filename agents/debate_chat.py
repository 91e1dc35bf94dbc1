"""An AutoGen group chat whose turns may have several speakers at once.

autogen-agentchat's group chat manager already runs every speaker it selects for a turn at
the same time and waits for all of them before it selects again; its built-in teams just never
select more than one. `DebateGroupChat` asks a callable for each turn's speakers, so the
debate (agents.team) can let the analysts, who all answer the same shared context, speak
together, and the RiskManager and the Executor, who need their views, speak after them.

`max_turns` counts turns, not speakers: the analysts speaking together are one turn.

BaseGroupChatManager is not exported by `autogen_agentchat.teams`, but BaseGroupChat's
documentation names subclassing it as the way to write a team of one's own; the package is
pinned (requirements.txt), so its module path holds.
"""

import asyncio
from collections.abc import Callable, Sequence

from autogen_agentchat.base import ChatAgent, TerminationCondition
from autogen_agentchat.messages import BaseAgentEvent, BaseChatMessage, MessageFactory
from autogen_agentchat.teams import BaseGroupChat
from autogen_agentchat.teams._group_chat._base_group_chat_manager import BaseGroupChatManager
from autogen_agentchat.teams._group_chat._events import GroupChatTermination

SpeakersOfNextTurn = Callable[[], list[str]]


class DebateManager(BaseGroupChatManager):
    """Selects each turn's speakers by asking `next_speakers`."""

    def __init__(self, *args, next_speakers: SpeakersOfNextTurn, **kwargs):
        super().__init__(*args, **kwargs)
        self._next_speakers = next_speakers

    async def validate_group_state(self, messages: list[BaseChatMessage] | None) -> None:
        return None

    async def reset(self) -> None:
        self._current_turn = 0
        self._message_thread.clear()
        if self._termination_condition is not None:
            await self._termination_condition.reset()

    async def select_speaker(self, thread: Sequence[BaseAgentEvent | BaseChatMessage]) -> list[str]:
        return self._next_speakers()


class DebateGroupChat(BaseGroupChat):
    """A group chat of `participants` whose speakers, one or several per turn, `next_speakers` picks."""

    def __init__(
        self,
        participants: list[ChatAgent],
        *,
        next_speakers: SpeakersOfNextTurn,
        termination_condition: TerminationCondition | None = None,
        max_turns: int | None = None,
    ):
        self._next_speakers = next_speakers
        super().__init__(
            name="Debate",
            description="A debate whose turns may have several speakers at once.",
            participants=participants,
            group_chat_manager_name="DebateManager",
            group_chat_manager_class=DebateManager,
            termination_condition=termination_condition,
            max_turns=max_turns,
        )

    def _create_group_chat_manager_factory(
        self,
        name: str,
        group_topic_type: str,
        output_topic_type: str,
        participant_topic_types: list[str],
        participant_names: list[str],
        participant_descriptions: list[str],
        output_message_queue: asyncio.Queue[BaseAgentEvent | BaseChatMessage | GroupChatTermination],
        termination_condition: TerminationCondition | None,
        max_turns: int | None,
        message_factory: MessageFactory,
    ) -> Callable[[], DebateManager]:
        def factory() -> DebateManager:
            return DebateManager(
                name,
                group_topic_type,
                output_topic_type,
                participant_topic_types,
                participant_names,
                participant_descriptions,
                output_message_queue,
                termination_condition,
                max_turns,
                message_factory,
                self._emit_team_events,
                next_speakers=self._next_speakers,
            )

        return factory
