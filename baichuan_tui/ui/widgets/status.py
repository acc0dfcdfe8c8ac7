"""The status bar: history state, model and quant, template, speed, context meter, GPU layers."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import events
from textual.message import Message
from textual.widget import Widget

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


def meter(used: int, total: int, width: int = 10) -> str:
    """``[████░░░░░░]`` for ``used`` of ``total``."""
    frac = min(max(used / total, 0.0), 1.0) if total else 0.0
    full = round(frac * width)
    return "█" * full + "░" * (width - full)


class StatusBar(Widget):
    """One line of facts about the loaded model and the last reply.

    It repaints without a layout pass (its size never changes). The spinner turns while the
    app waits (loading, reading a prompt) and stops once reply text streams, which shows
    progress itself: every repaint takes CPU from generation on a machine with few cores.
    A click on the model's name posts :class:`ModelClicked` (the chat opens its model menu).
    """

    class ModelClicked(Message):
        """The model's name in the status bar was clicked."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model = "no model"
        self.template = ""
        self.tokens_per_s: float | None = None
        self.ctx_used = 0
        self.ctx_total = 0
        self.gpu_layers: int | None = None
        self.busy: str | None = None
        self.model_warning: str | None = None
        """A standing warning about the loaded model (its head needs ``models fix``)."""
        self.history: str | None = None
        """Why the history is not being saved ("not saved", "history read-only"), or None."""
        self.streaming = False
        self._frame = 0
        self._model_cells = (0, 0)
        """Where the model's name was last drawn: [start, end) columns."""

    def on_mount(self) -> None:
        self.set_interval(0.25, self._spin)

    def set(self, **values: object) -> None:
        if "busy" in values:
            values.setdefault("streaming", False)
        for key, value in values.items():
            setattr(self, key, value)
        self.refresh()

    def on_click(self, event: events.Click) -> None:
        start, end = self._model_cells
        at = event.get_content_offset(self)  # columns of the text, past the padding
        if at is not None and start <= at.x < end:
            event.stop()
            self.post_message(self.ModelClicked())

    def _spin(self) -> None:
        if self.busy and not self.streaming:
            self._frame += 1
            self.refresh()

    def render(self) -> Text:
        t = Text(no_wrap=True, overflow="ellipsis")
        if self.busy:
            mark = "●" if self.streaming else SPINNER[self._frame % len(SPINNER)]
            t.append(f"{mark} {self.busy}  ", style="bold")
        if self.history:
            t.append(f"⚠ {self.history}", style="bold red")
            t.append("  ")
        start = t.cell_len
        t.append(self.model, style="bold underline")
        self._model_cells = (start, t.cell_len)
        if self.model_warning:
            t.append(f" ⚠ {self.model_warning}", style="bold yellow")
        if self.template:
            t.append(f" │ {self.template}")
        if self.tokens_per_s is not None:
            t.append(f" │ {self.tokens_per_s:.1f} tok/s")
        if self.ctx_total:
            pct = 100 * self.ctx_used / self.ctx_total
            style = "red" if pct > 90 else "yellow" if pct > 70 else ""
            t.append(" │ ctx ")
            t.append(meter(self.ctx_used, self.ctx_total), style=style)
            t.append(f" {self.ctx_used}/{self.ctx_total}")
        if self.gpu_layers is not None:
            t.append(f" │ GPU {self.gpu_layers} layers" if self.gpu_layers else " │ CPU")
        return t
