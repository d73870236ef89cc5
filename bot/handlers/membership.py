"""Blocking and unblocking: Telegram tells the bot with a ``my_chat_member`` update.

While blocked, nothing is sent to the user (their orders are still watched); once they
unblock, the poller sends the codes that arrived meanwhile.
"""

from __future__ import annotations

from telegram import ChatMember, Update
from telegram.ext import BaseHandler, ChatMemberHandler

from bot.context import Context


async def membership_changed(update: Update, context: Context) -> None:
    change = update.my_chat_member
    if change is None:
        return
    active = change.new_chat_member.status not in (ChatMember.BANNED, ChatMember.LEFT)
    await context.services.users.set_reachable(change.from_user.id, active)


def handlers() -> list[BaseHandler[Update, Context, None]]:
    return [ChatMemberHandler(membership_changed, ChatMemberHandler.MY_CHAT_MEMBER)]
