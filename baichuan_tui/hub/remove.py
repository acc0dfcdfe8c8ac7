"""Delete catalog models from the HF cache (never a file the user named by path)."""

from __future__ import annotations

from pathlib import Path

from baichuan_tui.errors import ModelNotFound, UserError
from baichuan_tui.hub import cache
from baichuan_tui.hub.catalog import load_catalog
from baichuan_tui.hub.resolve import looks_like_path


def remove(spec: str) -> list[Path]:
    """Delete a catalog model (``NAME`` = every quant, ``NAME:QUANT`` = one) from the HF cache."""
    if looks_like_path(spec) and Path(spec).expanduser().exists():
        raise UserError(
            f"{spec} is a file path",
            "'models rm' takes a catalog name; delete your own files yourself",
        )
    name, _, quant = spec.partition(":")
    model = load_catalog().get(name)
    files = [model.quant(quant)] if quant else list(model.quants.values())
    removed = []
    for qf in files:
        for pointer in cache.cached_pointers(qf.repo, qf.filename):
            cache.discard(pointer)
            removed.append(pointer)
    if not removed:
        raise ModelNotFound(f"{spec} is not downloaded: nothing to remove")
    return removed
