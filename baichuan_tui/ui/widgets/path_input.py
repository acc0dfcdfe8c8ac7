"""An input for a path (a .gguf file unless told otherwise): Tab completes it
(:func:`baichuan_tui.library.complete_path`)."""

from __future__ import annotations

from typing import Any

from textual.binding import Binding
from textual.widget import Widget
from textual.widgets import Input


def complete_into(widget: Widget, value: str, suffixes: tuple[str, ...] | None) -> str | None:
    """The completed ``value`` when Tab extends it (None: it does not; several matches are
    then listed in a notification on ``widget``, none said)."""
    from baichuan_tui.library import complete_path

    text, matches = complete_path(value, suffixes)
    if text != value:
        return text
    if len(matches) > 1:
        shown = ", ".join(matches[:8]) + (" …" if len(matches) > 8 else "")
        widget.notify(shown, title="matches", timeout=5)
    elif not matches:
        what = "file" if suffixes is None else " or ".join(suffixes) + " file"
        widget.notify(f"no folder or {what} matches", severity="warning", timeout=3)
    return None


class PathInput(Input):
    """Tab extends the path by what every match shares; several matches are listed (an empty
    box: Tab moves focus on, so a keyboard never gets stuck in it)."""

    BINDINGS = [Binding("tab", "complete", "Complete path", id="complete_path", show=False)]

    def __init__(
        self,
        value: str | None = None,
        *,
        suffixes: tuple[str, ...] | None = (".gguf",),
        **kwargs: Any,
    ) -> None:
        super().__init__(value, **kwargs)
        self.suffixes = suffixes
        """The files offered (None: every file)."""

    def action_complete(self) -> None:
        if not self.value.strip():  # nothing to complete: Tab moves on, as in any input
            self.screen.focus_next()
            return
        text = complete_into(self, self.value, self.suffixes)
        if text is not None:
            self.value = text
            self.cursor_position = len(text)
