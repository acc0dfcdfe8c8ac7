#!/usr/bin/env python3
"""Write full-size random-weight GGUFs of Baichuan's real shapes (for memory and speed benchmarks).

Random weights cost what real weights cost: the same tensors, the same bytes, the same matrix
work per token. The shapes are the catalog's families (``baichuan-7b``: 4096 x 32 layers, RoPE,
vocabulary 64,000; ``baichuan2-7b``: vocabulary 125,696; ``baichuan-13b`` / ``baichuan2-13b``:
5120 x 40, ALiBi, feed-forward 13,696). The vocabulary and metadata are those of
``make_tiny_model.py`` (typed like real converted files).

Memory stays bounded by one chunk of rows (64 MiB of float32): tensors are generated row block
by row block from a per-tensor seeded generator and streamed into an F16 GGUF; any other type
is made from that F16 file by llama.cpp's own quantizer (``llama_model_quantize``, as
``llama-quantize`` does), and the F16 intermediate is deleted.

    python scripts/make_shape_model.py baichuan-7b --quant Q4_K_M      # -> the cache folder
    python scripts/make_shape_model.py baichuan2-13b --quant Q4_K_M --out X.gguf
    python scripts/make_shape_model.py baichuan-7b --scale 32 --out small.gguf  # tests

``--scale K`` divides the hidden and feed-forward sizes by K (the head size stays 128, the
feed-forward size is rounded to 32, the layer count and vocabulary stay): a small file with
the real layout, for tests.
Files land in ``locations.shapes_dir()`` (``~/.cache/baichuan-chat/shapes``), never in the repo.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import gguf
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from baichuan_tui import locations  # noqa: E402
from baichuan_tui.convert import quantize as quant  # noqa: E402
from baichuan_tui.convert.ftypes import FTYPES  # noqa: E402
from baichuan_tui.convert.outfile import atomic_output, temporary_file  # noqa: E402
from baichuan_tui.convert.writer import QT, TensorPlan, float_tensor, write_gguf  # noqa: E402
from baichuan_tui.errors import UserError, error_line  # noqa: E402
from baichuan_tui.hub.catalog import FamilyNumbers, load_catalog  # noqa: E402

GENERATOR_VERSION = "1"
"""Bump when the bytes written for the same arguments change (cached files carry it)."""
HEAD_DIM = 128
"""Every Baichuan shape has 128-wide attention heads; ``--scale`` keeps it."""

_TINY = Path(__file__).with_name("make_tiny_model.py")


def tiny() -> ModuleType:
    """``make_tiny_model`` (vocabulary and metadata), imported by path."""
    if "make_tiny_model" not in sys.modules:
        spec = importlib.util.spec_from_file_location("make_tiny_model", _TINY)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules["make_tiny_model"] = module
        spec.loader.exec_module(module)
    return sys.modules["make_tiny_model"]


@dataclass(frozen=True)
class Shape:
    """One real Baichuan shape (a catalog family), possibly scaled down."""

    name: str
    numbers: FamilyNumbers
    scale: int = 1

    @property
    def family(self) -> str:
        """The tokenizer family of ``make_tiny_model`` (by vocabulary size)."""
        return "baichuan2" if self.numbers.n_vocab > 64000 else "baichuan"

    @property
    def n_embd(self) -> int:
        return self.numbers.n_embd // self.scale

    @property
    def n_head(self) -> int:
        return max(1, self.n_embd // HEAD_DIM)

    @property
    def n_ff(self) -> int:
        """Scaled down: rounded down to whole 32-value quant blocks."""
        n_ff = self.numbers.n_ff // self.scale
        return n_ff if self.scale == 1 else max(32, n_ff // 32 * 32)

    @property
    def n_layer(self) -> int:
        return self.numbers.n_layer

    @property
    def n_vocab(self) -> int:
        return self.numbers.n_vocab

    @property
    def n_params(self) -> int:
        e, ff = self.n_embd, self.n_ff
        return self.n_layer * (4 * e * e + 3 * e * ff + 2 * e) + 2 * self.n_vocab * e + e

    def title(self) -> str:
        """``general.name``: says plainly that the weights are random."""
        scaled = f", sizes /{self.scale}" if self.scale > 1 else ""
        return f"{self.name} shape (random weights{scaled})"


def shapes() -> dict[str, FamilyNumbers]:
    """The real shapes by name: the catalog's families."""
    return {model.family: model.numbers for model in load_catalog()}


