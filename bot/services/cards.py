"""The chat's order cards, as the services see them (:class:`bot.notifier.TelegramNotifier`).

A service that changes an order brings its card up to date through this port, so both front
ends leave the chat's card as the chat would (the Mini App has no cards of its own).
"""

from __future__ import annotations

from typing import Protocol

from bot.store import StoredOrder


class Cards(Protocol):
    """Showing an order's card in its user's chat."""

    async def show_card(self, order: StoredOrder, *, now: bool = False) -> None:
        """Bring the card up to date (posting it silently if the chat has none yet)."""

    async def post_card(self, order: StoredOrder) -> int | None:
        """Send the card as a new message and make it the one kept current."""
