"""Issue 13's journeys (Arabic, Hindi, Japanese, Filipino, Ukrainian) and issue 22's Polish.

Each user meets the bot in their app's language and goes all the way: /start, link a key,
buy, get the code, /balance, /orders, then switches language with /language. Expected
texts come from the catalogs (so wording may change) and are also checked not to be English;
the strict fake Bot API refuses invalid HTML; nothing a button copies or sends back carries a
directional character; in Arabic every line of the bot's own text is laid out right to left.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bot.fakebotapi import ChatMessage, FakeBotApi, FakeUser
from bot.i18n import LANGUAGES, RLM, Translator
from bot.i18n import get_translator as translator
from bot.sandbox import SandboxServer
from tests.e2e.conftest import Deployment, sandbox_orders
from tests.e2e.test_journey_languages import _assert_all_in, _labels, _menu, _wait_for_commands
from tests.i18n_checks import assert_no_bidi_in_code, assert_no_bidi_in_copy

pytestmark = pytest.mark.in_process

CODE = "48213"
BALANCE = 2500


@dataclass(frozen=True)
class Journey:
    language: str
    language_code: str  # what the user's Telegram app says
    first_name: str
    sms: str  # the SMS as a service would send it in that language
    words: tuple[str, str]  # how the catalog says "Balance" and "Buy": not English
    then: str  # the language chosen with /language at the end


JOURNEYS = [
    Journey(
        "ar",
        "ar",
        "أحمد",
        f"رمز Telegram الخاص بك هو {CODE}. لا تشاركه مع أحد.",
        ("الرصيد", "شراء"),
        "hi",
    ),
    Journey(
        "hi",
        "hi",
        "प्रिया",
        f"आपका Telegram कोड {CODE} है। इसे किसी से साझा न करें।",
        ("बैलेंस", "खरीदें"),
        "ja",
    ),
    Journey(
        "ja",
        "ja",
        "由紀",
        f"【Telegram】認証コード：{CODE}。他の人に教えないでください。",
        ("残高", "購入"),
        "fil",
    ),
    Journey(
        "fil",
        "fil",
        "Maria",
        f"Ang iyong Telegram code ay {CODE}. Huwag itong ibahagi kahit kanino.",
        ("Balance", "Bilhin"),  # Filipino says "Balance" too
        "uk",
    ),
    Journey(
        "uk",
        "uk",
        "Олена",
        f"Ваш код Telegram: {CODE}. Нікому його не повідомляйте.",
        ("Баланс", "Купити"),
        "pl",
    ),
    Journey(
        "pl",
        "pl-PL",
        "Kasia",
        f"Twój kod Telegram to {CODE}. Nie udostępniaj go nikomu.",
        ("Saldo", "Kup"),
        "ar",
    ),
]


def _check_bare_and_aligned(t: Translator, messages: list[ChatMessage]) -> None:
    """Copies and callback data bare, ``<code>`` bare; RTL: each own line right to left."""
    for message in messages:
        assert_no_bidi_in_copy(message.reply_markup)
        assert_no_bidi_in_code(message.html or "")
        if not t.rtl:
            continue
        quoted = 0
        for line in (message.html or "").split("\n"):
            if not quoted and not line.startswith("<blockquote>"):
                assert line.startswith(RLM), f"message #{message.message_id}: {line!r}"
            quoted += line.count("<blockquote>") - line.count("</blockquote>")


async def _start_and_link(user: FakeUser, t: Translator, key: str) -> None:
    await user.send("/start")
    welcome = await user.wait_for_message()
    greeting = t._(
        "Hi, {name}! I buy temporary phone numbers on jiema.my for you and "
        "send you the SMS codes they receive."
    ).format(name=user.first_name)
    assert welcome.html is not None
    assert welcome.html.startswith(t.align(greeting))
    assert _labels(welcome) == [[t._("Link my API key")]]

    await user.press(welcome, t._("Link my API key"))
    ask = await user.wait_for_message()
    assert ask.html == t.align(
        t._(
            "Send me your jiema.my API key (it starts with <code>jm_</code>). "
            "I will delete your message at once. /cancel to stop."
        )
    )
    await user.send(key)
    linked = await user.wait_for_message()
    assert linked.html == t.align(
        t._("Key linked to <b>{name}</b>. Balance: {balance}.").format(
            name=user.first_name, balance=t.money(BALANCE)
        )
    )
    assert _labels(linked) == [[t._("Buy a number")], [t._("My orders"), t._("Balance")]]


async def _buy_and_get_the_code(
    user: FakeUser, sandbox: SandboxServer, t: Translator, key: str, sms: str
) -> dict[str, str]:
    await user.send("/buy")
    services = await user.wait_for_message(
        lambda m: m.html == t.align(t._("Choose a service, or type part of its name to search:"))
    )
    await user.press(services, "Telegram")
    countries = await user.wait_for(
        lambda m: (
            m.message_id == services.message_id
            and m.html
            == t.align(
                t._("<b>{service}</b>: choose a country, or type part of its name:").format(
                    service="Telegram"
                )
            )
        )
    )
    assert _labels(countries)[-1] == [t._("‹ Services"), t._("Cancel")]
    await user.press(countries, countries.buttons[0][0].text)
    confirm = await user.wait_for(
        lambda m: (
            m.message_id == countries.message_id
            and t._("<b>Confirm your purchase</b>") in (m.html or "")
        )
    )
    assert t._("Your balance: {balance}").format(balance=t.money(BALANCE)) in (confirm.html or "")
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
    [order] = sandbox_orders(sandbox, key)
    phone = str(order["phone"])
    assert t.ltr(f"<code>{phone}</code>") in (card.html or "")
    assert card.button(t._("Copy number")).value == phone
    assert t._("Price: {price}").format(price=t.money(int(order["chargedCents"]))) in (
        card.html or ""
    )

    sandbox.deliver_sms(order["id"], sms)
    code = await user.wait_for_message(lambda m: CODE in m.text)
    assert code.html is not None
    assert t._("Code: <code>{code}</code>").format(code=CODE) in code.html
    assert t._("SMS for {phone} ({service}):").format(phone=t.ltr(phone), service="Telegram") in (
        code.html
    )
    assert code.buttons == [[(t._("Copy code {code}").format(code=t.ltr(CODE)), CODE)]]
    assert code.buttons[0][0].kind == "copy_text"
    received = t.ngettext("{count} SMS received", "{count} SMS received", 1)
    await user.wait_for(
        lambda m: (
            m.message_id == card.message_id
            and received.format(count=t.ltr(t.number(1))) in (m.html or "")
            and t._("✅ SMS received") in m.text
        )
    )
    return order


async def _balance_and_orders(user: FakeUser, t: Translator, order: dict[str, str]) -> None:
    await user.send("/balance")
    left = BALANCE - int(order["chargedCents"])
    await user.wait_for_message(
        lambda m: m.html == t.align(t._("Balance: <b>{balance}</b>").format(balance=t.money(left)))
    )
    await user.send("/orders")
    history = await user.wait_for_message(
        lambda m: (
            m.html
            == t.align(t._("<b>Your orders</b> (page {page}):").format(page=t.ltr(t.number(1))))
        )
    )
    [[button]] = history.buttons
    assert t.ltr(str(order["phone"])) in button.text
    assert button.value is not None
    assert order["id"] in button.value


async def _switch_language(
    telegram: FakeBotApi, user: FakeUser, t: Translator, then: Translator, charged: int
) -> None:
    await user.send("/language")
    menu = await user.wait_for_message(lambda m: m.html == t.align(t._("Choose your language:")))
    assert f"✓ {LANGUAGES[t.language]}" in [label for row in _labels(menu) for label in row]
    await user.press(menu, LANGUAGES[then.language])
    await user.wait_for(
        lambda m: (
            m.message_id == menu.message_id
            and m.html == then.align(then._("Done: I will speak English with you."))
        )
    )
    chat = {"type": "chat", "chat_id": user.id}
    menu_now = await telegram.world.signal.wait_until(
        lambda: telegram.commands(chat, "") == _menu(then) or None, 10.0
    )
    assert menu_now, f"the chat's menu is still {telegram.commands(chat, '')}"
    await user.send("/start")
    welcome = await user.wait_for_message()
    assert welcome.html == then.align(
        "\n\n".join(
            [
                then._(
                    "Hi, {name}! I buy temporary phone numbers on jiema.my for you and "
                    "send you the SMS codes they receive."
                ).format(name=user.first_name),
                then._("Linked account: <b>{name}</b> · balance {balance}.").format(
                    name=user.first_name, balance=then.money(BALANCE - charged)
                ),
            ]
        )
    )
    assert _labels(welcome) == [
        [then._("Buy a number")],
        [then._("My orders"), then._("Balance")],
    ]


@pytest.mark.parametrize("journey", JOURNEYS, ids=[j.language for j in JOURNEYS])
async def test_the_whole_journey_in_the_users_language(
    bot: Deployment, telegram: FakeBotApi, sandbox: SandboxServer, journey: Journey
) -> None:
    t, then = translator(journey.language), translator(journey.then)
    assert (t._("Balance"), t._("Buy")) == journey.words
    assert t._("Buy") != "Buy"
    assert t._("Choose your language:") != "Choose your language:"
    key = sandbox.create_account(balance_cents=BALANCE, display_name=journey.first_name)
    user = telegram.user(3003, first_name=journey.first_name, language_code=journey.language_code)

    await _start_and_link(user, t, key)
    chat = {"type": "chat", "chat_id": user.id}
    if journey.language == "fil":
        # A "fil" app gets the default (English) menu, so the chat gets Filipino's at once.
        assert await _wait_for_commands(telegram, chat, "") == _menu(t)
    else:
        assert telegram.commands(chat, "") == []  # the menu for the app's language is right
    order = await _buy_and_get_the_code(user, sandbox, t, key, journey.sms)
    await _balance_and_orders(user, t, order)
    in_first_language = [m for m in user.messages if m.from_bot]
    _assert_all_in(t, in_first_language)
    _check_bare_and_aligned(t, in_first_language)

    await _switch_language(telegram, user, t, then, int(order["chargedCents"]))
    switched = [m for m in user.messages if m.from_bot][len(in_first_language) :]
    _assert_all_in(then, switched)
    _check_bare_and_aligned(then, switched)
    telegram.assert_no_errors()
