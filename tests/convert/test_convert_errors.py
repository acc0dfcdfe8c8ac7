"""One clear error for each thing a checkpoint can lack or get wrong; never a partial file."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from baichuan_tui.convert.pipeline import convert
from baichuan_tui.convert.source import resolve_source
from baichuan_tui.errors import UsageError, UserError


@pytest.fixture
def ckpt(checkpoint, tmp_path) -> Path:
    """A writable copy of the baichuan-7B-shaped checkpoint."""
    return Path(shutil.copytree(checkpoint("b1-7b").folder, tmp_path / "ckpt"))


def _edit_config(folder: Path, **changes) -> None:
    path = folder / "config.json"
    config = json.loads(path.read_text())
    config.update(changes)
    path.write_text(json.dumps(config))


def _fails(folder: Path, match: str, outtype: str = "f16") -> None:
    out = folder.parent / "out.gguf"
    with pytest.raises(UserError, match=match):
        convert(folder, out, outtype=outtype)
    assert not out.exists()
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".out.gguf")]


def test_unknown_architecture(ckpt):
    _edit_config(ckpt, architectures=["LlamaForCausalLM"], model_type="llama")
    _fails(ckpt, r"unknown architecture \(LlamaForCausalLM\): convert reads Baichuan")


def test_unsupported_layer_count(ckpt):
    _edit_config(ckpt, num_hidden_layers=12)
    _fails(ckpt, "has 12 layers; llama.cpp runs Baichuan only with 32")


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("config.json", "has no config.json"),
        ("tokenizer.model", "has no tokenizer.model"),
        ("model.safetensors", r"has no weights \(\*.safetensors or pytorch_model\*.bin\)"),
    ],
)
def test_missing_file(ckpt, name, match):
    (ckpt / name).unlink()
    _fails(ckpt, match)


def test_missing_shard(checkpoint, tmp_path):
    folder = Path(shutil.copytree(checkpoint("b1-13b").folder, tmp_path / "ckpt"))
    (folder / "model-00002-of-00003.safetensors").unlink()
    _fails(folder, "lacks the weight shard model-00002-of-00003.safetensors")


def test_missing_tensor_and_wrong_shape(ckpt):
    from safetensors.numpy import load_file, save_file

    tensors = load_file(ckpt / "model.safetensors")
    del tensors["model.layers.7.mlp.up_proj.weight"]
    save_file(tensors, ckpt / "model.safetensors")
    _fails(ckpt, "lacks the tensor model.layers.7.mlp.up_proj.weight")
    _edit_config(ckpt, intermediate_size=256)
    _fails(ckpt, r"has shape \[128, 64\], expected \[256, 64\]")


def test_truncated_safetensors(ckpt):
    data = (ckpt / "model.safetensors").read_bytes()
    (ckpt / "model.safetensors").write_bytes(data[: len(data) // 2])
    _fails(ckpt, "unreadable or truncated")


@pytest.mark.skipif(importlib.util.find_spec("torch") is not None, reason="torch is installed")
def test_pytorch_bin_without_torch(ckpt):
    (ckpt / "model.safetensors").unlink()
    (ckpt / "pytorch_model.bin").write_bytes(b"PK\x03\x04 not really")
    _fails(ckpt, "is a PyTorch checkpoint, and reading it needs torch: pip install torch")


def test_unknown_outtype(ckpt):
    _fails(ckpt, "unknown output type 'q3_x'", outtype="q3_x")


def test_sources(tmp_path):
    with pytest.raises(UserError, match="neither a folder nor a Hub repo id"):
        resolve_source(str(tmp_path / "nope" / "deeper"), offline=True)
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="is a file"):
        resolve_source(str(tmp_path / "file"), offline=True)
    with pytest.raises(UserError, match="not in the Hugging Face cache and the network is off"):
        resolve_source("baichuan-inc/Baichuan2-7B-Chat", offline=True)
    with pytest.raises(UsageError, match="--revision applies to a Hub repo id"):
        resolve_source(str(tmp_path), offline=True, revision="main")


class _FakeTensor:
    def __init__(self, a):
        self.a, self.shape, self.dtype = a, a.shape, "float32"

    def __getitem__(self, s):
        return _FakeTensor(self.a[s])

    def to(self, dtype):
        return self

    def numpy(self):
        return self.a


def test_pytorch_bin_goes_through_torch_load(checkpoint, converted, tmp_path, monkeypatch):
    """The .bin path with a stand-in for torch.load (torch itself is optional and heavy):
    the same weights give a byte-identical file."""
    import sys
    import types

    from safetensors.numpy import load_file

    folder = Path(shutil.copytree(checkpoint("b1-7b").folder, tmp_path / "b1-7b"))
    tensors = {k: v.astype(np.float32) for k, v in load_file(folder / "model.safetensors").items()}
    (folder / "model.safetensors").unlink()
    names = sorted(tensors)
    index = {}
    for k, part in enumerate((names[::2], names[1::2])):
        file = f"pytorch_model-0000{k + 1}-of-00002.bin"
        with open(folder / file, "wb") as f:
            np.savez(f, **{n: tensors[n] for n in part})
        index.update(dict.fromkeys(part, file))
    (folder / "pytorch_model.bin.index.json").write_text(json.dumps({"weight_map": index}))
    calls = []

    def load(path, map_location, mmap, weights_only):
        calls.append((Path(path).name, map_location, mmap, weights_only))
        return {n: _FakeTensor(a) for n, a in np.load(path).items()}

    fake = types.ModuleType("torch")
    fake.load, fake.float32, fake.float16, fake.bfloat16 = load, "float32", "float16", "bf16"
    monkeypatch.setitem(sys.modules, "torch", fake)
    res = convert(folder, tmp_path / "bin.gguf", outtype="f32", record=False)
    assert sorted(calls) == [
        (f"pytorch_model-0000{k}-of-00002.bin", "cpu", True, True) for k in (1, 2)
    ]
    assert res.path.read_bytes() == converted("b1-7b").read_bytes()
