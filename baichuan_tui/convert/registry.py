"""Converted (and repaired) GGUFs, recorded for ``models list`` in
:func:`locations.converted_file`.

The file holds ``{"version": 1, "models": [{path, source, outtype, sha256, created, ...}]}``; one
entry per absolute path (recording a path again replaces its entry). Updates are locked and
atomic.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from baichuan_tui import jsonstate, locations

VERSION = 1


@dataclass(frozen=True)
class ConvertedModel:
    path: str
    """Absolute path of the .gguf file."""
    source: str
    """Where it came from: a Hub repo id or a local checkpoint folder (or the file repaired)."""
    outtype: str
    """``F16``, ``Q8_0``, ``Q4_K_M`` ..."""
    sha256: str
    created: str
    """ISO 8601 UTC time of the conversion."""
    name: str | None = None
    """``general.name`` written into the file."""
    size: int | None = None
    kind: str = "converted"
    """``converted`` (issue 6) or another producer, e.g. ``repaired`` (issue 7)."""

    @property
    def exists(self) -> bool:
        return Path(self.path).is_file()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def registry_file() -> Path:
    """The registry (:func:`locations.converted_file`)."""
    return locations.converted_file()


def _models(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The well-formed entries of a registry document."""
    models = doc.get("models")
    if not isinstance(models, list):
        return []
    return [m for m in models if isinstance(m, dict) and isinstance(m.get("path"), str)]


def _load() -> list[dict[str, Any]]:
    return _models(jsonstate.read(registry_file()))


def _change(edit: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]) -> int:
    """Replace the entries with ``edit(entries)`` (locked, atomic); how many fewer there are."""

    def change(doc: dict[str, Any]) -> int:
        models = _models(doc)
        kept = edit(models)
        doc.clear()
        doc.update(version=VERSION, models=kept)
        return len(models) - len(kept)

    return jsonstate.update(registry_file(), change, indent=2)


def list_converted(*, existing_only: bool = False) -> list[ConvertedModel]:
    """Recorded files, newest first (``existing_only`` drops files that are gone)."""
    fields = set(ConvertedModel.__dataclass_fields__)
    out = []
    for m in _load():
        try:
            model = ConvertedModel(**{k: v for k, v in m.items() if k in fields})
        except TypeError:
            continue
        if not existing_only or model.exists:
            out.append(model)
    return sorted(out, key=lambda m: m.created, reverse=True)


def record_converted(
    path: str | Path,
    *,
    source: str,
    outtype: str,
    sha256: str,
    name: str | None = None,
    kind: str = "converted",
) -> ConvertedModel:
    """Record (or re-record) the file at ``path``."""
    p = Path(path).absolute()
    model = ConvertedModel(
        path=str(p),
        source=source,
        outtype=outtype.upper(),
        sha256=sha256,
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        name=name,
        size=p.stat().st_size if p.exists() else None,
        kind=kind,
    )
    _change(lambda models: [*(m for m in models if m["path"] != str(p)), model.to_dict()])
    return model


def forget_converted(path: str | Path) -> bool:
    """Drop the record of ``path`` (the file itself is left alone); whether one existed."""
    p = str(Path(path).absolute())
    if not any(m["path"] == p for m in _load()):
        return False
    return _change(lambda models: [m for m in models if m["path"] != p]) > 0


def find_converted(path: str | Path) -> ConvertedModel | None:
    p = str(Path(path).absolute())
    return next((m for m in list_converted() if m.path == p), None)
