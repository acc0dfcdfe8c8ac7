"""Made-up quiz questions written in each benchmark's exact Hub layout (a helper, not tests).

Nothing here comes from a real benchmark: questions are generated from a seeded word pool.
"""

from __future__ import annotations

import csv
import io
import json
import random
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

LETTERS = "ABCD"
_ZH_TEXT = (
    "我们 他们 中国 北京 今天 明天 学生 老师 世界 人民 问题 工作 "
    "朋友 时间 电话 学习 生活 语言 模型 中文 天气 东西 地方 大家 "
    "自己 已经 现在 因为 所以 但是 如果 知道 可以 没有 猫 狗 龙 "
    "熊 鹿 鹤 蝶 鲸 水 山 河 书 车 花 茶 饭"
)
_ZH = _ZH_TEXT.split()
_EN_TEXT = (
    "river mountain engine value system model number theory "
    "market signal water light energy cell law court price "
    "policy data graph code field force wave"
)
_EN = _EN_TEXT.split()


def zh_text(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(_ZH) for _ in range(n))


def en_text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(_EN) for _ in range(n))


def zh_question(rng: random.Random, i: int, length: int = 12) -> dict:
    """A C-Eval/CMMLU style row: question, A-D, answer letter, explanation."""
    return {
        "question": f"下列关于{zh_text(rng, 2)}的说法，正确的是{zh_text(rng, length)}？",
        **{L: zh_text(rng, rng.randint(2, 6)) for L in LETTERS},
        "answer": rng.choice(LETTERS),
        "explanation": f"因为{zh_text(rng, 5)}。",
        "id": i,
    }


def en_question(rng: random.Random, length: int = 10) -> dict:
    return {
        "question": f"Which {en_text(rng, 2)} holds when {en_text(rng, length)}?",
        "choices": [en_text(rng, rng.randint(1, 4)) for _ in LETTERS],
        "answer": rng.randrange(4),
    }


def _write_parquet(path: Path, rows: list[dict], schema: pa.Schema) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cols = {f.name: [r[f.name] for r in rows] for f in schema}
    pq.write_table(pa.table(cols, schema=schema), path)


CEVAL_SCHEMA = pa.schema(
    [
        ("id", pa.int32()),
        ("question", pa.string()),
        ("A", pa.string()),
        ("B", pa.string()),
        ("C", pa.string()),
        ("D", pa.string()),
        ("answer", pa.string()),
        ("explanation", pa.string()),
    ]
)
MMLU_SCHEMA = pa.schema(
    [
        ("question", pa.string()),
        ("subject", pa.string()),
        ("choices", pa.list_(pa.string())),
        ("answer", pa.int64()),
    ]
)
AGIEVAL_SCHEMA = pa.schema(
    [("query", pa.string()), ("choices", pa.list_(pa.string())), ("gold", pa.list_(pa.int64()))]
)


def write_ceval(
    root: Path,
    subjects: dict[str, int],
    *,
    seed: int = 0,
    length: int = 12,
    splits: tuple[str, ...] = ("dev", "val", "test"),
) -> dict[str, dict]:
    """``{subject}/{split}-00000-of-00001.parquet``; test answers are empty as on the Hub."""
    rng = random.Random(seed)
    out: dict[str, dict] = {}
    for subject, n in subjects.items():
        out[subject] = {}
        for split in splits:
            rows = [zh_question(rng, i, length) for i in range(5 if split == "dev" else n)]
            if split == "test":
                for r in rows:
                    r["answer"], r["explanation"] = "", ""
            elif split == "val":
                for r in rows:
                    r["explanation"] = ""
            _write_parquet(root / subject / f"{split}-00000-of-00001.parquet", rows, CEVAL_SCHEMA)
            out[subject][split] = rows
    return out


def write_mmlu(
    root: Path,
    subjects: dict[str, int],
    *,
    seed: int = 1,
    length: int = 10,
    splits: tuple[str, ...] = ("dev", "validation", "test"),
) -> dict[str, dict]:
    rng = random.Random(seed)
    out: dict[str, dict] = {}
    for subject, n in subjects.items():
        out[subject] = {}
        for split in splits:
            rows = [
                {**en_question(rng, length), "subject": subject}
                for _ in range(5 if split == "dev" else n)
            ]
            _write_parquet(root / subject / f"{split}-00000-of-00001.parquet", rows, MMLU_SCHEMA)
            out[subject][split] = rows
    return out


