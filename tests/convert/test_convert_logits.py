"""Converted F32 GGUFs compute what the HF Baichuan models compute (NumPy reference)."""

from __future__ import annotations

import gguf
import numpy as np
import pytest

from baichuan_tui.engine.gguf_check import inspect_gguf
from baichuan_tui.engine.llama import LlamaEngine, LoadOptions

from hf_reference import forward
from llama_check import llama_logits, prompt_ids, tensor_f32

# Measured: max |llama.cpp - reference| is ~1e-5 on logits of magnitude ~3-7; a conversion
# mistake (q/k order, slopes, head) moves them by more than 1.
ATOL, RTOL = 2e-4, 1e-4

CASES = {  # kind -> (positions, NormHead)
    "b1-7b": ("rope", False),
    "b1-13b": ("alibi", False),
    "b2-7b": ("rope", True),
    "b2-13b": ("alibi", True),
}


@pytest.mark.parametrize("kind", list(CASES))
def test_f32_logits_match_reference(kind, checkpoint, converted):
    ck = checkpoint(kind)
    positions, norm_head = CASES[kind]
    ids = prompt_ids(ck)
    got = llama_logits(converted(kind), ids)
    want = forward(ck.weights, ck.config, ids, positions=positions, norm_head=norm_head)
    np.testing.assert_allclose(got, want, atol=ATOL, rtol=RTOL)


@pytest.mark.parametrize(
    ("kind", "wrong"),
    [
        ("b1-7b", {"positions": "rope", "rope_style": "pairs", "norm_head": False}),
        ("b1-13b", {"positions": "none", "norm_head": False}),
        ("b2-7b", {"positions": "rope", "norm_head": False}),
    ],
)
def test_reference_is_sensitive(kind, wrong, checkpoint, converted):
    """The comparison has teeth: skipping the q/k un-permutation, ALiBi or NormHead would
    change the logits far beyond the tolerance."""
    ck = checkpoint(kind)
    ids = prompt_ids(ck)
    got = llama_logits(converted(kind), ids)
    assert np.abs(got - forward(ck.weights, ck.config, ids, **wrong)).max() > 0.5


def test_engine_logits_match_reference(checkpoint, converted):
    """Through the app's engine (F16 KV cache: a looser tolerance)."""
    ck = checkpoint("b1-13b")
    ids = prompt_ids(ck, seed=3)
    with LlamaEngine(converted("b1-13b"), LoadOptions(n_ctx=128)) as engine:
        got = np.array(engine.next_token_logits(ids))
    want = forward(ck.weights, ck.config, ids, positions="alibi", norm_head=False)
    np.testing.assert_allclose(got, want, atol=5e-2)
    assert int(np.argmax(got)) == int(np.argmax(want))


def test_metadata_like_llama_cpp(checkpoint, converted):
    info = inspect_gguf(converted("b1-7b"))
    assert info.architecture == "baichuan"
    assert (
        info.block_count,
        info.embedding_length,
        info.head_count,
        info.head_count_kv,
        info.feed_forward_length,
        info.context_length,
    ) == (32, 64, 4, 4, 128, 4096)
    assert info.file_type == "F32" and info.metadata["general.file_type"] == 0
    assert info.name == "b1-7b"
    assert (info.bos_id, info.eos_id, info.add_bos, info.add_space_prefix) == (1, 2, False, False)
    assert info.metadata["baichuan.rope.dimension_count"] == 16
    assert info.metadata["baichuan.tensor_data_layout"] == "Meta AI original pth"
    names = {t.name for t in info.tensors}
    assert {
        "token_embd.weight",
        "output_norm.weight",
        "output.weight",
        "blk.31.attn_q.weight",
        "blk.31.attn_k.weight",
        "blk.31.attn_v.weight",
        "blk.31.ffn_gate.weight",
    } <= names
    assert len(names) == 3 + 32 * 9
    assert inspect_gguf(converted("b1-13b")).add_space_prefix is True


def test_vocabulary_typed_like_llama_cpp(checkpoint, converted):
    ck = checkpoint("b2-13b")
    reader = gguf.GGUFReader(converted("b2-13b"))
    field = reader.fields["tokenizer.ggml.token_type"]
    types = [int(field.parts[i][0]) for i in field.data]
    tokens = reader.fields["tokenizer.ggml.tokens"]
    text = [bytes(tokens.parts[i]).decode() for i in tokens.data]
    tt = gguf.TokenType
    assert len(types) == 1024
    assert inspect_gguf(converted("b2-7b")).vocab_size == 125696
    assert types[:3] == [tt.UNKNOWN, tt.CONTROL, tt.CONTROL]
    # Baichuan-1 layout: id 195 is <reserved_102>, a user-defined piece -> NORMAL
    assert text[195] == "<reserved_102>" and types[195] == tt.NORMAL
    assert text[393] == "<0x00>" and types[393] == tt.BYTE
    n = ck.n_tokenizer
    assert text[n] == f"[PAD{n}]" and types[n] == tt.UNUSED and types[-1] == tt.UNUSED


@pytest.mark.parametrize(("kind", "unit"), [("b2-7b", True), ("b2-13b", True), ("b1-7b", False)])
def test_normhead_rows_are_unit(kind, unit, converted):
    norms = np.linalg.norm(tensor_f32(converted(kind), "output.weight").astype(np.float64), axis=1)
    assert np.allclose(norms, 1.0, atol=1e-5) == unit


def test_tokenizer_matches_sentencepiece(checkpoint, converted):
    import sentencepiece as spm

    for kind in ("b1-7b", "b1-13b"):  # add_dummy_prefix off / on
        sp = spm.SentencePieceProcessor(model_file=str(checkpoint(kind).folder / "tokenizer.model"))
        with LlamaEngine(converted(kind), LoadOptions(vocab_only=True)) as engine:
            for text in (
                "hello world",
                "百川大模型是一个中文语言模型。",
                "猫 and 狗 ok",
                " leading space",
                "1234 tiny\ncorpus",
            ):
                assert engine.call(lambda t=text: engine.tokenizer.encode(t)) == sp.encode(text)
            # the role piece is NORMAL: its text is ordinary pieces, never id 195
            assert 195 not in engine.call(lambda: engine.tokenizer.encode("<reserved_102>"))
