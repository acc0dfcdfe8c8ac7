"""Tiny random Hugging Face-format Baichuan checkpoints for the converter tests (a helper).

``write_checkpoint(folder, ...)`` writes config.json, tokenizer_config.json, a SentencePiece
``tokenizer.model`` trained with the ``sentencepiece`` package on a few lines (BPE like
Baichuan's, byte fallback, Baichuan's ``<reserved_N>`` pieces as user-defined symbols placed so
that id 195 is ``<reserved_102>``), and safetensors weights with ``W_pack`` and ``lm_head`` (F32
and F16 through ``safetensors.numpy``; BF16 written by hand, its header checked by
``safetensors.safe_open``). It returns the weights exactly as stored, as float32 arrays, for the
NumPy reference forward pass.
"""

from __future__ import annotations

import functools
import io
import json
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CORPUS = [
    "hello world, this is a tiny corpus for the baichuan converter test.",
    "百川大模型是一个中文语言模型。你好，世界！今天天气很好。",
    "The quick brown fox jumps over the lazy dog. 1234567890",
    "我们喜欢学习人工智能和自然语言处理。",
    "chat model assistant user system question answer hello again",
    "baichuan converts checkpoints into gguf files for llama.cpp to run",
]
N_EXTRA = 90  # <extra_0..89> then <reserved_0..299>: id 195 is <reserved_102> as in Baichuan-1
N_RESERVED = 300


@functools.cache
def train_tokenizer(add_dummy_prefix: bool = False, vocab_size: int = 1000) -> bytes:
    """A serialized SentencePiece BPE model (ids 0 <unk>, 1 <s>, 2 </s>)."""
    import sentencepiece as spm

    buf = io.BytesIO()
    symbols = [f"<extra_{i}>" for i in range(N_EXTRA)]
    symbols += [f"<reserved_{i}>" for i in range(N_RESERVED)]
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(CORPUS * 20),
        model_writer=buf,
        model_type="bpe",
        vocab_size=vocab_size,
        hard_vocab_limit=False,
        byte_fallback=True,
        character_coverage=1.0,
        user_defined_symbols=symbols,
        add_dummy_prefix=add_dummy_prefix,
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        split_digits=True,
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        minloglevel=2,
        num_threads=1,
    )
    return buf.getvalue()


@dataclass
class Checkpoint:
    folder: Path
    config: dict
    weights: dict[str, np.ndarray]
    """float32 copies of the stored values (after rounding to the storage dtype)."""
    n_tokenizer: int

    @property
    def vocab_size(self) -> int:
        return self.config["vocab_size"]


def _round(x: np.ndarray, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """(stored representation, its exact float32 value)."""
    if dtype == "F32":
        return x.astype(np.float32), x.astype(np.float32)
    if dtype == "F16":
        h = x.astype(np.float16)
        return h, h.astype(np.float32)
    bits = x.astype(np.float32).view(np.uint32)
    bits = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)  # nearest-even
    return bits, (bits.astype(np.uint32) << 16).view(np.float32)


