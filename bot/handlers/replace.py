"""The auto-replace switches on a confirmation and on a waiting order's card (the
``/settings`` default is in :mod:`bot.handlers.admin`, beside the other settings)."""

from __future__ import annotations

from telegram import Message, Update
from telegram.error import BadRequest
from telegram.ext import BaseHandler

from bot import callbacks as cb
from bot import keyboards, pressed, views
from bot.context import Context
from bot.handlers.common import ButtonHandler, answer


async def switch_quote(update: Update, context: Context, button: cb.AutoReplaceQuote) -> None:
    """🔁 on a confirmation: recorded on its purchase; only that button changes."""
    query = update.callback_query
    assert query is not None
    t = context.t
    if not await context.services.replacement.set_for_confirmation(
        context.user_id, button.token, button.on
    ):
        await answer(query, views.purchase_used(t), alert=True)
        return
    await answer(query, views.auto_replace_label(t, button.on))
    if isinstance(query.message, Message):
        fresh = keyboards.auto_replace_quote(t, button.token, button.on)[0]
        markup = keyboards.switched(pressed.keyboard(query.message), button, fresh)
        try:
            await query.edit_message_reply_markup(reply_markup=markup)
        except BadRequest as exc:
            if "not modified" not in exc.message:
                raise


async def switch_order(update: Update, context: Context, button: cb.AutoReplaceOrder) -> None:
    """🔁 on a waiting order's card: recorded, and the card redrawn by the service."""
    query = update.callback_query
    assert query is not None
    t = context.t
    order = await context.services.replacement.set_for_order(
        context.user_id, button.order_id, button.on
    )
    if order is None:  # not theirs, or an SMS came (then the next redraw drops the switch)
        await answer(query)
        return
    await answer(query, views.auto_replace_label(t, button.on))


def handlers() -> list[BaseHandler]:
    return [
        ButtonHandler(switch_quote, pattern=cb.AutoReplaceQuote),
        ButtonHandler(switch_order, pattern=cb.AutoReplaceOrder),
    ]
