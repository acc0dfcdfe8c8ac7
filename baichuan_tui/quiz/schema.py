"""The quiz's data types: a benchmark, its subjects and their questions.

Shared by the registry (:mod:`~baichuan_tui.quiz.datasets`), the loaders, the prompts and the
runner; imports nothing else of the quiz.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

LETTERS = ("A", "B", "C", "D")
Notify = Callable[[str], None]


@dataclass(frozen=True)
class Item:
    """One question as stored (fields are not stripped)."""

    subject: str
    index: int
    """Row in its split file (AGIEval, Gaokao: position in the task file)."""
    question: str
    options: tuple[str, ...] = ()
    """A-D texts; empty when the options are embedded in ``question`` (AGIEval, Gaokao)."""
    answer_raw: str | None = None
    explanation: str = ""
    id: str | None = None

    @property
    def answer(self) -> str | None:
        """The answer letter, or None when the split has no labels."""
        a = (self.answer_raw or "").strip().upper()
        return a if a in LETTERS else None


@dataclass
class Subject:
    name: str
    title: str
    """The name the prompts use (Chinese for the Chinese benchmarks)."""
    items: list[Item]
    shots: list[Item] = field(default_factory=list)


@dataclass(frozen=True)
class Benchmark:
    name: str
    title: str
    repo: str
    """Hub dataset repo (AGIEval: one repo per task, ``{task}`` in the name)."""
    licence: str
    splits: tuple[str, ...]
    default_split: str
    protocols: tuple[str, ...]
    subjects: dict[str, str]
    patterns: tuple[str, ...] = ()
    """Files fetched from the Hub (allow_patterns)."""
    sorted_subjects: bool = True
    loader: Loader = field(kw_only=True, compare=False, repr=False)
    """Reads a split into subjects (one per benchmark, in :mod:`~baichuan_tui.quiz.loaders`)."""

    @property
    def default_protocol(self) -> str:
        return self.protocols[0]


Loaded = tuple[list[Subject], str]
"""A loader's answer: the subjects and where their files were read."""
Loader = Callable[
    [Benchmark, str, Sequence[str] | None, Path | None, bool, int, Notify | None], Loaded
]
"""``loader(bench, split, wanted, data, offline, shots, notify)``."""
