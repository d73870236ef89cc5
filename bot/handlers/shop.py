"""Favourites, back-in-stock alerts and alternatives to a sold-out country.

Commands ``/favourites`` and ``/alerts``; the ★ buttons (confirmation, order card), ✕ in
the two lists and "Notify me". :func:`show_alternatives` and :func:`no_numbers` are the
buy flow's sold-out screens.
"""

from __future__ import annotations

from dataclasses import replace

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest
from telegram.ext import BaseHandler, CommandHandler

from bot import callbacks as cb
from bot import keyboards, pressed, views
from bot.context import Context
from bot.handlers.common import ButtonHandler, answer, edit, remember, reply
from bot.services.after_purchase import SoldOut
from bot.services.alerts import Alternatives, TooManyAlerts, UnknownCountry
from bot.services.browse import ServiceGone
from bot.services.favourites import Added, Removed
from bot.services.users import Mode


async def favourites_command(update: Update, context: Context) -> None:
    """``/favourites``: the list, at today's prices."""
    items = await context.services.favourites.offers(context.user_id)
    await reply(update, views.favourites_list(context.t, items))


async def toggle_favourite(update: Update, context: Context, button: cb.FavouriteToggle) -> None:
    """★ on a confirmation: toggle, and relabel the button (the Buy token stays valid)."""
    query = update.callback_query
    assert query is not None
    outcome = await context.services.favourites.toggle(
        context.user_id, button.service, button.country_id
    )
    await answer(query, views.favourite_toggled(context.t, outcome))
    if isinstance(outcome, Added | Removed) and isinstance(query.message, Message):
        markup = keyboards.with_favourite_state(
            context.t,
            pressed.keyboard(query.message),
            button.service,
            button.country_id,
            isinstance(outcome, Added),
        )
        await _set_markup(update, markup)


async def toggle_order_favourite(
    update: Update, context: Context, button: cb.FavouriteOrder
) -> None:
    """★ on an order card: toggle the order's service and country."""
    query = update.callback_query
    assert query is not None
    outcome = await context.services.favourites.toggle_order(context.user_id, button.order_id)
    await answer(query, views.favourite_toggled(context.t, outcome))


async def remove_favourite(update: Update, context: Context, button: cb.FavouriteRemove) -> None:
    """✕ in ``/favourites``: forget it and redraw the list."""
    query = update.callback_query
    assert query is not None
    items = await context.services.favourites.remove_and_list(
        context.user_id, button.service, button.country_id
    )
    await answer(query)
    await edit(query, views.favourites_list(context.t, items))


async def alerts_command(update: Update, context: Context) -> None:
    """``/alerts``: the alerts still waiting."""
    alerts = await context.services.alerts.waiting(context.user_id)
    await reply(update, views.alerts_list(context.t, alerts))


async def cancel_alert(update: Update, context: Context, button: cb.AlertCancel) -> None:
    """✕ in ``/alerts``: cancel it (only the user's own) and redraw the list."""
    query = update.callback_query
    assert query is not None
    outcome = await context.services.alerts.cancel_and_list(context.user_id, button.alert_id)
    t = context.t
    await answer(query, views.alert_cancelled(t) if outcome.cancelled else None)
    await edit(query, views.alerts_list(t, outcome.waiting))


async def notify_me(update: Update, context: Context, button: cb.NotifyMe) -> None:
    """ "Notify me when available": store the alert; the button goes away."""
    query = update.callback_query
    assert query is not None
    t = context.t
    alerts = context.services.alerts
    outcome = await alerts.watch(context.user_id, button.service, button.country_id)
    if isinstance(outcome, ServiceGone):
        await answer(query, views.service_gone(t), alert=True)
        return
    if isinstance(outcome, UnknownCountry):
        await answer(query, views.offer_gone(t), alert=True)
        return
    if isinstance(outcome, TooManyAlerts):
        await answer(query, views.too_many_alerts(t, outcome.limit), alert=True)
        return
    hours = alerts.lifetime.total_seconds() / 3600
    await answer(query, views.watching(t, outcome, hours), alert=True)
    if isinstance(query.message, Message):
        await _set_markup(update, keyboards.without(pressed.keyboard(query.message), button))


async def no_numbers(update: Update, context: Context, sold_out: SoldOut) -> None:
    """``NO_NUMBERS`` when buying: the confirmation becomes the alternatives.

    The query was answered when the purchase was claimed, so this only edits.
    """
    query = update.callback_query
    assert query is not None
    found = sold_out.found
    if isinstance(found, ServiceGone | UnknownCountry):
        refused = sold_out.refused
        site = context.services.settings.jiema_site_url
        await edit(query, views.purchase_failed(context.t, refused.error, refused.service, site))
        return
    await _remember_alternatives(context, found)
    await edit(query, views.alternatives(context.t, found))


async def show_alternatives(
    update: Update,
    context: Context,
    found: Alternatives | ServiceGone | UnknownCountry,
    *,
    in_place: bool,
) -> None:
    """A country without numbers was picked: show the alternatives and Notify me.

    Args:
        in_place: Edit the pressed message (a list or a confirmation); otherwise send a new
            one (the button was on an order card, which must stay).
    """
    query = update.callback_query
    assert query is not None
    t = context.t
    if isinstance(found, ServiceGone):
        await answer(query, views.service_gone(t), alert=True)
        return
    if isinstance(found, UnknownCountry):
        await answer(query, views.offer_gone(t), alert=True)
        return
    await _remember_alternatives(context, found)
    await answer(query)
    screen = views.alternatives(t, found)
    if in_place:
        await edit(query, screen)
    else:
        await reply(update, screen)


async def _remember_alternatives(context: Context, found: Alternatives) -> None:
    """Typed text now searches the service's countries."""
    service = found.service.code
    dialog = replace(context.dialog, country_service=service, country_query=None)
    await remember(context, replace(dialog, mode=Mode.COUNTRIES))


async def _set_markup(update: Update, markup: InlineKeyboardMarkup | None) -> None:
    query = update.callback_query
    assert query is not None
    try:
        await query.edit_message_reply_markup(reply_markup=markup)
    except BadRequest as exc:
        if "not modified" not in exc.message:
            raise


def handlers() -> list[BaseHandler]:
    return [
        CommandHandler("favourites", favourites_command),
        CommandHandler("alerts", alerts_command),
        ButtonHandler(toggle_favourite, pattern=cb.FavouriteToggle),
        ButtonHandler(toggle_order_favourite, pattern=cb.FavouriteOrder),
        ButtonHandler(remove_favourite, pattern=cb.FavouriteRemove),
        ButtonHandler(notify_me, pattern=cb.NotifyMe),
        ButtonHandler(cancel_alert, pattern=cb.AlertCancel),
    ]
