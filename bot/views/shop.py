"""The shop's screens: services, countries, the purchase confirmation, favourites, alerts,
the alternatives to a sold-out country and the top-up link."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from telegram import InlineKeyboardMarkup

from bot import keyboards
from bot.i18n import Translator
from bot.services import errors
from bot.services.alerts import Alternatives, Watching
from bot.services.catalog import Offer
from bot.services.favourites import Added as FavouriteAdded
from bot.services.favourites import FavouriteOffer, ToggleOutcome
from bot.services.favourites import Full as FavouritesFull
from bot.services.favourites import Removed as FavouriteRemoved
from bot.services.models import Alert, Service
from bot.services.purchases import PriceRose, Quote
from bot.services.rates import NO_RATES, Rate
from bot.services.topup import RunningLow
from bot.views.common import Screen, api_error, country_label, esc


def services(
    t: Translator,
    items: list[Service],
    page: int,
    query: str | None,
    app_url: str | None = None,
    favourites: Sequence[FavouriteOffer] = (),
) -> Screen:
    """A page of services, optionally filtered by what the user typed, with the user's
    ``favourites`` on top (one tap each to the confirmation)."""
    page = keyboards.clamp_page(page, len(items), keyboards.SERVICES_PER_PAGE)
    if query and not items:
        text = t._("No service matches “{query}”. Type another name.").format(query=esc(query))
    elif query:
        text = t._("Services matching “{query}”:").format(query=esc(query))
    else:
        text = t._("Choose a service, or type part of its name to search:")
    markup = keyboards.services(t, items, page, app_url)
    if favourites:
        picks = keyboards.favourite_picks(_favourite_items(t, favourites))
        markup = keyboards.extended(markup, top=picks)
    return Screen(t.align(text), markup)


def countries(
    t: Translator,
    service: Service,
    offers: list[Offer],
    page: int,
    query: str | None,
    rates: Mapping[str, Rate] = NO_RATES,
) -> Screen:
    """A page of countries: flag, name, price and stock (or delivery rate, where there is
    one), cheapest first; the sold-out countries listed last and marked."""
    page = keyboards.clamp_page(page, len(offers), keyboards.COUNTRIES_PER_PAGE)
    name = esc(service.name)
    # "None anywhere" only when nothing is in stock and nothing was searched; a search that
    # found only sold-out countries still found some.
    if not query and not any(o.count > 0 for o in offers):
        text = t._(
            "<b>{service}</b>: no numbers in stock anywhere right now. Pick another service."
        ).format(service=name)
    elif query and not offers:
        text = t._("<b>{service}</b>: no country matches “{query}”. Type another name.").format(
            service=name, query=esc(query)
        )
    else:
        text = t._("<b>{service}</b>: choose a country, or type part of its name:").format(
            service=name
        )
    # Only the page shown is formatted: number formatting for every country (up to ~190)
    # was most of the cost of a country screen (bench.throughput --profile).
    first = page * keyboards.COUNTRIES_PER_PAGE
    shown = offers[first : first + keyboards.COUNTRIES_PER_PAGE]
    labels: list[tuple[int, str]] = [(o.country_id, "") for o in offers]
    for i, offer in enumerate(shown, start=first):
        if offer.count > 0:
            label = _country_button(t, offer, rates.get(str(offer.country_id)))
        else:
            label = _sold_out_button(t, offer)
        labels[i] = (offer.country_id, label)
    return Screen(t.align(text), keyboards.countries(t, service.code, labels, page))


def _country_button(t: Translator, offer: Offer, rate: Rate | None = None) -> str:
    if rate is not None:
        # TRANSLATORS: a country button; {rate} is the share of recent orders there that
        # got an SMS, e.g. "92%" (after 📩, an envelope with an arrow).
        return t._("{country} · {price} · 📩 {rate}").format(
            country=country_label(t, offer.slug, offer.name),
            price=t.money(offer.price_cents),
            rate=rate_label(t, rate),
        )
    # TRANSLATORS: a country button; {count} is how many numbers are in stock there.
    return t.ngettext(
        "{country} · {price} · {count} left", "{country} · {price} · {count} left", offer.count
    ).format(
        country=country_label(t, offer.slug, offer.name),
        price=t.money(offer.price_cents),
        count=t.number(offer.count),
    )


def rate_label(t: Translator, rate: Rate) -> str:
    """A delivery rate as a label: ``92%``, marked ``⚠️ 40%`` when poor."""
    shown = t.percent(rate.percent)
    return f"⚠️ {shown}" if rate.poor else shown


def rate_sentence(t: Translator, rate: Rate) -> str:
    """A delivery rate in a sentence: how many recent orders got an SMS, and how soon."""
    percent = t.percent(rate.percent)
    if rate.typical_seconds is None:
        text = t._("{percent} of recent orders here got an SMS.").format(percent=percent)
    else:
        # TRANSLATORS: {wait} is a localized duration such as "45 seconds" or "2 minutes".
        text = t._("{percent} of recent orders here got an SMS, usually within {wait}.").format(
            percent=percent, wait=t.duration(rate.typical_seconds)
        )
    return f"⚠️ {text}" if rate.poor else text


def _sold_out_button(t: Translator, offer: Offer) -> str:
    # TRANSLATORS: a country button for a country without numbers right now.
    return t._("{country} · sold out").format(country=country_label(t, offer.slug, offer.name))


def confirmation(
    t: Translator, quote: Quote, site_url: str, rose_from: int | None = None
) -> Screen:
    """Price, delivery rate, balance, the single-use Buy button (or why it is missing and
    the top-up link) and the ★ toggle; first, when the price went up after the confirmation
    the user pressed Buy on (``rose_from``, in cents), that it did and nothing was paid."""
    service, offer, account = quote.service, quote.offer, quote.account
    lines = [] if rose_from is None else [price_rose_text(t, rose_from, offer.price_cents), ""]
    lines += [
        t._("<b>Confirm your purchase</b>"),
        t._("Service: {service}").format(service=esc(service.name)),
        t._("Country: {country}").format(country=country_label(t, offer.slug, offer.name)),
        t._("Price: <b>{price}</b>").format(price=t.money(offer.price_cents)),
        t._("Your balance: {balance}").format(balance=t.money(account.balance_cents)),
    ]
    if quote.rate is not None:
        lines.insert(-1, rate_sentence(t, quote.rate))
    affordable = quote.affordable
    if affordable:
        lines.append(
            t._("Tap Buy to get a number. You can cancel for a full refund until an SMS arrives.")
        )
    else:
        lines.append(t._("Not enough balance: top up on jiema.my, then come back."))
    markup = keyboards.confirm(t, service.code, quote.purchase.token if affordable else None)
    rows = [keyboards.favourite_toggle(t, service.code, offer.country_id, quote.favourite)]
    if affordable:
        token = quote.purchase.token
        rows.insert(0, keyboards.auto_replace_quote(t, token, quote.purchase.auto_replace))
    else:
        rows.insert(0, keyboards.topup(t, site_url))
    return Screen(t.align("\n".join(lines)), keyboards.extended(markup, above_last=rows))


def price_rose_text(t: Translator, old_cents: int, new_cents: int) -> str:
    """The price went up between the confirmation and Buy: nothing was paid."""
    return t._("⚠️ The price went up from {old} to {new}; you have not paid anything.").format(
        old=t.money(old_cents), new=t.money(new_cents)
    )


def price_rose(t: Translator, rose: PriceRose, site_url: str) -> Screen:
    """After Buy: the price had gone up, so nothing was bought; the new price to confirm."""
    if not isinstance(rose.quote, Quote):
        return Screen(t.align(offer_gone(t)))
    return confirmation(t, rose.quote, site_url, rose_from=rose.confirmed_cents)


def service_gone(t: Translator) -> str:
    """Callback answer (or message) when the API no longer lists the service."""
    return t._("This service isn't available any more.")


def offer_gone(t: Translator) -> str:
    """Callback answer when the picked country has no stock any more."""
    return t._("No numbers left for this country right now. Pick another country.")


def purchase_failed(
    t: Translator, exc: errors.JiemaError, service: str | None, site_url: str
) -> Screen:
    """The API refused the purchase: why, a way back to the countries and, when the balance
    was short, the top-up link."""
    markup = keyboards.confirm(t, service, None) if service else None
    if isinstance(exc, errors.InsufficientBalanceError):
        markup = keyboards.extended(markup, top=[keyboards.topup(t, site_url)])
    return Screen(t.align(api_error(t, exc)), markup)


def buying(t: Translator) -> Screen:
    """Shown while the order is being created (the Buy button is gone at once)."""
    return Screen(t.align(t._("⏳ Buying your number…")))


def purchase_used(t: Translator) -> str:
    """Callback answer for a Buy button that was already used."""
    return t._("This button was already used. Each confirmation buys once.")


def purchase_unconfirmed(t: Translator) -> Screen:
    return Screen(
        t.align(
            t._(
                "jiema.my did not answer in time, so I can't tell yet whether the number was "
                "bought. I didn't try again, to avoid paying twice. It isn't in your order list "
                "so far; if it shows up there, I will send its card here. Check /orders or your "
                "balance."
            )
        )
    )


def purchase_not_made(t: Translator) -> Screen:
    """The end of an unconfirmed purchase: long enough later, it is not in the order list."""
    return Screen(
        t.align(
            t._(
                "About the purchase I couldn't confirm: it still isn't in your jiema.my order list "
                "after 10 minutes, so no number was bought. /buy to try again."
            )
        )
    )


def _pair_label(t: Translator, service_name: str, slug: str, fallback: str) -> str:
    """ "Telegram · 🇲🇾 Malaysia" for a button (plain text: not HTML-escaped)."""
    return f"{service_name} · {country_label(t, slug, fallback)}"


def _favourite_button(t: Translator, item: FavouriteOffer) -> str:
    fav = item.favourite
    pair = _pair_label(t, fav.service_name, fav.country_slug, fav.country_slug.upper())
    if item.offer is None:
        return f"★ {pair}"
    if item.offer.count <= 0:
        # TRANSLATORS: a favourite (service · country) whose country has no numbers now.
        return t._("★ {pair} · sold out").format(pair=pair)
    # TRANSLATORS: a favourite button; {count} is how many numbers are in stock there.
    return t.ngettext(
        "★ {pair} · {price} · {count} left", "★ {pair} · {price} · {count} left", item.offer.count
    ).format(pair=pair, price=t.money(item.offer.price_cents), count=t.number(item.offer.count))


def _favourite_items(t: Translator, items: Sequence[FavouriteOffer]) -> list[tuple[str, int, str]]:
    return [
        (i.favourite.service, int(i.favourite.country_id), _favourite_button(t, i))
        for i in items
        if i.favourite.country_id.isdigit()
    ]


def favourite_toggled(t: Translator, outcome: ToggleOutcome) -> str:
    """Callback answer after ★."""
    match outcome:
        case FavouriteAdded():
            return t._("★ Saved to your favourites: it's first in /buy.")
        case FavouriteRemoved():
            return t._("Removed from your favourites.")
        case FavouritesFull(limit):
            return t.ngettext(
                "You already have {count} favourite: remove one in /favourites first.",
                "You already have {count} favourites: remove one in /favourites first.",
                limit,
            ).format(count=limit)
    return t._("This isn't offered any more, so I can't save it.")


def favourites_list(t: Translator, items: list[FavouriteOffer]) -> Screen:
    """``/favourites``: each favourite opens its confirmation; ✕ removes it."""
    if not items:
        return Screen(
            t.align(
                t._(
                    "You have no favourites yet. Tap ☆ on a purchase confirmation or ★ on an "
                    "order to save its service and country here."
                )
            ),
            keyboards.main_menu(t, linked=True),
        )
    text = t._("<b>Your favourites</b>: tap one to buy it, ✕ to remove it.")
    return Screen(t.align(text), keyboards.favourites_list(t, _favourite_items(t, items)))


def alternatives(t: Translator, alts: Alternatives) -> Screen:
    """A sold-out country: the cheapest ones with numbers, and Notify me."""
    place = country_label(t, alts.place.slug, alts.place.name)
    lines = [
        t._("<b>{service}</b>: no numbers left in {country} right now.").format(
            service=esc(alts.service.name), country=place
        )
    ]
    if alts.offers:
        lines.append(t._("These countries have numbers:"))
    else:
        lines.append(t._("No other country has numbers for it right now either."))
    if alts.watching:
        lines.append(t._("I'll tell you when {country} has numbers again.").format(country=place))
    else:
        lines.append(
            t._("Tap “Notify me” and I'll tell you once when {country} has numbers again.").format(
                country=place
            )
        )
    items = [
        (o.country_id, _country_button(t, o, alts.rates.get(str(o.country_id))))
        for o in alts.offers
    ]
    markup = keyboards.alternatives(
        t, alts.service.code, alts.place.country_id, items, alts.watching
    )
    return Screen(t.align("\n".join(lines)), markup)


def watching(t: Translator, outcome: Watching, hours: float) -> str:
    """Callback answer after "Notify me"."""
    alert = outcome.alert
    country = t.country(alert.country_slug, alert.country_slug.upper() or alert.country_id)
    hours_shown = max(1, round(hours))
    return t.ngettext(
        "🔔 OK: I'll tell you when {service} has numbers in {country} (for the next {count} "
        "hour). /alerts to see or cancel.",
        "🔔 OK: I'll tell you when {service} has numbers in {country} (for the next {count} "
        "hours). /alerts to see or cancel.",
        hours_shown,
    ).format(service=alert.service_name, country=country, count=hours_shown)


def too_many_alerts(t: Translator, limit: int) -> str:
    """Callback answer when "Notify me" is refused."""
    return t.ngettext(
        "You already have {count} alert waiting: cancel one in /alerts first.",
        "You already have {count} alerts waiting: cancel one in /alerts first.",
        limit,
    ).format(count=limit)


def alerts_list(t: Translator, alerts: list[Alert], now: datetime | None = None) -> Screen:
    """``/alerts``: every waiting alert, each with a ✕ to cancel it."""
    if not alerts:
        return Screen(
            t.align(
                t._(
                    "You have no alerts. When a country is sold out, tap “Notify me” and I'll "
                    "tell you when it has numbers again."
                )
            )
        )
    now = now or datetime.now(UTC)
    items = []
    for alert in alerts:
        pair = _pair_label(t, alert.service_name, alert.country_slug, alert.country_slug.upper())
        left = t._("{duration} left").format(
            duration=t.duration(max(60.0, (alert.expires_at - now).total_seconds()))
        )
        items.append((alert.id, f"{pair} · {left}"))
    text = t._("<b>Your alerts</b>: I'll tell you once when these have numbers. ✕ cancels one.")
    return Screen(t.align(text), keyboards.alerts_list(t, items))


def alert_cancelled(t: Translator) -> str:
    """Callback answer after ✕ on an alert."""
    return t._("Alert cancelled.")


def back_in_stock(t: Translator, alert: Alert, offer: Offer) -> Screen:
    """The alert itself: the pair has numbers again, at this price; Buy opens the confirmation."""
    text = t._(
        "🔔 <b>{service}</b> has numbers in {country} again: {price}, {count} left. "
        "Tap Buy to see the confirmation."
    ).format(
        service=esc(alert.service_name),
        country=country_label(t, offer.slug, offer.name),
        price=t.money(offer.price_cents),
        count=t.ltr(t.number(offer.count)),
    )
    return Screen(t.align(text), keyboards.back_in_stock(t, alert.service, offer.country_id))


def running_low_text(t: Translator, low: RunningLow) -> str:
    """After a purchase that leaves less than its price: the heads-up's words (the Mini App
    shows them under the new order)."""
    return t._(
        "Heads-up: your balance is now {balance}, less than this number cost ({price}). "
        "Top up on jiema.my to buy the next one."
    ).format(balance=t.money(low.balance_cents), price=t.money(low.price_cents))


def running_low(t: Translator, low: RunningLow, site_url: str) -> Screen:
    """The heads-up in the chat, once a day, with the top-up link."""
    text = running_low_text(t, low)
    return Screen(t.align(text), InlineKeyboardMarkup([keyboards.topup(t, site_url)]))
