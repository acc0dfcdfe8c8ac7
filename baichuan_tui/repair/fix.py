"""Repair a Baichuan2 GGUF whose output head was never normalised (``models fix``).

The new file has every key/value and every tensor of the source unchanged except
``output.weight``, whose rows are dequantized, L2-normalised (as Baichuan2's NormHead does) and
re-encoded in the head's own type with ggml's quantizer (or, for types ggml cannot write
without an importance matrix, the nearest writable type at or above its bits per weight). It
streams a few MB of rows per thread, appears only when complete and checked, and is recorded
in the converted-files registry (``kind="repaired"``) so catalog names resolve to it.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from baichuan_tui.errors import UserError
from baichuan_tui.repair import verdicts
from baichuan_tui.repair.check import HeadCheck
from baichuan_tui.repair.detect import (
    HEAD,
    HeadRows,
    check_head,
    default_threads,
    head_tensor,
    imap,
    verdict,
)

if TYPE_CHECKING:
    import numpy as np

    from baichuan_tui.convert.writer import TensorPlan
    from baichuan_tui.engine.gguf_check import TensorInfo

SUFFIX = ".normhead.gguf"
WRITABLE = frozenset(
    {
        "F32",
        "F16",
        "BF16",
        "Q4_0",
        "Q4_1",
        "Q5_0",
        "Q5_1",
        "Q8_0",
        "Q2_K",
        "Q3_K",
        "Q4_K",
        "Q5_K",
        "Q6_K",
        "IQ4_NL",
        "IQ4_XS",
        "IQ3_S",
        "IQ3_XXS",
        "IQ2_S",
        "IQ1_M",
        "TQ1_0",
        "TQ2_0",
        "MXFP4",
    }
)
"""Types ggml's quantizer writes without an importance matrix and ``gguf`` reads back."""
FALLBACKS = ("Q2_K", "Q3_K", "Q4_K", "Q4_0", "Q5_K", "Q5_0", "Q6_K", "Q8_0", "F16")
"""Writable head types by bits per weight (K-quants first on ties), for the others."""

COPY_BYTES = 16 * 2**20
Stage = Callable[[str, int, int], None]
"""``progress(stage, done, total)`` in bytes; stages ``write`` and ``sha256``."""


@dataclass(frozen=True)
class Repaired:
    path: Path
    source: Path
    head_type: str
    source_head_type: str
    note: str | None
    """Set when the head could not keep its type."""
    size: int
    sha256: str
    before: HeadCheck
    after: HeadCheck
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc.update(
            path=str(self.path),
            source=str(self.source),
            before=self.before.to_dict(),
            after=self.after.to_dict(),
        )
        return doc


def _writable(name: str, n_per_row: int) -> bool:
    import gguf

    block, _ = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType[name]]
    return name in WRITABLE and n_per_row % block == 0


def head_type_for(type_name: str, n_per_row: int) -> tuple[str, str | None]:
    """The type to write the repaired head in, and a note when it is not ``type_name``."""
    import gguf

    if _writable(type_name, n_per_row):
        return type_name, None

    def bpw(name: str) -> float:
        block, size = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType[name]]
        return 8.0 * size / block

    want = bpw(type_name)
    new = next((t for t in FALLBACKS if bpw(t) >= want and _writable(t, n_per_row)), "F16")
    return new, (
        f"ggml cannot write {type_name} here (it needs an importance matrix or is "
        f"not supported); the repaired head is {new}, the nearest type it can write"
    )


def default_output(src: Path) -> Path:
    """``<stem>.normhead.gguf`` next to ``src``, or in the models folder when that folder is
    not writable or is the Hugging Face cache."""
    from baichuan_tui import locations
    from baichuan_tui.hub.cache import locate_in_cache

    name = src.name.removesuffix(".gguf") + SUFFIX
    folder = src.absolute().parent
    if locate_in_cache(src) or not os.access(folder, os.W_OK):
        folder = locations.models_dir()
    return folder / name


def _head_plan(head: HeadRows, type_name: str, norms: list[np.ndarray], threads: int) -> TensorPlan:
    import gguf

    from baichuan_tui.convert.heads import normalize_rows, row_norms
    from baichuan_tui.convert.writer import TensorPlan, encode

    qtype = gguf.GGMLQuantizationType[type_name]

    def one(r: tuple[int, int]) -> tuple[Any, Any]:
        data = encode(normalize_rows(head.rows(*r)), qtype)
        back = gguf.quants.dequantize(data, qtype).reshape(r[1] - r[0], head.n_per_row)
        return data, row_norms(back)

    def chunks() -> Any:
        for data, n in imap(one, head.ranges(), threads):
            norms.append(n)
            yield data

    return TensorPlan(HEAD, (head.n_rows, head.n_per_row), qtype, chunks)


