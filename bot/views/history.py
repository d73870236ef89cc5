"""/orders: the order history, a page at a time."""

from __future__ import annotations

from bot import keyboards
from bot.i18n import Translator
from bot.order_status import OrderStatus
from bot.services.models import Order
from bot.views.common import Screen


def history(
    t: Translator, orders: list[Order], names: dict[str, str], page: int, has_next: bool
) -> Screen:
    """A page of the order history, each order a button opening its card."""
    if not orders and page == 0:
        return Screen(t.align(t._("You have no orders yet. /buy to get a number.")))
    header = t._("<b>Your orders</b> (page {page}):").format(page=t.ltr(t.number(page + 1)))
    labels = []
    for order in orders:
        service = names.get(order.service or "", order.service or "?")
        when = t.datetime(order.created_at, style="short") if order.created_at else ""
        phone = t.ltr(order.phone) if order.phone else ""
        labels.append(
            (order.id, f"{service} · {phone} · {_status_short(order.status)} {when}".strip())
        )
    return Screen(t.align(header), keyboards.history(t, labels, page, has_next))


_STATUS_SIGNS: dict[str, str] = {
    OrderStatus.WAITING: "⏳",
    OrderStatus.RECEIVED: "✅",
    OrderStatus.COMPLETED: "✔️",
    OrderStatus.FAILED: "❌",
    OrderStatus.CANCELLED: "↩️",
}


def _status_short(status: str) -> str:
    return _STATUS_SIGNS.get(status, "•")
