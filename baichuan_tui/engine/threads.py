"""CPU cores: llama.cpp runs fastest with one thread per physical core."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path


def logical_cores() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def physical_cores(cpuinfo: str | None = None) -> int:
    """Unique (physical id, core id) pairs in /proc/cpuinfo, capped by the CPUs we may use."""
    if cpuinfo is None:
        return _physical_cores_here()
    cores, phys = set(), "0"
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "physical id":
            phys = value.strip()
        elif key == "core id":
            cores.add((phys, value.strip()))
    usable = logical_cores()
    return min(len(cores), usable) if cores else (os.cpu_count() or usable)


@cache
def _physical_cores_here() -> int:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        text = ""
    return physical_cores(text)
