#!/usr/bin/env python3
"""Print the README's table: each catalog model's GGUF quants, size, estimated memory, and the
figures measured on the real shapes (``scripts/bench_shapes.py`` reports in ``models/measured/``).

.venv/bin/python scripts/catalog_table.py [--n-ctx 4096]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from baichuan_tui.engine.gguf_check import human_size
from baichuan_tui.hub import fit
from baichuan_tui.hub.catalog import load_catalog

MEASURED = Path(__file__).resolve().parents[1] / "models" / "measured"


def measured() -> dict[tuple[str, str], list[tuple[str, dict[str, Any]]]]:
    """(shape, quant) → [(where, report)] from every report in ``models/measured``."""
    found: dict[tuple[str, str], list[tuple[str, dict[str, Any]]]] = {}
    for path in sorted(MEASURED.glob("*.json")):
        doc = json.loads(path.read_text())
        for rep in doc["reports"]:
            key = (rep["shape"], rep["quant"].upper())
            found.setdefault(key, []).append((doc.get("label", path.stem), rep))
    return found


def measured_cells(reports: list[tuple[str, dict[str, Any]]]) -> tuple[str, str]:
    """(peak RSS at 4k, prompt / decode tok/s) per place measured."""
    rss, speed = [], []
    for where, rep in reports:
        mem = rep.get("memory")
        if mem:
            rss.append(f"{human_size(mem['measured_bytes'])} ({where})")
        bench = rep.get("llama_bench_fa_off")
        ask = rep.get("ask")
        if ask:
            speed.append(f"{ask['pp']:.1f} / {ask['tg']:.1f} ({where})")
        elif bench:
            pp = next(iter(bench["pp"].values()))
            speed.append(f"{pp:.1f} / {bench['tg']:.1f} ({where}, llama-bench)")
    return "; ".join(rss), "; ".join(speed)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n-ctx", type=int, default=4096)
    n_ctx = ap.parse_args().n_ctx
    k = n_ctx // 1024
    runs = measured()
    print(
        f"| model | quant | file | VRAM, full offload @ {k}k | RAM, CPU only @ {k}k "
        f"| measured RAM @ {k}k | measured tok/s, prompt / decode |"
    )
    print("|---|---|---|---|---|---|---|")
    listed: set[tuple[str, str]] = set()
    for model in load_catalog():
        listed |= {(model.family, q.upper()) for q in model.quants}
        if not model.quants:
            print(f"| {model.name} | — | needs conversion | | | | |")
            continue
        for q, qf in model.quants.items():
            est = fit.estimate(fit.numbers_for(model, q), n_ctx)
            size = human_size(qf.size_bytes) + (" (approx.)" if qf.size_approx else "")
            rss, speed = measured_cells(runs.get((model.family, q.upper()), []))
            print(
                f"| {model.name} | {q} | {size} | {human_size(est.vram_bytes(est.n_layer + 1))}"
                f" | {human_size(est.ram_bytes(0))} | {rss} | {speed} |"
            )
    for (shape, q), reports in runs.items():  # measured shapes no Hub file has (converted)
        if (shape, q) not in listed:
            est = reports[0][1]["estimate"]
            rss, speed = measured_cells(reports)
            print(
                f"| {shape} (converted) | {q} | {human_size(reports[0][1]['file_gib'] * 2**30)}"
                f" | {human_size(est['full_offload_vram_bytes'])}"
                f" | {human_size(est['total_bytes'])}"
                f" | {rss} | {speed} |"
            )


if __name__ == "__main__":
    main()
