"""``baichuan-chat quiz``: the --json contract, stored runs, one-line errors, Ctrl+C."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import quizdata
from quizref import Reference, ref_ceval, ref_mmlu

from baichuan_tui.quiz.subjects import CEVAL

REPO = Path(__file__).resolve().parents[2]

QUESTION_KEYS = {"subject", "index", "answer", "prediction", "probs"}


def _run(cli, bench: str, model, data, *extra: str) -> dict:
    """``quiz run BENCH --json`` (one thread: steadier on a shared 2-core machine)."""
    return _doc(
        cli(
            "quiz",
            "run",
            bench,
            "--model",
            str(model),
            "--data",
            str(data),
            "--threads",
            "1",
            "--json",
            *extra,
        )
    )


def _doc(res: subprocess.CompletedProcess[str]) -> dict:
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    return json.loads(res.stdout)  # exactly one document


def _contract(doc: dict) -> None:
    for key in (
        "benchmark",
        "protocol",
        "split",
        "shots",
        "model",
        "overall",
        "subjects",
        "questions",
        "questions_per_s",
    ):
        assert key in doc, key
    assert set(doc["overall"]) >= {"accuracy", "subject_average", "n"}
    for s in doc["subjects"].values():
        assert set(s) >= {"accuracy", "n", "shots_used"}
    for q in doc["questions"]:
        assert set(q) >= QUESTION_KEYS and set(q["probs"]) == set("ABCD")
        assert q["prediction"] == max("ABCD", key=q["probs"].get)
        assert sum(q["probs"].values()) == pytest.approx(1.0)
    assert (
        doc["overall"]["n"]
        == len(doc["questions"])
        == sum(s["n"] for s in doc["subjects"].values())
    )
    assert doc["questions_per_s"] > 0


def _agree(doc: dict, refs: list[np.ndarray]) -> None:
    same = sum(
        q["prediction"] == "ABCD"[int(np.argmax(p))]
        for q, p in zip(doc["questions"], refs, strict=True)
    )
    assert same / len(refs) >= 0.98


def test_ceval_val_json(cli, tiny, tmp_path):
    model = tiny("b2-7b-chat")
    written = quizdata.write_ceval(tmp_path, {"logic": 5, "computer_network": 4}, seed=11)
    doc = _run(cli, "ceval", model, tmp_path, "--split", "val")
    _contract(doc)
    assert (doc["benchmark"], doc["protocol"], doc["split"], doc["shots"]) == (
        "ceval",
        "baichuan",
        "val",
        5,
    )
    assert doc["model"] == str(model) and list(doc["subjects"]) == ["computer_network", "logic"]
    rows = [
        (s, i, r) for s in ("computer_network", "logic") for i, r in enumerate(written[s]["val"])
    ]
    assert [(q["subject"], q["index"], q["answer"]) for q in doc["questions"]] == [
        (s, i, r["answer"]) for s, i, r in rows
    ]
    ref = Reference(model)
    try:
        _agree(doc, [ref.score(*ref_ceval(CEVAL[s], written[s]["dev"], r, 5)) for s, _, r in rows])
    finally:
        ref.close()
    per = {
        s: np.mean([q["prediction"] == q["answer"] for q in doc["questions"] if q["subject"] == s])
        for s in doc["subjects"]
    }
    for s, v in doc["subjects"].items():
        assert v["accuracy"] == pytest.approx(per[s]) and v["shots_used"] == 5
    assert doc["overall"]["subject_average"] == pytest.approx(np.mean(list(per.values())))
    assert doc["overall"]["accuracy"] == pytest.approx(
        np.mean([q["prediction"] == q["answer"] for q in doc["questions"]])
    )
    assert doc["run_id"] and doc["model_sha256"] and doc["licence"].startswith("CC BY-NC-SA")


def test_mmlu_test_json_and_stored_runs(cli, tiny, tmp_path):
    model = tiny("b2-7b-chat")
    written = quizdata.write_mmlu(tmp_path, {"virology": 4, "anatomy": 3}, seed=12)
    doc = _run(cli, "mmlu", model, tmp_path, "--split", "test")
    _contract(doc)
    assert doc["protocol"] == "hendrycks" and list(doc["subjects"]) == ["anatomy", "virology"]
    ref = Reference(model)
    try:
        _agree(
            doc,
            [
                ref.score(*ref_mmlu(s, written[s]["dev"], r, 5))
                for s in ("anatomy", "virology")
                for r in written[s]["test"]
            ],
        )
    finally:
        ref.close()
    again = _run(
        cli,
        "mmlu",
        model,
        tmp_path,
        "--subjects",
        "virology",
        "--protocol",
        "lm-eval",
        "--shots",
        "2",
        "--limit",
        "2",
        "--no-prefix-cache",
    )
    assert again["protocol"] == "lm-eval" and again["shots"] == 2 and again["overall"]["n"] == 2
    assert again["prefix_cache"] is False
    listed = _doc(cli("quiz", "results", "--json"))
    assert [r["id"] for r in listed["runs"]] == [doc["run_id"], again["run_id"]]
    assert "Baichuan2-7B-Chat" in listed["published"]
    cmp = _doc(cli("quiz", "compare", doc["run_id"], again["run_id"], "--json"))
    assert set(cmp["subjects"][again["run_id"]]) == {"virology"}
    shown = cli("quiz", "results", "last")
    assert shown.returncode == 0 and "virology" in shown.stdout
    table = cli("quiz", "compare", doc["run_id"], "last")
    assert table.returncode == 0 and "published" in table.stdout


def test_ceval_test_split_gives_predictions_and_a_submission(cli, tiny, tmp_path):
    quizdata.write_ceval(tmp_path, {"logic": 3})
    doc = _run(cli, "ceval", tiny("b2-7b-chat"), tmp_path, "--split", "test")
    assert doc["overall"]["accuracy"] is None and doc["subjects"]["logic"]["accuracy"] is None
    assert all(q["answer"] is None for q in doc["questions"])
    with open(doc["submission"], encoding="utf-8") as f:
        sub = json.load(f)
    assert sub == {"logic": {str(q["index"]): q["prediction"] for q in doc["questions"]}}
    out = tmp_path / "export.json"
    res = cli("quiz", "results", doc["run_id"], "--export-ceval", str(out))
    assert res.returncode == 0 and json.loads(out.read_text("utf-8")) == sub


@pytest.mark.parametrize("case", ["benchmark", "subject", "parquet", "split", "protocol"])
def test_errors_are_one_line(cli, tiny, tmp_path, case):
    quizdata.write_ceval(tmp_path, {"logic": 2}, splits=("dev", "val"))
    args = {
        "benchmark": ["hellaswag"],
        "subject": ["ceval", "--subjects", "logic,lgoic"],
        "parquet": ["ceval"],
        "split": ["ceval", "--split", "test"],
        "protocol": ["ceval", "--protocol", "hendrycks"],
    }[case]
    if case == "parquet":
        (tmp_path / "logic" / "val-00000-of-00001.parquet").write_bytes(b"not parquet")
    res = cli(
        "quiz", "run", *args, "--model", str(tiny("b2-7b-chat")), "--data", str(tmp_path), "--json"
    )
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert res.returncode == 1 and res.stdout == "", res.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    assert {
        "benchmark": "unknown benchmark 'hellaswag'",
        "subject": "'lgoic'",
        "parquet": "not a readable parquet file",
        "split": "no test split",
        "protocol": "no protocol 'hendrycks'",
    }[case] in lines[0]


def test_ctrl_c_keeps_finished_subjects(tiny, tmp_path):
    quizdata.write_ceval(tmp_path, {"law": 3, "logic": 60, "marxism": 60})
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "baichuan_tui",
            "quiz",
            "run",
            "ceval",
            "--model",
            str(tiny("b2-7b-chat")),
            "--data",
            str(tmp_path),
            "--no-prefix-cache",
            "--threads",
            "1",
            "--json",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    err = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        err.append(line)
        if line.startswith("law: ") or not line:
            break
    assert err[-1].startswith("law: "), "".join(err)
    proc.send_signal(signal.SIGINT)
    out, rest = proc.communicate(timeout=120)
    assert proc.returncode == 130, "".join(err) + rest
    doc = json.loads(out)
    assert doc["interrupted"] is True and "law" in doc["subjects"]
    assert doc["subjects"]["law"]["n"] == 3
    assert all(s["n"] == 60 for name, s in doc["subjects"].items() if name != "law")


def test_quiz_help_is_fast_and_headless(cli):
    res = cli("quiz", "run", "--help")
    assert res.returncode == 0 and "--no-prefix-cache" in res.stdout
    code = (
        "import sys, argparse\n"
        "from baichuan_tui.commands import quiz\n"
        "import baichuan_tui.quiz.datasets, baichuan_tui.quiz.protocols\n"
        "import baichuan_tui.quiz.runner, baichuan_tui.quiz.results\n"
        "import baichuan_tui.quiz.report, baichuan_tui.quiz.loaders\n"
        "bad = [m for m in ('textual', 'llama_cpp', 'pyarrow') if m in sys.modules]\n"
        "print(','.join(bad))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout.strip() == "", res.stdout + res.stderr
