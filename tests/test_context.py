"""n_ctx ceiling: clamped to the trained context unless asked, checked against memory first."""

from __future__ import annotations

import pytest

from baichuan_tui.errors import UserError
from baichuan_tui.hub import context
from baichuan_tui.hub import machine as hw
from baichuan_tui.hub.catalog import load_catalog
from baichuan_tui.hub.fit import numbers_for
from baichuan_tui.loading import LoadRequest, load_in_process

GB = 10**9


def machine(ram_gb: float, vram_gb: float = 0) -> hw.Machine:
    gpus = [hw.GPU(0, "NVIDIA GeForce RTX 4090", 24 * GB, int(vram_gb * GB))] if vram_gb else []
    ram = int(ram_gb * GB)
    return hw.Machine("0.3.36", bool(vram_gb), gpus, ram, ram, 8, 16)


def test_config_n_ctx_above_the_trained_context_is_clamped(monkeypatch, tiny) -> None:
    # n_ctx = 99999999999 in config.toml grew the process until the OOM killer fired
    monkeypatch.setattr(hw, "machine_facts", lambda: machine(8))
    said: list[str] = []
    req = LoadRequest(str(tiny("b2-7b-chat")), n_ctx=99_999_999_999)
    with load_in_process(req, said.append) as engine:
        assert engine.n_ctx == 4096  # the GGUF's context_length
    assert said == [
        "n_ctx 99999999999 is more than the model was trained on: using 4096"
        " (--n-ctx 99999999999 asks for it anyway)"
    ]


def test_an_asked_n_ctx_is_kept_when_it_fits(monkeypatch, tiny) -> None:
    monkeypatch.setattr(hw, "machine_facts", lambda: machine(8))
    said: list[str] = []
    assert context.plan_load(tiny("b2-7b-chat"), 8192, "0", asked=True, say=said.append) == (
        8192,
        0,
    )
    assert said == []


def test_huge_asked_n_ctx_is_refused_before_loading_with_the_right_advice(
    monkeypatch, tiny
) -> None:
    # `ask --n-ctx 99999999999` under a memory limit said "download it again"
    monkeypatch.setattr(hw, "machine_facts", lambda: machine(4))

    def never(*_a: object, **_k: object) -> None:
        raise AssertionError("llama.cpp must not be asked to allocate this context")

    monkeypatch.setattr("baichuan_tui.engine.llama.LlamaEngine.__init__", never)
    req = LoadRequest(str(tiny("b2-7b-chat")), n_ctx=99_999_999_999, n_ctx_asked=True)
    with pytest.raises(UserError) as err:
        load_in_process(req)
    text = str(err.value)
    assert text.startswith("n_ctx 99999999999 needs ")
    assert "for the KV cache and compute buffer but 4.0 GB of RAM is available" in text
    assert text.endswith("use n_ctx 4096 (--n-ctx or config.toml); the model was trained on 4096")
    assert "download" not in text


def test_a_real_13b_at_a_large_context_on_a_24_gb_machine() -> None:
    # Baichuan2-13B-Chat Q4_K_M: the KV cache alone of 32k tokens is 26 GB (f16)
    numbers = numbers_for(load_catalog().get("baichuan2-13b-chat"), "Q4_K_M")
    m = machine(ram_gb=22)
    ram, vram = context.context_bytes(numbers, 32768, 0)
    assert vram == 0 and ram > 26 * GB
    with pytest.raises(UserError, match=r"use n_ctx 4096 \(--n-ctx or config.toml\)"):
        context.check_memory(numbers, 32768, 0, m, trained=4096)
    best = context.largest_context(numbers, 0, m)
    assert best % 256 == 0 and 4096 < best < 32768
    context.check_memory(numbers, best, 0, m, trained=None)
    with pytest.raises(UserError, match=f"use n_ctx {best} "):
        context.check_memory(numbers, best + 1024, 0, m, trained=None)


def test_offloaded_kv_cache_is_checked_against_free_vram() -> None:
    numbers = numbers_for(load_catalog().get("baichuan2-13b-chat"), "Q4_K_M")
    ram, vram = context.context_bytes(numbers, 16384, 41)  # everything on the GPU
    assert vram > 13 * GB and ram == 0
    context.check_memory(numbers, 16384, 0, machine(ram_gb=64, vram_gb=8), trained=4096)
    with pytest.raises(UserError, match="of VRAM is free"):
        context.check_memory(numbers, 16384, 41, machine(ram_gb=64, vram_gb=8), trained=4096)


def test_nothing_fits_says_free_memory() -> None:
    numbers = numbers_for(load_catalog().get("baichuan2-13b-chat"), "Q4_K_M")
    with pytest.raises(UserError, match="free some memory or pick a smaller model"):
        context.check_memory(numbers, 4096, 0, machine(ram_gb=0.3), trained=4096)
