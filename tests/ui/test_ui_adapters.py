"""LoRA adapters in the app (issue 15): applied, re-scaled and removed on the loaded model
without reloading it (Ctrl+L), shown in the status bar, recorded with each reply."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from uihelpers import options, ready, screen_named, send, wait_for

from baichuan_tui.engine.lora import Lora
from baichuan_tui.store.conversations import Store
from baichuan_tui.ui.screens.adapters import AdaptersScreen

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "convert"))

from hf_checkpoint import write_checkpoint  # noqa: E402
from peft_adapter import write_adapter  # noqa: E402

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def base_and_adapter(tmp_path_factory) -> tuple[Path, Path]:
    from baichuan_tui.convert.lora import convert_adapter
    from baichuan_tui.convert.pipeline import convert

    root = tmp_path_factory.mktemp("lora-app")
    ck = write_checkpoint(root / "hf", layers=32, arch="BaiChuanForCausalLM", dtype="F16", seed=1)
    base = root / "base.gguf"
    convert(ck.folder, base, outtype="f32", record=False)
    adapter = write_adapter(root / "peft", ck, r=4, alpha=32, seed=21)
    out = root / "ad.gguf"
    convert_adapter(adapter.folder, base, out, outtype="f32")
    return base, out


def dialog(app) -> AdaptersScreen | None:
    screen = app.screen
    return screen if isinstance(screen, AdaptersScreen) else None


async def set_adapters(pilot, app, lines: dict[str, str]) -> None:
    """Open Ctrl+L, fill the given inputs (by id), press Enter; wait until it is applied."""
    await pilot.press("ctrl+l")
    await wait_for(pilot, lambda: dialog(app), what="the adapters dialog")
    for box_id, text in lines.items():
        dialog(app).query_one(f"#{box_id}").value = text
    before = app.chat.engine.loras
    await pilot.press("enter")
    await wait_for(pilot, lambda: dialog(app) is None, what="the dialog closing")
    await wait_for(pilot, lambda: app.chat.engine.loras != before, what="the new adapters")
    await wait_for(pilot, lambda: not app.chat.status.busy, what="applying to end")


async def reply(pilot, app, text: str = "hello") -> str:
    await pilot.press("ctrl+n")
    await send(pilot, text)
    return app.chat.state.messages[-1].content


async def test_apply_rescale_and_remove_an_adapter_live(run_app, base_and_adapter, tmp_path):
    base, adapter = base_and_adapter
    async with run_app(options(base, sampling={"max_tokens": 8})) as pilot:
        app = await ready(pilot)
        engine = app.chat.engine
        plain = await reply(pilot, app)

        await set_adapters(pilot, app, {"lora-new": str(adapter)})
        assert app.chat.engine is engine  # the same model: not reloaded
        assert engine.loras == (Lora(str(adapter), 1.0),)
        assert adapter.name in app.chat.status.model
        on = await reply(pilot, app)
        assert on != plain
        with Store() as store:
            stats = store.messages(app.chat.state.conversation.id)[-1].stats
        assert [(a["file"], a["scale"]) for a in stats["adapters"]] == [(adapter.name, 1.0)]
        assert stats["adapters"][0]["sha256"]

        await set_adapters(pilot, app, {"lora-0": f"{adapter}:0"})  # scale 0: off
        assert engine.loras == (Lora(str(adapter), 0.0),)
        assert await reply(pilot, app) == plain

        await set_adapters(pilot, app, {"lora-0": ""})  # emptied: removed
        assert engine.loras == ()
        assert adapter.name not in app.chat.status.model
        assert await reply(pilot, app) == plain

        not_adapter = tmp_path / "notes.gguf"
        not_adapter.write_bytes(b"GGUF but not really")
        await pilot.press("ctrl+l")
        await wait_for(pilot, lambda: dialog(app), what="the adapters dialog")
        dialog(app).query_one("#lora-new").value = str(not_adapter)
        await pilot.press("enter")
        await pilot.pause(0.2)
        error = str(dialog(app).query_one("#adapters-error").render())
        assert "notes.gguf" in error and "\n" not in error.strip()  # one line, dialog stays
        await pilot.press("escape")
        assert engine.loras == ()


async def test_quiz_compares_the_base_model_with_the_adapters(run_app, base_and_adapter, tmp_path):
    """The quiz screen scores the base model, then with the adapters, on the one loaded model,
    and shows both runs side by side; each run as a freshly loaded model scores it."""
    from test_ui_quiz import open_run_screen, text_of

    from baichuan_tui.engine.llama import LlamaEngine, LoadOptions
    from baichuan_tui.quiz import results, session

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "quiz"))
    import quizdata

    base, adapter = base_and_adapter
    quizdata.write_ceval(tmp_path / "ceval", {"logic": 4, "law": 3}, seed=5)
    async with run_app(options(base, n_ctx=2048), size=(120, 48)) as pilot:
        app = await ready(pilot)
        screen = await open_run_screen(pilot)
        assert not screen.query_one("#q-lora-compare").display  # no adapters: nothing to compare
        await pilot.press("escape")
        await set_adapters(pilot, app, {"lora-new": f"{adapter}:0.8"})
        engine = app.chat.engine
        screen = await open_run_screen(pilot)
        box = screen.query_one("#q-lora-compare")
        assert box.display and f"{adapter.name}:0.8" in str(box.label)
        box.value = True
        for wid, value in {"split": "val", "shots": "1", "data": str(tmp_path / "ceval")}.items():
            screen.query_one(f"#q-{wid}").value = value
        await pilot.click("#q-run")
        await wait_for(pilot, lambda: len(screen.records) == 2, timeout=120, what="both runs")
        await pilot.pause()
        plain, adapted = screen.records
        assert app.chat.engine is engine and engine.loras == (Lora(str(adapter), 0.8),)
        assert "loras" not in plain["model"]
        assert [(x["file"], x["scale"]) for x in adapted["model"]["loras"]] == [(adapter.name, 0.8)]
        assert results.load_run(plain["id"])["questions"] == plain["questions"]
        shown = text_of(screen.query_one("#q-compare"))
        assert plain["id"] in shown and adapted["id"] in shown and f"+ {adapter.name}:0.8" in shown
        status = text_of(screen.query_one("#q-status"))
        assert plain["id"] in status and adapted["id"] in status

    request = session.RunRequest("ceval", split="val", data=tmp_path / "ceval", shots=1)
    prepared = session.prepare(request)
    for record, loras in ((plain, ()), (adapted, (Lora(str(adapter), 0.8),))):
        with LlamaEngine(base, LoadOptions(n_ctx=2048, n_threads=1, loras=loras)) as fresh:
            outcome = session.score(prepared, fresh)
        fresh_q = [q.to_dict() for s in outcome.subjects for q in s.questions]
        assert [q["prediction"] for q in fresh_q] == [q["prediction"] for q in record["questions"]]
        for got, want in zip(record["questions"], fresh_q, strict=True):
            assert max(abs(got["probs"][k] - want["probs"][k]) for k in "ABCD") < 1e-4
    moved = max(
        abs(a["probs"][k] - b["probs"][k])
        for a, b in zip(plain["questions"], adapted["questions"], strict=True)
        for k in "ABCD"
    )
    assert moved > 1e-3  # the adapter changed what the model answers


async def test_an_adapter_chosen_in_the_library_is_applied(run_app, base_and_adapter, tmp_path):
    """Enter on an adapter in the model library (Ctrl+O) opens the adapters dialog with it
    filled in; Enter applies it to the loaded model."""
    import shutil

    from baichuan_tui.settings import Settings

    base, adapter = base_and_adapter
    folder = tmp_path / "lib"
    folder.mkdir()
    mine = folder / "my-qlora.gguf"
    shutil.copy(adapter, mine)
    settings = Settings(library_folders=(str(folder),))
    async with run_app(options(base), size=(160, 40), settings=settings) as pilot:
        app = await ready(pilot)
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: screen_named(app, "ModelManagerScreen"), what="library")
        library = screen_named(app, "ModelManagerScreen")
        await wait_for(pilot, lambda: library._library, what="the library scan")
        for ch in "my-qlora":
            await pilot.press(ch)
        # the adapter, and the base it was converted for (which lists it beside its source)
        await wait_for(pilot, lambda: len(library._shown) == 2, what="the filter")
        assert [r["spec"] for r in library._shown] == [str(mine), str(base)]
        assert "LoRA adapter for base.gguf" in library._shown[0]["state"]
        assert library._shown[1]["state"].endswith("+ my-qlora.gguf")
        await pilot.press("enter")
        await wait_for(pilot, lambda: dialog(app), what="the adapters dialog")
        assert dialog(app).query_one("#lora-new").value == str(mine)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.chat.engine.loras, what="the adapter applied")
        assert app.chat.engine.loras == (Lora(str(mine), 1.0),)
