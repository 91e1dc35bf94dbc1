"""The app served as in production, under ASGI: HTTP pages and the websockets, for the browser tests.

pytest-django's live_server is a WSGI server, so a page's websocket (ws/monitor/,
ws/executions/<id>/) would fail its handshake there. This server runs tradingweb's ASGI
application (static files included) with uvicorn in a thread of the test process, against the
test database and the test run's Redis channel layer, so events published by a Celery worker of
the same run reach the browser.
"""

import socket
import threading
import time

import uvicorn
from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.asgi import get_asgi_application
from django.test.utils import modify_settings

HOST = "127.0.0.1"
START_TIMEOUT_SECONDS = 20


def asgi_application():
    """tradingweb.asgi's application with static files served (collectstatic is not run for tests)."""
    from tradingweb.routing import websocket_urlpatterns

    return ProtocolTypeRouter(
        {
            "http": ASGIStaticFilesHandler(get_asgi_application()),
            "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
        }
    )


class AsgiLiveServer:
    """Quacks like pytest-django's LiveServer: `.url`, and the settings its autouse helper toggles."""

    def __init__(self):
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((HOST, 0))
        self.port = listener.getsockname()[1]
        config = uvicorn.Config(asgi_application(), log_level="warning", lifespan="off", ws="websockets-sansio")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [listener]}, name="asgi-live-server", daemon=True
        )
        self._live_server_modified_settings = modify_settings(ALLOWED_HOSTS={"append": HOST})
        self.thread.start()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the ASGI test server did not start on {HOST}:{self.port}")
            time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def __str__(self) -> str:
        return self.url

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
