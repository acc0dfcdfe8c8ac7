"""Streaming wall time: the app in a real terminal (tmux) vs ``ask``, same model and settings.

    .venv/bin/python tests/ui/bench_streaming.py [--model PATH] [--tokens 2000] [--repeats 2]
        [--threads N]

``ask``: time to first token + generation time (its ``--json`` numbers, i.e. the streaming
part of its wall time); the whole command's wall time (start, load, stream, exit) is printed
beside it. App: from pressing Enter until the finished reply is stored (the
history polled every 50 ms; the screen is checked after), and split by the app's own trace
(``BAICHUAN_CHAT_TRACE``): Enter → last token, and last token → the reply's last screen
change (the cost of ending a reply). Runs alternate, so machine noise
hits both. Not collected by pytest.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path[:0] = [str(HERE.parents[1]), str(HERE.parents[1] / "e2e")]

from test_tmux import Tmux  # noqa: E402

PROMPT = "请写一篇很长的故事"


THREADS: list[str] = []
TRACE = Path(tempfile.gettempdir()) / f"bc-bench-trace-{os.getpid()}.jsonl"


def settings(model: str, tokens: int, gpu_layers: int = 0) -> list[str]:
    return [
        "--model",
        model,
        "--n-ctx",
        "4096",
        "--max-tokens",
        str(tokens),
        "--temperature",
        "0",
        "--seed",
        "1",
        "--gpu-layers",
        str(gpu_layers),
        *THREADS,
    ]


def run_ask(model: str, tokens: int) -> dict:
    app = Path(sys.executable).with_name("baichuan-chat")
    t0 = time.perf_counter()
    out = subprocess.run(
        [str(app), "ask", *settings(model, tokens), "--json", PROMPT],
        capture_output=True,
        text=True,
        check=True,
    )
    command_s = time.perf_counter() - t0
    doc = json.loads(out.stdout)
    gen_s = (doc["completion_tokens"] - 1) / doc["gen_tokens_per_s"]
    return {
        "tokens": doc["completion_tokens"],
        "wall_s": doc["ttft_s"] + gen_s,
        "tok_s": doc["gen_tokens_per_s"],
        "command_s": command_s,
    }


def stat_cpu(stat: Path) -> float:
    """User + system CPU seconds from a /proc ``stat`` file (a process's or a thread's)."""
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main_thread_cpu(pid: int) -> float:
    """CPU seconds of the app's main (UI) thread."""
    return stat_cpu(Path(f"/proc/{pid}/task/{pid}/stat"))


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds per thread of process ``pid``, keyed by name/tid (the main one: "main (UI)")."""
    out: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            cpu = stat_cpu(task / "stat")
        except OSError:
            continue
        out["main (UI)" if task.name == str(pid) else f"{name}/{task.name}"] = cpu
    return out


def _finished_replies() -> int:
    """How many finished replies the history holds (one cheap read-only query)."""
    import sqlite3

    from baichuan_tui import locations

    db = sqlite3.connect(f"file:{locations.database_file()}?mode=ro", uri=True)
    try:
        return db.execute(
            "SELECT count(*) FROM messages WHERE role = 'assistant' AND finish_reason IS NOT NULL"
        ).fetchone()[0]
    finally:
        db.close()


def run_app(
    model: str, tokens: int, *, title: str = "Baichuan2-7B-Chat", gpu_layers: int = 0
) -> dict:
    """One streamed reply in the app; ``title`` is the model's name the status bar shows."""
    term = Tmux()
    try:
        term.launch(*settings(model, tokens, gpu_layers))
        term.wait(re.escape(title) + " │", timeout=120)
        term.type(PROMPT)
        pid = term.pid()
        cpu0 = main_thread_cpu(pid)
        server = int(term.tmux("display-message", "-p", "#{pid}").strip())
        server_stat = Path(f"/proc/{server}/stat")
        server0 = stat_cpu(server_stat)
        before = _finished_replies()
        TRACE.write_text("")
        t0 = time.perf_counter()
        t0_wall = time.time()
        term.keys("Enter")
        deadline = t0 + 600
        # Poll the history (a cheap SQLite read) for the finished reply rather than the pane:
        # spawning `tmux capture-pane` 50 times a second would steal CPU from the app itself.
        while _finished_replies() == before and time.perf_counter() < deadline:
            time.sleep(0.05)
        wall = time.perf_counter() - t0
        term.wait("cut at max_tokens", timeout=30)  # and it is on screen
        marks = {}
        deadline = time.perf_counter() + 10
        while "reply_drawn" not in marks and time.perf_counter() < deadline:
            time.sleep(0.05)
            for line in TRACE.read_text().splitlines():
                mark = json.loads(line)
                marks[mark["event"]] = mark["t"]
        ui_cpu = main_thread_cpu(pid) - cpu0
        if os.environ.get("BENCH_VERBOSE"):
            print(
                f"  tmux server {stat_cpu(server_stat) - server0:.2f} s CPU; app threads "
                f"(whole run): {thread_cpu(pid)}",
                flush=True,
            )
        term.keys("C-q")
        term.wait_gone()
    finally:
        term.close()
    from baichuan_tui.store.conversations import Store

    with Store() as store:
        conv = store.list()[0]
        stats = store.messages(conv.id)[-1].stats or {}
    return {
        "tokens": stats.get("completion_tokens"),
        "wall_s": wall,
        "tok_s": stats.get("gen_tokens_per_s"),
        "ui_cpu_s": ui_cpu,
        "to_last_token_s": marks["last_token"] - t0_wall,
        "last_token_to_drawn_s": marks["reply_drawn"] - marks["last_token"],
    }


