"""The models this machine can open: which file a spec means, and the list of them all.

What the CLI and the app both ask: ``resolve_model`` (a spec → the file to load) and
``list_document`` (the catalog with each quant's state and fit, plus the GGUFs made here:
``models list --json`` and the model manager's rows). Headless; never touches the network.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from baichuan_tui.hub import machine as hw
from baichuan_tui.hub.catalog import CatalogModel, default_spec, load_catalog
from baichuan_tui.hub.fit import estimate, numbers_for, placement
from baichuan_tui.hub.machine import Machine
from baichuan_tui.hub.resolve import cached_model, looks_like_path
from baichuan_tui.hub.states import list_models

STATE_ORDER = ("downloaded", "unverified", "failed verification", "not downloaded")
"""A model's state is the first of these that one of its quants has."""


def resolve_model(spec: str | None, *, offline: bool, prefer_repaired: bool = True) -> Path:
    """The file to load for ``spec``: None → the catalog default; a path (see
    :func:`~baichuan_tui.hub.resolve.looks_like_path`) as is (a missing one is reported by the
    loader); a catalog name → its downloaded, verified file, or with ``prefer_repaired`` its
    NormHead-repaired copy when ``models fix`` made one."""
    spec = spec or default_spec()
    if looks_like_path(spec):
        return Path(spec).expanduser()
    path = cached_model(spec, offline=offline)
    if not prefer_repaired:
        return path
    from baichuan_tui.repair.notice import prefer_repaired as repaired_or_same

    return repaired_or_same(path)


def _fit(model: CatalogModel, quant: str, machine: Machine, n_ctx: int | None) -> dict[str, Any]:
    est = estimate(numbers_for(model, quant), n_ctx or model.context_length)
    where = placement(est, machine)
    return {
        "fits": where.kind,
        "label": where.label(),
        "gpu_layers": where.gpu_layers,
        "n_ctx": est.n_ctx,
        "ram_bytes": est.total_bytes,
        "vram_bytes": est.vram_bytes(est.n_layer + 1),
    }


def list_document(n_ctx: int | None = None, machine: Machine | None = None) -> dict[str, Any]:
    """The ``models list --json`` document: every catalog model with its quants' state, size
    and fit at ``n_ctx`` (None: each model's context length), the GGUFs made here, the notes."""
    catalog = load_catalog()
    machine = machine or hw.machine_facts()
    models: dict[str, dict[str, Any]] = {}
    for row in list_models():
        model = catalog.get(row.name)
        entry = models.setdefault(
            row.name,
            {
                "name": row.name,
                "title": row.title,
                "family": row.family,
                "template": row.template,
                "hf_repo": row.hf_repo,
                "context_length": row.context_length,
                "licence": row.licence,
                "needs_conversion": model.needs_conversion,
                "notes": model.notes,
                "see_also": list(model.see_also),
                "state": row.state,
                "quants": [],
            },
        )
        if row.quant is None:
            continue
        entry["quants"].append({**row.to_dict(), "fit": _fit(model, row.quant, machine, n_ctx)})
        states = [q["state"] for q in entry["quants"]]
        entry["state"] = next(s for s in STATE_ORDER if s in states)
    local = local_models()
    for entry in models.values():
        mine = [m for m in local if m["source"] == entry["hf_repo"]]
        if mine and entry["needs_conversion"]:
            entry["state"] = "converted"
            entry["converted"] = [m["path"] for m in mine]
    return {
        "default": catalog.default,
        "models": list(models.values()),
        "local": local,
        "notes": list(catalog.notes),
        "machine": machine.to_dict(),
    }


def local_models() -> list[dict[str, Any]]:
    """GGUFs made on this machine (``convert``, ``models fix``) that still exist."""
    from baichuan_tui.convert.registry import list_converted

    return [
        {
            "path": m.path,
            "name": m.name,
            "source": m.source,
            "outtype": m.outtype,
            "kind": m.kind,
            "size_bytes": m.size,
            "created": m.created,
        }
        for m in list_converted(existing_only=True)
    ]


# ------------------------------------------------------------------------ the model library
SOURCES = ("catalog", "converted", "repaired", "folder", "recent", "server")
"""Where a library entry comes from; a file found twice is listed under the first."""


def _fit_label(facts: dict[str, Any], machine: Machine, n_ctx: int) -> str:
    from baichuan_tui.hub.fit import ModelNumbers

    numbers = facts.get("numbers")
    if not numbers:
        return ""
    try:
        return placement(estimate(ModelNumbers(**numbers), n_ctx), machine).label()
    except (TypeError, ValueError, ZeroDivisionError):
        return ""


