"""Pilot helpers for the UI tests: launch options sized for tiny models, waiting for states."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from baichuan_tui.ui.app import ChatApp
from baichuan_tui.ui.session import LaunchOptions

GREEDY = {"temperature": 0.0, "repeat_penalty": 1.0, "seed": 1}


def options(model: Path | str | None, **kw) -> LaunchOptions:
    """Launch options as the command line would build them, sized for the tests."""
    sampling = {**GREEDY, "max_tokens": 24, **kw.pop("sampling", {})}
    return LaunchOptions(
        model=str(model) if model else None,
        n_ctx=kw.pop("n_ctx", 1024),
        threads=1,
        gpu_layers="0",
        sampling=sampling,
        **kw,
    )


async def wait_for(
    pilot, condition: Callable[[], object], timeout: float = 30.0, what: str = "condition"
) -> None:
    """Let the app run until ``condition()`` is true."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


def screen_named(app, name: str):
    """The app's current screen if it is a ``name`` and has finished mounting, else None.

    ``app.screen`` changes as soon as a screen is pushed, before its children are composed;
    querying it then races the compose on a loaded machine.
    """
    screen = app.screen
    return screen if screen.__class__.__name__ == name and screen.is_mounted else None


async def ready(pilot) -> ChatApp:
    app: ChatApp = pilot.app
    await wait_for(
        pilot,
        lambda: app.engine is not None or (app.loading is None and app.options.model is None),
        what="the model to load",
    )
    await pilot.pause()
    return app


async def send(pilot, text: str, *, wait: bool = True) -> None:
    """Type ``text`` in the input, press Enter and (optionally) wait for the reply to end."""
    app: ChatApp = pilot.app
    app.chat.input.focus()
    app.chat.input.insert(text)
    await pilot.press("enter")
    await wait_for(
        pilot,
        lambda: app.chat.replies.streaming_id is not None or app.chat.state.messages,
        what="the reply to start",
    )
    if wait:
        await done(pilot)


async def done(pilot, timeout: float = 60.0) -> None:
    app: ChatApp = pilot.app
    await wait_for(
        pilot,
        lambda: app.chat.replies.streaming_id is None and app.chat.replies.idle.is_set(),
        timeout=timeout,
        what="the reply to end",
    )
    await pilot.pause()


def notices(app: ChatApp) -> list[str]:
    return [str(n.message) for n in app._notifications]
