"""Every text the bot shows, rendered in the user's language as Telegram HTML.

Pure functions of (translator, data): no I/O, so each screen is unit-testable and handlers
stay thin. Anything that comes from the API or from users (service names, SMS bodies,
server messages, display names) goes through :func:`esc` before it meets HTML.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from telegram import InlineKeyboardMarkup

from bot import keyboards
from bot.api import Account, Order, Service, Sms
from bot.api import errors as api_errors
from bot.i18n import Translator, flag
from bot.services.admin import ReplicaLeases, Stats
from bot.services.alerts import Alternatives, Watching
from bot.services.catalog import Offer
from bot.services.favourites import Added as FavouriteAdded
from bot.services.favourites import FavouriteOffer, ToggleOutcome
from bot.services.favourites import Full as FavouritesFull
from bot.services.favourites import Removed as FavouriteRemoved
from bot.services.purchases import Quote
from bot.services.topup import RunningLow
from bot.sms import extract_code
from bot.store import Alert, StoredOrder
from bot.store.console import Tally

# An SMS longer than this (real ones are < 1,000) is cut so the message stays under
# Telegram's 4,096 characters with the header and the code line.
_MAX_SMS_SHOWN = 3500
_MAX_SMS_ON_CARD = 60  # an SMS without a code is shown on the card this short


@dataclass(frozen=True, slots=True)
class Screen:
    """A message: HTML text and an optional inline keyboard."""

    text: str
    markup: InlineKeyboardMarkup | None = None


def esc(text: object) -> str:
    """Escape untrusted text for Telegram's HTML parse mode."""
    return html.escape(str(text), quote=False)


def country_label(t: Translator, slug: str, fallback: str) -> str:
    """ "🇲🇾 Malaysia" in the user's language."""
    return f"{flag(slug)} {t.country(slug, fallback)}".strip()


def status_text(t: Translator, status: str) -> str:
    """A status in words; unknown statuses are shown as the API wrote them."""
    names = {
        "WAITING": t._("⏳ Waiting for SMS"),
        "RECEIVED": t._("✅ SMS received"),
        "COMPLETED": t._("✔️ Completed"),
        "FAILED": t._("❌ Failed"),
        "CANCELLED": t._("↩️ Cancelled"),
    }
    return names.get(status, esc(status))


def time_left(t: Translator, expires_at: datetime | None, now: datetime) -> str | None:
    """ "20 minutes left": whole minutes, in 5-minute steps above ten.

    The card shows this and is edited whenever it changes, so the step sets the countdown's
    edit cadence: at most one edit per card every five minutes until the last ten, which
    keeps a thousand live cards far below Telegram's global message rate.
    """
    if expires_at is None:
        return None
    seconds = (expires_at - now).total_seconds()
    if seconds <= 0:
        return t._("expired")
    if seconds < 60:
        return t._("less than a minute left")
    minutes = math.ceil(seconds / 60)
    if minutes > 10:
        minutes = 5 * math.ceil(minutes / 5)
    # TRANSLATORS: after the order's status; {duration} is already localized, e.g. "20 minutes".
    return t._("{duration} left").format(duration=t.duration(60 * minutes))


# -- start, help, link ---------------------------------------------------------------------


def welcome(
    t: Translator, name: str, account: Account | None, app_url: str | None = None
) -> Screen:
    """/start: greeting, and how to link a key when none is linked."""
    greeting = t._(
        "Hi, {name}! I buy temporary phone numbers on jiema.my for you and "
        "send you the SMS codes they receive."
    ).format(name=esc(name))
    if account is None:
        steps = t._(
            "To start, link your jiema.my API key:\n"
            "1. Open jiema.my → Account → API keys and create a key.\n"
            "2. Send /link and paste the key (it starts with <code>jm_</code>).\n"
            "I delete the message holding your key right away and keep it encrypted."
        )
        return Screen(t.align(f"{greeting}\n\n{steps}"), keyboards.main_menu(t, linked=False))
    linked = t._("Linked account: <b>{name}</b> · balance {balance}.").format(
        name=esc(account.display_name or account.id), balance=t.money(account.balance_cents)
    )
    return Screen(t.align(f"{greeting}\n\n{linked}"), keyboards.main_menu(t, True, app_url))


