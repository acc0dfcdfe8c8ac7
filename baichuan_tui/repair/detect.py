"""NormHead detection: are the rows of a Baichuan2 GGUF's ``output.weight`` L2-normalised?

Baichuan2 divides each row of ``lm_head`` by its L2 norm at inference, so a correct GGUF stores
rows of norm 1. The rows are read straight from the file (mmap) and dequantized with
``gguf.quants``, whatever their type.

Rule: the head is normalised when at least 99 % of its non-zero rows (norm >= 1e-6; an all-zero
row is the same normalised or not) satisfy ``|norm - 1| <= tol(type)``. ``tol`` is about twice
the worst row-norm error that storing unit rows in the type causes (ggml's quantizer on Gaussian
and Student-t rows of 64-4096 values), and never under 1 %: see :data:`TOLERANCE`; other types
get ``2 ** -(bits_per_weight - 1.5)``, at most 0.5.

``quick`` checks 16 runs of 32 consecutive rows spread over the vocabulary (512 rows, a few
milliseconds even for a 125,696 x 5120 head); ``exact`` checks every row. Verdicts are cached
(:mod:`baichuan_tui.repair.verdicts`).
"""

from __future__ import annotations

import math
import os
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from baichuan_tui.engine.baichuan2 import NormHeadDecision, decide, gguf_signals
from baichuan_tui.engine.gguf_check import GGUFInfo, TensorInfo, inspect_gguf
from baichuan_tui.repair import verdicts
from baichuan_tui.repair.check import HeadCheck

if TYPE_CHECKING:
    import numpy as np

HEAD = "output.weight"
QUICK_RUNS, QUICK_RUN_ROWS = 16, 32
MIN_FRACTION = 0.99
ZERO_NORM = 1e-6
MAX_TOLERANCE = 0.5
CHUNK_BYTES = 8 * 2**20
"""Float32 bytes of rows dequantized at once (per thread)."""
TOLERANCE = {
    "F32": 0.01,
    "F16": 0.01,
    "BF16": 0.01,
    "Q8_0": 0.01,
    "Q6_K": 0.015,
    "Q5_K": 0.02,
    "Q4_K": 0.03,
    "Q5_1": 0.04,
    "Q5_0": 0.05,
    "IQ4_XS": 0.06,
    "Q4_1": 0.08,
    "IQ4_NL": 0.08,
    "Q3_K": 0.10,
    "Q4_0": 0.12,
    "IQ3_S": 0.30,
    "Q2_K": 0.40,
}

T = TypeVar("T")
R = TypeVar("R")


def tolerance(type_name: str) -> float:
    """Allowed ``|norm - 1|`` for a head stored as ``type_name``."""
    if type_name in TOLERANCE:
        return TOLERANCE[type_name]
    import gguf

    block, size = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType[type_name]]
    bits_per_weight: float = 8.0 * size / block
    return min(MAX_TOLERANCE, max(0.01, math.pow(2.0, 1.5 - bits_per_weight)))


def head_tensor(info: GGUFInfo) -> TensorInfo | None:
    return next((t for t in info.tensors if t.name == HEAD and len(t.shape) == 2), None)


def norm_head_decision(info: GGUFInfo) -> NormHeadDecision:
    """Is the file Baichuan2 (NormHead)? The rule ``convert`` uses too, on the GGUF's signals."""
    return decide(gguf_signals(info.vocab_size, info.metadata, info.path, info.name))


def not_applicable_reason(info: GGUFInfo) -> str | None:
    """None when NormHead applies to the file, else why it does not."""
    words = re.sub(r"[\s_\-]", "", f"{info.name or ''} {info.path.name}".lower())
    if info.architecture != "baichuan" and "baichuan" not in words:
        return "not a Baichuan model"
    decision = norm_head_decision(info)
    if not decision.applies:
        return f"a Baichuan-1 model ({decision.reason.removeprefix('Baichuan-1: ')})"
    if head_tensor(info) is None:
        return "vocabulary only (no output.weight)"
    return None


