"""GPTQ checkpoints: convert dequantizes them; llama.cpp's logits match the forward pass of the
dequantized weights (packed here by an independent packer, both act-order settings)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from baichuan_tui.convert.gptq import unpack_cols, unpack_rows
from baichuan_tui.convert.pipeline import convert
from baichuan_tui.errors import UserError

from gptq_pack import _pack, write_gptq
from hf_reference import forward
from llama_check import llama_logits, prompt_ids

ATOL, RTOL = 2e-4, 1e-4  # as for float checkpoints: the dequantization itself is exact


def test_unpacking_inverts_the_packing():
    values = np.random.default_rng(0).integers(0, 16, (64, 24))
    assert (unpack_rows(_pack(values), 4) == values).all()
    assert (unpack_cols(_pack(values.T).T.copy(), 4) == values).all()


@pytest.mark.parametrize(
    ("kind", "positions", "desc_act", "sym"),
    [
        ("b1-7b", "rope", False, True),
        ("b1-7b", "rope", True, False),
        ("b1-13b", "alibi", True, True),
    ],
)
def test_gptq_logits_match_the_dequantized_reference(
    kind, positions, desc_act, sym, checkpoint, tmp_path
):
    ck = checkpoint(kind)
    folder = tmp_path / "gptq"
    reference = write_gptq(folder, ck, desc_act=desc_act, sym=sym, seed=3)
    said: list[str] = []
    out = tmp_path / "gptq.gguf"
    convert(folder, out, outtype="f32", record=False, say=said.append)
    assert any("GPTQ 4-bit, group size 32" in line for line in said)
    ids = prompt_ids(ck)
    got = llama_logits(out, ids)
    want = forward(reference, ck.config, ids, positions=positions, norm_head=False)
    np.testing.assert_allclose(got, want, atol=ATOL, rtol=RTOL)
    original = forward(ck.weights, ck.config, ids, positions=positions, norm_head=False)
    assert np.abs(want - original).max() > 1e-3  # 4-bit really changed the weights


def test_gptq_requantized_error_is_measured(checkpoint, converted, tmp_path):
    """What the README reports: converting GPTQ to Q8_0 re-quantizes; its logit error against
    the dequantized reference is about what Q8_0 costs a float checkpoint (F16 beside it)."""
    ck = checkpoint("b1-7b")
    folder = tmp_path / "gptq"
    reference = write_gptq(folder, ck, desc_act=True, sym=False, seed=4)
    ids = prompt_ids(ck)
    want = forward(reference, ck.config, ids, positions="rope", norm_head=False)
    errors = {}
    for outtype in ("f16", "q8_0"):
        out = tmp_path / f"g.{outtype}.gguf"
        convert(folder, out, outtype=outtype, record=False)
        errors[outtype] = float(np.abs(llama_logits(out, ids) - want).max())
    plain = forward(ck.weights, ck.config, ids, positions="rope", norm_head=False)
    errors["float checkpoint, q8_0"] = float(
        np.abs(llama_logits(converted("b1-7b", "q8_0"), ids) - plain).max()
    )
    print(f"\nmax |logit error| vs the reference: {errors}")
    assert errors["f16"] < 0.05
    assert errors["q8_0"] < 2 * errors["float checkpoint, q8_0"] + 0.1


def test_unsupported_quantization_is_one_line(checkpoint, tmp_path):
    ck = checkpoint("b1-7b")
    folder = tmp_path / "awq"
    write_gptq(folder, ck, desc_act=False, sym=True)
    (folder / "quantize_config.json").unlink()
    config = json.loads((folder / "config.json").read_text())
    config["quantization_config"] = {"quant_method": "awq", "bits": 4}
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(UserError) as err:
        convert(folder, tmp_path / "x.gguf", record=False)
    assert "awq" in str(err.value) and "\n" not in str(err.value)
