"""``baichuan-chat models fix FILE|NAME [--out FILE] [--force] [--json]``: NormHead repair.

Writes a copy of a Baichuan2 GGUF whose output head rows are L2-normalised (see
:mod:`baichuan_tui.repair.fix`); a progress bar goes to stderr, the result to stdout.
Attributes read: ``spec``, ``out``, ``force``, ``json``, ``offline`` (optional ones default).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from baichuan_tui.commands.output import print_json


def add_fix_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", metavar="FILE|NAME", help="a .gguf path or a downloaded catalog name")
    p.add_argument(
        "--out",
        "-o",
        metavar="FILE.gguf",
        help="output file (default: FILE.normhead.gguf next to FILE, or in the "
        "data folder's models/ for read-only folders and the HF cache)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="write the copy even when the head is already normalised or the model "
        "is not Baichuan2",
    )
    p.add_argument("--json", action="store_true", help="print one JSON document")


def _source(spec: str, offline: bool) -> Path:
    """The file to repair: a path as is, a catalog name as downloaded (never its repair)."""
    from baichuan_tui.library import resolve_model

    return resolve_model(spec, offline=offline, prefer_repaired=False)


def run(args: argparse.Namespace) -> int:
    from baichuan_tui.engine.gguf_tables import human_size
    from baichuan_tui.repair.fix import repair_file

    src = _source(args.spec, bool(getattr(args, "offline", False)))
    from baichuan_tui.commands.bars import stage_bars

    with stage_bars() as progress:
        res = repair_file(
            src, getattr(args, "out", None), progress, force=bool(getattr(args, "force", False))
        )
    if getattr(args, "json", False):
        print_json(res.to_dict())
        return 0
    before = res.before
    was = (
        f"median row norm {before.norm_median:.3g}"
        if before.norm_median is not None
        else before.reason
    )
    print(
        f"wrote {res.path} ({human_size(res.size)}): output head L2-normalised, "
        f"{res.after.rows} rows as {res.head_type} (was: {was})"
    )
    if res.note:
        print(f"note: {res.note}")
    from baichuan_tui.hub.cache import locate_in_cache

    also = "; catalog names that resolve to it now use the repaired copy"
    print(f"{src} is unchanged{also if locate_in_cache(src) else ''}")
    print(f'try it: baichuan-chat ask --model {res.path} "你好"')
    return 0
