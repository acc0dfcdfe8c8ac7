"""``baichuan-chat models info NAME|PATH``: what a GGUF holds and whether it fits here."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from baichuan_tui.commands.output import print_json
from baichuan_tui.library import resolve_model

if TYPE_CHECKING:
    from baichuan_tui.engine.gguf_check import GGUFInfo


def describe(path: Path, n_ctx: int) -> dict[str, Any]:
    """Metadata, detected family/template and memory estimate of one GGUF file."""
    from baichuan_tui.engine.family import detect_family
    from baichuan_tui.engine.gguf_check import inspect_gguf
    from baichuan_tui.hub import fit
    from baichuan_tui.hub.machine import machine_facts

    info = inspect_gguf(path)
    family = detect_family(info)
    doc: dict[str, Any] = {
        "path": str(info.path),
        "file_size": info.file_size,
        "gguf_version": info.version,
        "architecture": info.architecture,
        "name": info.name,
        "family": family.label,
        "variant": family.variant,
        "layers": info.block_count,
        "vocab_size": info.vocab_size,
        "context_length": info.context_length,
        "embedding_length": info.embedding_length,
        "head_count": info.head_count,
        "head_count_kv": info.head_count_kv,
        "quant": info.file_type,
        "template": family.template,
        "has_chat_template": bool(info.chat_template),
        "n_params": info.n_params,
        "vocab_only": info.vocab_only,
        "sampling_defaults": family.defaults.as_dict(),
        "normhead": normhead(info),
    }
    if not info.vocab_only:
        est = fit.estimate(fit.numbers_from_gguf(info), n_ctx)
        machine = machine_facts()
        place = fit.placement(est, machine)
        doc["memory"] = {
            "n_ctx": n_ctx,
            "weights_bytes": est.weights_bytes,
            "kv_cache_bytes": est.kv_bytes,
            "compute_bytes": est.compute_bytes,
            "total_bytes": est.total_bytes,
            "vram_full_offload_bytes": est.vram_bytes(est.n_layer + 1),
            "ram_cpu_only_bytes": est.ram_bytes(0),
        }
        doc["fits"] = {
            "placement": place.kind,
            "gpu_layers": place.gpu_layers,
            "label": place.label(),
        }
    return doc


def normhead(info: GGUFInfo) -> dict[str, Any]:
    """The quick (cached) NormHead check of a Baichuan2 file, as JSON (``fix`` when flagged)."""
    from baichuan_tui.repair.detect import check_head
    from baichuan_tui.repair.notice import fix_command

    check = check_head(info.path, "quick", info=info)
    doc = {k: v for k, v in check.to_dict().items() if v is not None or k == "normalized"}
    if check.needs_fix:
        doc["fix"] = fix_command(info.path)
    return doc


def _normhead_row(doc: dict[str, Any]) -> str:
    if not doc["applicable"]:
        return f"not applicable ({doc['reason']})"
    if doc["normalized"] is None:
        return f"unknown ({doc['reason']})"
    how = f"{doc['method']} check, {doc['checked_rows']} rows"
    if doc["normalized"]:
        return f"normalised ({how})"
    return f"NOT normalised ({how}): run '{doc['fix']}'"


def describe_server(args: argparse.Namespace) -> dict[str, Any]:
    """The model a llama-server runs: its file described as locally when the file is on this
    disk, else what the server says; ``server`` holds the server's facts."""
    from baichuan_tui.commands.common import load_request, say_on_stderr
    from baichuan_tui.loading import connect_server

    engine = connect_server(load_request(args, vocab_only=True), say=say_on_stderr)
    if engine.path.is_file():
        doc = describe(engine.path, engine.n_ctx)
    else:
        info, family = engine.info, engine.family
        doc = {
            "path": str(info.path),
            "file_size": info.file_size,
            "architecture": info.architecture,
            "name": info.name,
            "family": family.label,
            "variant": family.variant,
            "layers": info.block_count,
            "vocab_size": info.vocab_size,
            "context_length": info.context_length,
            "embedding_length": info.embedding_length,
            "quant": info.file_type,
            "template": engine.template,
            "has_chat_template": bool(info.chat_template),
            "sampling_defaults": family.defaults.as_dict(),
            "normhead": {"applicable": False, "reason": "the file is not on this machine"},
        }
    doc["server"] = engine.facts.as_dict()
    return doc


def run(args: argparse.Namespace) -> int:
    from baichuan_tui.commands.common import user_settings

    if getattr(args, "server", None):
        doc = describe_server(args)
    elif not args.spec:
        from baichuan_tui.errors import UsageError

        raise UsageError("models info needs NAME|PATH", "or --server URL for a server's model")
    else:
        path = resolve_model(args.spec, offline=args.offline)
        doc = describe(path, getattr(args, "n_ctx", None) or user_settings().n_ctx)
    if args.json:
        print_json(doc)
        sys.stdout.write("\n")
        return 0
    from rich.console import Console
    from rich.table import Table

    from baichuan_tui.engine.gguf_check import human_size

    t = Table(title=str(doc["path"]), show_header=False)
    t.add_column(style="bold")
    t.add_column()
    for key in (
        "family",
        "architecture",
        "name",
        "layers",
        "vocab_size",
        "context_length",
        "embedding_length",
        "quant",
        "template",
    ):
        t.add_row(key.replace("_", " "), str(doc[key]))
    t.add_row("file size", human_size(int(doc["file_size"])))
    t.add_row("output head", _normhead_row(doc["normhead"]))
    if "server" in doc:
        server = doc["server"]
        t.add_row("served by", f"{server['url']} ({server['total_slots']} slots)")
    mem = doc.get("memory")
    if isinstance(mem, dict):
        t.add_row(
            f"memory at {mem['n_ctx']} ctx",
            f"weights {human_size(mem['weights_bytes'])} + KV "
            f"{human_size(mem['kv_cache_bytes'])} + compute "
            f"{human_size(mem['compute_bytes'])}",
        )
        t.add_row("full GPU offload", human_size(mem["vram_full_offload_bytes"]) + " VRAM")
        t.add_row("fits this machine", doc["fits"]["label"])
    Console().print(t)
    return 0
