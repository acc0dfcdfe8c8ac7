"""Quiz sessions, for ``baichuan-chat quiz run`` and the app's quiz screens alike.

Run and save: :func:`prepare` reads the questions, :func:`run_and_save` scores them with a loaded
engine (progress and stop through plain callbacks) and stores the run as :mod:`results` keeps
runs, with the C-Eval submission file for the test split; :func:`score_passes` does it once per
adapter set (:func:`adapter_passes`: base model, then with the adapters) on one loaded model.
Its steps (:func:`score`, :func:`model_facts`, :func:`save_run`) are public.

Take a subject: :func:`load_subject` gives a :class:`TakeSession` with one subject's labelled
questions; it keeps both answers and the tally, and writes the session to the history as a
conversation (one exchange per question, the tally in ``settings["quiz"]``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from baichuan_tui import facts
from baichuan_tui.errors import UserError
from baichuan_tui.quiz import datasets, protocols, results, runner
from baichuan_tui.quiz.schema import LETTERS, Item, Notify, Subject

if TYPE_CHECKING:
    from baichuan_tui.engine.interface import Engine
    from baichuan_tui.engine.lora import Lora
    from baichuan_tui.quiz.datasets import Dataset
    from baichuan_tui.quiz.protocols import Protocol
    from baichuan_tui.quiz.runner import QuestionResult, RunOutcome, RunProgress
    from baichuan_tui.store.conversations import Store

TAKE_SHOTS = 5
"""Shots loaded for a take session (the model sees the same prompts as in a 5-shot run)."""


# ---------------------------------------------------------------------------- run and save
@dataclass(frozen=True)
class RunRequest:
    """What to score: the ``quiz run`` options and the app's run form."""

    bench: str
    split: str | None = None
    """None: the benchmark's default split."""
    subjects: Sequence[str] | None = None
    """None: every subject of the split."""
    data: Path | None = None
    """A local copy laid out as the Hub repo (None: the Hugging Face cache)."""
    shots: int = 5
    limit: int | None = None
    """The first N questions of each subject (None: all)."""
    protocol: str | None = None
    """None: the benchmark's default protocol."""
    prefix_cache: bool = True
    offline: bool = False


@dataclass(frozen=True)
class PreparedRun:
    """A request with its questions read and its protocol chosen."""

    request: RunRequest
    dataset: Dataset
    protocol: Protocol


@dataclass(frozen=True)
class SavedRun:
    """A finished (or stopped) run as stored."""

    record: dict[str, Any]
    """The run record (``results.build_record``), with its id."""
    outcome: RunOutcome
    stored: Path
    """The record's file."""


def prepare(request: RunRequest, *, notify: Notify | None = None) -> PreparedRun:
    """Read the request's questions (downloading them on first use); none to score is an error."""
    bench = datasets.get_benchmark(request.bench)
    protocol = protocols.get_protocol(bench.name, request.protocol)
    dataset = datasets.load(
        bench.name,
        split=request.split,
        subject_names=request.subjects,
        data=request.data,
        offline=request.offline,
        shots=request.shots,
        limit=request.limit,
        notify=notify,
    )
    if not dataset.subjects:
        raise UserError(f"no {bench.title} questions to score in {dataset.source}")
    return PreparedRun(request, dataset, protocol)


def score(
    run: PreparedRun,
    engine: Engine,
    *,
    on_progress: Callable[[RunProgress], None] | None = None,
    stop: threading.Event | None = None,
    parallel: int = 1,
) -> RunOutcome:
    """Score every question; ``stop`` (or Ctrl+C) keeps the finished subjects. ``parallel``
    questions are in flight at once on an engine that serves several (a server's slots; see
    :func:`parallel_for`)."""
    return runner.run_quiz(
        run.dataset,
        run.protocol,
        runner.EngineScorer(engine),
        prefix_cache=run.request.prefix_cache,
        on_progress=on_progress,
        stop=stop,
        parallel=parallel_for(engine, parallel),
    )


def parallel_for(engine: Engine, asked: int) -> int:
    """How many questions to score at once: ``asked``, capped at the requests the engine
    serves at once (a server's slots; 1 for a model loaded here)."""
    return max(1, min(asked, int(getattr(engine, "total_slots", 1))))


def model_facts(engine: Engine, *, notify: Notify | None = None) -> dict[str, Any]:
    """The record's model facts (the file's sha256 is computed once per file: ``notify`` says;
    a server's model that is not on this disk gets no size or hash; a server's run names it)."""
    adapters = [facts.adapter_facts(lora) for lora in engine.loras]
    url = getattr(engine, "url", None)
    server = {"server": results.server_label(url)} if isinstance(url, str) else {}
    if not engine.path.is_file():
        return {
            "path": str(engine.path),
            "file": engine.path.name,
            "name": engine.info.name,
            "quant": engine.info.file_type,
            "size": engine.info.file_size or None,
            "sha256": None,
            **server,
            **({"loras": adapters} if adapters else {}),
        }
    if notify is not None and facts.cached_sha256(engine.path) is None:
        notify(f"hashing {engine.path.name} for the run record (once per file)")
    found = facts.model_facts(engine.path, engine.info.name, engine.info.file_type)
    return {**found, **server, **({"loras": adapters} if adapters else {})}


