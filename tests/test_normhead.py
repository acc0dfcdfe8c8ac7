"""NormHead (issue 7): find and repair Baichuan2 GGUFs whose output head was never normalised.

Tiny Baichuan2-shaped files (vocabulary 125,696, 32 and 40 layers) come in pairs written from
the same seed: ``raw`` (head rows of norm 0.3..3, as llama.cpp's converter leaves them) and
``norm`` (unit rows, as Baichuan2's NormHead computes). Heads are stored as F16 and Q8_0 by
make_tiny_model; K-quant heads (Q6_K, Q4_K: they need rows of 256 values, so those models have
n_embd 256) are made by llama.cpp's own quantizer (``output_tensor_type``) from F16 pairs.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import struct
import subprocess
import sys
from pathlib import Path

import gguf
import llama_cpp
import numpy as np
import pytest

from baichuan_tui.convert.registry import list_converted
from baichuan_tui.engine.gguf_check import inspect_gguf
from baichuan_tui.errors import UserError
from baichuan_tui.repair import detect, verdicts
from baichuan_tui.repair.detect import check_head, head_tensor, tolerance
from baichuan_tui.repair.fix import head_type_for, repair_file
from baichuan_tui.repair.notice import normhead_notice, repaired_version, warning_text

from tiny_models import _cached, _version, cache_dir

CASES = [(32, "F16"), (40, "F16"), (32, "Q8_0"), (40, "Q8_0"), (32, "Q6_K"), (40, "Q4_K")]
K_QUANTS = ("Q6_K", "Q4_K")
PROMPT = [195, *range(1000, 1024), 196]

QUANTIZE = """
import sys, llama_cpp
llama_cpp.llama_backend_init()
p = llama_cpp.llama_model_quantize_default_params()
p.ftype = 2  # MOSTLY_Q4_0, as the source's other matrices
p.output_tensor_type = int(sys.argv[3])
p.allow_requantize = True
sys.exit(llama_cpp.llama_model_quantize(sys.argv[1].encode(), sys.argv[2].encode(), p))
"""


def _quantized(kind: str, kwargs: dict, head: str) -> Path:
    """The F16-head tiny model ``kind`` with its head re-quantized by llama.cpp to ``head``
    (cached; the F16 source is deleted afterwards)."""
    target = cache_dir() / f"{kind}-{_version(kwargs)}-{head}.gguf"
    if not target.is_file():
        src = _cached(kind, kwargs)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        qtype = str(int(gguf.GGMLQuantizationType[head]))
        res = subprocess.run(
            [sys.executable, "-c", QUANTIZE, str(src), str(tmp), qtype],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert res.returncode == 0, res.stderr[-2000:]
        os.replace(tmp, target)
        src.unlink(missing_ok=True)
    return target


def pair(layers: int, head: str) -> tuple[Path, Path]:
    """(raw, norm) tiny Baichuan2 files, identical but for the head's row norms."""
    kw = {"family": "baichuan2", "layers": layers, "seed": 70 + layers, "head_type": head}
    if head in K_QUANTS:
        kw.update(head_type="F16", n_embd=256, n_ff=256)
    kinds = [
        (f"nh-{layers}-{kw['head_type']}-{'norm' if n else 'raw'}", {**kw, "normalize_head": n})
        for n in (False, True)
    ]
    if head in K_QUANTS:
        return tuple(_quantized(k, a, head) for k, a in kinds)  # type: ignore[return-value]
    return tuple(_cached(k, a) for k, a in kinds)  # type: ignore[return-value]


