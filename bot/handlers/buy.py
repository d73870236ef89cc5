"""The buy flow: service → country → confirmation → order card.

Every button carries what it needs in its callback data, so an old list or a button pressed
after a restart (or on another replica) still works. What typed text means (a search in the
service or country list) is the ``mode`` of the user's chat state, kept in the database with
the search strings; :func:`typed` routes text by it.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot import callbacks as cb
from bot import views
from bot.api.errors import NoNumbersError
from bot.context import Context
from bot.handlers import shop
from bot.handlers.common import (
    answer,
    callback_is,
    callback_of,
    edit,
    parsed,
    remember,
    reply,
    unknown_input,
)
from bot.services.browse import ServiceGone
from bot.services.purchases import (
    AlreadyUsed,
    OfferGone,
    PriceRose,
    Quote,
    Refused,
    Unconfirmed,
)

SERVICES, COUNTRIES, CONFIRM = "services", "countries", "confirm"
"""Values of the chat state's ``mode``: what typed text means."""


def _typed(update: Update) -> str:
    """What the user typed, trimmed to a sane search length."""
    message = update.effective_message
    return ((message.text if message else None) or "").strip()[:64]


async def show_services(update: Update, context: Context) -> None:
    """``/buy``, the Buy menu button, or a service page turn."""
    query = update.callback_query
    choice = parsed(update)
    page = choice.page if isinstance(choice, cb.ServicePage) else 0
    dialog = context.dialog
    if not isinstance(choice, cb.ServicePage):
        dialog.pop("service_query", None)
    search = dialog.get("service_query")
    items = await context.services.browse.services(context.user_id, search)
    await remember(context, {**dialog, "mode": SERVICES})
    on_top = page == 0 and not search  # favourites: on the first page of the whole list
    favourites = await context.services.favourites.offers(context.user_id) if on_top else []
    app_url = context.services.settings.webapp_url
    screen = views.services(context.t, items, page, search, app_url, favourites)
    if query:
        await answer(query)
        await edit(query, screen)
    else:
        await reply(update, screen)


async def search_services(update: Update, context: Context) -> None:
    text = _typed(update)
    items = await context.services.browse.services(context.user_id, text)
    await remember(context, {**context.dialog, "mode": SERVICES, "service_query": text})
    await reply(
        update, views.services(context.t, items, 0, text, context.services.settings.webapp_url)
    )


async def show_countries(update: Update, context: Context) -> None:
    """A service picked, or a country page turn."""
    query = update.callback_query
    choice = parsed(update)
    assert query is not None and isinstance(choice, cb.PickService | cb.CountryPage)
    page = choice.page if isinstance(choice, cb.CountryPage) else 0
    dialog = context.dialog
    if isinstance(choice, cb.PickService) or dialog.get("country_service") != choice.service:
        dialog.pop("country_query", None)
    search = dialog.get("country_query")
    found = await context.services.browse.countries(
        context.user_id, choice.service, context.t.language, search, sold_out=True
    )
    if isinstance(found, ServiceGone):
        await answer(query, views.service_gone(context.t), alert=True)
        return
    await remember(context, {**dialog, "mode": COUNTRIES, "country_service": choice.service})
    await answer(query)
    await edit(
        query,
        views.countries(context.t, found.service, found.offers, page, search, found.rates),
    )


async def search_countries(update: Update, context: Context) -> None:
    service = context.dialog.get("country_service")
    if not isinstance(service, str):
        await search_services(update, context)
        return
    text = _typed(update)
    found = await context.services.browse.countries(
        context.user_id, service, context.t.language, text, sold_out=True
    )
    if isinstance(found, ServiceGone):
        await remember(context, {**context.dialog, "mode": SERVICES})
        await reply(update, views.Screen(views.service_gone(context.t)))
        return
    await remember(context, {**context.dialog, "mode": COUNTRIES, "country_query": text})
    await reply(
        update, views.countries(context.t, found.service, found.offers, 0, text, found.rates)
    )


