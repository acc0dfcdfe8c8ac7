"""The output appears only when complete: interrupts, failures and full disks leave nothing."""

from __future__ import annotations

import errno
import os
import shutil
import stat
from pathlib import Path

import pytest

from baichuan_tui.convert import outfile, pipeline, quantize, writer
from baichuan_tui.convert.pipeline import convert
from baichuan_tui.errors import UserError


def _interrupt_after(monkeypatch: pytest.MonkeyPatch, calls: int, exc: BaseException) -> None:
    real = writer.encode
    count = [0]

    def encode(data, ggml_type):
        count[0] += 1
        if count[0] > calls:
            raise exc
        return real(data, ggml_type)

    monkeypatch.setattr(writer, "encode", encode)


def _only(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("outtype", ["f16", "q8_0"])
def test_interrupted_write_leaves_nothing(outtype, checkpoint, tmp_path, monkeypatch):
    _interrupt_after(monkeypatch, 60, KeyboardInterrupt())
    out = tmp_path / "out.gguf"
    with pytest.raises(KeyboardInterrupt):
        convert(checkpoint("b1-7b").folder, out, outtype=outtype)
    assert _only(tmp_path) == []  # no output, no temp or intermediate file


def test_interrupted_quantize_leaves_nothing(checkpoint, tmp_path):
    seen = []

    def progress(stage, done, total):
        seen.append(stage)
        if stage == "quantize" and done >= 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        convert(
            checkpoint("b1-7b").folder, tmp_path / "out.gguf", outtype="q8_0", progress=progress
        )
    assert "write" in seen and "quantize" in seen
    assert _only(tmp_path) == []


def test_interrupt_keeps_the_previous_file(checkpoint, tmp_path, monkeypatch):
    out = tmp_path / "out.gguf"
    out.write_bytes(b"previous")
    _interrupt_after(monkeypatch, 10, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        convert(checkpoint("b1-7b").folder, out, outtype="f32", force=True)
    assert out.read_bytes() == b"previous"
    assert _only(tmp_path) == ["out.gguf"]


def test_disk_full_while_writing(checkpoint, tmp_path, monkeypatch):
    _interrupt_after(monkeypatch, 30, OSError(errno.ENOSPC, "No space left on device"))
    with pytest.raises(UserError, match="disk filled up"):
        convert(checkpoint("b1-7b").folder, tmp_path / "out.gguf", outtype="q8_0")
    assert _only(tmp_path) == []


def test_not_enough_free_space(checkpoint, tmp_path, monkeypatch):
    monkeypatch.setattr(outfile, "free_bytes", lambda folder: 10 * 2**20)
    with pytest.raises(UserError, match="not enough disk space for out.gguf"):
        convert(checkpoint("b1-7b").folder, tmp_path / "out.gguf", outtype="q8_0")
    assert _only(tmp_path) == []


def test_quantize_failure_is_one_line(tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 60)
    with pytest.raises(UserError, match="llama.cpp could not quantize bad.gguf to Q8_0"):
        quantize.quantize(bad, tmp_path / "out.gguf", "q8_0")
    assert _only(tmp_path) == ["bad.gguf"]


def test_bad_result_is_not_renamed(checkpoint, tmp_path, monkeypatch):
    def reject(path):
        raise UserError(f"{path} is broken")

    monkeypatch.setattr(pipeline, "_validate", reject)
    for outtype in ("f16", "q8_0"):
        with pytest.raises(UserError, match="broken"):
            convert(checkpoint("b1-7b").folder, tmp_path / "out.gguf", outtype=outtype)
    assert _only(tmp_path) == []


@pytest.mark.parametrize("name", ["model.safetensors", "tokenizer.model", "config.json", "x.gguf"])
def test_output_inside_the_source_is_refused(name, checkpoint, tmp_path):
    src = tmp_path / "ck"
    shutil.copytree(checkpoint("b1-7b").folder, src)
    before = {p.name: p.read_bytes() for p in src.iterdir()}
    with pytest.raises(UserError, match="inside the source"):
        convert(src, src / name, outtype="f16", force=True)
    assert {p.name: p.read_bytes() for p in src.iterdir()} == before


def test_output_onto_an_input_elsewhere_is_refused(checkpoint, tmp_path):
    """A Hub snapshot's files are links to blobs outside the folder: a blob is an input too."""
    blobs, snap = tmp_path / "blobs", tmp_path / "snapshot"
    shutil.copytree(checkpoint("b1-7b").folder, blobs)
    snap.mkdir()
    for f in blobs.iterdir():
        (snap / f.name).symlink_to(f)
    weights = blobs / "model.safetensors"
    data = weights.read_bytes()
    with pytest.raises(UserError, match="is an input"):
        convert(snap, weights, outtype="f16", force=True)
    assert weights.read_bytes() == data


def test_existing_file_needs_force(checkpoint, tmp_path):
    out = tmp_path / "notes.txt"
    out.write_text("mine")
    with pytest.raises(UserError, match="already exists: pass --force"):
        convert(checkpoint("b1-7b").folder, out, outtype="f16")
    assert out.read_text() == "mine"
    convert(checkpoint("b1-7b").folder, out, outtype="f16", force=True, record=False)
    assert out.read_bytes()[:4] == b"GGUF"


def test_missing_folder_is_not_created(checkpoint, tmp_path):
    with pytest.raises(UserError, match="does not exist: create the folder first"):
        convert(checkpoint("b1-7b").folder, tmp_path / "a" / "b.gguf", outtype="f16")
    assert _only(tmp_path) == []


def test_output_gets_ordinary_permissions(checkpoint, tmp_path):
    old = os.umask(0o022)
    try:
        out = tmp_path / "out.gguf"
        convert(checkpoint("b1-7b").folder, out, outtype="f16", record=False)
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644  # not the temp file's 0600