def _copy_around(
    src: Path,
    dst: Path,
    t: TensorInfo,
    head: TensorPlan,
    progress: Callable[[int, int], None] | None,
) -> None:
    """``src`` byte for byte into ``dst``, with the head's data taken from ``head``."""
    import numpy as np

    total, done = src.stat().st_size, 0
    with src.open("rb") as fin, dst.open("wb") as fout:

        def put(data: Any) -> None:
            nonlocal done
            fout.write(data)
            done += len(data)
            if progress:
                progress(done, total)

        def copy(n: int) -> None:
            while n > 0:
                buf = fin.read(min(n, COPY_BYTES))
                if not buf:
                    raise UserError(f"{src} changed while it was being repaired")
                put(buf)
                n -= len(buf)

        copy(t.offset)
        for chunk in head.chunks():
            put(np.ascontiguousarray(chunk).data.cast("B"))
        if done != t.offset + t.nbytes:  # pragma: no cover - same type, same shape
            raise RuntimeError(f"{HEAD}: wrote {done - t.offset} bytes, expected {t.nbytes}")
        fin.seek(t.offset + t.nbytes)
        copy(total - t.offset - t.nbytes)
        fout.flush()


def _rewrite(
    src: Path, dst: Path, head: TensorPlan, progress: Callable[[int, int], None] | None
) -> None:
    """A new GGUF with the same keys and tensors, ``head`` planned anew (its type changes)."""
    import gguf

    from baichuan_tui.convert.writer import copied_tensor, copy_metadata, write_gguf

    reader = gguf.GGUFReader(src, "r")
    arch = str(reader.fields["general.architecture"].contents())
    plans = [head if t.name == HEAD else copied_tensor(t) for t in reader.tensors]
    write_gguf(dst, arch, copy_metadata(reader), plans, progress)


def _refuse(src: Path, before: HeadCheck, force: bool) -> None:
    if not before.applicable and not force:
        raise UserError(
            f"{src} is {before.reason}; NormHead does not apply to it",
            "nothing to repair (--force normalises its head anyway)",
        )
    if before.applicable and before.normalized is None:
        raise UserError(f"cannot repair {src}: {before.reason}")
    if before.normalized and not force:
        raise UserError(
            f"{src} already has a normalised output head",
            "nothing to repair (--force rewrites it anyway)",
        )


def _target(src: Path, out: str | os.PathLike[str] | None) -> Path:
    """Where the copy goes; the models folder (the default for read-only folders) is created,
    a folder named by ``--out`` must exist. A previous copy at the target is replaced."""
    from baichuan_tui.convert.outfile import check_target

    target = Path(out).expanduser() if out else default_output(src)
    if target.is_dir():
        target = target / default_output(src).name
    if target.absolute() == src.absolute() or (target.exists() and target.samefile(src)):
        raise UserError(
            f"{target} is the file being repaired",
            "write the repaired copy elsewhere (--out); the original is kept",
        )
    if not out:
        target.parent.mkdir(parents=True, exist_ok=True)
    check_target(target, force=True, what="the repaired copy")
    return target


def repair_file(
    src: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    progress: Stage | None = None,
    *,
    force: bool = False,
    threads: int | None = None,
    head_type: str | None = None,
) -> Repaired:
    """Write the repaired copy of ``src`` (see the module docstring) and describe it.

    ``force`` repairs files that do not need it; ``head_type`` overrides the head's type.
    """
    import numpy as np

    from baichuan_tui.convert.outfile import atomic_output, check_free_space
    from baichuan_tui.convert.registry import record_converted
    from baichuan_tui.engine.gguf_check import inspect_gguf
    from baichuan_tui.hub.cache import sha256_file

    t0 = time.perf_counter()
    src = Path(src).expanduser()
    info = inspect_gguf(src, allow_vocab_only=False)
    t = head_tensor(info)
    before = check_head(src, info=info)
    _refuse(src, before, force)
    if t is None:
        raise UserError(f"{src} has no output.weight to normalise")
    target = _target(src, out)
    check_free_space(target.absolute().parent, info.file_size, target.name)

    head = HeadRows(src, t)
    type_name, note = head_type_for(head_type or t.type_name, head.n_per_row)
    norms: list[np.ndarray] = []
    plan = _head_plan(head, type_name, norms, threads or default_threads())
    write = (lambda d, n: progress("write", d, n)) if progress else None
    with atomic_output(target, mode=stat.S_IMODE(src.stat().st_mode)) as tmp:
        if type_name == t.type_name:
            _copy_around(src, tmp, t, plan, write)
        else:
            _rewrite(src, tmp, plan, write)
        after = verdict(
            np.concatenate(norms), method="exact", type_name=type_name, rows=head.n_rows
        )
        if after.normalized is False:  # pragma: no cover - normalize_rows makes unit rows
            raise UserError(f"repairing {src} failed: {after.reason}")
        inspect_gguf(tmp, allow_vocab_only=False)
        sha = sha256_file(tmp, (lambda d, n: progress("sha256", d, n or 0)) if progress else None)
    outtype = (info.file_type or type_name).replace(" (guessed)", "")
    record_converted(
        target,
        source=str(src.absolute()),
        outtype=outtype,
        sha256=sha,
        name=info.name,
        kind="repaired",
    )
    verdicts.store(target, after)
    return Repaired(
        target,
        src,
        type_name,
        t.type_name,
        note,
        target.stat().st_size,
        sha,
        before,
        after,
        round(time.perf_counter() - t0, 3),
    )
