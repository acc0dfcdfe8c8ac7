"""The compare screen: two tiny models stream into columns at once, and the chat continues
with the chosen reply's model."""

from __future__ import annotations

import pytest
from uihelpers import options, ready, screen_named, wait_for

from baichuan_tui.ui.screens.compare import CompareScreen

pytestmark = pytest.mark.anyio


def compare(app):
    return screen_named(app, "CompareScreen")


def heads(screen) -> list[str]:
    return [str(label.render()) for label in screen.query(".compare-head")]


async def test_compare_side_by_side_and_continue(run_app, b2, tiny):
    base = tiny("b1-7b-base")
    async with run_app(options(b2), size=(140, 40)) as pilot:
        app = await ready(pilot)
        app.push_screen(CompareScreen([str(b2), str(base)], "你好"), app.chat._compared)
        await wait_for(pilot, lambda: compare(app), what="the compare screen")
        screen = compare(app)
        await pilot.click("#compare-start")
        await wait_for(pilot, lambda: screen.replies, what="the comparison to start")
        await wait_for(pilot, lambda: not screen.running, timeout=90, what="both replies")
        await pilot.pause(0.3)
        # both models loaded before either answered: they streamed side by side
        assert screen.events[0] == ("plan", -1)
        assert screen.events[1:3] == [("loading", 0), ("loading", 1)]
        assert all(r.error is None and r.result for r in screen.replies)
        texts = [str(t.render()) for t in screen.query(".compare-text")]
        assert all(texts) and texts == [r.text for r in screen.replies]
        shown = " ".join(heads(screen))
        assert "tok/s" in shown and "ttft" in shown and str(b2) in shown

        await pilot.press("1")  # continue with the first reply
        await wait_for(pilot, lambda: compare(app) is None, what="the chat again")
        await wait_for(
            pilot, lambda: len(app.chat.state.messages) == 2, what="the reply in the chat"
        )
        user, reply = app.chat.state.messages
        assert (user.content, reply.content) == ("你好", screen.replies[0].text)
        assert app.model_spec == str(b2)


async def test_ctrl_k_opens_compare_and_esc_closes(run_app, b2):
    async with run_app(options(b2)) as pilot:
        app = await ready(pilot)
        await pilot.press("ctrl+k")
        await wait_for(pilot, lambda: compare(app), what="the compare screen")
        await pilot.press("escape")
        await wait_for(pilot, lambda: compare(app) is None, what="the chat again")
