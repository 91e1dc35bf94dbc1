"""A channel listening on the monitor group, and a tiny local webhook receiver."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.support.groups import GroupListener


@pytest.fixture(autouse=True)
def quick_retries(settings):
    settings.NOTIFICATION_RETRY_BASE_SECONDS = 0.01
    settings.NOTIFICATION_WEBHOOK_TIMEOUT = 5
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


class Monitor:
    """What a browser on ws/monitor/ would receive."""

    def __init__(self):
        self.listener = GroupListener("monitor")

    def notifications(self, expected: int = 1, timeout: float = 3) -> list[dict]:
        def notifications_of(events):
            return [event for event in events if event["type"] == "notification"]

        events = self.listener.events(until=lambda _: len(notifications_of(self.listener.received)) >= expected,
                                      quiet=timeout)  # fmt: skip
        return notifications_of(events)


@pytest.fixture
def monitor():
    listening = Monitor()
    yield listening
    listening.listener.close()


class WebhookReceiver:
    """An HTTP server on a free loopback port that answers with the next status of `statuses` (then 200)."""

    def __init__(self):
        self.requests: list[dict] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                receiver.requests.append(
                    {"headers": dict(self.headers), "body": json.loads(self.rfile.read(length) or b"null")}
                )
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ok": true}')

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/tradingweb"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook(settings):
    """The receiver listens on loopback, which a user's URL may reach only because staff allow it here."""
    settings.OUTBOUND_ALLOWED = ["127.0.0.1/32"]
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()
