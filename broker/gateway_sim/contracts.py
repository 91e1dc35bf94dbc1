"""Contracts beyond the simulated exchange's US stocks: ETFs listed abroad, FX pairs and futures.

broker.simulation prices and books any symbol as a US stock. Each listing here has an exchange
key, the symbol under which the simulated exchange keeps its price path, orders and positions
("VWRL.LSEETF", "EUR.USD", "ES.202403"), so the exchange needs to know nothing about listings;
the gateway tells clients the contract as IBKR would (VWRL on LSEETF in GBP, EUR.USD CASH on
IDEALPRO, ES FUT on CME with multiplier 50). Futures are the quarterly E-minis around the
market clock's date: the last one that expired and the next three.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from broker.adapters.base import ContractInfo
from broker.simulation import conid_for

from .messages import RequestedContract

FUTURE_MONTH_CODES = {3: "H", 6: "M", 9: "U", 12: "Z"}
ABROAD = (
    # symbol, primary exchange, currency, name
    ("VWRL", "LSEETF", "GBP", "Vanguard FTSE All-World UCITS ETF"),
    ("VWRL", "AEB", "EUR", "Vanguard FTSE All-World UCITS ETF"),
    ("SAP", "IBIS", "EUR", "SAP SE"),
    ("CSPX", "LSEETF", "USD", "iShares Core S&P 500 UCITS ETF"),
)
FX_PAIRS = (("EUR", "USD"), ("GBP", "USD"), ("USD", "JPY"))
RATE_PLACES = Decimal("0.00000001")


@dataclass(frozen=True)
class Listing:
    info: ContractInfo
    key: str  # the simulated exchange's symbol for it
    expires: date | None = None


def third_friday(year: int, month: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(4 - first.weekday()) % 7 + 14)


def quarterly_expiries(today: date) -> list[date]:
    """The quarterly expiry before `today` (or on it) and the next three."""
    expiries = []
    year = today.year - 1
    while len([e for e in expiries if e > today]) < 3:
        for month in FUTURE_MONTH_CODES:
            expiries.append(third_friday(year, month))
        year += 1
    past = [e for e in expiries if e <= today]
    return past[-1:] + [e for e in expiries if e > today][:3]


def listings(now: datetime) -> list[Listing]:
    found = []
    for symbol, primary, currency, name in ABROAD:
        key = f"{symbol}.{primary}"
        info = ContractInfo(
            conid=conid_for(key), symbol=symbol, exchange="SMART", currency=currency, sec_type="STK", name=name,
            primary_exchange=primary, local_symbol=symbol,
        )  # fmt: skip
        found.append(Listing(info, key))
    for base, quote in FX_PAIRS:
        key = f"{base}.{quote}"
        info = ContractInfo(
            conid=conid_for(key), symbol=base, exchange="IDEALPRO", currency=quote, sec_type="CASH",
            name=f"{base}.{quote}", local_symbol=key,
        )  # fmt: skip
        found.append(Listing(info, key))
    for expiry in quarterly_expiries(now.date()):
        month = f"{expiry:%Y%m}"
        key = f"ES.{month}"
        info = ContractInfo(
            conid=conid_for(key), symbol="ES", exchange="CME", currency="USD", sec_type="FUT",
            name=f"E-mini S&P 500 {expiry:%b %Y}", multiplier="50", expiry=f"{expiry:%Y%m%d}",
            local_symbol=f"ES{FUTURE_MONTH_CODES[expiry.month]}{expiry.year % 10}",
        )  # fmt: skip
        found.append(Listing(info, key, expires=expiry))
    return found


def exchange_rates(price_of, base: str = "USD") -> dict[str, Decimal]:
    """What one unit of each currency the listings trade in is worth in `base`, from the FX pairs' prices.

    `price_of(key)` is the simulated exchange's price of a pair ("EUR.USD"); as IBKR's ExchangeRate values.
    """
    rates = {}
    for pair_base, pair_quote in FX_PAIRS:
        price = price_of(f"{pair_base}.{pair_quote}")
        if pair_quote == base:
            rates[pair_base] = price
        elif pair_base == base:
            rates[pair_quote] = (1 / price).quantize(RATE_PLACES)
    return rates


def matches(listing: Listing, requested: RequestedContract) -> bool:
    info = listing.info
    if requested.conid:
        return requested.conid == info.conid
    exchange = requested.exchange.upper()
    return (
        requested.symbol == info.symbol
        and requested.sec_type in ("", info.sec_type)
        and requested.currency in ("", info.currency)
        and exchange in ("", "SMART", info.exchange, info.primary_exchange)
        and requested.primary_exchange in ("", info.primary_exchange)
        and info.expiry.startswith(requested.expiry)
    )


def find_listings(requested: RequestedContract, now: datetime) -> list[Listing]:
    """The listings a request describes, futures that expired before `now` left out (as TWS does)."""
    return [
        listing
        for listing in listings(now)
        if matches(listing, requested) and (listing.expires is None or listing.expires >= now.date())
    ]


def listed_symbols() -> set[str]:
    """Symbols that name only the listings here (no simulated US stock of that name)."""
    return {symbol for symbol, *_ in ABROAD} | {base for base, _ in FX_PAIRS} | {"ES"}
