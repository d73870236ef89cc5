"""/start, /help, /balance and /language."""

from __future__ import annotations

from contextlib import suppress

from telegram import BotCommand, BotCommandScopeChat, Update
from telegram.error import TelegramError
from telegram.ext import BaseHandler, CommandHandler

from bot import callbacks as cb
from bot import views
from bot.commands import command_list, set_menu_button
from bot.context import Context
from bot.handlers.admin import admin_command_list
from bot.handlers.common import ButtonHandler, answer, edit, reply
from bot.i18n import get_translator
from bot.services.errors import JiemaError, NotLinkedError


async def start(update: Update, context: Context) -> None:
    """Greeting in the user's language; with a linked key, its account and balance."""
    user = update.effective_user
    name = user.first_name if user else ""
    account = None
    if context.profile and context.profile.has_key and not context.profile.key_revoked:
        try:
            account = await context.services.accounts.account(context.user_id, user=context.profile)
        except (JiemaError, NotLinkedError):
            account = None
    await reply(
        update, views.welcome(context.t, name, account, context.services.settings.webapp_url)
    )


async def help_command(update: Update, context: Context) -> None:
    await reply(update, views.help_text(context.t, command_list(context.t)))


async def balance(update: Update, context: Context, _: cb.BalanceMenu | None = None) -> None:
    """Fresh balance from the API, formatted for the user's locale."""
    if update.callback_query:
        await answer(update.callback_query)
    account = await context.services.accounts.account(context.user_id, user=context.profile)
    site = context.services.settings.jiema_site_url
    await reply(update, views.balance(context.t, account, site))


async def language(update: Update, context: Context) -> None:
    await reply(update, views.language_menu(context.t))


async def set_language(update: Update, context: Context, button: cb.SetLanguage) -> None:
    """Store the choice, redraw in the new language, and localise this chat's command menu."""
    query = update.callback_query
    assert query is not None
    user_id = context.user_id
    if not await context.services.users.set_language(user_id, button.language):
        await answer(query, context.t._("This button no longer works."))
        return
    t = get_translator(button.language)
    await answer(query)
    await edit(query, views.language_set(t))
    await set_menu_button(context.bot, context.services.settings.webapp_url, t, user_id)
    menu = admin_command_list if context.services.admin.is_admin(user_id) else command_list
    with suppress(TelegramError):  # the menu is a convenience; the language itself is saved
        await context.bot.set_my_commands(
            [BotCommand(name, text) for name, text in menu(t)],
            scope=BotCommandScopeChat(user_id),
        )


def handlers() -> list[BaseHandler]:
    return [
        CommandHandler("start", start),
        CommandHandler("help", help_command),
        CommandHandler("balance", balance),
        CommandHandler("language", language),
        ButtonHandler(set_language, pattern=cb.SetLanguage),
        ButtonHandler(balance, pattern=cb.BalanceMenu),
    ]
