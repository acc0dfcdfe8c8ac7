"""The path box (ui/widgets/path_input.py), mounted alone in a tiny host app."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Input

from baichuan_tui.ui.widgets.path_input import PathInput

pytestmark = pytest.mark.anyio


class Host(App[None]):
    def compose(self) -> ComposeResult:
        yield PathInput(id="path")
        yield Input(id="after")


async def test_tab_in_an_empty_box_moves_on_and_completes_otherwise(tmp_path) -> None:
    (tmp_path / "model-one.gguf").write_bytes(b"")
    async with Host().run_test() as pilot:
        box = pilot.app.query_one("#path", PathInput)
        box.focus()
        await pilot.press("tab")  # nothing to complete: focus goes on (no keyboard trap)
        assert pilot.app.focused is pilot.app.query_one("#after")
        box.focus()
        box.value = str(tmp_path / "model-o")
        await pilot.press("tab")
        assert pilot.app.focused is box and box.value == str(tmp_path / "model-one.gguf")