def help_text(t: Translator, commands: list[tuple[str, str]]) -> Screen:
    """/help: every command and one line on codes."""
    lines = [t._("<b>What I can do</b>")]
    lines += [f"{t.ltr(f'/{name}')} — {esc(description)}" for name, description in commands]
    lines.append("")
    lines.append(t._("When an SMS arrives I send you the code in a new message: tap it to copy."))
    return Screen(t.align("\n".join(lines)))


def ask_for_key(t: Translator) -> Screen:
    return Screen(
        t.align(
            t._(
                "Send me your jiema.my API key (it starts with <code>jm_</code>). "
                "I will delete your message at once. /cancel to stop."
            )
        )
    )


def not_a_key(t: Translator) -> Screen:
    return Screen(
        t.align(
            t._(
                "That doesn't look like an API key: keys start with <code>jm_</code> followed by "
                "letters and digits. Paste it again, or /cancel."
            )
        )
    )


def linked(t: Translator, account: Account, deleted: bool) -> Screen:
    text = t._("Key linked to <b>{name}</b>. Balance: {balance}.").format(
        name=esc(account.display_name or account.id), balance=t.money(account.balance_cents)
    )
    if not deleted:
        text += "\n" + t._(
            "I couldn't delete your message with the key: please delete it yourself."
        )
    return Screen(t.align(text), keyboards.main_menu(t, linked=True))


def key_refused(t: Translator) -> Screen:
    return Screen(
        t.align(
            t._(
                "jiema.my refused this key: it may be mistyped or revoked. Nothing was saved. "
                "Create a new key on jiema.my → Account → API keys and send /link again."
            )
        )
    )


def not_linked(t: Translator) -> Screen:
    return Screen(
        t.align(t._("First link your jiema.my API key with /link.")),
        keyboards.main_menu(t, linked=False),
    )


def unlink_confirm(t: Translator, active: int) -> Screen:
    text = t.ngettext(
        "You have {count} active order. If you unlink, I stop watching it and won't send "
        "its codes. Unlink anyway?",
        "You have {count} active orders. If you unlink, I stop watching them and won't send "
        "their codes. Unlink anyway?",
        active,
    ).format(count=active)
    return Screen(t.align(text), keyboards.unlink(t))


def unlinked(t: Translator) -> Screen:
    return Screen(
        t.align(t._("Your key is unlinked and erased. Link one again any time with /link."))
    )


def kept_key(t: Translator) -> Screen:
    return Screen(t.align(t._("OK, your key stays linked.")))


def balance(t: Translator, account: Account) -> Screen:
    return Screen(
        t.align(t._("Balance: <b>{balance}</b>").format(balance=t.money(account.balance_cents)))
    )


def key_revoked(t: Translator) -> Screen:
    return Screen(
        t.align(
            t._(
                "jiema.my no longer accepts your API key (revoked?). I stopped watching your "
                "orders. Link a new key with /link."
            )
        )
    )


# -- buying ----------------------------------------------------------------------------------


def services(
    t: Translator,
    items: list[Service],
    page: int,
    query: str | None,
    app_url: str | None = None,
) -> Screen:
    """A page of services, optionally filtered by what the user typed."""
    page = keyboards.clamp_page(page, len(items), keyboards.SERVICES_PER_PAGE)
    if query and not items:
        text = t._("No service matches “{query}”. Type another name.").format(query=esc(query))
    elif query:
        text = t._("Services matching “{query}”:").format(query=esc(query))
    else:
        text = t._("Choose a service, or type part of its name to search:")
    labels = [(s.code, s.name) for s in items]
    return Screen(t.align(text), keyboards.services(t, labels, page, app_url))


