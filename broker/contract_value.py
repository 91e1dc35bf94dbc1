"""What a price is worth in the account's currency: the contract's multiplier times the broker's exchange rate.

Risk sizes and caps positions in the account's currency (DESIGN.md §5). A move of 1 in the price of
one contract is worth `multiplier × rate`: 1 for a US stock in a USD account, 50 for an E-mini, and
the broker's GBP→USD rate for an ETF quoted in pounds. The rate is always the broker's own (IBKR's
ExchangeRate account values), never a constant; a trade in a currency the broker gives no rate for is
refused rather than sized on a guess.
"""

from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

from broker.adapters.base import AccountSummary, BrokerPosition

ONE = Decimal("1")


class ExchangeRateUnknown(ValueError):
    """The broker reported no rate from a contract's currency into the account's."""


def contract_multiplier(multiplier: str) -> Decimal:
    """IBKR's multiplier as a number ("" or "0" mean 1); a value that is no positive number is refused."""
    text = (multiplier or "").strip()
    if not text:
        return ONE
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"The contract multiplier {multiplier!r} is not a number") from None
    if not number.is_finite() or number < 0:
        raise ValueError(f"The contract multiplier {multiplier!r} is not a positive number")
    return number or ONE


def account_rate(currency: str, account: AccountSummary) -> Decimal:
    """The broker's rate from `currency` into the account's; ExchangeRateUnknown when it reported none."""
    rate = account.rate_to_account(currency)
    if rate is None or rate <= 0:
        raise ExchangeRateUnknown(
            f"The broker reports no exchange rate from {currency} to the account's {account.currency}; "
            f"a {currency} amount cannot be stated in {account.currency}"
        )
    return rate


def unit_value(*, multiplier: str, currency: str, account: AccountSummary) -> Decimal:
    """The account-currency value of a move of 1 in the price of one contract."""
    return contract_multiplier(multiplier) * account_rate(currency, account)


def instrument_unit_value(instrument, account: AccountSummary) -> Decimal:
    """unit_value for an Instrument row."""
    return unit_value(multiplier=instrument.multiplier, currency=instrument.currency, account=account)


def exposure(positions: Iterable[BrokerPosition], account: AccountSummary) -> Decimal:
    """The absolute market value at cost of the open positions, in the account's currency."""
    return sum(
        (
            abs(position.quantity * position.average_cost)
            * unit_value(multiplier=position.multiplier, currency=position.currency, account=account)
            for position in positions
            if position.quantity
        ),
        Decimal("0"),
    )
