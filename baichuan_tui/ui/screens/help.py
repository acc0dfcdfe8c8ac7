"""The help screen: every key, what it does, and its id for ``[keymap]`` in config.toml."""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label, Markdown

INTRO = """\
**Enter** sends, **Shift+Enter** or **Ctrl+J** adds a line, **Ctrl+E** opens `$EDITOR`.
**Esc** stops a reply (the partial text is kept). **PageUp**/**PageDown** scroll the
chat (**Home**/**End** too while the box is empty). **Shift+Tab** moves to the last message
(Shift+Tab / Tab from one to the next; there **e** edits and resends, **c** copies).
**Ctrl+P** opens the command palette, where every action is listed. Rebind keys in `config.toml`:
`[keymap]` then `regenerate = "ctrl+r,f5"` (ids below).
"""


def binding_rows(
    groups: Sequence[tuple[str, Sequence[BindingType]]], keymap: dict[str, str]
) -> list[tuple[str, str, str, str]]:
    """(where, keys, description, id) for each :class:`Binding`, with the keymap applied."""
    rows = []
    for where, bindings in groups:
        for b in bindings:
            if not isinstance(b, Binding):
                continue  # a bare (key, action) tuple: none here, and no id to show
            keys = keymap.get(b.id or "", b.key)
            rows.append((where, keys.replace(",", ", "), b.description or b.action, b.id or ""))
    return rows


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,f1,q", "close", "Close")]

    def __init__(self, rows: list[tuple[str, str, str, str]]) -> None:
        super().__init__(classes="dialog")
        self._rows = rows

    def compose(self) -> ComposeResult:
        with Vertical(classes="box wide"):
            yield Label("Keys", classes="dialog-title")
            yield Markdown(INTRO)
            yield DataTable(id="keys", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("where", "keys", "action", "keymap id")
        table.add_rows(self._rows)
        table.focus()

    def action_close(self) -> None:
        self.dismiss(None)
