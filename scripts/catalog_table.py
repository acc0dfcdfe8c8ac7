#!/usr/bin/env python3
"""Print the README's table: each catalog model's GGUF quants, size and estimated memory.

.venv/bin/python scripts/catalog_table.py [--n-ctx 4096]
"""

from __future__ import annotations

import argparse

from baichuan_tui.engine.gguf_check import human_size
from baichuan_tui.hub import fit
from baichuan_tui.hub.catalog import load_catalog


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n-ctx", type=int, default=4096)
    n_ctx = ap.parse_args().n_ctx
    print(
        f"| model | quant | file | VRAM, full offload @ {n_ctx // 1024}k | "
        f"RAM, CPU only @ {n_ctx // 1024}k |"
    )
    print("|---|---|---|---|---|")
    for model in load_catalog():
        if not model.quants:
            print(f"| {model.name} | — | needs conversion | | |")
            continue
        for q, qf in model.quants.items():
            est = fit.estimate(fit.numbers_for(model, q), n_ctx)
            size = human_size(qf.size_bytes) + (" (approx.)" if qf.size_approx else "")
            print(
                f"| {model.name} | {q} | {size} | {human_size(est.vram_bytes(est.n_layer + 1))}"
                f" | {human_size(est.ram_bytes(0))} |"
            )


if __name__ == "__main__":
    main()
