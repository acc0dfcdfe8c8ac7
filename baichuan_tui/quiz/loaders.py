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


LOOKED_FOR: dict[str, tuple[str, ...]] = {
    "ceval": (
        "val/computer_network_val.csv (C-Eval's ceval-exam.zip, zipped or unpacked)",
        "computer_network/val-00000-of-00001.parquet (the Hub's ceval/ceval-exam)",
    ),
    "cmmlu": (
        "test/agronomy.csv (CMMLU's release, cmmlu_v1_0_1.zip zipped or unpacked)",
        "agronomy/test-00000-of-00001.parquet (a parquet copy of haonan-li/cmmlu)",
    ),
    "mmlu": (
        "data/test/anatomy_test.csv (MMLU's data.tar, unpacked)",
        "anatomy/test-00000-of-00001.parquet (the Hub's cais/mmlu)",
    ),
    "agieval": (
        "data/v1_1/logiqa-zh.jsonl (AGIEval's release)",
        "agieval-logiqa-zh/data/test-00000-of-00001.parquet (the Hub's hails/agieval-*)",
    ),
    "gaokao": ("Data/Objective_Questions/2010-2022_Biology_MCQs.json (GAOKAO-Bench)",),
}
"""Per benchmark, an example file of each layout ``--data`` may hold (named in errors)."""


def _ready(bench: Benchmark) -> Callable[[Path], bool]:
    """Whether a cached snapshot holds the whole benchmark (not an interrupted download)."""

    def ready(root: Path) -> bool:
        if bench.name in ("ceval", "mmlu"):
            splits = ("dev", *bench.splits)
            return all(readers.split_files(root / s, sp) for s in bench.subjects for sp in splits)
        if bench.name == "cmmlu":
            files = readers.CsvFiles(root)
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
    if not root.is_dir():
        return []
    return [
        d.name
        for d in sorted(root.iterdir())
        if d.is_dir() and d.name not in _NOT_SUBJECTS and readers.split_files(d, split)
    ]


def _has_parquet(root: Path) -> bool:
    return root.is_dir() and any(
        d.is_dir() and d.name not in _NOT_SUBJECTS and any(d.rglob("*.parquet"))
        for d in root.iterdir()
    )


def nothing_found(bench: Benchmark, root: Path) -> UserError:
    """``--data`` holds none of the benchmark's layouts: name an example file of each."""
    return UserError(
        f"{root} holds no {bench.title} files",
        "looked for " + ", or ".join(LOOKED_FOR[bench.name]) + " (README: Quiz data)",
    )


def detect_layout(bench: Benchmark, root: Path) -> str | None:
    """Which layout ``root`` holds: ``hub`` (parquet per subject), ``csv`` (the released CSVs of
    C-Eval, CMMLU, MMLU), ``jsonl`` (AGIEval's release), ``json`` (GAOKAO-Bench); None."""
    if bench.name == "gaokao":
        return "json" if root.is_dir() and readers.gaokao_files(root) else None
    if bench.name == "agieval":
        if _agieval_dirs(root):
            return "hub"
        return "jsonl" if root.is_dir() and readers.agieval_jsonl_files(root) else None
    if _has_parquet(root):
        return "hub"
    return "csv" if readers.CsvFiles(root).members else None


def _text(value: Any) -> str:
    return "" if value is None else str(value)


Rows = Callable[[str, str], list[dict[str, Any]]]
"""``rows(split, subject)``."""
ToItems = Callable[[list[dict[str, Any]], str], list[Item]]


def _csv_split(split: str) -> str:
    return "val" if split == "validation" else split


def _files(
    root: Path, columns: Sequence[str], optional: Sequence[str] = (), *, header: bool = True
) -> tuple[Callable[[str], list[str]], Rows]:
    """(subjects of a split, rows of a split's subject) in whichever layout ``root`` holds."""
    if _has_parquet(root):

        def parquet_rows(split: str, name: str) -> list[dict[str, Any]]:
            return readers.read_parquet(readers.split_files(root / name, split), columns, optional)

        return (lambda split: _configs(root, split)), parquet_rows
    files = readers.CsvFiles(root)
    csv_cols = [c for c in columns if c != "choices"] or list(columns)

    def csv_rows(split: str, name: str) -> list[dict[str, Any]]:
        return files.rows(_csv_split(split), name, csv_cols, optional, header=header)

    return (lambda split: files.subjects(_csv_split(split))), csv_rows


def _load_subjects(
    bench: Benchmark,
    root: Path,
    wanted: Sequence[str] | None,
    split: str,
    shots: int,
    files: tuple[Callable[[str], list[str]], Rows],
    to_items: ToItems,
) -> list[Subject]:
    available, rows = files
    if detect_layout(bench, root) is None:
        raise nothing_found(bench, root)
    names = choose_subjects(bench, wanted, available(split), str(root), split)
    with_dev = set(available("dev")) if shots > 0 else set()

    def dev(name: str) -> list[Item]:
        if shots <= 0:
            return []
        if name not in with_dev:
            raise UserError(
                f"{root} has no dev split for {name}: {shots}-shot prompts need it",
                "pass --shots 0 or add the dev files",
            )
        return to_items(rows("dev", name), name)[:shots]

    return [
        Subject(name, subject_title(bench, name), to_items(rows(split, name), name), dev(name))
        for name in names
    ]


