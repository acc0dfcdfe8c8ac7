"""Score a benchmark for the loaded model: the form, live progress, Esc to stop, a bar chart.

The run itself is :func:`baichuan_tui.quiz.session.score_passes` in a thread worker: stored as
the CLI stores its runs; a stopped run keeps its finished subjects. With LoRA adapters applied,
"compare with the base model" scores it without them first, then with them (the adapters are
swapped, the model is not reloaded), and shows both runs side by side.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Checkbox, Input, Label, ProgressBar, Select, Static

from baichuan_tui.errors import error_line
from baichuan_tui.quiz import report, session
from baichuan_tui.ui.screens.quiz.base import BENCH_CHOICES, QuizScreen, form_row
from baichuan_tui.ui.screens.quiz.take import QuizTakeScreen
from baichuan_tui.ui.widgets.accuracy_chart import AccuracyChart

if TYPE_CHECKING:
    from baichuan_tui.engine.interface import Engine
    from baichuan_tui.engine.lora import Lora
    from baichuan_tui.quiz.runner import RunOutcome, RunProgress

PROGRESS_EVERY_S = 0.1


def fmt_eta(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    s = int(round(seconds))
    return (
        f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
    )


class RunProgressed(Message):
    def __init__(self, progress: RunProgress) -> None:
        super().__init__()
        self.progress = progress


class PassStarted(Message):
    """One pass of a base-vs-adapters comparison begins."""

    def __init__(self, index: int, passes: int, loras: tuple[Lora, ...]) -> None:
        super().__init__()
        self.index = index
        self.passes = passes
        self.loras = loras


class RunFinished(Message):
    def __init__(self, saved: list[session.SavedRun], error: str | None = None) -> None:
        super().__init__()
        self.saved = saved
        self.error = error


class QuizRunScreen(QuizScreen):
    """Score a benchmark for the loaded model, with progress, cancel and a bar chart."""

    BINDINGS = [
        Binding("escape", "stop_or_close", "Stop / close", id="quiz_stop"),
        Binding("ctrl+t", "take", "Take the quiz", id="quiz_take"),
    ]

    def __init__(self) -> None:
        super().__init__(classes="dialog")
        self.stop = threading.Event()
        self.running = False
        self.record: dict[str, Any] | None = None
        """The last stored run (with the adapters, in a comparison)."""
        self.records: list[dict[str, Any]] = []
        """Every run stored by the last Run (two in a comparison: base model first)."""
        self.pass_label = ""
        self.outcome: RunOutcome | None = None
        self.stored: Path | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="box wide", id="quiz-run"):
            yield Label("Benchmark quiz — score the loaded model", classes="dialog-title")
            with Horizontal(classes="quiz-form"):
                with Vertical(classes="quiz-col"):
                    yield form_row(
                        "benchmark",
                        Select(BENCH_CHOICES, value="ceval", allow_blank=False, id="q-bench"),
                    )
                    yield form_row("split", Input(placeholder="default", id="q-split"))
                    yield form_row("shots", Input("5", id="q-shots", type="integer"))
                with Vertical(classes="quiz-col"):
                    yield form_row("subjects", Input(placeholder="all (a,b,…)", id="q-subjects"))
                    yield form_row(
                        "limit", Input(placeholder="all questions", id="q-limit", type="integer")
                    )
                    yield form_row("--data", Input(placeholder="Hugging Face cache", id="q-data"))
            yield Checkbox("", id="q-lora-compare", compact=True)
            with Horizontal(classes="buttons"):
                yield Button("Run", id="q-run", variant="primary", compact=True)
                yield Button("Take the quiz", id="q-take", compact=True)
            yield Label("", id="q-status")
            yield ProgressBar(id="q-progress", show_eta=False)
            yield Label("", id="q-rate")
            with VerticalScroll(id="q-chart-box"):
                yield Static("", id="q-compare")
                yield AccuracyChart("", id="q-chart")

    def on_mount(self) -> None:
        self.query_one("#q-progress").display = False
        engine = self.chat_app.engine
        loras = engine.loras if engine is not None else ()
        box = self.query_one("#q-lora-compare", Checkbox)
        box.display = bool(loras)
        names = ", ".join(lora.label for lora in loras)
        box.label = f"compare with the base model: score without {names} first, then with them"
        self.query_one("#q-bench").focus()
        self.fill_data_folder()

    # -- running ---------------------------------------------------------------------------
    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "q-run":
            self.action_run()
        elif event.button.id == "q-take":
            self.action_take()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_run()

    def _request(self) -> session.RunRequest | None:
        """The form as a run request (None, with a notice, when a number is wrong)."""
        try:
            shots = int(self._value("q-shots") or 5)
            limit_text = self._value("q-limit")
            limit = int(limit_text) if limit_text else None
        except ValueError:
            self.notify("shots and limit must be whole numbers", severity="error")
            return None
        if shots < 0 or (limit is not None and limit < 0):
            self.notify("shots and limit must be 0 or more", severity="error")
            return None
        subjects = [s.strip() for s in self._value("q-subjects").split(",") if s.strip()]
        return session.RunRequest(
            self._bench(),
            split=self._value("q-split") or None,
            subjects=subjects or None,
            data=self._data(),
            shots=shots,
            limit=limit,
            offline=self.chat_app.options.offline,
        )

    def action_run(self) -> None:
        if self.running:
            self.notify("a run is in progress (Esc stops it)", severity="warning")
            return
        request = self._request()
        engine = self.free_engine() if request else None
        if request is None or engine is None:
            return
        compare = self.query_one("#q-lora-compare", Checkbox).value and bool(engine.loras)
        self.running = True
        self.stop.clear()
        self.record = self.outcome = None
        self.records = []
        self.pass_label = ""
        self.query_one("#q-chart", AccuracyChart).clear()
        self.query_one("#q-compare", Static).update("")
        self.query_one("#q-run", Button).disabled = True
        self.query_one("#q-status", Label).update(f"loading {request.bench} questions…")
        self._run(engine, request, session.adapter_passes(engine.loras, compare=compare))

    @work(thread=True, exclusive=True, group="quiz-run")
    def _run(
        self, engine: Engine, request: session.RunRequest, passes: list[tuple[Lora, ...]]
    ) -> None:
        last = [0.0]

        def on_progress(progress: RunProgress) -> None:
            now = time.monotonic()
            if (
                progress.finished is not None
                or progress.last is None
                or now - last[0] >= PROGRESS_EVERY_S
                or progress.done == progress.total
            ):
                last[0] = now
                self.post_message(RunProgressed(progress))

        def on_pass(index: int, loras: tuple[Lora, ...]) -> None:
            if len(passes) > 1:
                self.post_message(PassStarted(index, len(passes), loras))

        try:
            prepared = session.prepare(request)
            saved = session.score_passes(
                prepared, engine, passes, on_pass=on_pass, on_progress=on_progress, stop=self.stop
            )
        except Exception as exc:  # noqa: BLE001 - one line on the screen, never a crash
            self.post_message(RunFinished([], error_line(exc)))
        else:
            self.post_message(RunFinished(saved))

    def on_pass_started(self, message: PassStarted) -> None:
        what = (
            "with " + ", ".join(lora.label for lora in message.loras)
            if message.loras
            else "the base model"
        )
        self.pass_label = f"{what} ({message.index + 1}/{message.passes}) · "

    def on_run_progressed(self, message: RunProgressed) -> None:
        p = message.progress
        bar = self.query_one("#q-progress", ProgressBar)
        bar.display = True
        bar.update(total=p.total, progress=p.done)
        self.query_one("#q-status", Label).update(
            f"{self.pass_label}{p.subject} ({p.subject_index + 1}/{p.subjects} subjects)"
        )
        rate = p.questions_per_s
        self.query_one("#q-rate", Label).update(
            f"{p.done}/{p.total} questions · {rate:.2f} questions/s · ETA {fmt_eta(p.eta_s)}"
            if p.done
            else f"0/{p.total} questions"
        )

    def on_run_finished(self, message: RunFinished) -> None:
        self.running = False
        self.query_one("#q-run", Button).disabled = False
        status = self.query_one("#q-status", Label)
        if not message.saved:
            self.query_one("#q-progress").display = False
            status.update(f"[red]{message.error}[/]")
            self.notify(message.error or "the quiz failed", severity="error", timeout=10)
            return
        saved = message.saved[-1]
        self.record, self.outcome, self.stored = saved.record, saved.outcome, saved.stored
        self.records = [s.record for s in message.saved]
        rec = saved.record
        kept = len(rec["subjects"])
        state = (
            f"stopped: {kept} finished subject{'s' if kept != 1 else ''} kept"
            if rec["interrupted"]
            else "done"
        )
        ids = ", ".join(r["id"] for r in self.records)
        status.update(f"{state} — stored as {ids}")
        self.query_one("#q-rate", Label).update(
            f"{rec['overall']['n']} questions · {rec['questions_per_s']:.2f} questions/s · "
            f"data licence: {rec['licence']}"
        )
        if len(self.records) > 1:
            self.query_one("#q-compare", Static).update(report.compare_grid(self.records))
        self.query_one("#q-chart", AccuracyChart).show(rec)

    def action_stop_or_close(self) -> None:
        if self.running:
            self.stop.set()
            self.query_one("#q-status", Label).update("stopping: keeping finished subjects…")
        else:
            self.dismiss(None)

    def action_take(self) -> None:
        if self.running:
            self.notify("a run is in progress (Esc stops it)", severity="warning")
            return
        bench = self._bench()
        data = self._value("q-data")
        self.dismiss(None)
        self.app.push_screen(QuizTakeScreen(bench=bench, data=data))
