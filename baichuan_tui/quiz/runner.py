"""Score a quiz: next-token logits of the four letters at the last prompt position.

Subjects run in order; within a subject every prompt starts with the same header and shots, so
with ``prefix_cache`` the engine keeps that prefix's KV cache and evaluates only each question.
No BOS, no sampling, no generation. Ctrl+C (KeyboardInterrupt) or ``stop`` ends the run
cleanly: finished subjects are kept, the one in progress is dropped.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from baichuan_tui.quiz import protocols
from baichuan_tui.quiz.schema import LETTERS, Item, Subject

if TYPE_CHECKING:
    from baichuan_tui.engine.interface import Engine
    from baichuan_tui.quiz.datasets import Dataset


class Scorer(Protocol):
    """What the runner needs from a model."""

    n_ctx: int

    def encode(self, text: str) -> list[int]: ...

    def logits(
        self, ids: Sequence[int], candidates: Sequence[int], *, reuse: bool
    ) -> list[float]: ...


class EngineScorer:
    """:class:`Scorer` over a loaded :class:`~baichuan_tui.engine.interface.Engine`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.n_ctx = engine.n_ctx

    def encode(self, text: str) -> list[int]:
        return self.engine.encode(text)

    def logits(self, ids: Sequence[int], candidates: Sequence[int], *, reuse: bool) -> list[float]:
        return self.engine.next_token_logits(ids, candidates, reuse_cache=reuse)


def softmax(logits: Sequence[float]) -> list[float]:
    top = max(logits)
    exps = [math.exp(x - top) for x in logits]
    total = sum(exps)
    return [e / total for e in exps]


@dataclass
class QuestionResult:
    subject: str
    index: int
    answer: str | None
    prediction: str
    probs: dict[str, float]
    shots: int
    tokens: int
    id: str | None = None

    @property
    def correct(self) -> bool:
        return self.answer is not None and self.answer == self.prediction

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "index": self.index,
            "answer": self.answer,
            "prediction": self.prediction,
            "probs": self.probs,
            "shots": self.shots,
            "tokens": self.tokens,
            "id": self.id,
        }


@dataclass
class SubjectResult:
    name: str
    title: str
    questions: list[QuestionResult]
    seconds: float
    shots_used: int

    @property
    def n(self) -> int:
        return len(self.questions)

    @property
    def labelled(self) -> int:
        return sum(q.answer is not None for q in self.questions)

    @property
    def correct(self) -> int:
        return sum(q.correct for q in self.questions)

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.labelled if self.labelled else None


@dataclass
class RunProgress:
    """Sent when a subject starts, after every question, and when a subject is complete."""

    subject: str
    subject_index: int
    subjects: int
    done: int
    total: int
    elapsed_s: float
    last: QuestionResult | None = None
    finished: SubjectResult | None = None
    """Set once per subject, when it is complete."""

    @property
    def questions_per_s(self) -> float:
        return self.done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        rate = self.questions_per_s
        return (self.total - self.done) / rate if rate > 0 else None


@dataclass
class RunOutcome:
    subjects: list[SubjectResult] = field(default_factory=list)
    interrupted: bool = False
    scoring_s: float = 0.0
    prefix_cache: bool = True

    @property
    def n(self) -> int:
        return sum(s.n for s in self.subjects)

    @property
    def questions_per_s(self) -> float:
        return self.n / self.scoring_s if self.scoring_s > 0 else 0.0

    @property
    def accuracy(self) -> float | None:
        """Question-weighted, over the labelled questions."""
        labelled = sum(s.labelled for s in self.subjects)
        return sum(s.correct for s in self.subjects) / labelled if labelled else None

    @property
    def subject_average(self) -> float | None:
        accs = [s.accuracy for s in self.subjects if s.accuracy is not None]
        return sum(accs) / len(accs) if accs else None


class Stopped(Exception):
    """``stop`` was set."""


