"""Benchmark quizzes in the app: run one for the loaded model, or take it yourself beside it.

:class:`QuizRunScreen` scores a benchmark (``quiz run`` of the CLI) in a thread worker with live
progress, Esc stops it keeping the finished subjects, and the run ends with a per-subject bar
chart beside the published Baichuan number; the run is stored as the CLI stores its runs.

:class:`QuizTakeScreen` asks one subject's questions: you answer (A–D keys or buttons), then
see the model's choice with its A–D probabilities, the right answer and the explanation when
the dataset has one. The session (every question, both answers, the tally) is kept in the
history as a conversation whose ``settings["quiz"]`` holds the tally.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text
from textual import work
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, ProgressBar, Select, Static

from baichuan_tui.errors import UserError

if TYPE_CHECKING:
    from baichuan_tui.quiz.datasets import Item, Subject
    from baichuan_tui.quiz.protocols import Protocol
    from baichuan_tui.quiz.runner import QuestionResult, RunOutcome, RunProgress

BENCHES = (
    ("C-Eval", "ceval"),
    ("CMMLU", "cmmlu"),
    ("MMLU", "mmlu"),
    ("AGIEval", "agieval"),
    ("Gaokao-Bench", "gaokao"),
)
LETTERS = ("A", "B", "C", "D")
PROGRESS_EVERY_S = 0.1


def _error_line(exc: BaseException) -> str:
    if isinstance(exc, UserError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def fmt_eta(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    s = int(round(seconds))
    return (
        f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
    )


def chart(record: dict[str, Any]) -> Table:
    """The run's per-subject accuracy as bars, the overall figures and the published number."""
    from baichuan_tui.quiz.report import bar, pct

    m = record["model"]
    table = Table(
        title=f"{record['benchmark_title']} {record['split']}, {record['shots']}-shot"
        f" ({record['protocol']}) — {m['file']}",
        title_justify="left",
        expand=False,
    )
    table.add_column("subject")
    table.add_column("n", justify="right")
    table.add_column("acc %", justify="right")
    table.add_column("")
    for name, s in record["subjects"].items():
        table.add_row(name, str(s["n"]), pct(s["accuracy"]), bar(s["accuracy"]))
    o = record["overall"]
    table.add_section()
    table.add_row(
        "[bold]overall[/]", str(o["n"]), f"[bold]{pct(o['accuracy'])}[/]", bar(o["accuracy"])
    )
    table.add_row("subject average", "", pct(o["subject_average"]), bar(o["subject_average"]))
    if record.get("published"):
        pub = record["published"]
        try:
            value: float | None = float(pub.split()[0]) / 100
        except ValueError:
            value = None
        table.add_row(
            f"[dim]published[/] {record['published_model']}",
            "",
            pub,
            f"[dim]{bar(value)}[/]" if value is not None else "",
        )
    return table


def _form_row(label: str, widget: Any) -> Horizontal:
    return Horizontal(Label(label, classes="name"), widget, classes="field quiz-field")


# ----------------------------------------------------------------------------- messages
class RunProgressed(Message):
    def __init__(self, progress: RunProgress) -> None:
        super().__init__()
        self.progress = progress


class RunFinished(Message):
    def __init__(
        self,
        record: dict[str, Any] | None,
        outcome: RunOutcome | None,
        error: str | None = None,
        stored: Path | None = None,
    ) -> None:
        super().__init__()
        self.record = record
        self.outcome = outcome
        self.error = error
        self.stored = stored


class SubjectLoaded(Message):
    def __init__(
        self,
        subject: Subject | None,
        protocol: Protocol | None,
        split: str = "",
        error: str | None = None,
    ) -> None:
        super().__init__()
        self.subject = subject
        self.protocol = protocol
        self.split = split
        self.error = error


class Scored(Message):
    def __init__(self, index: int, result: QuestionResult | None, error: str | None = None) -> None:
        super().__init__()
        self.index = index
        self.result = result
        self.error = error


