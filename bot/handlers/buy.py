"""The buy flow: service → country → confirmation → order card.

Every button carries what it needs in its callback data, so an old list or a button pressed
after a restart (or on another replica) still works. What typed text means (a search in the
service or country list) is the ``mode`` of the user's chat state, kept in the database with
the search strings; :func:`typed` routes text by it.
"""

from __future__ import annotations

from dataclasses import replace

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler

from bot import callbacks as cb
from bot import views
from bot.context import Context
from bot.handlers import shop
from bot.handlers.common import ButtonHandler, answer, edit, remember, reply
from bot.services.after_purchase import SoldOut
from bot.services.browse import ServiceGone
from bot.services.orders import NotYours
from bot.services.purchases import AlreadyUsed, PriceRose, Quote, Refused, Unconfirmed
from bot.services.quotes import QuoteOutcome
from bot.services.users import Dialog, Mode


def _typed(update: Update) -> str:
    """What the user typed, trimmed to a sane search length."""
    message = update.effective_message
    return ((message.text if message else None) or "").strip()[:64]


async def show_services(
    update: Update, context: Context, button: cb.ServicePage | cb.BuyMenu | None = None
) -> None:
    """``/buy``, the Buy menu button, or a service page turn (which keeps the search)."""
    query = update.callback_query
    page = button.page if isinstance(button, cb.ServicePage) else 0
    dialog = context.dialog
    if not isinstance(button, cb.ServicePage):
        dialog = replace(dialog, service_query=None)
    search = dialog.service_query
    on_top = page == 0 and not search  # favourites: on the first page of the whole list
    menu = await context.services.browse.menu(
        context.user_id, search, favourites=on_top, user=context.profile
    )
    await remember(context, replace(dialog, mode=Mode.SERVICES))
    app_url = context.services.settings.webapp_url
    screen = views.services(context.t, menu.services, page, search, app_url, menu.favourites)
    if query:
        await answer(query)
        await edit(query, screen)
    else:
        await reply(update, screen)


async def search_services(update: Update, context: Context) -> None:
    text = _typed(update)
    items = await context.services.browse.services(context.user_id, text, user=context.profile)
    await remember(context, replace(context.dialog, mode=Mode.SERVICES, service_query=text))
    await reply(
        update, views.services(context.t, items, 0, text, context.services.settings.webapp_url)
    )


async def show_countries(
    update: Update, context: Context, button: cb.PickService | cb.CountryPage
) -> None:
    """A service picked, or a country page turn (which keeps the search)."""
    query = update.callback_query
    assert query is not None
    page = button.page if isinstance(button, cb.CountryPage) else 0
    dialog = context.dialog
    if isinstance(button, cb.PickService) or dialog.country_service != button.service:
        dialog = replace(dialog, country_query=None)
    search = dialog.country_query
    found = await context.services.browse.countries(
        context.user_id,
        button.service,
        context.t.language,
        search,
        sold_out=True,
        user=context.profile,
    )
    if isinstance(found, ServiceGone):
        await answer(query, views.service_gone(context.t), alert=True)
        return
    await remember(context, replace(dialog, mode=Mode.COUNTRIES, country_service=button.service))
    await answer(query)
    await edit(
        query,
        views.countries(context.t, found.service, found.offers, page, search, found.rates),
    )


async def search_countries(update: Update, context: Context) -> None:
    service = context.dialog.country_service
    if service is None:
        await search_services(update, context)
        return
    text = _typed(update)
    found = await context.services.browse.countries(
        context.user_id, service, context.t.language, text, sold_out=True, user=context.profile
    )
    if isinstance(found, ServiceGone):
        await remember(context, replace(context.dialog, mode=Mode.SERVICES))
        await reply(update, views.Screen(views.service_gone(context.t)))
        return
    await remember(context, replace(context.dialog, mode=Mode.COUNTRIES, country_query=text))
    await reply(
        update, views.countries(context.t, found.service, found.offers, 0, text, found.rates)
    )


