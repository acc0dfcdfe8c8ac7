"""Quantize a GGUF with llama.cpp's own ``llama_model_quantize`` (through llama-cpp-python).

It runs in a child Python process: a llama.cpp abort cannot take the caller down, Ctrl-C stops
it at once, and its per-tensor log lines (``[  3/ 291] blk.0.attn_q.weight ...``) drive the
progress. The output is written to a temp file next to the target and renamed when complete.

``python -m baichuan_tui.convert.quantize SRC DST FTYPE NTHREAD`` is the child's entry point.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
from collections import deque
from collections.abc import Callable
from pathlib import Path

from baichuan_tui.convert.ftypes import FTYPES
from baichuan_tui.convert.outfile import atomic_output
from baichuan_tui.errors import UserError

# outtype -> (llama_ftype, bits per weight of the matrices, roughly: for disk estimates)
_TENSOR_LINE = re.compile(r"\[\s*(\d+)\s*/\s*(\d+)\]")

Progress = Callable[[int, int], None]
"""``progress(done_tensors, total_tensors)``."""


def quantize(
    src: Path,
    dst: Path,
    outtype: str,
    *,
    threads: int = 0,
    progress: Progress | None = None,
    check: Callable[[Path], None] | None = None,
) -> None:
    """Quantize GGUF ``src`` into ``dst`` (``outtype`` a key of :data:`FTYPES`), atomically;
    ``check(tmp)`` may reject the result before it is renamed onto ``dst``."""
    if outtype not in FTYPES:
        raise UserError(f"unknown output type '{outtype}'", f"choose one of {', '.join(FTYPES)}")
    tail: deque[str] = deque(maxlen=20)
    with atomic_output(dst) as tmp:
        cmd = [
            sys.executable,
            "-m",
            "baichuan_tui.convert.quantize",
            str(src),
            str(tmp),
            str(FTYPES[outtype][0]),
            str(threads),
        ]
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
        )
        try:
            assert proc.stderr is not None
            for line in proc.stderr:
                tail.append(line.rstrip())
                m = _TENSOR_LINE.search(line)
                if m and progress:
                    progress(int(m.group(1)), int(m.group(2)))
            rc = proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        if rc != 0:
            raise UserError(
                f"llama.cpp could not quantize {src.name} to {outtype.upper()} "
                f"({_reason(tail, rc)})"
            )
        if check:
            check(tmp)


def _reason(tail: deque[str], rc: int) -> str:
    lines = [s.strip() for s in tail if s.strip() and not _TENSOR_LINE.search(s)]
    for s in reversed(lines):
        if "failed to quantize:" in s:
            return s.split("failed to quantize:", 1)[1].strip()
    for s in reversed(lines):
        if any(w in s.lower() for w in ("error", "failed", "exception")):
            return s
    return lines[-1] if lines else f"exit status {rc}"


def _child(src: str, dst: str, ftype: int, threads: int) -> int:
    import llama_cpp

    llama_cpp.llama_backend_init()
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = threads
    return 1 if llama_cpp.llama_model_quantize(src.encode(), dst.encode(), params) else 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        a = sys.argv[1:]
        raise SystemExit(_child(a[0], a[1], int(a[2]), int(a[3])))
    raise SystemExit(130)
