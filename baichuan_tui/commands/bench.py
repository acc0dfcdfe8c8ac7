"""``baichuan-chat bench``: the engine's throughput against bare llama-cpp-python.

Both paths run on the same loaded model and threads, alternating in ABBA order, each starting
from an empty KV cache; the figure that matters is the ratio measured in the same run.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

from baichuan_tui.commands.common import load_request, say_on_stderr
from baichuan_tui.commands.output import print_json
from baichuan_tui.engine.llama import LlamaEngine
from baichuan_tui.engine.prompts import Prompt
from baichuan_tui.engine.sampling import Sampling
from baichuan_tui.loading import load_in_process

FILLER = "百川大模型在本地运行，速度很快。Baichuan runs locally and fast. "


@dataclass
class Run:
    prompt_s: float
    gen_s: float
    tokens: int

    @property
    def per_token_ms(self) -> float:
        return 1000 * self.gen_s / max(1, self.tokens - 1)


def bench_prompt(engine: LlamaEngine, n: int) -> list[int]:
    ids: list[int] = []
    text = FILLER
    while len(ids) < n:
        ids = engine.tokenizer.encode(text)
        text += FILLER
    return ids[:n]


def engine_run(engine: LlamaEngine, ids: list[int], n_gen: int) -> Run:
    """The streaming path ``ask`` and the app use: owner thread → queue → consumer."""
    engine.reset_cache()
    sampling = Sampling(temperature=0.0, repeat_penalty=1.0, max_tokens=n_gen)
    gen = engine.generate(Prompt(ids, engine.template, n_gen), sampling, ignore_eos=True)
    for _ in gen:
        pass
    res = gen.result
    assert res is not None
    return Run(res.prompt_s, res.gen_s, res.completion_tokens)


def bare_run(engine: LlamaEngine, ids: list[int], n_gen: int) -> Run:
    """llama-cpp-python's own ``Llama.generate`` greedy loop on the same model (token ids
    only: no detokenizing, no stop checks, so the baseline is as cheap as it gets)."""

    def loop() -> Run:
        llm = engine._llm
        llm.reset()
        t0 = time.perf_counter()
        t_first = t0
        n = 0
        for _tok in llm.generate(ids, temp=0.0, repeat_penalty=1.0):
            if n == 0:
                t_first = time.perf_counter()
            n += 1
            if n >= n_gen:
                break
        return Run(t_first - t0, time.perf_counter() - t_first, n)

    return engine.call(loop)


def run(args: argparse.Namespace) -> int:
    if getattr(args, "compare", None):
        from baichuan_tui.commands import bench_compare

        return bench_compare.run(args)
    if getattr(args, "server", None):
        from baichuan_tui.commands import bench_server

        return bench_server.run(args)
    engine = load_in_process(load_request(args), say=say_on_stderr)
    try:
        ids = bench_prompt(engine, min(args.prompt_tokens, engine.n_ctx // 2))
        n_gen = min(args.gen_tokens, engine.n_ctx - len(ids) - 1)
        runs: dict[str, list[Run]] = {"engine": [], "llama-cpp-python": []}
        t_start = time.perf_counter()
        for i in range(args.repeats):
            print(f"run {i + 1}/{args.repeats} ...", file=sys.stderr)
            # alternate which path goes first (ABBA), so drift over the run cancels out
            order = [("llama-cpp-python", bare_run), ("engine", engine_run)]
            for name, measure in order[:: -1 if i % 2 else 1]:
                runs[name].append(measure(engine, ids, n_gen))
        report = _report(engine, runs, len(ids), n_gen, time.perf_counter() - t_start)
    finally:
        engine.close()
    if args.json:
        print_json(report)
        sys.stdout.write("\n")
    else:
        _print_table(report)
    return 0


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def _report(
    engine: LlamaEngine, runs: dict[str, list[Run]], n_prompt: int, n_gen: int, wall: float
) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for name, rs in runs.items():
        paths[name] = {
            "prompt_tokens_per_s": round(n_prompt / _median([r.prompt_s for r in rs]), 2),
            "gen_tokens_per_s": round(1000 / _median([r.per_token_ms for r in rs]), 2),
            "per_token_ms": round(_median([r.per_token_ms for r in rs]), 4),
            "per_token_ms_best": round(min(r.per_token_ms for r in rs), 4),
            "ttft_s": round(_median([r.prompt_s for r in rs]), 4),
            "runs": [asdict(r) for r in rs],
        }
    # The headline is the ratio of medians over ABBA-ordered runs; the ratio of the best
    # runs is reported beside it (a single lucky run moves it more).
    eng, bare = paths["engine"], paths["llama-cpp-python"]
    ratio = eng["per_token_ms"] / bare["per_token_ms"]
    ratio_best = eng["per_token_ms_best"] / bare["per_token_ms_best"]
    return {
        "model": str(engine.path),
        "family": engine.family.label,
        "threads": engine.n_threads,
        "gpu_layers": engine.options.n_gpu_layers,
        "prompt_tokens": n_prompt,
        "gen_tokens": n_gen,
        "paths": paths,
        "per_token_ratio": round(ratio, 4),
        "per_token_ratio_best": round(ratio_best, 4),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "wall_s": round(wall, 2),
    }


def _print_table(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"{report['family']} · {report['threads']} threads · "
        f"{report['prompt_tokens']} prompt / {report['gen_tokens']} generated"
    )
    for col in ("path", "prompt tok/s", "gen tok/s", "ms/token", "TTFT s"):
        table.add_column(col, justify="right" if col != "path" else "left")
    for name, p in report["paths"].items():
        table.add_row(
            name,
            f"{p['prompt_tokens_per_s']:.1f}",
            f"{p['gen_tokens_per_s']:.1f}",
            f"{p['per_token_ms']:.3f}",
            f"{p['ttft_s']:.3f}",
        )
    console = Console()
    console.print(table)
    console.print(
        f"per-token cost, engine / llama-cpp-python: medians "
        f"[bold]{report['per_token_ratio']:.3f}×[/], best runs "
        f"{report['per_token_ratio_best']:.3f}×   peak RSS {report['peak_rss_mb']} MB"
    )
