"""The compare screen: two tiny models stream into columns at once; blind labels stay hidden
until the vote, the vote is stored, and the chat continues with the chosen reply's model."""

from __future__ import annotations

import random

import pytest
from uihelpers import options, ready, screen_named, wait_for

from baichuan_tui.store.conversations import Store
from baichuan_tui.ui.screens.compare import CompareScreen

pytestmark = pytest.mark.anyio


def compare(app):
    return screen_named(app, "CompareScreen")


def heads(screen) -> list[str]:
    return [str(label.render()) for label in screen.query(".compare-head")]


async def test_blind_compare_vote_and_continue(run_app, b2, tiny):
    base = tiny("b1-7b-base")
    async with run_app(options(b2), size=(140, 40)) as pilot:
        app = await ready(pilot)
        app.push_screen(
            CompareScreen([str(b2), str(base)], "你好", blind=True, rng=random.Random(3)),
            app.chat._compared,
        )
        await wait_for(pilot, lambda: compare(app), what="the compare screen")
        screen = compare(app)
        screen.query_one("#compare-blind").value = True
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
        assert "A" in shown and "B" in shown and "tok/s" in shown
        assert b2.name not in shown and base.name not in shown  # blind until the vote

        await pilot.press("2")
        await pilot.pause(0.2)
        with Store() as store:
            (vote,) = store.votes()
        assert vote.winner == 1 and vote.prompt == "你好"
        winner = screen.replies[1]
        assert winner.key in " ".join(heads(screen))  # names shown after the vote

        await pilot.press("enter")  # continue with the winner
        await wait_for(pilot, lambda: compare(app) is None, what="the chat again")
        await wait_for(
            pilot, lambda: len(app.chat.state.messages) == 2, what="the reply in the chat"
        )
        user, reply = app.chat.state.messages
        assert (user.content, reply.content) == ("你好", winner.text)
        await wait_for(
            pilot,
            lambda: app.model_spec == winner.contender.request.spec and app.loading is None,
            timeout=60,
            what="the winner's model",
        )


async def test_ctrl_k_opens_compare_and_esc_closes(run_app, b2):
    async with run_app(options(b2)) as pilot:
        app = await ready(pilot)
        await pilot.press("ctrl+k")
        await wait_for(pilot, lambda: compare(app), what="the compare screen")
        await pilot.press("escape")
        await wait_for(pilot, lambda: compare(app) is None, what="the chat again")


async def test_compare_side_by_side_and_continue(run_app, b2, tiny):
    base = tiny("b1-7b-base")
    async with run_app(options(b2), size=(140, 40)) as pilot:
        app = await ready(pilot)
        app.push_screen(CompareScreen([str(b2), str(base)], "你好"), app.chat._compared)
        await wait_for(pilot, lambda: compare(app), what="the compare screen")
        screen = compare(app)
        await pilot.click("#compare-start")
        await wait_for(pilot, lambda: not screen.running and screen.replies, timeout=90)
        await pilot.pause(0.3)
        assert str(b2) in " ".join(heads(screen))  # not blind: names from the start
        await pilot.press("1")  # continue with the first reply
        await wait_for(pilot, lambda: compare(app) is None, what="the chat again")
        await wait_for(pilot, lambda: len(app.chat.state.messages) == 2)
        assert app.chat.state.messages[1].content == screen.replies[0].text
