#!/usr/bin/env python3
"""Memory and speed of Baichuan's real shapes (random weights) against llama-bench and hub/fit.py.

    .venv/bin/python scripts/bench_shapes.py --shape baichuan-7b --quant Q4_K_M [--quant Q8_0]
        [--threads N] [--gpu-layers N] [--parts speed,ask,app,quiz,memory] [--json-out FILE]

For each shape x quant (the file made by ``make_shape_model.py``, cached), in one run:

- ``speed``: llama-bench (built from the vendored llama.cpp by ``build_llama_server.py``) on
  the same file and threads: prompt tok/s at the prompt sizes below and decode tok/s, flash
  attention off as in the engine (and ``auto`` beside it, to show what turning it on would give);
- ``ask``: ``baichuan-chat ask --json`` on a prompt of ``--prompt-tokens``: its prompt and
  decode tok/s as ratios against llama-bench;
- ``app``: the app in tmux (``tests/ui/bench_streaming.py``), a streamed reply: decode tok/s;
- ``quiz``: the quiz path (zero-shot, no prefix reuse): prompt tok/s against llama-bench at the
  same mean prompt size;
- ``mmap``: load + 64 tokens in a fresh process, the file mapped and read: load time, resident
  memory split into the process's own and the mapped file's pages;
- ``memory``: a fresh process loads the model at 4k context: RSS after load, after the first
  evaluation, then time to first token of a short turn with 0 / 1k / 2k / 3.5k tokens of history
  (KV reuse: each turn extends the last), then the context filled to 4k: peak RSS, against the
  estimate of ``hub/fit.py`` (ratio measured / estimate).

Prints tables and writes the whole report as JSON (``--json-out``). Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "scripts"), str(REPO / "tests"), str(REPO / "tests" / "ui")]

from baichuan_tui.hub import fit  # noqa: E402

import make_shape_model as shapes  # noqa: E402

FILLER = "百川大模型在本地运行，速度很快。Baichuan runs locally and fast. "
HISTORY_TOKENS = (1024, 2048, 3584)
N_CTX = 4096


# -- llama-bench ---------------------------------------------------------------------------
def find_llama_bench(ngl: int) -> Path:
    """The llama-bench that ``build_llama_server.py`` built (CUDA when layers go to the GPU)."""
    from baichuan_tui.server import build

    found = build.find_binaries(build.default_setting(cuda=ngl != 0))
    if found is None:
        raise SystemExit("llama-bench is not built: run scripts/build_llama_server.py first")
    return found.bench


def llama_bench(
    exe: Path,
    model: Path,
    threads: int,
    ngl: int,
    prompts: list[int],
    n_gen: int,
    reps: int,
    fa: str,
) -> dict[str, Any]:
    """llama-bench's pp (per prompt size) and tg tok/s on ``model``."""
    cmd = [str(exe), "-m", str(model), "-t", str(threads), "-ngl", str(ngl)]
    cmd += ["-p", ",".join(map(str, prompts)), "-n", str(n_gen), "-r", str(reps)]
    cmd += ["-fa", fa, "-o", "json"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"llama-bench failed: {done.stderr.strip().splitlines()[-1:]}")
    out: dict[str, Any] = {"pp": {}, "tg": None, "fa": fa}
    for row in json.loads(done.stdout):
        if row["n_gen"] == 0:
            out["pp"][str(row["n_prompt"])] = row["avg_ts"]
        else:
            out["tg"] = row["avg_ts"]
    return out


# -- ask -----------------------------------------------------------------------------------
def prompt_text(model: Path, n_tokens: int) -> str:
    """A text of about ``n_tokens`` tokens of ``model``'s vocabulary."""
    from baichuan_tui.engine.llama import LlamaEngine, LoadOptions

    with LlamaEngine(model, LoadOptions(vocab_only=True)) as vocab:
        text = FILLER
        while len(vocab.encode(text)) < n_tokens:
            text += FILLER
    return text


