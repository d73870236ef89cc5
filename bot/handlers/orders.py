"""/orders history and the order card's buttons (Refresh, Cancel, Another SMS)."""

from __future__ import annotations

from dataclasses import replace

from telegram import Message, Update
from telegram.ext import BaseHandler, CommandHandler

from bot import callbacks as cb
from bot import views
from bot.context import Context
from bot.handlers.common import ButtonHandler, answer, api_failed, edit, remember, reply
from bot.services.orders import Acted, Action, ActionRefused

HISTORY_PAGE_SIZE = 5

_ACTIONS = {
    cb.OrderAction.VIEW: Action.VIEW,
    cb.OrderAction.CANCEL: Action.CANCEL,
    cb.OrderAction.NEXT_SMS: Action.NEXT_SMS,
}


async def history(
    update: Update, context: Context, button: cb.HistoryPage | cb.OrdersMenu | None = None
) -> None:
    """``/orders`` (page 0) or a page turn. API cursors stay in the chat state, not buttons."""
    query = update.callback_query
    page = button.page if isinstance(button, cb.HistoryPage) else 0
    dialog = context.dialog
    cursors = dialog.history_cursors or (None,)
    if page >= len(cursors):
        page = 0
    if query:
        await answer(query)
    result = await context.services.orders.history(
        context.user_id, cursors[page], HISTORY_PAGE_SIZE, user=context.profile
    )
    await remember(
        context, replace(dialog, history_cursors=(*cursors[: page + 1], result.next_cursor))
    )
    screen = views.history(
        context.t, result.orders, result.names, page, has_next=result.next_cursor is not None
    )
    if query and isinstance(button, cb.HistoryPage):
        await edit(query, screen)
    else:
        await reply(update, screen)


async def order_button(update: Update, context: Context, button: cb.OrderButton) -> None:
    """Refresh / Cancel / Another SMS on a card, or an order opened from the history."""
    query = update.callback_query
    assert query is not None
    t = context.t

    async def acted(outcome: Acted) -> None:
        if outcome.action is Action.CANCEL:
            await answer(query, views.cancelled(t, outcome.order))
        elif outcome.action is Action.NEXT_SMS:
            await answer(query, views.waiting_again(t))
        else:
            await answer(query)

    pressed = query.message.message_id if isinstance(query.message, Message) else None
    outcome = await context.services.orders.act_in_chat(
        context.user_id,
        button.order_id,
        _ACTIONS[button.action],
        pressed,
        on_acted=acted,
        user=context.profile,
    )
    if isinstance(outcome, ActionRefused):
        await api_failed(update, context, outcome.error)
    elif not isinstance(outcome, Acted):
        await answer(query, views.not_your_order(t), alert=True)


def handlers() -> list[BaseHandler]:
    return [
        CommandHandler("orders", history),
        ButtonHandler(history, pattern=cb.HistoryPage),
        ButtonHandler(history, pattern=cb.OrdersMenu),
        ButtonHandler(order_button, pattern=cb.OrderButton),
    ]
