"""Map a model file or read it into memory (``use_mmap``), learned per file on this machine.

On the CPU llama.cpp repacks some weight types into its own layout (``CPU_REPACK`` buffers, e.g.
Q4_0 and Q4_K with AVX2): decoding gets faster (baichuan-7B Q4_K_M on 2 cores: 4.46 tok/s
against 2.86 without), but a mapped file then stays resident beside its repacked copy. Measured
on that file (``scripts/bench_shapes.py --parts mmap``): mapped, 8.9 GiB resident and 14 s to
load; read, 6.0 GiB and 7.9 s. For a file that is not repacked (Q8_0 there) mapping is the
better choice: the same memory, a 3.4 s load against 20 s.

Which types are repacked depends on the CPU and on llama.cpp's version, so it is not guessed: a
mapped CPU load records the repack buffer size llama.cpp reports for that file, and the next
CPU load of the file reads it instead of mapping it when most of its weights were repacked.
With layers on a GPU, or when the user chose (``--no-mmap``), nothing changes.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from pathlib import Path
from typing import Any

from baichuan_tui import jsonstate, locations

REPACKED_SHARE = 0.5
"""Read a file instead of mapping it when at least this share of its bytes was repacked."""
MAX_ENTRIES = 200

_REPACK_LINE = re.compile(r"CPU_REPACK model buffer size\s*=\s*([\d.]+)\s*MiB")
_seen = threading.local()


def note_log(text: str) -> None:
    """Feed one llama.cpp log line (the engine's log callback; per loading thread)."""
    m = _REPACK_LINE.search(text)
    if m:
        _seen.repacked = int(float(m.group(1)) * 2**20)


def start_load() -> None:
    """Forget what the last load on this thread reported."""
    _seen.repacked = 0


def repacked_bytes() -> int:
    """Bytes llama.cpp repacked in the last load on this thread (0: none)."""
    return int(getattr(_seen, "repacked", 0))


def _key(path: Path) -> str:
    from importlib import metadata

    st = path.stat()
    try:
        version = metadata.version("llama-cpp-python")
    except metadata.PackageNotFoundError:
        version = "?"
    return f"{path.resolve()}:{st.st_size}:{st.st_mtime_ns}:llama-cpp-python {version}"


def use_mmap(path: Path, n_gpu_layers: int, chosen: bool | None) -> bool:
    """Whether to map ``path``: ``chosen`` when set; else read it only on the CPU, when a
    recorded load repacked most of it."""
    if chosen is not None:
        return chosen
    if n_gpu_layers != 0:
        return True
    with contextlib.suppress(OSError):
        entry = jsonstate.read(locations.mapping_file()).get(_key(path))
        if isinstance(entry, dict):
            return not entry.get("repacked", 0) >= REPACKED_SHARE * entry.get("size", 1)
    return True


def record(path: Path, repacked: int) -> None:
    """Remember how many bytes of ``path`` a mapped CPU load repacked (errors ignored)."""

    def put(doc: dict[str, Any]) -> None:
        doc.pop(key, None)
        doc[key] = {"repacked": repacked, "size": path.stat().st_size, "at": time.time()}
        for old in sorted(doc, key=lambda k: doc[k].get("at", 0))[:-MAX_ENTRIES]:
            del doc[old]

    with contextlib.suppress(OSError):
        key = _key(path)
        jsonstate.update(locations.mapping_file(), put)
