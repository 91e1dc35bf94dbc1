"""The simulated market's contracts beyond US stocks: ETFs listed abroad, FX pairs and futures.

One table for the simulated exchange (embedded mode) and the gateway simulator alike. Every
other symbol is a simulated US stock. Each listing has an exchange key, the symbol under which
the simulated exchange keeps its price path, orders and positions ("VWRL.LSEETF", "EUR.USD",
"ES.202403"); the contract is told as IBKR would (VWRL on LSEETF in GBP, EUR.USD CASH on
IDEALPRO, ES FUT on CME with multiplier 50), and the exchange books each fill in the listing's
currency and multiplier. Futures are the quarterly E-minis around the given date: the last one
that expired and the next three.

FX_PAIRS is the rate table: each pair's level, around which its price path moves (a few per cent
at most, with no trend), so the rates the simulated account reports stay sensible.
"""

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from broker.adapters.base import ContractInfo

FUTURE_MONTH_CODES = {3: "H", 6: "M", 9: "U", 12: "Z"}
ABROAD = (
    # symbol, primary exchange, currency, name
    ("VWRL", "LSEETF", "GBP", "Vanguard FTSE All-World UCITS ETF"),
    ("VWRL", "AEB", "EUR", "Vanguard FTSE All-World UCITS ETF"),
    ("SAP", "IBIS", "EUR", "SAP SE"),
    ("CSPX", "LSEETF", "USD", "iShares Core S&P 500 UCITS ETF"),
)
# base, quote, level: 1 base is worth about `level` quote
FX_PAIRS = (("EUR", "USD", 1.08), ("GBP", "USD", 1.27), ("USD", "JPY", 150.0))
FX_ANNUAL_VOL = 0.07
E_MINI_LEVEL = 5000.0
E_MINI_ANNUAL_VOL = 0.16
RATE_PLACES = Decimal("0.00000001")


def symbol_hash(symbol: str) -> int:
    return int(hashlib.sha256(symbol.upper().encode()).hexdigest()[:15], 16)


def conid_for(symbol: str) -> int:
    """A stable contract id for a symbol or listing key (IBKR-like range, same on every machine)."""
    return 100_000_000 + symbol_hash(symbol) % 800_000_000


def reference_level(key: str) -> tuple[float, float] | None:
    """(price level, annual volatility) of an FX pair or E-mini key, whose prices must stay near a level;
    None for a key priced by its name alone (stocks and ETFs)."""
    for base, quote, level in FX_PAIRS:
        if key == f"{base}.{quote}":
            return level, FX_ANNUAL_VOL
    if is_future(key):
        return E_MINI_LEVEL, E_MINI_ANNUAL_VOL
    return None


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
    for base, quote, _level in FX_PAIRS:
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
    for pair_base, pair_quote, _level in FX_PAIRS:
        price = price_of(f"{pair_base}.{pair_quote}")
        if pair_quote == base:
            rates[pair_base] = price
        elif pair_base == base:
            rates[pair_quote] = (1 / price).quantize(RATE_PLACES)
    return rates


def matches(listing: Listing, requested) -> bool:
    """Whether a request (a ContractSpec, or the gateway's RequestedContract, which may name a conid) fits."""
    info = listing.info
    conid = getattr(requested, "conid", 0)
    if conid:
        return conid == info.conid
    exchange = requested.exchange.upper()
    return (
        requested.symbol.upper() == info.symbol
        and requested.sec_type in ("", info.sec_type)
        and requested.currency in ("", info.currency)
        and exchange in ("", "SMART", info.exchange, info.primary_exchange)
        and requested.primary_exchange in ("", info.primary_exchange)
        and info.expiry.startswith(requested.expiry)
    )


def find_listings(requested, now: datetime) -> list[Listing]:
    """The listings a request describes, futures that expired before `now` left out (as TWS does)."""
    return [
        listing
        for listing in listings(now)
        if matches(listing, requested) and (listing.expires is None or listing.expires >= now.date())
    ]


def listed_symbols() -> set[str]:
    """Symbols that name only the listings here (no simulated US stock of that name)."""
    return {symbol for symbol, *_ in ABROAD} | {base for base, *_ in FX_PAIRS} | {"ES"}


def contract_terms(key: str) -> tuple[str, str]:
    """(currency, multiplier) in which the simulated exchange books `key`: a US stock's are USD and ""."""
    for symbol, primary, currency, _name in ABROAD:
        if key == f"{symbol}.{primary}":
            return currency, ""
    for base, quote, _level in FX_PAIRS:
        if key == f"{base}.{quote}":
            return quote, ""
    if is_future(key):
        return "USD", "50"
    return "USD", ""


def is_future(key: str) -> bool:
    return key.startswith("ES.")


def listing_by_key(key: str, now: datetime) -> Listing | None:
    """The listing the simulated exchange books under `key`, None for a US stock."""
    return next((listing for listing in listings(now) if listing.key == key), None)


def listing_by_conid(conid: int, now: datetime) -> Listing | None:
    return next((listing for listing in listings(now) if listing.info.conid == conid), None)
