"""The buy flow: service → country → confirmation → order card.

One ``ConversationHandler`` whose states only decide what typed text means (a search in
the service or country list). Every button carries what it needs in its callback data, so
all buttons are entry points: an old list or a button pressed after a restart still works.
Handlers here run in group 0 and raise ``ApplicationHandlerStop`` so nothing else answers
the same update.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Coroutine
from enum import IntEnum
from typing import Any

from telegram import Update
from telegram.ext import (
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot import callbacks as cb
from bot import views
from bot.api import Service
from bot.api.errors import JiemaError
from bot.context import Context
from bot.handlers.common import answer, callback_is, callback_of, edit, explain, parsed, reply
from bot.services.accounts import NotLinkedError
from bot.services.catalog import Offer
from bot.services.purchases import AlreadyUsed, OfferGoneError, Unconfirmed


class BuyState(IntEnum):
    """What typed text means while buying."""

    SERVICE = 1
    COUNTRY = 2
    CONFIRM = 3


Handler = Callable[[Update, Context], Coroutine[Any, Any, int]]


def exclusive(handler: Handler) -> Handler:
    """Run the step, then stop other handler groups, keeping the state it chose.

    Also turns the errors every step can meet into answers: no key linked, API failures.
    """

    @functools.wraps(handler)
    async def wrapper(update: Update, context: Context) -> int:
        try:
            state = await handler(update, context)
        except (NotLinkedError, JiemaError) as exc:
            await explain(update, context, exc)
            state = ConversationHandler.END
        raise ApplicationHandlerStop(state)

    return wrapper


def _matches(query: str, *names: str) -> bool:
    needle = query.casefold()
    return any(needle in name.casefold() for name in names if name)


async def _services(context: Context, query: str | None) -> list[Service]:
    user_id = context.profile.telegram_id  # type: ignore[union-attr]
    key = await context.services.accounts.key_for(user_id)
    recent = tuple(await context.services.store.recent_services(user_id))
    items = await context.services.catalog.services(key, recent)
    if query:
        items = [s for s in items if _matches(query, s.name, s.slug, s.code)]
    return items


async def _offers(context: Context, service: str, query: str | None) -> tuple[Service, list[Offer]]:
    key = await context.services.accounts.key_for(context.profile.telegram_id)  # type: ignore[union-attr]
    svc = await context.services.catalog.service(key, service)
    if svc is None:
        raise OfferGoneError
    offers = await context.services.catalog.offers(key, service)
    if query:
        t = context.t
        offers = [o for o in offers if _matches(query, t.country(o.slug, o.name), o.name, o.slug)]
    return svc, offers


@exclusive
async def show_services(update: Update, context: Context) -> int:
    """``/buy``, the Buy menu button, or a service page turn."""
    query = update.callback_query
    choice = parsed(update)
    page = choice.page if isinstance(choice, cb.ServicePage) else 0
    if not isinstance(choice, cb.ServicePage):
        context.user_data.pop("service_query", None)  # type: ignore[union-attr]
    search = context.user_data.get("service_query")  # type: ignore[union-attr]
    screen = views.services(context.t, await _services(context, search), page, search)
    if query:
        await answer(query)
        await edit(query, screen)
    else:
        await reply(update, screen)
    return BuyState.SERVICE


def _typed(update: Update) -> str:
    """What the user typed, trimmed to a sane search length."""
    return (update.effective_message.text or "").strip()[:64]  # type: ignore[union-attr]


async def _search_services(update: Update, context: Context) -> int:
    text = _typed(update)
    context.user_data["service_query"] = text  # type: ignore[index]
    await reply(update, views.services(context.t, await _services(context, text), 0, text))
    return BuyState.SERVICE


search_services = exclusive(_search_services)


@exclusive
async def show_countries(update: Update, context: Context) -> int:
    """A service picked, or a country page turn."""
    query = update.callback_query
    choice = parsed(update)
    assert query is not None and isinstance(choice, (cb.PickService, cb.CountryPage))
    page = choice.page if isinstance(choice, cb.CountryPage) else 0
    data = context.user_data
    assert data is not None
    if isinstance(choice, cb.PickService) or data.get("country_service") != choice.service:
        data.pop("country_query", None)
    data["country_service"] = choice.service
    search = data.get("country_query")
    try:
        service, offers = await _offers(context, choice.service, search)
    except OfferGoneError:
        await answer(query, context.t._("This service isn't available any more."), alert=True)
        return BuyState.SERVICE
    await answer(query)
    await edit(query, views.countries(context.t, service, offers, page, search))
    return BuyState.COUNTRY


@exclusive
async def search_countries(update: Update, context: Context) -> int:
    data = context.user_data
    assert data is not None
    service_code = data.get("country_service")
    if not isinstance(service_code, str):
        return await _search_services(update, context)
    text = _typed(update)
    data["country_query"] = text
    try:
        service, offers = await _offers(context, service_code, text)
    except OfferGoneError:
        await reply(update, views.Screen(context.t._("This service isn't available any more.")))
        return BuyState.SERVICE
    await reply(update, views.countries(context.t, service, offers, 0, text))
    return BuyState.COUNTRY


async def _quote(update: Update, context: Context, service: str, country_id: int) -> int:
    """Show the confirmation with a fresh single-use token (edit, or send when asked to)."""
    query = update.callback_query
    assert query is not None
    purchases = context.services.purchases
    try:
        quote = await purchases.quote(query.from_user.id, service, country_id)
    except OfferGoneError:
        await answer(query, views.offer_gone(context.t), alert=True)
        return BuyState.COUNTRY
    screen = views.confirmation(
        context.t, quote.service, quote.offer, quote.account, quote.purchase.token
    )
    await answer(query)
    if parsed(update) == cb.PickCountry(service, country_id):
        await edit(query, screen)
    else:
        await reply(update, screen)
    return BuyState.CONFIRM


@exclusive
async def pick_country(update: Update, context: Context) -> int:
    choice = parsed(update)
    assert isinstance(choice, cb.PickCountry)
    return await _quote(update, context, choice.service, choice.country_id)


@exclusive
async def buy_again(update: Update, context: Context) -> int:
    """ "Buy again" on an order card: a new confirmation for the same service and country."""
    choice = parsed(update)
    query = update.callback_query
    assert isinstance(choice, cb.OrderButton) and query is not None
    order = await context.services.store.get_user_order(query.from_user.id, choice.order_id)
    if order is None:
        await answer(query, views.not_your_order(context.t), alert=True)
        return ConversationHandler.END
    return await _quote(update, context, order.service, int(order.country_id))


@exclusive
async def confirm(update: Update, context: Context) -> int:
    """The single-use Buy button: claim the token, stop the spinner, then buy."""
    choice = parsed(update)
    query = update.callback_query
    assert isinstance(choice, cb.ConfirmBuy) and query is not None
    services = context.services
    claimed = await services.purchases.claim(query.from_user.id, choice.token)
    if isinstance(claimed, AlreadyUsed):
        await answer(query, views.purchase_used(context.t), alert=True)
        return ConversationHandler.END
    await answer(query)
    await edit(query, views.buying(context.t))
    card_id = query.message.message_id if query.message else None
    try:
        result = await services.purchases.create(claimed, card_id)
    except JiemaError as exc:
        await edit(query, views.purchase_failed(context.t, exc, claimed.service))
        return BuyState.COUNTRY
    if isinstance(result, Unconfirmed):
        await edit(query, views.purchase_unconfirmed(context.t))
    else:  # the confirmation message becomes the order card
        await services.notifier.show_card(result.order)
    context.user_data.pop("country_query", None)  # type: ignore[union-attr]
    return ConversationHandler.END


@exclusive
async def cancel_flow(update: Update, context: Context) -> int:
    """Cancel button or /cancel: leave the flow."""
    if update.callback_query:
        await answer(update.callback_query)
        await edit(update.callback_query, views.cancelled_flow(context.t))
    else:
        await reply(update, views.cancelled_flow(context.t))
    return ConversationHandler.END


@exclusive
async def confirm_hint(update: Update, context: Context) -> int:
    await reply(update, views.Screen(context.t._("Tap Buy to confirm, or Cancel.")))
    return BuyState.CONFIRM


async def leave(update: Update, context: Context) -> int:
    """Another command ends the flow; the command itself is handled by its own handler."""
    return ConversationHandler.END


def conversation() -> ConversationHandler:
    text = filters.TEXT & ~filters.COMMAND & ~filters.UpdateType.EDITED
    # Buttons are deliberately not tracked per message (they carry their own state), which
    # is what PTB warns about here.
    warnings.filterwarnings("ignore", "If 'per_message=False'", PTBUserWarning)
    return ConversationHandler(
        entry_points=[
            CommandHandler("buy", show_services),
            CallbackQueryHandler(show_services, pattern=callback_of(cb.ServicePage)),
            CallbackQueryHandler(show_services, pattern=callback_is(cb.Menu("buy"))),
            CallbackQueryHandler(show_countries, pattern=callback_of(cb.PickService)),
            CallbackQueryHandler(show_countries, pattern=callback_of(cb.CountryPage)),
            CallbackQueryHandler(pick_country, pattern=callback_of(cb.PickCountry)),
            CallbackQueryHandler(confirm, pattern=callback_of(cb.ConfirmBuy)),
            CallbackQueryHandler(
                buy_again,
                pattern=lambda d: (
                    isinstance(o := cb.parse(str(d)), cb.OrderButton)
                    and o.action is cb.OrderAction.BUY_AGAIN
                ),
            ),
            CallbackQueryHandler(cancel_flow, pattern=callback_is(cb.Menu("back"))),
            CommandHandler("cancel", cancel_flow),
        ],
        states={
            BuyState.SERVICE: [MessageHandler(text, search_services)],
            BuyState.COUNTRY: [MessageHandler(text, search_countries)],
            BuyState.CONFIRM: [MessageHandler(text, confirm_hint)],
        },
        fallbacks=[MessageHandler(filters.COMMAND, leave)],
        name="buy",
        persistent=True,
        allow_reentry=True,
    )