def score_question(
    protocol: protocols.Protocol,
    subject: Subject,
    item: Item,
    scorer: Scorer,
    *,
    reuse: bool = True,
) -> QuestionResult:
    """One question: build (and fit) the prompt, read the letter logits, softmax, argmax."""
    built = protocols.build(protocol, subject, item, scorer.encode, scorer.n_ctx)
    probs = softmax(scorer.logits(built.ids, built.letter_ids, reuse=reuse))
    best = max(range(len(LETTERS)), key=probs.__getitem__)
    return QuestionResult(
        subject.name,
        item.index,
        item.answer,
        LETTERS[best],
        dict(zip(LETTERS, probs, strict=True)),
        built.shots,
        len(built.ids),
        item.id,
    )


def run_quiz(
    dataset: Dataset,
    protocol: protocols.Protocol,
    scorer: Scorer,
    *,
    prefix_cache: bool = True,
    on_progress: Callable[[RunProgress], None] | None = None,
    stop: threading.Event | None = None,
    parallel: int = 1,
) -> RunOutcome:
    """Score every question of ``dataset`` (shots are the dataset's, already cut to k).

    ``parallel`` > 1 scores that many questions of a subject at once, each on its own thread
    (for a scorer that is safe to call from several threads: a server's); the results keep
    the dataset's order, and a stop keeps the subjects already finished.
    """
    outcome = RunOutcome(prefix_cache=prefix_cache)
    total = sum(len(s.items) for s in dataset.subjects)
    done = 0
    t0 = time.perf_counter()

    def report(
        si: int,
        name: str,
        last: QuestionResult | None = None,
        finished: SubjectResult | None = None,
    ) -> None:
        if on_progress:
            on_progress(
                RunProgress(
                    name,
                    si,
                    len(dataset.subjects),
                    done,
                    total,
                    time.perf_counter() - t0,
                    last,
                    finished,
                )
            )

    try:
        for si, subject in enumerate(dataset.subjects):
            ts = time.perf_counter()
            results: list[QuestionResult] = []
            report(si, subject.name)
            scored = (
                _score_parallel(protocol, subject, scorer, prefix_cache, parallel, stop)
                if parallel > 1
                else _score_serial(protocol, subject, scorer, prefix_cache, stop)
            )
            for result in scored:
                results.append(result)
                done += 1
                report(si, subject.name, result)
            if parallel > 1:
                results.sort(key=lambda r: r.index)  # the dataset's order, as when serial
            shots_used = min((r.shots for r in results), default=len(subject.shots))
            finished = SubjectResult(
                subject.name, subject.title, results, time.perf_counter() - ts, shots_used
            )
            outcome.subjects.append(finished)
            report(si, subject.name, finished=finished)
    except (KeyboardInterrupt, Stopped):
        outcome.interrupted = True
    outcome.scoring_s = sum(s.seconds for s in outcome.subjects)
    return outcome


def _score_serial(
    protocol: protocols.Protocol,
    subject: Subject,
    scorer: Scorer,
    reuse: bool,
    stop: threading.Event | None,
) -> Iterator[QuestionResult]:
    for item in subject.items:
        if stop is not None and stop.is_set():
            raise Stopped
        yield score_question(protocol, subject, item, scorer, reuse=reuse)


def _score_parallel(
    protocol: protocols.Protocol,
    subject: Subject,
    scorer: Scorer,
    reuse: bool,
    parallel: int,
    stop: threading.Event | None,
) -> Iterator[QuestionResult]:
    """A subject's results as they finish, ``parallel`` questions in flight; ``Stopped`` (or
    Ctrl+C) abandons the questions not yet finished."""
    from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

    items = iter(subject.items)
    pool = ThreadPoolExecutor(parallel, thread_name_prefix="quiz")
    pending: set[Future[QuestionResult]] = set()
    try:
        while True:
            while len(pending) < parallel and (item := next(items, None)) is not None:
                pending.add(
                    pool.submit(score_question, protocol, subject, item, scorer, reuse=reuse)
                )
            if not pending:
                return
            finished, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            if stop is not None and stop.is_set():
                raise Stopped
            for future in finished:
                yield future.result()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
