"""Fixtures for the converter tests: tiny HF checkpoints and their conversions (per session)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from hf_checkpoint import Checkpoint, write_checkpoint

# name -> write_checkpoint arguments, each shape once
SHAPES: dict[str, dict] = {
    # baichuan-7B: RoPE, the "BaiChuan" spelling, F16 storage, one file
    "b1-7b": {"layers": 32, "arch": "BaiChuanForCausalLM", "dtype": "F16", "seed": 1},
    # Baichuan-13B: ALiBi, 6 heads (not a power of two: the interleaved slopes), BF16, 3 shards
    "b1-13b": {
        "layers": 40,
        "hidden": 96,
        "heads": 6,
        "ff": 160,
        "dtype": "BF16",
        "shards": 3,
        "seed": 2,
        "add_dummy_prefix": True,
    },
    # Baichuan2-7B: RoPE, vocabulary padded to 125696 (family detection), unnormalised head
    "b2-7b": {"layers": 32, "vocab_size": 125696, "dtype": "BF16", "head_norms": True, "seed": 3},
    # Baichuan2-13B shape with a small vocabulary (padded past the tokenizer's pieces):
    # NormHead found in modeling_baichuan.py
    "b2-13b": {
        "layers": 40,
        "vocab_size": 1024,
        "dtype": "F32",
        "norm_head_code": True,
        "head_norms": True,
        "seed": 4,
    },
}


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Checkpoint]:
    root = tmp_path_factory.mktemp("hf")
    made: dict[str, Checkpoint] = {}

    def get(kind: str) -> Checkpoint:
        if kind not in made:
            made[kind] = write_checkpoint(root / kind, **SHAPES[kind])
        return made[kind]

    return get


@pytest.fixture(scope="session")
def converted(
    tmp_path_factory: pytest.TempPathFactory, checkpoint: Callable[[str], Checkpoint]
) -> Callable[[str, str], Path]:
    """``converted(kind, outtype)`` → the GGUF converted from checkpoint ``kind``."""
    from baichuan_tui.convert.pipeline import convert

    root = tmp_path_factory.mktemp("gguf")
    made: dict[tuple[str, str], Path] = {}

    def get(kind: str, outtype: str = "f32") -> Path:
        if (kind, outtype) not in made:
            out = root / f"{kind}.{outtype}.gguf"
            convert(checkpoint(kind).folder, out, outtype=outtype, record=False)
            made[(kind, outtype)] = out
        return made[(kind, outtype)]

    return get
