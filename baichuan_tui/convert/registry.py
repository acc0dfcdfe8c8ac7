"""Converted (and repaired) GGUFs, recorded in ``<data_dir>/converted.json`` for ``models list``.

The file holds ``{"version": 1, "models": [{path, source, outtype, sha256, created, ...}]}``; one
entry per absolute path (recording a path again replaces its entry). Writes are atomic.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from baichuan_tui import locations

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
    return locations.data_dir() / "converted.json"


def _load() -> list[dict[str, Any]]:
    try:
        data = json.loads(registry_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    models = data.get("models") if isinstance(data, dict) else None
    return [m for m in models or [] if isinstance(m, dict) and isinstance(m.get("path"), str)]


def _save(models: list[dict[str, Any]]) -> None:
    path = registry_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".converted.", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"version": VERSION, "models": models}, f, ensure_ascii=False, indent=2)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
    models = [m for m in _load() if m["path"] != str(p)]
    models.append(model.to_dict())
    _save(models)
    return model


def forget_converted(path: str | Path) -> bool:
    """Drop the record of ``path`` (the file itself is left alone); whether one existed."""
    p = str(Path(path).absolute())
    models = _load()
    kept = [m for m in models if m["path"] != p]
    if len(kept) != len(models):
        _save(kept)
    return len(kept) != len(models)


def find_converted(path: str | Path) -> ConvertedModel | None:
    p = str(Path(path).absolute())
    return next((m for m in list_converted() if m.path == p), None)
