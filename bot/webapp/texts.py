"""Every string the Mini App page shows, from the chat's Babel catalogs.

Strings the chat already has are reused as they are (so they are translated already);
the page-only ones are marked here with `N_` for ``pybabel extract``. The page gets them
translated, as plain text (Telegram HTML tags stripped), in ``GET /app/api/session``; it
fills ``{placeholders}`` itself.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Final

from bot.i18n import N_, Translator

PAGE_TEXTS: Final[Mapping[str, str]] = {
    # Reused from the chat (bot/views.py, bot/keyboards.py).
    "services": N_("Choose a service, or type part of its name to search:"),
    "countries": N_("<b>{service}</b>: choose a country, or type part of its name:"),
    "confirm": N_("<b>Confirm your purchase</b>"),
    "service": N_("Service: {service}"),
    "country": N_("Country: {country}"),
    "price": N_("Price: <b>{price}</b>"),
    "balanceIs": N_("Your balance: {balance}"),
    "tapBuy": N_("Tap Buy to get a number. You can cancel for a full refund until an SMS arrives."),
    "notEnough": N_("Not enough balance: top up on jiema.my, then come back."),
    "buy": N_("Buy"),
    "buying": N_("⏳ Buying your number…"),
    "buyNumber": N_("Buy a number"),
    "myOrders": N_("My orders"),
    "balance": N_("Balance"),
    "copyNumber": N_("Copy number"),
    "nextSms": N_("Another SMS"),
    "cancelOrder": N_("Cancel order"),
    "refunded": N_("Refunded: {amount}"),
    "noOrders": N_("You have no orders yet. /buy to get a number."),
    "linkFirst": N_("First link your jiema.my API key with /link."),
    "linkSteps": N_(
        "To start, link your jiema.my API key:\n"
        "1. Open jiema.my → Account → API keys and create a key.\n"
        "2. Send /link and paste the key (it starts with <code>jm_</code>).\n"
        "I delete the message holding your key right away and keep it encrypted."
    ),
    "sorry": N_(
        "Sorry, something went wrong on my side. Your orders and codes are safe; "
        "please try again, or /help."
    ),
    "noService": N_("No service matches “{query}”. Type another name."),
    "noCountry": N_("<b>{service}</b>: no country matches “{query}”. Type another name."),
    "left": N_("{duration} left"),
    "favAdd": N_("☆ Add to favourites"),
    "favOn": N_("★ In favourites"),
    "notifyMe": N_("🔔 Notify me when available"),
    "alerts": N_("<b>Your alerts</b>: I'll tell you once when these have numbers. ✕ cancels one."),
    "cancel": N_("Cancel"),
    # Page only.
    "inStock": N_("{count} in stock"),
    "soldOut": N_("Out of stock"),
    "sortBy": N_("Sort by"),
    "byPrice": N_("Price"),
    "byStock": N_("Stock"),
    "byName": N_("Name"),
    # TRANSLATORS: a sort button beside Price, Stock and Name: the countries whose recent
    # orders most often got an SMS first.
    "byChance": N_("Best chance"),
    "copy": N_("Copy"),
    "copied": N_("Copied"),
    "reopen": N_("This page has expired or was not opened from the bot. Reopen it from the bot."),
}

_TAG = re.compile(r"</?[a-z]+>")


def plain(text: str) -> str:
    """A Telegram-HTML text of the chat as plain text for the page (set as textContent)."""
    return html.unescape(_TAG.sub("", text))


def page_texts(t: Translator) -> dict[str, str]:
    """The page's strings in ``t``'s language."""
    return {name: plain(t.gettext(message)) for name, message in PAGE_TEXTS.items()}