def shape(name: str, scale: int = 1) -> Shape:
    known = shapes()
    if name not in known:
        raise UserError(f"unknown shape '{name}'", f"choose one of {', '.join(sorted(known))}")
    numbers = known[name]
    if scale < 1 or numbers.n_embd % (scale * HEAD_DIM):
        raise UserError(f"--scale {scale} does not divide {name}'s sizes into whole heads")
    return Shape(name, numbers, scale)


def default_path(sh: Shape, outtype: str, seed: int = 0) -> Path:
    """The cache file for a shape, type and seed."""
    scale = f"-s{sh.scale}" if sh.scale > 1 else ""
    name = f"{sh.name}{scale}-{outtype.upper()}-seed{seed}-g{GENERATOR_VERSION}.gguf"
    return locations.shapes_dir() / name


def tensor_plans(sh: Shape, seed: int) -> list[TensorPlan]:
    """The F16 tensors of ``sh`` in llama.cpp's order, each drawn by its own generator."""
    e, ff, v = sh.n_embd, sh.n_ff, sh.n_vocab
    plans: list[TensorPlan] = []

    def normal(name: str, shape: tuple[int, int], std: float, unit_rows: bool = False) -> None:
        rng = np.random.default_rng([seed, len(plans)])

        def rows(a: int, b: int) -> np.ndarray:
            block = rng.standard_normal((b - a, shape[1]), dtype=np.float32)
            if unit_rows:
                block /= np.linalg.norm(block, axis=1, keepdims=True)
            else:
                block *= np.float32(std)
            return block

        plans.append(float_tensor(name, shape, QT.F16, rows))

    def ones(name: str) -> None:
        plans.append(float_tensor(name, (e,), QT.F32, lambda a, b: np.ones(b - a, np.float32)))

    s_in, s_ff = 1.0 / np.sqrt(e), 1.0 / np.sqrt(ff)
    normal("token_embd.weight", (v, e), 1.0)
    for i in range(sh.n_layer):
        b = f"blk.{i}."
        ones(b + "attn_norm.weight")
        normal(b + "attn_q.weight", (e, e), 2.0 * s_in)
        normal(b + "attn_k.weight", (e, e), 2.0 * s_in)
        normal(b + "attn_v.weight", (e, e), s_in)
        normal(b + "attn_output.weight", (e, e), 0.3 * s_in)
        ones(b + "ffn_norm.weight")
        normal(b + "ffn_gate.weight", (ff, e), s_in)
        normal(b + "ffn_up.weight", (ff, e), s_in)
        normal(b + "ffn_down.weight", (e, ff), 0.3 * s_ff)
    ones("output_norm.weight")
    # Baichuan2's converted head has unit rows (NormHead applied); baichuan's is plain.
    normal("output.weight", (v, e), 1.0, unit_rows=sh.family == "baichuan2")
    return plans


