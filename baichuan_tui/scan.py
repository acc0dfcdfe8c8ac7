"""The GGUF files under the library's folders, each checked once (cached by size and mtime).

:func:`file_facts` runs the GGUF checks of :func:`~baichuan_tui.engine.gguf_check.inspect_gguf`
on one file and keeps what the model library shows: family, quant, size, the numbers of the fit
estimate, the NormHead state, or the one-line reason a file cannot be used. :func:`scan` walks
the folders and reuses the facts of every file whose size and mtime are unchanged (the side file
:func:`~baichuan_tui.locations.library_cache_file`), so a second scan reads no file again.
Blocking: the app calls it from a worker.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from baichuan_tui import jsonstate, locations
from baichuan_tui.errors import error_line

FACTS_VERSION = 3
"""Bumped when :func:`file_facts` learns something new: older cache entries are redone."""


def _normhead(path: Path, info: Any) -> str:
    """``ok``, ``needs fix``, ``n/a`` or ``unknown`` (the quick, cached head check)."""
    from baichuan_tui.repair.detect import check_head

    try:
        head = check_head(path, "quick", info=info)
    except Exception:  # noqa: BLE001 - a state to show, never a failure
        return "unknown"
    if not head.applicable:
        return "n/a"
    if head.normalized is None:
        return "unknown"
    return "ok" if head.normalized else "needs fix"


def file_facts(path: Path) -> dict[str, Any]:
    """What the library shows of one file: ``ok`` and, if so, ``family``, ``quant``,
    ``size_bytes``, ``numbers`` (the fit estimate's), ``normhead``; else ``reason`` (and, for a
    LoRA adapter, ``adapter_for``: the base's file name it was converted for)."""
    from baichuan_tui.engine.family import detect_family
    from baichuan_tui.engine.gguf_check import inspect_gguf
    from baichuan_tui.engine.lora import adapter_base
    from baichuan_tui.hub.fit import numbers_from_gguf

    facts: dict[str, Any] = {"path": str(path), "version": FACTS_VERSION}
    try:
        info = inspect_gguf(path, allow_vocab_only=False)
        numbers = asdict(numbers_from_gguf(info))
    except Exception as exc:  # noqa: BLE001 - a bad file is listed with its reason
        base = adapter_base(path)  # read again only for a file that is not a model
        if base is None:
            return {**facts, "ok": False, "reason": error_line(exc)}
        made_for = f" for {base}" if base else ""  # applied on a model (Ctrl+L, --lora)
        return {
            **facts,
            "ok": False,
            "adapter_for": base,
            "reason": f"a LoRA adapter{made_for}: Enter (or Ctrl+L) applies it to the loaded model",
        }
    family = detect_family(info)
    return {
        **facts,
        "ok": True,
        "name": info.name,
        "family": family.label,
        "template": family.template,
        "quant": info.file_type,
        "size_bytes": info.file_size,
        "context_length": info.context_length,
        "numbers": numbers,
        "normhead": _normhead(path, info),
    }


def gguf_files(folders: Iterable[str | Path]) -> Iterator[Path]:
    """Every ``*.gguf`` under ``folders`` (recursively, symlinks followed once), sorted per
    folder; a folder that does not exist yields nothing."""
    seen: set[Path] = set()
    for folder in folders:
        root = Path(folder).expanduser()
        if not root.is_dir():
            continue
        found = []
        for dirpath, _dirs, files in os.walk(root, followlinks=True):
            found += [Path(dirpath) / f for f in files if f.lower().endswith(".gguf")]
        for path in sorted(found):
            real = path.resolve()
            if real not in seen:
                seen.add(real)
                yield path


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def scan(
    folders: Iterable[str | Path],
    *,
    extra: Iterable[Path] = (),
    cancelled: Callable[[], bool] = lambda: False,
    on_file: Callable[[Path], None] | None = None,
) -> list[dict[str, Any]]:
    """The facts of every .gguf under ``folders`` and of the ``extra`` files, reusing cached
    facts of unchanged files; ``on_file`` hears each file checked anew (not the cached ones).
    Stops early when ``cancelled()``."""
    cache_file = locations.library_cache_file()
    cache = jsonstate.read(cache_file)
    out, fresh = [], {}
    for path in [*gguf_files(folders), *extra]:
        if cancelled():
            break
        stamp = _stamp(path)
        if stamp is None:
            continue
        key = str(path.resolve())
        hit = cache.get(key)
        if (
            isinstance(hit, dict)
            and hit.get("version") == FACTS_VERSION
            and (hit.get("size"), hit.get("mtime_ns")) == stamp
        ):
            facts = hit["facts"]
        else:
            if on_file is not None:
                on_file(path)
            facts = file_facts(path)
            fresh[key] = {
                "version": FACTS_VERSION,
                "size": stamp[0],
                "mtime_ns": stamp[1],
                "facts": facts,
            }
        out.append({**facts, "path": str(path)})
    if fresh:
        with contextlib.suppress(OSError):  # a cache only
            jsonstate.update(cache_file, lambda doc: doc.update(fresh))
    return out
