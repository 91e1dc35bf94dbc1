"""Helpers of the account pages' browser tests: seeding around simulated prices, checking canvases."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from broker.adapters.simulated import SimulatedAdapter
from broker.instruments import qualify_symbol
from broker.models import Position, Trade
from workflows.models import Strategy

# True when any pixel of the canvas has been painted.
CANVAS_IS_DRAWN = """(canvas) => {
    if (!canvas.width || !canvas.height) return false;
    const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) return true;
    return false;
}"""


def drawn_canvases(locator) -> int:
    return sum(1 for canvas in locator.all() if canvas.evaluate(CANVAS_IS_DRAWN))


def seed_portfolio(owner) -> list[Position]:
    """Positions a little in and out of the money at the simulated broker's prices, and closed trades
    spread over the last weeks, two strategies and manual orders."""
    strategies = [Strategy.objects.create(owner=owner, name=name) for name in ("Dividend momentum", "Staples swing")]
    adapter = SimulatedAdapter()
    now = timezone.now()
    positions = []
    for index, (symbol, shares, move, strategy) in enumerate(
        [("KO", 40, "0.94", strategies[0]), ("PEP", 12, "1.05", strategies[1]), ("JNJ", 8, "0.97", None)]
    ):
        instrument = qualify_symbol(symbol)
        price = adapter.quote(instrument.conid, symbol).last
        cost = (price * Decimal(move)).quantize(Decimal("0.01"))
        positions.append(
            Position.objects.create(
                owner=owner, instrument=instrument, strategy=strategy, quantity=shares, average_cost=cost,
                cost_basis=cost * shares, stop_price=(cost * Decimal("0.92")).quantize(Decimal("0.01")),
            )
        )
        for day, pnl in enumerate(["120.50", "-40.25", "88.00", "-15.75"][index:]):
            Trade.objects.create(
                owner=owner, instrument=instrument, strategy=strategy, direction=Trade.Direction.LONG, quantity=10,
                entry_price=cost, entry_at=now - timedelta(days=30 - 6 * day + index),
                exit_price=cost + Decimal(pnl) / 10, exit_at=now - timedelta(days=25 - 6 * day + index),
                realized_pnl=Decimal(pnl),
            )
    return positions
