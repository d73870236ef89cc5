"""The JSON shapes of the Mini App's view models: everything the page shows, nothing it
must not (nothing of the user's key, nothing of another user).

Pure functions of a translator and a service result; the decisions (what the user may do
with an order, whether a quote is affordable) come from the services, not from here.
"""

from __future__ import annotations

import functools
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from babel import Locale

from bot import views
from bot.i18n import Translator, flag, get_translator
from bot.services.alerts import Alternatives
from bot.services.browse import Countries
from bot.services.catalog import Offer
from bot.services.favourites import FavouriteOffer
from bot.services.miniapp import OrderState, Profile, Purchased
from bot.services.models import Alert, Order, Service
from bot.services.purchases import Quote
from bot.services.rates import Rate, best_chance
from bot.sms import extract_code
from bot.webapp.texts import page_texts, plain


def direction(language: str) -> str:
    """ "rtl" for right-to-left languages (Arabic, Persian, …), else "ltr"."""
    return "rtl" if Locale.parse(language).character_order == "right-to-left" else "ltr"


def _cents_from_dollars(value: Decimal | None) -> int | None:
    """``minCostUsd`` (dollars, exact as Decimal) in whole cents, rounded half up."""
    if value is None:
        return None
    return int((value * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


@functools.lru_cache(maxsize=8192)
def _money(language: str, cents: int) -> str:
    """Formatted money, memoised: 700 services priced per catalogue read would cost ~20 ms."""
    return get_translator(language).money(cents)


def _country(t: Translator, slug: str, fallback: str) -> dict[str, str]:
    return {"slug": slug, "flag": flag(slug), "name": t.country(slug, fallback)}


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def session_json(profile: Profile) -> dict[str, Any]:
    """Who opened the page, in which language and direction, with the page's texts."""
    t = get_translator(profile.language)
    account = profile.account
    return {
        "user": {"id": profile.user.id, "first_name": profile.user.first_name},
        "language": profile.language,
        "direction": direction(profile.language),
        "texts": page_texts(t),
        "linked": profile.linked,
        "balance": None
        if account is None
        else {"cents": account.balance_cents, "text": t.money(account.balance_cents)},
    }


def service_json(t: Translator, service: Service) -> dict[str, Any]:
    cents = _cents_from_dollars(service.min_cost_usd)
    return {
        "code": service.code,
        "name": service.name,
        "price_cents": cents,
        "price": None if cents is None else _money(t.language, cents),
        "stock": service.total_count,
    }


@functools.lru_cache(maxsize=4096)
def _rate_label(language: str, rate: Rate) -> str:
    """A country row's rate (``92%``), memoised: a list can rate ~200 countries."""
    return views.rate_label(get_translator(language), rate)


def offer_json(
    t: Translator, offer: Offer, rate: Rate | None = None, chance: int | None = None
) -> dict[str, Any]:
    """A country's offer; ``rate`` its delivery rate, ``chance`` its place in the "best
    chance" order (:func:`bot.services.rates.best_chance`)."""
    return {
        "id": offer.country_id,
        **_country(t, offer.slug, offer.name),
        "price_cents": offer.price_cents,
        "price": _money(t.language, offer.price_cents),
        "count": offer.count,
        "sold_out": offer.count <= 0,
        "rate": None
        if rate is None
        else {"label": _rate_label(t.language, rate), "poor": rate.poor},
        "chance": chance,
    }


def countries_json(t: Translator, found: Countries) -> dict[str, Any]:
    rates = found.rates
    chance = {o.country_id: i for i, o in enumerate(best_chance(found.offers, rates))}
    return {
        "service": {"code": found.service.code, "name": found.service.name},
        "countries": [
            offer_json(t, o, rates.get(str(o.country_id)), chance[o.country_id])
            for o in found.offers
        ],
    }


def quote_json(t: Translator, quote: Quote) -> dict[str, Any]:
    """The confirmation: the single-use token only when the balance covers the price."""
    price, balance = quote.offer.price_cents, quote.account.balance_cents
    return {
        "token": quote.purchase.token if quote.affordable else None,
        "service": {"code": quote.service.code, "name": quote.service.name},
        "country": {
            "id": quote.offer.country_id,
            **_country(t, quote.offer.slug, quote.offer.name),
        },
        "price_cents": price,
        "price": t.money(price),
        "balance_cents": balance,
        "balance": t.money(balance),
        "affordable": quote.affordable,
        "rate": None if quote.rate is None else _rate_json(t, quote.rate),
        "auto_replace": auto_replace_json(t, quote.purchase.auto_replace)
        if quote.affordable
        else None,
    }


def _rate_json(t: Translator, rate: Rate) -> dict[str, Any]:
    """The confirmation's rate: in a sentence, as the chat says it."""
    return {
        "label": t.percent(rate.percent),
        "text": views.rate_sentence(t, rate),
        "poor": rate.poor,
    }


def order_json(t: Translator, state: OrderState) -> dict[str, Any]:
    """The order screen's data: everything the page shows, nothing it must not."""
    order = state.order
    codes = [
        {
            "position": d.position,
            "code": extract_code(d.body),
            "body": d.body,
            "received_at": _iso(d.received_at),
        }
        for d in state.deliveries
    ]
    refunded = state.refunded_cents
    return {
        "id": order.id,
        "phone": order.phone,
        "service": order.service,
        "service_name": order.service_name,
        "country_id": order.country_id,
        "country": _country(t, order.country_slug, order.country_slug.upper() or order.country_id),
        "price_cents": order.charged_cents,
        "price": _money(t.language, order.charged_cents),
        "status": order.status,
        "status_text": plain(views.status_text(t, order.status)),
        "expires_at": _iso(order.expires_at),
        "final": order.is_final,
        "can_cancel": state.can_cancel,
        "can_next_sms": state.can_next_sms,
        "auto_replace": auto_replace_json(t, order.auto_replace)
        if state.can_switch_replace
        else None,
        "refunded": None if refunded is None else _money(t.language, refunded),
        "codes": codes,
    }


def purchased_json(t: Translator, purchased: Purchased) -> dict[str, Any]:
    """The new order's screen, with the after-purchase heads-up (None: nothing to say)."""
    low = purchased.running_low
    heads_up = None if low is None else plain(views.running_low_text(t, low))
    return {**order_json(t, purchased.state), "heads_up": heads_up}


def auto_replace_json(t: Translator, on: bool) -> dict[str, Any]:
    """The 🔁 switch of a confirmation or a waiting order: its state, its label, and the
    path a tap posts to, relative to ``quote/`` or the order's ``orders/<id>/``."""
    return {
        "on": on,
        "label": plain(views.auto_replace_label(t, on)),
        "path": f"auto-replace?on={'false' if on else 'true'}",
    }


def history_json(t: Translator, order: Order, names: dict[str, str]) -> dict[str, Any]:
    return {
        "id": order.id,
        "service": order.service,
        "service_name": names.get(order.service or "", order.service or "?"),
        "phone": order.phone,
        "status": order.status,
        "status_text": plain(views.status_text(t, order.status)),
        "price": None if order.charged_cents is None else _money(t.language, order.charged_cents),
        "created_at": _iso(order.created_at),
        "when": t.datetime(order.created_at, style="short") if order.created_at else None,
    }


def favourite_json(t: Translator, item: FavouriteOffer) -> dict[str, Any]:
    """A favourite shaped like a country offer (``price`` None: the API no longer prices it)."""
    fav, offer = item.favourite, item.offer
    return {
        "service": fav.service,
        "service_name": fav.service_name,
        "id": int(fav.country_id),
        **_country(t, fav.country_slug, fav.country_slug.upper()),
        "price": None if offer is None else _money(t.language, offer.price_cents),
        "count": 0 if offer is None else offer.count,
        "sold_out": not item.in_stock,
    }


def alternatives_json(t: Translator, alts: Alternatives) -> dict[str, Any]:
    """A sold-out country: the chat's words, the cheapest countries with stock, the alert."""
    return {
        "text": plain(views.alternatives(t, alts).text),
        "service": {"code": alts.service.code, "name": alts.service.name},
        "country": {
            "id": alts.place.country_id,
            **_country(t, alts.place.slug, alts.place.name),
        },
        "offers": [offer_json(t, o, alts.rates.get(str(o.country_id))) for o in alts.offers],
        "watching": alts.watching,
    }


def alert_json(t: Translator, alert: Alert, now: datetime) -> dict[str, Any]:
    """An alert as ``/alerts`` labels it: "WhatsApp · 🇲🇾 Malaysia · 23 hours left"."""
    duration = t.duration(max(60.0, (alert.expires_at - now).total_seconds()))
    left = t._("{duration} left").format(duration=duration)
    country = views.country_label(t, alert.country_slug, alert.country_slug.upper())
    return {
        "id": alert.id,
        "service": alert.service,
        "service_name": alert.service_name,
        "country": _country(t, alert.country_slug, alert.country_slug.upper()),
        "expires_at": _iso(alert.expires_at),
        "label": f"{alert.service_name} · {country} · {left}",
    }
