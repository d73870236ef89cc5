"""Schema migrations, the same numbered list for SQLite and PostgreSQL, applied at open.

``MIGRATIONS[n]`` takes the schema from version ``n`` to ``n + 1``. Never edit a released
entry: append a new one. An entry is plain SQL, identical for both backends, except for the
``$NAME`` words of :data:`DIALECT_TYPES`, which name the few types that differ. The version is
``PRAGMA user_version`` on SQLite and the ``schema_version`` table on PostgreSQL, set in the
same transaction as the step (see :meth:`bot.store.db.Database.apply_migration`).

Times are ISO-8601 text in UTC with microseconds (``2026-05-22T08:30:00.000000+00:00``), so
they also sort correctly as text; booleans are INTEGER 0/1; Telegram ids are BIGINT.
"""

from __future__ import annotations

from string import Template
from typing import Final

from bot.store.db import Database, Dialect

__all__ = ["DIALECT_TYPES", "MIGRATIONS", "migrate", "render"]

DIALECT_TYPES: Final[dict[Dialect, dict[str, str]]] = {
    # SQLite: an INTEGER PRIMARY KEY is the rowid (a 64-bit integer); BIGINT would not be.
    "sqlite": {
        "BIGINT_PK": "INTEGER PRIMARY KEY",
        "BIGINT": "INTEGER",
        "BLOB": "BLOB",
        "WITHOUT_ROWID": " WITHOUT ROWID",
    },
    "postgresql": {
        "BIGINT_PK": "BIGINT PRIMARY KEY",
        "BIGINT": "BIGINT",
        "BLOB": "BYTEA",
        "WITHOUT_ROWID": "",
    },
}

_V1 = """
CREATE TABLE users (
    telegram_id     $BIGINT_PK,
    language        TEXT,
    key_cipher      $BLOB,
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
    user_id         $BIGINT NOT NULL REFERENCES users (telegram_id),
    key_fingerprint TEXT NOT NULL,
    service         TEXT NOT NULL,
    service_name    TEXT NOT NULL,
    country_id      TEXT NOT NULL,
    country_slug    TEXT NOT NULL,
    phone           TEXT NOT NULL,
    status          TEXT NOT NULL,
    expires_at      TEXT,
    charged_cents   INTEGER NOT NULL,
    card_message_id $BIGINT,
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
    message_id  $BIGINT,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (order_id, position)
)$WITHOUT_ROWID;
CREATE INDEX sms_deliveries_pending ON sms_deliveries (created_at) WHERE state = 'pending';

CREATE TABLE purchases (
    token        TEXT PRIMARY KEY,
    user_id      $BIGINT NOT NULL REFERENCES users (telegram_id),
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
    user_id $BIGINT NOT NULL REFERENCES users (telegram_id),
    service TEXT NOT NULL,
    used_at TEXT NOT NULL,
    PRIMARY KEY (user_id, service)
)$WITHOUT_ROWID;

-- python-telegram-bot persistence (bot.store.persistence.SqlitePersistence).
CREATE TABLE ptb_conversations (
    name       TEXT NOT NULL,
    key        TEXT NOT NULL,
    state      TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (name, key)
)$WITHOUT_ROWID;

CREATE TABLE ptb_data (
    kind       TEXT NOT NULL CHECK (kind IN ('user', 'chat')),
    id         $BIGINT NOT NULL,
    data       TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (kind, id)
)$WITHOUT_ROWID;
"""

# What the order card last showed (a hash of its text and buttons), so a restarted bot
# does not redraw an unchanged card (Telegram refuses that as "message is not modified").
_V2 = """
ALTER TABLE orders ADD COLUMN card_hash TEXT;
"""

# Scale-out: several replicas share one database, so nothing process-local decides.
_V3 = """
-- The chat state (a JSON object) replaces python-telegram-bot's persistence.
ALTER TABLE users ADD COLUMN dialog TEXT;
DROP TABLE ptb_conversations;
DROP TABLE ptb_data;

-- Who does what: one holder per name until expires_at (polling a key, fleet-wide jobs).
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at TEXT NOT NULL
)$WITHOUT_ROWID;
CREATE INDEX leases_by_holder ON leases (holder, expires_at);

-- Running replicas, for fair shares of the leases.
CREATE TABLE replicas (
    id           TEXT PRIMARY KEY,
    started_at   TEXT NOT NULL,
    heartbeat_at TEXT NOT NULL
)$WITHOUT_ROWID;

-- Webhook updates claimed by a replica, so a redelivered update is handled once.
CREATE TABLE webhook_updates (
    update_id  $BIGINT_PK,
    holder     TEXT NOT NULL,
    claimed_at TEXT NOT NULL,
    done       INTEGER NOT NULL DEFAULT 0 CHECK (done IN (0, 1))
);
CREATE INDEX webhook_updates_by_claim ON webhook_updates (claimed_at);

-- Not before this time may a reconciler look at a creating/unknown purchase (NULL = due).
ALTER TABLE purchases ADD COLUMN reconcile_after TEXT;
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
#   also the lease of an edit claimed and not yet recorded (due if its replica dies);
# * orders.final_claimed_until: the lease (or, after a failure, the next try) of the notice.
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

# Issue 14: favourites (service + country, one tap from /buy), back-in-stock alerts (claimed
# in the database before they are sent, so each fires once across restarts and replicas),
# and the day of the last "top up" heads-up after a purchase.
_V5_SHOP = """
CREATE TABLE favourites (
    user_id      $BIGINT NOT NULL REFERENCES users (telegram_id),
    service      TEXT NOT NULL,
    country_id   TEXT NOT NULL,
    service_name TEXT NOT NULL,
    country_slug TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (user_id, service, country_id)
)$WITHOUT_ROWID;

