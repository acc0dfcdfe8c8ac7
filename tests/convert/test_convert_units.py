"""The small pieces: q/k row order, the SentencePiece flag, NormHead, safetensors, streaming."""

from __future__ import annotations

import numpy as np
import pytest

from baichuan_tui.convert.baichuan import reverse_permute_index
from baichuan_tui.convert.heads import is_normalized, normalize_rows, row_norms
from baichuan_tui.convert.safetensors_io import SafetensorsFile
from baichuan_tui.convert.vocab import add_dummy_prefix
from baichuan_tui.convert.writer import QT, float_tensor, write_gguf
from baichuan_tui.engine.gguf_check import inspect_gguf

from hf_checkpoint import _round, _save, train_tokenizer


def test_reverse_permute_is_llama_cpp_formula():
    n_head, d, cols = 4, 8, 3
    w = np.arange(n_head * d * cols).reshape(n_head * d, cols)
    llama = w.reshape(n_head, 2, d // 2, cols).swapaxes(1, 2).reshape(w.shape)
    np.testing.assert_array_equal(w[reverse_permute_index(n_head * d, n_head)], llama)
    # head 0: rows 0,4,1,5,2,6,3,7 (first half and second half interleaved into pairs)
    assert reverse_permute_index(n_head * d, n_head)[:d].tolist() == [0, 4, 1, 5, 2, 6, 3, 7]


@pytest.mark.parametrize("flag", [False, True])
def test_add_dummy_prefix_read_from_the_proto(flag):
    assert add_dummy_prefix(train_tokenizer(flag)) is flag
    assert add_dummy_prefix(b"") is True  # protobuf default


def test_normalize_rows():
    rows = np.array([[3.0, 4.0], [0.0, 0.0], [1e-3, 0.0]], dtype=np.float32)
    out = normalize_rows(rows)
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0], [1.0, 0.0]], rtol=1e-6)
    assert out.dtype == np.float32
    np.testing.assert_allclose(row_norms(out)[[0, 2]], 1.0)
    assert is_normalized(out[[0, 2]]) and not is_normalized(rows)


@pytest.mark.parametrize("dtype", ["F32", "F16", "BF16"])
def test_safetensors_rows(tmp_path, dtype):
    from safetensors import safe_open

    x = np.random.default_rng(0).standard_normal((5, 7)).astype(np.float32)
    stored, exact = _round(x, dtype)
    _save(tmp_path / "t.safetensors", {"w": stored, "v": stored[0]}, dtype)
    with safe_open(tmp_path / "t.safetensors", framework="numpy") as f:  # independent reader
        assert sorted(f.keys()) == ["v", "w"]
        assert f.get_slice("w").get_shape() == [5, 7]
    sf = SafetensorsFile(tmp_path / "t.safetensors")
    assert (sf.shape("w"), sf.dtype("w")) == ((5, 7), dtype)
    np.testing.assert_array_equal(sf.rows("w", 1, 4), exact[1:4])
    np.testing.assert_array_equal(sf.rows("v", 0, 7), exact[0])


def test_streaming_writes_chunk_by_chunk(tmp_path):
    big = np.random.default_rng(1).standard_normal((1000, 64)).astype(np.float32)
    calls = []

    def rows(a, b):
        calls.append((a, b))
        return big[a:b]

    plan = float_tensor("token_embd.weight", big.shape, QT.Q8_0, rows, chunk_bytes=64 * 4 * 100)
    vec = float_tensor("output_norm.weight", (64,), QT.F32, lambda a, b: np.ones(64))
    done = []
    write_gguf(
        tmp_path / "t.gguf",
        "llama",
        lambda w: w.add_name("t"),
        [plan, vec],
        lambda d, t: done.append((d, t)),
    )
    assert calls == [(a, a + 100) for a in range(0, 1000, 100)]  # 10 chunks of 100 rows
    assert done[-1] == (plan.nbytes + 256, plan.nbytes + 256)
    info = inspect_gguf(tmp_path / "t.gguf", check_vocab=False)
    assert [(t.name, t.type_name, t.shape) for t in info.tensors] == [
        ("token_embd.weight", "Q8_0", (64, 1000)),
        ("output_norm.weight", "F32", (64,)),
    ]


def test_memory_stays_bounded(checkpoint, tmp_path, monkeypatch):
    """Tensors are streamed in row chunks: converting the 125696-row Baichuan2 checkpoint
    (a 73 MB F32 file, two 32 MB matrices) holds far less than a matrix at once."""
    import tracemalloc

    from baichuan_tui.convert import writer
    from baichuan_tui.convert.pipeline import convert

    folder = checkpoint("b2-7b").folder
    monkeypatch.setattr(writer, "CHUNK_BYTES", 2**20)
    tracemalloc.start()
    try:
        res = convert(folder, tmp_path / "b2.gguf", outtype="f32", record=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert res.size > 70e6
    assert peak < 32e6  # the vocabulary's strings, the header and a 1 MB chunk or two


@pytest.mark.parametrize("outtype", ["f16", "q4_k_m"])
def test_copy_is_byte_identical(outtype, converted, tmp_path):
    """Keys and tensors of an existing GGUF carried over unchanged (what a head repair
    does for everything but the head)."""
    import gguf

    from baichuan_tui.convert.writer import copied_tensor, copy_metadata

    src = converted("b1-7b", outtype)
    reader = gguf.GGUFReader(src)
    write_gguf(
        tmp_path / "copy.gguf",
        "baichuan",
        copy_metadata(reader),
        [copied_tensor(t) for t in reader.tensors],
    )
    assert (tmp_path / "copy.gguf").read_bytes() == src.read_bytes()
