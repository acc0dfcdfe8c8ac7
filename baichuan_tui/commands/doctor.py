"""``baichuan-chat doctor``: what this machine and this install can do."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from baichuan_tui import __version__, locations
from baichuan_tui.commands.output import print_json


def hub_reachable(timeout: float = 3.0) -> bool | None:
    """Whether the Hub endpoint answers (``None`` when offline)."""
    if os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0"):
        return None
    import urllib.request

    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    try:
        with urllib.request.urlopen(f"{endpoint}/api/models?limit=1", timeout=timeout):
            return True
    except Exception:  # noqa: BLE001 - any failure means "not reachable"
        return False


def collect(offline: bool) -> dict[str, Any]:
    from baichuan_tui.commands.common import user_settings
    from baichuan_tui.engine.threads import physical_cores
    from baichuan_tui.hub.machine import machine_facts

    m = machine_facts()
    return {
        "baichuan_chat": __version__,
        "python": sys.version.split()[0],
        "llama_cpp_python": m.llama_cpp_version,
        "gpu_offload": m.gpu_offload,
        "gpus": [
            {"name": g.name, "total_bytes": g.total_bytes, "free_bytes": g.free_bytes}
            for g in m.gpus
        ],
        "ram_total_bytes": m.ram_total_bytes,
        "ram_available_bytes": m.ram_available_bytes,
        "physical_cores": physical_cores(),
        "logical_cores": m.logical_cores,
        "threads_used": user_settings().threads or physical_cores(),
        "paths": {
            "data": str(locations.data_dir()),
            "config": str(locations.config_file()),
            "cache": str(locations.cache_dir()),
            "database": str(locations.database_file()),
            "hf_hub_cache": str(locations.hf_hub_cache()),
        },
        "hub_endpoint": os.environ.get("HF_ENDPOINT", "https://huggingface.co"),
        "hub_reachable": None if offline else hub_reachable(),
    }


def run(args: argparse.Namespace) -> int:
    facts = collect(args.offline)
    if args.json:
        print_json(facts)
        sys.stdout.write("\n")
        return 0
    from rich.console import Console
    from rich.table import Table

    from baichuan_tui.engine.gguf_check import human_size

    t = Table(title="baichuan-chat doctor", show_header=False)
    t.add_column(style="bold")
    t.add_column()
    t.add_row("baichuan-chat", str(facts["baichuan_chat"]))
    t.add_row("llama-cpp-python", str(facts["llama_cpp_python"] or "not installed"))
    t.add_row(
        "GPU offload",
        "yes" if facts["gpu_offload"] else "no (CPU build; see README for the CUDA build)",
    )
    gpus = facts["gpus"] or []
    t.add_row(
        "GPUs",
        ", ".join(
            f"{g['name']} ({human_size(g['free_bytes'])} free of {human_size(g['total_bytes'])})"
            for g in gpus
        )
        or "none found",
    )
    t.add_row(
        "RAM",
        f"{human_size(facts['ram_available_bytes'])} available of "
        f"{human_size(facts['ram_total_bytes'])}",
    )
    t.add_row(
        "CPU",
        f"{facts['physical_cores']} physical cores ({facts['logical_cores']} "
        f"logical); {facts['threads_used']} threads used",
    )
    for name, path in facts["paths"].items():
        t.add_row(f"{name} path", path)
    reach = facts["hub_reachable"]
    t.add_row(
        "Hub",
        f"{facts['hub_endpoint']}: "
        + ("skipped (offline)" if reach is None else "reachable" if reach else "not reachable"),
    )
    Console().print(t)
    return 0
