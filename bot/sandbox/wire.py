"""The JSON shapes of the API: the one place that knows the spec's field names.

Money is a string of integer cents everywhere except ``minCostUsd`` (a float of
dollars); times are ISO-8601 UTC with milliseconds and ``Z``.
"""

from __future__ import annotations

from typing import Any

from bot.sandbox.catalogue import Catalogue, Service
from bot.sandbox.clock import iso_ms
from bot.sandbox.engine import Account, Order, OrderView

Json = dict[str, Any]


def account_json(account: Account) -> Json:
    return {
        "id": account.id,
        "balanceCents": str(account.balance_cents),
        "referralCode": account.referral_code,
        "displayName": account.display_name,
        "lang": account.lang,
    }


def services_json(catalogue: Catalogue) -> Json:
    """Every service; count and minimum price are over the countries in stock."""
    items = []
    for service in catalogue.services:
        offers = catalogue.offers(service)
        in_stock = [offer for offer in offers if offer.stock > 0]
        cheapest = min(offer.price_cents for offer in in_stock or offers)
        items.append(
            {
                "code": service.code,
                "slug": service.slug,
                "name": service.name,
                "minCostUsd": round(cheapest / 100, 2),
                "totalCount": sum(offer.stock for offer in in_stock),
                "countryCount": len(in_stock),
            }
        )
    return {"items": items}


def countries_json(catalogue: Catalogue) -> Json:
    return {"items": [{"id": c.id, "slug": c.slug, "name": c.name} for c in catalogue.countries]}


def prices_json(catalogue: Catalogue, service: Service) -> Json:
    """Every country of a service, sold-out ones included (``count`` 0)."""
    items = []
    for offer in catalogue.offers(service):
        country = catalogue.countries[offer.country_id]
        items.append(
            {
                "countryId": country.id,
                "countrySlug": country.slug,
                "priceCents": str(offer.price_cents),
                "count": offer.stock,
            }
        )
    return {"service": service.code, "items": items}


def order_json(view: OrderView) -> Json:
    """An order as every API endpoint shows it."""
    order = view.order
    last = view.sms[-1] if view.sms else None
    return {
        "id": order.id,
        "status": view.status.value,
        "service": order.service.code,
        "country": str(order.country.id),
        "phone": order.phone,
        "expiresAt": iso_ms(order.expires_at),
        "chargedCents": str(order.charged_cents),
        "smsBody": last.body if last else None,
        "smsHistory": [{"body": s.body, "receivedAt": iso_ms(s.received_at)} for s in view.sms],
        "smsReceivedAt": iso_ms(last.received_at) if last else None,
        "createdAt": iso_ms(order.created_at),
    }


def order_snapshot_json(order: Order) -> Json:
    """The full truth about an order, for tests: raw POSIX times next to ISO ones."""
    return {
        "id": order.id,
        "accountId": order.account_id,
        "status": order.status.value,
        "service": order.service.code,
        "country": order.country.slug,
        "countryId": order.country.id,
        "phone": order.phone,
        "chargedCents": str(order.charged_cents),
        "refundedCents": str(order.refunded_cents),
        "createdAt": order.created_at,
        "expiresAt": order.expires_at,
        "smsDueAt": order.sms_due_at,
        "sms": [
            {"body": s.body, "receivedAt": s.received_at, "receivedAtIso": iso_ms(s.received_at)}
            for s in order.sms
        ],
        "history": [{"status": status.value, "at": at} for at, status in order.history],
    }
