import asyncio
import signal
from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError

from broker.gateway_sim import SERVER_VERSION, Faults, GatewaySimulator, MarketClock
from broker.simulation import DEFAULT_ACCOUNT_ID, SimulatedExchange


def market_start(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--market-start {text!r} is not an ISO date/time like 2024-01-03T14:30") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def build_simulator(options: dict) -> GatewaySimulator:
    """The simulator the command line describes."""
    if not options["account"].startswith("DU"):
        raise CommandError(f"--account {options['account']!r} must be a paper account id (starting with DU)")
    if options["speed"] <= 0:
        raise CommandError("--speed must be positive")
    start = market_start(options["market_start"]) if options["market_start"] else None
    return GatewaySimulator(
        host=options["host"],
        port=options["port"],
        exchange=SimulatedExchange(seed=options["seed"], account_id=options["account"]),
        clock=MarketClock(start=start, speed=options["speed"]),
        faults=Faults(
            response_delay=options["delay"],
            reject_orders=options["reject_orders"],
            pacing_violations=options["pacing_errors"],
        ),
        enforce_pacing=options["enforce_pacing"],
    )


async def serve_until_stopped(simulator: GatewaySimulator, drop_every: float | None) -> None:
    """Serve until Ctrl-C or SIGTERM (a container stopping)."""
    serving = asyncio.current_task()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, serving.cancel)
    try:
        await simulator.serve_forever(drop_every=drop_every)
    except asyncio.CancelledError:
        pass


class Command(BaseCommand):
    help = (
        "Run a local stand-in for IB Gateway: the TWS API (server version "
        f"{SERVER_VERSION}) on a TCP port, backed by the simulated exchange, until Ctrl-C. "
        "Point the IBKR adapter at it with BROKER_ADAPTER=ibkr IBKR_PORT=<port>."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="Interface to listen on (default 127.0.0.1).")
        parser.add_argument("--port", type=int, default=4002, help="TCP port (default 4002, IB Gateway paper).")
        parser.add_argument("--account", default=DEFAULT_ACCOUNT_ID, help="Paper account id reported to clients.")
        parser.add_argument("--seed", type=int, default=None, help="Price path seed (default SIMULATED_SEED).")
        parser.add_argument(
            "--market-start", default="", help="Replay the market from this UTC time instead of trading at wall time."
        )
        parser.add_argument(
            "--speed",
            type=float,
            default=1.0,
            help="Market seconds per real second (e.g. 60 replays a minute a second).",
        )
        parser.add_argument("--delay", type=float, default=0.0, help="Fault: seconds to wait before every answer.")
        parser.add_argument("--reject-orders", type=int, default=0, help="Fault: reject the next N orders (error 201).")
        parser.add_argument(
            "--pacing-errors", type=int, default=0, help="Fault: fail the next N historical data requests (error 162)."
        )
        parser.add_argument(
            "--enforce-pacing", action="store_true", help="Refuse requests that break IBKR's pacing rules (error 162)."
        )
        parser.add_argument(
            "--drop-every", type=float, default=None, help="Fault: drop every connection this often, in seconds (1100)."
        )

    def handle(self, *args, **options):
        simulator = build_simulator(options)
        self.stdout.write(
            f"Gateway simulator on {options['host']}:{options['port']} (server version {SERVER_VERSION}, "
            f"account {simulator.account_id}). Ctrl-C stops it."
        )
        try:
            asyncio.run(serve_until_stopped(simulator, options["drop_every"]))
        except KeyboardInterrupt:
            pass
        self.stdout.write("Gateway simulator stopped.")