def cmmlu_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["", "Question", "A", "B", "C", "D", "Answer"])
    for i, r in enumerate(rows):
        w.writerow([i, r["Question"], r["A"], r["B"], r["C"], r["D"], r["Answer"]])
    return buf.getvalue()


def write_cmmlu(
    root: Path, subjects: dict[str, int], *, seed: int = 2, layout: str = "zip"
) -> dict[str, dict]:
    """``cmmlu_v1_0_1.zip`` holding ``dev/`` and ``test/{subject}.csv`` (the Hub's main);
    ``layout="dir"`` unpacks it, ``"parquet"`` writes the parquet-converter layout."""
    rng = random.Random(seed)
    out: dict[str, dict] = {}
    files: dict[str, str] = {}
    for subject, n in subjects.items():
        out[subject] = {}
        for split in ("dev", "test"):
            rows = []
            for _ in range(5 if split == "dev" else n):
                q = zh_question(rng, 0)
                rows.append(
                    {"Question": q["question"], **{L: q[L] for L in LETTERS}, "Answer": q["answer"]}
                )
            out[subject][split] = rows
            files[f"{split}/{subject}.csv"] = cmmlu_csv(rows)
            if layout == "parquet":
                schema = pa.schema(
                    [(c, pa.string()) for c in ("Question", "A", "B", "C", "D", "Answer")]
                )
                _write_parquet(root / subject / split / "0000.parquet", rows, schema)
    root.mkdir(parents=True, exist_ok=True)
    if layout == "zip":
        with zipfile.ZipFile(root / "cmmlu_v1_0_1.zip", "w") as zf:
            for name, text in files.items():
                zf.writestr(name, text)
    elif layout == "dir":
        for name, text in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text, "utf-8")
    return out


def agieval_row(rng: random.Random, *, n_choices: int = 4, gold: list[int] | None = None) -> dict:
    opts = [f"({'ABCDE'[i]}){zh_text(rng, 3)}" for i in range(n_choices)]
    query = f"问题：{zh_text(rng, 14)}？ 选项：{' '.join(opts)}\n答案：从A到D, 我们应选择"
    return {
        "query": query,
        "choices": opts,
        "gold": gold if gold is not None else [rng.randrange(n_choices)],
    }


def write_agieval(root: Path, tasks: dict[str, int], *, seed: int = 3) -> dict[str, list]:
    """``agieval-{task}/data/test-00000-of-00001.parquet`` per task, with a few rows the
    filter must drop (two golds, five choices)."""
    rng = random.Random(seed)
    out = {}
    for task, n in tasks.items():
        rows = [agieval_row(rng) for _ in range(n + 5)]
        rows.insert(2, agieval_row(rng, gold=[0, 2]))
        rows.insert(7, agieval_row(rng, n_choices=5))
        _write_parquet(
            root / f"agieval-{task}" / "data" / "test-00000-of-00001.parquet", rows, AGIEVAL_SCHEMA
        )
        out[task] = rows
    return out


def write_gaokao(root: Path, files: dict[str, int], *, seed: int = 4) -> dict[str, list]:
    """GAOKAO-Bench ``Data/Objective_Questions/{stem}.json``; some items have several answers."""
    rng = random.Random(seed)
    out = {}
    for stem, n in files.items():
        items = []
        for i in range(n + 5):
            opts = " ".join(f"{L}．{zh_text(rng, 3)}" for L in LETTERS)
            answer = [rng.choice(LETTERS)] if i % 4 != 3 else ["A", "C"]
            items.append(
                {
                    "year": "2020",
                    "category": "（新课标）",
                    "question": f"{i + 1}．（5 分）{zh_text(rng, 12)}（　　）\n{opts}\n",
                    "standard_answer": answer,
                    "analysis": f"解：{zh_text(rng, 6)}。",
                    "index": i,
                    "score": 5,
                }
            )
        path = root / "Data" / "Objective_Questions" / f"{stem}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            json.dumps({"keywords": stem, "example": items}, ensure_ascii=False), "utf-8"
        )
        out[stem] = items
    return out
