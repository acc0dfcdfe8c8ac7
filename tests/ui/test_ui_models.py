"""The model manager against a fake Hub: download with progress, then switch to the model
without restarting; cancel a download."""

from __future__ import annotations

import time

import pytest
from uihelpers import notices, options, screen_named, send, wait_for

from baichuan_tui.hub import remote

from fakehub import FakeHub

pytestmark = pytest.mark.anyio

SPEC = "baichuan2-7b-chat:Q4_K_M"
REPO = "second-state/Baichuan2-7B-Chat-GGUF"
FILE = "Baichuan2-7B-Chat-Q4_K_M.gguf"


@pytest.fixture
def hub(b2, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_TOKEN", "")
    monkeypatch.setattr(remote, "RETRY_DELAY_S", 0.01)
    fake = FakeHub()
    fake.add(REPO, FILE, b2.read_bytes())
    with fake:
        monkeypatch.setenv("HF_ENDPOINT", fake.url)
        yield fake


def manager(app):
    return screen_named(app, "ModelManagerScreen")


async def test_download_then_switch_without_restart(run_app, hub):
    opts = options(None, model_error=f"model {SPEC} is not downloaded")
    async with run_app(opts) as pilot:
        app = pilot.app
        await wait_for(pilot, lambda: manager(app) is not None)
        screen = manager(app)
        table = screen.query_one("#catalog")
        await wait_for(pilot, lambda: table.row_count > 0, what="the catalog")
        row = next(i for i, r in enumerate(screen._rows) if r["spec"] == SPEC)
        assert screen._rows[row]["state"] == "not downloaded" and screen._rows[row]["fit"]
        table.move_cursor(row=row)
        table.focus()
        await pilot.press("enter")
        await wait_for(
            pilot, lambda: any("downloaded" in n for n in notices(app)), what="the download"
        )
        assert screen.query_one("#download-label").render()
        await wait_for(pilot, lambda: screen._rows[row]["state"] == "downloaded")
        table.move_cursor(row=row)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.engine is not None, what="the model to load")
        assert app.model_spec == SPEC and app.screen is app.chat
        await send(pilot, "downloaded and loaded")
        assert app.chat.state.conversation.model == SPEC


async def test_cancel_a_download(run_app, monkeypatch):
    from baichuan_tui.hub import download as dl

    started = []

    def slow_download(spec, *, offline=False, on_progress=None, on_verify=None):
        started.append(spec)
        for done in range(0, 10**9, 10**6):  # until the progress callback raises
            on_progress(done, 10**9)
            time.sleep(0.01)

    monkeypatch.setattr(dl, "download", slow_download)
    async with run_app(options(None, model_error="no model")) as pilot:
        app = pilot.app
        await wait_for(pilot, lambda: manager(app) is not None)
        screen = manager(app)
        screen.start_download(SPEC)
        bar = screen.query_one("#download-progress")
        await wait_for(pilot, lambda: bar.display and (bar.progress or 0) > 0, what="progress")
        assert "downloading" in str(screen.query_one("#download-label").render())
        screen.query_one("#catalog").focus()
        await pilot.press("x")
        await wait_for(
            pilot, lambda: any("cancelled" in n for n in notices(app)), what="the cancel"
        )
        assert started == [SPEC] and not bar.display and screen._downloading is None
