"""The callback-data codec: round trips, Telegram's size limit, and strictness."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from telegram import Update
from telegram.constants import InlineKeyboardButtonLimit

from bot import callbacks as cb
from bot.context import Context
from bot.handlers.common import ButtonHandler

ids = st.from_regex(r"[A-Za-z0-9_-]{1,40}", fullmatch=True)
pages = st.integers(min_value=0, max_value=9999)
callbacks = st.one_of(
    st.builds(cb.ServicePage, pages),
    st.builds(cb.PickService, ids),
    st.builds(cb.CountryPage, ids, pages),
    st.builds(cb.PickCountry, ids, st.integers(min_value=0, max_value=999_999_999)),
    st.builds(cb.ConfirmBuy, ids),
    st.builds(cb.OrderButton, ids, st.sampled_from(cb.OrderAction)),
    st.builds(cb.BuyAgain, ids),
    st.builds(cb.HistoryPage, pages),
    st.builds(cb.SetLanguage, st.sampled_from(["en", "ru", "zh_Hans", "pt"])),
    st.sampled_from(
        [cb.BuyMenu(), cb.LinkMenu(), cb.OrdersMenu(), cb.BalanceMenu(), cb.CancelFlow()]
    ),
    st.builds(cb.Unlink, st.booleans()),
    st.builds(cb.Forget, st.booleans()),
    st.just(cb.Noop()),
    st.just(cb.StatsRefresh()),
    st.builds(cb.BroadcastAction, ids, st.booleans()),
    st.just(cb.MuteAnnouncements()),
    st.builds(cb.SetAnnouncements, st.booleans()),
    st.builds(cb.FavouriteToggle, ids, st.integers(min_value=0, max_value=999_999_999)),
    st.builds(cb.FavouriteOrder, ids),
    st.builds(cb.FavouriteRemove, ids, st.integers(min_value=0, max_value=999_999_999)),
    st.builds(cb.NotifyMe, ids, st.integers(min_value=0, max_value=999_999_999)),
    st.builds(cb.AlertCancel, ids),
)


@given(callbacks)
def test_every_callback_round_trips_within_64_bytes(callback: cb.Callback) -> None:
    data = cb.encode(callback)
    assert cb.parse(data) == callback
    assert len(data.encode()) <= InlineKeyboardButtonLimit.MAX_CALLBACK_DATA


@given(st.binary(max_size=80))
def test_arbitrary_bytes_parse_to_none_or_a_valid_callback(raw: bytes) -> None:
    data = raw.decode("utf-8", "replace")
    parsed = cb.parse(data)
    if parsed is not None:
        assert cb.encode(parsed) == data


@given(st.text(max_size=80))
def test_arbitrary_text_never_raises(data: str) -> None:
    parsed = cb.parse(data)
    assert parsed is None or cb.encode(parsed) == data


@pytest.mark.parametrize(
    "data",
    [
        "",
        None,
        "sp:01",  # leading zero: not how we encode
        "sp:-1",
        "c:tg:01",  # country ids are plain integers; 0 is a real one (Russia)
        "c:tg:7:extra",
        "o:x:ck1",
        "o:c:../etc",
        "o:c:" + "a" * 41,
        "m:admin",
        "b:tok en",
        "l:" + "x" * 11,
        "s:tg\n",
    ],
)
def test_forged_or_malformed_data_is_refused(data: str | None) -> None:
    assert cb.parse(data) is None


def test_encode_refuses_values_parse_would_reject() -> None:
    with pytest.raises(ValueError, match="cannot encode"):
        cb.encode(cb.OrderButton("has space", cb.OrderAction.VIEW))


def _pressed(data: str) -> Update:
    user = {"id": 7, "is_bot": False, "first_name": "A"}
    return Update.de_json(
        {
            "update_id": 1,
            "callback_query": {"id": "q", "from": user, "chat_instance": "c", "data": data},
        },
        None,
    )


def test_a_button_handler_matches_its_type_and_hands_over_the_value() -> None:
    async def pick(update: Update, context: Context, button: cb.PickCountry) -> None:
        raise AssertionError("not called here")

    handler = ButtonHandler(pick, pattern=cb.PickCountry)
    assert handler.check_update(_pressed("c:tg:7")) == cb.PickCountry("tg", 7)
    assert handler.check_update(_pressed("cp:tg:0")) is None  # another button type
    assert handler.check_update(_pressed("c:tg:07")) is None  # forged: falls through
    assert handler.check_update(object()) is None
