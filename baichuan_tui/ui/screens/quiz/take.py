"""Take the quiz yourself beside the model: one subject's questions, answered with A–D.

You answer (keys or buttons), then see the model's choice with its A–D probabilities, the
right answer and the explanation when the dataset has one. The rules, the tally and the history
transcript are :class:`baichuan_tui.quiz.session.TakeSession`'s; this screen shows and calls.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.suggester import SuggestFromList
from textual.widgets import Button, Input, Label, Select, Static

from baichuan_tui.errors import error_line
from baichuan_tui.quiz import session
from baichuan_tui.quiz.datasets import BENCHMARKS
from baichuan_tui.quiz.schema import LETTERS
from baichuan_tui.ui.screens.quiz.base import BENCH_CHOICES, QuizScreen, form_row

if TYPE_CHECKING:
    from baichuan_tui.engine.interface import Engine
    from baichuan_tui.quiz.runner import QuestionResult
    from baichuan_tui.quiz.schema import Item, Subject


class SubjectLoaded(Message):
    def __init__(self, take: session.TakeSession | None, error: str | None = None) -> None:
        super().__init__()
        self.take = take
        self.error = error


class Scored(Message):
    def __init__(self, index: int, result: QuestionResult | None, error: str | None = None) -> None:
        super().__init__()
        self.index = index
        self.result = result
        self.error = error


def reveal_text(shown: session.Reveal) -> Text:
    """The right answer, both answers, the model's A–D probabilities and the explanation."""
    item, mine, result = shown.item, shown.mine, shown.result
    text = Text()
    text.append(f"right answer: {item.answer}\n", "bold")
    text.append(f"you: {mine} ")
    text.append("✓" if shown.you_ok else "✗", "green" if shown.you_ok else "red")
    text.append(f"   model: {result.prediction} ")
    text.append("✓" if shown.model_ok else "✗", "green" if shown.model_ok else "red")
    text.append("\n\nthe model's probabilities:\n")
    for letter in LETTERS:
        p = result.probs[letter]
        width = round(p * 30)
        style = "green" if letter == item.answer else "red" if letter == result.prediction else ""
        text.append(f" {letter} {p * 100:6.2f} % ")
        text.append("█" * width, style or "default")
        text.append("░" * (30 - width) + "\n", "dim")
    if item.explanation.strip():
        text.append("\nexplanation: ", "bold")
        text.append(item.explanation.strip())
    return text


