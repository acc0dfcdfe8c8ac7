"""The model switcher (Ctrl+O) lists the model library: a folder's good file is listed and
loads, bad files are listed with their one-line reason; type to filter; Tab completes a path."""

from __future__ import annotations

import shutil

import pytest
from uihelpers import notices, options, ready, screen_named, wait_for

from baichuan_tui.settings import Settings

from tiny_models import bad_file

pytestmark = pytest.mark.anyio


def manager(app):
    return screen_named(app, "ModelManagerScreen")


async def test_switcher_lists_library_and_loads_from_it(run_app, b2, tiny, tmp_path):
    folder = tmp_path / "lib"
    folder.mkdir()
    good = folder / "good-base.gguf"
    shutil.copy(tiny("b1-7b-base"), good)
    bad_file("truncated", folder, "cut.gguf")
    bad_file("text", folder, "notes.gguf")
    settings = Settings(library_folders=(str(folder),))
    async with run_app(options(b2), size=(160, 40), settings=settings) as pilot:
        app = await ready(pilot)
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: manager(app), what="the model manager")
        screen = manager(app)
        await wait_for(pilot, lambda: screen._library, what="the library scan")
        rows = {r["spec"]: r for r in screen._library}
        assert rows[str(good)]["ok"] and rows[str(good)]["title"].startswith("baichuan")
        assert rows[str(good)]["fit"]
        for name, words in (("cut.gguf", "truncated"), ("notes.gguf", "not a GGUF")):
            bad = rows[str(folder / name)]
            assert not bad["ok"] and words in bad["state"]
        table = screen.query_one("#catalog")
        for ch in "good-base":
            await pilot.press(ch)  # the filter has the focus
        await wait_for(pilot, lambda: table.row_count == 1, what="the filter")
        assert screen._shown[0]["spec"] == str(good)

        await pilot.press("enter")
        await wait_for(pilot, lambda: app.model_spec == str(good), timeout=60, what="loading")
        assert manager(app) is None


async def test_bad_library_file_says_why(run_app, b2, tmp_path):
    folder = tmp_path / "lib"
    bad_file("truncated", folder, "cut.gguf")
    settings = Settings(library_folders=(str(folder),))
    async with run_app(options(b2), size=(160, 40), settings=settings) as pilot:
        app = await ready(pilot)
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: manager(app), what="the model manager")
        screen = manager(app)
        await wait_for(pilot, lambda: screen._library, what="the library scan")
        for ch in "cut":
            await pilot.press(ch)
        await wait_for(pilot, lambda: len(screen._shown) == 1, what="the filter")
        await pilot.press("enter")
        await wait_for(pilot, lambda: any("truncated" in n for n in notices(app)))
        assert app.model_spec == str(b2)


async def test_tab_completes_a_path(run_app, b2, tmp_path):
    (tmp_path / "models").mkdir()
    shutil.copy(b2, tmp_path / "models" / "only-one.gguf")
    async with run_app(options(b2)) as pilot:
        app = await ready(pilot)
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: manager(app), what="the model manager")
        box = manager(app).query_one("#path")
        box.focus()
        box.value = str(tmp_path / "mod")
        box.cursor_position = len(box.value)
        await pilot.press("tab")
        assert box.value == str(tmp_path / "models") + "/"
        await pilot.press("tab")
        assert box.value == str(tmp_path / "models" / "only-one.gguf")


async def test_status_bar_model_menu_lists_recent_first_and_loads(run_app, b2, tiny, tmp_path):
    """A click on the model's name in the status bar (or F3) opens the model menu: usable
    models on this machine, the loaded one first, then the most recently used; bad files and
    adapters are left out; Enter loads one; the last line opens the whole library."""
    from baichuan_tui import jsonstate, locations
    from baichuan_tui.ui.screens.model_menu import LIBRARY, ModelMenu

    folder = tmp_path / "lib"
    folder.mkdir()
    older, newer = folder / "a-older.gguf", folder / "z-newer.gguf"  # names sort the other way
    shutil.copy(tiny("b1-7b-base"), older)
    shutil.copy(tiny("b1-7b-base"), newer)
    bad_file("truncated", folder, "cut.gguf")
    times = {str(older): "2026-01-01T10:00:00+00:00", str(newer): "2026-02-01T10:00:00+00:00"}
    jsonstate.update(locations.state_file(), lambda state: state.update(recent=times))
    settings = Settings(library_folders=(str(folder),))
    async with run_app(options(b2), size=(160, 40), settings=settings) as pilot:
        app = await ready(pilot)
        status = app.chat.status
        start, end = status._model_cells
        assert end > start
        await pilot.click("#status", offset=(1 + start + 1, 0))  # padding, then the name
        await wait_for(pilot, lambda: screen_named(app, "ModelMenu"), what="the model menu")
        menu = screen_named(app, "ModelMenu").query_one("#model-menu")
        await wait_for(pilot, lambda: menu.option_count > 1, what="the library read")
        ids = [menu.get_option_at_index(i).id for i in range(menu.option_count)]
        assert ids[0] == app.model_spec and ids[-1] == LIBRARY
        mine = [i for i in ids if i and i.startswith(str(folder))]
        assert mine == [str(newer), str(older)]  # the most recently used first; cut.gguf out
        assert str(menu.get_option_at_index(0).prompt).startswith("● ")
        menu.highlighted = ids.index(str(newer))
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.model_spec == str(newer), timeout=60, what="loading")
        assert not isinstance(app.screen, ModelMenu)

        await pilot.press("f3")
        await wait_for(pilot, lambda: screen_named(app, "ModelMenu"), what="the menu again")
        menu = screen_named(app, "ModelMenu").query_one("#model-menu")
        await wait_for(pilot, lambda: menu.option_count > 1, what="the library read")
        menu.highlighted = menu.option_count - 1
        await pilot.press("enter")
        await wait_for(pilot, lambda: manager(app), what="the whole library")