def main() -> None:
    sys.path.insert(0, str(HERE.parents[1]))
    from tiny_models import tiny_model

    p = argparse.ArgumentParser()
    p.add_argument("--model", default=None)
    p.add_argument("--tokens", type=int, default=2000)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--threads", default=None, help="--threads for both (default: theirs)")
    args = p.parse_args()
    if args.threads:
        THREADS[:] = ["--threads", args.threads]
    model = args.model or str(tiny_model("b2-7b-chat"))
    home = tempfile.mkdtemp(prefix="bc-bench-")
    for var, sub in (("BAICHUAN_CHAT_DATA_DIR", "data"), ("BAICHUAN_CHAT_CONFIG_DIR", "cfg")):
        os.environ[var] = f"{home}/{sub}"
    os.environ["BAICHUAN_CHAT_TRACE"] = str(TRACE)
    rows = []
    for i in range(args.repeats):
        a = run_ask(model, args.tokens)
        b = run_app(model, args.tokens)
        rows.append((a, b))
        print(
            f"run {i + 1}: ask {a['wall_s']:.2f} s ({a['tokens']} tok, {a['tok_s']:.1f} tok/s)"
            f" | app {b['wall_s']:.2f} s ({b['tokens']} tok, {b['tok_s']} tok/s, UI thread "
            f"{b['ui_cpu_s']:.2f} s CPU)"
            f" | ratio {b['wall_s'] / a['wall_s']:.3f}"
            f" | app: Enter→last token {b['to_last_token_s']:.2f} s "
            f"({b['to_last_token_s'] / a['wall_s']:.3f}× ask), last token→last screen change "
            f"{b['last_token_to_drawn_s'] * 1000:.0f} ms",
            flush=True,
        )
    ask = sum(a["wall_s"] for a, _ in rows)
    app = sum(b["wall_s"] for _, b in rows)
    command = sum(a["command_s"] for a, _ in rows)
    ratios = sorted(b["wall_s"] / a["wall_s"] for a, b in rows)
    tails = sorted(b["last_token_to_drawn_s"] * 1000 for _, b in rows)
    gen = sorted(b["to_last_token_s"] / a["wall_s"] for a, b in rows)
    print(
        f"Enter→last token, app/ask (median): {statistics.median(gen):.3f}; "
        f"last token→last screen change (median): {statistics.median(tails):.0f} ms"
    )
    print(
        f"total: ask {ask:.2f} s, app {app:.2f} s, app/ask = {app / ask:.3f} "
        f"(median of runs {statistics.median(ratios):.3f})"
    )
    print(
        f"whole `ask` command (start, load, stream, exit) {command:.2f} s: "
        f"app/ask command = {app / command:.3f}"
    )


if __name__ == "__main__":
    main()
