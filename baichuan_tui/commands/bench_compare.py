"""``baichuan-chat bench --compare M1 --compare M2``: two replies side by side against the same
two one after the other, with the same threads.

Side by side, each model decodes on its share of the thread budget (as ``ask --compare`` and
the app run them); one after another, each gets the whole budget. Every reply is greedy and
runs to ``--gen-tokens`` (EOS ignored), the modes alternate in ABBA order, and the figure is
the ratio of the medians of the wall time from the first request to the last token.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from typing import Any

from baichuan_tui.commands.common import load_request
from baichuan_tui.commands.output import print_json

PROMPT = "请介绍一下百川大模型。Tell me about the Baichuan models."


def _measure(args: argparse.Namespace, together: bool, budget: int) -> dict[str, Any]:
    from baichuan_tui.compare import Compare, Contender, parse_contender
    from baichuan_tui.engine.prompts import Message

    base = load_request(args)
    contenders: list[Contender] = [parse_contender(m, base) for m in args.compare]
    if not together:
        contenders = [replace(c, request=replace(c.request, threads=budget)) for c in contenders]
    else:
        contenders = [replace(c, request=replace(c.request, threads=None)) for c in contenders]
    marks: list[tuple[str, float]] = []
    job = Compare(
        contenders,
        [Message("user", PROMPT)],
        sampling_for=lambda s: s.merged(
            temperature=0.0, repeat_penalty=1.0, max_tokens=args.gen_tokens
        ),
        on_event=lambda e: (
            marks.append((e.kind, time.perf_counter()))
            if e.kind in ("started", "done", "error")
            else None
        ),
        together=together,
        cores=budget,
        ignore_eos=True,
    )
    replies = job.run()
    errors = [r.error for r in replies if r.error]
    if errors:
        from baichuan_tui.errors import UserError

        raise UserError(f"bench --compare: {errors[0]}")
    if together:
        starts = [t for k, t in marks if k == "started"]
        ends = [t for k, t in marks if k == "done"]
        wall = max(ends) - min(starts)
    else:  # the generation spans only, not the loads between them
        wall = sum(e - s for (_, s), (_, e) in zip(marks[0::2], marks[1::2], strict=True))
    tokens = sum(r.result.completion_tokens for r in replies if r.result)
    return {"wall_s": wall, "tokens": tokens}


def run(args: argparse.Namespace) -> int:
    from baichuan_tui.compare import check_count
    from baichuan_tui.engine.threads import physical_cores

    check_count(len(args.compare))
    budget = args.threads or physical_cores()
    runs: dict[str, list[dict[str, Any]]] = {"side by side": [], "one after another": []}
    for i in range(args.repeats):
        print(f"run {i + 1}/{args.repeats} ...", file=sys.stderr)
        order = [("side by side", True), ("one after another", False)]
        for name, together in order[:: -1 if i % 2 else 1]:
            runs[name].append(_measure(args, together, budget))
    med = {n: statistics.median(r["wall_s"] for r in rs) for n, rs in runs.items()}
    report = {
        "models": list(args.compare),
        "thread_budget": budget,
        "gen_tokens": args.gen_tokens,
        "modes": {
            n: {
                "wall_s_median": round(med[n], 4),
                "tokens_per_s": round(rs[0]["tokens"] / med[n], 2) if med[n] else None,
                "runs": rs,
            }
            for n, rs in runs.items()
        },
        "side_by_side_over_one_after_another": round(
            med["side by side"] / med["one after another"], 4
        ),
    }
    if args.json:
        print_json(report)
    else:
        for name, mode in report["modes"].items():
            print(f"{name:>18}: {mode['wall_s_median']:.3f} s, {mode['tokens_per_s']} tok/s")
        ratio = report["side_by_side_over_one_after_another"]
        print(f"side by side / one after another (wall, {budget} threads): {ratio:.3f}×")
    return 0
