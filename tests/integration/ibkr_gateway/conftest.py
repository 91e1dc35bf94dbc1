import threading
import time
import uuid
from datetime import UTC, datetime

import pytest
import requests
from django.db import connections
from ib_insync import IB, Stock

from broker.adapters import reset_adapter
from broker.gateway_sim import GatewaySimulator, MarketClock
from broker.models import SimulatedAccount
from broker.simulation import SimulatedExchange
from tests.workers import WebProcess, database_url

# A Wednesday afternoon: the simulated market trades on weekdays, so tests replay a fixed
# weekday at 600x (ten market minutes per second) whatever day they run on.
MARKET_START = datetime(2024, 1, 3, 14, 30, tzinfo=UTC)
REPLAY_SPEED = 600


def on_own_connection(work):
    """Run `work()` in a thread with a database connection of its own and return its result.

    The test's connection sits inside the test's transaction, which the simulator's thread
    cannot see; reads of what the exchange committed, and the cleanup, go through this.
    """
    results = []

    def run():
        try:
            results.append(work())
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert results, "the database work failed (see the thread's traceback above)"
    return results[0]


@pytest.fixture
def paper_account(db):
    """A paper account of this test's own on the simulated exchange.

    The exchange runs on the simulator's thread with its own database connection, so its writes
    really commit: instead of flushing every table after each test, each test trades in its
    own account, deleted afterwards with its orders, executions and positions.
    """
    account_id = f"DUGW{uuid.uuid4().hex[:8].upper()}"
    yield account_id
    on_own_connection(lambda: SimulatedAccount.objects.filter(account_id=account_id).delete())


@pytest.fixture
def gateway(paper_account):
    """The simulator serving from a background thread on a free port."""
    simulator = GatewaySimulator(
        port=0,
        exchange=SimulatedExchange(account_id=paper_account),
        clock=MarketClock(start=MARKET_START, speed=REPLAY_SPEED),
        market_interval=0.05,
    )
    simulator.start_in_thread()
    yield simulator
    simulator.stop_thread()


@pytest.fixture
def ibkr_broker(gateway, settings):
    """The app's broker setting on `ibkr`, pointed at this test's simulator, with a fresh process adapter."""
    settings.BROKER_ADAPTER = "ibkr"
    settings.IBKR_HOST = "127.0.0.1"
    settings.IBKR_PORT = gateway.port
    settings.IBKR_ACCOUNT = ""
    settings.IBKR_READONLY = False
    settings.IBKR_TIMEOUT = 5.0
    settings.TRADING_MODE = "paper"
    settings.LLM_PROVIDER = "offline"
    settings.CHART_WIDTH, settings.CHART_HEIGHT = 480, 320
    reset_adapter()
    yield gateway
    reset_adapter()


@pytest.fixture
def connect(gateway):
    """Connect real ib_insync clients to the simulator; all are disconnected after the test."""
    clients = []

    def connect_client(client_id: int = 1, timeout: float = 5) -> IB:
        ib = IB()
        clients.append(ib)
        ib.connect("127.0.0.1", gateway.port, clientId=client_id, timeout=timeout)
        return ib

    yield connect_client
    for ib in clients:
        ib.disconnect()


@pytest.fixture
def ib(connect) -> IB:
    return connect(1)


def wait_until(ib: IB, condition, timeout: float = 10.0) -> None:
    """Run the client's event loop until `condition()` holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the simulator did not get there in time"
        ib.sleep(0.02)


@pytest.fixture
def slow_stock(ib) -> Stock:
    """A thinly traded simulated stock (about $63, at most 229 shares per minute bar that afternoon)."""
    contract = Stock("SLOW", "SMART", "USD")
    ib.qualifyContracts(contract)
    return contract


@pytest.fixture(autouse=True)
def decoded_cleanly(caplog):
    """ib_insync logs (not raises) messages it cannot decode: any such log fails the test."""
    yield
    undecoded = [r.getMessage() for r in caplog.records if r.name == "ib_insync.Decoder"]
    unmatched = [r.getMessage() for r in caplog.records if "No order found" in r.getMessage()]
    assert not undecoded + unmatched


def process_env(gateway) -> dict:
    """The environment of a web or worker OS process of this test: IBKR mode against its simulator.

    BROKER_LOCK_SECONDS is short so that a killed worker's submit lock expires within the test.
    """
    return {
        "DATABASE_URL": database_url(),
        "BROKER_ADAPTER": "ibkr",
        "IBKR_HOST": "127.0.0.1",
        "IBKR_PORT": str(gateway.port),
        "IBKR_TIMEOUT": "5",
        "TRADING_MODE": "paper",
        "BROKER_LOCK_SECONDS": "3",
    }


@pytest.fixture
def web(gateway):
    """daphne in IBKR mode, pointed at this test's simulator (the test must commit what it shows)."""
    process = WebProcess(env=process_env(gateway)).start()
    try:
        yield process.wait_ready()
    finally:
        process.stop()


@pytest.fixture
def trader(alice):
    """alice's HTTP session with the web process, by API token."""
    from knox.models import AuthToken

    session = requests.Session()
    session.headers["Authorization"] = f"Token {AuthToken.objects.create(user=alice)[1]}"
    return session
