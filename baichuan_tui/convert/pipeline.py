"""Convert a Baichuan HF checkpoint folder into a GGUF (optionally quantized), atomically."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import gguf

from baichuan_tui.convert import gptq
from baichuan_tui.convert import quantize as quant
from baichuan_tui.convert.baichuan import source_dtype, tensor_plans
from baichuan_tui.convert.checkpoint import (
    BaichuanConfig,
    norm_head_decision,
    open_weights,
    read_config,
)
from baichuan_tui.convert.ftypes import FTYPES
from baichuan_tui.convert.outfile import (
    atomic_output,
    check_free_space,
    check_target,
    disk_error,
    temporary_file,
)
from baichuan_tui.convert.registry import record_converted
from baichuan_tui.convert.source import default_name
from baichuan_tui.convert.vocab import Vocab, load_vocab
from baichuan_tui.convert.writer import QT, TensorPlan, write_gguf
from baichuan_tui.errors import UserError

DIRECT = {
    "f32": (QT.F32, gguf.LlamaFileType.ALL_F32),
    "f16": (QT.F16, gguf.LlamaFileType.MOSTLY_F16),
    "bf16": (QT.BF16, gguf.LlamaFileType.MOSTLY_BF16),
}
OUTTYPES = tuple(FTYPES)

Stage = Callable[[str, int, int | None], None]
"""``progress(stage, done, total)``; stages ``write`` (bytes), ``quantize`` (tensors),
``sha256`` (bytes)."""


@dataclass(frozen=True)
class ConvertResult:
    path: Path
    outtype: str
    size: int
    sha256: str
    name: str
    norm_head: bool
    norm_head_reason: str
    """Why the head was (not) normalised, e.g. ``Baichuan2: config.json has z_loss_weight``."""
    positions: str
    """``rope`` or ``alibi``."""


def _metadata(
    cfg: BaichuanConfig, vocab: Vocab, name: str, file_type: int, repo: str | None
) -> Callable[[gguf.GGUFWriter], None]:
    def add(w: gguf.GGUFWriter) -> None:
        w.add_type(gguf.GGUFType.MODEL)
        w.add_name(name)
        if repo:
            w.add_source_repo_url(f"https://huggingface.co/{repo}")
        w.add_quantization_version(gguf.GGML_QUANT_VERSION)
        w.add_file_type(file_type)
        w.add_tensor_data_layout("Meta AI original pth")
        w.add_context_length(cfg.context_length)
        w.add_embedding_length(cfg.n_embd)
        w.add_block_count(cfg.n_layer)
        w.add_feed_forward_length(cfg.n_ff)
        w.add_rope_dimension_count(cfg.head_dim)
        w.add_head_count(cfg.n_head)
        w.add_head_count_kv(cfg.n_head)
        w.add_layer_norm_rms_eps(cfg.rms_eps)
        scaling = cfg.rope_scaling or {}
        if scaling.get("rope_type", scaling.get("type")) == "linear" and "factor" in scaling:
            w.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
            w.add_rope_scaling_factor(float(scaling["factor"]))
        vocab.add_to(w)

    return add


def estimate_bytes(plans: list[TensorPlan], outtype: str) -> int:
    """Rough size of the final file (vectors stay F32)."""
    bpw = FTYPES[outtype][1]
    return sum(
        p.n_elements * 4 if len(p.shape) == 1 else int(p.n_elements * bpw / 8) for p in plans
    )


def sha256_file(path: Path, progress: Stage | None = None) -> str:
    digest, done, total = hashlib.sha256(), 0, path.stat().st_size
    with path.open("rb") as f:
        while chunk := f.read(2**22):
            digest.update(chunk)
            done += len(chunk)
            if progress:
                progress("sha256", done, total)
    return digest.hexdigest()


def _validate(path: Path) -> None:
    from baichuan_tui.engine.gguf_check import inspect_gguf

    inspect_gguf(path, allow_vocab_only=False)


def convert(
    src: Path,
    out: Path,
    *,
    outtype: str = "f16",
    name: str | None = None,
    norm_head: bool | None = None,
    source: str | None = None,
    repo: str | None = None,
    threads: int = 0,
    progress: Stage | None = None,
    record: bool = True,
    force: bool = False,
    say: Callable[[str], None] | None = None,
) -> ConvertResult:
    """Convert the checkpoint folder ``src`` into ``out``.

    ``outtype``: ``f32``/``f16``/``bf16`` are written directly; the quantized types go through
    a BF16 (bf16 checkpoints) or F16 intermediate next to ``out`` and llama.cpp's quantizer.
    ``norm_head``: normalise the head's rows; ``None`` = detect Baichuan2 (``say`` hears the
    decision and its reason, e.g. ``output head: normalised (Baichuan2: …)``). ``out`` appears only
    when complete and checked; the file is recorded in the registry unless ``record`` is off.
    ``out`` may not be inside ``src``, be one of its files, or lie in a missing folder; an
    existing ``out`` is replaced only with ``force``.
    """
    outtype = outtype.lower()
    if outtype not in FTYPES:
        raise UserError(f"unknown output type '{outtype}'", f"choose one of {', '.join(OUTTYPES)}")
    cfg = read_config(src)
    check_target(out, force=force, inputs=src.iterdir(), source_dir=src, what="the output .gguf")
    vocab = load_vocab(src, cfg.vocab_size)
    weights, gptq_cfg = gptq.wrap(src, cfg.raw, open_weights(src))
    if gptq_cfg is not None and say:
        say(gptq_cfg.line())
    decision = norm_head_decision(src, cfg, override=norm_head, repo=repo)
    norm = decision.applies
    if say:
        say(decision.line())
    if outtype in DIRECT:
        float_type, file_type = DIRECT[outtype]
    else:
        float_type, file_type = DIRECT["bf16" if source_dtype(weights) == "BF16" else "f16"]
    plans = tensor_plans(cfg, weights, float_type, norm)
    name = name or default_name(src, repo)
    meta = _metadata(cfg, vocab, name, int(file_type), repo)
    write = (lambda done, total: progress("write", done, total)) if progress else None

    final = estimate_bytes(plans, outtype)
    direct = outtype in DIRECT
    check_free_space(
        out.absolute().parent, final + (0 if direct else sum(p.nbytes for p in plans)), out.name
    )
    try:
        if direct:
            with atomic_output(out) as tmp:
                write_gguf(tmp, "baichuan", meta, plans, write)
                _validate(tmp)
        else:
            with temporary_file(out, f".{float_type.name.lower()}") as tmp:
                write_gguf(tmp, "baichuan", meta, plans, write)
                quant.quantize(
                    tmp,
                    out,
                    outtype,
                    threads=threads,
                    check=_validate,
                    progress=(lambda d, t: progress("quantize", d, t)) if progress else None,
                )
    except OSError as exc:
        err = disk_error(exc, out)
        if err is exc:
            raise
        raise err from exc
    sha = sha256_file(out, progress)
    if record:
        record_converted(
            out, source=source or str(src.absolute()), outtype=outtype, sha256=sha, name=name
        )
    return ConvertResult(
        out, outtype.upper(), out.stat().st_size, sha, name, norm, decision.reason, cfg.positions
    )
