"""Constants of the GGUF format, ggml types and llama.cpp file types (copied from gguf 0.19
and llama.cpp; a test keeps them in step). Import-light: stdlib only."""

from __future__ import annotations

import struct
from collections.abc import Mapping

GGUF_MAGIC = b"GGUF"
SUPPORTED_GGUF_VERSIONS = (2, 3)
DEFAULT_ALIGNMENT = 32
# The same limits as llama.cpp's gguf.cpp (GGUF_MAX_STRING_LENGTH / GGUF_MAX_ARRAY_ELEMENTS).
MAX_STRING_LENGTH = 1 << 30
MAX_ARRAY_LENGTH = 1 << 30
# More tensors or keys than this is garbage, not a model.
MAX_COUNT = 1 << 20
GGML_MAX_NAME = 64  # tensor names must be shorter than this (bytes)
GGML_MAX_DIMS = 4
_INT64_MAX = (1 << 63) - 1

TRUNCATED_HINT = "run 'baichuan-chat models verify' or download it again"

# ggml tensor types: id -> (name, block size in elements, block size in bytes).
# From gguf.GGML_QUANT_SIZES (gguf 0.19) plus Q2_0, which the llama.cpp bundled with
# llama-cpp-python 0.3.36 knows (ggml-common.h: QK2_0 64, 2 + 16 bytes).
GGML_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("F32", 1, 4),
    1: ("F16", 1, 2),
    2: ("Q4_0", 32, 18),
    3: ("Q4_1", 32, 20),
    6: ("Q5_0", 32, 22),
    7: ("Q5_1", 32, 24),
    8: ("Q8_0", 32, 34),
    9: ("Q8_1", 32, 40),
    10: ("Q2_K", 256, 84),
    11: ("Q3_K", 256, 110),
    12: ("Q4_K", 256, 144),
    13: ("Q5_K", 256, 176),
    14: ("Q6_K", 256, 210),
    15: ("Q8_K", 256, 292),
    16: ("IQ2_XXS", 256, 66),
    17: ("IQ2_XS", 256, 74),
    18: ("IQ3_XXS", 256, 98),
    19: ("IQ1_S", 256, 50),
    20: ("IQ4_NL", 32, 18),
    21: ("IQ3_S", 256, 110),
    22: ("IQ2_S", 256, 82),
    23: ("IQ4_XS", 256, 136),
    24: ("I8", 1, 1),
    25: ("I16", 1, 2),
    26: ("I32", 1, 4),
    27: ("I64", 1, 8),
    28: ("F64", 1, 8),
    29: ("IQ1_M", 256, 56),
    30: ("BF16", 1, 2),
    34: ("TQ1_0", 256, 54),
    35: ("TQ2_0", 256, 66),
    39: ("MXFP4", 32, 17),
    40: ("NVFP4", 64, 36),
    41: ("Q1_0", 128, 18),
    42: ("Q2_0", 64, 18),
}

# general.file_type -> name (llama.cpp's enum llama_ftype; gguf.LlamaFileType).
FILE_TYPE_NAMES: dict[int, str] = {
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    4: "Q4_1_SOME_F16",  # removed from llama.cpp, still found in old files
    7: "Q8_0",
    8: "Q5_0",
    9: "Q5_1",
    10: "Q2_K",
    11: "Q3_K_S",
    12: "Q3_K_M",
    13: "Q3_K_L",
    14: "Q4_K_S",
    15: "Q4_K_M",
    16: "Q5_K_S",
    17: "Q5_K_M",
    18: "Q6_K",
    19: "IQ2_XXS",
    20: "IQ2_XS",
    21: "Q2_K_S",
    22: "IQ3_XS",
    23: "IQ3_XXS",
    24: "IQ1_S",
    25: "IQ4_NL",
    26: "IQ3_S",
    27: "IQ3_M",
    28: "IQ2_S",
    29: "IQ2_M",
    30: "IQ4_XS",
    31: "IQ1_M",
    32: "BF16",
    33: "Q4_0_4_4",  # 33-35 removed from llama.cpp (runtime repacking replaced them)
    34: "Q4_0_4_8",
    35: "Q4_0_8_8",
    36: "TQ1_0",
    37: "TQ2_0",
    38: "MXFP4_MOE",
    39: "NVFP4",
    40: "Q1_0",
    41: "Q2_0",
}
FILE_TYPE_GUESSED = 1024

