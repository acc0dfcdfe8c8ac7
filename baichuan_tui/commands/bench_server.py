"""``baichuan-chat bench --server URL``: what our client costs on top of llama-server's stream,
and quiz questions/s by ``--parallel``.

Streaming: the same token ids and the same ``/completion`` body (greedy, EOS ignored, a fresh
KV cache each time) read by the client the app and ``ask`` use (:class:`ServerEngine`: SSE
parsing, id bookkeeping, the :class:`Generation` queue, a consumer thread) and by a bare reader
(``http.client``, ``readline``, ``json.loads``, nothing else), alternating in ABBA order. The
headline is the ratio of the medians of the time from the request to the last token.

Quiz: a made-up 5-shot C-Eval-layout quiz (written here, seeded) scored through the server at
``--parallel`` 1, 2 and 4 (capped at its slots), and by the same file loaded here when it is on
this disk; predictions are checked to agree.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import statistics
import sys
import time
from typing import Any

from baichuan_tui.commands.common import load_request, say_on_stderr
from baichuan_tui.commands.output import print_json
from baichuan_tui.engine.prompts import Prompt
from baichuan_tui.engine.sampling import Sampling
from baichuan_tui.server.engine import ServerEngine

FILLER = "百川大模型在本地运行，速度很快。Baichuan runs locally and fast. "
WORDS = tuple("我们中国学生老师世界问题工作时间学习语言模型天气经济社会技术网络数据法律")
"""Characters the made-up questions are drawn from."""
PARALLEL = (1, 2, 4)


def bench_ids(engine: ServerEngine, n: int) -> list[int]:
    """``n`` token ids of plain text (the server's tokenizer)."""
    text, ids = FILLER, engine.encode(FILLER)
    while len(ids) < n:
        text += FILLER
        ids = engine.encode(text)
    return ids[:n]


def client_run(engine: ServerEngine, ids: list[int], n_gen: int) -> dict[str, float]:
    """Through :class:`ServerEngine` as ``ask`` streams a reply."""
    engine.reset_cache()
    sampling = Sampling(temperature=0.0, repeat_penalty=1.0, max_tokens=n_gen)
    t0 = time.perf_counter()
    gen = engine.generate(Prompt(ids, engine.template, n_gen), sampling, ignore_eos=True)
    first = None
    for _delta in gen:
        if first is None:
            first = time.perf_counter()
    end = time.perf_counter()
    res = gen.result
    assert res is not None
    return _run(t0, first or end, end, res.completion_tokens)


def bare_run(engine: ServerEngine, ids: list[int], n_gen: int) -> dict[str, float]:
    """The same request read by the least a client can do."""
    sampling = Sampling(temperature=0.0, repeat_penalty=1.0, max_tokens=n_gen)
    body = engine.completion_body(Prompt(ids, engine.template, n_gen), sampling, ignore_eos=True)
    body["cache_prompt"] = False
    a = engine.client.address
    conn = http.client.HTTPConnection(a.host, a.port, timeout=600)
    headers = {"Content-Type": "application/json", **engine.client.auth_header()}
    t0 = time.perf_counter()
    first = None
    tokens = 0
    try:
        conn.request("POST", a.prefix + "/completion", json.dumps(body), headers)
        resp = conn.getresponse()
        while line := resp.readline():
            if not line.startswith(b"data: "):
                continue
            event = json.loads(line[6:])
            if event.get("tokens"):
                tokens += len(event["tokens"])
                if first is None:
                    first = time.perf_counter()
            if event.get("stop"):
                break
    finally:
        conn.close()
    end = time.perf_counter()
    return _run(t0, first or end, end, tokens)


def _run(t0: float, first: float, end: float, tokens: int) -> dict[str, float]:
    return {
        "total_s": end - t0,
        "ttft_s": first - t0,
        "after_first_s": end - first,
        "tokens": tokens,
    }


def quiz_dataset(subjects: int, questions: int, seed: int = 0) -> Any:
    """A made-up 5-shot C-Eval quiz (our own questions, realistic lengths)."""
    from baichuan_tui.quiz.datasets import BENCHMARKS, Dataset
    from baichuan_tui.quiz.schema import Item, Subject

    rng = random.Random(seed)

    def text(n: int) -> str:
        out = ""
        while len(out) < n:
            out += rng.choice(WORDS)
        return out

    def item(name: str, i: int) -> Item:
        options = tuple(text(rng.randint(8, 24)) for _ in range(4))
        question = f"关于{text(4)}，下列说法正确的是{text(rng.randint(60, 120))}（　　）"
        return Item(name, i, question, options, rng.choice("ABCD"))

    bench = BENCHMARKS["ceval"]
    names = sorted(bench.subjects)[:subjects]
    subs = [
        Subject(
            n,
            bench.subjects[n],
            [item(n, i) for i in range(questions)],
            [item(n, 100 + i) for i in range(5)],
        )
        for n in names
    ]
    return Dataset(bench, "val", subs, "made up by bench")


def quiz_rates(engine: ServerEngine, args: argparse.Namespace) -> dict[str, Any]:
    from baichuan_tui.quiz import protocols, runner
    from baichuan_tui.quiz.session import parallel_for

    data = quiz_dataset(args.quiz_subjects, args.quiz_questions)
    protocol = protocols.get_protocol("ceval")
    rates: dict[str, Any] = {}
    preds: dict[str, list[str | None]] = {}
    for n in PARALLEL:
        used = parallel_for(engine, n)
        print(f"quiz on the server, --parallel {n} ...", file=sys.stderr)
        t0 = time.perf_counter()
        out = runner.run_quiz(data, protocol, runner.EngineScorer(engine), parallel=used)
        rates[f"server_parallel_{n}"] = {
            "parallel_used": used,
            "questions_per_s": round(out.n / (time.perf_counter() - t0), 3),
        }
        preds[f"server_parallel_{n}"] = [q.prediction for s in out.subjects for q in s.questions]
    if engine.path.is_file():
        from baichuan_tui.engine.llama import LlamaEngine, LoadOptions

        print(f"quiz on {engine.path.name} loaded here ...", file=sys.stderr)
        with LlamaEngine(engine.path, LoadOptions(n_ctx=engine.n_ctx)) as local:
            t0 = time.perf_counter()
            out = runner.run_quiz(data, protocol, runner.EngineScorer(local))
            rates["local"] = {"questions_per_s": round(out.n / (time.perf_counter() - t0), 3)}
            preds["local"] = [q.prediction for s in out.subjects for q in s.questions]
    first = next(iter(preds.values()))
    return {
        "questions": len(first),
        "rates": rates,
        "same_predictions": all(p == first for p in preds.values()),
    }


def run(args: argparse.Namespace) -> int:
    from baichuan_tui.loading import connect_server

    engine = connect_server(load_request(args), say=say_on_stderr)
    ids = bench_ids(engine, min(args.prompt_tokens, engine.n_ctx // 2))
    n_gen = min(args.gen_tokens, engine.n_ctx - len(ids) - 1)
    runs: dict[str, list[dict[str, float]]] = {"client": [], "bare": []}
    t_start = time.perf_counter()
    for i in range(args.repeats):
        print(f"stream run {i + 1}/{args.repeats} ...", file=sys.stderr)
        order = [("bare", bare_run), ("client", client_run)]
        for name, measure in order[:: -1 if i % 2 else 1]:
            runs[name].append(measure(engine, ids, n_gen))
    report: dict[str, Any] = {
        "server": engine.url,
        "model": str(engine.path),
        "prompt_tokens": len(ids),
        "gen_tokens": n_gen,
        "paths": {name: _summary(rs) for name, rs in runs.items()},
    }
    client, bare = report["paths"]["client"], report["paths"]["bare"]
    report["client_cost_ratio"] = round(client["total_s"] / bare["total_s"], 4)
    report["client_cost_ratio_after_first"] = round(
        client["after_first_s"] / bare["after_first_s"], 4
    )
    if not args.no_quiz:
        report["quiz"] = quiz_rates(engine, args)
    report["wall_s"] = round(time.perf_counter() - t_start, 2)
    if args.json:
        print_json(report)
    else:
        _print(report)
    return 0


def _summary(runs: list[dict[str, float]]) -> dict[str, Any]:
    med = {k: statistics.median(r[k] for r in runs) for k in ("total_s", "ttft_s", "after_first_s")}
    tokens = int(statistics.median(r["tokens"] for r in runs))
    return {
        **{k: round(v, 5) for k, v in med.items()},
        "tokens": tokens,
        "gen_tokens_per_s": round(max(tokens - 1, 0) / med["after_first_s"], 2)
        if med["after_first_s"]
        else 0.0,
        "runs": runs,
    }


def _print(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(
        title=f"{report['server']} · {report['prompt_tokens']} prompt / "
        f"{report['gen_tokens']} generated tokens"
    )
    for col in ("reader", "total s", "TTFT s", "gen tok/s"):
        table.add_column(col, justify="left" if col == "reader" else "right")
    for name, p in report["paths"].items():
        table.add_row(
            name, f"{p['total_s']:.3f}", f"{p['ttft_s']:.3f}", f"{p['gen_tokens_per_s']:.1f}"
        )
    console.print(table)
    console.print(
        f"client / bare SSE reader: [bold]{report['client_cost_ratio']:.3f}×[/] "
        f"(after the first token {report['client_cost_ratio_after_first']:.3f}×; target ≤ 1.05×)"
    )
    quiz = report.get("quiz")
    if quiz:
        q = Table(title=f"quiz: {quiz['questions']} made-up 5-shot questions")
        q.add_column("path")
        q.add_column("questions/s", justify="right")
        for name, r in quiz["rates"].items():
            label = name.replace("server_parallel_", "server --parallel ")
            if "parallel_used" in r and r["parallel_used"] != int(name.rsplit("_", 1)[-1]):
                label += f" (capped at {r['parallel_used']} slots)"
            q.add_row(label, f"{r['questions_per_s']:.2f}")
        console.print(q)
        same = "the same" if quiz["same_predictions"] else "[red]DIFFERENT[/]"
        console.print(f"predictions: {same} on every path")