def head_info(path: Path):
    t = head_tensor(inspect_gguf(path, check_vocab=False))
    assert t is not None
    return t


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_model(path: Path, n_gen: int = 0) -> tuple[np.ndarray, list[int]]:
    """Next-token logits after PROMPT (F32 KV cache) and ``n_gen`` greedy tokens."""
    f32 = getattr(llama_cpp, "GGML_TYPE_F32", 0)
    llm = llama_cpp.Llama(
        model_path=str(path), n_ctx=256, n_threads=2, type_k=f32, type_v=f32, verbose=False
    )
    try:
        llm.eval(PROMPT)
        logits = np.ctypeslib.as_array(
            llama_cpp.llama_get_logits_ith(llm.ctx, -1), shape=(llm.n_vocab(),)
        ).copy()
        out: list[int] = []
        if n_gen:
            for tok in llm.generate(PROMPT, temp=0.0, repeat_penalty=1.0, reset=True):
                if tok == llm.token_eos() or len(out) >= n_gen:
                    break
                out.append(tok)
        return logits, out
    finally:
        llm.close()


def logit_tolerance(head: str, n_embd: int) -> float:
    """|d logit| <= |h| |d w|: the final hidden state has norm sqrt(n_embd) (RMSNorm, unit
    weights) and the repaired row differs from the reference by the head type's error."""
    return tolerance(head) * np.sqrt(n_embd)


# ---------------------------------------------------------------------------- end to end
@pytest.mark.parametrize(("layers", "head"), CASES)
def test_detect_and_repair(tmp_path, layers, head):
    raw, norm = pair(layers, head)
    t = head_info(raw)
    assert t.type_name == head and t.shape[1] == 125696
    for method in ("quick", "exact"):
        bad, good = check_head(raw, method), check_head(norm, method)
        assert bad.applicable and bad.normalized is False and bad.needs_fix, bad
        assert good.applicable and good.normalized is True and not good.needs_fix, good
        assert bad.checked_rows == good.checked_rows == (512 if method == "quick" else 125696)

    before, mtime = sha(raw), raw.stat().st_mtime_ns
    res = repair_file(raw, tmp_path / "fixed.gguf")
    out = res.path
    assert sha(raw) == before and raw.stat().st_mtime_ns == mtime  # the original is untouched
    assert res.head_type == head and res.note is None
    assert res.after.normalized and check_head(out, "exact", cache=False).normalized

    # Every byte outside the head's data is the source's: header, metadata, other tensors.
    a, b = raw.read_bytes(), out.read_bytes()
    assert len(a) == len(b)
    assert a[: t.offset] == b[: t.offset] and a[t.offset + t.nbytes :] == b[t.offset + t.nbytes :]
    assert a[t.offset : t.offset + t.nbytes] != b[t.offset : t.offset + t.nbytes]

    [rec] = list_converted()
    assert (rec.kind, rec.source, rec.path, rec.sha256) == (
        "repaired",
        str(raw.absolute()),
        str(out.absolute()),
        sha(out),
    )
    assert repaired_version(raw) == out.absolute()

    # Logits match the same model written with a normalised head; greedy text where the
    # head is unquantized.
    n_gen = 32 if head in ("F16", "F32") else 0
    fixed, fixed_ids = run_model(out, n_gen)
    ref, ref_ids = run_model(norm, n_gen)
    broken, _ = run_model(raw)
    n_embd = t.shape[0]
    diff = float(np.abs(fixed - ref).max())
    assert diff <= logit_tolerance(head, n_embd), (diff, logit_tolerance(head, n_embd))
    assert float(np.abs(broken - ref).max()) > 10 * logit_tolerance(head, n_embd)
    assert int(fixed.argmax()) == int(ref.argmax())
    assert fixed_ids == ref_ids


def _kv_bytes(path: Path, first_tensor: str) -> bytes:
    """The header up to the tensor table: version, counts and every key/value, as stored."""
    data = path.read_bytes()
    name = first_tensor.encode()
    return data[: data.index(struct.pack("<Q", len(name)) + name, 24)]


