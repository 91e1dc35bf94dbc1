"""A channel in some channel-layer groups, listening as a web process's consumer does.

The pub/sub channel layer keeps a channel's subscriptions in the event loop that made it, so the
listener runs a loop of its own in a thread and receives there from the start. Each event comes back
decoded from the websocket text of its envelope (execution.progress.Envelope), with the envelope's
owner_id and kind beside it.
"""

import asyncio
import json
import threading
import time

from channels.layers import get_channel_layer


class GroupListener:
    def __init__(self, *groups: str):
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="group-listener", daemon=True).start()
        self.layer = get_channel_layer()
        self.received: list[dict] = []
        self._call(self._join(groups))

    def _call(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=10)

    async def _join(self, groups) -> None:
        self.channel = await self.layer.new_channel()
        for group in groups:
            await self.layer.group_add(group, self.channel)
        self.task = asyncio.create_task(self._receive_forever())

    async def _receive_forever(self) -> None:
        while True:
            envelope = await self.layer.receive(self.channel)
            event = json.loads(envelope["text"])
            self.received.append({**event, "owner_id": envelope["owner_id"], "envelope": envelope["type"]})

    def events(self, until=lambda event: False, quiet: float = 2.0) -> list[dict]:
        """What arrived, once `until(event)` holds for one or nothing more came for `quiet` seconds."""
        seen, last_change = 0, time.monotonic()
        while not any(until(event) for event in self.received):
            if len(self.received) != seen:
                seen, last_change = len(self.received), time.monotonic()
            elif time.monotonic() - last_change > quiet:
                break
            time.sleep(0.02)
        return list(self.received)

    def close(self) -> None:
        self._call(self._stop_receiving())
        self.loop.call_soon_threadsafe(self.loop.stop)

    async def _stop_receiving(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
