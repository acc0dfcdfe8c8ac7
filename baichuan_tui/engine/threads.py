"""Physical CPU cores: llama.cpp runs fastest with one thread per physical core."""

from __future__ import annotations

import os
from functools import cache


@cache
def physical_cores() -> int:
    """Count unique (physical id, core id) pairs in /proc/cpuinfo; fall back to os.cpu_count()."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            text = fh.read()
    except OSError:
        return max(1, os.cpu_count() or 1)
    cores = set()
    phys = core = None
    for line in text.splitlines() + [""]:
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "physical id":
            phys = value.strip()
        elif key == "core id":
            core = value.strip()
        elif not line.strip():
            if core is not None:
                cores.add((phys, core))
            phys = core = None
    logical = os.cpu_count() or 1
    return max(1, min(len(cores), logical)) if cores else max(1, logical)
