"""The verdict on one file's output head (:class:`HeadCheck`), shared by detection, the
verdict cache and the repair."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class HeadCheck:
    """The verdict on one file's output head."""

    applicable: bool
    """The file is a Baichuan2 model with an output head (NormHead applies)."""
    normalized: bool | None
    """None: not applicable, or the head could not be read."""
    checked_rows: int
    method: str
    """``quick`` (sampled rows) or ``exact`` (every row)."""
    reason: str = ""
    head_type: str | None = None
    rows: int = 0
    tolerance: float | None = None
    within: float | None = None
    """Fraction of the non-zero checked rows whose norm is within ``tolerance`` of 1."""
    norm_min: float | None = None
    norm_median: float | None = None
    norm_max: float | None = None

    @property
    def needs_fix(self) -> bool:
        return self.applicable and self.normalized is False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> HeadCheck:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in doc.items() if k in names})
