"""An order's screens: its live card, the message per SMS, and the notices when it ends."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from bot import keyboards
from bot.i18n import Translator
from bot.order_status import OrderStatus
from bot.services.models import Sms, StoredOrder
from bot.services.orders import refunded_cents
from bot.sms import extract_code
from bot.views.common import Screen, country_label, esc, status_text, time_left

# An SMS longer than this (real ones are < 1,000) is cut so the message stays under
# Telegram's 4,096 characters with the header and the code line.
_MAX_SMS_SHOWN = 3500
_MAX_SMS_ON_CARD = 60  # an SMS without a code is shown on the card this short


def order_card(
    t: Translator,
    order: StoredOrder,
    now: datetime | None = None,
    sms: Sequence[str] = (),
) -> Screen:
    """The live card of one order, edited in place as it changes.

    Args:
        sms: The bodies of every SMS received so far, oldest first: the card shows each
            code (newest last), so a code whose push is in doubt is still on screen.
    """
    now = now or datetime.now(UTC)
    country = country_label(t, order.country_slug, order.country_slug.upper() or order.country_id)
    # An ended order's number, and its SMS bodies, are emptied after RETENTION_DAYS.
    lines = [f"📱 {t.ltr(f'<code>{esc(order.phone)}</code>')}"] if order.phone else []
    lines += [
        f"{esc(order.service_name)} · {country}",
        t._("Price: {price}").format(price=t.money(order.charged_cents)),
    ]
    state = status_text(t, order.status)
    left = None if order.is_final else time_left(t, order.expires_at, now)
    lines.append(f"{state} · {left}" if left else state)
    if order.sms_seen:
        lines.append(
            t.ngettext("{count} SMS received", "{count} SMS received", order.sms_seen).format(
                count=t.ltr(t.number(order.sms_seen))
            )
        )
    for body in filter(None, sms):
        code = extract_code(body)
        if code is not None:
            lines.append(f"🔑 {t.ltr(f'<code>{esc(code)}</code>')}")
        else:
            short = body if len(body) <= _MAX_SMS_ON_CARD else body[:_MAX_SMS_ON_CARD] + "…"
            lines.append(f"✉️ <i>{esc(short)}</i>")
    refund = refunded_cents(order.status, order.charged_cents)
    if refund is not None:
        lines.append(t._("Refunded: {amount}").format(amount=t.money(refund)))
    lines.extend(_replacement_lines(t, order))
    lines.append(f"<i>{t.ltr(esc(order.id))}</i>")
    switch = order.auto_replace if order.replaces_left != 0 else None
    markup = keyboards.order_card(
        t, order.id, order.status, order.sms_seen, order.phone, auto_replace=switch
    )
    return Screen(t.align("\n".join(lines)), markup)


def _replacement_lines(t: Translator, order: StoredOrder) -> list[str]:
    """What automatic replacement did to this order, for its card."""
    lines = []
    if order.replaced_from:
        lines.append(
            t._("🔁 {phone} got no SMS: refunded and replaced.").format(
                phone=t.ltr(esc(order.replaced_from))
            )
        )
        if order.replaces_left is not None:
            lines.append(
                t._("Auto-replacements left: {count}").format(
                    count=t.ltr(t.number(order.replaces_left))
                )
            )
    if order.replaced_by:
        lines.append(t._("🔁 Replaced by {phone}").format(phone=t.ltr(esc(order.replaced_by))))
    elif order.replaced_by == "" and order.status == OrderStatus.CANCELLED:
        lines.append(_not_replaced(t, order))
    return lines


def _not_replaced(t: Translator, order: StoredOrder) -> str:
    ceiling = order.confirmed_cents if order.confirmed_cents is not None else order.charged_cents
    return t._(
        "🔁 No SMS came to {phone}: {amount} refunded. "
        "No other number at or below {price} right now."
    ).format(
        phone=t.ltr(esc(order.phone)),
        amount=t.money(order.charged_cents),
        price=t.money(ceiling),
    )


def auto_replace_label(t: Translator, on: bool) -> str:
    """The switch of automatic replacement (a button label, and the Mini App's toast)."""
    return keyboards.auto_replace_label(t, on)


def replacement_bought(t: Translator, old: StoredOrder, new: StoredOrder) -> Screen:
    """A new message (it notifies) when a silent number was replaced: the user must enter
    the new number in the service."""
    return Screen(
        t.align(
            t._(
                "🔁 New number for {service}: {phone}\n"
                "No SMS came to {old}: it was refunded. Enter the new number in {service}."
            ).format(
                service=esc(new.service_name),
                phone=t.ltr(f"<code>{esc(new.phone)}</code>"),
                old=t.ltr(esc(old.phone)),
            )
        )
    )


def replacement_not_bought(t: Translator, order: StoredOrder) -> Screen:
    """Told when a silent number was refunded and nothing could replace it."""
    return Screen(t.align(_not_replaced(t, order)))


def code_message(t: Translator, order: StoredOrder, sms: Sms) -> Screen:
    """A new message per SMS: the code to copy, then the whole SMS as plain text."""
    code = extract_code(sms.body)
    header = t._("SMS for {phone} ({service}):").format(
        phone=t.ltr(esc(order.phone)), service=esc(order.service_name)
    )
    text = sms.body if len(sms.body) <= _MAX_SMS_SHOWN else sms.body[:_MAX_SMS_SHOWN] + "…"
    body = f"<blockquote>{esc(text)}</blockquote>"
    if code is None:
        return Screen(t.align(f"{header}\n{body}"))
    line = t._("Code: <code>{code}</code>").format(code=code)
    return Screen(t.align(f"{header}\n{line}\n{body}"), keyboards.copy_code(t, code))


def order_ended(t: Translator, order: StoredOrder) -> Screen:
    """Told once when an order ends without the user's doing (expiry, provider failure)."""
    if order.sms_seen:
        return Screen(
            t.align(
                t._("The number {phone} has expired. Thanks for using it!").format(
                    phone=t.ltr(esc(order.phone))
                )
            )
        )
    return Screen(
        t.align(
            t._(
                "No SMS arrived on {phone} before it expired, so the order ended. "
                "{amount} went back to your balance. Want to try another country?"
            ).format(phone=t.ltr(esc(order.phone)), amount=t.money(order.charged_cents))
        ),
        keyboards.order_card(t, order.id, order.status, order.sms_seen, order.phone),
    )


def cancelled(t: Translator, order: StoredOrder) -> str:
    """Callback answer after a successful cancel."""
    return t._("Cancelled. {amount} refunded to your balance.").format(
        amount=t.money(order.charged_cents)
    )


def waiting_again(t: Translator) -> str:
    return t._("OK, waiting for another SMS on the same number.")


def not_your_order(t: Translator) -> str:
    return t._("This order isn't yours, or I don't know it.")