def common_args(model: Path, threads: int, ngl: int) -> list[str]:
    return ["--model", str(model), "--n-ctx", str(N_CTX), "--threads", str(threads)] + [
        "--gpu-layers",
        str(ngl),
    ]


def ask_speed(model: Path, threads: int, ngl: int, text: str, n_gen: int) -> dict[str, Any]:
    """One ``ask --json`` (after a warm-up that pages the file in)."""
    cmd = [sys.executable, "-m", "baichuan_tui", "ask", *common_args(model, threads, ngl)]
    cmd += ["--template", "completion"]
    cmd += ["--temperature", "0", "--repeat-penalty", "1", "--seed", "1", "--json"]
    runs = []
    for max_tokens in (2, n_gen):  # the first run is the warm-up
        out = subprocess.run(
            [*cmd, "--max-tokens", str(max_tokens), text],
            capture_output=True,
            text=True,
            check=True,
        )
        runs.append(json.loads(out.stdout))
    doc = runs[-1]
    return {
        "prompt_tokens": doc["prompt_tokens"],
        "completion_tokens": doc["completion_tokens"],
        "pp": doc["prompt_tokens_per_s"],
        "tg": doc["gen_tokens_per_s"],
        "ttft_s": doc["ttft_s"],
    }


# -- app (tmux) ----------------------------------------------------------------------------
def app_speed(model: Path, threads: int, ngl: int, title: str, n_gen: int) -> dict[str, Any]:
    import bench_streaming

    bench_streaming.THREADS[:] = ["--threads", str(threads)]
    with tempfile.TemporaryDirectory(prefix="bc-shape-app-") as home:
        for var, sub in (("BAICHUAN_CHAT_DATA_DIR", "data"), ("BAICHUAN_CHAT_CONFIG_DIR", "cfg")):
            os.environ[var] = f"{home}/{sub}"
        os.environ["BAICHUAN_CHAT_TRACE"] = str(bench_streaming.TRACE)
        got = bench_streaming.run_app(str(model), n_gen, title=title, gpu_layers=ngl)
    return {"tg": got["tok_s"], "completion_tokens": got["tokens"], "wall_s": got["wall_s"]}


# -- the engine child: quiz path, TTFT with history, memory ----------------------------------
def engine_child(model: Path, threads: int, ngl: int, parts: set[str]) -> dict[str, Any]:
    """Runs in a fresh process (``--_child``): RSS figures are this model's alone."""
    from baichuan_tui.engine.llama import LlamaEngine, LoadOptions
    from baichuan_tui.engine.prompts import Message
    from baichuan_tui.engine.sampling import Sampling

    out: dict[str, Any] = {"rss_start": rss()}
    engine = LlamaEngine(model, LoadOptions(n_ctx=N_CTX, n_threads=threads, n_gpu_layers=ngl))
    out["use_mmap"] = engine.use_mmap
    out["rss_load"] = rss()
    out["rss_anon_load"] = rss("RssAnon")
    out["gpu_mib_load"] = gpu_mib()
    if "quiz" in parts:
        out["quiz"] = quiz_speed(engine)
    if "memory" not in parts:
        engine.close()
        return out
    sampling = Sampling(temperature=0.0, repeat_penalty=1.0, max_tokens=4)
    chunk = FILLER * 8
    messages = [Message("user", "你好")]
    turns = []
    for target in (0, *HISTORY_TOKENS):
        while len(engine.prompt(messages, max_tokens=4).token_ids) < target:
            messages[-1] = Message("user", messages[-1].content + chunk)
        # this turn's history is evaluated once, as the previous turn's reply would have been
        filled = engine.prompt([*messages, Message("assistant", "好的。")], max_tokens=4)
        engine.next_token_logits(filled.token_ids)
        messages = [*messages, Message("assistant", "好的。"), Message("user", "请继续。")]
        prompt = engine.prompt(messages, max_tokens=4)
        gen = engine.generate(prompt, sampling, ignore_eos=True)
        for _ in gen:
            pass
        res = gen.result
        assert res is not None
        turns.append(
            {
                "history_tokens": target,
                "prompt_tokens": res.prompt_tokens,
                "cached_tokens": res.cached_tokens,
                "ttft_s": round(res.ttft_s, 4),
            }
        )
        if target == 0:
            out["rss_first_eval"] = rss()
        messages = [*messages, Message("assistant", res.text or "好的。"), Message("user", chunk)]
    out["turns"] = turns
    ids = engine.prompt(messages, max_tokens=1).token_ids
    while len(ids) < N_CTX - 1:  # fill the context to 4k with the same text
        ids = [*ids, *engine.encode(chunk)]
    engine.next_token_logits(ids[: N_CTX - 1])
    out["rss_full"] = rss()
    out["rss_anon_full"] = rss("RssAnon")
    out["rss_file_full"] = rss("RssFile")
    out["rss_peak"] = peak_rss()
    out["gpu_mib_full"] = gpu_mib()
    engine.close()
    return out