def countries(
    t: Translator, service: Service, offers: list[Offer], page: int, query: str | None
) -> Screen:
    """A page of countries with stock: flag, name, price and stock, cheapest first."""
    page = keyboards.clamp_page(page, len(offers), keyboards.COUNTRIES_PER_PAGE)
    name = esc(service.name)
    if not offers and not query:
        text = t._(
            "<b>{service}</b>: no numbers in stock anywhere right now. Pick another service."
        ).format(service=name)
    elif query and not offers:
        text = t._("<b>{service}</b>: no country matches “{query}”. Type another name.").format(
            service=name, query=esc(query)
        )
    else:
        text = t._("<b>{service}</b>: choose a country, or type part of its name:").format(
            service=name
        )
    # Only the page shown is formatted: number formatting for every country (up to ~190)
    # was most of the cost of a country screen (bench.throughput --profile).
    first = page * keyboards.COUNTRIES_PER_PAGE
    shown = range(first, first + keyboards.COUNTRIES_PER_PAGE)
    labels = [
        (o.country_id, _country_button(t, o) if i in shown else "") for i, o in enumerate(offers)
    ]
    return Screen(t.align(text), keyboards.countries(t, service.code, labels, page))


def _country_button(t: Translator, offer: Offer) -> str:
    # TRANSLATORS: a country button; {count} is how many numbers are in stock there.
    return t.ngettext(
        "{country} · {price} · {count} left", "{country} · {price} · {count} left", offer.count
    ).format(
        country=country_label(t, offer.slug, offer.name),
        price=t.money(offer.price_cents),
        count=t.number(offer.count),
    )


def confirmation(
    t: Translator, service: Service, offer: Offer, account: Account, token: str
) -> Screen:
    """Price, balance and the single-use Buy button (or why it is missing)."""
    lines = [
        t._("<b>Confirm your purchase</b>"),
        t._("Service: {service}").format(service=esc(service.name)),
        t._("Country: {country}").format(country=country_label(t, offer.slug, offer.name)),
        t._("Price: <b>{price}</b>").format(price=t.money(offer.price_cents)),
        t._("Your balance: {balance}").format(balance=t.money(account.balance_cents)),
    ]
    affordable = account.balance_cents >= offer.price_cents
    if affordable:
        lines.append(
            t._("Tap Buy to get a number. You can cancel for a full refund until an SMS arrives.")
        )
    else:
        lines.append(t._("Not enough balance: top up on jiema.my, then come back."))
    markup = keyboards.confirm(t, service.code, token if affordable else None)
    return Screen(t.align("\n".join(lines)), markup)


def service_gone(t: Translator) -> str:
    """Callback answer (or message) when the API no longer lists the service."""
    return t._("This service isn't available any more.")


def offer_gone(t: Translator) -> str:
    """Callback answer when the picked country has no stock any more."""
    return t._("No numbers left for this country right now. Pick another country.")


def purchase_failed(t: Translator, exc: api_errors.JiemaError, service: str | None) -> Screen:
    """The API refused the purchase: why, and a way back to the countries."""
    markup = keyboards.confirm(t, service, None) if service else None
    return Screen(t.align(api_error(t, exc)), markup)


def buying(t: Translator) -> Screen:
    """Shown while the order is being created (the Buy button is gone at once)."""
    return Screen(t.align(t._("⏳ Buying your number…")))


def purchase_used(t: Translator) -> str:
    """Callback answer for a Buy button that was already used."""
    return t._("This button was already used. Each confirmation buys once.")


def purchase_unconfirmed(t: Translator) -> Screen:
    return Screen(
        t.align(
            t._(
                "jiema.my did not answer in time, so I can't tell yet whether the number was "
                "bought. I didn't try again, to avoid paying twice. It isn't in your order list "
                "so far; if it shows up there, I will send its card here. Check /orders or your "
                "balance."
            )
        )
    )


def purchase_not_made(t: Translator) -> Screen:
    """The end of an unconfirmed purchase: long enough later, it is not in the order list."""
    return Screen(
        t.align(
            t._(
                "About the purchase I couldn't confirm: it still isn't in your jiema.my order list "
                "after 10 minutes, so no number was bought. /buy to try again."
            )
        )
    )


