"""Fixtures of the UI tests: a tiny chat model and ChatApps under Pilot, shut down after."""

from __future__ import annotations

from pathlib import Path

import pytest

from baichuan_tui.ui.app import ChatApp
from baichuan_tui.ui.session import LaunchOptions


@pytest.fixture
def b2(tiny) -> Path:
    return tiny("b2-7b-chat")


@pytest.fixture
def run_app():
    """``async with run_app(options) as pilot`` — a ChatApp under Pilot, shut down after."""
    apps: list[ChatApp] = []

    def start(opts: LaunchOptions, size: tuple[int, int] = (110, 36), **kw):
        app = ChatApp(opts, **kw)
        apps.append(app)
        return app.run_test(size=size)

    yield start
    for app in apps:
        app.shutdown()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
