"""PEFT LoRA adapters → GGUF adapters: llama.cpp's logits with the adapter equal the NumPy
forward pass of the merged weights; bad adapters are one line each."""

from __future__ import annotations

import json

import numpy as np
import pytest

from baichuan_tui.convert.lora import convert_adapter
from baichuan_tui.errors import UserError

from hf_reference import forward
from llama_check import llama_logits, prompt_ids
from peft_adapter import merged, write_adapter

ATOL, RTOL = 1e-3, 1e-4
CASES = {"b1-7b": ("rope", False), "b1-13b": ("alibi", False)}


@pytest.fixture(scope="module")
def adapters(tmp_path_factory, checkpoint, converted):
    """kind -> (checkpoint, base GGUF, adapter A, its GGUF, adapter B, its GGUF)."""
    root = tmp_path_factory.mktemp("lora")
    made = {}

    def get(kind):
        if kind not in made:
            ck, base = checkpoint(kind), converted(kind)
            a = write_adapter(root / f"{kind}-a", ck, r=4, alpha=8, seed=11)
            b = write_adapter(
                root / f"{kind}-b", ck, r=2, alpha=4, targets=("self_attn.W_pack",), seed=12
            )
            ga, gb = root / f"{kind}-a.gguf", root / f"{kind}-b.gguf"
            convert_adapter(a.folder, base, ga, outtype="f32")
            convert_adapter(b.folder, ck.folder, gb, outtype="f32")  # base given as HF folder
            made[kind] = (ck, base, a, ga, b, gb)
        return made[kind]

    return get


@pytest.mark.parametrize("kind", list(CASES))
def test_adapter_logits_match_merged_reference(kind, adapters):
    ck, base, a, ga, _, _ = adapters(kind)
    positions, norm = CASES[kind]
    ids = prompt_ids(ck)
    got = llama_logits(base, ids, [(ga, 1.0)])
    want = forward(merged(ck, (a, 1.0)), ck.config, ids, positions=positions, norm_head=norm)
    np.testing.assert_allclose(got, want, atol=ATOL, rtol=RTOL)
    base_logits = forward(ck.weights, ck.config, ids, positions=positions, norm_head=norm)
    assert np.abs(want - base_logits).max() > 0.05  # the adapter really changes the model


@pytest.mark.parametrize("kind", list(CASES))
def test_scale_zero_is_the_base_and_two_adapters_stack(kind, adapters):
    ck, base, a, ga, b, gb = adapters(kind)
    positions, norm = CASES[kind]
    ids = prompt_ids(ck, seed=5)
    plain = forward(ck.weights, ck.config, ids, positions=positions, norm_head=norm)
    np.testing.assert_allclose(llama_logits(base, ids, [(ga, 0.0)]), plain, atol=ATOL, rtol=RTOL)
    got = llama_logits(base, ids, [(ga, 0.5), (gb, 1.0)])
    want = forward(
        merged(ck, (a, 0.5), (b, 1.0)), ck.config, ids, positions=positions, norm_head=norm
    )
    np.testing.assert_allclose(got, want, atol=ATOL, rtol=RTOL)


def test_rslora_and_alpha_pattern_are_folded(tmp_path, checkpoint, converted):
    ck, base = checkpoint("b1-7b"), converted("b1-7b")
    a = write_adapter(
        tmp_path / "rs",
        ck,
        r=4,
        alpha=6,
        seed=3,
        extra_config={"use_rslora": True, "alpha_pattern": {"o_proj": 2.0}},
    )
    out = tmp_path / "rs.gguf"
    convert_adapter(a.folder, base, out, outtype="f32")
    ids = prompt_ids(ck, seed=9)
    w = merged(ck, (a, 1.0))  # rsLoRA: s = alpha / sqrt(r); o_proj then uses alpha 2
    for i in range(ck.config["num_hidden_layers"]):
        p = f"base_model.model.model.layers.{i}.self_attn.o_proj"
        delta = a.tensors[p + ".lora_B.weight"].astype(np.float64) @ a.tensors[
            p + ".lora_A.weight"
        ].astype(np.float64)
        w[f"model.layers.{i}.self_attn.o_proj.weight"] += (2.0 - 6.0) / 2.0 * delta
    want = forward(w, ck.config, ids, positions="rope", norm_head=False)
    np.testing.assert_allclose(llama_logits(base, ids, [(out, 1.0)]), want, atol=ATOL, rtol=RTOL)


