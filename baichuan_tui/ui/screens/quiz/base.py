"""What both quiz screens share: the app's engine (when it is free), the form's fields."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, cast

from textual.containers import Horizontal
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Input, Label, Select

from baichuan_tui.quiz.datasets import BENCHMARKS
from baichuan_tui.settings import quiz_data_folder, remember_quiz_data_folder

if TYPE_CHECKING:
    from baichuan_tui.engine.interface import Engine
    from baichuan_tui.ui.app import ChatApp

BENCH_CHOICES = [(b.title, b.name) for b in BENCHMARKS.values()]
"""The benchmark select's options: (title, name) in the registry's order."""


def form_row(label: str, widget: Widget) -> Horizontal:
    return Horizontal(Label(label, classes="name"), widget, classes="field quiz-field")


class QuizScreen(ModalScreen[None]):
    """A quiz dialog over the chat."""

    @property
    def chat_app(self) -> ChatApp:
        return cast("ChatApp", self.app)

    def free_engine(self) -> Engine | None:
        """The loaded engine when no reply is being generated (else a notice and None)."""
        app = self.chat_app
        if app.engine is None:
            self.notify("load a model first (Ctrl+O)", severity="warning")
            return None
        if app.chat.replying:
            self.notify("a reply is being generated: stop it first", severity="warning")
            return None
        return app.engine

    def _value(self, wid: str) -> str:
        return self.query_one(f"#{wid}", Input).value.strip()

    def _bench(self) -> str:
        value = self.query_one("#q-bench", Select).value
        return value if isinstance(value, str) else "ceval"

    def _data(self) -> Path | None:
        """The ``--data`` field as a path (remembered for the benchmark when it is a folder)."""
        text = self._value("q-data")
        folder = Path(text).expanduser() if text else None
        if folder is None or folder.is_dir():
            remember_quiz_data_folder(self._bench(), folder)
        return folder

    _data_for: str | None = None
    """The benchmark the ``--data`` field was filled for."""
    _data_filled = ""
    """What was filled in (a value the user typed instead is never replaced)."""

    def fill_data_folder(self) -> None:
        """Put the folder last used for the chosen benchmark in the ``--data`` field, unless
        the user typed one."""
        field = self.query_one("#q-data", Input)
        self._data_for = self._bench()
        if field.value.strip() in ("", self._data_filled):
            field.value = self._data_filled = quiz_data_folder(self._data_for) or ""

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "q-bench" and self._bench() != self._data_for:
            self.fill_data_folder()
            self.bench_changed()

    def bench_changed(self) -> None:
        """Hook: the benchmark select changed."""
