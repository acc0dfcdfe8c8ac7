"""Quantized outputs (llama.cpp's own quantizer): types, exact sizes, they load and generate."""

from __future__ import annotations

import json

import gguf
import numpy as np
import pytest

from baichuan_tui.convert.writer import QT, encode, ggml_quantize
from baichuan_tui.engine.gguf_check import inspect_gguf
from baichuan_tui.engine.llama import LlamaEngine, LoadOptions
from baichuan_tui.engine.prompts import Prompt
from baichuan_tui.engine.sampling import Sampling

from hf_reference import forward
from llama_check import llama_logits, prompt_ids

GREEDY = Sampling(temperature=0.0, repeat_penalty=1.0, max_tokens=8)


def _padded(n: int, align: int = 32) -> int:
    return -(-n // align) * align


@pytest.mark.parametrize("kind", ["b1-7b", "b1-13b"])
def test_q8_0_types_and_size(kind, converted):
    q8, f16 = inspect_gguf(converted(kind, "q8_0")), inspect_gguf(converted(kind, "f16"))
    assert q8.file_type == "Q8_0" and q8.metadata["general.file_type"] == 7
    weights = 0
    for t in q8.tensors:
        n = int(np.prod(t.shape))
        if len(t.shape) == 1:
            assert (t.type_name, t.nbytes) == ("F32", 4 * n)
        else:  # every matrix, head and embedding included: 32 values in 34 bytes
            assert (t.type_name, t.nbytes) == ("Q8_0", n // 32 * 34)
            weights += n
    # nothing but the header and the aligned tensor data
    assert q8.file_size == q8.data_offset + sum(_padded(t.nbytes) for t in q8.tensors)
    # and 8.5 bits per weight where F16 has 16
    assert q8.data_offset == pytest.approx(f16.data_offset, abs=64)
    f16_weights = sum(t.nbytes for t in f16.tensors if len(t.shape) > 1)
    q8_weights = sum(t.nbytes for t in q8.tensors if len(t.shape) > 1)
    assert q8_weights / f16_weights == pytest.approx(8.5 / 16)
    assert q8_weights == weights * 34 // 32


@pytest.mark.parametrize("kind", ["b1-7b", "b1-13b"])
def test_q8_0_loads_and_generates(kind, checkpoint, converted):
    ck = checkpoint(kind)
    path = converted(kind, "q8_0")
    ids = prompt_ids(ck)
    positions = "rope" if kind == "b1-7b" else "alibi"
    got = llama_logits(path, ids)
    want = forward(ck.weights, ck.config, ids, positions=positions, norm_head=False)
    # Q8_0 weights and activations over 32-40 random layers: close, not equal (F16 is 0.9999+)
    assert np.corrcoef(got, want)[0, 1] > 0.9
    with LlamaEngine(path, LoadOptions(n_ctx=128)) as engine:
        prompt = Prompt(token_ids=ids, template="completion", max_tokens=8)
        res = engine.generate(prompt, GREEDY, ignore_eos=True).wait()
    assert res.completion_tokens == 8


def test_ask_runs_on_q8_0(cli, converted):
    res = cli(
        "ask",
        "--model",
        str(converted("b2-7b", "q8_0")),
        "--json",
        "--max-tokens",
        "6",
        "--temperature",
        "0",
        "--n-ctx",
        "256",
        "hello world",
    )
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["template"] == "baichuan2-chat"  # the family is detected from the vocabulary
    assert doc["completion_tokens"] > 0 or doc["finish_reason"] == "stop"


@pytest.mark.parametrize("outtype", ["q4_k_m", "q5_k_m", "q4_0", "bf16"])
def test_other_types_load(outtype, converted):
    path = converted("b1-7b", outtype)
    info = inspect_gguf(path)
    assert info.file_type == outtype.upper()
    assert llama_logits(path, [5, 6, 7]).shape == (info.vocab_size,)


def test_bf16_intermediate_for_bf16_checkpoints(converted):
    # a BF16 checkpoint is quantized from a BF16 intermediate: the Q8_0 file equals quantizing
    # the F32 conversion's matrices with ggml itself
    q8 = inspect_gguf(converted("b1-13b", "q8_0"))
    f32 = inspect_gguf(converted("b1-13b", "f32"))
    t8 = next(t for t in q8.tensors if t.name == "blk.3.ffn_up.weight")
    t32 = next(t for t in f32.tensors if t.name == "blk.3.ffn_up.weight")
    rows = np.memmap(f32.path, np.float32, "r", t32.offset, tuple(reversed(t32.shape)))
    raw = np.memmap(q8.path, np.uint8, "r", t8.offset, (t8.nbytes,))
    assert bytes(raw) == ggml_quantize(rows, QT.Q8_0).tobytes()


def test_encode_types():
    rows = np.random.default_rng(0).standard_normal((4, 256)).astype(np.float32)
    assert encode(rows, QT.F32).dtype == np.float32
    assert encode(rows, QT.F16).dtype == np.float16
    np.testing.assert_array_equal(encode(rows, QT.Q8_0), gguf.quants.quantize(rows, QT.Q8_0))
    for qt in (QT.BF16, QT.Q6_K, QT.Q4_K, QT.Q5_K, QT.Q4_0):
        back = gguf.quants.dequantize(encode(rows, qt), qt)
        assert back.shape == rows.shape
        assert np.abs(back - rows).max() < 0.5
    with pytest.raises(ValueError, match="multiple of 256"):
        ggml_quantize(rows[:, :64], QT.Q6_K)