async def _quote(update: Update, context: Context, service: str, country_id: int) -> None:
    """Show the confirmation with a fresh single-use token (edit, or send when asked to)."""
    query = update.callback_query
    assert query is not None
    services = context.services
    quote = await services.purchases.quote(context.user_id, service, country_id)
    in_place = parsed(update) == cb.PickCountry(service, country_id)
    if isinstance(quote, OfferGone):
        await shop.sold_out(update, context, service, country_id, in_place=in_place)
        return
    await remember(context, {**context.dialog, "mode": CONFIRM, "country_service": service})
    favourite = await services.favourites.is_favourite(context.user_id, service, country_id)
    screen = views.confirmation(context.t, quote, favourite, services.settings.jiema_site_url)
    await answer(query)
    if in_place:
        await edit(query, screen)
    else:
        await reply(update, screen)


async def pick_country(update: Update, context: Context) -> None:
    choice = parsed(update)
    assert isinstance(choice, cb.PickCountry)
    await _quote(update, context, choice.service, choice.country_id)


async def buy_again(update: Update, context: Context) -> None:
    """ "Buy again" on an order card: a new confirmation for the same service and country."""
    choice = parsed(update)
    query = update.callback_query
    assert isinstance(choice, cb.OrderButton) and query is not None
    order = await context.services.orders.get(context.user_id, choice.order_id)
    if order is None or not order.country_id.isdigit():
        await answer(query, views.not_your_order(context.t), alert=True)
        return
    await _quote(update, context, order.service, int(order.country_id))


async def confirm(update: Update, context: Context) -> None:
    """The single-use Buy button: claim the token, stop the spinner, then buy."""
    choice = parsed(update)
    query = update.callback_query
    assert isinstance(choice, cb.ConfirmBuy) and query is not None
    t = context.t

    async def claimed() -> None:
        await answer(query)
        await edit(query, views.buying(t))

    card_id = query.message.message_id if query.message else None
    services = context.services
    result = await services.purchases.buy(
        context.user_id, choice.token, card_id, on_claimed=claimed
    )
    if isinstance(result, AlreadyUsed):
        await answer(query, views.purchase_used(t), alert=True)
        return
    dialog = {k: v for k, v in context.dialog.items() if k not in ("mode", "country_query")}
    if isinstance(result, Refused) and isinstance(result.error, NoNumbersError):
        await shop.no_numbers(update, context, result, choice.token)
    elif isinstance(result, Refused):
        await remember(context, {**dialog, "mode": COUNTRIES, "country_service": result.service})
        site = services.settings.jiema_site_url
        await edit(query, views.purchase_failed(t, result.error, result.service, site))
    elif isinstance(result, Unconfirmed):
        await remember(context, dialog)
        await edit(query, views.purchase_unconfirmed(t))
    elif isinstance(result, PriceRose):  # the confirmation shows the new price
        await remember(context, {**dialog, "mode": CONFIRM})
        favourite = isinstance(result.quote, Quote) and await services.favourites.is_favourite(
            context.user_id, result.quote.service.code, result.quote.offer.country_id
        )
        await edit(query, views.price_rose(t, result, favourite, services.settings.jiema_site_url))
    else:  # the confirmation message becomes the order card
        await remember(context, dialog)
        await services.notifier.show_card(result.order)
        await shop.topup_heads_up(update, context, result.order)


async def cancel_flow(update: Update, context: Context) -> None:
    """Cancel button or /cancel: leave the flow."""
    await remember(context, {})
    if update.callback_query:
        await answer(update.callback_query)
        await edit(update.callback_query, views.cancelled_flow(context.t))
    else:
        await reply(update, views.cancelled_flow(context.t))


async def typed(update: Update, context: Context) -> None:
    """Text that is not a command: a search, or a nudge, depending on the flow's step."""
    mode = context.dialog.get("mode")
    if mode == SERVICES:
        await search_services(update, context)
    elif mode == COUNTRIES:
        await search_countries(update, context)
    elif mode == CONFIRM:
        await reply(update, views.Screen(context.t._("Tap Buy to confirm, or Cancel.")))
    else:
        await unknown_input(update, context)


def handlers() -> list[BaseHandler]:
    """Buttons and commands of the flow (typed text is routed by :func:`typed`)."""
    return [
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
    ]