def _refusal(tmp_path, ck, base, **kw) -> str:
    a = write_adapter(tmp_path / "bad", ck, **kw)
    with pytest.raises(UserError) as err:
        convert_adapter(a.folder, base, tmp_path / "bad.gguf")
    assert not (tmp_path / "bad.gguf").exists()
    line = str(err.value)
    assert "\n" not in line
    return line


def test_bad_adapters_are_one_line_each(tmp_path, checkpoint, converted):
    ck, base = checkpoint("b1-7b"), converted("b1-7b")
    assert "embed_tokens" in _refusal(
        tmp_path,
        ck,
        base,
        targets=("self_attn.W_pack",),
        layers=(0,),
        extra_tensors={
            "base_model.model.model.embed_tokens.lora_embedding_A": np.zeros((4, 8), np.float32)
        },
    )
    assert "modules_to_save" in _refusal(
        tmp_path, ck, base, extra_config={"modules_to_save": ["lm_head"]}
    )
    assert "DoRA" in _refusal(tmp_path, ck, base, extra_config={"use_dora": True})
    wrong_rank = {
        "base_model.model.model.layers.0.self_attn.o_proj.lora_B.weight": np.zeros(
            (64, 3), np.float32
        )
    }
    assert "ranks differ" in _refusal(
        tmp_path,
        ck,
        base,
        targets=("self_attn.W_pack",),
        extra_tensors={
            "base_model.model.model.layers.0.self_attn.o_proj.lora_A.weight": np.zeros(
                (4, 64), np.float32
            ),
            **wrong_rank,
        },
    )
    folder = tmp_path / "noconfig"
    write_adapter(folder, ck)
    (folder / "adapter_config.json").unlink()
    with pytest.raises(UserError):
        convert_adapter(folder, base, tmp_path / "x.gguf")


def test_adapter_of_another_size_is_refused(tmp_path, checkpoint, converted):
    """An adapter trained on the 13B shape (hidden 96, 40 layers) given a 7B-shape base."""
    big, small = checkpoint("b1-13b"), converted("b1-7b")
    a = write_adapter(tmp_path / "big", big, layers=(0, 1))
    with pytest.raises(UserError) as err:
        convert_adapter(a.folder, small, tmp_path / "x.gguf")
    text = str(err.value)
    assert "does not fit" in text and "96" in text
    assert json.loads((a.folder / "adapter_config.json").read_text())["r"] == 4


def test_engine_applies_rescales_and_removes_without_reloading(adapters):
    from baichuan_tui.engine.llama import LlamaEngine, LoadOptions
    from baichuan_tui.engine.lora import Lora

    ck, base, _, ga, _, _ = adapters("b1-7b")
    ids = prompt_ids(ck, seed=4)
    with LlamaEngine(base, LoadOptions(n_ctx=64)) as engine:
        plain = np.array(engine.next_token_logits(ids))
        engine.set_loras([Lora(str(ga), 1.0)])
        on = np.array(engine.next_token_logits(ids))
        engine.set_loras([Lora(str(ga), 0.0)])
        zero = np.array(engine.next_token_logits(ids))
        engine.set_loras([])
        off = np.array(engine.next_token_logits(ids))
        assert engine.loras == ()
    with LlamaEngine(base, LoadOptions(n_ctx=64, loras=(Lora(str(ga)),))) as loaded:
        at_load = np.array(loaded.next_token_logits(ids))
    assert np.abs(on - plain).max() > 0.05
    np.testing.assert_allclose(zero, plain, atol=1e-4)
    np.testing.assert_allclose(off, plain, atol=1e-4)
    np.testing.assert_allclose(on, at_load, atol=1e-4)
