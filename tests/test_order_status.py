"""Order statuses: the API's spelling, which end an order, and unknown ones tolerated."""

from __future__ import annotations

from bot.api import Order
from bot.order_status import FINAL_STATUSES, OrderStatus
from bot.services.orders import can_cancel, can_next_sms, refunded_cents


def test_statuses_are_the_apis_strings_and_three_are_final() -> None:
    assert [str(s) for s in OrderStatus] == [
        "WAITING",
        "RECEIVED",
        "COMPLETED",
        "FAILED",
        "CANCELLED",
    ]
    assert {"COMPLETED", "FAILED", "CANCELLED"} == FINAL_STATUSES


def test_an_unknown_status_is_kept_and_not_final() -> None:
    order = Order.from_api({"id": "ck1", "status": "SOMETHING_NEW"})
    assert order.status == "SOMETHING_NEW"
    assert not order.is_final
    assert not can_cancel(order.status, 0)
    assert not can_next_sms(order.status)
    assert refunded_cents(order.status, 120) is None


def test_what_the_user_may_do_follows_the_status() -> None:
    assert can_cancel("WAITING", 0)
    assert not can_cancel("WAITING", 1)
    assert can_next_sms("RECEIVED")
    assert not can_next_sms("WAITING")
    assert refunded_cents("CANCELLED", 120) == 120
    assert refunded_cents("COMPLETED", 120) is None
