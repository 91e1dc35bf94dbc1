import socket
import struct

from broker.gateway_sim import SERVER_VERSION
from broker.gateway_sim.wire import API_PREFIX


def test_it_logs_a_client_on_with_a_paper_account(gateway, ib):
    assert ib.isConnected()
    assert ib.client.serverVersion() == SERVER_VERSION
    assert ib.managedAccounts() == [gateway.account_id]
    assert gateway.account_id.startswith("DU")


def test_it_tells_the_current_market_time(gateway, ib):
    reported = ib.reqCurrentTime()
    assert abs((reported - gateway.clock.now()).total_seconds()) < 120


def test_it_closes_a_connection_whose_client_cannot_speak_its_version(gateway):
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=5) as client:
        client.sendall(API_PREFIX + encode_frame_text("v100..151"))
        assert client.recv(1024) == b""


def test_it_closes_a_connection_that_does_not_speak_the_api(gateway):
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=5) as client:
        client.sendall(b"GET / HTTP/1.1\r\n\r\n")
        assert client.recv(1024) == b""


def encode_frame_text(text: str) -> bytes:
    return struct.pack(">I", len(text)) + text.encode()