class NothingScored(UserError):
    """A run that ended before any question was scored: it is not stored."""


class StoppedBeforeScoring(NothingScored):
    """A run stopped (Esc, Ctrl+C) before any question was scored."""


def shots_used(outcome: RunOutcome, asked: int) -> int:
    """The run's real shot count: the fewest any scored subject got (a dev split with fewer
    examples, or shots dropped to fit the context), else ``asked``."""
    return min((s.shots_used for s in outcome.subjects if s.n), default=asked)


def save_run(
    run: PreparedRun,
    outcome: RunOutcome,
    *,
    model: dict[str, Any],
    n_ctx: int,
    load_s: float = 0.0,
) -> SavedRun:
    """Store the run with the shots it really used (``shots``; ``shots_asked`` as asked); a
    C-Eval test run also gets its submission file. :class:`NothingScored` when no question
    was scored: an empty run is never stored."""
    if outcome.n == 0:
        if outcome.interrupted:
            raise StoppedBeforeScoring(
                "the quiz stopped before scoring any question: nothing was stored"
            )
        raise NothingScored("the quiz ended without scoring any question: nothing was stored")
    asked = run.request.shots
    record = results.build_record(
        run.dataset,
        run.protocol,
        outcome,
        model=model,
        shots=shots_used(outcome, asked),
        n_ctx=n_ctx,
        load_s=load_s,
        limit=run.request.limit,
    )
    record["shots_asked"] = asked
    stored = results.save(record)
    dataset = run.dataset
    if dataset.benchmark.name == "ceval" and dataset.split == "test" and record["questions"]:
        results.write_submission(record)
    return SavedRun(record, outcome, stored)


def run_and_save(
    run: PreparedRun,
    engine: Engine,
    *,
    load_s: float = 0.0,
    on_progress: Callable[[RunProgress], None] | None = None,
    stop: threading.Event | None = None,
    notify: Notify | None = None,
) -> SavedRun:
    """Score ``run`` with ``engine`` as loaded (its adapters) and store it."""
    (saved,) = score_passes(
        run,
        engine,
        [engine.loras],
        load_s=load_s,
        on_progress=on_progress,
        stop=stop,
        notify=notify,
    )
    return saved


def adapter_passes(loras: Sequence[Lora], *, compare: bool) -> list[tuple[Lora, ...]]:
    """The adapter sets a run is scored with, in order: the loaded ones; with ``compare``
    (``--lora-compare``, the app's "compare with the base model") the base model first (no
    adapters), then with them."""
    return [(), tuple(loras)] if compare else [tuple(loras)]


def score_passes(
    run: PreparedRun,
    engine: Engine,
    passes: Sequence[Sequence[Lora]],
    *,
    on_pass: Callable[[int, tuple[Lora, ...]], None] | None = None,
    on_progress: Callable[[RunProgress], None] | None = None,
    stop: threading.Event | None = None,
    parallel: int = 1,
    load_s: float = 0.0,
    notify: Notify | None = None,
) -> list[SavedRun]:
    """Score and store ``run`` once per adapter set of ``passes`` on one loaded model (adapters
    swapped through :meth:`Engine.set_loras`, never a reload); a stopped pass ends the series
    (its finished subjects stored). The engine's own adapters are restored at the end.
    :class:`NothingScored` when the first pass is stopped before any question."""
    original = engine.loras
    saved: list[SavedRun] = []
    try:
        for index, pass_loras in enumerate(passes):
            wanted = tuple(pass_loras)
            if engine.loras != wanted:
                engine.set_loras(wanted)
            if on_pass is not None:
                on_pass(index, wanted)
            outcome = score(run, engine, on_progress=on_progress, stop=stop, parallel=parallel)
            model = model_facts(engine, notify=notify)
            try:
                saved.append(save_run(run, outcome, model=model, n_ctx=engine.n_ctx, load_s=load_s))
            except NothingScored:
                if not (outcome.interrupted and saved):
                    raise
            if outcome.interrupted:
                break
    finally:
        if engine.loras != original:
            engine.set_loras(original)
    return saved


# ----------------------------------------------------------------------------- take a subject
@dataclass(frozen=True)
class Reveal:
    """One question answered by both: what the screen shows and the history keeps."""

    item: Item
    mine: str
    result: QuestionResult

    @property
    def you_ok(self) -> bool:
        return self.mine == self.item.answer

    @property
    def model_ok(self) -> bool:
        return self.result.prediction == self.item.answer


