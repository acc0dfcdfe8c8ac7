"""The real-shape generator (scripts/make_shape_model.py): files load and have the asked shapes.

Only scaled-down shapes are written here (a full 7B file is 13 GiB); the full-size plans are
checked without generating them (streamed: one chunk at a time, never a whole tensor).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import gguf
import numpy as np
import pytest

from baichuan_tui.convert.writer import CHUNK_BYTES
from baichuan_tui.engine.gguf_check import inspect_gguf
from baichuan_tui.engine.llama import LlamaEngine, LoadOptions
from baichuan_tui.hub import fit

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "make_shape_model.py"


@pytest.fixture(scope="module")
def gen() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_shape_model", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_shape_model"] = module
    spec.loader.exec_module(module)
    return module


def test_shapes_are_the_catalog_families(gen: ModuleType) -> None:
    seven = gen.shape("baichuan-7b")
    assert (seven.n_layer, seven.n_embd, seven.n_head, seven.n_ff) == (32, 4096, 32, 11008)
    assert seven.n_vocab == 64000 and seven.family == "baichuan"
    b2 = gen.shape("baichuan2-13b")
    assert (b2.n_layer, b2.n_embd, b2.n_head, b2.n_ff) == (40, 5120, 40, 13696)
    assert b2.n_vocab == 125696 and b2.family == "baichuan2"
    # parameter counts as published: ~7.0B and ~13.9B
    assert 6.9e9 < seven.n_params < 7.1e9
    assert 13.8e9 < b2.n_params < 14.0e9


def test_full_size_plans_stream_in_bounded_chunks(gen: ModuleType) -> None:
    """A 7B plan is never materialised: each chunk is at most CHUNK_BYTES of float32 rows."""
    plans = gen.tensor_plans(gen.shape("baichuan2-7b"), seed=3)
    embd = plans[0]
    assert embd.name == "token_embd.weight" and embd.shape == (125696, 4096)
    first = next(iter(embd.chunks()))
    assert first.nbytes // 2 * 4 <= CHUNK_BYTES < embd.n_elements * 4
    again = next(iter(gen.tensor_plans(gen.shape("baichuan2-7b"), seed=3)[0].chunks()))
    other = next(iter(gen.tensor_plans(gen.shape("baichuan2-7b"), seed=4)[0].chunks()))
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    total = sum(p.nbytes for p in plans)
    assert 13.5e9 < total < 15.5e9  # F16 bytes of a 7B with the 125,696 vocabulary


@pytest.mark.parametrize(
    ("name", "scale", "quant"),
    [("baichuan-7b", 32, "F16"), ("baichuan2-13b", 40, "Q8_0")],
)
def test_scaled_file_loads_with_the_asked_shape(
    gen: ModuleType, tmp_path: Path, name: str, scale: int, quant: str
) -> None:
    sh = gen.shape(name, scale)
    out = gen.write_shape_model(sh, tmp_path / f"{name}.gguf", quant)
    info = inspect_gguf(out)
    assert (info.block_count, info.embedding_length) == (sh.n_layer, sh.n_embd)
    assert (info.head_count, info.feed_forward_length) == (sh.n_head, sh.n_ff)
    assert info.vocab_size == sh.n_vocab and info.file_type == quant
    shapes = {t.name: tuple(t.shape) for t in info.tensors}
    assert shapes["token_embd.weight"] == (sh.n_embd, sh.n_vocab)  # ggml order: ne0 first
    assert shapes[f"blk.{sh.n_layer - 1}.ffn_down.weight"] == (sh.n_ff, sh.n_embd)
    assert len(info.tensors) == 9 * sh.n_layer + 3
    reader = gguf.GGUFReader(out)
    types = reader.fields["tokenizer.ggml.token_type"]
    assert int(types.parts[types.data[195]][0]) == gguf.TokenType.NORMAL  # a <reserved_N>
    est = fit.estimate(fit.numbers_from_gguf(info), n_ctx=256)
    assert est.weights_bytes == sum(t.nbytes for t in info.tensors)
    with LlamaEngine(out, LoadOptions(n_ctx=256, n_threads=1)) as engine:
        logits = engine.next_token_logits(engine.encode("你好"))
    assert len(logits) == sh.n_vocab and all(np.isfinite(logits))


def test_unknown_shape_and_bad_scale_are_one_line(gen: ModuleType) -> None:
    with pytest.raises(gen.UserError, match="unknown shape 'baichuan-70b'"):
        gen.shape("baichuan-70b")
    with pytest.raises(gen.UserError, match="--scale 3"):
        gen.shape("baichuan-7b", 3)
