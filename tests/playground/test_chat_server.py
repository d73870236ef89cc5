"""The web chat's server refuses what another web site could make a browser send it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.fakebotapi import FakeBotApi
from bot.playground import PlaygroundError, run_playground
from bot.playground.chat import BotStatus, ChatServer
from bot.sandbox import SandboxServer
from tests.playground.conftest import free_port_pair


@pytest.fixture
async def chat_url() -> AsyncIterator[str]:
    async with FakeBotApi() as telegram, SandboxServer() as sandbox:
        users = [telegram.user(1001, "Alice")]
        chat = ChatServer(telegram, sandbox, users, lambda: BotStatus("online"), time.time)
        yield await chat.start("127.0.0.1", free_port_pair())
        await chat.stop()


async def test_json_posts_are_served(chat_url: str) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{chat_url}api/users/1001/send", json={"text": "hello"}) as response,
    ):
        assert response.status == 200
        assert await response.json() == {"message_id": 1}


async def test_a_cross_site_simple_post_is_refused(chat_url: str) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{chat_url}api/users/1001/send",
            data='{"text": "/unlink"}',
            headers={"Content-Type": "text/plain"},
        ) as response,
    ):
        assert response.status == 415


async def test_another_host_name_is_refused(chat_url: str) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(chat_url, headers={"Host": "evil.example:80"}) as response,
    ):
        assert response.status == 421


async def test_the_playground_refuses_to_listen_beyond_loopback(tmp_path: Path) -> None:
    with pytest.raises(PlaygroundError, match="loopback only"):
        await run_playground(("0.0.0.0", free_port_pair()), tmp_path, asyncio.Event())  # noqa: S104