# -- orders ---------------------------------------------------------------------------------


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
    lines = [
        f"📱 {t.ltr(f'<code>{esc(order.phone)}</code>')}",
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
    for body in sms:
        code = extract_code(body)
        if code is not None:
            lines.append(f"🔑 {t.ltr(f'<code>{esc(code)}</code>')}")
        else:
            short = body if len(body) <= _MAX_SMS_ON_CARD else body[:_MAX_SMS_ON_CARD] + "…"
            lines.append(f"✉️ <i>{esc(short)}</i>")
    if order.status == "CANCELLED":
        lines.append(t._("Refunded: {amount}").format(amount=t.money(order.charged_cents)))
    lines.append(f"<i>{t.ltr(esc(order.id))}</i>")
    markup = keyboards.order_card(t, order.id, order.status, order.sms_seen, order.phone)
    return Screen(t.align("\n".join(lines)), markup)


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


def _status_short(status: str) -> str:
    return {
        "WAITING": "⏳",
        "RECEIVED": "✅",
        "COMPLETED": "✔️",
        "FAILED": "❌",
        "CANCELLED": "↩️",
    }.get(status, "•")


def not_your_order(t: Translator) -> str:
    return t._("This order isn't yours, or I don't know it.")


def language_menu(t: Translator) -> Screen:
    return Screen(t.align(t._("Choose your language:")), keyboards.languages(t.language))


def language_set(t: Translator) -> Screen:
    # TRANSLATORS: shown in the language just chosen: name your own language, not English.
    return Screen(t.align(t._("Done: I will speak English with you.")))


def private_only(t: Translator) -> Screen:
    return Screen(
        t.align(
            t._(
                "I only work in a private chat, to keep your key and codes to you. "
                "Open a chat with me and send /start."
            )
        )
    )


def key_in_group(t: Translator) -> Screen:
    return Screen(
        t.align(
            t._(
                "Never post an API key in a group: everyone here can use it. "
                "Revoke that key now on jiema.my → Account → API keys."
            )
        )
    )


def unknown_input(t: Translator) -> Screen:
    return Screen(
        t.align(t._("I didn't get that. /buy to get a number, /help for everything I can do."))
    )


def cancelled_flow(t: Translator) -> Screen:
    return Screen(t.align(t._("Cancelled. /buy when you're ready.")))


def sorry(t: Translator) -> Screen:
    return Screen(
        t.align(
            t._(
                "Sorry, something went wrong on my side. Your orders and codes are safe; "
                "please try again, or /help."
            )
        )
    )


def unavailable(t: Translator) -> Screen:
    """The bot's database is out of reach (disk full, connection lost): nothing was done."""
    return Screen(
        t.align(
            t._(
                "I'm temporarily unavailable, so I couldn't do that. Please try again in a minute: "
                "your orders and codes are safe."
            )
        )
    )


def too_many_requests(t: Translator, seconds: int) -> str:
    """Asked too often (of jiema.my, or of the Mini App): when to try again."""
    return t.ngettext(
        "Too many requests. Please wait {seconds} second and try again.",
        "Too many requests. Please wait {seconds} seconds and try again.",
        seconds,
    ).format(seconds=seconds)


def api_error(t: Translator, exc: api_errors.JiemaError) -> str:
    """A person-friendly explanation with a next step, for every API failure."""
    match exc:
        case api_errors.AuthError():
            return t._("jiema.my refused your API key (revoked?). Link a new one with /link.")
        case api_errors.ForbiddenError():
            return t._(
                "Your jiema.my account has no access right now. Please contact jiema.my support."
            )
        case api_errors.InsufficientBalanceError():
            return t._("Not enough balance for this number. Top up on jiema.my, then try again.")
        case api_errors.NoNumbersError():
            return t._("No numbers left for this country right now. Pick another country.")
        case api_errors.BadServiceError():
            return t._("This service isn't available any more. Pick another one with /buy.")
        case api_errors.BadCountryError():
            return t._("This country isn't available for the service. Pick another country.")
        case api_errors.CodeReceivedError():
            return t._("An SMS already arrived on this number, so it can't be cancelled.")
        case api_errors.AlreadyChangedError():
            return t._("The order changed in the meantime. Tap Refresh to see its state.")
        case api_errors.NotFoundError():
            return t._("jiema.my doesn't know this order any more.")
        case api_errors.RateLimitedError() | api_errors.BusyError():
            return too_many_requests(t, int(exc.retry_after or 60))
        case api_errors.ServerError() | api_errors.TransportError():
            return t._("jiema.my isn't answering right now. Please try again in a minute.")
        case api_errors.MalformedResponseError():
            return t._("jiema.my sent an answer I couldn't read. Please try again in a minute.")
        case api_errors.ApiError():
            return t._("jiema.my says: {message}").format(message=esc(exc.message or exc.code))
    return t._("jiema.my isn't answering right now. Please try again in a minute.")


# -- operator console (issue 15) ------------------------------------------------------------


def announcement(t: Translator, text: str) -> Screen:
    """An operator's announcement as users get it: their HTML, and a Mute button in the
    recipient's language. Not aligned: like an SMS, the operator's words keep their own
    direction."""
    return Screen(text, keyboards.announcement(t))


def _ms(t: Translator, seconds: float | None) -> str:
    # TRANSLATORS: a code-to-chat latency in milliseconds, e.g. "1,250 ms".
    return "—" if seconds is None else t._("{ms} ms").format(ms=t.number(round(seconds * 1000)))


def _replica_line(t: Translator, replica: ReplicaLeases) -> str:
    jobs = ", ".join(job.removeprefix("job:") for job in replica.jobs)
    line = t._("<code>{replica}</code>: polls {keys} keys, serving {users} users").format(
        replica=esc(replica.replica_id),
        keys=t.number(replica.polls),
        users=t.number(replica.serving),
    )
    if jobs:
        line += " · " + t._("jobs: {jobs}").format(jobs=esc(jobs))
    if replica.this_one:
        line += " " + t._("(this one)")
    return "• " + line


def stats(t: Translator, figures: Stats) -> Screen:
    """The operator's /stats: the fleet's figures, last 24 h where a window applies."""
    users = figures.users
    lines = [
        t._("<b>Statistics</b> (last 24 h, whole fleet)"),
        "",
        t._(
            "Users: {total} · linked key {linked} · active {active} · blocked the bot {blocked}"
        ).format(
            total=t.number(users.total),
            linked=t.number(users.linked),
            active=t.number(users.active),
            blocked=t.number(users.blocked),
        ),
        t._("Active orders: {orders} · pending deliveries: {pending}").format(
            orders=t.number(figures.active_orders), pending=t.number(figures.pending_deliveries)
        ),
        t._("Orders bought: {orders} · codes delivered: {codes}").format(
            orders=t.number(figures.orders_bought), codes=t.number(figures.codes_delivered)
        ),
        t._("Code to chat: median {median} · p95 {p95}").format(
            median=_ms(t, figures.latency_median), p95=_ms(t, figures.latency_p95)
        ),
        t._("jiema errors: {errors} · 429s: {limited} · Telegram errors: {telegram}").format(
            errors=t.number(figures.jiema_errors),
            limited=t.number(figures.jiema_rate_limited),
            telegram=t.number(figures.telegram_errors),
        ),
        "",
        t._("Replicas and their leases:"),
        *(_replica_line(t, replica) for replica in figures.replicas),
        "",
        t._("Updated {time}").format(time=esc(t.datetime(figures.at))),
    ]
    if not figures.replicas:
        lines.insert(-2, "• " + t._("none alive"))
    return Screen(t.align("\n".join(lines)), keyboards.stats(t))


def broadcast_ask(t: Translator) -> Screen:
    text = t._(
        "Send me the announcement. You can use Telegram HTML: &lt;b&gt;bold&lt;/b&gt;, "
        '&lt;i&gt;italic&lt;/i&gt;, &lt;a href="https://…"&gt;links&lt;/a&gt;. '
        "I'll show you a preview first. /cancel to stop."
    )
    return Screen(t.align(text))


def broadcast_invalid(t: Translator, description: str) -> Screen:
    """Telegram refused the preview: nothing was sent to anyone."""
    text = t._(
        "Telegram refused this text: {reason}\nNothing was sent. Fix it and send it again, "
        "or /cancel."
    ).format(reason=esc(description))
    return Screen(t.align(text))


def broadcast_confirm(t: Translator, broadcast_id: str, recipients: int) -> Screen:
    """Under the preview: who gets it, and Send / Cancel."""
    text = t.ngettext(
        "Above is the preview. Send it to {count} user?",
        "Above is the preview. Send it to {count} users?",
        recipients,
    ).format(count=t.number(recipients))
    return Screen(t.align(text), keyboards.broadcast_confirm(t, broadcast_id))


def broadcast_progress(t: Translator, broadcast_id: str, tally: Tally) -> Screen:
    """The progress message, edited in place while the broadcast runs (with Cancel)."""
    head = t._("Sending the announcement: {done} of {total}.").format(
        done=t.number(tally.done), total=t.number(tally.total)
    )
    return Screen(
        t.align(f"{head}\n{_tally_line(t, tally)}"), keyboards.broadcast_running(t, broadcast_id)
    )


def _tally_line(t: Translator, tally: Tally) -> str:
    line = t._("Sent: {sent} · blocked: {blocked} · failed: {failed}").format(
        sent=t.number(tally.sent),
        blocked=t.number(tally.blocked),
        failed=t.number(tally.failed + tally.unknown),
    )
    if tally.skipped:
        line += " · " + t._("muted meanwhile: {skipped}").format(skipped=t.number(tally.skipped))
    return line


def broadcast_report(t: Translator, tally: Tally, *, cancelled: bool) -> Screen:
    """The final report (a new message, so the operator is notified)."""
    if cancelled:
        head = t._("Broadcast cancelled; {left} users did not get it.").format(
            left=t.number(tally.pending + tally.claimed)
        )
    else:
        head = t._("Broadcast finished.")
    lines = [head, _tally_line(t, tally)]
    if tally.unknown:
        lines.append(
            t._(
                "{unknown} of the failed were being sent when the bot stopped: they may have "
                "it; they were not sent it again."
            ).format(unknown=t.number(tally.unknown))
        )
    return Screen(t.align("\n".join(lines)))


def broadcast_progress_final(t: Translator, tally: Tally, *, cancelled: bool) -> Screen:
    """The progress message once the broadcast is over (no buttons left)."""
    head = t._("Announcement cancelled.") if cancelled else t._("Announcement sent.")
    return Screen(t.align(head + "\n" + _tally_line(t, tally)))


def broadcast_dropped(t: Translator) -> Screen:
    return Screen(t.align(t._("Dropped: nothing was sent.")))


def broadcast_stopping(t: Translator) -> Screen:
    return Screen(t.align(t._("Stopping the broadcast… the report follows.")))


def announcements_muted(t: Translator) -> str:
    """The answer to the Mute button (a short note, at most 200 characters)."""
    return t._("Announcements muted. /settings turns them back on. Codes are not affected.")


def settings(t: Translator, muted: bool) -> Screen:
    """/settings: announcements on or off (codes and order messages always come)."""
    state = t._("off") if muted else t._("on")
    text = t._(
        "<b>Settings</b>\nAnnouncements from the bot's operator: {state}.\n"
        "Codes and order updates always reach you."
    ).format(state=state)
    return Screen(t.align(text), keyboards.settings(t, muted))


# -- favourites, alerts, top-up (issue 14) -------------------------------------------------


def _pair_label(t: Translator, service_name: str, slug: str, fallback: str) -> str:
    """ "Telegram · 🇲🇾 Malaysia" for a button (plain text: not HTML-escaped)."""
    return f"{service_name} · {country_label(t, slug, fallback)}"


def _favourite_button(t: Translator, item: FavouriteOffer) -> str:
    fav = item.favourite
    pair = _pair_label(t, fav.service_name, fav.country_slug, fav.country_slug.upper())
    if item.offer is None:
        return f"★ {pair}"
    if item.offer.count <= 0:
        # TRANSLATORS: a favourite (service · country) whose country has no numbers now.
        return t._("★ {pair} · sold out").format(pair=pair)
    # TRANSLATORS: a favourite button; {count} is how many numbers are in stock there.
    return t.ngettext(
        "★ {pair} · {price} · {count} left", "★ {pair} · {price} · {count} left", item.offer.count
    ).format(pair=pair, price=t.money(item.offer.price_cents), count=t.number(item.offer.count))


def _favourite_items(t: Translator, items: list[FavouriteOffer]) -> list[tuple[str, int, str]]:
    return [
        (i.favourite.service, int(i.favourite.country_id), _favourite_button(t, i))
        for i in items
        if i.favourite.country_id.isdigit()
    ]


def services_with_favourites(t: Translator, screen: Screen, items: list[FavouriteOffer]) -> Screen:
    """The service list with the user's favourites on top, one tap each to the confirmation."""
    if not items:
        return screen
    rows = keyboards.favourite_picks(_favourite_items(t, items))
    return Screen(screen.text, keyboards.extended(screen.markup, top=rows))


def _sold_out_button(t: Translator, offer: Offer) -> str:
    # TRANSLATORS: a country button for a country without numbers right now.
    return t._("{country} · sold out").format(country=country_label(t, offer.slug, offer.name))


def countries_with_sold_out(
    t: Translator, service: Service, offers: list[Offer], page: int, query: str | None
) -> Screen:
    """Like :func:`countries`, with the sold-out countries listed last and marked."""
    in_stock = [o for o in offers if o.count > 0]
    # The heading of :func:`countries`: "none anywhere" only when nothing is in stock and
    # nothing was searched; a search that found only sold-out countries still found some.
    screen = countries(t, service, in_stock or (offers if query else []), page, query)
    page = keyboards.clamp_page(page, len(offers), keyboards.COUNTRIES_PER_PAGE)
    first = page * keyboards.COUNTRIES_PER_PAGE
    shown = offers[first : first + keyboards.COUNTRIES_PER_PAGE]
    labels: list[tuple[int, str]] = [(o.country_id, "") for o in offers]
    for i, offer in enumerate(shown, start=first):
        label = _country_button(t, offer) if offer.count > 0 else _sold_out_button(t, offer)
        labels[i] = (offer.country_id, label)
    return Screen(screen.text, keyboards.countries(t, service.code, labels, page))


def confirmation_extras(
    t: Translator, screen: Screen, quote: Quote, favourite: bool, site_url: str
) -> Screen:
    """The confirmation with its ★ toggle and, when it cannot be afforded, the top-up link."""
    rows = [keyboards.favourite_toggle(t, quote.service.code, quote.offer.country_id, favourite)]
    if quote.account.balance_cents < quote.offer.price_cents:
        rows.insert(0, keyboards.topup(t, site_url))
    return Screen(screen.text, keyboards.extended(screen.markup, above_last=rows))


def favourite_toggled(t: Translator, outcome: ToggleOutcome) -> str:
    """Callback answer after ★."""
    match outcome:
        case FavouriteAdded():
            return t._("★ Saved to your favourites: it's first in /buy.")
        case FavouriteRemoved():
            return t._("Removed from your favourites.")
        case FavouritesFull(limit):
            return t.ngettext(
                "You already have {count} favourite: remove one in /favourites first.",
                "You already have {count} favourites: remove one in /favourites first.",
                limit,
            ).format(count=limit)
    return t._("This isn't offered any more, so I can't save it.")


def favourites_list(t: Translator, items: list[FavouriteOffer]) -> Screen:
    """``/favourites``: each favourite opens its confirmation; ✕ removes it."""
    if not items:
        return Screen(
            t.align(
                t._(
                    "You have no favourites yet. Tap ☆ on a purchase confirmation or ★ on an "
                    "order to save its service and country here."
                )
            ),
            keyboards.main_menu(t, linked=True),
        )
    text = t._("<b>Your favourites</b>: tap one to buy it, ✕ to remove it.")
    return Screen(t.align(text), keyboards.favourites_list(t, _favourite_items(t, items)))


def alternatives(t: Translator, alts: Alternatives) -> Screen:
    """A sold-out country: the cheapest ones with numbers, and Notify me."""
    place = country_label(t, alts.place.slug, alts.place.name)
    lines = [
        t._("<b>{service}</b>: no numbers left in {country} right now.").format(
            service=esc(alts.service.name), country=place
        )
    ]
    if alts.offers:
        lines.append(t._("These countries have numbers:"))
    else:
        lines.append(t._("No other country has numbers for it right now either."))
    if alts.watching:
        lines.append(t._("I'll tell you when {country} has numbers again.").format(country=place))
    else:
        lines.append(
            t._("Tap “Notify me” and I'll tell you once when {country} has numbers again.").format(
                country=place
            )
        )
    items = [(o.country_id, _country_button(t, o)) for o in alts.offers]
    markup = keyboards.alternatives(
        t, alts.service.code, alts.place.country_id, items, alts.watching
    )
    return Screen(t.align("\n".join(lines)), markup)


def watching(t: Translator, outcome: Watching, hours: float) -> str:
    """Callback answer after "Notify me"."""
    alert = outcome.alert
    country = t.country(alert.country_slug, alert.country_slug.upper() or alert.country_id)
    hours_shown = max(1, round(hours))
    return t.ngettext(
        "🔔 OK: I'll tell you when {service} has numbers in {country} (for the next {count} "
        "hour). /alerts to see or cancel.",
        "🔔 OK: I'll tell you when {service} has numbers in {country} (for the next {count} "
        "hours). /alerts to see or cancel.",
        hours_shown,
    ).format(service=alert.service_name, country=country, count=hours_shown)


def too_many_alerts(t: Translator, limit: int) -> str:
    """Callback answer when "Notify me" is refused."""
    return t.ngettext(
        "You already have {count} alert waiting: cancel one in /alerts first.",
        "You already have {count} alerts waiting: cancel one in /alerts first.",
        limit,
    ).format(count=limit)


def alerts_list(t: Translator, alerts: list[Alert], now: datetime | None = None) -> Screen:
    """``/alerts``: every waiting alert, each with a ✕ to cancel it."""
    if not alerts:
        return Screen(
            t.align(
                t._(
                    "You have no alerts. When a country is sold out, tap “Notify me” and I'll "
                    "tell you when it has numbers again."
                )
            )
        )
    now = now or datetime.now(UTC)
    items = []
    for alert in alerts:
        pair = _pair_label(t, alert.service_name, alert.country_slug, alert.country_slug.upper())
        left = t._("{duration} left").format(
            duration=t.duration(max(60.0, (alert.expires_at - now).total_seconds()))
        )
        items.append((alert.id, f"{pair} · {left}"))
    text = t._("<b>Your alerts</b>: I'll tell you once when these have numbers. ✕ cancels one.")
    return Screen(t.align(text), keyboards.alerts_list(t, items))


def alert_cancelled(t: Translator) -> str:
    """Callback answer after ✕ on an alert."""
    return t._("Alert cancelled.")


def back_in_stock(t: Translator, alert: Alert, offer: Offer) -> Screen:
    """The alert itself: the pair has numbers again, at this price; Buy opens the confirmation."""
    text = t._(
        "🔔 <b>{service}</b> has numbers in {country} again: {price}, {count} left. "
        "Tap Buy to see the confirmation."
    ).format(
        service=esc(alert.service_name),
        country=country_label(t, offer.slug, offer.name),
        price=t.money(offer.price_cents),
        count=t.ltr(t.number(offer.count)),
    )
    return Screen(t.align(text), keyboards.back_in_stock(t, alert.service, offer.country_id))


def with_topup(t: Translator, screen: Screen, site_url: str) -> Screen:
    """``screen`` with the "Top up on jiema.my" link (``/balance``, ``INSUFFICIENT``)."""
    return Screen(
        screen.text, keyboards.extended(screen.markup, top=[keyboards.topup(t, site_url)])
    )


def running_low(t: Translator, low: RunningLow, site_url: str) -> Screen:
    """After a purchase that leaves less than its price: the heads-up, once a day."""
    text = t._(
        "Heads-up: your balance is now {balance}, less than this number cost ({price}). "
        "Top up on jiema.my to buy the next one."
    ).format(balance=t.money(low.balance_cents), price=t.money(low.price_cents))
    return Screen(t.align(text), InlineKeyboardMarkup([keyboards.topup(t, site_url)]))
