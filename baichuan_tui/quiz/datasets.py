"""The benchmarks: Hub layouts, licences, subjects, and loading a split into :class:`Subject` s.

:data:`BENCHMARKS` is the one list of benchmarks: the CLI, the app and the loaders read it.

Data come from ``--data DIR`` or from the Hugging Face cache, downloaded on first use (progress
bars on stderr) and read offline afterwards. ``DIR`` holds a benchmark as released (C-Eval's
CSV zip, CMMLU's CSVs, MMLU's ``data/{dev,val,test}``, AGIEval's JSONL, GAOKAO-Bench's JSON) or
as on the Hub (parquet per subject); :func:`~baichuan_tui.quiz.loaders.detect_layout` tells which.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from baichuan_tui.errors import UserError
from baichuan_tui.quiz import loaders, subjects
from baichuan_tui.quiz.schema import Benchmark, Notify, Subject

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
            loader=loaders.ceval,
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
            loader=loaders.cmmlu,
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
            loader=loaders.mmlu,
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
            loader=loaders.agieval,
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
            loader=loaders.gaokao,
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


def _is_zip(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() == ".zip"


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
    if data is not None and not (Path(data).is_dir() or _is_zip(Path(data))):
        raise UserError(
            f"--data {data} is not a folder",
            f"pass a folder holding {bench.title} as released or as on the Hub (README: Quiz data)",
        )
    subjects_, source = bench.loader(bench, split, subject_names, data, offline, shots, notify)
    for s in subjects_:
        if limit is not None:
            s.items = s.items[:limit]
    return Dataset(bench, split, subjects_, source)