def _save(path: Path, tensors: dict[str, np.ndarray], dtype: str) -> None:
    if dtype != "BF16":
        from safetensors.numpy import save_file

        save_file(tensors, str(path))
        return
    header, offset, blobs = {}, 0, []
    for name, arr in tensors.items():
        data = np.ascontiguousarray(arr).tobytes()
        header[name] = {
            "dtype": "BF16",
            "shape": list(arr.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        offset += len(data)
        blobs.append(data)
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"".join(blobs))


def write_checkpoint(
    folder: Path,
    *,
    layers: int = 32,
    hidden: int = 64,
    heads: int = 4,
    ff: int = 128,
    vocab_size: int | None = None,
    dtype: str = "F32",
    shards: int = 1,
    arch: str = "BaichuanForCausalLM",
    seed: int = 0,
    norm_head_code: bool = False,
    head_norms: bool = False,
    add_dummy_prefix: bool = False,
    tokenizer_config: dict | None = None,
    config_extra: dict | None = None,
) -> Checkpoint:
    """Write a checkpoint; ``vocab_size`` beyond the tokenizer pads the vocabulary (as
    Baichuan2's 125696 does for llama.cpp), ``norm_head_code`` adds a modeling_baichuan.py
    defining NormHead, ``head_norms`` spreads lm_head row norms over 0.3..3; ``config_extra``
    adds keys to config.json."""
    folder.mkdir(parents=True, exist_ok=True)
    proto = train_tokenizer(add_dummy_prefix)
    (folder / "tokenizer.model").write_bytes(proto)
    import sentencepiece as spm

    n_tok = spm.SentencePieceProcessor(model_proto=proto).vocab_size()
    vocab = vocab_size or n_tok
    config = {
        "architectures": [arch],
        "model_type": "baichuan",
        "hidden_size": hidden,
        "intermediate_size": ff,
        "num_attention_heads": heads,
        "num_hidden_layers": layers,
        "rms_norm_eps": 1e-6,
        "vocab_size": vocab,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "pad_token_id": 0,
        "tie_word_embeddings": False,
        "torch_dtype": "float32",
        ("max_position_embeddings" if layers == 32 else "model_max_length"): 4096,
        **(config_extra or {}),
    }
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    tok_config = {
        "add_bos_token": False,
        "add_eos_token": False,
        "tokenizer_class": "BaichuanTokenizer",
    }
    tok_config.update(tokenizer_config or {})
    (folder / "tokenizer_config.json").write_text(json.dumps(tok_config))
    if norm_head_code:
        (folder / "modeling_baichuan.py").write_text(
            "import torch\n\n\nclass NormHead(torch.nn.Module):\n    pass\n"
        )

    rng = np.random.default_rng(seed)

    def normal(shape: tuple[int, ...], std: float) -> np.ndarray:
        return (rng.standard_normal(shape) * std).astype(np.float32)

    s = 1 / np.sqrt(hidden)
    raw: dict[str, np.ndarray] = {"model.embed_tokens.weight": normal((vocab, hidden), 1.0)}
    for i in range(layers):
        p = f"model.layers.{i}."
        raw[p + "input_layernorm.weight"] = 1 + normal((hidden,), 0.1)
        qkv = np.concatenate(
            [
                normal((hidden, hidden), 2.5 * s),
                normal((hidden, hidden), 2.5 * s),
                normal((hidden, hidden), s),
            ]
        )
        raw[p + "self_attn.W_pack.weight"] = qkv
        raw[p + "self_attn.o_proj.weight"] = normal((hidden, hidden), 0.4 * s)
        raw[p + "post_attention_layernorm.weight"] = 1 + normal((hidden,), 0.1)
        raw[p + "mlp.gate_proj.weight"] = normal((ff, hidden), s)
        raw[p + "mlp.up_proj.weight"] = normal((ff, hidden), s)
        raw[p + "mlp.down_proj.weight"] = normal((hidden, ff), 0.4 / np.sqrt(ff))
    raw["model.norm.weight"] = 1 + normal((hidden,), 0.1)
    head = normal((vocab, hidden), s)
    if head_norms:
        head /= np.linalg.norm(head, axis=1, keepdims=True)
        head *= np.exp(rng.uniform(np.log(0.3), np.log(3.0), (vocab, 1))).astype(np.float32)
    raw["lm_head.weight"] = head

    stored, exact = {}, {}
    for name, arr in raw.items():
        stored[name], exact[name] = _round(arr, dtype)
    names = list(stored)
    if shards == 1:
        _save(folder / "model.safetensors", stored, dtype)
    else:
        weight_map = {}
        for k in range(shards):
            file = f"model-{k + 1:05d}-of-{shards:05d}.safetensors"
            part = names[k::shards]
            _save(folder / file, {n: stored[n] for n in part}, dtype)
            weight_map.update(dict.fromkeys(part, file))
        total = sum(a.nbytes for a in stored.values())
        (folder / "model.safetensors.index.json").write_text(
            json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map})
        )
    return Checkpoint(folder, config, exact, n_tok)