@dataclass
class TakeSession:
    """You and the model answering one subject's labelled questions."""

    bench: str
    subject: Subject
    protocol: Protocol
    split: str
    """The split asked (``dev`` for C-Eval's explained questions)."""
    mine: dict[int, str] = field(default_factory=dict)
    """Your letter per question index."""
    model: dict[int, QuestionResult] = field(default_factory=dict)
    revealed: set[int] = field(default_factory=set)
    you: int = 0
    """Your right answers so far (revealed questions only)."""
    model_right: int = 0
    conversation_id: int | None = None
    """The history conversation, once the first question is revealed and stored."""

    def item(self, index: int) -> Item | None:
        items = self.subject.items
        return items[index] if 0 <= index < len(items) else None

    def score(self, index: int, engine: Engine) -> QuestionResult:
        """The model's answer to question ``index`` (not recorded: see :meth:`model_answered`)."""
        item = self.item(index)
        if item is None:
            raise IndexError(index)
        return runner.score_question(self.protocol, self.subject, item, runner.EngineScorer(engine))

    def answer(self, index: int, letter: str) -> bool:
        """Record your letter; False when the question is already answered (or out of range)."""
        if self.item(index) is None or index in self.mine:
            return False
        self.mine[index] = letter
        return True

    def model_answered(self, index: int, result: QuestionResult) -> None:
        self.model[index] = result

    def reveal(self, index: int) -> Reveal | None:
        """Once both have answered ``index``: count it (once) and return what to show."""
        item = self.item(index)
        if item is None or index in self.revealed:
            return None
        if index not in self.mine or index not in self.model:
            return None
        self.revealed.add(index)
        shown = Reveal(item, self.mine[index], self.model[index])
        self.you += shown.you_ok
        self.model_right += shown.model_ok
        return shown

    def tally(self) -> dict[str, Any]:
        """The conversation's ``settings["quiz"]``."""
        return {
            "benchmark": self.bench,
            "subject": self.subject.name,
            "split": self.split,
            "you": self.you,
            "model": self.model_right,
            "answered": len(self.revealed),
            "questions": len(self.subject.items),
        }

    def tally_text(self) -> str:
        n = len(self.revealed)
        total = len(self.subject.items)
        return f"you {self.you}/{n} · model {self.model_right}/{n} · {n}/{total} answered"

    def transcript(self, shown: Reveal) -> tuple[str, str]:
        """The exchange kept in the history for one question: (your message, the reply)."""
        item, result = shown.item, shown.result
        options = "".join(f"\n{L}. {o}" for L, o in zip(LETTERS, item.options, strict=False))
        mine = f"{item.question}{options}\n\nmy answer: {shown.mine}"
        probs = ", ".join(f"{L} {result.probs[L] * 100:.1f}%" for L in LETTERS)
        reply = (
            f"model: {result.prediction} ({probs})\nright answer: {item.answer} — "
            f"you {'✓' if shown.you_ok else '✗'}, model {'✓' if shown.model_ok else '✗'}\n"
            f"tally: you {self.you}, model {self.model_right} of {len(self.revealed)}"
        )
        if item.explanation.strip():
            reply += f"\n\nexplanation: {item.explanation.strip()}"
        return mine, reply

    def record(self, store: Store, shown: Reveal, *, model_spec: str = "") -> None:
        """Keep ``shown`` in the history: the conversation is created on the first question."""
        tally = self.tally()
        if self.conversation_id is None:
            conv = store.create(
                title=f"Quiz: {self.bench} {self.subject.name} — you vs model",
                model=model_spec,
                settings={"quiz": tally},
            )
            self.conversation_id = conv.id
        else:
            store.update(self.conversation_id, settings={"quiz": tally})
        mine, reply = self.transcript(shown)
        store.add_message(self.conversation_id, "user", mine)
        store.add_message(
            self.conversation_id, "assistant", reply, finish_reason="stop", model=model_spec or None
        )


def load_subject(
    bench_name: str,
    name: str,
    *,
    split: str | None = None,
    data: Path | None = None,
    offline: bool = False,
) -> TakeSession:
    """One subject's labelled questions to take.

    C-Eval's ``dev`` split holds the explanations: its questions are asked zero-shot (they are
    the other runs' shots).
    """
    bench = datasets.get_benchmark(bench_name)
    protocol = protocols.get_protocol(bench.name)
    if bench.name == "ceval" and split == "dev":
        ds = datasets.load(
            bench.name,
            split="val",
            subject_names=[name],
            data=data,
            offline=offline,
            shots=TAKE_SHOTS,
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
            shots=TAKE_SHOTS,
        )
        subject, used = ds.subjects[0], ds.split
    if not any(i.answer for i in subject.items):
        raise UserError(f"{bench.title} {used} has no answers to check", "choose a labelled split")
    subject.items = [i for i in subject.items if i.answer]
    return TakeSession(bench.name, subject, protocol, used)
