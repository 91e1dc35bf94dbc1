"""A local stand-in for IB Gateway: the TWS API wire protocol backed by the simulated exchange."""

from .clock import MarketClock
from .faults import Faults
from .messages import SERVER_VERSION
from .server import GatewaySimulator

__all__ = ["SERVER_VERSION", "Faults", "GatewaySimulator", "MarketClock"]
