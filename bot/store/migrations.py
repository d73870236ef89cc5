"""Schema migrations, applied forward at open and tracked with ``PRAGMA user_version``.

``MIGRATIONS[n]`` takes the schema from version ``n`` to ``n + 1``. Never edit a released
entry: append a new one. Times are ISO-8601 text in UTC with microseconds
(``2026-05-22T08:30:00.000000+00:00``), so they also sort correctly as text.
"""

from __future__ import annotations

from typing import Final

import aiosqlite

__all__ = ["MIGRATIONS", "migrate"]

_V1 = """
CREATE TABLE users (
    telegram_id     INTEGER PRIMARY KEY,
    language        TEXT,
    key_cipher      BLOB,
    key_fingerprint TEXT,
    display_name    TEXT,
    chat_active     INTEGER NOT NULL DEFAULT 1 CHECK (chat_active IN (0, 1)),
    key_revoked     INTEGER NOT NULL DEFAULT 0 CHECK (key_revoked IN (0, 1)),
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    CHECK ((key_cipher IS NULL) = (key_fingerprint IS NULL))
);

CREATE TABLE orders (
    id              TEXT PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users (telegram_id),
    key_fingerprint TEXT NOT NULL,
    service         TEXT NOT NULL,
    service_name    TEXT NOT NULL,
    country_id      TEXT NOT NULL,
    country_slug    TEXT NOT NULL,
    phone           TEXT NOT NULL,
    status          TEXT NOT NULL,
    expires_at      TEXT,
    charged_cents   INTEGER NOT NULL,
    card_message_id INTEGER,
    sms_seen        INTEGER NOT NULL DEFAULT 0 CHECK (sms_seen >= 0),
    final_notified  INTEGER NOT NULL DEFAULT 0 CHECK (final_notified IN (0, 1)),
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX orders_by_user ON orders (user_id, created_at);
-- Same predicate as Store.active_orders, so the poller's query reads only open orders.
CREATE INDEX orders_open ON orders (created_at)
    WHERE status NOT IN ('COMPLETED', 'FAILED', 'CANCELLED') OR final_notified = 0;

CREATE TABLE sms_deliveries (
    order_id    TEXT NOT NULL REFERENCES orders (id),
    position    INTEGER NOT NULL CHECK (position >= 0),
    body        TEXT NOT NULL,
    received_at TEXT,
    state       TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent')),
    message_id  INTEGER,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (order_id, position)
) WITHOUT ROWID;
CREATE INDEX sms_deliveries_pending ON sms_deliveries (created_at) WHERE state = 'pending';

CREATE TABLE purchases (
    token        TEXT PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (telegram_id),
    service      TEXT NOT NULL,
    service_name TEXT NOT NULL,
    country_id   TEXT NOT NULL,
    country_slug TEXT NOT NULL,
    price_cents  INTEGER NOT NULL CHECK (price_cents >= 0),
    state        TEXT NOT NULL
        CHECK (state IN ('offered', 'creating', 'done', 'failed', 'unknown')),
    order_id     TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX purchases_by_state ON purchases (state, created_at);

CREATE TABLE recent_services (
    user_id INTEGER NOT NULL REFERENCES users (telegram_id),
    service TEXT NOT NULL,
    used_at TEXT NOT NULL,
    PRIMARY KEY (user_id, service)
) WITHOUT ROWID;

-- python-telegram-bot persistence (bot.store.persistence.SqlitePersistence).
CREATE TABLE ptb_conversations (
    name       TEXT NOT NULL,
    key        TEXT NOT NULL,
    state      TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (name, key)
) WITHOUT ROWID;

CREATE TABLE ptb_data (
    kind       TEXT NOT NULL CHECK (kind IN ('user', 'chat')),
    id         INTEGER NOT NULL,
    data       TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (kind, id)
) WITHOUT ROWID;
"""

# What the order card last showed (a hash of its text and buttons), so a restarted bot
# does not redraw an unchanged card (Telegram refuses that as "message is not modified").
_V2 = """
ALTER TABLE orders ADD COLUMN card_hash TEXT;
"""

# The Telegram outbox (issue 10). Codes wait in sms_deliveries, final notices and stale card
# edits on their order, so nothing waits in memory while Telegram is down:
# * attempts / next_attempt_at: a failed send is retried with backoff, not every tick;
# * doubtful: sends whose outcome is unknown (timeout, 5xx, connection lost after sending,
#   or a claim that expired because its holder died): the user may have the code, so one
#   doubtful send allows one more copy, and a second one gives the push up (given_up = 1;
#   the order card shows every code anyway);
# * claimed_by / claimed_until: the sender's lease, so two replicas never send a row at once;
# * orders.card_retry_at: set when a card edit failed (the card is stale), the next try;
# * orders.final_claimed_until: the lease (or, after a failure, the next try) of the notice.
# Reserved as v4 (v3 is the scale-out migration): it must follow v3 when both are on main.
_V4_OUTBOX = """
ALTER TABLE sms_deliveries ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sms_deliveries ADD COLUMN doubtful INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sms_deliveries ADD COLUMN next_attempt_at TEXT;
ALTER TABLE sms_deliveries ADD COLUMN claimed_by TEXT;
ALTER TABLE sms_deliveries ADD COLUMN claimed_until TEXT;
ALTER TABLE sms_deliveries ADD COLUMN given_up INTEGER NOT NULL DEFAULT 0
    CHECK (given_up IN (0, 1));
DROP INDEX sms_deliveries_pending;
CREATE INDEX sms_deliveries_due ON sms_deliveries (received_at, position)
    WHERE state = 'pending' AND given_up = 0;
ALTER TABLE orders ADD COLUMN card_retry_at TEXT;
ALTER TABLE orders ADD COLUMN final_claimed_until TEXT;
CREATE INDEX orders_card_stale ON orders (card_retry_at) WHERE card_retry_at IS NOT NULL;
"""

MIGRATIONS: Final[tuple[str, ...]] = (_V1, _V2, _V4_OUTBOX)


async def migrate(db: aiosqlite.Connection) -> int:
    """Apply the migrations ``db`` has not seen yet, each in its own transaction.

    ``db`` must be in autocommit mode (``isolation_level=None``). ``user_version`` is set
    inside the same transaction as the script, so a crash never leaves a half-applied step.

    Returns:
        The schema version now in the database.

    Raises:
        RuntimeError: The database was written by a newer version of the bot.
    """
    async with db.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    current = int(row[0]) if row else 0
    if current > len(MIGRATIONS):
        raise RuntimeError(
            f"database schema version {current} is newer than this bot knows "
            f"({len(MIGRATIONS)}); refusing to open it"
        )
    for version, script in enumerate(MIGRATIONS[current:], start=current + 1):
        try:
            await db.executescript(
                f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version = {version};\nCOMMIT;"
            )
        except BaseException:
            if db.in_transaction:
                await db.rollback()
            raise
    return len(MIGRATIONS)
