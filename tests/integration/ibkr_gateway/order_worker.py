"""A worker OS process that submits one order through broker.orders, as a Celery worker's order step does.

    python -m tests.integration.ibkr_gateway.order_worker submit <order id>
    python -m tests.integration.ibkr_gateway.order_worker manual <owner id> <conid> <idempotency key>

It prints one JSON line (the Order row after submitting, or the error), then, with --stay,
keeps its IBKR connection (and so its client id) open until its standard input closes.
"""

import json
import os
import sys
from decimal import Decimal

import django


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    django.setup()
    from django.contrib.auth import get_user_model

    from broker.adapters import get_adapter
    from broker.models import Instrument, Order
    from broker.orders import order_place_manual, order_submit

    adapter = get_adapter()
    print(json.dumps({"client_id": adapter.client_id}), flush=True)
    try:
        if argv[0] == "submit":
            order = order_submit(Order.objects.get(pk=int(argv[1])))
        else:
            order = order_place_manual(
                owner=get_user_model().objects.get(pk=int(argv[1])),
                instrument=Instrument.objects.get(conid=int(argv[2])),
                side="BUY",
                quantity=Decimal("4"),
                order_type="LMT",
                limit_price=Decimal("20.00"),
                tif="DAY",
                idempotency_key=argv[3],
            )
        print(json.dumps({"status": order.status, "broker_order_id": order.broker_order_id}), flush=True)
    except Exception as error:  # reported to the test, which decides
        print(json.dumps({"error": f"{type(error).__name__}: {error}"}), flush=True)
    if "--stay" in argv:
        sys.stdin.read()
    adapter.close()


if __name__ == "__main__":
    main(sys.argv[1:])
