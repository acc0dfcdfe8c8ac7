"""One loader per benchmark: find its files (``--data`` or the HF cache) and build subjects.

The registry (:data:`~baichuan_tui.quiz.datasets.BENCHMARKS`) names each benchmark's loader.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from baichuan_tui.errors import UserError
from baichuan_tui.quiz import readers
from baichuan_tui.quiz.schema import LETTERS, Benchmark, Item, Loaded, Notify, Subject
from baichuan_tui.quiz.source import choose_subjects, snapshot, subject_title

FIRST_SHOTS = 5
_NOT_SUBJECTS = {"all", "auxiliary_train", "data", ".cache", ".huggingface"}


def _ready(bench: Benchmark) -> Callable[[Path], bool]:
    """Whether a cached snapshot holds the whole benchmark (not an interrupted download)."""

    def ready(root: Path) -> bool:
        if bench.name in ("ceval", "mmlu"):
            splits = ("dev", *bench.splits)
            return all(readers.split_files(root / s, sp) for s in bench.subjects for sp in splits)
        if bench.name == "cmmlu":
            files = readers.CmmluFiles(root)
            return all(files.has(sp, s) for s in bench.subjects for sp in ("dev", "test"))
        if bench.name == "gaokao":
            return bool(readers.gaokao_files(root))
        return bool(_agieval_files(root))

    return ready


def _root(bench: Benchmark, data: Path | None, offline: bool, notify: Notify | None) -> Path:
    if data is not None:
        return Path(data)
    return snapshot(
        bench.repo,
        bench.patterns,
        offline=offline,
        notify=notify,
        licence=bench.licence,
        ready=_ready(bench),
    )


def _configs(root: Path, split: str) -> list[str]:
    return [
        d.name
        for d in sorted(root.iterdir())
        if d.is_dir() and d.name not in _NOT_SUBJECTS and readers.split_files(d, split)
    ]


def _dev(
    root: Path, name: str, shots: int, read: Callable[[list[Path], str], list[Item]]
) -> list[Item]:
    if shots <= 0:
        return []
    files = readers.split_files(root / name, "dev")
    if not files:
        raise UserError(
            f"{root / name} has no dev split: {shots}-shot prompts need it",
            "pass --shots 0 or add the dev files",
        )
    return read(files, name)[:shots]


def _text(value: Any) -> str:
    return "" if value is None else str(value)


# ------------------------------------------------------------------------------- C-Eval
def ceval(
    bench: Benchmark,
    split: str,
    wanted: Sequence[str] | None,
    data: Path | None,
    offline: bool,
    shots: int,
    notify: Notify | None,
) -> Loaded:
    root = _root(bench, data, offline, notify)
    names = choose_subjects(bench, wanted, _configs(root, split), str(root), split)

    def read(files: list[Path], name: str) -> list[Item]:
        rows = readers.read_parquet(
            files, ("question", "A", "B", "C", "D"), ("id", "answer", "explanation")
        )
        return [
            Item(
                name,
                i,
                _text(r["question"]),
                tuple(_text(r[k]) for k in LETTERS),
                r.get("answer"),
                _text(r.get("explanation")),
                None if r.get("id") is None else str(r["id"]),
            )
            for i, r in enumerate(rows)
        ]

    return _subjects(bench, root, names, split, shots, read), str(root)


def _subjects(
    bench: Benchmark,
    root: Path,
    names: list[str],
    split: str,
    shots: int,
    read: Callable[[list[Path], str], list[Item]],
) -> list[Subject]:
    return [
        Subject(
            name,
            subject_title(bench, name),
            read(readers.split_files(root / name, split), name),
            _dev(root, name, shots, read),
        )
        for name in names
    ]


# --------------------------------------------------------------------------------- MMLU
def mmlu(
    bench: Benchmark,
    split: str,
    wanted: Sequence[str] | None,
    data: Path | None,
    offline: bool,
    shots: int,
    notify: Notify | None,
) -> Loaded:
    root = _root(bench, data, offline, notify)
    names = choose_subjects(bench, wanted, _configs(root, split), str(root), split)

    def read(files: list[Path], name: str) -> list[Item]:
        rows = readers.read_parquet(files, ("question", "choices", "answer"))
        items = []
        for i, r in enumerate(rows):
            choices, answer = r["choices"], r["answer"]
            if not isinstance(choices, list) or len(choices) != 4:
                raise UserError(
                    f"{files[0].parent} row {i} has {len(choices or [])} choices, not 4",
                    "download the dataset again or fix the file",
                )
            letter = LETTERS[answer] if isinstance(answer, int) and 0 <= answer < 4 else None
            items.append(
                Item(name, i, _text(r["question"]), tuple(_text(c) for c in choices), letter)
            )
        return items

    return _subjects(bench, root, names, split, shots, read), str(root)


# -------------------------------------------------------------------------------- CMMLU
def cmmlu(
    bench: Benchmark,
    split: str,
    wanted: Sequence[str] | None,
    data: Path | None,
    offline: bool,
    shots: int,
    notify: Notify | None,
) -> Loaded:
    root = _root(bench, data, offline, notify)
    cols = ("Question", "A", "B", "C", "D", "Answer")

    def items(rows: list[dict[str, Any]], name: str) -> list[Item]:
        return [
            Item(
                name,
                i,
                _text(r["Question"]),
                tuple(_text(r[k]) for k in LETTERS),
                _text(r["Answer"]),
            )
            for i, r in enumerate(rows)
        ]

    if _configs(root, split):  # the parquet-converter layout
        names = choose_subjects(bench, wanted, _configs(root, split), str(root), split)

        def read(files: list[Path], name: str) -> list[Item]:
            return items(readers.read_parquet(files, cols), name)

        return _subjects(bench, root, names, split, shots, read), str(root)
    files = readers.CmmluFiles(root)
    names = choose_subjects(bench, wanted, files.subjects(split), str(root), split)
    out = []
    for name in names:
        dev: list[Item] = []
        if shots > 0:
            if not files.has("dev", name):
                raise UserError(
                    f"{root} has no dev/{name}.csv: {shots}-shot prompts need it",
                    "pass --shots 0 or add the dev files",
                )
            dev = items(files.rows("dev", name), name)[:shots]
        rows = files.rows(split, name)
        out.append(Subject(name, subject_title(bench, name), items(rows, name), dev))
    return out, str(root)


# ------------------------------------------------------------ AGIEval and Gaokao: first 5
def _first5(
    bench: Benchmark, name: str, kept: list[Item], shots: int, notify: Notify | None
) -> Subject | None:
    if len(kept) <= FIRST_SHOTS:
        if notify:
            notify(f"{bench.title} {name}: {len(kept)} usable items, skipped")
        return None
    return Subject(
        name, subject_title(bench, name), kept[FIRST_SHOTS:], kept[: min(shots, FIRST_SHOTS)]
    )


def _agieval_dir(data: Path, task: str) -> Path | None:
    repo = f"agieval-{task}"
    for cand in (data / repo, data / "hails" / repo, data / f"hails--{repo}"):
        if cand.is_dir():
            return cand
    return data if data.name == repo else None


def _agieval_files(repo_dir: Path) -> list[Path]:
    return readers.split_files(repo_dir / "data", "test") or readers.split_files(repo_dir, "test")


def agieval(
    bench: Benchmark,
    split: str,
    wanted: Sequence[str] | None,
    data: Path | None,
    offline: bool,
    shots: int,
    notify: Notify | None,
) -> Loaded:
    dirs: dict[str, Path] = {}
    if data is not None:
        found = {
            p.name.removeprefix("agieval-")
            for p in [*data.glob("agieval-*"), *data.glob("hails/agieval-*"), data]
            if p.name.startswith("agieval-")
        }
        found |= {p.name.removeprefix("hails--agieval-") for p in data.glob("hails--agieval-*")}
        for task in found:
            d = _agieval_dir(data, task)
            if d is not None and _agieval_files(d):
                dirs[task] = d
        names = choose_subjects(bench, wanted, list(dirs), str(data), split)
    else:
        names = choose_subjects(bench, wanted, list(bench.subjects), bench.repo, split)
        for task in names:
            dirs[task] = snapshot(
                bench.repo.format(task=task),
                bench.patterns,
                offline=offline,
                notify=notify,
                licence=bench.licence,
                ready=_ready(bench),
            )
    out = []
    for task in names:
        files = _agieval_files(dirs[task])
        if not files:
            raise UserError(
                f"{dirs[task]} has no test split (data/test-*.parquet)",
                "download the dataset again or fix the folder",
            )
        rows = readers.read_parquet(files, ("query", "choices", "gold"))
        kept = []
        for i, r in enumerate(rows):
            gold, choices = r["gold"], r["choices"]
            if isinstance(gold, int):
                gold = [gold]
            if (
                isinstance(choices, list)
                and len(choices) == 4
                and isinstance(gold, list)
                and len(gold) == 1
                and isinstance(gold[0], int)
                and 0 <= gold[0] < 4
            ):
                kept.append(Item(task, i, _text(r["query"]), (), LETTERS[gold[0]]))
        subject = _first5(bench, task, kept, shots, notify)
        if subject:
            out.append(subject)
    return out, str(data) if data is not None else bench.repo


def _gaokao_answer(item: dict[str, Any]) -> str | None:
    answer = item.get("standard_answer", item.get("answer"))
    if isinstance(answer, list):
        answer = answer[0] if len(answer) == 1 else None
    answer = answer.strip() if isinstance(answer, str) else None
    return answer if answer in LETTERS else None


def gaokao(
    bench: Benchmark,
    split: str,
    wanted: Sequence[str] | None,
    data: Path | None,
    offline: bool,
    shots: int,
    notify: Notify | None,
) -> Loaded:
    root = _root(bench, data, offline, notify)
    files = readers.gaokao_files(root)
    names = choose_subjects(bench, wanted, list(files), str(root), split)
    out = []
    for name in names:
        kept = []
        for i, q in enumerate(readers.read_gaokao(files[name])):
            answer = _gaokao_answer(q)
            if answer and isinstance(q.get("question"), str):
                kept.append(Item(name, i, q["question"], (), answer, _text(q.get("analysis"))))
        subject = _first5(bench, name, kept, shots, notify)
        if subject:
            out.append(subject)
    return out, str(root)
