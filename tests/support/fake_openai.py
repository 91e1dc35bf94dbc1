"""A fake OpenAI-compatible model server: the real `openai` client talks to it over HTTP.

A paid LLM cannot exist in tests, so this speaks the /v1/chat/completions protocol: each request is
recorded (path, lower-cased headers, JSON body, and `at`: when it arrived, on the monotonic clock
that time-machine leaves alone) and answered from `script`, a list of (status, text, delay seconds)
or (status, text, delay seconds, response headers) taken one per request, or by
`responder(body) -> text` when the script is empty, or with a plain greeting. `max_in_flight` is
the most requests the server was answering at once. Responder and greeting answers come after
`latency` seconds; each request has a thread of its own, so answers that take a while overlap
(bench/concurrency.py serves its runs with it).
"""

import json
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ChatCompletionsHandler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - the http.server API
        server = self.server
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with server.guard:
            server.requests.append(
                {
                    "path": self.path,
                    "headers": {name.lower(): value for name, value in self.headers.items()},
                    "body": body,
                    "at": time.monotonic(),
                }
            )
            server.in_flight += 1
            server.max_in_flight = max(server.max_in_flight, server.in_flight)
            entry = server.script.pop(0) if server.script else None
        headers = {}
        if entry is not None:
            status, reply, delay, *rest = entry
            headers = rest[0] if rest else {}
        elif server.responder is not None:
            status, reply, delay = 200, server.responder(body), server.latency
        else:
            status, reply, delay = 200, "Hello from the server.", server.latency
        time.sleep(delay)
        # Done before the answer is sent: once the client has it, it may send its next request.
        with server.guard:
            server.in_flight -= 1
        if status == 200:
            payload = {
                "id": "chatcmpl-test",
                "object": "chat.completion",
                "created": 1700000000,
                "model": body["model"] + "-2024-08-06",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1200, "completion_tokens": 300, "total_tokens": 1500},
            }
        else:
            payload = {"error": {"message": reply, "type": "server_error", "param": None, "code": None}}
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client timed out and hung up

    def log_message(self, format, *args):
        pass


class ChatCompletionsServer(ThreadingHTTPServer):
    request_queue_size = 128  # connections from many workers at once wait to be accepted, not refused


@contextmanager
def fake_openai_server(responder: Callable[[dict], str] | None = None, *, latency: float = 0):
    """Serve on a free loopback port; `server.url` is the base URL (ending in /v1)."""
    server = ChatCompletionsServer(("127.0.0.1", 0), ChatCompletionsHandler)
    server.requests, server.script, server.responder, server.latency = [], [], responder, latency
    server.guard, server.in_flight, server.max_in_flight = threading.Lock(), 0, 0
    server.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
