"""What the broker layer tells the rest of the app, without importing it (imports go the other way).

`gateway_reconnected` is sent (sender: the adapter class, `adapter`: the instance) after an adapter
has connected again to a broker it had lost: orders may have filled or been cancelled while it was
away, so whoever keeps books should reconcile them with the broker.
"""

from django.dispatch import Signal

gateway_reconnected = Signal()
