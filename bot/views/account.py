"""The account screens: /start, /help, linking and unlinking a key, balance, language,
settings."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup

from bot import keyboards
from bot.i18n import Translator
from bot.services.models import Account
from bot.views.common import Screen, esc


def welcome(
    t: Translator, name: str, account: Account | None, app_url: str | None = None
) -> Screen:
    """/start: greeting, and how to link a key when none is linked."""
    greeting = t._(
        "Hi, {name}! I buy temporary phone numbers on jiema.my for you and "
        "send you the SMS codes they receive."
    ).format(name=esc(name))
    if account is None:
        steps = t._(
            "To start, link your jiema.my API key:\n"
            "1. Open jiema.my → Account → API keys and create a key.\n"
            "2. Send /link and paste the key (it starts with <code>jm_</code>).\n"
            "I delete the message holding your key right away and keep it encrypted."
        )
        return Screen(t.align(f"{greeting}\n\n{steps}"), keyboards.main_menu(t, linked=False))
    linked = t._("Linked account: <b>{name}</b> · balance {balance}.").format(
        name=esc(account.display_name or account.id), balance=t.money(account.balance_cents)
    )
    return Screen(t.align(f"{greeting}\n\n{linked}"), keyboards.main_menu(t, True, app_url))


def help_text(t: Translator, commands: list[tuple[str, str]]) -> Screen:
    """/help: every command and one line on codes."""
    lines = [t._("<b>What I can do</b>")]
    lines += [f"{t.ltr(f'/{name}')} — {esc(description)}" for name, description in commands]
    lines.append("")
    lines.append(t._("When an SMS arrives I send you the code in a new message: tap it to copy."))
    return Screen(t.align("\n".join(lines)))


def ask_for_key(t: Translator) -> Screen:
    return Screen(
        t.align(
            t._(
                "Send me your jiema.my API key (it starts with <code>jm_</code>). "
                "I will delete your message at once. /cancel to stop."
            )
        )
    )


def not_a_key(t: Translator) -> Screen:
    return Screen(
        t.align(
            t._(
                "That doesn't look like an API key: keys start with <code>jm_</code> followed by "
                "letters and digits. Paste it again, or /cancel."
            )
        )
    )


def linked(t: Translator, account: Account, deleted: bool) -> Screen:
    text = t._("Key linked to <b>{name}</b>. Balance: {balance}.").format(
        name=esc(account.display_name or account.id), balance=t.money(account.balance_cents)
    )
    if not deleted:
        text += "\n" + t._(
            "I couldn't delete your message with the key: please delete it yourself."
        )
    return Screen(t.align(text), keyboards.main_menu(t, linked=True))


def key_refused(t: Translator) -> Screen:
    return Screen(
        t.align(
            t._(
                "jiema.my refused this key: it may be mistyped or revoked. Nothing was saved. "
                "Create a new key on jiema.my → Account → API keys and send /link again."
            )
        )
    )


def not_linked(t: Translator) -> Screen:
    return Screen(
        t.align(t._("First link your jiema.my API key with /link.")),
        keyboards.main_menu(t, linked=False),
    )


def key_unreadable(t: Translator) -> Screen:
    """The stored key cannot be decrypted right now (the operator's configuration)."""
    return Screen(
        t.align(
            t._(
                "I can't read your saved API key right now. The operator has been told. "
                "Please try again later, or link your key again with /link."
            )
        ),
        keyboards.main_menu(t, linked=True),
    )


def forget_confirm(t: Translator) -> Screen:
    """/forget: what goes, before anything does."""
    text = t._(
        "This erases everything I keep about you: your API key, your orders and their codes, "
        "favourites, alerts and settings. It can't be undone. Erase everything?"
    )
    return Screen(t.align(text), keyboards.forget(t))


def forget_refused(t: Translator) -> Screen:
    return Screen(
        t.align(
            t._(
                "You have an order in progress. When it has ended (or you cancel it), "
                "send /forget again."
            )
        )
    )


def forgotten(t: Translator) -> Screen:
    return Screen(
        t.align(
            t._("Done: I erased everything I kept about you. Send /start to begin again any time.")
        )
    )


def kept_data(t: Translator) -> Screen:
    return Screen(t.align(t._("OK, nothing was erased.")))


def unlink_confirm(t: Translator, active: int) -> Screen:
    text = t.ngettext(
        "You have {count} active order. If you unlink, I stop watching it and won't send "
        "its codes. Unlink anyway?",
        "You have {count} active orders. If you unlink, I stop watching them and won't send "
        "their codes. Unlink anyway?",
        active,
    ).format(count=active)
    return Screen(t.align(text), keyboards.unlink(t))


def unlinked(t: Translator) -> Screen:
    return Screen(
        t.align(t._("Your key is unlinked and erased. Link one again any time with /link."))
    )


def kept_key(t: Translator) -> Screen:
    return Screen(t.align(t._("OK, your key stays linked.")))


def balance(t: Translator, account: Account, site_url: str) -> Screen:
    """``/balance``, with the "Top up on jiema.my" link."""
    return Screen(
        t.align(t._("Balance: <b>{balance}</b>").format(balance=t.money(account.balance_cents))),
        InlineKeyboardMarkup([keyboards.topup(t, site_url)]),
    )


def key_revoked(t: Translator) -> Screen:
    return Screen(
        t.align(
            t._(
                "jiema.my no longer accepts your API key (revoked?). I stopped watching your "
                "orders. Link a new key with /link."
            )
        )
    )


def language_menu(t: Translator) -> Screen:
    return Screen(t.align(t._("Choose your language:")), keyboards.languages(t.language))


def language_set(t: Translator) -> Screen:
    # TRANSLATORS: shown in the language just chosen: name your own language, not English.
    return Screen(t.align(t._("Done: I will speak English with you.")))


def settings(
    t: Translator, muted: bool, auto_replace: bool = False, replace_after: float = 5.0
) -> Screen:
    """/settings: announcements on or off (codes and order messages always come), and
    whether new purchases replace a number that gets no SMS in ``replace_after`` minutes."""
    state = t._("off") if muted else t._("on")
    text = t._(
        "<b>Settings</b>\nAnnouncements from the bot's operator: {state}.\n"
        "Codes and order updates always reach you."
    ).format(state=state)
    replace = t._("A number that gets no SMS within {duration} is refunded and replaced.").format(
        duration=t.duration(replace_after * 60)
    )
    switch = keyboards.auto_replace_label(t, auto_replace)
    return Screen(
        t.align(f"{text}\n\n{switch}\n{replace}"), keyboards.settings(t, muted, auto_replace)
    )


def announcements_muted(t: Translator) -> str:
    """The answer to the Mute button (a short note, at most 200 characters)."""
    return t._("Announcements muted. /settings turns them back on. Codes are not affected.")
