#!/usr/bin/env python3
"""Start-up cost of `baichuan-chat --help` and `ask --help` over bare Python, same run.

.venv/bin/python scripts/bench_startup.py [--repeats 10]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def timed(argv: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=10)
    n = ap.parse_args().repeats
    bare = timed([sys.executable, "-c", "pass"], n)
    print(f"bare python: {bare * 1000:.1f} ms")
    for args in (["--help"], ["ask", "--help"]):
        t = timed([sys.executable, "-m", "baichuan_tui", *args], n)
        print(
            f"baichuan-chat {' '.join(args)}: {t * 1000:.1f} ms "
            f"(+{(t - bare) * 1000:.1f} ms over bare python, target ≤ 400 ms)"
        )


if __name__ == "__main__":
    main()
