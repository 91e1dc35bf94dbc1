"""Instruments: the local reference rows for tradable contracts."""

from django.db import IntegrityError, transaction

from broker.adapters import get_adapter
from broker.models import Instrument


def qualify_symbol(symbol: str) -> Instrument:
    """The Instrument for a symbol: an existing row, or one qualified through the broker and stored.

    Raises PermanentBrokerError when the broker knows no such contract.
    """
    cleaned = (symbol or "").strip().upper()
    existing = Instrument.objects.filter(symbol=cleaned).order_by("id").first()
    if existing:
        return existing
    contract = get_adapter().qualify(cleaned)
    fields = {
        "symbol": contract.symbol,
        "exchange": contract.exchange,
        "currency": contract.currency,
        "sec_type": contract.sec_type,
        "name": contract.name,
    }
    try:
        with transaction.atomic():
            instrument, _ = Instrument.objects.update_or_create(conid=contract.conid, defaults=fields)
    except IntegrityError:  # another worker stored the same contract a moment ago
        instrument = Instrument.objects.get(conid=contract.conid)
    return instrument