# ------------------------------------------------------------------------------ helpers
class _QuizBase(ModalScreen[None]):
    def _engine(self):
        app = self.app
        engine = getattr(app, "engine", None)
        if engine is None:
            self.notify("load a model first (Ctrl+O)", severity="warning")
            return None
        chat = getattr(app, "chat", None)
        if chat is not None and not chat.idle.is_set():
            self.notify("a reply is being generated: stop it first", severity="warning")
            return None
        return engine

    def _value(self, wid: str) -> str:
        return self.query_one(f"#{wid}", Input).value.strip()

    def _bench(self) -> str:
        value = self.query_one("#q-bench", Select).value
        return value if isinstance(value, str) else "ceval"

    def _data(self) -> Path | None:
        text = self._value("q-data")
        return Path(text).expanduser() if text else None


# ---------------------------------------------------------------------------- run screen
class QuizRunScreen(_QuizBase):
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
        self.outcome: RunOutcome | None = None
        self.stored: Path | None = None

    def compose(self):
        with Vertical(classes="box wide", id="quiz-run"):
            yield Label("Benchmark quiz — score the loaded model", classes="dialog-title")
            with Horizontal(classes="quiz-form"):
                with Vertical(classes="quiz-col"):
                    yield _form_row(
                        "benchmark", Select(BENCHES, value="ceval", allow_blank=False, id="q-bench")
                    )
                    yield _form_row("split", Input(placeholder="default", id="q-split"))
                    yield _form_row("shots", Input("5", id="q-shots", type="integer"))
                with Vertical(classes="quiz-col"):
                    yield _form_row("subjects", Input(placeholder="all (a,b,…)", id="q-subjects"))
                    yield _form_row(
                        "limit", Input(placeholder="all questions", id="q-limit", type="integer")
                    )
                    yield _form_row("--data", Input(placeholder="Hugging Face cache", id="q-data"))
            with Horizontal(classes="buttons"):
                yield Button("Run", id="q-run", variant="primary", compact=True)
                yield Button("Take the quiz", id="q-take", compact=True)
            yield Label("", id="q-status")
            yield ProgressBar(id="q-progress", show_eta=False)
            yield Label("", id="q-rate")
            with VerticalScroll(id="q-chart-box"):
                yield Static("", id="q-chart")

    def on_mount(self) -> None:
        self.query_one("#q-progress").display = False
        self.query_one("#q-bench").focus()

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

    def _params(self) -> dict[str, Any] | None:
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
        return {
            "bench": self._bench(),
            "split": self._value("q-split") or None,
            "shots": shots,
            "limit": limit,
            "subjects": subjects or None,
            "data": self._data(),
        }

    def action_run(self) -> None:
        if self.running:
            self.notify("a run is in progress (Esc stops it)", severity="warning")
            return
        params = self._params()
        engine = self._engine() if params else None
        if params is None or engine is None:
            return
        self.running = True
        self.stop.clear()
        self.record = self.outcome = None
        self.query_one("#q-chart", Static).update("")
        self.query_one("#q-run", Button).disabled = True
        self.query_one("#q-status", Label).update(f"loading {params['bench']} questions…")
        self._run(engine, params)

    @work(thread=True, exclusive=True, group="quiz-run")
    def _run(self, engine: Any, p: dict[str, Any]) -> None:
        from baichuan_tui.quiz import datasets, protocols, results, runner

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

        try:
            bench = datasets.get_benchmark(p["bench"])
            protocol = protocols.get_protocol(bench.name)
            data = datasets.load(
                bench.name,
                split=p["split"],
                subject_names=p["subjects"],
                data=p["data"],
                offline=bool(getattr(self.app, "options", None) and self.app.options.offline),
                shots=p["shots"],
                limit=p["limit"],
            )
            if not data.subjects:
                raise UserError(f"no {bench.title} questions to score in {data.source}")
            outcome = runner.run_quiz(
                data, protocol, runner.EngineScorer(engine), on_progress=on_progress, stop=self.stop
            )
            model = results.model_facts(engine.path, engine.info.name, engine.info.file_type)
            record = results.build_record(
                data,
                protocol,
                outcome,
                model=model,
                shots=p["shots"],
                n_ctx=engine.n_ctx,
                limit=p["limit"],
            )
            stored = results.save(record)
            if bench.name == "ceval" and data.split == "test" and record["questions"]:
                results.write_submission(record)
        except Exception as exc:  # noqa: BLE001 - one line on the screen, never a crash
            self.post_message(RunFinished(None, None, _error_line(exc)))
        else:
            self.post_message(RunFinished(record, outcome, stored=stored))

    def on_run_progressed(self, message: RunProgressed) -> None:
        p = message.progress
        bar = self.query_one("#q-progress", ProgressBar)
        bar.display = True
        bar.update(total=p.total, progress=p.done)
        self.query_one("#q-status", Label).update(
            f"{p.subject} ({p.subject_index + 1}/{p.subjects} subjects)"
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
        if message.record is None:
            self.query_one("#q-progress").display = False
            status.update(f"[red]{message.error}[/]")
            self.notify(message.error or "the quiz failed", severity="error", timeout=10)
            return
        self.record, self.outcome, self.stored = message.record, message.outcome, message.stored
        rec = message.record
        kept = len(rec["subjects"])
        state = (
            f"stopped: {kept} finished subject{'s' if kept != 1 else ''} kept"
            if rec["interrupted"]
            else "done"
        )
        status.update(f"{state} — stored as {rec['id']}")
        self.query_one("#q-rate", Label).update(
            f"{rec['overall']['n']} questions · {rec['questions_per_s']:.2f} questions/s · "
            f"data licence: {rec['licence']}"
        )
        self.query_one("#q-chart", Static).update(chart(rec))

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


# --------------------------------------------------------------------------- take screen
class QuizTakeScreen(_QuizBase):
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
        self.subject: Subject | None = None
        self.protocol: Protocol | None = None
        self.split = ""
        self.index = -1
        self.mine: dict[int, str] = {}
        self.model: dict[int, QuestionResult] = {}
        self.revealed: set[int] = set()
        self.you = 0
        self.model_right = 0
        self.conversation_id: int | None = None
        self._engine_ref: Any = None

    def compose(self):
        bench, subject, data = self._init
        with Vertical(classes="box wide", id="quiz-take"):
            yield Label("Take the quiz — you vs the model", classes="dialog-title")
            with Horizontal(classes="quiz-form"):
                with Vertical(classes="quiz-col"):
                    yield _form_row(
                        "benchmark", Select(BENCHES, value=bench, allow_blank=False, id="q-bench")
                    )
                    yield _form_row(
                        "subject",
                        Input(subject, placeholder="e.g. computer_network", id="q-subject"),
                    )
                with Vertical(classes="quiz-col"):
                    yield _form_row(
                        "split",
                        Input(placeholder="default (C-Eval: dev has explanations)", id="q-split"),
                    )
                    yield _form_row(
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
        self.query_one("#q-subject" if self._init[0] else "#q-bench").focus()

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
        engine = self._engine()
        if engine is None:
            return
        self._engine_ref = engine
        self.query_one("#q-start", Button).disabled = True
        self.query_one("#q-question", Static).update(f"loading {name}…")
        self._load(self._bench(), name, self._value("q-split") or None, self._data())

    @work(thread=True, exclusive=True, group="quiz-load")
    def _load(self, bench_name: str, name: str, split: str | None, data: Path | None) -> None:
        from baichuan_tui.quiz import datasets, protocols

        try:
            bench = datasets.get_benchmark(bench_name)
            protocol = protocols.get_protocol(bench.name)
            offline = bool(getattr(self.app, "options", None) and self.app.options.offline)
            if bench.name == "ceval" and split == "dev":
                # dev holds the explanations: ask those, zero-shot (they are the shots)
                ds = datasets.load(
                    bench.name,
                    split="val",
                    subject_names=[name],
                    data=data,
                    offline=offline,
                    shots=5,
                    limit=0,
                )
                subject = ds.subjects[0]
                subject.items, subject.shots = list(subject.shots), []
                used = "dev"
            else:
                ds = datasets.load(
                    bench.name,
                    split=split,
                    subject_names=[name],
                    data=data,
                    offline=offline,
                    shots=5,
                )
                subject, used = ds.subjects[0], ds.split
            if not any(i.answer for i in subject.items):
                raise UserError(
                    f"{bench.title} {used} has no answers to check", "choose a labelled split"
                )
            subject.items = [i for i in subject.items if i.answer]
        except Exception as exc:  # noqa: BLE001 - one line on the screen
            self.post_message(SubjectLoaded(None, None, error=_error_line(exc)))
        else:
            self.post_message(SubjectLoaded(subject, protocol, used))

    def on_subject_loaded(self, message: SubjectLoaded) -> None:
        self.query_one("#q-start", Button).disabled = False
        if message.subject is None:
            self.query_one("#q-question", Static).update(Text(message.error or "", "red"))
            self.notify(message.error or "could not load the subject", severity="error")
            return
        self.subject, self.protocol, self.split = message.subject, message.protocol, message.split
        self.mine.clear()
        self.model.clear()
        self.revealed.clear()
        self.you = self.model_right = 0
        self.conversation_id = None
        self.index = -1
        self.query_one("#q-answers").display = True
        self._show_tally()
        self._go(0)

    # -- questions -------------------------------------------------------------------------
    @property
    def item(self) -> Item | None:
        if self.subject is None or not 0 <= self.index < len(self.subject.items):
            return None
        return self.subject.items[self.index]

    def _go(self, index: int) -> None:
        assert self.subject is not None
        self.index = index
        item = self.item
        reveal = self.query_one("#q-reveal", Static)
        reveal.update("")
        if item is None:
            self._finish()
            return
        text = Text()
        text.append(
            f"{self.subject.title} — question {index + 1}/{len(self.subject.items)}\n\n", "bold"
        )
        text.append(item.question)
        for letter, option in zip(LETTERS, item.options, strict=False):
            text.append(f"\n{letter}. {option}")
        self.query_one("#q-question", Static).update(text)
        for letter in LETTERS:
            self.query_one(f"#q-{letter}", Button).disabled = False
        self.query_one("#q-next", Button).disabled = True
        self.query_one("#q-A", Button).focus()
        self._score(index, item)

    @work(thread=True, group="quiz-score")
    def _score(self, index: int, item: Item) -> None:
        from baichuan_tui.quiz import runner

        try:
            assert self.subject is not None and self.protocol is not None
            result = runner.score_question(
                self.protocol, self.subject, item, runner.EngineScorer(self._engine_ref)
            )
        except Exception as exc:  # noqa: BLE001 - shown, never fatal
            self.post_message(Scored(index, None, _error_line(exc)))
        else:
            self.post_message(Scored(index, result))

    def on_scored(self, message: Scored) -> None:
        if message.result is None:
            self.notify(f"the model could not answer: {message.error}", severity="error")
            return
        self.model[message.index] = message.result
        self._maybe_reveal(message.index)

    def action_answer(self, letter: str) -> None:
        if self.item is None or self.index in self.mine:
            return
        self.mine[self.index] = letter
        for other in LETTERS:
            self.query_one(f"#q-{other}", Button).disabled = True
        if self.index not in self.model:
            self.query_one("#q-reveal", Static).update(
                Text(f"you chose {letter} — the model is thinking…", "dim")
            )
        self._maybe_reveal(self.index)

    def _maybe_reveal(self, index: int) -> None:
        if index != self.index or index in self.revealed:
            return
        if index not in self.mine or index not in self.model:
            return
        self.revealed.add(index)
        item = self.item
        assert item is not None
        mine, result = self.mine[index], self.model[index]
        you_ok, model_ok = mine == item.answer, result.prediction == item.answer
        self.you += you_ok
        self.model_right += model_ok
        self.query_one("#q-reveal", Static).update(self._reveal_text(item, mine, result))
        self._show_tally()
        self._store(item, mine, result, you_ok, model_ok)
        self.query_one("#q-next", Button).disabled = False
        self.query_one("#q-next", Button).focus()

    def _reveal_text(self, item: Item, mine: str, result: QuestionResult) -> Text:
        text = Text()
        text.append(f"right answer: {item.answer}\n", "bold")
        text.append(f"you: {mine} ")
        text.append("✓" if mine == item.answer else "✗", "green" if mine == item.answer else "red")
        text.append(f"   model: {result.prediction} ")
        ok = result.prediction == item.answer
        text.append("✓" if ok else "✗", "green" if ok else "red")
        text.append("\n\nthe model's probabilities:\n")
        for letter in LETTERS:
            p = result.probs[letter]
            width = round(p * 30)
            style = (
                "green" if letter == item.answer else "red" if letter == result.prediction else ""
            )
            text.append(f" {letter} {p * 100:6.2f} % ")
            text.append("█" * width, style or "default")
            text.append("░" * (30 - width) + "\n", "dim")
        if item.explanation.strip():
            text.append("\nexplanation: ", "bold")
            text.append(item.explanation.strip())
        return text

    def tally_text(self) -> str:
        n = len(self.revealed)
        total = len(self.subject.items) if self.subject else 0
        return f"you {self.you}/{n} · model {self.model_right}/{n} · {n}/{total} answered"

    def _show_tally(self) -> None:
        self.query_one("#q-tally", Label).update(self.tally_text())

    def _store(
        self, item: Item, mine: str, result: QuestionResult, you_ok: bool, model_ok: bool
    ) -> None:
        """Keep the session in the history: a conversation, one exchange per question."""
        store = getattr(self.app, "store", None)
        if store is None or self.subject is None:
            return
        tally = {
            "benchmark": self._bench(),
            "subject": self.subject.name,
            "split": self.split,
            "you": self.you,
            "model": self.model_right,
            "answered": len(self.revealed),
            "questions": len(self.subject.items),
        }
        try:
            if self.conversation_id is None:
                conv = store.create(
                    title=f"Quiz: {tally['benchmark']} {self.subject.name} — you vs model",
                    model=getattr(self.app, "model_spec", None) or "",
                    settings={"quiz": tally},
                )
                self.conversation_id = conv.id
            else:
                store.update(self.conversation_id, settings={"quiz": tally})
            options = "".join(f"\n{L}. {o}" for L, o in zip(LETTERS, item.options, strict=False))
            store.add_message(
                self.conversation_id, "user", f"{item.question}{options}\n\nmy answer: {mine}"
            )
            probs = ", ".join(f"{L} {result.probs[L] * 100:.1f}%" for L in LETTERS)
            reply = (
                f"model: {result.prediction} ({probs})\nright answer: {item.answer} — "
                f"you {'✓' if you_ok else '✗'}, model {'✓' if model_ok else '✗'}\n"
                f"tally: you {self.you}, model {self.model_right} of {len(self.revealed)}"
            )
            if item.explanation.strip():
                reply += f"\n\nexplanation: {item.explanation.strip()}"
            store.add_message(self.conversation_id, "assistant", reply, finish_reason="stop")
        except Exception as exc:  # noqa: BLE001 - the quiz goes on without the history
            self.notify(f"could not store the quiz: {exc}", severity="warning")

    def action_next(self) -> None:
        if self.subject is None or self.index not in self.revealed:
            return
        self._go(self.index + 1)

    def _finish(self) -> None:
        assert self.subject is not None
        n = len(self.revealed)
        self.query_one("#q-question", Static).update(
            Text(
                f"{self.subject.title}: all {n} questions answered.\n"
                f"you {self.you}/{n}, the model {self.model_right}/{n}",
                "bold",
            )
        )
        self.query_one("#q-answers").display = False
        self.query_one("#q-subject").focus()

    def action_close(self) -> None:
        self.dismiss(None)
        chat = getattr(self.app, "chat", None)
        if self.conversation_id is not None and chat is not None:
            self.app.call_later(chat.refresh_sidebar)
