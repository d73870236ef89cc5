"""Journeys in other languages: every screen, button and command menu in the user's language.

Expected texts come from the catalogs (``get_translator(language)._(...)``), so these tests
stay true when wording changes; a few literal words prove the text is really not English.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from babel.messages.pofile import read_po

from bot.commands import COMMANDS
from bot.fakebotapi import ChatMessage, FakeBotApi
from bot.i18n import DOMAIN, LANGUAGES, LOCALE_DIR, Translator, command_menu_languages, flag
from bot.i18n import get_translator as translator
from bot.sandbox import SandboxServer
from tests.e2e.conftest import Deployment, Linker, sandbox_orders

pytestmark = pytest.mark.in_process

_BETWEEN_PHRASES = re.compile(r"\{[^}]*\}|<[^>]*>|[\n.,:;!?()“”]")
_QUOTED_SMS = re.compile(r"<blockquote>.*?</blockquote>", re.DOTALL)


def _menu(t: Translator) -> list[dict[str, str]]:
    """The command menu as the fake Bot API stores it, in ``t``'s language."""
    return [{"command": name, "description": t._(text)} for name, text in COMMANDS]


def _labels(message: ChatMessage) -> list[list[str]]:
    return [[button.text for button in row] for row in message.buttons]


def _english_leftovers(t: Translator) -> tuple[set[str], set[str]]:
    """English that must not show once a user speaks ``t``'s language.

    Returns:
        Phrases of two words or more cut out of the source messages (between placeholders,
        tags and punctuation) that the translations do not contain themselves (so jiema.my's
        own menu "Account → API keys" is allowed), and the source messages whose translation
        differs (for exact button labels).
    """
    with (LOCALE_DIR / f"{DOMAIN}.pot").open("rb") as pot:
        sources = [
            text
            for m in read_po(pot)
            if m.id
            for text in ([m.id] if isinstance(m.id, str) else m.id)
        ]
    translated = "\n".join(t._(text) for text in sources)
    phrases = {
        chunk.strip()
        for text in sources
        for chunk in _BETWEEN_PHRASES.split(text)
        if len(chunk.strip()) >= 8
        and re.search(r"[A-Za-z]+ [A-Za-z]+", chunk)
        and chunk.strip() not in translated
    }
    labels = {text for text in sources if t._(text) != text}
    return phrases, labels


def _assert_all_in(t: Translator, messages: list[ChatMessage]) -> None:
    """No English phrase in any of the messages' text and no English button label."""
    phrases, labels = _english_leftovers(t)
    assert phrases
    assert labels
    for message in messages:
        html = _QUOTED_SMS.sub("", message.html or "")  # the SMS itself is the sender's words
        found = sorted(p for p in phrases if p in html)
        assert not found, f"English in message #{message.message_id} {html!r}: {found}"
        english = [b for row in _labels(message) for b in row if b in labels]
        assert not english, f"English buttons in message #{message.message_id}: {english}"


def _country_labels(message: ChatMessage) -> list[str]:
    return [row[0].text for row in message.buttons if (row[0].value or "").startswith("c:")]


# -- (a) buying in Russian and in Chinese ------------------------------------------------------


