"""The status bar mounted alone: the spinner turns while the app waits, not while text streams."""

from __future__ import annotations

import pytest
from textual.app import App

from baichuan_tui.ui.widgets.status import SPINNER, StatusBar, meter

pytestmark = pytest.mark.anyio


class Host(App):
    def compose(self):
        yield StatusBar(id="status")


async def test_spinner_turns_while_waiting_and_stops_while_text_streams():
    app = Host()
    async with app.run_test(size=(100, 3)) as pilot:
        bar = app.query_one(StatusBar)
        bar.set(busy="loading model")
        first = bar._frame
        await pilot.pause(0.6)
        assert bar._frame > first and str(bar.render())[0] in SPINNER
        bar.set(tokens_per_s=12.5, streaming=True)
        frozen = bar._frame
        await pilot.pause(0.6)
        assert bar._frame == frozen
        assert str(bar.render()).startswith("● loading model") and "12.5 tok/s" in str(bar.render())
        bar.set(busy="generating")  # a new wait spins again
        assert not bar.streaming
        await pilot.pause(0.6)
        assert bar._frame > frozen
        bar.set(busy=None)
        assert "generating" not in str(bar.render())


def test_meter():
    assert meter(0, 0) == "░" * 10
    assert meter(50, 100) == "█" * 5 + "░" * 5
    assert meter(500, 100) == "█" * 10


async def test_history_state_leads_the_bar_until_cleared():
    app = Host()
    async with app.run_test(size=(100, 3)):
        bar = app.query_one(StatusBar)
        bar.set(model="Baichuan2-7B-Chat")
        assert str(bar.render()).startswith("Baichuan2-7B-Chat")
        bar.set(history="not saved")
        assert str(bar.render()).startswith("⚠ not saved  Baichuan2-7B-Chat")
        bar.set(history=None)
        assert "not saved" not in str(bar.render())
