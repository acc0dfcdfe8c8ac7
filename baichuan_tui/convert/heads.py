"""NormHead: Baichuan2 normalises each row of ``lm_head`` at inference; GGUFs must store it so."""

from __future__ import annotations

import numpy as np

EPS = 1e-12
"""As ``torch.nn.functional.normalize``: rows are divided by ``max(norm, EPS)``."""


def row_norms(rows: np.ndarray) -> np.ndarray:
    """L2 norm of each row (computed in float64), as float64."""
    r = np.asarray(rows, dtype=np.float64)
    norms: np.ndarray = np.sqrt(np.einsum("ij,ij->i", r, r))
    return norms


def normalize_rows(rows: np.ndarray) -> np.ndarray:
    """``rows`` (2-D) with unit-L2-norm rows, float32 (what Baichuan2's NormHead computes)."""
    norms = np.maximum(row_norms(rows), EPS)
    unit: np.ndarray = np.asarray(rows, dtype=np.float64) / norms[:, None]
    return unit.astype(np.float32)


def is_normalized(rows: np.ndarray, tol: float = 1e-2) -> bool:
    """Whether every row has unit norm within ``tol`` (loose enough for quantized heads)."""
    norms = row_norms(rows)
    return bool(norms.size) and bool(np.all(np.abs(norms - 1.0) <= tol))
