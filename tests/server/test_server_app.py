"""The app with ``--server`` against the real llama-server: ``launch_options`` carries the
server, and under Pilot a reply streams from it, equals the local engine's and is stored."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ui"))
from uihelpers import done, options, ready, send, wait_for  # noqa: E402

from baichuan_tui import settings as settings_mod  # noqa: E402
from baichuan_tui.cli import build_parser  # noqa: E402
from baichuan_tui.commands.app import launch_options  # noqa: E402
from baichuan_tui.engine.llama import LlamaEngine, LoadOptions  # noqa: E402
from baichuan_tui.engine.prompts import Message  # noqa: E402
from baichuan_tui.engine.sampling import Sampling  # noqa: E402
from baichuan_tui.server.engine import ServerEngine  # noqa: E402
from baichuan_tui.store.conversations import Store  # noqa: E402
from baichuan_tui.ui.app import ChatApp  # noqa: E402

CTX = 1024


@pytest.fixture(scope="module")
def server(tiny, launch):
    return launch(tiny("b2-7b-chat"), ctx=CTX)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_launch_options_carry_the_server(server):
    args = build_parser().parse_args(["--server", server.url])
    opts = launch_options(args, settings_mod.load())
    assert (opts.model, opts.server, opts.model_error) == (server.url, server.url, None)
    assert opts.load_request(server.url).spec is None
    picked = launch_options(
        build_parser().parse_args(["--server", server.url, "-m", "x.gguf"]), settings_mod.load()
    )
    assert picked.load_request("x.gguf").spec == "x.gguf"


@pytest.mark.anyio
async def test_a_reply_streams_from_the_server_and_is_stored(server, tiny):
    path = tiny("b2-7b-chat")
    opts = options(server.url, server=server.url)
    app = ChatApp(opts)
    try:
        async with app.run_test(size=(110, 36)) as pilot:
            await ready(pilot)
            assert isinstance(app.engine, ServerEngine)
            assert app.chat.status.model.startswith("Baichuan2-7B-Chat")
            await send(pilot, "你好，百川")
            await done(pilot)
            view = app.chat.log_view.views[-1]
            assert view.role == "assistant" and view.content
            conv = app.chat.state.conversation
            assert conv is not None
            with Store() as store:
                rows = [(m.role, m.content) for m in store.messages(conv.id)]
            assert rows == [("user", "你好，百川"), ("assistant", view.content)]
    finally:
        app.shutdown()
    assert settings_mod.load().last_model is None  # a server is not remembered as a file
    greedy = Sampling(temperature=0.0, repeat_penalty=1.0, seed=1, max_tokens=24)
    with LlamaEngine(path, LoadOptions(n_ctx=CTX)) as local:
        gen = local.generate(local.prompt([Message("user", "你好，百川")], max_tokens=24), greedy)
        gen.wait()
        assert gen.result is not None
        assert view.content == gen.result.text.strip() or view.content == gen.result.text


@pytest.mark.anyio
async def test_the_model_manager_does_not_download_or_load_locally_on_a_server(server, tiny):
    from textual.widgets import DataTable

    from baichuan_tui.ui.screens.models import ModelManagerScreen

    app = ChatApp(options(server.url, server=server.url))
    try:
        async with app.run_test(size=(130, 40)) as pilot:
            await ready(pilot)
            engine = app.engine
            await pilot.press("ctrl+o")
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, ModelManagerScreen)
            table = screen.query_one(DataTable)
            await wait_for(pilot, lambda: table.row_count > 0, what="the model list")
            await pilot.press("enter")  # a catalog quant: not downloaded here, not loaded
            await pilot.pause()
            assert screen._downloading is None
            notes = [n.message for n in app._notifications]
            assert any("relaunch without --server" in n for n in notes), notes
            assert app.engine is engine and app.loading is None
    finally:
        app.shutdown()
