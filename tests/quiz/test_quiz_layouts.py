"""--data in each benchmark's released layout (issue 12, item 16): detected, read the same as
the Hub's parquet layout, and an error that names an example file. Made-up rows only."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import pytest
import quizdata

from baichuan_tui.errors import UserError
from baichuan_tui.quiz import datasets
from baichuan_tui.quiz.loaders import detect_layout


def _csv(rows: list[list[object]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def _write(files: dict[str, str], root: Path, how: str) -> Path:
    """``files`` unpacked under ``root`` (``dir``), zipped in it (``zip``), or the zip itself
    as --data (``zipfile``)."""
    root.mkdir(parents=True, exist_ok=True)
    if how == "dir":
        for name, text in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text, "utf-8")
        return root
    with zipfile.ZipFile(root / "ceval-exam.zip", "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return root / "ceval-exam.zip" if how == "zipfile" else root


def _facts(ds: datasets.Dataset) -> list[tuple]:
    return [
        (s.name, s.title, [(i.question, i.options, i.answer, i.id) for i in s.items + s.shots])
        for s in ds.subjects
    ]


@pytest.mark.parametrize("how", ["dir", "zip", "zipfile"])
def test_ceval_release_csv_reads_like_the_hub(tmp_path, how):
    written = quizdata.write_ceval(tmp_path / "hub", {"logic": 3, "computer_network": 2})
    files = {}
    for subject, splits in written.items():
        for split, rows in splits.items():
            head = ["id", "question", "A", "B", "C", "D"]
            head += [] if split == "test" else ["answer", "explanation"]
            body = [[r[k] for k in head] for r in rows]
            files[f"ceval-exam/{split}/{subject}_{split}.csv"] = _csv([head, *body])
    data = _write(files, tmp_path / "release", how)
    assert detect_layout(datasets.BENCHMARKS["ceval"], data) == "csv"
    for split in ("val", "test"):
        hub = datasets.load("ceval", split=split, data=tmp_path / "hub")
        release = datasets.load("ceval", split=split, data=data)
        assert _facts(release) == _facts(hub)
    assert datasets.load("ceval", data=data).subjects[0].shots[0].explanation.startswith("因为")


def test_mmlu_release_csv_reads_like_the_hub(tmp_path):
    written = quizdata.write_mmlu(tmp_path / "hub", {"anatomy": 2, "virology": 3})
    root = tmp_path / "release"
    for subject, splits in written.items():
        for split, rows in splits.items():
            short = "val" if split == "validation" else split
            path = root / "data" / short / f"{subject}_{short}.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            body = [[r["question"], *r["choices"], "ABCD"[r["answer"]]] for r in rows]
            path.write_text(_csv(body), "utf-8")  # MMLU's CSVs have no header row
    assert detect_layout(datasets.BENCHMARKS["mmlu"], root) == "csv"
    for split in ("test", "val"):
        hub = datasets.load("mmlu", split=split, data=tmp_path / "hub")
        release = datasets.load("mmlu", split=split, data=root)
        assert release.split == hub.split and _facts(release) == _facts(hub)


def test_cmmlu_release_is_detected(tmp_path):
    quizdata.write_cmmlu(tmp_path, {"agronomy": 2}, layout="dir")
    assert detect_layout(datasets.BENCHMARKS["cmmlu"], tmp_path) == "csv"


def _agieval_row(i: int, *, n: int = 4, label: object = "B") -> dict:
    options = [f"({'ABCDE'[k]})选项{i}{k}" for k in range(n)]
    return {"passage": None, "question": f"问题{i}？", "options": options, "label": label}


def test_agieval_release_jsonl(tmp_path):
    rows = [_agieval_row(i) for i in range(8)]
    rows.insert(2, _agieval_row(99, label=["A", "C"]))  # several answers: dropped
    rows.insert(4, _agieval_row(98, n=5))  # five options: dropped
    english = [
        {"passage": "P. ", "question": f"Q{i}?", "options": ["(A)a", "(B)b", "(C)c", "(D)d"]}
        | {"label": "D"}
        for i in range(6)
    ]
    for task, task_rows in (("logiqa-zh", rows), ("gaokao-english", english)):
        path = tmp_path / "data" / "v1_1" / f"{task}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in task_rows))
    assert detect_layout(datasets.BENCHMARKS["agieval"], tmp_path) == "jsonl"
    ds = datasets.load("agieval", data=tmp_path)
    en, zh = ds.subjects
    assert (zh.name, len(zh.shots), len(zh.items)) == ("logiqa-zh", 5, 3)
    assert zh.items[0].question == (
        "问题：问题5？ 选项：(A)选项50 (B)选项51 (C)选项52 (D)选项53\n答案：从A到D, 我们应选择"
    )
    assert zh.items[0].answer == "B" and zh.items[0].index == 7
    assert en.items[0].question == (
        "P. Q: Q5? Answer Choices: (A)a (B)b (C)c (D)d\nA: Among A through D, the answer is"
    )


def test_gaokao_release_is_detected(tmp_path):
    quizdata.write_gaokao(tmp_path, {"2010-2022_Biology_MCQs": 6})
    assert detect_layout(datasets.BENCHMARKS["gaokao"], tmp_path) == "json"


@pytest.mark.parametrize(
    ("bench", "example"),
    [
        ("ceval", "val/computer_network_val.csv"),
        ("cmmlu", "test/agronomy.csv"),
        ("mmlu", "data/test/anatomy_test.csv"),
        ("agieval", "data/v1_1/logiqa-zh.jsonl"),
        ("gaokao", "Data/Objective_Questions/2010-2022_Biology_MCQs.json"),
    ],
)
def test_a_folder_without_the_benchmark_names_an_example_file(tmp_path, bench, example):
    (tmp_path / "notes.txt").write_text("not a benchmark")
    assert detect_layout(datasets.BENCHMARKS[bench], tmp_path) is None
    with pytest.raises(UserError) as err:
        datasets.load(bench, data=tmp_path)
    title = datasets.BENCHMARKS[bench].title
    assert str(err.value).startswith(f"{tmp_path} holds no {title} files: looked for {example}")
