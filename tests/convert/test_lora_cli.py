"""The adapter from the command line: ``convert ADAPTER --base``, ``ask --lora``, the refusals."""

from __future__ import annotations

import json

import pytest

from peft_adapter import write_adapter


@pytest.fixture(scope="module")
def adapter_gguf(tmp_path_factory, checkpoint, converted):
    from baichuan_tui.convert.lora import convert_adapter

    root = tmp_path_factory.mktemp("lora-cli")
    ck = checkpoint("b1-7b")
    a = write_adapter(root / "ad", ck, r=4, alpha=32, seed=21)
    out = root / "ad.gguf"
    convert_adapter(a.folder, converted("b1-7b"), out, outtype="f32")
    return out


def test_convert_adapter_command(tmp_path, cli, checkpoint, converted):
    ck = checkpoint("b1-7b")
    a = write_adapter(tmp_path / "peft", ck, r=2, alpha=4, seed=5)
    base = converted("b1-7b")
    out = tmp_path / "a.gguf"
    r = cli("convert", str(a.folder), "--base", str(base), "--out", str(out), "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert (doc["rank"], doc["alpha"], doc["outtype"]) == (2, 4.0, "F16")
    assert doc["tensors"] == 2 * 7 * ck.config["num_hidden_layers"]  # q k v o gate up down
    from baichuan_tui.engine.lora import adapter_base

    assert adapter_base(out) == base.name  # the library lists it next to its base
    assert adapter_base(base) is None
    again = cli("convert", str(a.folder), "--base", str(base), "--out", str(out))
    assert again.returncode == 1 and "already exists" in again.stderr
    nobase = cli("convert", str(a.folder), "--out", str(tmp_path / "b.gguf"))
    assert nobase.returncode == 2 and "--base" in nobase.stderr
    assert len(nobase.stderr.strip().splitlines()) == 1


def _ask(cli, base, *extra):
    r = cli(
        "ask",
        "--model",
        str(base),
        *extra,
        "--temperature",
        "0",
        "--max-tokens",
        "12",
        "--json",
        "hello",
    )
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_ask_with_lora(cli, converted, adapter_gguf):
    base = converted("b1-7b")
    plain = _ask(cli, base)
    off = _ask(cli, base, "--lora", f"{adapter_gguf}:0")
    on = _ask(cli, base, "--lora", str(adapter_gguf))
    assert off["reply"] == plain["reply"]  # scale 0: the base model
    assert on["loras"] == [{"path": str(adapter_gguf), "scale": 1.0}]
    assert "loras" not in plain


def test_lora_refusals_are_one_line(cli, converted, adapter_gguf, tmp_path):
    base = converted("b1-7b")
    for extra, expect in (
        (["--lora", str(base)], "not a LoRA adapter"),
        (["--lora", str(tmp_path / "missing.gguf")], "does not exist"),
        (["--lora", str(adapter_gguf), "--server", "http://127.0.0.1:9"], "--lora"),
    ):
        r = cli("ask", "--model", str(base), *extra, "hi")
        assert r.returncode == 1, (extra, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:") and expect in lines[0]
    bad = cli("ask", "--model", str(base), "--lora", f"{adapter_gguf}:much", "hi")
    assert bad.returncode == 1 and "does not exist" in bad.stderr  # ":much" is no scale


def test_quiz_lora_compare_runs_base_and_adapter(cli, converted, adapter_gguf, tmp_path):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "quiz"))
    import quizdata

    from baichuan_tui.quiz import results

    quizdata.write_ceval(tmp_path / "ceval", {"logic": 4}, seed=3)
    base = converted("b1-7b")
    r = cli(
        "quiz", "run", "ceval", "--data", str(tmp_path / "ceval"), "--model", str(base),
        "--lora", str(adapter_gguf), "--lora-compare", "--shots", "1", "--json",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    plain, adapted = json.loads(r.stdout)
    assert "loras" not in results.load_run(plain["run_id"])["model"]
    (lora,) = results.load_run(adapted["run_id"])["model"]["loras"]
    assert (lora["file"], lora["scale"]) == (adapter_gguf.name, 1.0) and len(lora["sha256"]) == 64
    table = cli("quiz", "run", "ceval", "--data", str(tmp_path / "ceval"), "--model", str(base),
                "--lora", str(adapter_gguf), "--lora-compare", "--shots", "1")  # fmt: skip
    assert table.returncode == 0, table.stderr
    assert f"+ {adapter_gguf.name}" in table.stdout  # the compare table names the adapter
    refused = cli("quiz", "run", "ceval", "--model", str(base), "--lora-compare")
    assert refused.returncode == 2 and "--lora-compare needs --lora" in refused.stderr
