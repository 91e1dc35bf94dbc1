"""Faults a test or an operator can tell the gateway simulator to inject.

Switches are set from any thread (a test's main thread, the CLI) and read by the server's
event loop, so every change goes through one lock.
"""

import threading
from collections import deque

DEFAULT_REJECT_REASON = "Simulated rejection requested by the operator"


class Faults:
    def __init__(self, *, response_delay: float = 0.0, reject_orders: int = 0, pacing_violations: int = 0):
        self._lock = threading.Lock()
        self._response_delay = response_delay
        self._order_rejections: deque[str] = deque([DEFAULT_REJECT_REASON] * reject_orders)
        self._pacing_violations = pacing_violations
        self._silenced_orders = 0

    @property
    def response_delay(self) -> float:
        with self._lock:
            return self._response_delay

    def delay_responses(self, seconds: float) -> None:
        """Wait this long before answering each request (0 turns the delay off)."""
        if seconds < 0:
            raise ValueError(f"A response delay cannot be negative, got {seconds}")
        with self._lock:
            self._response_delay = seconds

    def reject_next_order(self, reason: str = DEFAULT_REJECT_REASON, count: int = 1) -> None:
        """The next `count` orders are rejected with error 201 and never reach the exchange."""
        with self._lock:
            self._order_rejections.extend([reason] * count)

    def pacing_violation_next(self, count: int = 1) -> None:
        """The next `count` historical data requests fail with error 162 (pacing violation)."""
        with self._lock:
            self._pacing_violations += count

    def silence_next_order(self, count: int = 1) -> None:
        """The next `count` orders reach the exchange and work there, but their client hears nothing back
        (a gateway that accepted an order and lost the connection before acknowledging it)."""
        with self._lock:
            self._silenced_orders += count

    def take_silenced_order(self) -> bool:
        with self._lock:
            if not self._silenced_orders:
                return False
            self._silenced_orders -= 1
            return True

    def take_order_rejection(self) -> str | None:
        with self._lock:
            return self._order_rejections.popleft() if self._order_rejections else None

    def take_pacing_violation(self) -> bool:
        with self._lock:
            if not self._pacing_violations:
                return False
            self._pacing_violations -= 1
            return True