def load_child(model: Path, threads: int, ngl: int, use_mmap: bool) -> dict[str, Any]:
    """Load (mapped or read) and evaluate 64 tokens: time and resident memory, split."""
    from baichuan_tui.engine.llama import LlamaEngine, LoadOptions

    start = rss()
    t0 = time.perf_counter()
    opts = LoadOptions(n_ctx=N_CTX, n_threads=threads, n_gpu_layers=ngl, use_mmap=use_mmap)
    with LlamaEngine(model, opts) as engine:  # a mapped CPU load records its repack
        load_s = time.perf_counter() - t0
        engine.next_token_logits((engine.encode(FILLER * 8))[:64])
        return {
            "use_mmap": use_mmap,
            "load_s": round(load_s, 2),
            "rss": rss() - start,
            "rss_anon": rss("RssAnon"),
            "rss_file": rss("RssFile"),
        }


def quiz_speed(engine: Any) -> dict[str, Any]:
    """The quiz path on a made-up zero-shot C-Eval subject (no prefix reuse): prompt tok/s."""
    from baichuan_tui.quiz import datasets, protocols, runner

    import bench_quiz

    with tempfile.TemporaryDirectory() as tmp:
        bench_quiz.write_dataset(Path(tmp), subjects=1, questions=6)
        data = datasets.load("ceval", split="val", data=Path(tmp), shots=0)
    protocol = protocols.get_protocol("ceval")
    scorer = runner.EngineScorer(engine)
    engine.next_token_logits(engine.encode(FILLER))  # warm-up: pages in, graph allocated
    engine.reset_cache()
    t0 = time.perf_counter()
    outcome = runner.run_quiz(data, protocol, scorer, prefix_cache=False)
    wall = time.perf_counter() - t0
    tokens = [q.tokens for s in outcome.subjects for q in s.questions]
    return {
        "questions": len(tokens),
        "mean_prompt_tokens": round(statistics.mean(tokens), 1),
        "pp": round(sum(tokens) / wall, 3),
        "questions_per_s": round(len(tokens) / wall, 4),
    }


def rss(kind: str = "VmRSS") -> int:
    """This process's resident set now (bytes); ``RssAnon`` / ``RssFile`` split it into
    memory of its own and pages of mapped files (the model file, with mmap)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{kind}:"):
            return int(line.split()[1]) * 1024
    return 0


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def gpu_mib() -> int | None:
    """GPU memory this process holds (MiB), from nvidia-smi; None without a GPU."""
    try:
        done = subprocess.run(
            ["nvidia-smi", "--query-compute-apps=pid,used_memory", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError:
        return None
    for line in done.stdout.splitlines():
        pid, _, used = line.partition(",")
        if pid.strip() == str(os.getpid()):
            return int(used.strip().split()[0])
    return None


def run_child(model: Path, threads: int, ngl: int, parts: set[str]) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--_child", str(model), "--threads", str(threads)]
    cmd += ["--gpu-layers", str(ngl), "--parts", ",".join(sorted(parts))]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"engine child failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# -- one file --------------------------------------------------------------------------------
def family_label(model: Path) -> str:
    """What the app's status bar calls the model (its family)."""
    from baichuan_tui.engine.family import detect_family
    from baichuan_tui.engine.gguf_check import inspect_gguf

    return detect_family(inspect_gguf(model)).label


