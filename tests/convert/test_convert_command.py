"""``baichuan-chat convert``: arguments, JSON output, the registry, Hub repo ids from the cache."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from baichuan_tui import locations
from baichuan_tui.commands.convert import add_convert_parser, run
from baichuan_tui.convert.registry import (
    find_converted,
    forget_converted,
    list_converted,
    record_converted,
    registry_file,
)
from baichuan_tui.engine.gguf_check import inspect_gguf


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="baichuan-chat")
    add_convert_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["convert", *argv])
    args.offline = True  # as cli.main sets it
    return args


def test_convert_json_and_registry(checkpoint, tmp_path, capsys):
    out = tmp_path / "b2.gguf"
    assert (
        run(
            _args(
                str(checkpoint("b2-13b").folder),
                "--out",
                str(out),
                "--outtype",
                "Q8_0",
                "--name",
                "Baichuan2-13B-Tiny-Chat",
                "--json",
            )
        )
        == 0
    )
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert doc["path"] == str(out.absolute()) and doc["outtype"] == "Q8_0"
    assert doc["norm_head"] is True and doc["positions"] == "alibi"
    assert doc["norm_head_reason"] == "Baichuan2: modeling_baichuan.py defines NormHead"
    assert f"output head: normalised ({doc['norm_head_reason']})" in captured.err
    assert doc["size"] == out.stat().st_size
    assert inspect_gguf(out).name == "Baichuan2-13B-Tiny-Chat"
    rec = find_converted(out)
    assert rec is not None and rec.exists
    assert (rec.sha256, rec.outtype, rec.name) == (doc["sha256"], "Q8_0", doc["name"])
    assert rec.source == str(checkpoint("b2-13b").folder.absolute())
    assert registry_file() == locations.data_dir() / "converted.json"


def test_default_output_and_norm_head_override(checkpoint, capsys):
    assert (
        run(_args(str(checkpoint("b2-13b").folder), "--outtype", "f32", "--norm-head", "no")) == 0
    )
    captured = capsys.readouterr()
    out = locations.data_dir() / "models" / "b2-13b.F32.gguf"
    assert f"wrote {out} (F32," in captured.out and "normalised" not in captured.out
    assert "output head: left as it is (--no-norm-head given)" in captured.err
    assert [m.path for m in list_converted()] == [str(out)]


@pytest.mark.parametrize(
    ("flags", "applies"), [(["--no-norm-head"], False), (["--norm-head"], True), ([], True)]
)
def test_norm_head_flags(flags, applies):
    """``--norm-head`` alone forces it, ``--no-norm-head`` turns it off, neither means auto."""
    args = _args("ck", *flags)
    assert {"yes": True, "no": False}.get(args.norm_head, True) is applies
    assert (args.norm_head == "auto") is (not flags)


def test_hub_repo_id_from_the_cache(checkpoint, capsys):
    repo, commit = "tiny-org/baichuan-7b-tiny", "0123456789abcdef0123456789abcdef01234567"
    root = locations.hf_hub_cache() / "models--tiny-org--baichuan-7b-tiny"
    shutil.copytree(checkpoint("b1-7b").folder, root / "snapshots" / commit)
    (root / "refs").mkdir()
    (root / "refs" / "main").write_text(commit)
    assert run(_args(repo, "--outtype", "f16", "--json")) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["name"] == "baichuan-7b-tiny" and doc["source"] == repo
    info = inspect_gguf(doc["path"])
    assert info.metadata["general.source.repo_url"] == f"https://huggingface.co/{repo}"


def test_registry_roundtrip(tmp_path):
    a, b = tmp_path / "a.gguf", tmp_path / "b.gguf"
    a.write_bytes(b"x")
    record_converted(a, source="org/a", outtype="q8_0", sha256="0" * 64, name="A")
    record_converted(b, source="org/b", outtype="f16", sha256="1" * 64)
    record_converted(a, source="org/a2", outtype="q4_k_m", sha256="2" * 64)
    models = {Path(m.path).name: m for m in list_converted()}
    assert set(models) == {"a.gguf", "b.gguf"}
    assert (models["a.gguf"].source, models["a.gguf"].outtype) == ("org/a2", "Q4_K_M")
    assert models["a.gguf"].size == 1 and models["b.gguf"].size is None
    assert [Path(m.path).name for m in list_converted(existing_only=True)] == ["a.gguf"]
    assert forget_converted(b) and not forget_converted(b)
    registry_file().write_text("{not json")
    assert list_converted() == []


def test_parser_is_import_light():
    code = (
        "import sys, baichuan_tui.commands.convert as c, argparse; "
        "p = argparse.ArgumentParser(); c.add_convert_parser(p.add_subparsers()); "
        "print(sorted(m for m in ('numpy', 'gguf', 'llama_cpp', 'textual', 'rich', "
        "'huggingface_hub', 'sentencepiece') if m in sys.modules))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "[]"


def test_wired_into_the_cli(cli, checkpoint, tmp_path):
    res = cli("convert", "--help")
    if res.returncode != 0 and "invalid choice" in res.stderr:
        pytest.skip("convert is not registered in cli.py yet")
    assert res.returncode == 0 and "--outtype" in res.stdout
    out = tmp_path / "x.gguf"
    res = cli("convert", str(checkpoint("b1-7b").folder), "--out", str(out), "--outtype", "q8_0")
    assert res.returncode == 0, res.stderr
    assert inspect_gguf(out).file_type == "Q8_0"
    bad = cli("convert", str(tmp_path), "--out", str(tmp_path / "y.gguf"))
    assert bad.returncode == 1 and bad.stderr.startswith("error: ")
    assert "has no config.json" in bad.stderr and "Traceback" not in bad.stderr


def test_hub_repo_id_is_downloaded(checkpoint, monkeypatch, capsys):
    from fakehub import FakeHub

    repo = "tiny-org/Baichuan2-13B-Tiny-Chat"
    fake = FakeHub()
    for f in checkpoint("b2-13b").folder.iterdir():
        fake.add(repo, f.name, f.read_bytes())
    fake.add(repo, "pytorch_model.bin", b"PK\x03\x04 a copy nobody needs")
    fake.add(repo, "README.md", b"# card\n")
    from huggingface_hub import constants

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # frozen when first imported
    monkeypatch.setenv("HF_TOKEN", "")
    with fake:
        monkeypatch.setenv("HF_ENDPOINT", fake.url)
        args = _args(repo, "--outtype", "q8_0", "--json")
        args.offline = False
        assert run(args) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["name"], doc["norm_head"], doc["source"]) == ("Baichuan2-13B-Tiny-Chat", True, repo)
    snapshot = next(locations.hf_hub_cache().glob("models--tiny-org--*/snapshots/*"))
    got = sorted(p.name for p in snapshot.iterdir())
    assert "model.safetensors" in got and "modeling_baichuan.py" in got
    assert "pytorch_model.bin" not in got and "README.md" not in got
    # offline afterwards: served from the cache
    assert run(_args(repo, "--outtype", "f16", "--json")) == 0


def test_converted_model_is_listed_as_local(cli, tmp_path):
    import json

    from baichuan_tui.convert.registry import record_converted

    out = tmp_path / "m.gguf"
    out.write_bytes(b"GGUF")
    record_converted(
        out,
        source="baichuan-inc/Baichuan-13B-Base",
        outtype="Q8_0",
        sha256="0" * 64,
        name="Baichuan-13B-Base",
    )
    doc = json.loads(cli("--offline", "models", "list", "--json").stdout)
    assert [m["path"] for m in doc["local"]] == [str(out.resolve())]
    row = next(m for m in doc["models"] if m["hf_repo"] == "baichuan-inc/Baichuan-13B-Base")
    assert row["state"] == "converted" and row["converted"] == [str(out.resolve())]


def test_out_onto_the_source_or_an_existing_file(cli, checkpoint, tmp_path):
    src = tmp_path / "ck"
    shutil.copytree(checkpoint("b1-7b").folder, src)
    weights = (src / "model.safetensors").read_bytes()
    res = cli("convert", str(src), "--out", str(src / "model.safetensors"))
    assert res.returncode == 1 and res.stderr.count("\n") == 1, res.stderr
    assert res.stderr.startswith(f"error: {src / 'model.safetensors'} is inside the source")
    assert (src / "model.safetensors").read_bytes() == weights
    mine = tmp_path / "mine.gguf"
    mine.write_text("keep")
    res = cli("convert", str(src), "--out", str(mine))
    assert res.returncode == 1 and "already exists: pass --force" in res.stderr
    assert mine.read_text() == "keep"
    res = cli("convert", str(src), "--out", str(mine), "--force", "--outtype", "f16")
    assert res.returncode == 0, res.stderr
    assert inspect_gguf(mine).file_type == "F16"
    res = cli("convert", str(src), "--out", str(tmp_path / "no" / "x.gguf"))
    assert res.returncode == 1 and "does not exist" in res.stderr
    assert not (tmp_path / "no").exists()
