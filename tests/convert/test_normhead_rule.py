"""One Baichuan2 / NormHead rule for convert and repair, from every signal (issue 12, item 10)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from baichuan_tui.convert.checkpoint import norm_head_decision, read_config
from baichuan_tui.convert.pipeline import convert
from baichuan_tui.engine.baichuan2 import Signals, checkpoint_signals, decide, gguf_signals
from baichuan_tui.engine.gguf_check import inspect_gguf
from baichuan_tui.repair import detect

from hf_checkpoint import write_checkpoint
from hf_reference import forward
from llama_check import llama_logits, prompt_ids

B2_CHAT = "baichuan-inc/Baichuan2-7B-Chat"


def test_baichuan2_without_modeling_file_or_full_vocabulary_gets_its_head_normalised(tmp_path):
    # the repro: z_loss_weight, _name_or_path naming Baichuan2-7B-Chat, 32 layers, a
    # small vocabulary, no modeling_baichuan.py; its head was left raw (logits 46.7 away)
    extra = {"z_loss_weight": 0, "_name_or_path": B2_CHAT}
    ck = write_checkpoint(tmp_path / "ck", head_norms=True, seed=5, config_extra=extra)
    assert not (ck.folder / "modeling_baichuan.py").exists()
    out = tmp_path / "ck.gguf"
    result = convert(ck.folder, out, outtype="f32", record=False)
    assert result.norm_head is True
    ids = prompt_ids(ck)
    got = llama_logits(out, ids)
    want = forward(ck.weights, ck.config, ids, positions="rope", norm_head=True)
    np.testing.assert_allclose(got, want, atol=2e-4, rtol=1e-4)
    raw = forward(ck.weights, ck.config, ids, positions="rope", norm_head=False)
    assert np.abs(got - raw).max() > 1  # the head left raw is far off


@pytest.mark.parametrize(
    ("kw", "applies", "reason"),
    [
        ({"vocab_size": 125696}, True, "vocabulary of 125,696"),
        ({"config_extra": {"z_loss_weight": 0}}, True, "config.json has z_loss_weight"),
        ({"norm_head_code": True}, True, "modeling_baichuan.py defines NormHead"),
        ({"config_extra": {"_name_or_path": B2_CHAT}}, True, f"_name_or_path is '{B2_CHAT}'"),
        ({"folder": "Baichuan2-13B-Base"}, True, "the folder is 'Baichuan2-13B-Base'"),
        (
            {"folder": "models--baichuan-inc--Baichuan2-7B-Base/snapshots/abc123"},
            True,
            "the Hub repo is 'models--baichuan-inc--Baichuan2-7B-Base'",
        ),
        ({}, False, "no Baichuan2 signal: vocabulary of"),
        # Baichuan-1's vocabulary outweighs a name
        (
            {"vocab_size": 64000, "config_extra": {"_name_or_path": B2_CHAT}},
            False,
            "Baichuan-1: vocabulary of 64,000",
        ),
    ],
)
def test_each_checkpoint_signal(tmp_path, kw, applies, reason):
    kw = dict(kw)
    folder = tmp_path / kw.pop("folder", "ck")
    write_checkpoint(folder, layers=32, hidden=16, heads=2, ff=32, **kw)
    decision = norm_head_decision(folder, read_config(folder))
    assert decision.applies is applies
    assert reason in decision.reason


def test_override_beats_every_signal_and_is_said(tmp_path):
    folder = tmp_path / "Baichuan2-7B-Chat"
    write_checkpoint(folder, layers=32, hidden=16, heads=2, ff=32, vocab_size=125696)
    cfg = read_config(folder)
    off = norm_head_decision(folder, cfg, override=False)
    assert (off.applies, off.line()) == (False, "output head: left as it is (--no-norm-head given)")
    on = norm_head_decision(folder, cfg, override=True)
    assert on.line() == "output head: normalised (--norm-head given)"
    auto = norm_head_decision(folder, cfg)
    assert auto.line() == "output head: normalised (Baichuan2: vocabulary of 125,696)"


def test_repo_id_is_a_signal(tmp_path):
    write_checkpoint(tmp_path / "ck", layers=32, hidden=16, heads=2, ff=32)
    signals = checkpoint_signals(tmp_path / "ck", None, repo="baichuan-inc/Baichuan2-13B-Chat")
    assert decide(signals).applies


def test_repair_uses_the_same_rule_with_general_basename(tiny):
    info = inspect_gguf(tiny("b2-7b-chat"), check_vocab=False)
    # a converted small-vocabulary Baichuan2: only general.basename says so
    small = replace(info, vocab_size=400, name="ck", path=Path("ck.gguf"))
    assert "Baichuan-1" in (detect.not_applicable_reason(small) or "")
    named = replace(small, metadata={**small.metadata, "general.basename": "Baichuan2-7B-Chat"})
    assert detect.not_applicable_reason(named) is None
    assert detect.norm_head_decision(named).reason == (
        "Baichuan2: general.basename is 'Baichuan2-7B-Chat'"
    )
    # the same facts decide the same way for a checkpoint and a GGUF
    for vocab, name in ((125696, "x"), (64000, "Baichuan2-7B"), (400, "Baichuan2-7B"), (400, "x")):
        from_gguf = decide(gguf_signals(vocab, {}, Path("m.gguf"), name))
        from_hf = decide(Signals(vocab, (("_name_or_path", name),)))
        assert from_gguf.applies == from_hf.applies
