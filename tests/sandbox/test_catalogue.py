"""The generated catalogue: scale, real names, determinism."""

from bot.sandbox.catalogue import build_catalogue
from bot.sandbox.countries import all_countries


def test_catalogue_is_deterministic_per_seed() -> None:
    first, again, other = build_catalogue(1), build_catalogue(1), build_catalogue(2)

    def prices(catalogue):
        return [
            (o.service, o.country_id, o.price_cents, o.stock)
            for s in catalogue.services
            for o in catalogue.offers(s)
        ]

    assert first.services == again.services
    assert prices(first) == prices(again)
    assert prices(first) != prices(other)


def test_catalogue_has_the_real_service_scale() -> None:
    catalogue = build_catalogue(1)
    assert len(catalogue.services) == 700
    assert [s.code for s in catalogue.services[:4]] == ["tg", "wa", "go", "fb"]
    owners: dict[str, object] = {}
    for service in catalogue.services:  # A code or slug names one service only.
        for ident in (service.code, service.slug):
            assert owners.setdefault(ident, service) is service
    telegram = catalogue.service("telegram")
    assert telegram is not None
    assert telegram.code == "tg"
    assert len(catalogue.offers(telegram)) >= 150
    stocks = [o.stock for s in catalogue.services for o in catalogue.offers(s)]
    assert 0 in stocks
    assert max(stocks) > 1000
    assert all(o.price_cents > 0 for s in catalogue.services for o in catalogue.offers(s))


def test_countries_are_real_iso_codes_with_stable_ids() -> None:
    countries = all_countries()
    assert 180 <= len(countries) <= 250
    assert [c.id for c in countries] == list(range(len(countries)))
    by_slug = {c.slug: c for c in countries}
    assert (by_slug["my"].id, by_slug["my"].name) == (7, "Malaysia")
    assert by_slug["us"].name == "United States"
    assert all(len(c.slug) == 2 and c.slug.isalpha() and c.slug.islower() for c in countries)


def test_lookups_accept_codes_slugs_and_ids() -> None:
    catalogue = build_catalogue(1)
    assert catalogue.service("TG") is catalogue.service("telegram")
    assert catalogue.service("nope") is None
    assert catalogue.country(7) is catalogue.country("7") is catalogue.country("MY")
    assert catalogue.country("xx") is None
    assert catalogue.country(10_000) is None
