#!/usr/bin/env python3
"""Questions/s of a 5-shot quiz with and without prefix reuse (issue 5 wants >= 2x).

Writes a made-up C-Eval-layout dataset with realistic lengths (questions of ~60-120 characters,
options of ~8-24, five dev shots per subject), scores it with the KV cache of each subject's
header + shots reused and with ``--no-prefix-cache``, checks the predictions are identical and
prints both rates and their ratio::

    python scripts/bench_quiz.py [--model PATH] [--subjects 3] [--questions 20] [--json]

Without ``--model`` it uses the tiny generated Baichuan2 model from tests/tiny_models.py.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORDS_TEXT = (
    "我们 他们 中国 北京 今天 明天 学生 老师 世界 人民 问题 工作 "
    "朋友 时间 电话 学习 生活 语言 模型 中文 天气 东西 地方 大家 "
    "自己 已经 现在 因为 所以 但是 如果 知道 可以 没有 发展 经济 "
    "社会 国家 系统 方法 理论 技术 管理 计算 网络 数据 结构 规定 "
    "法律 原则"
)
WORDS = WORDS_TEXT.split()


def _text(rng: random.Random, chars: int) -> str:
    out = ""
    while len(out) < chars:
        out += rng.choice(WORDS)
    return out


def write_dataset(root: Path, subjects: int, questions: int, seed: int = 0) -> list[str]:
    """C-Eval's Hub layout: ``{subject}/{dev,val}-00000-of-00001.parquet``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from baichuan_tui.quiz.subjects import CEVAL

    rng = random.Random(seed)
    names = sorted(CEVAL)[:subjects]
    for name in names:
        for split, n in (("dev", 5), ("val", questions)):
            rows = [
                {
                    "id": i,
                    "question": f"关于{_text(rng, 4)}，下列说法正确的是"
                    f"{_text(rng, rng.randint(60, 120))}（　　）",
                    **{L: _text(rng, rng.randint(8, 24)) for L in "ABCD"},
                    "answer": rng.choice("ABCD"),
                    "explanation": "",
                }
                for i in range(n)
            ]
            (root / name).mkdir(parents=True, exist_ok=True)
            cols = {k: [r[k] for r in rows] for k in rows[0]}
            pq.write_table(pa.table(cols), root / name / f"{split}-00000-of-00001.parquet")
    return names


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, help="a .gguf (default: the tiny test model)")
    p.add_argument("--subjects", type=int, default=3)
    p.add_argument("--questions", type=int, default=20, help="questions per subject")
    p.add_argument("--shots", type=int, default=5)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--n-ctx", type=int, default=4096)
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)

    sys.path.insert(0, str(REPO / "tests"))
    from baichuan_tui.engine.llama import LlamaEngine, LoadOptions
    from baichuan_tui.quiz import datasets, protocols, runner

    if a.model is None:
        from tiny_models import tiny_model

        a.model = tiny_model("b2-7b-chat")
    with tempfile.TemporaryDirectory() as tmp:
        write_dataset(Path(tmp), a.subjects, a.questions)
        data = datasets.load("ceval", split="val", data=Path(tmp), shots=a.shots)
    protocol = protocols.get_protocol("ceval")
    rates: dict[str, float] = {}
    preds: dict[str, list[str]] = {}
    with LlamaEngine(a.model, LoadOptions(n_ctx=a.n_ctx, n_threads=a.threads)) as engine:
        scorer = runner.EngineScorer(engine)
        warm = datasets.Dataset(data.benchmark, data.split, [data.subjects[0]], data.source)
        runner.run_quiz(warm, protocol, scorer)  # graph allocation, page-in
        for mode, reuse in (("prefix_cache", True), ("no_prefix_cache", False)):
            engine.reset_cache()
            t0 = time.perf_counter()
            outcome = runner.run_quiz(data, protocol, scorer, prefix_cache=reuse)
            rates[mode] = outcome.n / (time.perf_counter() - t0)
            preds[mode] = [q.prediction for s in outcome.subjects for q in s.questions]
        tokens = [q.tokens for s in outcome.subjects for q in s.questions]
    ratio = rates["prefix_cache"] / rates["no_prefix_cache"]
    doc = {
        "model": str(a.model),
        "questions": len(preds["prefix_cache"]),
        "shots": a.shots,
        "mean_prompt_tokens": round(sum(tokens) / len(tokens), 1),
        "questions_per_s": {k: round(v, 3) for k, v in rates.items()},
        "speedup": round(ratio, 2),
        "identical_predictions": preds["prefix_cache"] == preds["no_prefix_cache"],
    }
    if a.json:
        print(json.dumps(doc))
    else:
        print(
            f"{doc['questions']} questions, {a.shots}-shot, {doc['mean_prompt_tokens']} prompt "
            f"tokens on average, model {Path(a.model).name}"
        )
        print(f"prefix reuse      {rates['prefix_cache']:8.2f} questions/s")
        print(f"--no-prefix-cache {rates['no_prefix_cache']:8.2f} questions/s")
        print(
            f"speedup {ratio:.2f}x (issue 5 wants >= 2x); identical predictions: "
            f"{doc['identical_predictions']}"
        )
    return 0 if doc["identical_predictions"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
