"""``baichuan-chat models list | download | verify | rm`` handlers.

Each takes the ``argparse.Namespace`` built by ``cli.py`` and returns the exit code; failures
raise :class:`~baichuan_tui.errors.UserError` (cli.py prints ``error: …`` and exits 1).
Tables go to stdout, ``--json`` prints exactly one JSON document on stdout, progress bars go to
stderr. The attributes read (missing optional ones fall back to the default shown):

- ``cmd_list``:     ``json: bool``, ``n_ctx: int | None = None`` (context for the fit estimate;
  None = each model's context length). It reads the cache only, online or not.
- ``cmd_download``: ``spec: str`` (``NAME[:QUANT]``; ``name`` is accepted too), ``offline: bool``,
  ``json: bool = False``.
- ``cmd_verify``:   ``spec: str | None`` (``NAME[:QUANT]`` or a .gguf path; ``name`` accepted too;
  None = every catalog file in the HF cache), ``offline: bool``, ``json: bool = False``.
- ``cmd_rm``:       ``spec: str`` (``NAME`` = all its quants, or ``NAME:QUANT``; ``name`` accepted
  too), ``json: bool = False``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from baichuan_tui.commands.output import print_json
from baichuan_tui.errors import UsageError, UserError
from baichuan_tui.hub.cache import fmt_bytes, record_of


def _optional_spec(args: argparse.Namespace) -> str | None:
    return getattr(args, "spec", None) or getattr(args, "name", None)


def _spec(args: argparse.Namespace) -> str:
    spec = _optional_spec(args)
    if not spec:
        raise UsageError("a model name is required", "e.g. baichuan2-7b-chat:Q4_K_M")
    return spec


def _console() -> Any:
    from rich.console import Console

    return Console()


# ---------------------------------------------------------------------------- list
def cmd_list(args: argparse.Namespace) -> int:
    from baichuan_tui.library import list_document

    doc = list_document(getattr(args, "n_ctx", None))
    if getattr(args, "json", False):
        print_json(doc)
        return 0
    rows = _list_rows(doc)
    console = _console()
    if console.is_terminal and console.width >= WIDE_COLUMNS:
        console.print(_list_table(rows))
    else:  # piped or narrow: one line per file, nothing folded (a path stays whole)
        _print_lines(rows, console)
    console = _console()
    console.print(
        f"* default: {doc['default']}   download: baichuan-chat models download NAME:QUANT",
        soft_wrap=True,
    )
    for note in doc["notes"]:
        console.print(f"note: {note}", soft_wrap=True)
    return 0


WIDE_COLUMNS = 120
"""``models list`` draws its table on a terminal at least this wide; else one line per file."""

LIST_COLUMNS = ("model", "quant", "state", "size", "fits this machine", "path")


def _list_rows(doc: dict[str, Any]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for m in doc["models"]:
        if not m["quants"]:
            rows.append((m["name"], "—", m["state"], "", "", f"from {m['hf_repo']}"))
        for q in m["quants"]:
            star = " *" if q["default"] else ""
            rows.append(
                (
                    m["name"],
                    q["quant"] + star,
                    q["state"],
                    fmt_bytes(q["size_bytes"]),
                    q["fit"]["label"] if q["fit"] else "",
                    q["path"] or "",
                )
            )
    for m in doc["local"]:
        rows.append(
            (
                m["name"] or "(local)",
                m["outtype"],
                m["kind"],
                fmt_bytes(m["size_bytes"]) if m["size_bytes"] else "",
                f"from {m['source']}",
                m["path"],
            )
        )
    return rows


def _list_table(rows: list[tuple[str, ...]]) -> Any:
    from rich.table import Table

    table = Table(title="Baichuan models", title_justify="left")
    for col in LIST_COLUMNS[:4]:
        table.add_column(col, no_wrap=True)
    table.add_column(LIST_COLUMNS[4], overflow="fold")
    table.add_column(LIST_COLUMNS[5], overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table


def _print_lines(rows: list[tuple[str, ...]], console: Any) -> None:
    """Aligned columns, the last (path or source) unpadded; long lines wrap as the terminal
    or pager wraps them, never a column squeezed to a letter per line."""
    cells = [LIST_COLUMNS, *rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(LIST_COLUMNS) - 1)]
    for row in cells:
        line = "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[-1]
        console.print(line.rstrip(), soft_wrap=True, highlight=False, markup=False)


# ---------------------------------------------------------------------------- download
def cmd_download(args: argparse.Namespace) -> int:
    from baichuan_tui.commands.bars import download_bars
    from baichuan_tui.hub.download import download

    spec = _spec(args)
    with download_bars(spec) as (on_progress, on_verify):
        path = download(
            spec,
            offline=bool(getattr(args, "offline", False)),
            on_progress=on_progress,
            on_verify=on_verify,
        )
    rec = record_of(path) or {}
    head = _head_check(path, "quick")
    doc: dict[str, Any] = {
        "spec": spec,
        "path": str(path),
        "size_bytes": path.stat().st_size,
        "sha256": rec.get("sha256"),
        "verified": True,
        "source": rec.get("source"),
        "normhead": head.to_dict() if head else None,
    }
    if getattr(args, "json", False):
        print_json(doc)
    else:
        print(f"{spec}: {fmt_bytes(doc['size_bytes'])}, sha256 verified → {path}")
    if head and head.needs_fix:
        from baichuan_tui.repair.notice import fix_command

        print(
            f"note: {spec} has an unnormalised Baichuan2 output head (NormHead); run "
            f"'{fix_command(spec)}' to write a repaired copy",
            file=sys.stderr,
        )
    return 0


def _head_check(path: Any, method: str) -> Any:
    """The NormHead check of a model file (None when the file cannot be read as a model)."""
    from baichuan_tui.repair.detect import check_head

    try:
        return check_head(path, method)
    except (UserError, OSError, ValueError):
        return None


def _head_label(check: Any) -> str:
    if check is None or not check.applicable:
        return ""
    return {True: "normalised", False: "NOT normalised", None: "unknown"}[check.normalized]


# ---------------------------------------------------------------------------- verify
def cmd_verify(args: argparse.Namespace) -> int:
    from baichuan_tui.commands.bars import download_bars
    from baichuan_tui.hub.states import cached_specs
    from baichuan_tui.hub.verify import verify

    spec = _optional_spec(args)
    specs = [spec] if spec else cached_specs()
    results = []
    for item in specs:
        with download_bars(item) as (_, on_verify):
            results.append(
                verify(item, offline=bool(getattr(args, "offline", False)), on_progress=on_verify)
            )
    heads = [_head_check(r.path, "exact") if r.ok is not False else None for r in results]
    if getattr(args, "json", False):
        print_json(
            {
                "results": [
                    {**r.to_dict(), "normhead": h.to_dict() if h else None}
                    for r, h in zip(results, heads, strict=True)
                ],
                "ok": all(r.ok is not False for r in results),
            }
        )
    elif not results:
        print("no catalog model in the Hugging Face cache; nothing to verify")
    else:
        from rich.table import Table

        table = Table(title="verify", title_justify="left")
        for col in ("model", "result", "size", "sha256", "detail", "output head", "path"):
            table.add_column(col, overflow="fold")
        for r, h in zip(results, heads, strict=True):
            result = {True: "ok", False: "MISMATCH", None: "unknown"}[r.ok]
            table.add_row(
                r.name or "",
                result,
                fmt_bytes(r.size_bytes),
                (r.sha256 or "")[:16],
                r.message,
                _head_label(h),
                str(r.path),
            )
        _console().print(table)
    from baichuan_tui.repair.notice import warning_text

    for r, h in zip(results, heads, strict=True):
        if h and h.needs_fix:
            print(f"warning: {warning_text(r.path)}", file=sys.stderr)
    bad = [r for r in results if r.ok is False]
    if bad:
        names = ", ".join(r.name or str(r.path) for r in bad)
        raise UserError(
            f"{names} failed verification ({bad[0].message})",
            "remove it ('baichuan-chat models rm NAME') and download it again",
        )
    return 0


# ---------------------------------------------------------------------------- rm
def cmd_rm(args: argparse.Namespace) -> int:
    from baichuan_tui.hub.remove import remove

    removed = remove(_spec(args))
    if getattr(args, "json", False):
        print_json({"removed": [str(p) for p in removed]})
    else:
        for p in removed:
            print(f"removed {p}")
    return 0