def _options(r: dict[str, Any]) -> tuple[str, ...]:
    return tuple(_text(r[k]) for k in LETTERS)


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

    def to_items(rows: list[dict[str, Any]], name: str) -> list[Item]:
        return [
            Item(
                name,
                i,
                _text(r["question"]),
                _options(r),
                r.get("answer") or None,
                _text(r.get("explanation")),
                None if r.get("id") in (None, "") else str(r["id"]),
            )
            for i, r in enumerate(rows)
        ]

    files = _files(root, ("question", "A", "B", "C", "D"), ("id", "answer", "explanation"))
    return _load_subjects(bench, root, wanted, split, shots, files, to_items), str(root)


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

    def to_items(rows: list[dict[str, Any]], name: str) -> list[Item]:
        items = []
        for i, r in enumerate(rows):
            if "choices" not in r:  # the released CSV: question, A-D, the answer letter
                items.append(Item(name, i, _text(r["question"]), _options(r), r["answer"]))
                continue
            choices, answer = r["choices"], r["answer"]
            if not isinstance(choices, list) or len(choices) != 4:
                raise UserError(
                    f"{root / name} row {i} has {len(choices or [])} choices, not 4",
                    "download the dataset again or fix the file",
                )
            letter = LETTERS[answer] if isinstance(answer, int) and 0 <= answer < 4 else None
            items.append(
                Item(name, i, _text(r["question"]), tuple(_text(c) for c in choices), letter)
            )
        return items

    if _has_parquet(root):
        files = _files(root, ("question", "choices", "answer"))
    else:
        files = _files(root, ("question", "A", "B", "C", "D", "answer"), header=False)
    return _load_subjects(bench, root, wanted, split, shots, files, to_items), str(root)


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

    def to_items(rows: list[dict[str, Any]], name: str) -> list[Item]:
        return [
            Item(name, i, _text(r["Question"]), _options(r), _text(r["Answer"]))
            for i, r in enumerate(rows)
        ]

    files = _files(root, ("Question", "A", "B", "C", "D", "Answer"))
    return _load_subjects(bench, root, wanted, split, shots, files, to_items), str(root)


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


def _agieval_dirs(data: Path) -> dict[str, Path]:
    """Task → its Hub repo folder (``agieval-TASK``, ``hails/agieval-TASK``, ...) under ``data``."""
    if not data.is_dir():
        return {}
    found = {
        p.name.removeprefix("agieval-")
        for p in [*data.glob("agieval-*"), *data.glob("hails/agieval-*"), data]
        if p.name.startswith("agieval-")
    }
    found |= {p.name.removeprefix("hails--agieval-") for p in data.glob("hails--agieval-*")}
    dirs = {}
    for task in found:
        d = _agieval_dir(data, task)
        if d is not None and _agieval_files(d):
            dirs[task] = d
    return dirs


AGIEVAL_ENGLISH = {"gaokao-english", "logiqa-en", "lsat-ar", "lsat-lr", "lsat-rc", "sat-en"}
"""Tasks whose zero-shot query is English (AGIEval's ``convert_zero_shot``)."""


def agieval_query(task: str, row: dict[str, Any]) -> str:
    """The Hub's ``query`` of a released JSONL row: AGIEval's ``convert_zero_shot`` text."""
    passage, options = _text(row.get("passage")), [_text(o) for o in row["options"]]
    last = "ABCDEFG"[max(len(options), 1) - 1]
    if task in AGIEVAL_ENGLISH:
        return (
            f"{passage}Q: {_text(row['question'])} Answer Choices: {' '.join(options)}\n"
            f"A: Among A through {last}, the answer is"
        )
    return (
        f"{passage}问题：{_text(row['question'])} 选项：{' '.join(options)}\n"
        f"答案：从A到{last}, 我们应选择"
    )


def _agieval_rows(task: str, path: Path) -> list[dict[str, Any]]:
    """A released JSONL file as the Hub's rows (query, choices, gold)."""
    rows = []
    for r in readers.read_jsonl(path):
        options, label = r.get("options"), r.get("label")
        if isinstance(label, list):
            label = label[0] if len(label) == 1 else None
        label = label.strip() if isinstance(label, str) else None
        usable = isinstance(options, list) and isinstance(r.get("question"), str)
        rows.append(
            {
                "query": agieval_query(task, r) if usable else "",
                "choices": options if usable else None,
                "gold": [LETTERS.index(label)] if usable and label in LETTERS else [],
            }
        )
    return rows


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
    jsonl: dict[str, Path] = {}
    if data is not None:
        layout = detect_layout(bench, data)
        if layout is None:
            raise nothing_found(bench, data)
        if layout == "hub":
            dirs = _agieval_dirs(data)
        else:
            jsonl = readers.agieval_jsonl_files(data)
        names = choose_subjects(bench, wanted, list(dirs or jsonl), str(data), split)
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
        if task in jsonl:
            rows = _agieval_rows(task, jsonl[task])
        else:
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
    if not files and data is not None:
        raise nothing_found(bench, root)
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
