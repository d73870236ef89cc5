"""The catalogue: services, the countries each is sold in, prices and stock.

It is generated from a seed so every run with the same seed sees the same
catalogue, at the scale of the real service: about 700 services (well-known
ones first, then made-up names) over about 200 countries.
"""

from __future__ import annotations

import itertools
import random
import string
from dataclasses import dataclass

from bot.sandbox.countries import Country, all_countries

SERVICE_COUNT = 700
"""Number of services in a generated catalogue."""

# code, slug, name, base price in cents, number of countries it is sold in.
_REAL_SERVICES: tuple[tuple[str, str, str, int, int], ...] = (
    ("tg", "telegram", "Telegram", 20, 160),
    ("wa", "whatsapp", "WhatsApp", 25, 175),
    ("go", "google", "Google", 12, 170),
    ("fb", "facebook", "Facebook", 10, 150),
    ("ig", "instagram", "Instagram", 10, 140),
    ("tw", "twitter", "X (Twitter)", 9, 120),
    ("lf", "tiktok", "TikTok", 8, 130),
    ("ds", "discord", "Discord", 9, 110),
    ("mm", "microsoft", "Microsoft", 8, 120),
    ("am", "amazon", "Amazon", 11, 100),
    ("ub", "uber", "Uber", 9, 90),
    ("vi", "viber", "Viber", 6, 100),
    ("wb", "wechat", "WeChat", 45, 80),
    ("wx", "apple", "Apple", 12, 110),
    ("nf", "netflix", "Netflix", 7, 70),
    ("dr", "openai", "OpenAI", 14, 120),
    ("sn", "snapchat", "Snapchat", 6, 90),
    ("tn", "linkedin", "LinkedIn", 10, 90),
    ("oi", "tinder", "Tinder", 12, 90),
    ("ts", "paypal", "PayPal", 15, 80),
    ("bw", "signal", "Signal", 10, 100),
    ("mb", "yahoo", "Yahoo", 5, 90),
    ("kt", "kakaotalk", "KakaoTalk", 30, 40),
    ("me", "line", "LINE", 18, 50),
    ("qq", "qq", "Tencent QQ", 30, 40),
    ("ka", "shopee", "Shopee", 8, 30),
    ("dl", "lazada", "Lazada", 7, 20),
    ("jg", "grab", "Grab", 9, 25),
    ("ni", "gojek", "Gojek", 8, 15),
    ("hw", "alipay", "Alipay", 35, 40),
    ("ab", "alibaba", "Alibaba", 10, 60),
    ("hx", "aliexpress", "AliExpress", 6, 80),
    ("ep", "temu", "Temu", 7, 70),
    ("dh", "ebay", "eBay", 8, 60),
    ("mt", "steam", "Steam", 9, 90),
    ("hb", "twitch", "Twitch", 6, 90),
    ("bz", "blizzard", "Blizzard", 10, 60),
    ("bn", "binance", "Binance", 25, 90),
    ("cw", "coinbase", "Coinbase", 30, 60),
    ("ij", "revolut", "Revolut", 30, 40),
    ("ew", "wise", "Wise", 25, 50),
    ("ac", "doordash", "DoorDash", 10, 20),
    ("tx", "bolt", "Bolt", 7, 60),
    ("rl", "indrive", "inDrive", 6, 50),
    ("nz", "foodpanda", "foodpanda", 6, 30),
    ("ba", "airbnb", "Airbnb", 10, 80),
    ("sp", "spotify", "Spotify", 5, 90),
    ("zh", "zalo", "Zalo", 12, 15),
    ("nv", "naver", "Naver", 30, 30),
    ("ya", "yandex", "Yandex", 8, 40),
    ("vk", "vk", "VK", 15, 50),
    ("av", "avito", "Avito", 10, 20),
    ("qv", "badoo", "Badoo", 5, 80),
    ("mo", "bumble", "Bumble", 12, 60),
    ("vz", "hinge", "Hinge", 12, 40),
    ("kc", "vinted", "Vinted", 8, 30),
    ("pm", "aol", "AOL", 4, 50),
    ("pr", "proton", "Proton Mail", 10, 70),
    ("zm", "zoom", "Zoom", 6, 70),
    ("bl", "bigo", "BIGO LIVE", 5, 60),
)

_WELL_KNOWN = frozenset(code for code, *_ in _REAL_SERVICES)

