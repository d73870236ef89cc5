"""The bot's command menu, translated per language (see ``bot.app`` and ``/language``)."""

from __future__ import annotations

from bot.i18n import N_, Translator

# In the order Telegram shows them; descriptions are translated when the menu is built.
COMMANDS: list[tuple[str, str]] = [
    ("buy", N_("Buy a number for a service")),
    ("orders", N_("My orders and their codes")),
    ("favourites", N_("My favourite services and countries")),
    ("alerts", N_("My back-in-stock alerts")),
    ("balance", N_("My jiema.my balance")),
    ("link", N_("Link my jiema.my API key")),
    ("unlink", N_("Unlink and erase my key")),
    ("language", N_("Change the language")),
    ("help", N_("What I can do")),
    ("start", N_("Main menu")),
    ("cancel", N_("Stop what we are doing")),
]


def command_list(t: Translator) -> list[tuple[str, str]]:
    """The command menu in ``t``'s language."""
    return [(name, t._(description)) for name, description in COMMANDS]
