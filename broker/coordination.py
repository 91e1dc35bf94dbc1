"""What the broker app's worker processes share through Redis: a client and short named locks.

Without settings.REDIS_URL (management commands, single-process runs) the locks are
process-local, which is all the coordination one process needs.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

import redis
from django.conf import settings

_local_locks: dict[str, threading.Lock] = {}
_local_locks_guard = threading.Lock()


def redis_key(name: str) -> str:
    return f"{settings.REDIS_KEY_PREFIX}broker:{name}"


@lru_cache(maxsize=4)
def _client_for(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


def redis_client() -> redis.Redis | None:
    """The shared Redis, or None when this installation runs without one."""
    return _client_for(settings.REDIS_URL) if settings.REDIS_URL else None


class LockTimeout(Exception):
    """Another worker held the lock for longer than we were willing to wait."""


@contextmanager
def named_lock(name: str, *, hold_seconds: float = 60, wait_seconds: float = 90) -> Iterator[None]:
    """Hold a lock shared by every worker (Redis) or by this process's threads (no Redis).

    `hold_seconds` bounds how long a crashed holder can block the others.
    """
    client = redis_client()
    if client is None:
        with _local_locks_guard:
            lock = _local_locks.setdefault(name, threading.Lock())
        if not lock.acquire(timeout=wait_seconds):
            raise LockTimeout(f"Waited {wait_seconds}s for lock {name!r}")
        try:
            yield
        finally:
            lock.release()
        return
    lock = client.lock(redis_key(f"lock:{name}"), timeout=hold_seconds, blocking_timeout=wait_seconds)
    if not lock.acquire():
        raise LockTimeout(f"Waited {wait_seconds}s for lock {name!r}")
    try:
        yield
    finally:
        try:
            lock.release()
        except redis.exceptions.LockError:
            pass  # it expired while we worked; the next holder already has it
