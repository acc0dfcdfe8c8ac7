"""Output types llama.cpp can write: name → (llama_ftype, bits per weight). Import-light."""

from __future__ import annotations

FTYPES: dict[str, tuple[int, float]] = {
    "f32": (0, 32.0),
    "f16": (1, 16.0),
    "bf16": (32, 16.0),
    "q8_0": (7, 8.5),
    "q4_0": (2, 4.5),
    "q4_1": (3, 5.0),
    "q5_0": (8, 5.5),
    "q5_1": (9, 6.0),
    "q2_k": (10, 3.4),
    "q3_k_s": (11, 3.5),
    "q3_k_m": (12, 3.9),
    "q3_k_l": (13, 4.3),
    "q4_k_s": (14, 4.6),
    "q4_k_m": (15, 4.9),
    "q5_k_s": (16, 5.5),
    "q5_k_m": (17, 5.7),
    "q6_k": (18, 6.6),
}
