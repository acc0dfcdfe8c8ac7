"""An input for a .gguf path: Tab completes it (:func:`baichuan_tui.library.complete_path`)."""

from __future__ import annotations

from textual.binding import Binding
from textual.widgets import Input


class PathInput(Input):
    """Tab extends the path by what every match shares; several matches are listed."""

    BINDINGS = [Binding("tab", "complete", "Complete path", id="complete_path", show=False)]

    def action_complete(self) -> None:
        from baichuan_tui.library import complete_path

        text, matches = complete_path(self.value)
        if text != self.value:
            self.value = text
            self.cursor_position = len(text)
        elif len(matches) > 1:
            shown = ", ".join(matches[:8]) + (" …" if len(matches) > 8 else "")
            self.notify(shown, title="matches", timeout=5)
        elif not matches:
            self.notify("no folder or .gguf file matches", severity="warning", timeout=3)
