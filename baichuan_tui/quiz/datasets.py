"""The benchmarks: Hub layouts, licences, subjects, and loading a split into :class:`Subject` s.

Data come from ``--data DIR`` (a local copy laid out exactly as the Hub repo, what
``snapshot_download`` writes) or from the Hugging Face cache, downloaded on first use (progress
bars on stderr) and read offline afterwards.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from baichuan_tui.errors import UserError
from baichuan_tui.quiz import subjects

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

    @property
    def default_protocol(self) -> str:
        return self.protocols[0]


BENCHMARKS: dict[str, Benchmark] = {
    b.name: b
    for b in (
        Benchmark(
            "ceval",
            "C-Eval",
            "ceval/ceval-exam",
            "CC BY-NC-SA 4.0 (non-commercial)",
            ("val", "test"),
            "val",
            ("baichuan", "lm-eval"),
            subjects.CEVAL,
            ("*.parquet", "README.md"),
        ),
        Benchmark(
            "cmmlu",
            "CMMLU",
            "haonan-li/cmmlu",
            "CC BY-NC 4.0 (non-commercial)",
            ("test",),
            "test",
            ("cmmlu", "lm-eval"),
            subjects.CMMLU,
            ("*.zip", "*.csv", "*.parquet", "README.md"),
        ),
        Benchmark(
            "mmlu",
            "MMLU",
            "cais/mmlu",
            "MIT",
            ("test", "validation"),
            "test",
            ("hendrycks", "lm-eval"),
            subjects.MMLU,
            tuple(f"{s}/*" for s in subjects.MMLU) + ("README.md",),
        ),
        Benchmark(
            "agieval",
            "AGIEval",
            "hails/agieval-{task}",
            "MIT",
            ("test",),
            "test",
            ("first5",),
            subjects.AGIEVAL,
            ("*.parquet", "README.md"),
            False,
        ),
        Benchmark(
            "gaokao",
            "Gaokao-Bench",
            "RUCAIBox/gaokao-bench",
            "Apache-2.0 (OpenLMLab/GAOKAO-Bench)",
            ("test",),
            "test",
            ("first5",),
            subjects.GAOKAO,
            ("*.json", "*.jsonl", "README.md"),
            False,
        ),
    )
}
_ALIASES = {"val": "validation", "validation": "val"}


def get_benchmark(name: str) -> Benchmark:
    bench = BENCHMARKS.get(name.lower())
    if bench is None:
        raise UserError(f"unknown benchmark '{name}'", f"choose one of {', '.join(BENCHMARKS)}")
    return bench


def check_split(bench: Benchmark, split: str | None) -> str:
    """``split`` (or the default) as the benchmark names it; ``val``/``validation`` agree."""
    split = split or bench.default_split
    if split not in bench.splits and _ALIASES.get(split) in bench.splits:
        split = _ALIASES[split]
    if split not in bench.splits:
        raise UserError(
            f"{bench.title} has no split '{split}'", f"choose one of {', '.join(bench.splits)}"
        )
    return split


@dataclass
class Dataset:
    benchmark: Benchmark
    split: str
    subjects: list[Subject]
    source: str
    """Where the files were read (the --data folder or the HF cache snapshot)."""

    @property
    def labelled(self) -> bool:
        return any(i.answer for s in self.subjects for i in s.items)


# ------------------------------------------------------------------------------- the Hub
def snapshot(
    repo: str,
    patterns: Sequence[str],
    *,
    offline: bool,
    notify: Notify | None = None,
    licence: str = "",
    ready: Callable[[Path], bool] | None = None,
) -> Path:
    """The repo's files in the HF cache: downloaded on first use, offline afterwards.

    A cached snapshot that ``ready`` finds incomplete (an interrupted download) is completed
    when the network is allowed.
    """
    from huggingface_hub import snapshot_download

    from baichuan_tui import locations

    cache = locations.hf_hub_cache()
    from baichuan_tui.hub.remote import endpoint

    kw: dict[str, Any] = {
        "repo_type": "dataset",
        "allow_patterns": list(patterns),
        "cache_dir": str(cache),
        "endpoint": endpoint(),
    }
    try:
        cached = Path(snapshot_download(repo, local_files_only=True, **kw))
        if offline or ready is None or ready(cached):
            return cached
    except Exception:  # noqa: BLE001 - not cached yet (any flavour of "not found")
        pass
    if offline:
        raise UserError(
            f"dataset {repo} is not in the Hugging Face cache ({cache}) and the network is off",
            "run once online or pass --data DIR",
        )
    if notify:
        notify(f"downloading dataset {repo} ({licence}) into {cache}")
    try:
        return Path(snapshot_download(repo, **kw))
    except Exception as exc:  # noqa: BLE001 - network, auth, missing repo: one line
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(
            f"could not download dataset {repo} ({detail})", "check the network or pass --data DIR"
        ) from None


# ------------------------------------------------------------------------------ loading
def _unknown_subject(bench: Benchmark, name: str, known: Sequence[str]) -> UserError:
    close = difflib.get_close_matches(name, known, n=3)
    hint = (
        f"did you mean {', '.join(close)}?"
        if close
        else (f"{len(known)} subjects, e.g. {', '.join(list(known)[:4])}")
    )
    return UserError(f"unknown {bench.title} subject '{name}'", hint)


def choose_subjects(
    bench: Benchmark, wanted: Sequence[str] | None, available: Sequence[str], where: str, split: str
) -> list[str]:
    """Requested subjects (in the order given) or all available, in the benchmark's order."""
    if wanted:
        out: list[str] = []
        for name in wanted:
            if name not in bench.subjects and name not in available:
                raise _unknown_subject(bench, name, list(bench.subjects) + list(available))
            if name not in available:
                raise UserError(
                    f"{where} has no {split} split for {bench.title} subject '{name}'",
                    "check the folder or choose other --subjects",
                )
            if name not in out:
                out.append(name)
        return out
    if not available:
        raise UserError(
            f"{where} has no {split} split of {bench.title}",
            "point --data at a copy laid out as the Hub repo "
            f"({bench.repo}) or choose another --split",
        )
    known = [s for s in bench.subjects if s in available]
    extra = sorted(s for s in available if s not in bench.subjects)
    order = sorted(known + extra) if bench.sorted_subjects else known + extra
    return order


def subject_title(bench: Benchmark, name: str) -> str:
    return bench.subjects.get(name) or " ".join(name.split("_"))


def load(
    name: str,
    *,
    split: str | None = None,
    subject_names: Sequence[str] | None = None,
    data: Path | None = None,
    offline: bool = False,
    shots: int = 5,
    limit: int | None = None,
    notify: Notify | None = None,
) -> Dataset:
    """Read ``split`` of a benchmark: questions, plus dev shots when ``shots`` > 0."""
    bench = get_benchmark(name)
    split = check_split(bench, split)
    if data is not None and not Path(data).is_dir():
        raise UserError(
            f"--data {data} is not a folder",
            f"pass a local copy of {bench.repo} laid out as on the Hub",
        )
    from baichuan_tui.quiz import loaders

    loader = loaders.LOADERS[bench.name]
    subjects_, source = loader(bench, split, subject_names, data, offline, shots, notify)
    for s in subjects_:
        if limit is not None:
            s.items = s.items[:limit]
    return Dataset(bench, split, subjects_, source)
