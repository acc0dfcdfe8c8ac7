"""Stored runs, the published table, the sha256 record, and the benchmark script."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest

from baichuan_tui import facts
from baichuan_tui.errors import UserError
from baichuan_tui.quiz import results


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (("Baichuan2-7B-Chat", "x.gguf"), "Baichuan2-7B-Chat"),
        ((None, "baichuan2-13b-chat.Q4_K_M.gguf"), "Baichuan2-13B-Chat"),
        (("baichuan-7B", None), "baichuan-7B"),
        (("Baichuan-13B-Base", None), "Baichuan-13B-Base"),
        (("llama-2-7b", "llama.gguf"), None),
    ],
)
def test_published_model(names, expected):
    assert results.published_model(*names) == expected


def test_published_values():
    assert results.published_value("Baichuan2-7B-Chat", "ceval") == "54.35 (val)"
    assert results.published_value("Baichuan2-7B-Chat", "gaokao") is None
    assert results.published_value(None, "mmlu") is None


def test_model_sha256_is_remembered(tmp_path):
    f = tmp_path / "m.gguf"
    f.write_bytes(b"GGUF" * 1000)
    want = hashlib.sha256(f.read_bytes()).hexdigest()
    assert facts.model_sha256(f) == want
    cache = json.loads(facts._sha_cache().read_text("utf-8"))
    assert cache[str(f.resolve())]["sha256"] == want
    f.write_bytes(b"GGUF" * 999)  # changed: hashed again
    assert facts.model_sha256(f) == hashlib.sha256(f.read_bytes()).hexdigest()


def _record(bench: str, model: str = "a.gguf") -> dict:
    return {
        "version": results.VERSION,
        "id": None,
        "created_at": "2024-01-01T00:00:00",
        "benchmark": bench,
        "model": {"file": model, "path": model, "quant": None, "sha256": "0"},
        "questions": [],
    }


def test_load_run_by_id_prefix_last_and_path():
    a = results.save(_record("ceval"))
    b = results.save(_record("mmlu"))
    ida, idb = a.stem, b.stem
    assert results.load_run(ida)["benchmark"] == "ceval"
    assert results.load_run(str(b))["id"] == idb
    assert results.load_run("last")["id"] == idb
    with pytest.raises(UserError, match="matches 2 runs"):
        results.load_run(ida[:9])
    with pytest.raises(UserError, match="no stored quiz run 'zzz'"):
        results.load_run("zzz")


def test_ceval_submission_uses_the_question_ids():
    rec = {
        "questions": [
            {"subject": "law", "index": 0, "id": "17", "prediction": "B"},
            {"subject": "law", "index": 1, "id": None, "prediction": "D"},
        ]
    }
    assert results.ceval_submission(rec) == {"law": {"17": "B", "1": "D"}}


def test_bench_script_runs(tiny):
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "scripts" / "bench_quiz.py"
    res = subprocess.run(
        [
            sys.executable,
            str(script),
            "--model",
            str(tiny("b2-7b-chat")),
            "--subjects",
            "1",
            "--questions",
            "4",
            "--threads",
            "1",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["identical_predictions"] and doc["questions"] == 4 and doc["speedup"] > 0
