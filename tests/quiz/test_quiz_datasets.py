"""Reading each benchmark's Hub layout from --data and the HF cache; one-line errors."""

from __future__ import annotations

import shutil

import pytest
import quizdata

from baichuan_tui.errors import UserError
from baichuan_tui.quiz import datasets
from baichuan_tui.quiz.subjects import CEVAL, CMMLU


def test_tables_are_complete():
    assert len(CEVAL) == 52 and len(CMMLU) == 67 and len(datasets.BENCHMARKS["mmlu"].subjects) == 57
    assert CEVAL["computer_network"] == "计算机网络"
    assert CMMLU["high_school_physics"] == "高中物理学"


def test_ceval_layout(tmp_path):
    written = quizdata.write_ceval(tmp_path, {"logic": 3, "computer_network": 4})
    ds = datasets.load("ceval", split="val", data=tmp_path)
    assert [s.name for s in ds.subjects] == ["computer_network", "logic"]  # sorted, as Baichuan
    s = ds.subjects[0]
    assert s.title == "计算机网络" and len(s.items) == 4 and len(s.shots) == 5
    row = written["computer_network"]["val"][2]
    item = s.items[2]
    assert (item.index, item.question, item.options, item.answer, item.id) == (
        2,
        row["question"],
        tuple(row[L] for L in "ABCD"),
        row["answer"],
        "2",
    )
    assert s.shots[0].question == written["computer_network"]["dev"][0]["question"]
    assert s.shots[0].explanation.startswith("因为")
    test = datasets.load("ceval", split="test", data=tmp_path, subject_names=["logic"], shots=2)
    assert not test.labelled and len(test.subjects[0].shots) == 2
    assert [i.answer for i in test.subjects[0].items] == [None] * 3


def test_limit_and_subject_order(tmp_path):
    quizdata.write_ceval(tmp_path, {"logic": 3, "law": 4})
    ds = datasets.load("ceval", data=tmp_path, subject_names=["logic", "law"], limit=2)
    assert [(s.name, len(s.items)) for s in ds.subjects] == [("logic", 2), ("law", 2)]


def test_mmlu_layout(tmp_path):
    written = quizdata.write_mmlu(tmp_path, {"virology": 3, "anatomy": 2})
    (tmp_path / "all").mkdir()  # the Hub's all/ config is not a subject
    shutil.copy(tmp_path / "anatomy" / "test-00000-of-00001.parquet", tmp_path / "all")
    ds = datasets.load("mmlu", data=tmp_path)
    assert ds.split == "test" and [s.name for s in ds.subjects] == ["anatomy", "virology"]
    row = written["virology"]["test"][1]
    item = ds.subjects[1].items[1]
    assert item.options == tuple(row["choices"]) and item.answer == "ABCD"[row["answer"]]
    assert datasets.load("mmlu", split="val", data=tmp_path).split == "validation"


@pytest.mark.parametrize("layout", ["zip", "dir", "parquet"])
def test_cmmlu_layouts(tmp_path, layout):
    written = quizdata.write_cmmlu(tmp_path, {"agronomy": 3, "arts": 2}, layout=layout)
    ds = datasets.load("cmmlu", data=tmp_path)
    assert [s.name for s in ds.subjects] == ["agronomy", "arts"]
    s = ds.subjects[0]
    assert s.title == "农学" and len(s.shots) == 5 and len(s.items) == 3
    row = written["agronomy"]["test"][1]
    assert (s.items[1].question, s.items[1].answer_raw) == (row["Question"], row["Answer"])


def test_agieval_filters_and_first5(tmp_path):
    written = quizdata.write_agieval(tmp_path, {"logiqa-zh": 4, "gaokao-history": 3})
    ds = datasets.load("agieval", data=tmp_path)
    assert [s.name for s in ds.subjects] == ["gaokao-history", "logiqa-zh"]  # table order
    s = ds.subjects[1]
    rows = written["logiqa-zh"]
    kept = [i for i, r in enumerate(rows) if len(r["choices"]) == 4 and len(r["gold"]) == 1]
    assert [d.index for d in s.shots] == kept[:5]
    assert [i.index for i in s.items] == kept[5:] and len(s.items) == 4
    assert s.items[0].question == rows[kept[5]]["query"]
    assert s.items[0].answer == "ABCD"[rows[kept[5]]["gold"][0]]
    assert len(datasets.load("agieval", data=tmp_path, shots=2).subjects[0].shots) == 2


