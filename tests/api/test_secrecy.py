"""An API key never shows: not in a repr, an error, or a log record.

Every test of this package also runs under the ``no_secret_in_logs`` watch (DEBUG logs of
the client, httpx, httpcore and the sandbox), and its errors are checked by ``raises``.
"""

from __future__ import annotations

import logging

import pytest

from bot.api import ApiKey, JiemaClient
from bot.api.errors import (
    ApiTimeoutError,
    AuthError,
    MalformedResponseError,
    ServerError,
    TransportError,
)
from bot.sandbox import SandboxServer
from tests.api.helpers import (
    SHORT_TIMEOUT,
    ErrorChecker,
    MakeClient,
    leaking_loggers,
    texts_of,
)

SECRET = "jm_" + "Abc123_-" * 5 + "xyz"  # jm_ and 43 characters, like the spec's example.


def test_repr_and_str_of_a_key_show_only_its_id() -> None:
    key = ApiKey(SECRET)
    shown = [repr(key), str(key), f"{key}", f"{key!r}", format(key, ""), repr([key]), str({key})]
    for text in shown:
        assert SECRET not in text
        assert "jm_" not in text
        assert key.id in text
    assert repr(key) == f"ApiKey(id={key.id})"


def test_the_key_id_is_short_stable_and_not_the_secret() -> None:
    key = ApiKey(SECRET)
    assert key.id == ApiKey(SECRET).id
    assert key.id != ApiKey(SECRET + "x").id
    assert len(key.id) == 12
    assert key.id not in SECRET


@pytest.mark.parametrize("text", [SECRET, f"  {SECRET}\n", "jm_" + "a" * 20, "jm_" + "b" * 64])
def test_parse_accepts_keys(text: str) -> None:
    key = ApiKey.parse(text)
    assert key is not None
    assert key.secret == text.strip()


@pytest.mark.parametrize(
    "text", ["", "jm_", "jm_short", "xx_" + "a" * 43, "jm_" + "a" * 65, "jm_" + "a" * 30 + "!"]
)
def test_parse_refuses_what_is_not_a_key(text: str) -> None:
    assert ApiKey.parse(text) is None


def test_the_watches_do_catch_a_leak() -> None:
    """The checks the suite relies on would fail if a key did show."""
    record = logging.LogRecord("x", logging.DEBUG, "f", 1, "using %s", (SECRET,), None)
    assert leaking_loggers([record], {SECRET}) == ["x"]
    assert leaking_loggers([record], {"jm_other"}) == []
    # As ``raise TransportError(...) from None`` inside ``except`` leaves it: a hidden context.
    error = TransportError("POST v1/orders failed")
    error.__context__ = ValueError(f"header Bearer {SECRET}")
    error.__suppress_context__ = True
    assert any(SECRET in text for text in texts_of(error))
    with pytest.raises(AssertionError):
        ErrorChecker({SECRET}).assert_clean(error)
    ErrorChecker({"jm_other"}).assert_clean(error)


async def test_every_failure_path_keeps_the_key_out_of_errors_and_debug_logs(
    server: SandboxServer,
    make_client: MakeClient,
    secrets: set[str],
    raises: ErrorChecker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    key = ApiKey(server.create_account(SECRET, balance_cents=10_000))
    secrets.add(SECRET)
    client: JiemaClient = make_client(server, timeout=SHORT_TIMEOUT)
    await client.account(key)
    server.inject_fault("error500", 1, path="/v1/account")
    await client.account(key)  # Retried, and the retry is logged.
    server.inject_fault("error500", 5, path="/v1/countries")
    with raises(ServerError):
        await client.countries(key)
    server.inject_fault("timeout", 1, path="/v1/orders")
    with raises(ApiTimeoutError):
        await client.create_order(key, "tg", 7)
    server.inject_fault("drop_create")
    with raises(TransportError):
        await client.create_order(key, "tg", 7)
    server.inject_fault("malformed", 1, path="/v1/orders")
    with raises(MalformedResponseError):
        await client.orders(key)
    server.revoke_key(SECRET)
    with raises(AuthError):
        await client.account(key)
    loggers = {record.name for record in caplog.records}
    # The watch saw the client's own retry notes (the client hands requests to the transport
    # itself, so httpx's client logs none, and aiohttp logs nothing of a request).
    assert "bot.api.client" in loggers
    assert leaking_loggers(caplog.records, secrets) == []