CREATE TABLE alerts (
    id           TEXT PRIMARY KEY,
    user_id      $BIGINT NOT NULL REFERENCES users (telegram_id),
    service      TEXT NOT NULL,
    service_name TEXT NOT NULL,
    country_id   TEXT NOT NULL,
    country_slug TEXT NOT NULL,
    state        TEXT NOT NULL DEFAULT 'active'
        CHECK (state IN ('active', 'firing', 'sent', 'cancelled', 'expired')),
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    claimed_at   TEXT,
    fired_at     TEXT,
    price_cents  INTEGER CHECK (price_cents >= 0)
);
-- One live alert per user, service and country: "Notify me" twice watches once.
CREATE UNIQUE INDEX alerts_one_live ON alerts (user_id, service, country_id)
    WHERE state IN ('active', 'firing');
-- The watcher's query (Store.alerts_to_check) reads only these.
CREATE INDEX alerts_live ON alerts (service) WHERE state IN ('active', 'firing');

ALTER TABLE users ADD COLUMN topup_hint_at TEXT;
"""

# The operator's console (issue 15). Users: whether they muted announcements, and when
# they were last seen (written at most once an hour, for "active in the last 24 h").
# sms_deliveries.sent_at: when Telegram accepted the code (code-to-chat latency).
# broadcasts / broadcast_recipients: an announcement and one row per recipient, each
# claimed before its send. fleet_counters: every replica adds its error counts into
# hourly buckets, so /stats shows the fleet's figures.
_V6 = """
ALTER TABLE users ADD COLUMN announcements_muted INTEGER NOT NULL DEFAULT 0
    CHECK (announcements_muted IN (0, 1));
ALTER TABLE users ADD COLUMN last_seen_at TEXT;
CREATE INDEX users_last_seen ON users (last_seen_at);

ALTER TABLE sms_deliveries ADD COLUMN sent_at TEXT;
CREATE INDEX sms_deliveries_sent ON sms_deliveries (sent_at) WHERE sent_at IS NOT NULL;
CREATE INDEX orders_created ON orders (created_at);

CREATE TABLE broadcasts (
    id                  TEXT PRIMARY KEY,
    admin_id            $BIGINT NOT NULL,
    text                TEXT NOT NULL,
    state               TEXT NOT NULL DEFAULT 'draft'
        CHECK (state IN ('draft', 'sending', 'cancelled', 'done', 'discarded')),
    progress_message_id $BIGINT,
    reported            INTEGER NOT NULL DEFAULT 0 CHECK (reported IN (0, 1)),
    created_at          TEXT NOT NULL,
    started_at          TEXT,
    finished_at         TEXT,
    updated_at          TEXT NOT NULL
);
CREATE INDEX broadcasts_by_state ON broadcasts (state, created_at);

CREATE TABLE broadcast_recipients (
    broadcast_id TEXT NOT NULL REFERENCES broadcasts (id),
    user_id      $BIGINT NOT NULL,
    state        TEXT NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'claimed', 'sent', 'blocked', 'failed', 'skipped', 'unknown')),
    claimed_by   TEXT,
    claimed_at   TEXT,
    message_id   $BIGINT,
    PRIMARY KEY (broadcast_id, user_id)
)$WITHOUT_ROWID;
CREATE INDEX broadcast_recipients_by_state ON broadcast_recipients (broadcast_id, state, user_id);