class HeadRows:
    """``output.weight`` of a GGUF as float32 rows, read lazily through mmap."""

    def __init__(self, path: Path, t: TensorInfo) -> None:
        import gguf
        import numpy as np

        self.qtype = gguf.GGMLQuantizationType(t.ggml_type)
        self.n_per_row, self.n_rows = t.shape[0], t.shape[1]
        block, size = gguf.GGML_QUANT_SIZES[self.qtype]
        self.raw = np.memmap(
            path,
            np.uint8,
            "r",
            offset=t.offset,
            shape=(self.n_rows, self.n_per_row // block * size),
        )

    def rows(self, a: int, b: int) -> np.ndarray:
        import gguf
        import numpy as np

        data = gguf.quants.dequantize(np.asarray(self.raw[a:b]), self.qtype)
        return data.reshape(b - a, self.n_per_row)

    def ranges(self, chunk_bytes: int = CHUNK_BYTES) -> list[tuple[int, int]]:
        step = max(1, chunk_bytes // (4 * self.n_per_row))
        return [(a, min(self.n_rows, a + step)) for a in range(0, self.n_rows, step)]

    def sample_ranges(self) -> list[tuple[int, int]]:
        if self.n_rows <= QUICK_RUNS * QUICK_RUN_ROWS:
            return [(0, self.n_rows)]
        last = self.n_rows - QUICK_RUN_ROWS
        starts = sorted({round(i * last / (QUICK_RUNS - 1)) for i in range(QUICK_RUNS)})
        return [(s, s + QUICK_RUN_ROWS) for s in starts]


def imap(fn: Callable[[T], R], items: Iterable[T], threads: int) -> Iterator[R]:
    """``map(fn, items)`` on ``threads`` threads (numpy and ggml release the GIL), in order,
    with at most ``2 * threads`` items in flight."""
    if threads <= 1:
        yield from map(fn, items)
        return
    pool = ThreadPoolExecutor(threads, thread_name_prefix="normhead")
    pending: deque[Future[R]] = deque()
    try:
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= 2 * threads:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def default_threads() -> int:
    from baichuan_tui.engine.threads import physical_cores

    return max(1, min(8, physical_cores() or os.cpu_count() or 1))


def verdict(norms: np.ndarray, *, method: str, type_name: str, rows: int) -> HeadCheck:
    """The :class:`HeadCheck` for these row norms of an applicable head."""
    import numpy as np

    tol = tolerance(type_name)
    live = norms[norms >= ZERO_NORM]
    base = HeadCheck(
        applicable=True,
        normalized=None,
        checked_rows=int(norms.size),
        method=method,
        head_type=type_name,
        rows=rows,
        tolerance=tol,
    )
    if not live.size:
        return replace(base, reason="every checked row is zero")
    within = float(np.mean(np.abs(live - 1.0) <= tol))
    ok = within >= MIN_FRACTION
    median = float(np.median(live))
    reason = (
        f"rows have unit L2 norm (within {tol:g})"
        if ok
        else f"{1 - within:.0%} of the rows are not of unit norm (median {median:.3g})"
    )
    return replace(
        base,
        normalized=ok,
        reason=reason,
        within=round(within, 6),
        norm_min=round(float(live.min()), 6),
        norm_median=round(median, 6),
        norm_max=round(float(live.max()), 6),
    )


def check_head(
    path: str | os.PathLike[str],
    method: str = "quick",
    *,
    info: GGUFInfo | None = None,
    cache: bool = True,
    threads: int | None = None,
) -> HeadCheck:
    """Check ``path``'s output head (``quick`` or ``exact``); a cached verdict is reused (an
    exact one answers a quick question too). Raises ``BadModelFile`` for a broken file."""
    if method not in ("quick", "exact"):
        raise ValueError(f"method must be quick or exact, not {method!r}")
    path = Path(path)
    info = info or inspect_gguf(path, check_vocab=False)
    reason = not_applicable_reason(info)
    if reason:
        return HeadCheck(False, None, 0, method, reason)
    if cache and (hit := verdicts.lookup(path, method)):
        return hit
    t = head_tensor(info)
    assert t is not None
    try:
        head = HeadRows(path, t)
        ranges = head.sample_ranges() if method == "quick" else head.ranges()
        import numpy as np

        from baichuan_tui.convert.heads import row_norms

        def norms_of(r: tuple[int, int]) -> np.ndarray:
            return row_norms(head.rows(*r))

        n = threads or (1 if method == "quick" else default_threads())
        norms = np.concatenate(list(imap(norms_of, ranges, n)))
    except (NotImplementedError, KeyError, ValueError) as exc:
        return HeadCheck(
            True,
            None,
            0,
            method,
            f"cannot read a {t.type_name} head ({exc})",
            t.type_name,
            t.shape[1],
        )
    result = verdict(norms, method=method, type_name=t.type_name, rows=head.n_rows)
    if cache:
        verdicts.store(path, result)
    return result