def test_gaokao_keeps_single_letter_items(tmp_path):
    written = quizdata.write_gaokao(tmp_path, {"2010-2022_Geography_MCQs": 6})
    ds = datasets.load("gaokao", data=tmp_path)
    s = ds.subjects[0]
    items = written["2010-2022_Geography_MCQs"]
    kept = [i for i, q in enumerate(items) if len(q["standard_answer"]) == 1]
    assert s.title == "高考地理" and [d.index for d in s.shots] == kept[:5]
    assert [i.index for i in s.items] == kept[5:]
    assert s.items[0].explanation == items[kept[5]]["analysis"]


def test_hf_cache_is_read_offline(tmp_path, isolated_home, monkeypatch):
    snap = isolated_home / "hf" / "hub" / "datasets--ceval--ceval-exam" / "snapshots" / "abc123"
    quizdata.write_ceval(snap, {"logic": 2})
    (snap.parents[1] / "refs").mkdir()
    (snap.parents[1] / "refs" / "main").write_text("abc123")
    ds = datasets.load("ceval", subject_names=["logic"], offline=True)
    assert ds.source == str(snap) and len(ds.subjects[0].items) == 2


def test_not_cached_and_offline_is_one_clear_error():
    with pytest.raises(UserError, match="not in the Hugging Face cache.*pass --data DIR"):
        datasets.load("mmlu", subject_names=["anatomy"], offline=True)


# ------------------------------------------------------------------------------- errors
def _error(**kw) -> str:
    with pytest.raises(UserError) as info:
        datasets.load(**kw)
    text = str(info.value)
    assert "\n" not in text
    return text


def test_unknown_benchmark():
    assert _error(name="hellaswag").startswith("unknown benchmark 'hellaswag'")


def test_unknown_subject(tmp_path):
    quizdata.write_ceval(tmp_path, {"logic": 2})
    msg = _error(name="ceval", data=tmp_path, subject_names=["computer_networks"])
    assert "unknown C-Eval subject 'computer_networks'" in msg and "computer_network" in msg


def test_unknown_split(tmp_path):
    assert "C-Eval has no split 'train'" in _error(name="ceval", data=tmp_path, split="train")


def test_missing_split(tmp_path):
    quizdata.write_ceval(tmp_path, {"logic": 2}, splits=("dev", "val"))
    assert "has no test split of C-Eval" in _error(name="ceval", data=tmp_path, split="test")
    msg = _error(name="ceval", data=tmp_path, split="test", subject_names=["logic"])
    assert "has no test split for C-Eval subject 'logic'" in msg


def test_missing_dev_split_for_shots(tmp_path):
    quizdata.write_ceval(tmp_path, {"logic": 2}, splits=("val",))
    assert "has no dev split" in _error(name="ceval", data=tmp_path)
    assert datasets.load("ceval", data=tmp_path, shots=0).subjects[0].shots == []


def test_malformed_parquet(tmp_path):
    quizdata.write_ceval(tmp_path, {"logic": 2})
    bad = tmp_path / "logic" / "val-00000-of-00001.parquet"
    bad.write_bytes(b"PAR1" + b"\x00garbage" * 10)
    msg = _error(name="ceval", data=tmp_path)
    assert msg.startswith(f"{bad} is not a readable parquet file")


def test_parquet_without_the_columns(tmp_path):
    quizdata.write_mmlu(tmp_path, {"anatomy": 2})
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "anatomy" / "test-00000-of-00001.parquet"
    pq.write_table(pa.table({"question": ["q"], "answer": [1]}), path)
    assert "has no column choices" in _error(name="mmlu", data=tmp_path)


def test_data_that_is_not_a_folder(tmp_path):
    assert "is not a folder" in _error(name="ceval", data=tmp_path / "nope")