def test_head_type_change_rewrites_metadata_and_tensors_unchanged(tmp_path):
    raw, norm = pair(32, "F16")
    res = repair_file(raw, tmp_path / "q8.gguf", head_type="Q8_0")
    assert res.head_type == "Q8_0" and res.source_head_type == "F16" and res.note is None
    a, b = (inspect_gguf(p, check_vocab=False) for p in (raw, res.path))
    assert a.metadata == b.metadata
    assert _kv_bytes(raw, a.tensors[0].name) == _kv_bytes(res.path, a.tensors[0].name)
    assert [t.name for t in a.tensors] == [t.name for t in b.tensors]
    with raw.open("rb") as fa, res.path.open("rb") as fb:
        for ta, tb in zip(a.tensors, b.tensors, strict=True):
            if ta.name == "output.weight":
                assert (ta.type_name, tb.type_name) == ("F16", "Q8_0")
                continue
            assert (ta.type_name, ta.shape, ta.nbytes) == (tb.type_name, tb.shape, tb.nbytes)
            fa.seek(ta.offset)
            fb.seek(tb.offset)
            assert fa.read(ta.nbytes) == fb.read(tb.nbytes), ta.name
    diff = np.abs(run_model(res.path)[0] - run_model(norm)[0]).max()
    assert diff <= logit_tolerance("Q8_0", 64)


def test_head_type_fallback():
    assert head_type_for("Q6_K", 4096) == ("Q6_K", None)
    assert head_type_for("Q4_0", 64) == ("Q4_0", None)
    for kind in ("IQ2_XXS", "IQ2_XS", "IQ1_S"):
        new, note = head_type_for(kind, 4096)
        assert new == "Q2_K" and note and kind in note and "Q2_K" in note
    assert head_type_for("NVFP4", 4096)[0] == "Q4_K"  # same bits per weight
    assert head_type_for("NVFP4", 64)[0] == "Q4_0"  # rows too short for K-quants


# ---------------------------------------------------------------------------- detection
def test_not_applicable(tiny):
    from dataclasses import replace

    for kind in ("b1-7b-base", "b1-13b-chat", "vicuna"):
        c = check_head(tiny(kind), "exact")
        assert not c.applicable and c.normalized is None and "Baichuan-1" in c.reason
        assert normhead_notice(tiny(kind)) is None
    assert "vocabulary only" in check_head(tiny("b2-vocab")).reason
    info = inspect_gguf(tiny("b2-7b-chat"), check_vocab=False)
    other = replace(info, architecture="llama", name="Llama-2-7B", path=Path("llama.gguf"))
    assert detect.not_applicable_reason(other) == "not a Baichuan model"
    named = replace(info, architecture="llama", name="Baichuan2-7B-Chat-llamafied")
    assert detect.not_applicable_reason(named) is None
    assert check_head(tiny("b2-7b-chat")).normalized is True  # the shared fixture is correct


def test_rule_and_tolerances():
    ones = np.ones(1000)
    v = detect.verdict
    assert v(ones, method="exact", type_name="F16", rows=1000).normalized is True
    near = ones.copy()
    near[:5] = 2.0  # 0.5 % of the rows off: quantization outliers
    assert v(near, method="exact", type_name="F16", rows=1000).normalized is True
    near[:20] = 2.0
    assert v(near, method="exact", type_name="F16", rows=1000).normalized is False
    zeros = np.concatenate([ones, np.zeros(500)])  # all-zero rows count neither way
    assert v(zeros, method="exact", type_name="F16", rows=1500).within == 1.0
    assert v(np.zeros(8), method="quick", type_name="F16", rows=8).normalized is None
    assert tolerance("F16") == 0.01 < tolerance("Q6_K") < tolerance("Q4_K") < tolerance("Q2_K")
    assert 0.25 < tolerance("IQ3_XXS") < tolerance("IQ2_XXS") == 0.5  # from bpw, capped


def test_quick_verdict_is_cached_per_file(tmp_path, monkeypatch):
    raw = tmp_path / "model.gguf"
    raw.write_bytes(pair(32, "F16")[0].read_bytes())
    first = check_head(raw)
    assert first.normalized is False and verdicts.cache_file().is_file()

    class Boom:
        def __init__(self, *a, **k):
            raise AssertionError("read the head again")

    monkeypatch.setattr(detect, "HeadRows", Boom)
    assert check_head(raw) == first
    os.utime(raw, ns=(raw.stat().st_atime_ns, raw.stat().st_mtime_ns + 10**9))
    with pytest.raises(AssertionError, match="again"):
        check_head(raw)
    monkeypatch.undo()
    exact = check_head(raw, "exact")
    assert check_head(raw, "quick") == exact  # an exact verdict answers quick questions


