"""/orders history and the order card's buttons (Refresh, Cancel, Another SMS)."""

from __future__ import annotations

from telegram import Message, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot import callbacks as cb
from bot import views
from bot.api.errors import JiemaError, NotFoundError
from bot.context import Context
from bot.handlers.common import answer, api_failed, callback_is, callback_of, edit, parsed, reply
from bot.services.accounts import NotLinkedError
from bot.services.orders import NotYoursError

HISTORY_PAGE_SIZE = 5


async def history(update: Update, context: Context) -> None:
    """``/orders`` (page 0) or a page turn. API cursors stay in user_data, not in buttons."""
    query = update.callback_query
    choice = parsed(update)
    page = choice.page if isinstance(choice, cb.HistoryPage) else 0
    data = context.user_data
    assert data is not None and update.effective_user is not None
    cursors: list[str | None] = data.get("history_cursors") or [None]
    if page >= len(cursors):
        page = 0
    if query:
        await answer(query)
    user_id = update.effective_user.id
    result = await context.services.orders.history(user_id, cursors[page], HISTORY_PAGE_SIZE)
    data["history_cursors"] = [*cursors[: page + 1], result.next_cursor]
    key = await context.services.accounts.key_for(user_id)
    names = {s.code: s.name for s in await context.services.catalog.services(key)}
    screen = views.history(
        context.t, list(result.items), names, page, has_next=result.next_cursor is not None
    )
    if query and isinstance(choice, cb.HistoryPage):
        await edit(query, screen)
    else:
        await reply(update, screen)


async def order_button(update: Update, context: Context) -> None:
    """Refresh / Cancel / Another SMS on a card, or an order opened from the history."""
    choice = parsed(update)
    query = update.callback_query
    assert isinstance(choice, cb.OrderButton) and query is not None
    user_id = query.from_user.id
    services = context.services
    t = context.t
    try:
        if choice.action is cb.OrderAction.CANCEL:
            stored, fresh = await services.orders.cancel(user_id, choice.order_id)
            note = views.cancelled(t, stored)
        elif choice.action is cb.OrderAction.NEXT_SMS:
            stored, fresh = await services.orders.next_sms(user_id, choice.order_id)
            note = views.waiting_again(t)
        else:
            stored, fresh = await services.orders.fetch(user_id, choice.order_id)
            note = None
    except NotYoursError:
        await _open_unknown(update, context, choice.order_id)
        return
    except JiemaError as exc:
        await api_failed(update, context, exc)
        if choice.action is not cb.OrderAction.VIEW:
            await _refresh_quietly(context, user_id, choice.order_id)
        return
    on_card = isinstance(query.message, Message) and (
        query.message.message_id == stored.card_message_id
    )
    # Answer first: redrawing waits behind Telegram's pacing, the spinner should not.
    await answer(query, note)
    updated = await services.tracker.observe(
        stored, fresh, user_ended=choice.action is cb.OrderAction.CANCEL
    )
    if not on_card:
        await services.notifier.post_card(updated)


async def _refresh_quietly(context: Context, user_id: int, order_id: str) -> None:
    """After a refused action the card may be stale (e.g. an SMS arrived): redraw it."""
    try:
        stored, fresh = await context.services.orders.fetch(user_id, order_id)
    except (JiemaError, NotYoursError, NotLinkedError):
        return
    await context.services.tracker.observe(stored, fresh)


async def _open_unknown(update: Update, context: Context, order_id: str) -> None:
    """An order the bot does not track: adopt it if the API says it is this user's."""
    query = update.callback_query
    assert query is not None
    services = context.services
    try:
        stored = await services.orders.adopt(query.from_user.id, order_id)
    except (NotFoundError, NotLinkedError):
        await answer(query, views.not_your_order(context.t), alert=True)
        return
    await answer(query)
    await services.notifier.post_card(stored)


def handlers() -> list[BaseHandler]:
    return [
        CommandHandler("orders", history),
        CallbackQueryHandler(history, pattern=callback_of(cb.HistoryPage)),
        CallbackQueryHandler(history, pattern=callback_is(cb.Menu("orders"))),
        CallbackQueryHandler(order_button, pattern=callback_of(cb.OrderButton)),
    ]