async def _show_quote(
    update: Update, context: Context, outcome: QuoteOutcome, *, in_place: bool
) -> None:
    """Show the confirmation with its single-use token, or the alternatives to a sold-out
    country.

    Args:
        in_place: Edit the pressed message (a list); otherwise send a new one (the button
            was on an order card, which must stay).
    """
    query = update.callback_query
    assert query is not None
    if not isinstance(outcome, Quote):
        await shop.show_alternatives(update, context, outcome, in_place=in_place)
        return
    dialog = replace(context.dialog, mode=Mode.CONFIRM, country_service=outcome.purchase.service)
    await remember(context, dialog)
    screen = views.confirmation(context.t, outcome, context.services.settings.jiema_site_url)
    await answer(query)
    if in_place:
        await edit(query, screen)
    else:
        await reply(update, screen)


async def pick_country(update: Update, context: Context, button: cb.PickCountry) -> None:
    outcome = await context.services.quotes.quote(
        context.user_id, button.service, button.country_id
    )
    await _show_quote(update, context, outcome, in_place=True)


async def buy_again(update: Update, context: Context, button: cb.BuyAgain) -> None:
    """ "Buy again" on an order card: a new confirmation for the same service and country."""
    query = update.callback_query
    assert query is not None
    outcome = await context.services.quotes.quote_again(context.user_id, button.order_id)
    if isinstance(outcome, NotYours):
        await answer(query, views.not_your_order(context.t), alert=True)
        return
    await _show_quote(update, context, outcome, in_place=False)


async def confirm(update: Update, context: Context, button: cb.ConfirmBuy) -> None:
    """The single-use Buy button: claim the token, stop the spinner, then buy."""
    query = update.callback_query
    assert query is not None
    t = context.t

    async def claimed() -> None:
        await answer(query)
        await edit(query, views.buying(t))

    card_id = query.message.message_id if query.message else None
    services = context.services
    result = await services.after_purchase.buy(
        context.user_id, button.token, card_id, on_claimed=claimed, offer_alternatives=True
    )
    if isinstance(result, AlreadyUsed):
        await answer(query, views.purchase_used(t), alert=True)
        return
    dialog = replace(context.dialog, mode=None, country_query=None)
    if isinstance(result, SoldOut):
        await shop.no_numbers(update, context, result)
    elif isinstance(result, Refused):
        await remember(
            context, replace(dialog, mode=Mode.COUNTRIES, country_service=result.service)
        )
        site = services.settings.jiema_site_url
        await edit(query, views.purchase_failed(t, result.error, result.service, site))
    elif isinstance(result, Unconfirmed):
        await remember(context, dialog)
        await edit(query, views.purchase_unconfirmed(t))
    elif isinstance(result, PriceRose):  # the confirmation shows the new price
        await remember(context, replace(dialog, mode=Mode.CONFIRM))
        await edit(query, views.price_rose(t, result, services.settings.jiema_site_url))
    else:  # the confirmation message became the order card
        await remember(context, dialog)
        if result.running_low is not None:
            site = services.settings.jiema_site_url
            await reply(update, views.running_low(t, result.running_low, site))


async def cancel_flow(update: Update, context: Context, _: cb.CancelFlow | None = None) -> None:
    """Cancel button or /cancel: leave the flow."""
    await remember(context, Dialog())
    if update.callback_query:
        await answer(update.callback_query)
        await edit(update.callback_query, views.cancelled_flow(context.t))
    else:
        await reply(update, views.cancelled_flow(context.t))


async def nudge_to_confirm(update: Update, context: Context) -> None:
    """Text typed while a confirmation is shown."""
    await reply(update, views.Screen(context.t._("Tap Buy to confirm, or Cancel.")))


def handlers() -> list[BaseHandler]:
    """Buttons and commands of the flow (typed text comes through ``bot.handlers.typed``)."""
    return [
        CommandHandler("buy", show_services),
        ButtonHandler(show_services, pattern=cb.ServicePage),
        ButtonHandler(show_services, pattern=cb.BuyMenu),
        ButtonHandler(show_countries, pattern=cb.PickService),
        ButtonHandler(show_countries, pattern=cb.CountryPage),
        ButtonHandler(pick_country, pattern=cb.PickCountry),
        ButtonHandler(confirm, pattern=cb.ConfirmBuy),
        ButtonHandler(buy_again, pattern=cb.BuyAgain),
        ButtonHandler(cancel_flow, pattern=cb.CancelFlow),
        CommandHandler("cancel", cancel_flow),
    ]