def library_entries(
    folders: Sequence[str] = (),
    servers: Mapping[str, str] | None = None,
    *,
    n_ctx: int = 4096,
    machine: Machine | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> list[dict[str, Any]]:
    """Everything runnable here: downloaded catalog quants, converted and repaired files,
    every .gguf under ``folders``, recently opened paths and the ``servers`` (name → URL).

    Each entry: ``source`` (one of :data:`SOURCES`), ``spec`` (what to load), ``path``,
    ``ok`` with ``family``, ``quant``, ``size_bytes``, ``fit`` (at ``n_ctx``), ``normhead``,
    or ``reason`` (the one line why the file cannot be used); ``last_used`` (ISO time or
    None); ``adapters``: the LoRA adapters found that were converted for this file (an
    adapter's own entry has ``adapter_for``). GGUF checks are cached by size and mtime
    (:func:`baichuan_tui.scan.scan`).
    """
    from baichuan_tui.scan import gguf_files, scan
    from baichuan_tui.settings import recent_models

    machine = machine or hw.machine_facts()
    recent = recent_models()
    wanted: list[tuple[str, str, Path]] = []  # (source, spec, path)
    for row in list_models():
        if row.path is not None and row.state in ("downloaded", "unverified"):
            wanted.append(("catalog", row.spec, row.path))
    for m in local_models():
        wanted.append(
            ("repaired" if m["kind"] == "repaired" else "converted", m["path"], Path(m["path"]))
        )
    wanted += [("folder", str(p), p) for p in gguf_files(folders)]
    wanted += [("recent", spec, Path(spec)) for spec in recent if looks_like_path(spec)]
    seen: dict[Path, tuple[str, str]] = {}
    for source, spec, path in wanted:
        try:
            real = path.expanduser().resolve()
        except OSError:
            continue
        if real not in seen and real.is_file():
            seen[real] = (source, spec)
    facts = {Path(f["path"]): f for f in scan((), extra=list(seen), cancelled=cancelled)}
    entries = []
    for real, (source, spec) in seen.items():
        fact = facts.get(real)
        if fact is None:
            continue
        entry = {
            "source": source,
            "spec": spec,
            "path": str(real),
            "ok": fact["ok"],
            "reason": fact.get("reason"),
            "family": fact.get("family"),
            "quant": fact.get("quant"),
            "size_bytes": fact.get("size_bytes") or real.stat().st_size,
            "fit": _fit_label(fact, machine, n_ctx) if fact["ok"] else "",
            "normhead": fact.get("normhead"),
            "last_used": recent.get(spec) or recent.get(str(real)),
            "adapter_for": fact.get("adapter_for"),
            "adapters": [],
        }
        entries.append(entry)
    for adapter in entries:  # each model lists the adapters converted for it
        if adapter["adapter_for"]:
            for model in entries:
                if model["ok"] and Path(model["path"]).name == adapter["adapter_for"]:
                    model["adapters"].append(Path(adapter["path"]).name)
    for name, url in (servers or {}).items():
        spec = f"server={name}"
        entries.append(
            {
                "source": "server",
                "spec": spec,
                "path": url,
                "ok": True,
                "reason": None,
                "family": None,
                "quant": None,
                "size_bytes": None,
                "fit": "server",
                "normhead": None,
                "last_used": recent.get(spec),
                "adapter_for": None,
                "adapters": [],
            }
        )
    return entries


def complete_path(
    text: str, suffixes: tuple[str, ...] | None = (".gguf",)
) -> tuple[str, list[str]]:
    """Tab completion of a path being typed: the text extended by what every match shares,
    and the matches (folders end with ``/``; files not ending in one of ``suffixes`` are left
    out; None: every file)."""
    typed = Path(text).expanduser() if text else Path(".")
    folder, stem = (typed, "") if text.endswith("/") or not text else (typed.parent, typed.name)
    try:
        names = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir())
    except OSError:
        return text, []
    matches = [
        n
        for n in names
        if n.startswith(stem) and (n.endswith("/") or suffixes is None or n.endswith(suffixes))
    ]
    matches = [n for n in matches if not n.startswith(".") or stem.startswith(".")]
    if not matches:
        return text, []
    shared = os.path.commonprefix(matches)
    head = text[: len(text) - len(stem)] if stem else text
    return head + shared, matches
