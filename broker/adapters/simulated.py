"""The simulated adapter: the BrokerAdapter interface over broker.simulation.SimulatedExchange."""

from decimal import Decimal

from broker.adapters.base import (
    AccountSummary,
    BrokerAdapter,
    BrokerPosition,
    BrokerStatus,
    ContractInfo,
    ContractSpec,
    OrderRequest,
    OrderState,
    PermanentBrokerError,
    Quote,
)
from broker.simulation import SimulatedExchange


class SimulatedAdapter(BrokerAdapter):
    name = "simulated"

    def __init__(self, exchange: SimulatedExchange | None = None):
        self.exchange = exchange or SimulatedExchange()

    def status(self) -> BrokerStatus:
        account = self.exchange.account()
        return BrokerStatus(
            connected=True,
            authenticated=True,
            account_id=account.account_id,
            paper=True,
            adapter=self.name,
            message=f"Simulated exchange (seed {self.exchange.seed})",
        )

    def qualify(self, contract: str | ContractSpec) -> ContractInfo:
        return self.exchange.qualify(contract)

    def historical_bars(self, conid: int, symbol: str, period: str, bar: str) -> list[dict]:
        try:
            return self.exchange.bars(self.exchange.key_for(conid, symbol), period, bar)
        except ValueError as exc:
            raise PermanentBrokerError(str(exc), code=321) from exc

    def quote(self, conid: int, symbol: str) -> Quote:
        return self.exchange.quote(self.exchange.key_for(conid, symbol))

    def place_order(self, req: OrderRequest) -> OrderState:
        return self.exchange.place_order(req)

    def cancel_order(self, broker_order_id: str) -> OrderState:
        return self.exchange.cancel_order(broker_order_id)

    def modify_order(
        self, broker_order_id: str, *, quantity: Decimal | None = None, limit_price: Decimal | None = None
    ) -> OrderState:
        return self.exchange.modify_order(broker_order_id, quantity=quantity, limit_price=limit_price)

    def order_status(self, broker_order_id: str) -> OrderState:
        return self.exchange.order_status(broker_order_id)

    def find_orders_by_ref(self, order_ref: str) -> list[OrderState]:
        return self.exchange.find_orders_by_ref(order_ref)

    def open_orders(self) -> list[OrderState]:
        return self.exchange.open_orders()

    def positions(self) -> list[BrokerPosition]:
        return self.exchange.positions()

    def account_summary(self) -> AccountSummary:
        return self.exchange.account_summary()