# ---------------------------------------------------------------------------- repair
def test_interrupted_fix_leaves_nothing(tmp_path):
    raw = pair(40, "Q8_0")[0]
    folder = tmp_path / "out"
    folder.mkdir()
    for stage in ("write", "sha256"):

        def stop(s, done, total, stage=stage):
            if s == stage and done > 0:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            repair_file(raw, folder / "fixed.gguf", stop)
        assert list(folder.iterdir()) == []
        assert list_converted() == []


def test_refusals_and_default_output(tmp_path, tiny):
    raw, norm = pair(32, "F16")
    with pytest.raises(UserError, match="already has a normalised"):
        repair_file(norm, tmp_path / "x.gguf")
    with pytest.raises(UserError, match="Baichuan-1"):
        repair_file(tiny("b1-7b-base"), tmp_path / "x.gguf")
    local = tmp_path / "Baichuan2-7B-Chat-F16.gguf"
    local.write_bytes(raw.read_bytes())
    with pytest.raises(UserError, match="being repaired"):
        repair_file(local, local)
    out = repair_file(local).path
    assert out == tmp_path / "Baichuan2-7B-Chat-F16.normhead.gguf"
    assert list(tmp_path.iterdir()) == [local, out] or sorted(tmp_path.iterdir()) == sorted(
        [local, out]
    )
    forced = repair_file(norm, tmp_path / "forced.gguf", force=True)
    assert forced.after.normalized and forced.before.normalized


def test_copy_keeps_the_source_permissions_and_needs_its_folder(tmp_path):
    raw, _ = pair(32, "F16")
    src = tmp_path / "Baichuan2-7B-Chat-F16.gguf"
    src.write_bytes(raw.read_bytes())
    src.chmod(0o640)
    out = repair_file(src).path
    assert stat.S_IMODE(out.stat().st_mode) == 0o640  # not the temp file's 0600
    with pytest.raises(UserError, match="does not exist: create the folder first"):
        repair_file(src, tmp_path / "missing" / "x.gguf")
    assert not (tmp_path / "missing").exists()


def test_catalog_name_resolves_to_the_repaired_copy(tmp_path, capsys):
    import argparse

    from baichuan_tui import locations
    from baichuan_tui.commands import fix as fix_cmd
    from baichuan_tui.commands import models as cmd
    from baichuan_tui.hub import cache
    from baichuan_tui.hub.resolve import cached_model
    from baichuan_tui.library import resolve_model
    from baichuan_tui.repair.fix import default_output

    spec, repo, name = (
        "baichuan2-7b-chat:Q4_K_M",
        "second-state/Baichuan2-7B-Chat-GGUF",
        "Baichuan2-7B-Chat-Q4_K_M.gguf",
    )
    folder = cache.storage_folder(repo)
    commit = "0" * 40
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text(commit)
    path = folder / "snapshots" / commit / name
    path.parent.mkdir(parents=True)
    path.write_bytes(pair(32, "F16")[0].read_bytes())
    digest = sha(path)
    cache.remember(
        path, sha256=digest, expected=digest, ok=True, source="hub", repo=repo, filename=name
    )
    assert resolve_model(spec, offline=True) == path
    assert verdicts.key(path) == f"r{verdicts.RULE}:sha256:{digest}"

    # A verified Baichuan2 download offers the repair.
    assert cmd.cmd_download(argparse.Namespace(spec=spec, offline=True, json=True)) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["normhead"]["normalized"] is False
    assert f"run 'baichuan-chat models fix {spec}'" in captured.err

    assert default_output(path).parent == locations.models_dir()  # never into the HF cache
    args = argparse.Namespace(spec=spec, out=None, force=False, json=True, offline=True)
    assert fix_cmd.run(args) == 0  # `models fix NAME` repairs the downloaded file
    fixed = Path(json.loads(capsys.readouterr().out)["path"])
    assert fixed.parent == locations.models_dir() and fixed.name == name[:-5] + ".normhead.gguf"
    assert resolve_model(spec, offline=True) == fixed.absolute()
    assert cached_model(spec, offline=True) == path
    assert resolve_model(spec, offline=True, prefer_repaired=False) == path
    assert "repaired copy" in (normhead_notice(path) or "")