@pytest.mark.parametrize(
    ("language_code", "first_name", "search", "malaysia", "balance", "code_sms"),
    [
        (
            "ru",
            "Иван",
            "малай",
            "Малайзия",
            "25,00\xa0$",
            "Ваш код Telegram: 48213. Никому его не сообщайте.",
        ),
        (
            "zh-hans",
            "小明",
            "马来",
            "马来西亚",
            "US$25.00",
            "【Telegram】您的验证码是 48213，请勿泄露。",
        ),
    ],
)
async def test_buy_journey_in_the_users_language(
    bot: Deployment,
    telegram: FakeBotApi,
    sandbox: SandboxServer,
    linked_user: Linker,
    language_code: str,
    first_name: str,
    search: str,
    malaysia: str,
    balance: str,
    code_sms: str,
) -> None:
    t = translator({"ru": "ru", "zh-hans": "zh_Hans"}[language_code])
    user = await linked_user(language_code=language_code, first_name=first_name)
    linked = next(m for m in reversed(user.messages) if m.from_bot)
    assert linked.html == t._("Key linked to <b>{name}</b>. Balance: {balance}.").format(
        name=first_name, balance=balance
    )
    assert t.money(2500) == balance
    assert _labels(linked) == [[t._("Buy a number")], [t._("My orders"), t._("Balance")]]

    await user.send("/buy")
    services = await user.wait_for_message(
        lambda m: m.html == t._("Choose a service, or type part of its name to search:")
    )
    assert _labels(services)[-1] == [t._("Cancel")]
    await user.press(services, "Telegram")
    choose_country = t._("<b>{service}</b>: choose a country, or type part of its name:").format(
        service="Telegram"
    )
    countries = await user.wait_for(
        lambda m: m.message_id == services.message_id and m.html == choose_country
    )
    assert _labels(countries)[-1] == [t._("‹ Services"), t._("Cancel")]
    # Every country is named in the user's language, with the price in the user's format.
    by_flag = {flag(c.slug): c for c in sandbox.engine.catalogue.countries}
    labels = _country_labels(countries)
    assert labels
    localized = 0
    for label in labels:
        country = by_flag[label.split(" ", 1)[0]]
        name = t.country(country.slug, country.name)
        assert label.startswith(f"{flag(country.slug)} {name} · "), label
        localized += name != country.name
        telegram_service = sandbox.engine.catalogue.service("tg")
        assert telegram_service is not None
        offer = sandbox.engine.catalogue.offer(telegram_service, country)
        assert offer is not None
        price = int(offer.price_cents)
        assert f" · {t.money(price)} · " in label, label
    assert localized == len(labels)

    # Typing part of a localized name finds the country.
    await user.send(search)
    found = await user.wait_for_message(lambda m: m.html == choose_country)
    [label] = _country_labels(found)
    assert label.startswith(f"🇲🇾 {malaysia} · ")
    await user.press(found, label)
    confirm = await user.wait_for(
        lambda m: (
            m.message_id == found.message_id
            and t._("<b>Confirm your purchase</b>") in (m.html or "")
        )
    )
    assert t._("Country: {country}").format(country=f"🇲🇾 {malaysia}") in confirm.text
    assert t._("Your balance: {balance}").format(balance=balance) in confirm.text
    assert balance in confirm.text
    assert _labels(confirm) == [
        [t._("Buy")],
        [t._("🔁 Auto-replace: off")],
        [t._("☆ Add to favourites")],
        [t._("‹ Countries"), t._("Cancel")],
    ]

    await user.press(confirm, t._("Buy"))
    card = await user.wait_for(
        lambda m: m.message_id == confirm.message_id and t._("⏳ Waiting for SMS") in m.text
    )
    [order] = sandbox_orders(sandbox, user.key)
    assert t._("Price: {price}").format(price=t.money(int(order["chargedCents"]))) in card.text
    assert _labels(card) == [
        [t._("Cancel order")],
        [t._("🔁 Auto-replace: off")],
        [t._("Refresh"), t._("Copy number")],
        [t._("Buy again")],
        [t._("★ Favourite")],
    ]

    sandbox.deliver_sms(order["id"], code_sms)
    code = await user.wait_for_message(lambda m: "48213" in m.text)
    assert t._("Code: <code>{code}</code>").format(code="48213") in (code.html or "")
    assert code.buttons[0][0] == (t._("Copy code {code}").format(code="48213"), "48213")
    received = t.ngettext("{count} SMS received", "{count} SMS received", 1).format(count=1)
    card = await user.wait_for(lambda m: order["id"] in m.text and received in m.text)
    assert t._("✅ SMS received") in card.text
    assert _labels(card)[0] == [t._("Another SMS")]
    _assert_all_in(t, [m for m in user.messages if m.from_bot])
    telegram.assert_no_errors()


# -- (b) choosing a language -------------------------------------------------------------------


async def _wait_for_commands(
    telegram: FakeBotApi, scope: dict[str, Any] | None, language_code: str
) -> list[dict[str, str]]:
    commands = await telegram.world.signal.wait_until(
        lambda: telegram.commands(scope, language_code) or None, 10.0
    )
    assert commands is not None, f"no command menu for {scope} / {language_code!r}"
    return commands