def _metadata(sh: Shape) -> Callable[[gguf.GGUFWriter], None]:
    def add(w: gguf.GGUFWriter) -> None:
        tiny().add_metadata(
            w,
            family=sh.family,
            layers=sh.n_layer,
            name=sh.title(),
            n_embd=sh.n_embd,
            n_head=sh.n_head,
            n_ff=sh.n_ff,
            n_ctx=4096,
            file_type=int(gguf.LlamaFileType.MOSTLY_F16),
        )

    return add


Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``: ``write`` in bytes, ``quantize`` in tensors."""


def write_shape_model(
    sh: Shape,
    out: Path,
    outtype: str = "f16",
    *,
    seed: int = 0,
    threads: int = 0,
    progress: Progress | None = None,
) -> Path:
    """Write ``sh`` as ``outtype`` (``f16`` or any llama.cpp quant type) to ``out``, atomically."""
    outtype = outtype.lower()
    if outtype not in FTYPES or outtype in ("f32", "bf16"):
        raise UserError(f"unknown --quant '{outtype}'", "use F16 or a llama.cpp quant type")
    plans = tensor_plans(sh, seed)
    meta = _metadata(sh)

    def write(done: int, total: int) -> None:
        if progress:
            progress("write", done, total)

    if outtype == "f16":
        with atomic_output(out) as tmp:
            write_gguf(tmp, "baichuan", meta, plans, write)
        return out
    with temporary_file(out, ".f16") as tmp:
        write_gguf(tmp, "baichuan", meta, plans, write)
        quant.quantize(
            tmp,
            out,
            outtype,
            threads=threads,
            progress=(lambda d, t: progress("quantize", d, t)) if progress else None,
        )
    return out


def ensure(sh: Shape, outtypes: list[str], *, seed: int = 0, threads: int = 0) -> list[Path]:
    """The cached files for ``sh`` in each of ``outtypes``, written if missing (progress on
    stderr). One F16 file is generated and quantized to each type; it is kept only if asked."""
    wanted = [t.lower() for t in outtypes]
    paths = [default_path(sh, t, seed) for t in wanted]
    missing = [t for t, path in zip(wanted, paths, strict=True) if not path.is_file()]
    if not missing:
        return paths
    f16 = default_path(sh, "f16", seed)
    f16.parent.mkdir(parents=True, exist_ok=True)
    made_f16 = not f16.is_file()
    try:
        if made_f16:
            t0 = time.perf_counter()
            write_shape_model(sh, f16, "f16", seed=seed, progress=_stderr())
            _say_made(f16, t0)
        for outtype in missing:
            if outtype != "f16":
                out = default_path(sh, outtype, seed)
                t0 = time.perf_counter()
                quant.quantize(f16, out, outtype, threads=threads, progress=_stderr("quantize"))
                _say_made(out, t0)
    finally:
        if made_f16 and "f16" not in wanted:
            f16.unlink(missing_ok=True)
    return paths


def _say_made(path: Path, t0: float) -> None:
    size = path.stat().st_size / 2**30
    print(f"\r{path.name}: {size:.2f} GiB in {time.perf_counter() - t0:.0f} s", file=sys.stderr)


def _stderr(stage: str = "") -> Callable[..., None]:
    """A progress callback printing ``stage NN%`` on one line: ``(stage, done, total)``, or
    ``(done, total)`` when ``stage`` is given here."""
    shown = {"stage": "", "pct": -1}

    def report(*args: Any) -> None:
        stage_now, done, total = (stage, *args) if stage else args
        pct = 100 * done // max(total, 1)
        if stage_now != shown["stage"] or pct != shown["pct"]:
            shown.update(stage=stage_now, pct=pct)
            print(f"\r{stage_now} {pct:3d}%", end="", file=sys.stderr, flush=True)

    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("shape", help=f"one of {', '.join(sorted(shapes()))}")
    p.add_argument(
        "--quant",
        action="append",
        help="F16 or a llama.cpp type (Q4_K_M, Q8_0, ...); repeatable (default F16)",
    )
    p.add_argument("--out", type=Path, default=None, help="output file (default: the cache)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--scale", type=int, default=1, help="divide hidden/ff sizes (tests)")
    p.add_argument("--threads", type=int, default=0, help="quantizer threads (0: all)")
    a = p.parse_args(argv)
    try:
        sh = shape(a.shape, a.scale)
        quants = a.quant or ["F16"]
        if a.out is None:
            outs = ensure(sh, quants, seed=a.seed, threads=a.threads)
        elif len(quants) > 1:
            raise UserError("--out takes one --quant")
        else:
            outs = [
                write_shape_model(
                    sh, a.out, quants[0], seed=a.seed, threads=a.threads, progress=_stderr()
                )
            ]
            print(file=sys.stderr)
    except UserError as exc:
        print(f"error: {error_line(exc)}", file=sys.stderr)
        return 1
    for out in outs:
        print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