CREATE TABLE fleet_counters (
    hour  TEXT NOT NULL,
    name  TEXT NOT NULL,
    value $BIGINT NOT NULL,
    PRIMARY KEY (hour, name)
)$WITHOUT_ROWID;
"""

# secret_check: the check value of the encryption secret (bot.vault.KeyVault.check_value),
# recorded by the first process to start: one started with another BOT_SECRET_KEY refuses
# to run instead of failing to read the stored keys.
# sms_deliveries_kept: the bodies not purged yet (Store.purge_before runs hourly).
_V7_KEEPING = """
CREATE TABLE secret_check (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    value       TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
CREATE INDEX sms_deliveries_kept ON sms_deliveries (created_at) WHERE body <> '';
"""

# Automatic replacement of a number that got no SMS (issue 22). Whether an order (and a
# confirmation, and a user's default) replaces itself; the price the user confirmed, the
# ceiling of any replacement; replacements still allowed (NULL: the operator's REPLACE_MAX);
# on a replacement the number it replaced, on a replaced order the number that replaced it
# ('' when none could be bought). swaps: one row per replaced order, claimed before the
# cancel, moved claimed → cancelled (refund confirmed) → buying (a purchase token, so the
# create is made exactly once) → bought → done, or kept (an SMS came) / gave_up; a replica
# that died mid-swap leaves it to another after claimed_until.
_V8_REPLACE = """
ALTER TABLE users ADD COLUMN auto_replace INTEGER NOT NULL DEFAULT 0
    CHECK (auto_replace IN (0, 1));
ALTER TABLE purchases ADD COLUMN auto_replace INTEGER NOT NULL DEFAULT 0
    CHECK (auto_replace IN (0, 1));
ALTER TABLE orders ADD COLUMN auto_replace INTEGER NOT NULL DEFAULT 0
    CHECK (auto_replace IN (0, 1));
ALTER TABLE orders ADD COLUMN confirmed_cents INTEGER CHECK (confirmed_cents >= 0);
ALTER TABLE orders ADD COLUMN replaces_left INTEGER CHECK (replaces_left >= 0);
ALTER TABLE orders ADD COLUMN replaced_from TEXT;
ALTER TABLE orders ADD COLUMN replaced_by TEXT;
CREATE INDEX orders_auto_replace ON orders (created_at)
    WHERE auto_replace = 1 AND status = 'WAITING' AND sms_seen = 0;

CREATE TABLE swaps (
    order_id      TEXT PRIMARY KEY REFERENCES orders (id),
    user_id       $BIGINT NOT NULL,
    state         TEXT NOT NULL DEFAULT 'claimed'
        CHECK (state IN ('claimed', 'cancelled', 'buying', 'bought', 'done', 'kept', 'gave_up')),
    token         TEXT,
    new_order_id  TEXT,
    claimed_by    TEXT NOT NULL,
    claimed_until TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
)$WITHOUT_ROWID;
CREATE INDEX swaps_open ON swaps (claimed_until)
    WHERE state IN ('claimed', 'cancelled', 'buying', 'bought');
"""

# Delivery rates: per service, country and day (UTC, of the order's creation), how many
# orders the bot saw end or get an SMS, how many got one, and a fixed histogram of the time
# to the first SMS (bucket upper bounds in bot.store.rates.WAIT_BOUNDS; w9 is "longer").
# orders.rate_counted is set in the same transaction as the counters' increment, so an
# order is counted once, by whichever replica sees it first.
_V9_DELIVERY_RATES = """
ALTER TABLE orders ADD COLUMN rate_counted INTEGER NOT NULL DEFAULT 0
    CHECK (rate_counted IN (0, 1));

CREATE TABLE delivery_rates (
    service    TEXT NOT NULL,
    country_id TEXT NOT NULL,
    day        TEXT NOT NULL,
    orders     INTEGER NOT NULL CHECK (orders >= 0),
    delivered  INTEGER NOT NULL CHECK (delivered >= 0),
    w0 INTEGER NOT NULL DEFAULT 0, w1 INTEGER NOT NULL DEFAULT 0,
    w2 INTEGER NOT NULL DEFAULT 0, w3 INTEGER NOT NULL DEFAULT 0,
    w4 INTEGER NOT NULL DEFAULT 0, w5 INTEGER NOT NULL DEFAULT 0,
    w6 INTEGER NOT NULL DEFAULT 0, w7 INTEGER NOT NULL DEFAULT 0,
    w8 INTEGER NOT NULL DEFAULT 0, w9 INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (service, country_id, day)
)$WITHOUT_ROWID;
"""

MIGRATIONS: Final[tuple[str, ...]] = (
    _V1,
    _V2,
    _V3,
    _V4_OUTBOX,
    _V5_SHOP,
    _V6,
    _V7_KEEPING,
    _V8_REPLACE,
    _V9_DELIVERY_RATES,
)


def render(script: str, dialect: Dialect) -> str:
    """The text of a migration for ``dialect`` (its ``$NAME`` words replaced)."""
    return Template(script).substitute(DIALECT_TYPES[dialect])


async def migrate(db: Database) -> int:
    """Apply the migrations ``db`` has not seen yet, each atomic with its version bump.

    Returns:
        The schema version now in the database.

    Raises:
        RuntimeError: The database was written by a newer version of the bot.
    """
    current = await db.schema_version()
    if current > len(MIGRATIONS):
        raise RuntimeError(
            f"database schema version {current} is newer than this bot knows "
            f"({len(MIGRATIONS)}); refusing to open it"
        )
    for version, script in enumerate(MIGRATIONS[current:], start=current + 1):
        await db.apply_migration(version, render(script, db.dialect))
    return len(MIGRATIONS)
