#!/usr/bin/env python3
"""Write tiny random-weight GGUF files of llama.cpp's ``baichuan`` architecture.

The files imitate real Baichuan GGUFs (as llama.cpp's ``convert_hf_to_gguf.py`` writes them)
in everything the chat client looks at -- architecture, hparams, vocabulary size and token
typing, tensor names -- but have a hidden size of 64, so they are 1.5 MB (vocab only) to
~40 MB (Baichuan2 with an F32 output head; 24 MB with F16) and load in well under a second.
Writing one takes 0.5-2 s.

Vocabulary layout (ids)::

    0 <unk> UNKNOWN, 1 <s> CONTROL, 2 </s> CONTROL
    3 ..          "<SEP>", "<CLS>", "\\n", "\\t", html-ish pieces       NORMAL, score 0
    R ..  R+299   <reserved_0> .. <reserved_299>                          NORMAL, score 0
                  R = 93 (baichuan: 195 is <reserved_102>)
                  R = 89 (baichuan2: 195 is <reserved_106>)
    R+300 ..      <0x00> .. <0xFF>                                        BYTE, score 0
    then          "▁", "▁word" prefix chains, Chinese characters and words, single ASCII
                  characters, then filler pieces up to the vocabulary size  NORMAL, score -1, -2, ..

Because the reserved pieces are NORMAL (as in real files) the *text* ``<reserved_106>``
tokenizes into ordinary pieces, never into id 195.  Some common Chinese characters are
deliberately missing (``ZH_ABSENT``); they tokenize into UTF-8 byte tokens.

Usable as a module (``write_tiny_model``) and as a CLI::

    python scripts/make_tiny_model.py OUT.gguf --family baichuan2 --layers 32
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable
from pathlib import Path

import gguf
import numpy as np

__all__ = [
    "FAMILIES",
    "add_metadata",
    "GENERATOR_VERSION",
    "ZH_ABSENT",
    "ZH_PRESENT",
    "build_vocab",
    "default_name",
    "reserved_offset",
    "write_tiny_model",
]

# Bump when the bytes written for the same arguments change (tests/tiny_models.py keys its
# cache on this and on a hash of this file).
GENERATOR_VERSION = "1"

FAMILIES = {
    # family: (vocabulary size, id 195 is <reserved_N> with this N)
    "baichuan": (64000, 102),
    "baichuan2": (125696, 106),
}
N_RESERVED = 300
USER_TOKEN_ID = 195
ASSISTANT_TOKEN_ID = 196

_DEFAULT_NAMES = {
    ("baichuan2", 32): "Baichuan2-7B-Chat",
    ("baichuan2", 40): "Baichuan2-13B-Chat",
    ("baichuan", 32): "baichuan-7B",
    ("baichuan", 40): "Baichuan-13B-Chat",
}

HEAD_TYPES = {
    "F32": gguf.GGMLQuantizationType.F32,
    "F16": gguf.GGMLQuantizationType.F16,
    "Q8_0": gguf.GGMLQuantizationType.Q8_0,
}

# Storage of token_embd and of the 2-D block weights.  Q4_0 keeps a Baichuan2 file (125696 x 64
# embedding) small; llama.cpp reads it like any Q4_0 quant (general.file_type MOSTLY_Q4_0, with
# output.weight kept at higher precision as llama.cpp's quantizer does).
_WEIGHT_TYPES = {
    "F32": (gguf.GGMLQuantizationType.F32, gguf.LlamaFileType.ALL_F32),
    "F16": (gguf.GGMLQuantizationType.F16, gguf.LlamaFileType.MOSTLY_F16),
    "Q8_0": (gguf.GGMLQuantizationType.Q8_0, gguf.LlamaFileType.MOSTLY_Q8_0),
    "Q4_0": (gguf.GGMLQuantizationType.Q4_0, gguf.LlamaFileType.MOSTLY_Q4_0),
}

# --- vocabulary material -------------------------------------------------------------------

_PREFIX_PIECES = [
    "<SEP>",
    "<CLS>",
    "\n",
    "\t",
    "<h1>",
    "</h1>",
    "<h2>",
    "</h2>",
    "<h3>",
    "</h3>",
    "<h4>",
    "</h4>",
    "<h5>",
    "</h5>",
    "<h6>",
    "</h6>",
    "<p>",
    "</p>",
    "<br>",
    "<br/>",
    "<div>",
    "</div>",
    "<span>",
    "</span>",
    "<table>",
    "</table>",
    "<tr>",
    "</tr>",
    "<td>",
    "</td>",
    "<th>",
    "</th>",
    "<ul>",
    "</ul>",
    "<ol>",
    "</ol>",
    "<li>",
    "</li>",
    "<b>",
    "</b>",
    "<i>",
    "</i>",
    "<code>",
    "</code>",
    "<pre>",
    "</pre>",
    "<a>",
    "</a>",
    "<img>",
    "<!--",
    "-->",
    "---",
]

_ENGLISH_TEXT = """
the of and to in is you that it he was for on are as with his they at be this have from or
one had by word but not what all were we when your can said there use an each which she do
how their if will up other about out many then them these so some her would make like him
into time has look two more write go see number no way could people my than first water been
call who oil its now find long down day did get come made may part hello world chat model
language baichuan llama test good new old yes help please thank thanks question answer what
why where user assistant system today tomorrow china chinese english text file open close
run stop start end name story tell me our us very just know think want need because
"""
ENGLISH_WORDS = _ENGLISH_TEXT.split()

# Common Chinese characters present in the vocabulary (duplicates are dropped on build).
_ZH_CHARS = (
    "的一是不了在人有我他这个们中来上大为和国地到以说时要就出会可也你对生能而子那得于着下自之年"
    "过发后作里用道行所然家种事成方多经么去法学如都同现当没动面起看定天分还进好小部其些主样理心"
    "她本前开但因只从想实日军者意无力它与长把机十民第公此已工使情明性知全三又关点正业外将两高间"
    "由问很最重并物手应战向头文体政美相见被利什二等产或新己制身果加西斯月话合回特代内信表化老给"
    "世位次度门任常先海通教儿原东声提立及比员解水名真论处走义各入几口认条平系气题活尔更别打女变"
    "四神总何电数安少报才结反受目太量再感建务做接必场件计管期市直德资命山金指克许统区保至队形社"
    "便空决治展马科司五基眼书非则听白却界达光放强即像难且权思王象完设式色路记南品住告类求据程北"
    "边死张该交规万取拉格望觉术领共确传师观清今切院让识候带导争运笑飞风步改收根干造言联持组每济"
    "车亲极林服快办议往元英士证近失转夫令准布始怎呢存未远叫台单影具罗字爱击流备兵连调深商算质团"
    "集百需价花党华城石级整府离况亚请技际约示复病息究线似官火断精满支视消越器容照须九增研写称企"
    "八功吗包片史委乎查轻易早曾除农找装广显吧阿李标谈吃图念六引历首医局突专费号尽另周较注语仅考"
    "落青随选列武红响虽推势参希古众构房半节土投某案黑维革划敌致陈律足态护七兴派孩验责营星够章音"
    "跟志底站严巴例防族供效续施留讲型料终答紧黄绝奇察母京段依批群项故按河米围江织害斗双境客纪采"
    "举杀攻父苏密低朋免刻船尼哪读谢树疑川模智喜欢欢迎助手您午晚睡饭菜茶喝朋友哥姐妹弟妈爸昨习"
    "猫狗龙熊鹿鹤蝶鲸"
)
# Deliberately missing: these tokenize into UTF-8 byte tokens (<0xE7><0x8C><0xAB> for 猫 ...).
ZH_ABSENT = "猫狗龙熊鹿鹤蝶鲸"
ZH_PRESENT = "".join(dict.fromkeys(c for c in _ZH_CHARS if c not in ZH_ABSENT))

_ZH_PUNCT = "，。！？、；：“”‘’（）《》【】…—·"

_ZH_WORDS_TEXT = """
你好 你们 我们 他们 她们 中国 中国人 北京 今天 明天 昨天 谢谢 什么 没有 可以 知道 时候 问题 工作
喜欢 朋友 学生 老师 世界 人民 一个 这个 那个 不是 因为 所以 但是 如果 已经 现在 自己 大家 东西
地方 天气 很好 百川 大模型 人工智能 助手 欢迎 请问 回答 语言 模型 中文 英文 时间 电话 学习 生活
"""
_ZH_WORDS = _ZH_WORDS_TEXT.split()

_CONSONANTS = "bdfghjklmnprstvz"
_VOWELS = "aeiou"


def reserved_offset(family: str) -> int:
    """Id of ``<reserved_0>``: chosen so that id 195 holds the family's user-role piece."""
    return USER_TOKEN_ID - FAMILIES[family][1]


