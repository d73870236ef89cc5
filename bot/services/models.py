"""The data the front ends render, named where the front ends look for it.

Records of the API (:mod:`bot.api.models`) and of the store (:mod:`bot.store`) that reach a
screen as they are; the services' own view models (a quote, an order's state, …) live with
their services. Front ends import these from here, never from the store or the API client.
"""

from bot.api.models import Account, Order, Service, Sms
from bot.store.console import Tally
from bot.store.models import Alert, StoredOrder

__all__ = ["Account", "Alert", "Order", "Service", "Sms", "StoredOrder", "Tally"]