def estimate(model: Path) -> fit.MemoryEstimate:
    from baichuan_tui.engine.gguf_check import inspect_gguf

    return fit.estimate(fit.numbers_from_gguf(inspect_gguf(model)), n_ctx=N_CTX)


def bench_file(
    sh: shapes.Shape, quant: str, model: Path, a: argparse.Namespace, parts: set[str]
) -> dict[str, Any]:
    rep: dict[str, Any] = {"shape": sh.name, "quant": quant.upper(), "file": str(model)}
    rep["file_gib"] = round(model.stat().st_size / 2**30, 3)
    text = prompt_text(model, a.prompt_tokens)
    if "mmap" in parts:  # mapped vs read into memory: load time and resident memory; the
        # mapped load also teaches engine/mapping.py what llama.cpp repacks in this file
        rep["load"] = [
            run_child(model, a.threads, a.gpu_layers, {"load"}),
            run_child(model, a.threads, a.gpu_layers, {"load", "no-mmap"}),
        ]
    child = run_child(model, a.threads, a.gpu_layers, parts) if parts & {"quiz", "memory"} else {}
    if "ask" in parts:
        rep["ask"] = ask_speed(model, a.threads, a.gpu_layers, text, a.gen_tokens)
    if "app" in parts:
        rep["app"] = app_speed(model, a.threads, a.gpu_layers, family_label(model), a.gen_tokens)
    if "quiz" in child:
        rep["quiz"] = child.pop("quiz")
    if "speed" in parts:
        sizes = [rep.get("ask", {}).get("prompt_tokens") or a.prompt_tokens]
        if "quiz" in rep:
            sizes.append(round(rep["quiz"]["mean_prompt_tokens"]))
        sizes = sorted(set(sizes))
        exe = a.llama_bench or find_llama_bench(a.gpu_layers)
        for fa in ("off", "auto"):
            rep[f"llama_bench_fa_{fa}"] = llama_bench(
                exe, model, a.threads, a.gpu_layers, sizes, a.gen_tokens, a.reps, fa
            )
        rep["ratios"] = ratios(rep)
    if "memory" in parts:
        est = estimate(model)
        rep["memory"] = child
        rep["estimate"] = est.to_dict()
        measured = child["rss_peak"] - child["rss_start"]
        rep["memory"]["measured_bytes"] = measured
        if a.gpu_layers:  # RAM: what stays on the CPU side; VRAM: what nvidia-smi says
            ram = est.ram_bytes(a.gpu_layers)
            vram = child.get("gpu_mib_full")
            if vram:
                rep["memory"]["vram_over_estimate"] = round(
                    vram * 2**20 / est.vram_bytes(a.gpu_layers), 4
                )
        else:
            ram = est.total_bytes
        rep["memory"]["estimate_ram_bytes"] = ram
        rep["memory"]["measured_over_estimate"] = round(measured / ram, 4)
    return rep


def ratios(rep: dict[str, Any]) -> dict[str, float]:
    """Each path's tok/s over llama-bench's (flash attention off, as the engine runs)."""
    base = rep["llama_bench_fa_off"]
    out: dict[str, float] = {}
    for path in ("ask", "app", "quiz"):
        got = rep.get(path)
        if not got:
            continue
        if path != "app":
            size = got.get("prompt_tokens") or round(got["mean_prompt_tokens"])
            if str(size) in base["pp"]:
                out[f"{path}_pp"] = round(got["pp"] / base["pp"][str(size)], 4)
        if path != "quiz" and got.get("tg") and base["tg"]:
            out[f"{path}_tg"] = round(got["tg"] / base["tg"], 4)
    return out


