"""The bot's menus: commands and the Mini App's menu button, in the user's language."""

from __future__ import annotations

import logging

from telegram import Bot, BotCommand, MenuButtonWebApp, WebAppInfo
from telegram.error import TelegramError

from bot.i18n import N_, Translator, command_menu_languages, get_translator

log = logging.getLogger(__name__)

# In the order Telegram shows them; descriptions are translated when the menu is built.
COMMANDS: list[tuple[str, str]] = [
    ("buy", N_("Buy a number for a service")),
    ("orders", N_("My orders and their codes")),
    ("favourites", N_("My favourite services and countries")),
    ("alerts", N_("My back-in-stock alerts")),
    ("balance", N_("My jiema.my balance")),
    ("link", N_("Link my jiema.my API key")),
    ("unlink", N_("Unlink and erase my key")),
    ("forget", N_("Erase all my data")),
    ("language", N_("Change the language")),
    ("help", N_("What I can do")),
    ("start", N_("Main menu")),
    ("cancel", N_("Stop what we are doing")),
]


def command_list(t: Translator) -> list[tuple[str, str]]:
    """The command menu in ``t``'s language."""
    return [(name, t._(description)) for name, description in COMMANDS]


async def set_menu_button(
    bot: Bot, app_url: str | None, t: Translator, chat_id: int | None = None
) -> None:
    """The chat's menu button opens the Mini App (the default for every chat when
    ``chat_id`` is None), labelled in ``t``'s language. No Mini App: nothing to do."""
    if app_url is None:
        return
    button = MenuButtonWebApp(t._("Open the app"), WebAppInfo(app_url))
    try:
        await bot.set_chat_menu_button(chat_id=chat_id, menu_button=button)
    except TelegramError as exc:
        log.warning("could not set the menu button: %s", exc)


async def set_commands(bot: Bot) -> None:
    """The command menu in every language (Telegram picks by the user's app language)."""
    try:
        for code, language in command_menu_languages():
            commands = [BotCommand(n, d) for n, d in command_list(get_translator(language))]
            await bot.set_my_commands(commands, language_code=code)
    except TelegramError as exc:
        log.warning("could not set the command menu: %s", exc)
