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


def server_facts(value: str) -> dict[str, Any]:
    """What the llama-server at ``value`` (URL or ``[servers.NAME]``) runs, and whether it
    answers: ``reachable`` false with the ``error`` line when it does not."""
    from baichuan_tui.commands.common import user_settings
    from baichuan_tui.errors import error_line
    from baichuan_tui.server.client import API_KEY_ENV, ServerClient, api_key_from_env
    from baichuan_tui.server.facts import probe, slots
    from baichuan_tui.settings import server_entry

    entry = server_entry(user_settings(), value)
    doc: dict[str, Any] = {"url": entry.url, "reachable": False}
    try:
        client = ServerClient(entry.url, api_key=api_key_from_env(entry.api_key_env or API_KEY_ENV))
        doc["url"] = client.url
        facts = probe(client)
        state = slots(client) if facts.endpoint_slots else None
    except Exception as exc:  # noqa: BLE001 - doctor reports the fault in one line
        doc["error"] = error_line(exc)
        return doc
    doc.update(reachable=True, **facts.as_dict())
    doc["model"] = facts.model_name
    doc["slots_busy"] = None if state is None else sum(bool(s.get("is_processing")) for s in state)
    return doc


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
    server = getattr(args, "server", None)
    if server:
        facts["server"] = server_facts(server)
    code = 1 if server and not facts["server"]["reachable"] else 0
    if args.json:
        print_json(facts)
        sys.stdout.write("\n")
        return code
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
    if server:
        _server_rows(t, facts["server"])
    Console().print(t)
    return code


def _server_rows(t: Any, doc: dict[str, Any]) -> None:
    if not doc["reachable"]:
        t.add_row("server", f"{doc['url']}: not reachable ({doc['error']})")
        return
    busy = "" if doc["slots_busy"] is None else f" ({doc['slots_busy']} busy)"
    t.add_row("server", f"{doc['url']}: reachable")
    t.add_row("server model", f"{doc['model']} ({doc['ftype'] or 'unknown type'})")
    t.add_row("server slots", f"{doc['total_slots']}{busy}, {doc['n_ctx']} tokens each")
    t.add_row("server build", str(doc["build_info"] or "unknown"))