async def test_choosing_italian_switches_every_screen_button_and_the_menu(
    bot: Deployment, telegram: FakeBotApi, sandbox: SandboxServer, linked_user: Linker
) -> None:
    en, it = translator("en"), translator("it")
    alice = await linked_user(language_code="en")
    await alice.send("/language")
    menu = await alice.wait_for_message(lambda m: m.html == en._("Choose your language:"))
    assert [label for row in _labels(menu) for label in row] == [
        ("✓ " if code == "en" else "") + name for code, name in LANGUAGES.items()
    ]
    await alice.press(menu, LANGUAGES["it"])
    done = await alice.wait_for(
        lambda m: (
            m.message_id == menu.message_id
            and m.html == it._("Done: I will speak English with you.")
        )
    )
    assert "italiano" in done.text
    chat = {"type": "chat", "chat_id": alice.id}
    assert await _wait_for_commands(telegram, chat, "") == _menu(it)
    assert telegram.commands(chat, "")[0]["description"] == "Compra un numero per un servizio"
    first_after = done.message_id

    await alice.send("/start")
    welcome = await alice.wait_for_message(lambda m: m.from_bot)
    assert welcome.html == "\n\n".join(
        [
            it._(
                "Hi, {name}! I buy temporary phone numbers on jiema.my for you and "
                "send you the SMS codes they receive."
            ).format(name="Alice"),
            it._("Linked account: <b>{name}</b> · balance {balance}.").format(
                name="Alice", balance=it.money(2500)
            ),
        ]
    )
    assert _labels(welcome) == [[it._("Buy a number")], [it._("My orders"), it._("Balance")]]

    await alice.press(welcome, it._("Buy a number"))
    services = await alice.wait_for(
        lambda m: (
            m.message_id == welcome.message_id
            and m.html == it._("Choose a service, or type part of its name to search:")
        )
    )
    await alice.press(services, "Telegram")
    countries = await alice.wait_for(
        lambda m: (
            m.message_id == services.message_id
            and m.html
            == it._("<b>{service}</b>: choose a country, or type part of its name:").format(
                service="Telegram"
            )
        )
    )
    assert _labels(countries)[-1] == [it._("‹ Services"), it._("Cancel")]
    assert all("\xa0USD · " in label for label in _country_labels(countries))
    await alice.press(countries, _country_labels(countries)[0])
    confirm = await alice.wait_for(
        lambda m: (
            m.message_id == countries.message_id
            and it._("<b>Confirm your purchase</b>") in (m.html or "")
        )
    )
    assert _labels(confirm) == [
        [it._("Buy")],
        [it._("🔁 Auto-replace: off")],
        [it._("☆ Add to favourites")],
        [it._("‹ Countries"), it._("Cancel")],
    ]
    assert it._("Buy") == "Compra"
    await alice.press(confirm, "Compra")
    card = await alice.wait_for(
        lambda m: m.message_id == confirm.message_id and it._("⏳ Waiting for SMS") in m.text
    )
    assert await alice.press(card, it._("Refresh"))
    [order] = sandbox_orders(sandbox, alice.key)
    sandbox.deliver_sms(order["id"], "Il tuo codice Telegram è 73920")
    await alice.wait_for_message(lambda m: "73920" in m.text and m.buttons != [])
    card = await alice.wait_for(
        lambda m: order["id"] in m.text and it._("✅ SMS received") in m.text
    )
    answer = await alice.press(card, it._("Another SMS"))
    assert answer.text == it._("OK, waiting for another SMS on the same number.")
    await alice.wait_for(
        lambda m: m.message_id == card.message_id and it._("⏳ Waiting for SMS") in m.text
    )

    await alice.send("/balance")
    charged = int(order["chargedCents"])
    await alice.wait_for_message(
        lambda m: (
            m.html == it._("Balance: <b>{balance}</b>").format(balance=it.money(2500 - charged))
        )
    )
    await alice.send("/orders")
    await alice.wait_for_message(
        lambda m: m.html == it._("<b>Your orders</b> (page {page}):").format(page=1)
    )
    await alice.send("/help")
    help_text = await alice.wait_for_message(
        lambda m: it._("<b>What I can do</b>") in (m.html or "")
    )
    for command in _menu(it):
        assert f"/{command['command']} — {command['description']}" in help_text.text
    await alice.send("boh")
    await alice.wait_for_message(
        lambda m: (
            m.html
            == it._("I didn't get that. /buy to get a number, /help for everything I can do.")
        )
    )
    await alice.send("/language")
    again = await alice.wait_for_message(lambda m: m.html == it._("Choose your language:"))
    assert f"✓ {LANGUAGES['it']}" in [label for row in _labels(again) for label in row]

    _assert_all_in(it, [m for m in alice.messages if m.from_bot and m.message_id >= first_after])
    telegram.assert_no_errors()


# -- (c) the default command menu --------------------------------------------------------------


async def test_the_command_menu_is_registered_in_every_language_at_start_up(
    bot: Deployment, telegram: FakeBotApi
) -> None:
    for code, language in command_menu_languages():
        # Telegram matches menus by the two-letter language code of the user's app.
        assert await _wait_for_commands(telegram, None, code or "") == _menu(translator(language))
    assert telegram.commands(None, "ru")[0]["description"] == "Купить номер для сервиса"
    assert telegram.commands(None, "pl")[0]["description"] == "Kup numer do serwisu"
    assert telegram.commands(None, "zh") != telegram.commands(None, "")
    telegram.assert_no_errors()


@pytest.mark.parametrize(
    ("language_code", "language"),
    [
        ("pt-br", "pt"),
        ("es-419", "es"),
        ("zh-hk", "zh_Hant"),
        ("tl", "fil"),
        ("fa-IR", "fa"),
        ("he", "en"),
    ],
)
async def test_the_first_language_follows_the_telegram_app(
    bot: Deployment, telegram: FakeBotApi, language_code: str, language: str
) -> None:
    t = translator(language)
    user = telegram.user(2002, first_name="Ana", language_code=language_code)
    await user.send("/start")
    welcome = await user.wait_for_message()
    assert welcome.html is not None
    assert welcome.html.startswith(
        t.align(
            t._(
                "Hi, {name}! I buy temporary phone numbers on jiema.my for you and "
                "send you the SMS codes they receive."
            ).format(name="Ana")
        )
    )
    assert _labels(welcome) == [[t._("Link my API key")]]
    telegram.assert_no_errors()
