"""File formats of the benchmarks: Hub parquet shards, the released CSVs (zipped or not),
AGIEval JSON lines, GAOKAO-Bench JSON.

Every reader returns plain row dicts in file order and raises :class:`UserError` with the file's
path for anything it cannot read (a malformed parquet file, a missing column, bad JSON).
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from baichuan_tui.errors import UserError, first_line

_FIX = "download the dataset again or fix the file"


def _check_columns(where: str, found: Iterable[str], needed: Sequence[str]) -> None:
    found = list(found)
    missing = [c for c in needed if c not in found]
    if missing:
        raise UserError(
            f"{where} has no column {', '.join(missing)} (columns: {', '.join(found) or 'none'})",
            _FIX,
        )


def read_parquet(
    paths: Sequence[Path], columns: Sequence[str], optional: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """Rows of the shards ``paths`` (in order): ``columns`` must exist, ``optional`` may."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows: list[dict[str, Any]] = []
    for path in paths:
        try:
            table = pq.read_table(path)
        except (OSError, pa.ArrowException) as exc:
            raise UserError(
                f"{path} is not a readable parquet file ({first_line(exc)})", _FIX
            ) from None
        _check_columns(str(path), table.column_names, columns)
        keep = list(columns) + [c for c in optional if c in table.column_names]
        rows.extend(table.select(keep).to_pylist())
    return rows


def split_files(folder: Path, split: str) -> list[Path]:
    """The parquet shards of ``split`` in a config folder, in any of the Hub's layouts.

    ``{split}-00000-of-00001.parquet`` (the Hub), ``{split}/0000.parquet`` and
    ``*-{split}.parquet`` (the parquet-converter branch).
    """
    for pattern in (f"{split}-*.parquet", f"{split}/*.parquet", f"*-{split}.parquet"):
        found = sorted(folder.glob(pattern))
        if found:
            return found
    return []


# ----------------------------------------------------------------- released CSV layouts
_CSV_MEMBER = re.compile(r"(?:^|/)(dev|val|test)/([^/]+)\.csv$")


def _read_csv_text(
    where: str, text: str, columns: Sequence[str], optional: Sequence[str], header: bool
) -> list[dict[str, Any]]:
    try:
        reader = csv.DictReader(io.StringIO(text), fieldnames=None if header else columns)
        rows = list(reader)
    except csv.Error as exc:
        raise UserError(f"{where} is not a readable CSV file ({exc})", _FIX) from None
    found = list(reader.fieldnames or [])
    _check_columns(where, found, columns)
    keep = list(columns) + [c for c in optional if c in found]
    return [{k: r[k] for k in keep} for r in rows]


class CsvFiles:
    """``{split}/{subject}.csv`` or ``{split}/{subject}_{split}.csv`` files at any depth under
    ``root``, unpacked or inside zips (``root`` may be a zip itself): the released layouts of
    CMMLU (``test/agronomy.csv``), C-Eval (``val/computer_network_val.csv``) and MMLU
    (``data/test/anatomy_test.csv``). Splits are ``dev``, ``val`` and ``test``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.members: dict[tuple[str, str], tuple[Path, str | None]] = {}
        zips = [root] if root.is_file() else sorted(root.rglob("*.zip"), reverse=True)
        if root.is_dir():
            for csv_path in sorted(root.rglob("*.csv")):
                self._add(csv_path.relative_to(root).as_posix(), csv_path, None)
        for zip_path in zips:  # cmmlu_v1_0_1.zip before cmmlu.zip
            try:
                with zipfile.ZipFile(zip_path) as zf:
                    names = zf.namelist()
            except (OSError, zipfile.BadZipFile) as exc:
                raise UserError(f"{zip_path} is not a readable zip file ({exc})", _FIX) from None
            for name in names:
                self._add(name, zip_path, name)

    def _add(self, name: str, path: Path, member: str | None) -> None:
        m = _CSV_MEMBER.search(name)
        if m:
            split, subject = m[1], m[2].removesuffix(f"_{m[1]}")
            self.members.setdefault((split, subject), (path, member))

    def subjects(self, split: str) -> list[str]:
        return sorted(s for sp, s in self.members if sp == split)

    def has(self, split: str, subject: str) -> bool:
        return (split, subject) in self.members

    def rows(
        self,
        split: str,
        subject: str,
        columns: Sequence[str],
        optional: Sequence[str] = (),
        *,
        header: bool = True,
    ) -> list[dict[str, Any]]:
        """Rows of one file; ``header=False`` names the columns ``columns`` (MMLU's CSVs)."""
        path, member = self.members[(split, subject)]
        where = f"{path}:{member}" if member else str(path)
        try:
            if member is None:
                data = path.read_bytes()
            else:
                with zipfile.ZipFile(path) as zf:
                    data = zf.read(member)
            text = data.decode("utf-8-sig")
        except (OSError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
            raise UserError(f"{where} cannot be read ({exc})", _FIX) from None
        return _read_csv_text(where, text, columns, optional, header)


# ------------------------------------------------------------------------- AGIEval JSONL
def agieval_jsonl_files(root: Path) -> dict[str, Path]:
    """AGIEval's release: ``data/v1_1/{task}.jsonl`` (preferred) or ``data/v1/{task}.jsonl``."""
    found: dict[str, Path] = {}
    paths = sorted(root.rglob("*.jsonl"), key=lambda p: ("v1_1" not in p.as_posix(), p))
    for path in paths:
        found.setdefault(path.stem, path)
    return found


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """One JSON object per line (blank lines skipped)."""
    try:
        rows = [
            json.loads(line) for line in path.read_text("utf-8-sig").splitlines() if line.strip()
        ]
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UserError(
            f"{path} is not a readable JSON lines file ({first_line(exc)})", _FIX
        ) from None
    if not all(isinstance(r, dict) for r in rows):
        raise UserError(f"{path} does not hold one JSON object per line", _FIX)
    return rows


# ------------------------------------------------------------------------ GAOKAO-Bench JSON
def gaokao_files(root: Path) -> dict[str, Path]:
    """Objective-question files under ``root`` (a GAOKAO-Bench checkout or a Hub mirror)."""
    found: dict[str, Path] = {}
    for path in sorted(root.rglob("*.json*")):
        if path.suffix not in (".json", ".jsonl") or "gemini" in path.name.lower():
            continue
        if "Subjective" in path.as_posix() or not re.match(r"\d{4}-\d{4}_", path.name):
            continue
        found.setdefault(path.stem, path)
    return found


def read_gaokao(path: Path) -> list[dict[str, Any]]:
    """The question dicts of one file: ``{"example": [...]}``, a JSON list, or JSON lines."""
    items: object
    try:
        text = path.read_text("utf-8-sig")
        if path.suffix == ".jsonl":
            items = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            doc = json.loads(text)
            items = doc.get("example") if isinstance(doc, dict) else doc
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UserError(f"{path} is not a readable JSON file ({first_line(exc)})", _FIX) from None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise UserError(f"{path} does not hold a list of questions", _FIX)
    return items