def default_name(family: str, layers: int) -> str:
    if (family, layers) in _DEFAULT_NAMES:
        return _DEFAULT_NAMES[(family, layers)]
    return f"{'Baichuan2' if family == 'baichuan2' else 'Baichuan'}-tiny-{layers}L"


def _prefix_chain(word: str, start: int = 2) -> Iterable[str]:
    for k in range(start, len(word) + 1):
        yield word[:k]


def build_vocab(
    family: str, *, duplicate_token: bool = False
) -> tuple[list[str], list[float], list[int]]:
    """Return (tokens, scores, token types) for ``family``; depends only on its arguments."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; expected one of {sorted(FAMILIES)}")
    n_vocab, _ = FAMILIES[family]
    tt = gguf.TokenType

    tokens: list[str] = ["<unk>", "<s>", "</s>"]
    types: list[int] = [tt.UNKNOWN, tt.CONTROL, tt.CONTROL]
    r0 = reserved_offset(family)
    n_prefix = r0 - 3
    prefix = list(_PREFIX_PIECES[:n_prefix])
    prefix += [f"<extra_{i}>" for i in range(n_prefix - len(prefix))]
    tokens += prefix
    tokens += [f"<reserved_{i}>" for i in range(N_RESERVED)]
    types += [tt.NORMAL] * (n_prefix + N_RESERVED)
    tokens += [f"<0x{b:02X}>" for b in range(256)]
    types += [tt.BYTE] * 256
    n_zero_score = len(tokens)

    seen = set(tokens)
    normal: list[str] = []

    def add(piece: str) -> None:
        if piece not in seen:
            seen.add(piece)
            normal.append(piece)

    add("▁")
    for w in ENGLISH_WORDS:
        for p in _prefix_chain("▁" + w):
            add(p)
        for p in _prefix_chain("▁" + w.capitalize()):
            add(p)
    for w in ENGLISH_WORDS:
        for p in _prefix_chain(w):
            add(p)
        for p in _prefix_chain(w.capitalize()):
            add(p)
    for c in ZH_PRESENT + _ZH_PUNCT:
        add(c)
    for w in _ZH_WORDS:
        for p in _prefix_chain(w):
            add(p)
    for c in range(0x21, 0x7F):
        add(chr(c))

    # Filler: interleaved Chinese two-character pieces and "▁" pseudo-words, in a fixed
    # pseudo-random order (independent of the weight seed).
    rng = np.random.default_rng(20240601)
    zh = ZH_PRESENT
    pairs = rng.permutation(len(zh) * len(zh))
    syl = [c + v for c in _CONSONANTS for v in _VOWELS]
    n_syl = len(syl)
    words3 = rng.permutation(n_syl**3)
    words2 = rng.permutation(n_syl**2)
    i_zh = i_w2 = i_w3 = 0
    k = 0
    while len(normal) < n_vocab - n_zero_score:
        kind = k % 4
        k += 1
        if kind in (0, 2) and i_zh < len(pairs):
            j = int(pairs[i_zh])
            i_zh += 1
            add(zh[j // len(zh)] + zh[j % len(zh)])
        elif kind == 1 and i_w2 < len(words2):
            j = int(words2[i_w2])
            i_w2 += 1
            add("▁" + syl[j // n_syl] + syl[j % n_syl])
        else:
            j = int(words3[i_w3])
            i_w3 += 1
            add("▁" + syl[j // n_syl**2] + syl[(j // n_syl) % n_syl] + syl[j % n_syl])

    tokens += normal
    types += [tt.NORMAL] * len(normal)
    scores = [0.0] * n_zero_score + [-float(i + 1) for i in range(len(normal))]
    assert len(tokens) == n_vocab, (len(tokens), n_vocab)
    assert tokens[USER_TOKEN_ID] == f"<reserved_{FAMILIES[family][1]}>"
    if duplicate_token:
        # The last filler becomes a copy of "▁the": llama.cpp aborts (GGML_ASSERT) on this.
        tokens[-1] = "▁the"
    return tokens, scores, [int(t) for t in types]


def add_metadata(
    w: gguf.GGUFWriter,
    *,
    family: str,
    layers: int,
    name: str,
    n_embd: int,
    n_head: int,
    n_ff: int,
    n_ctx: int,
    file_type: int | None,
    quantized: bool = False,
    add_space_prefix: bool = False,
    duplicate_token: bool = False,
    chat_template: str | None = None,
) -> None:
    """Add the key/values of a Baichuan GGUF (hparams, vocabulary) to ``w``, as llama.cpp's
    converter writes them. ``file_type`` None: no ``general.file_type`` (a vocabulary file)."""
    tokens, scores, types = build_vocab(family, duplicate_token=duplicate_token)
    w.add_name(name)
    if file_type is not None:
        w.add_file_type(file_type)
        if quantized:
            w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    w.add_tensor_data_layout("Meta AI original pth")
    w.add_context_length(n_ctx)
    w.add_embedding_length(n_embd)
    w.add_block_count(layers)
    w.add_feed_forward_length(n_ff)
    w.add_rope_dimension_count(n_embd // n_head)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_head)
    w.add_layer_norm_rms_eps(1e-6)

    w.add_tokenizer_model("llama")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_pad_token_id(0)
    w.add_add_bos_token(False)
    w.add_add_eos_token(False)
    w.add_add_space_prefix(add_space_prefix)
    if chat_template is not None:
        w.add_chat_template(chat_template)


# --- weights ---------------------------------------------------------------------------------


def _store(
    writer: gguf.GGUFWriter, name: str, arr: np.ndarray, qtype: gguf.GGMLQuantizationType
) -> None:
    """Add a 2-D (rows = ggml ne[1]) float32 array in ``qtype``."""
    if qtype == gguf.GGMLQuantizationType.F32:
        writer.add_tensor(name, np.ascontiguousarray(arr, dtype=np.float32))
    elif qtype == gguf.GGMLQuantizationType.F16:
        writer.add_tensor(name, arr.astype(np.float16))
    else:
        q = gguf.quants.quantize(np.ascontiguousarray(arr, dtype=np.float32), qtype)
        writer.add_tensor(name, q, raw_dtype=qtype)


def write_tiny_model(
    path: str | Path,
    *,
    family: str = "baichuan2",
    layers: int = 32,
    name: str | None = None,
    n_embd: int = 64,
    n_head: int = 4,
    n_ff: int = 128,
    n_ctx: int = 4096,
    seed: int = 0,
    vocab_only: bool = False,
    head_type: str = "F32",
    normalize_head: bool = True,
    add_space_prefix: bool = False,
    duplicate_token: bool = False,
    chat_template: str | None = None,
    _allow_any_layers: bool = False,
    _weight_type: str = "Q4_0",
) -> Path:
    """Write a tiny random-weight Baichuan GGUF to ``path`` and return ``Path(path)``.

    ``layers`` must be 32 (7B shape, RoPE) or 40 (13B shape, ALiBi) -- llama.cpp picks the
    position encoding from block_count -- unless ``_allow_any_layers`` is set (bad-file tests).
    ``head_type`` ("F32", "F16", "Q8_0") is the storage type of output.weight; with
    ``normalize_head`` its rows have unit L2 norm (as a correct Baichuan2 converter writes
    them), otherwise row norms are spread log-uniformly over 0.3..3.  token_embd and the block
    weights are stored as ``_weight_type`` (default Q4_0, general.file_type MOSTLY_Q4_0).
    ``duplicate_token`` makes one vocabulary entry a copy of another: llama.cpp *aborts the
    process* on such a file, never load it in-process. ``chat_template`` is stored as
    ``tokenizer.chat_template`` (an embedded Jinja template, as other models' GGUFs carry).
    """
    path = Path(path)
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; expected one of {sorted(FAMILIES)}")
    if layers not in (32, 40) and not _allow_any_layers:
        raise ValueError(f"layers must be 32 (7B, RoPE) or 40 (13B, ALiBi), got {layers}")
    if layers < 1:
        raise ValueError("layers must be positive")
    if head_type not in HEAD_TYPES:
        raise ValueError(f"head_type must be one of {sorted(HEAD_TYPES)}, got {head_type!r}")
    if _weight_type not in _WEIGHT_TYPES:
        raise ValueError(f"_weight_type must be one of {sorted(_WEIGHT_TYPES)}")
    if n_embd % n_head:
        raise ValueError("n_embd must be a multiple of n_head")
    if (n_embd // n_head) % 2:
        raise ValueError("head dimension must be even (RoPE)")
    w_qtype, file_type = _WEIGHT_TYPES[_weight_type]
    if w_qtype not in (gguf.GGMLQuantizationType.F32, gguf.GGMLQuantizationType.F16) and (
        n_embd % 32 or n_ff % 32
    ):
        # quantized blocks are 32 wide along each row
        w_qtype, file_type = _WEIGHT_TYPES["F16"]
    head_qtype = HEAD_TYPES[head_type]
    if head_qtype == gguf.GGMLQuantizationType.Q8_0 and n_embd % 32:
        raise ValueError("head_type Q8_0 needs n_embd to be a multiple of 32")
    if name is None:
        name = default_name(family, layers)

    path.parent.mkdir(parents=True, exist_ok=True)
    w = gguf.GGUFWriter(path, "baichuan")
    add_metadata(
        w,
        family=family,
        layers=layers,
        name=name,
        n_embd=n_embd,
        n_head=n_head,
        n_ff=n_ff,
        n_ctx=n_ctx,
        file_type=None if vocab_only else int(file_type),
        quantized=w_qtype not in (gguf.GGMLQuantizationType.F32, gguf.GGMLQuantizationType.F16),
        add_space_prefix=add_space_prefix,
        duplicate_token=duplicate_token,
        chat_template=chat_template,
    )
    n_vocab = FAMILIES[family][0]

    if not vocab_only:
        rng = np.random.default_rng(seed)
        f32 = np.float32

        def normal(shape: tuple[int, ...], std: float) -> np.ndarray:
            return rng.standard_normal(shape, dtype=f32) * f32(std)

        _store(w, "token_embd.weight", normal((n_vocab, n_embd), 1.0), w_qtype)
        s_in = 1.0 / np.sqrt(n_embd)
        s_ff = 1.0 / np.sqrt(n_ff)
        for i in range(layers):
            b = f"blk.{i}."
            w.add_tensor(b + "attn_norm.weight", np.ones(n_embd, dtype=f32))
            _store(w, b + "attn_q.weight", normal((n_embd, n_embd), 2.0 * s_in), w_qtype)
            _store(w, b + "attn_k.weight", normal((n_embd, n_embd), 2.0 * s_in), w_qtype)
            _store(w, b + "attn_v.weight", normal((n_embd, n_embd), s_in), w_qtype)
            _store(w, b + "attn_output.weight", normal((n_embd, n_embd), 0.3 * s_in), w_qtype)
            w.add_tensor(b + "ffn_norm.weight", np.ones(n_embd, dtype=f32))
            _store(w, b + "ffn_gate.weight", normal((n_ff, n_embd), s_in), w_qtype)
            _store(w, b + "ffn_up.weight", normal((n_ff, n_embd), s_in), w_qtype)
            _store(w, b + "ffn_down.weight", normal((n_embd, n_ff), 0.3 * s_ff), w_qtype)
        w.add_tensor("output_norm.weight", np.ones(n_embd, dtype=f32))
        head = normal((n_vocab, n_embd), 1.0)
        head /= np.linalg.norm(head, axis=1, keepdims=True)
        if not normalize_head:
            head *= np.exp(rng.uniform(np.log(0.3), np.log(3.0), (n_vocab, 1))).astype(f32)
        _store(w, "output.weight", head, head_qtype)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


# --- CLI -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path, help="output .gguf path")
    p.add_argument("--family", choices=sorted(FAMILIES), default="baichuan2")
    p.add_argument("--layers", type=int, default=32, help="32 (7B, RoPE) or 40 (13B, ALiBi)")
    p.add_argument("--name", default=None, help="general.name (default from family/layers)")
    p.add_argument("--n-embd", type=int, default=64)
    p.add_argument("--n-head", type=int, default=4)
    p.add_argument("--n-ff", type=int, default=128)
    p.add_argument("--n-ctx", type=int, default=4096)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--vocab-only", action="store_true", help="metadata and vocabulary only")
    p.add_argument("--head-type", choices=sorted(HEAD_TYPES), default="F32")
    p.add_argument(
        "--no-normalize-head",
        dest="normalize_head",
        action="store_false",
        help="leave output.weight rows with non-unit norms (0.3..3)",
    )
    p.add_argument("--add-space-prefix", action="store_true")
    p.add_argument(
        "--duplicate-token",
        action="store_true",
        help="write a duplicated vocabulary entry (llama.cpp aborts on load)",
    )
    p.add_argument("--allow-any-layers", action="store_true", help=argparse.SUPPRESS)
    p.add_argument(
        "--weight-type", choices=sorted(_WEIGHT_TYPES), default="Q4_0", help=argparse.SUPPRESS
    )
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    try:
        out = write_tiny_model(
            a.out,
            family=a.family,
            layers=a.layers,
            name=a.name,
            n_embd=a.n_embd,
            n_head=a.n_head,
            n_ff=a.n_ff,
            n_ctx=a.n_ctx,
            seed=a.seed,
            vocab_only=a.vocab_only,
            head_type=a.head_type,
            normalize_head=a.normalize_head,
            add_space_prefix=a.add_space_prefix,
            duplicate_token=a.duplicate_token,
            _allow_any_layers=a.allow_any_layers,
            _weight_type=a.weight_type,
        )
    except ValueError as e:
        p.error(str(e))
    dt = time.perf_counter() - t0
    print(f"{out}  {out.stat().st_size / 1e6:.1f} MB  {dt:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
