"""``baichuan-chat convert SRC --out FILE.gguf``: HF Baichuan checkpoint → GGUF (+ quantize).

``add_convert_parser`` only uses argparse and stdlib-light modules (``--help`` stays fast);
``run`` imports numpy, gguf and llama.cpp when it runs. Attributes read by ``run``: ``src``,
``out``, ``outtype``, ``name``, ``norm_head`` (auto|yes|no), ``threads``, ``revision``,
``force``, ``json``, ``offline`` (missing optional ones fall back to their defaults).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from baichuan_tui.commands.output import print_json
from baichuan_tui.convert.ftypes import FTYPES

MAIN_OUTTYPES = "f32, f16, bf16, q8_0, q6_k, q5_k_m, q4_k_m, q4_0"


def add_convert_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``convert`` on the CLI's subparsers; returns its parser."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "convert",
        help="convert a Hugging Face Baichuan checkpoint to GGUF (and quantize)",
        description="Convert a Baichuan / Baichuan2 Hugging Face checkpoint (a local folder or "
        "a Hub repo id) into a GGUF file llama.cpp runs, optionally quantized with "
        "llama.cpp's own quantizer. Baichuan2's output head is normalised. The "
        "output appears only when complete; it is listed by 'models list'.",
    )
    p.add_argument(
        "src",
        metavar="SRC",
        help="checkpoint folder, or Hub repo id (e.g. baichuan-inc/Baichuan2-7B-Chat)",
    )
    p.add_argument(
        "--out",
        "-o",
        metavar="FILE.gguf",
        help="output file, outside the checkpoint; its folder must exist "
        "(default: <data dir>/models/NAME.OUTTYPE.gguf)",
    )
    p.add_argument(
        "--base",
        metavar="MODEL",
        help="for a PEFT LoRA adapter (SRC with adapter_config.json): the base model it adapts, "
        "a .gguf or a checkpoint folder; writes a GGUF adapter for --lora",
    )
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")
    p.add_argument(
        "--outtype",
        default="f16",
        type=str.lower,
        choices=list(FTYPES),
        metavar="TYPE",
        help=f"{MAIN_OUTTYPES}, ... (default: f16)",
    )
    p.add_argument(
        "--name",
        help="general.name in the file (default: the repo or folder name; "
        "the app picks the chat template from it)",
    )
    p.add_argument(
        "--norm-head",
        nargs="?",
        choices=("auto", "yes", "no"),
        const="yes",
        default="auto",
        help="L2-normalise the output head's rows (Baichuan2's NormHead); default auto: "
        "decided from the vocabulary, config.json, modeling file and names, said on stderr",
    )
    p.add_argument(
        "--no-norm-head",
        dest="norm_head",
        action="store_const",
        const="no",
        help="leave the output head as it is (same as --norm-head no)",
    )
    p.add_argument(
        "--threads", type=int, default=None, help="quantization threads (default: physical cores)"
    )
    p.add_argument("--revision", help="Hub revision (branch, tag or commit) for a repo id")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument(
        "--offline",
        action="store_true",
        default=argparse.SUPPRESS,
        help="use only the local HF cache",
    )
    return p


def _detail(stage: str, done: int, total: int | None) -> str:
    from baichuan_tui.engine.gguf_tables import human_size

    if stage == "quantize":
        return f"{done}/{total} tensors"
    return f"{human_size(done)} / {human_size(total or 0)}"


def run(args: argparse.Namespace) -> int:
    from baichuan_tui import locations
    from baichuan_tui.commands.common import user_settings
    from baichuan_tui.convert.lora import is_adapter
    from baichuan_tui.convert.pipeline import convert
    from baichuan_tui.convert.source import default_name, resolve_source
    from baichuan_tui.engine.gguf_tables import human_size
    from baichuan_tui.engine.threads import physical_cores

    offline = bool(getattr(args, "offline", False)) or os.environ.get("HF_HUB_OFFLINE", "") not in (
        "",
        "0",
    )
    outtype = (getattr(args, "outtype", None) or "f16").lower()
    folder, label, repo = resolve_source(
        args.src, offline=offline, revision=getattr(args, "revision", None)
    )
    name = getattr(args, "name", None) or default_name(folder, repo)
    if is_adapter(folder) or getattr(args, "base", None):
        return _run_adapter(args, folder, label, name, outtype)
    if getattr(args, "out", None):
        out = Path(args.out).expanduser()
    else:  # the app's own folder: created on first use
        locations.models_dir().mkdir(parents=True, exist_ok=True)
        out = locations.models_dir() / f"{name}.{outtype.upper()}.gguf"
    norm = {"yes": True, "no": False}.get(getattr(args, "norm_head", "auto") or "auto")
    from baichuan_tui.commands.bars import stage_bars

    labels = {"write": "write GGUF", "quantize": "quantize", "sha256": "sha256"}
    with stage_bars(labels, _detail) as bar:
        result = convert(
            folder,
            out,
            outtype=outtype,
            name=name,
            norm_head=norm,
            source=label,
            repo=repo,
            threads=getattr(args, "threads", None) or user_settings().threads or physical_cores(),
            progress=bar,
            force=bool(getattr(args, "force", False)),
            say=lambda line: print(line, file=sys.stderr),
        )
    doc = {
        "path": str(result.path.absolute()),
        "source": label,
        "outtype": result.outtype,
        "size": result.size,
        "sha256": result.sha256,
        "name": result.name,
        "norm_head": result.norm_head,
        "norm_head_reason": result.norm_head_reason,
        "positions": result.positions,
    }
    if getattr(args, "json", False):
        print_json(doc)
    else:
        head = ", output head normalised (Baichuan2)" if result.norm_head else ""
        print(f"wrote {result.path} ({result.outtype}, {human_size(result.size)}{head})")
        print(f'try it: baichuan-chat ask --model {result.path} "你好"')
    return 0


def _run_adapter(
    args: argparse.Namespace, folder: Path, label: str, name: str, outtype: str
) -> int:
    """``convert ADAPTER_DIR --base MODEL``: a PEFT LoRA adapter → a GGUF adapter."""
    from baichuan_tui import locations
    from baichuan_tui.convert.lora import convert_adapter, is_adapter
    from baichuan_tui.engine.gguf_tables import human_size
    from baichuan_tui.errors import UsageError, UserError
    from baichuan_tui.library import resolve_model

    base_spec = getattr(args, "base", None)
    if not is_adapter(folder):
        raise UserError(
            f"--base is for a LoRA adapter, and {label} has no adapter_config.json",
            "drop --base to convert a full checkpoint",
        )
    if not base_spec:
        raise UsageError(
            f"{label} is a LoRA adapter: say which model it adapts",
            "add --base MODEL.gguf (or the base checkpoint folder)",
        )
    base = Path(base_spec).expanduser()
    if not base.is_dir():
        base = resolve_model(base_spec, offline=True)
    if getattr(args, "out", None):
        out = Path(args.out).expanduser()
    else:
        locations.models_dir().mkdir(parents=True, exist_ok=True)
        out = locations.models_dir() / f"{name}.lora.{outtype.upper()}.gguf"
    result = convert_adapter(
        folder, base, out, outtype=outtype, name=name, force=bool(getattr(args, "force", False))
    )
    doc = {
        "path": str(result.path.absolute()),
        "source": label,
        "base": str(base.absolute()),
        "outtype": result.outtype,
        "size": result.size,
        "tensors": result.tensors,
        "rank": result.rank,
        "alpha": result.alpha,
    }
    if getattr(args, "json", False):
        print_json(doc)
    else:
        print(f"wrote {result.path} (LoRA adapter, {result.outtype}, {human_size(result.size)})")
        print(f'try it: baichuan-chat ask --model {base} --lora {result.path} "你好"')
    return 0
