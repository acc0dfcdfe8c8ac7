"""The output appears only when complete: interrupts, failures and full disks leave nothing."""

from __future__ import annotations

import errno
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
        convert(checkpoint("b1-7b").folder, out, outtype="f32")
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
