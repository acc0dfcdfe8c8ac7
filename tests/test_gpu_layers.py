"""--gpu-layers: 'auto' from free VRAM (faked GPU here: this machine has none), N as given."""

from __future__ import annotations

from baichuan_tui.engine.llama import LlamaEngine, LoadOptions
from baichuan_tui.hub import machine as hw
from baichuan_tui.hub.fit import choose_gpu_layers

GB = 10**9


def machine(vram: int, offload: bool = True) -> hw.Machine:
    gpus = [hw.GPU(0, "NVIDIA GeForce RTX 4090", 24 * GB, vram)] if vram else []
    return hw.Machine("0.3.36", offload, gpus, 32 * GB, 30 * GB, 8, 16)


def test_auto_offloads_everything_that_fits(monkeypatch, tiny):
    path = tiny("b2-13b-chat")
    said: list[str] = []
    monkeypatch.setattr(hw, "machine_facts", lambda: machine(20 * GB))
    layers = choose_gpu_layers("auto", path, 4096, said.append)
    assert layers == 41  # 40 blocks + the output head, as llama.cpp counts them
    assert said == ["gpu layers auto: 41 of 41 offloaded"]


def test_auto_is_zero_without_an_offloading_build_or_vram(monkeypatch, tiny):
    path = tiny("b2-7b-chat")
    for m in (machine(0), machine(20 * GB, offload=False)):
        monkeypatch.setattr(hw, "machine_facts", lambda m=m: m)
        assert choose_gpu_layers(None, path, 4096) == 0


def test_explicit_layers_pass_through_and_load_on_a_cpu_build(tiny):
    assert choose_gpu_layers("-1", tiny("b2-7b-chat"), 512) == -1
    # a CPU-only llama.cpp ignores the offload request instead of failing
    with LlamaEngine(tiny("b2-7b-chat"), LoadOptions(n_ctx=256, n_gpu_layers=-1)) as engine:
        assert engine.prompt([], max_tokens=4).token_ids == [196]