class QuizTakeScreen(QuizScreen):
    """Answer a subject's questions yourself, then see the model's answer and the key."""

    BINDINGS = [
        Binding("escape", "close", "Close", id="quiz_close"),
        Binding("a", "answer('A')", "A", show=False),
        Binding("b", "answer('B')", "B", show=False),
        Binding("c", "answer('C')", "C", show=False),
        Binding("d", "answer('D')", "D", show=False),
        Binding("n,enter", "next", "Next question", id="quiz_next"),
    ]

    def __init__(self, *, bench: str = "ceval", subject: str = "", data: str = "") -> None:
        super().__init__(classes="dialog")
        self._init = (bench, subject, data)
        self.take: session.TakeSession | None = None
        self.index = -1
        self._engine_ref: Engine | None = None

    # -- the session, for the screen and its tests -------------------------------------------
    @property
    def subject(self) -> Subject | None:
        return self.take.subject if self.take else None

    @property
    def item(self) -> Item | None:
        return self.take.item(self.index) if self.take else None

    @property
    def revealed(self) -> set[int]:
        return self.take.revealed if self.take else set()

    @property
    def model(self) -> dict[int, QuestionResult]:
        return self.take.model if self.take else {}

    @property
    def you(self) -> int:
        return self.take.you if self.take else 0

    @property
    def model_right(self) -> int:
        return self.take.model_right if self.take else 0

    def compose(self) -> ComposeResult:
        bench, subject, data = self._init
        with Vertical(classes="box wide", id="quiz-take"):
            yield Label("Take the quiz — you vs the model", classes="dialog-title")
            with Horizontal(classes="quiz-form"):
                with Vertical(classes="quiz-col"):
                    yield form_row(
                        "benchmark",
                        Select(BENCH_CHOICES, value=bench, allow_blank=False, id="q-bench"),
                    )
                    yield form_row(
                        "subject",
                        Input(subject, placeholder="type: it completes (→)", id="q-subject"),
                    )
                with Vertical(classes="quiz-col"):
                    yield form_row(
                        "split",
                        Input(placeholder="default (C-Eval: dev has explanations)", id="q-split"),
                    )
                    yield form_row(
                        "--data", Input(data, placeholder="Hugging Face cache", id="q-data")
                    )
            with Horizontal(classes="buttons"):
                yield Button("Start", id="q-start", variant="primary", compact=True)
                yield Label("", id="q-tally")
            with VerticalScroll(id="q-body"):
                yield Static("", id="q-question")
                with Horizontal(classes="buttons", id="q-answers"):
                    for letter in LETTERS:
                        yield Button(letter, id=f"q-{letter}", compact=True)
                    yield Button("Next ›", id="q-next", compact=True)
                yield Static("", id="q-reveal")

    def on_mount(self) -> None:
        self.query_one("#q-answers").display = False
        self.fill_data_folder()
        self.bench_changed()
        self.query_one("#q-subject" if self._init[0] else "#q-bench").focus()

    def bench_changed(self) -> None:
        """List the chosen benchmark's subjects, and complete them in the subject field."""
        bench = BENCHMARKS[self._bench()]
        names = list(bench.subjects)
        self.query_one("#q-subject", Input).suggester = SuggestFromList(names)
        if self.take is None:  # the question area lists them until a subject is loaded
            self.query_one("#q-question", Static).update(
                Text(f"{bench.title}: {len(names)} subjects — " + ", ".join(names), "dim")
            )

    # -- starting --------------------------------------------------------------------------
    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_start()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        bid = event.button.id or ""
        if bid == "q-start":
            self.action_start()
        elif bid == "q-next":
            self.action_next()
        elif bid.removeprefix("q-") in LETTERS:
            self.action_answer(bid.removeprefix("q-"))

    def action_start(self) -> None:
        name = self._value("q-subject")
        if not name:
            self.notify("name a subject first", severity="warning")
            return
        engine = self.free_engine()
        if engine is None:
            return
        self._engine_ref = engine
        self.query_one("#q-start", Button).disabled = True
        self.query_one("#q-question", Static).update(f"loading {name}…")
        self._load(self._bench(), name, self._value("q-split") or None, self._data())

    @work(thread=True, exclusive=True, group="quiz-load")
    def _load(self, bench: str, name: str, split: str | None, data: Path | None) -> None:
        try:
            take = session.load_subject(
                bench, name, split=split, data=data, offline=self.chat_app.options.offline
            )
        except Exception as exc:  # noqa: BLE001 - one line on the screen
            self.post_message(SubjectLoaded(None, error_line(exc)))
        else:
            self.post_message(SubjectLoaded(take))

    def on_subject_loaded(self, message: SubjectLoaded) -> None:
        self.query_one("#q-start", Button).disabled = False
        if message.take is None:
            self.query_one("#q-question", Static).update(Text(message.error or "", "red"))
            self.notify(message.error or "could not load the subject", severity="error")
            return
        self.take = message.take
        self.index = -1
        self.query_one("#q-answers").display = True
        self._show_tally()
        self._go(0)

    # -- questions -------------------------------------------------------------------------
    def _go(self, index: int) -> None:
        assert self.take is not None
        self.index = index
        item = self.item
        self.query_one("#q-reveal", Static).update("")
        if item is None:
            self._finish()
            return
        text = Text()
        text.append(
            f"{self.take.subject.title} — question {index + 1}/{len(self.take.subject.items)}\n\n",
            "bold",
        )
        text.append(item.question)
        for letter, option in zip(LETTERS, item.options, strict=False):
            text.append(f"\n{letter}. {option}")
        self.query_one("#q-question", Static).update(text)
        for letter in LETTERS:
            self.query_one(f"#q-{letter}", Button).disabled = False
        self.query_one("#q-next", Button).disabled = True
        self.query_one("#q-A", Button).focus()
        self._score(self.take, index)

    @work(thread=True, group="quiz-score")
    def _score(self, take: session.TakeSession, index: int) -> None:
        try:
            assert self._engine_ref is not None
            result = take.score(index, self._engine_ref)
        except Exception as exc:  # noqa: BLE001 - shown, never fatal
            self.post_message(Scored(index, None, error_line(exc)))
        else:
            self.post_message(Scored(index, result))

    def on_scored(self, message: Scored) -> None:
        if message.result is None:
            self.notify(f"the model could not answer: {message.error}", severity="error")
            return
        if self.take is None:
            return
        self.take.model_answered(message.index, message.result)
        self._maybe_reveal(message.index)

    def action_answer(self, letter: str) -> None:
        if self.take is None or not self.take.answer(self.index, letter):
            return
        for other in LETTERS:
            self.query_one(f"#q-{other}", Button).disabled = True
        if self.index not in self.take.model:
            self.query_one("#q-reveal", Static).update(
                Text(f"you chose {letter} — the model is thinking…", "dim")
            )
        self._maybe_reveal(self.index)

    def _maybe_reveal(self, index: int) -> None:
        if self.take is None or index != self.index:
            return
        shown = self.take.reveal(index)
        if shown is None:
            return
        self.query_one("#q-reveal", Static).update(reveal_text(shown))
        self._show_tally()
        try:
            self.take.record(self.chat_app.store, shown, model_spec=self.chat_app.model_spec or "")
        except Exception as exc:  # noqa: BLE001 - the quiz goes on without the history
            self.notify(f"could not store the quiz: {exc}", severity="warning")
        self.query_one("#q-next", Button).disabled = False
        self.query_one("#q-next", Button).focus()

    def tally_text(self) -> str:
        return self.take.tally_text() if self.take else "you 0/0 · model 0/0 · 0/0 answered"

    def _show_tally(self) -> None:
        self.query_one("#q-tally", Label).update(self.tally_text())

    def action_next(self) -> None:
        if self.take is None or self.index not in self.take.revealed:
            return
        self._go(self.index + 1)

    def _finish(self) -> None:
        assert self.take is not None
        n = len(self.take.revealed)
        self.query_one("#q-question", Static).update(
            Text(
                f"{self.take.subject.title}: all {n} questions answered.\n"
                f"you {self.take.you}/{n}, the model {self.take.model_right}/{n}",
                "bold",
            )
        )
        self.query_one("#q-answers").display = False
        self.query_one("#q-subject").focus()

    def action_close(self) -> None:
        self.dismiss(None)
        if self.take is not None and self.take.conversation_id is not None:
            self.app.call_later(self.chat_app.chat.refresh_sidebar)
