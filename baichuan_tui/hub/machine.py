"""What this machine has: GPUs and their free VRAM, RAM, cores, the llama-cpp-python build.

GPUs come from NVML (pynvml) when it is installed, else from ``nvidia-smi``; none is normal.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from baichuan_tui.engine.threads import logical_cores, physical_cores

MiB = 1 << 20


@dataclass(frozen=True)
class GPU:
    index: int
    name: str
    total_bytes: int
    free_bytes: int


@dataclass(frozen=True)
class Machine:
    llama_cpp_version: str | None
    gpu_offload: bool
    gpus: list[GPU] = field(default_factory=list)
    ram_total_bytes: int = 0
    ram_available_bytes: int = 0
    physical_cores: int = 1
    logical_cores: int = 1

    @property
    def free_vram(self) -> int:
        """Free VRAM of the roomiest GPU, 0 when this llama.cpp build cannot offload."""
        if not self.gpu_offload or not self.gpus:
            return 0
        return max(g.free_bytes for g in self.gpus)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def llama_cpp_version() -> str | None:
    try:
        import llama_cpp
    except Exception:
        return None
    return getattr(llama_cpp, "__version__", None)


def gpu_offload_supported() -> bool:
    """``llama_supports_gpu_offload()`` of the installed llama-cpp-python (False when absent)."""
    try:
        import llama_cpp

        return bool(llama_cpp.llama_supports_gpu_offload())
    except Exception:
        return False


def _gpus_nvml() -> list[GPU] | None:
    try:
        import pynvml
    except Exception:
        return None
    try:
        pynvml.nvmlInit()
        try:
            gpus = []
            for i in range(pynvml.nvmlDeviceGetCount()):
                handle = pynvml.nvmlDeviceGetHandleByIndex(i)
                mem = pynvml.nvmlDeviceGetMemoryInfo(handle)
                name = pynvml.nvmlDeviceGetName(handle)
                name = name.decode() if isinstance(name, bytes) else str(name)
                gpus.append(GPU(i, name, int(mem.total), int(mem.free)))
            return gpus
        finally:
            pynvml.nvmlShutdown()
    except Exception:
        return None


def parse_nvidia_smi(text: str) -> list[GPU]:
    """Parse ``--query-gpu=name,memory.total,memory.free --format=csv,noheader,nounits``."""
    gpus: list[GPU] = []
    for line in text.strip().splitlines():
        parts = [p.strip() for p in line.rsplit(",", 2)]
        if len(parts) != 3:
            continue
        with contextlib.suppress(ValueError):
            gpus.append(
                GPU(len(gpus), parts[0], int(float(parts[1])) * MiB, int(float(parts[2])) * MiB)
            )
    return gpus


def _gpus_smi() -> list[GPU]:
    exe = shutil.which("nvidia-smi")
    if not exe:
        return []
    query = "--query-gpu=name,memory.total,memory.free"
    try:
        out = subprocess.run(
            [exe, query, "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    return parse_nvidia_smi(out.stdout)


def gpus() -> list[GPU]:
    """NVIDIA GPUs and their free VRAM (NVML, else nvidia-smi; none is normal)."""
    found = _gpus_nvml()
    return found if found is not None else _gpus_smi()


def ram() -> tuple[int, int]:
    """(total, available) RAM in bytes, from /proc/meminfo (os.sysconf fallback)."""
    with contextlib.suppress(OSError, ValueError):
        text = Path("/proc/meminfo").read_text()
        info: dict[str, str] = dict(re.findall(r"^(\w+):\s+(\d+)", text, re.M))
        total = int(info["MemTotal"]) * 1024
        return total, int(info.get("MemAvailable", info.get("MemFree", "0"))) * 1024
    try:
        page = os.sysconf("SC_PAGE_SIZE")
        return page * os.sysconf("SC_PHYS_PAGES"), page * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0, 0


def machine_facts() -> Machine:
    total, available = ram()
    return Machine(
        llama_cpp_version=llama_cpp_version(),
        gpu_offload=gpu_offload_supported(),
        gpus=gpus(),
        ram_total_bytes=total,
        ram_available_bytes=available,
        physical_cores=physical_cores(),
        logical_cores=logical_cores(),
    )