# -- output ----------------------------------------------------------------------------------
def print_tables(reports: list[dict[str, Any]], machine: str) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    speed = Table(title=f"tok/s on {machine}; (×) = ratio to llama-bench with FA off as the engine")
    for col in ("shape", "quant", "bench pp", "bench tg", "FA-on pp", "FA-on tg"):
        speed.add_column(col, justify="right")
    for col in ("ask pp", "ask tg", "app tg", "quiz pp"):
        speed.add_column(col, justify="right")
    memory = Table(title="memory at 4k context: measured peak RSS vs hub/fit.py")
    for col in ("shape", "quant", "file GiB", "RSS load", "RSS 4k", "estimate", "ratio"):
        memory.add_column(col, justify="right")
    ttft = Table(title="time to first token of a short turn after N tokens of history (KV reuse)")
    ttft.add_column("shape · quant")
    for n in (0, *HISTORY_TOKENS):
        ttft.add_column(f"{n}", justify="right")
    gib = 2**30
    for r in reports:
        base, fa = r.get("llama_bench_fa_off"), r.get("llama_bench_fa_auto")
        ratio = r.get("ratios", {})

        def cell(
            path: str, kind: str, r: dict[str, Any] = r, ratio: dict[str, float] = ratio
        ) -> str:
            got = r.get(path, {}).get(kind)
            if got is None:
                return "-"
            key = f"{path}_{kind}"
            return f"{got:.2f} ({ratio[key]:.2f}×)" if key in ratio else f"{got:.2f}"

        def bench(b: dict[str, Any] | None, kind: str) -> str:
            if not b:
                return "-"
            return f"{b['tg']:.2f}" if kind == "tg" else f"{next(iter(b['pp'].values())):.1f}"

        speed.add_row(
            r["shape"], r["quant"], bench(base, "pp"), bench(base, "tg"), bench(fa, "pp"),
            bench(fa, "tg"), cell("ask", "pp"), cell("ask", "tg"), cell("app", "tg"),
            cell("quiz", "pp"),
        )  # fmt: skip
        if "memory" in r:
            m = r["memory"]
            memory.add_row(
                r["shape"], r["quant"], f"{r['file_gib']:.2f}",
                f"{(m['rss_load'] - m['rss_start']) / gib:.2f}",
                f"{m['measured_bytes'] / gib:.2f}", f"{m['estimate_ram_bytes'] / gib:.2f}",
                f"{m['measured_over_estimate']:.3f}",
            )  # fmt: skip
            ttft.add_row(
                f"{r['shape']} · {r['quant']}", *(f"{t['ttft_s']:.2f} s" for t in m["turns"])
            )
    console.print(speed)
    if any("memory" in r for r in reports):
        console.print(memory)
        console.print(ttft)


def markdown(docs: list[dict[str, Any]]) -> str:
    """The README's tables from saved reports (``--markdown FILE ...``)."""
    gib = 2**30

    def ratio(r: dict[str, Any], key: str) -> str:
        got = r.get("ratios", {}).get(key)
        return f" ({got:.2f}×)" if got is not None else ""

    speed = [
        "| shape | quant | llama-bench pp / tg | ask pp / tg | app tg | quiz pp | where |",
        "|---|---|---|---|---|---|---|",
    ]
    memory = [
        "| shape | quant | file | resident after load | resident, 4k context full | "
        "hub/fit.py estimate | measured / estimate |",
        "|---|---|---|---|---|---|---|",
    ]
    ttft = ["| shape | quant | " + " | ".join(f"{n} tokens" for n in (0, *HISTORY_TOKENS)) + " |"]
    ttft.append("|---|---|" + "---|" * (1 + len(HISTORY_TOKENS)))
    for doc in docs:
        where = doc.get("label") or doc["machine"]
        for r in doc["reports"]:
            b, ask, app, quiz = (r.get(k) for k in ("llama_bench_fa_off", "ask", "app", "quiz"))
            if b:
                pp = next(iter(b["pp"].values()))
                cells = [
                    f"{pp:.1f} / {b['tg']:.2f}",
                    f"{ask['pp']:.1f}{ratio(r, 'ask_pp')} / {ask['tg']:.2f}{ratio(r, 'ask_tg')}"
                    if ask
                    else "—",
                    f"{app['tg']:.2f}{ratio(r, 'app_tg')}" if app else "—",
                    f"{quiz['pp']:.1f}{ratio(r, 'quiz_pp')}" if quiz else "—",
                ]
                speed.append(f"| {r['shape']} | {r['quant']} | {' | '.join(cells)} | {where} |")
            m = r.get("memory")
            if m:
                estimate_ram = m.get("estimate_ram_bytes", r["estimate"]["total_bytes"])
                memory.append(
                    f"| {r['shape']} | {r['quant']} | {r['file_gib']:.2f} GiB | "
                    f"{(m['rss_load'] - m['rss_start']) / gib:.2f} GiB | "
                    f"{m['measured_bytes'] / gib:.2f} GiB | {estimate_ram / gib:.2f} GiB"
                    f" | {m['measured_over_estimate']:.2f} |"
                )
                ttft.append(
                    f"| {r['shape']} | {r['quant']} | "
                    + " | ".join(f"{t['ttft_s']:.2f} s" for t in m["turns"])
                    + " |"
                )
    return "\n".join([*speed, "", *memory, "", *ttft])