# ---------------------------------------------------------------------------- CLI
def _warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("warning:")]


def test_cli_info_verify_and_ask_flag_only_unnormalised_files(cli, tiny):
    raw, norm = pair(40, "F16")
    b1 = tiny("b1-13b-chat")
    expected = {raw: False, norm: True, b1: None}
    for path, normalized in expected.items():
        res = cli("models", "info", str(path), "--json")
        assert res.returncode == 0, res.stderr
        doc = json.loads(res.stdout)["normhead"]
        assert doc["applicable"] is (normalized is not None)
        assert doc["normalized"] is normalized and doc["method"] == "quick"
        assert doc["checked_rows"] == (0 if normalized is None else 512)
        assert ("fix" in doc) is (normalized is False)

        res = cli("models", "verify", str(path), "--json")
        assert res.returncode == 0, res.stderr
        [result] = json.loads(res.stdout)["results"]
        assert result["normhead"]["normalized"] is normalized
        if normalized is not None:
            assert result["normhead"]["method"] == "exact"
            assert result["normhead"]["checked_rows"] == 125696
        assert _warnings(res.stderr) == (
            [f"warning: {warning_text(path)}"] if normalized is False else []
        )

        res = cli("ask", "--model", str(path), "--max-tokens", "4", "--n-ctx", "256", "你好")
        assert res.returncode == 0, res.stderr
        assert _warnings(res.stderr) == (
            [f"warning: {warning_text(path)}"] if normalized is False else []
        )
    assert warning_text(raw) == (
        f"{raw} has an unnormalised Baichuan2 output head (NormHead); "
        f"run 'baichuan-chat models fix {raw}'"
    )

    res = cli("models", "info", str(raw))
    assert res.returncode == 0 and "NOT normalised" in res.stdout


def test_cli_fix_end_to_end(cli, tmp_path, tiny):
    raw, norm = pair(32, "Q8_0")
    out = tmp_path / "fixed.gguf"
    res = cli("models", "fix", str(raw), "--out", str(out), "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["path"] == str(out) and doc["head_type"] == "Q8_0" and doc["note"] is None
    assert doc["before"]["normalized"] is False and doc["after"]["normalized"] is True
    assert doc["sha256"] == sha(out)
    info = json.loads(cli("models", "info", str(out), "--json").stdout)["normhead"]
    assert info["normalized"] is True
    res = cli("ask", "--model", str(out), "--max-tokens", "4", "--n-ctx", "256", "你好")
    assert res.returncode == 0 and _warnings(res.stderr) == []
    listed = json.loads(cli("models", "list", "--json").stdout)["local"]
    assert [(m["path"], m["kind"]) for m in listed] == [(str(out), "repaired")]

    res = cli("models", "fix", str(raw), "--out", str(tmp_path / "again.gguf"))
    assert res.returncode == 0 and "wrote" in res.stdout, res.stderr
    for path, why in ((norm, "already has a normalised"), (tiny("b1-7b-base"), "Baichuan-1")):
        res = cli("models", "fix", str(path), "--out", str(tmp_path / "no.gguf"))
        assert res.returncode == 1 and why in res.stderr
    assert not (tmp_path / "no.gguf").exists()


def test_the_package_imports_no_module_of_its_own():
    """``repair/__init__`` imports nothing its modules need back (no import cycle)."""
    code = (
        "import sys, baichuan_tui.repair; "
        "print(sorted(m for m in sys.modules if m.startswith('baichuan_tui.repair.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