_SYLLABLES = (
    "zel", "vor", "qua", "nix", "lum", "tro", "bel", "kai", "mor", "pex", "ryo", "sol",
    "tav", "vex", "yar", "zen", "dro", "fli", "gar", "hul", "ori", "pla", "sen", "tik",
)  # fmt: skip
_SUFFIXES = (
    "ly", "io", "go", "pay", "chat", "mart", "bet", "hub", "app", "ify", "ster", "box",
    "net", "kit", "cash", "ride", "food", "play", "date", "link", "mail", "shop", "coin",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Service:
    """Something a verification number can be rented for."""

    code: str
    slug: str
    name: str


@dataclass(slots=True)
class Offer:
    """A service sold in one country: its price and how many numbers are left."""

    service: str
    country_id: int
    price_cents: int
    stock: int


class Catalogue:
    """Services, countries and offers, with look-ups by code, slug or id."""

    def __init__(
        self, services: list[Service], countries: tuple[Country, ...], offers: list[Offer]
    ) -> None:
        self.services = services
        self.countries = countries
        self._services_by_ident = {s.code: s for s in services} | {s.slug: s for s in services}
        self._countries_by_ident: dict[str, Country] = {c.slug: c for c in countries}
        self._countries_by_ident |= {str(c.id): c for c in countries}
        self._offers = {(o.service, o.country_id): o for o in offers}
        self._offers_by_service: dict[str, list[Offer]] = {s.code: [] for s in services}
        for offer in sorted(offers, key=lambda o: o.country_id):
            self._offers_by_service[offer.service].append(offer)

    def service(self, ident: str) -> Service | None:
        """Finds a service by code or slug (case-insensitive)."""
        return self._services_by_ident.get(ident.strip().lower())

    def country(self, ident: int | str) -> Country | None:
        """Finds a country by numeric id (int or digits) or slug (case-insensitive)."""
        return self._countries_by_ident.get(str(ident).strip().lower())

    def offers(self, service: Service) -> list[Offer]:
        """Every offer of a service, including sold-out ones, by country id."""
        return self._offers_by_service[service.code]

    def offer(self, service: Service, country: Country) -> Offer | None:
        """The offer of a service in a country, if it is sold there."""
        return self._offers.get((service.code, country.id))


def build_catalogue(seed: int) -> Catalogue:
    """Generates the catalogue of a seed; the same seed always gives the same one."""
    rng = random.Random(f"catalogue:{seed}")
    countries = all_countries()
    # Some countries are dearer than others for every service.
    factors = [rng.uniform(0.5, 3.0) for _ in countries]
    services: list[Service] = []
    offers: list[Offer] = []
    for service, base_cents, country_count in _services(rng):
        services.append(service)
        head: list[Country] = []
        if service.code in _WELL_KNOWN:
            # Well-known services are sold in all the big markets (lowest ids).
            head = list(countries[: min(country_count, 30)])
        tail = rng.sample(countries[len(head) :], country_count - len(head))
        for country in head + tail:
            price = max(2, round(base_cents * factors[country.id] * rng.uniform(0.8, 1.25)))
            sold_out = rng.random() < 0.12
            stock = 0 if sold_out else min(20_000, 1 + int(rng.lognormvariate(5.0, 1.5)))
            offers.append(Offer(service.code, country.id, price, stock))
    return Catalogue(services, countries, offers)


def _services(rng: random.Random) -> list[tuple[Service, int, int]]:
    """Returns (service, base price in cents, country count) for every service."""
    real = [(Service(c, s, n), price, count) for c, s, n, price, count in _REAL_SERVICES]
    taken_slugs = {service.slug for service, _, _ in real}
    # A code must not collide with any other service's code or slug.
    taken_idents = taken_slugs | _WELL_KNOWN
    codes = (
        code
        for length in (2, 3)
        for code in map("".join, itertools.product(string.ascii_lowercase, repeat=length))
        if code not in taken_idents
    )
    made_up: list[tuple[Service, int, int]] = []
    while len(real) + len(made_up) < SERVICE_COUNT:
        stem = (rng.choice(_SYLLABLES) + rng.choice(_SYLLABLES)).title()
        name = stem + rng.choice(_SUFFIXES).title()
        if name.lower() in taken_slugs:
            continue
        taken_slugs.add(name.lower())
        country_count = 3 + int(57 * rng.random() ** 2)
        made_up.append(
            (Service(next(codes), name.lower(), name), rng.randint(3, 40), country_count)
        )
    return real + made_up