def machine_line(threads: int, ngl: int, where: str | None = None) -> str:
    cpu = platform.processor() or platform.machine()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    line = f"{os.cpu_count()}-core {cpu}, {threads} threads"
    return line + (f", {where}, {ngl} layers on the GPU" if ngl else ", CPU only")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shape", action="append", help="a catalog family (repeatable)")
    p.add_argument("--quant", action="append", help="Q4_K_M, Q8_0, ... (repeatable)")
    p.add_argument("--threads", type=int, default=None, help="default: physical cores")
    p.add_argument("--gpu-layers", type=int, default=0)
    p.add_argument("--parts", default="mmap,speed,ask,app,quiz,memory")
    p.add_argument("--prompt-tokens", type=int, default=128)
    p.add_argument("--gen-tokens", type=int, default=32)
    p.add_argument("--reps", type=int, default=2, help="llama-bench repetitions")
    p.add_argument("--scale", type=int, default=1, help="scaled-down shapes (a quick try)")
    p.add_argument("--json-out", type=Path, default=None)
    p.add_argument("--llama-bench", type=Path, default=None, help="default: the one built here")
    p.add_argument("--where", default=None, help="the machine, in words (default: the CPU)")
    p.add_argument("--markdown", type=Path, nargs="+", help="print saved reports as tables")
    p.add_argument("--_child", type=Path, default=None, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.threads is None:
        from baichuan_tui.engine.threads import physical_cores

        a.threads = physical_cores()
    parts = set(filter(None, a.parts.split(",")))
    if a.markdown:
        print(markdown([json.loads(path.read_text()) for path in a.markdown]))
        return 0
    if a._child is not None:
        if "load" in parts:
            doc = load_child(a._child, a.threads, a.gpu_layers, "no-mmap" not in parts)
        else:
            doc = engine_child(a._child, a.threads, a.gpu_layers, parts)
        print(json.dumps(doc))
        return 0
    reports = []
    machine = machine_line(a.threads, a.gpu_layers, a.where)
    for name in a.shape or ["baichuan-7b"]:
        sh = shapes.shape(name, a.scale)
        quants = a.quant or ["Q4_K_M"]
        files = shapes.ensure(sh, quants, threads=a.threads)
        for quant, model in zip(quants, files, strict=True):
            print(f"{sh.name} {quant.upper()}: {model}", file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            rep = bench_file(sh, quant, model, a, parts)
            rep["wall_s"] = round(time.perf_counter() - t0, 1)
            reports.append(rep)
            if a.json_out:  # written after each file: a long run keeps what it measured
                doc = {"machine": machine, "threads": a.threads, "reports": reports}
                a.json_out.write_text(json.dumps(doc, indent=1) + "\n")
    print_tables(reports, machine)
    return 0


if __name__ == "__main__":
    sys.exit(main())
