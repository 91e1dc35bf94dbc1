"""The sandbox runs started in one context, which another thread may stop.

A step abandoned at its run's hard time limit has its runs stopped this way (see execution.engine).

A run is a local bubblewrap child (stopped by killing its process group) or a request to the
sandbox service (stopped by hanging up, which makes the service kill the run's child).
"""

import contextvars
import threading
from collections.abc import Callable
from contextlib import contextmanager


class SandboxChildren:
    """The sandbox runs started under one `children_scope()`, which `kill_all()` stops from any thread."""

    def __init__(self):
        self.lock = threading.Lock()
        self.stops: dict[object, Callable[[], None]] = {}  # a run (process or connection) -> what stops it
        self.killed = False

    def add(self, run: object, stop: Callable[[], None]) -> None:
        with self.lock:
            self.stops[run] = stop
            if self.killed:  # started after the kill: it does not get to run either
                stop()

    def discard(self, run: object) -> None:
        with self.lock:
            self.stops.pop(run, None)

    def kill_all(self) -> int:
        """Stop every run still going; the thread waiting for it gets a killed result."""
        with self.lock:
            self.killed = True
            for stop in self.stops.values():
                stop()
            return len(self.stops)


_children: contextvars.ContextVar[SandboxChildren | None] = contextvars.ContextVar("sandbox_children", default=None)


@contextmanager
def children_scope():
    """The sandbox runs that run_code starts in this context (this thread) until the block ends."""
    scope = SandboxChildren()
    token = _children.set(scope)
    try:
        yield scope
    finally:
        _children.reset(token)


def current_scope() -> SandboxChildren | None:
    return _children.get()
