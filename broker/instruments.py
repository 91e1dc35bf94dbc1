"""Instruments: the local reference rows for tradable contracts."""

from django.db import IntegrityError, transaction
from django.db.models import Q

from broker.adapters import get_adapter
from broker.adapters.base import ContractSpec
from broker.models import Instrument


def qualify_symbol(symbol: str) -> Instrument:
    """The Instrument for a bare ticker (its US listing when it has several, as IBKR's SMART/USD stock)."""
    return qualify_contract(symbol)


def qualify_contract(contract: str | ContractSpec) -> Instrument:
    """The Instrument for a contract: the one stored row it describes, or one qualified through the broker.

    Raises AmbiguousContract (with the candidates) when it describes several, PermanentBrokerError
    when the broker knows none.
    """
    if isinstance(contract, str):
        cleaned = (contract or "").strip().upper()
        stored = list(Instrument.objects.filter(symbol=cleaned).order_by("id")[:2])
        query: str | ContractSpec = cleaned
    else:
        stored = list(_stored(contract)[:2])
        query = contract
    if len(stored) == 1:
        return stored[0]
    info = get_adapter().qualify(query)
    fields = {
        "symbol": info.symbol,
        "exchange": info.exchange,
        "primary_exchange": info.primary_exchange,
        "currency": info.currency,
        "sec_type": info.sec_type,
        "multiplier": info.multiplier,
        "expiry": info.expiry,
        "local_symbol": info.local_symbol,
        "name": info.name,
    }
    try:
        with transaction.atomic():
            instrument, _ = Instrument.objects.update_or_create(conid=info.conid, defaults=fields)
    except IntegrityError:  # another worker stored the same contract a moment ago
        instrument = Instrument.objects.get(conid=info.conid)
    return instrument


def _stored(spec: ContractSpec):
    rows = Instrument.objects.filter(symbol=spec.symbol.strip().upper(), sec_type=spec.sec_type or "STK")
    if spec.exchange and spec.exchange != "SMART":
        rows = rows.filter(Q(exchange=spec.exchange) | Q(primary_exchange=spec.exchange))
    if spec.primary_exchange:
        rows = rows.filter(primary_exchange=spec.primary_exchange)
    if spec.currency:
        rows = rows.filter(currency=spec.currency)
    if spec.expiry:
        rows = rows.filter(expiry__startswith=spec.expiry)
    return rows.order_by("id")