# Architectures llama.cpp can load: the values of gguf.MODEL_ARCH_NAMES (gguf 0.19), less
# "clip" (llama.cpp refuses it as a main model). The llama.cpp in llama-cpp-python 0.3.36
# knows all of these (and a few newer ones).
# fmt: off
SUPPORTED_ARCHITECTURES: frozenset[str] = frozenset({
    "afmoe", "apertus", "arcee", "arctic", "arwkv7", "baichuan", "bailingmoe", "bailingmoe2",
    "bert", "bitnet", "bloom", "chameleon", "chatglm", "codeshell", "cogvlm", "cohere2",
    "command-r", "dbrx", "deci", "deepseek", "deepseek2", "deepseek2-ocr", "dots1", "dream",
    "ernie4_5", "ernie4_5-moe", "eurobert", "exaone", "exaone-moe", "exaone4", "falcon",
    "falcon-h1", "gemma", "gemma-embedding", "gemma2", "gemma3", "gemma3n", "gemma4", "glm-dsa",
    "glm4", "glm4moe", "gpt-oss", "gpt2", "gptj", "gptneox", "granite", "granitehybrid",
    "granitemoe", "grok", "grovemoe", "hunyuan-dense", "hunyuan-moe", "hunyuan_vl", "internlm2",
    "jais", "jais2", "jamba", "jina-bert-v2", "jina-bert-v3", "kimi-linear", "lfm2", "lfm2moe",
    "llada", "llada-moe", "llama", "llama-embed", "llama4", "maincoder", "mamba", "mamba2",
    "mimo2", "minicpm", "minicpm3", "minimax-m2", "mistral3", "mistral4", "modern-bert", "mpt",
    "nemotron", "nemotron_h", "nemotron_h_moe", "neo-bert", "nomic-bert", "nomic-bert-moe",
    "olmo", "olmo2", "olmoe", "openelm", "orion", "paddleocr", "pangu-embedded", "phi2", "phi3",
    "phimoe", "plamo", "plamo2", "plamo3", "plm", "qwen", "qwen2", "qwen2moe", "qwen2vl",
    "qwen3", "qwen35", "qwen35moe", "qwen3moe", "qwen3next", "qwen3vl", "qwen3vlmoe", "refact",
    "rnd1", "rwkv6", "rwkv6qwen2", "rwkv7", "seed_oss", "smallthinker", "smollm3", "stablelm",
    "starcoder", "starcoder2", "step35", "t5", "t5encoder", "wavtokenizer-dec", "xverse",
})
# fmt: on

# llama.cpp picks the Baichuan variant from block_count alone: 32 -> 7B (RoPE),
# 40 -> 13B (ALiBi). Any other count builds a graph with no position encoding at all
# (older llama.cpp releases GGML_ABORT on it instead).
BAICHUAN_BLOCK_COUNTS: Mapping[int, str] = {32: "7B", 40: "13B"}

# <arch>.rope.scaling.type values llama.cpp knows; any other string fails a GGML_ASSERT.
ROPE_SCALING_TYPES = frozenset({"none", "linear", "yarn", "longrope"})

# GGUF metadata value types.
_UINT8, _INT8, _UINT16, _INT16, _UINT32, _INT32, _FLOAT32, _BOOL = range(8)
_STRING, _ARRAY, _UINT64, _INT64, _FLOAT64 = range(8, 13)
_VALUE_TYPE_NAMES = {
    _UINT8: "uint8",
    _INT8: "int8",
    _UINT16: "uint16",
    _INT16: "int16",
    _UINT32: "uint32",
    _INT32: "int32",
    _FLOAT32: "float32",
    _BOOL: "bool",
    _STRING: "string",
    _ARRAY: "array",
    _UINT64: "uint64",
    _INT64: "int64",
    _FLOAT64: "float64",
}
_SCALARS: dict[int, struct.Struct] = {
    _UINT8: struct.Struct("<B"),
    _INT8: struct.Struct("<b"),
    _UINT16: struct.Struct("<H"),
    _INT16: struct.Struct("<h"),
    _UINT32: struct.Struct("<I"),
    _INT32: struct.Struct("<i"),
    _FLOAT32: struct.Struct("<f"),
    _BOOL: struct.Struct("<B"),
    _UINT64: struct.Struct("<Q"),
    _INT64: struct.Struct("<q"),
    _FLOAT64: struct.Struct("<d"),
}
_U32 = _SCALARS[_UINT32]
_I32 = _SCALARS[_INT32]
_U64 = _SCALARS[_UINT64]
_I64 = _SCALARS[_INT64]

_KEY_TOKENS = "tokenizer.ggml.tokens"
_KEY_SCORES = "tokenizer.ggml.scores"
_KEY_TOKEN_TYPE = "tokenizer.ggml.token_type"


def human_size(n: int) -> str:
    """A byte count as the Hub shows it, in decimal units: "4.6 GB", "812 MB", "12 kB"."""
    if n < 0:
        return "-" + human_size(-n)
    if n < 1000:
        return f"{n} B"
    for unit, scale in (("kB", 1e3), ("MB", 1e6), ("GB", 1e9), ("TB", 1e12), ("PB", 1e15)):
        value = n / scale
        text = f"{value:.1f}" if value < 9.95 else f"{value:.0f}"
        if float(text) < 1000 or unit == "PB":
            return f"{text} {unit}"
    raise AssertionError("unreachable")  # pragma: no cover


def file_type_name(file_type: int) -> str | None:
    """The quantisation name for a ``general.file_type`` value, e.g. 15 -> "Q4_K_M"."""
    guessed = bool(file_type & FILE_TYPE_GUESSED)
    name = FILE_TYPE_NAMES.get(file_type & ~FILE_TYPE_GUESSED)
    if name is None:
        return None
    return f"{name} (guessed)" if guessed else name
