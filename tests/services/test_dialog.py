"""The chat state: a typed Dialog stored as the same JSON object as before."""

from __future__ import annotations

from typing import Any

import pytest

from bot.services.users import Dialog, Mode


def test_stored_shapes_read_back_and_write_the_same_json() -> None:
    stored = {
        "mode": "countries",
        "service_query": "tele",
        "country_service": "tg",
        "country_query": "ма",
        "history_cursors": [None, "c2"],
    }
    dialog = Dialog.read(stored)
    assert dialog == Dialog(Mode.COUNTRIES, "tele", "tg", "ма", (None, "c2"))
    assert dialog.stored() == stored
    assert Dialog().stored() == {}
    assert Dialog.read({}) == Dialog()


@pytest.mark.parametrize(
    "stored",
    [
        {"mode": "gone"},  # a mode of another version
        {"mode": 3, "service_query": ["x"], "history_cursors": "c"},
        {"query": "малай", "page": 2},  # keys nobody reads
    ],
)
def test_unexpected_values_read_as_absent(stored: dict[str, Any]) -> None:
    assert Dialog.read(stored) == Dialog()


def test_every_mode_is_spelled_once() -> None:
    assert {mode.value for mode in Mode} == {"services", "countries", "confirm", "broadcast"}
    assert Dialog.read({"mode": "broadcast"}).mode is Mode.BROADCAST


def test_every_mode_has_its_text_handler() -> None:
    from bot.handlers import TEXT_HANDLERS

    assert set(TEXT_HANDLERS) == set(Mode)
