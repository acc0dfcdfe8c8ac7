"""The local state of every catalog model: downloaded, unverified, failed, not downloaded
(reads the HF cache and the verification records only; never the network)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from baichuan_tui.hub import cache
from baichuan_tui.hub.catalog import CatalogModel, QuantFile, load_catalog


@dataclass(frozen=True)
class ModelState:
    name: str
    quant: str | None
    state: str
    """``downloaded`` (verified), ``unverified``, ``failed verification``, ``not downloaded``
    or ``needs conversion``."""
    size_bytes: int | None
    path: Path | None
    spec: str
    title: str
    family: str
    template: str
    hf_repo: str
    repo: str | None
    filename: str | None
    context_length: int
    licence: str
    default: bool

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "path": str(self.path) if self.path else None}


def _state(qf: QuantFile) -> tuple[str, int | None, Path | None]:
    pointers = cache.cached_pointers(qf.repo, qf.filename)
    for p in pointers:
        if cache.is_verified(p):
            return "downloaded", p.stat().st_size, p
    if pointers:
        rec = cache.record_of(pointers[0])
        state = "failed verification" if rec and not rec.get("ok") else "unverified"
        return state, pointers[0].stat().st_size, pointers[0]
    return "not downloaded", qf.size_bytes, None


def _row(m: CatalogModel, qf: QuantFile | None, default: str) -> ModelState:
    state, size, path = _state(qf) if qf else ("needs conversion", None, None)
    spec = f"{m.name}:{qf.quant}" if qf else m.name
    return ModelState(
        m.name,
        qf.quant if qf else None,
        state,
        size,
        path,
        spec,
        title=m.title,
        family=m.family,
        template=m.template,
        hf_repo=m.hf_repo,
        repo=qf.repo if qf else None,
        filename=qf.filename if qf else None,
        context_length=m.context_length,
        licence=m.licence,
        default=qf is not None and spec == default,
    )


def list_models() -> list[ModelState]:
    """Every catalog model and quant with its local state (a model without any GGUF gets one
    ``needs conversion`` row)."""
    catalog = load_catalog()
    rows = []
    for m in catalog:
        if not m.quants:
            rows.append(_row(m, None, catalog.default))
        rows += [_row(m, qf, catalog.default) for qf in m.quants.values()]
    return rows


def cached_specs() -> list[str]:
    """Catalog ``NAME:QUANT`` specs that have a file in the HF cache (verified or not)."""
    return [
        f"{m.name}:{q.quant}"
        for m in load_catalog()
        for q in m.quants.values()
        if cache.cached_pointers(q.repo, q.filename)
    ]
