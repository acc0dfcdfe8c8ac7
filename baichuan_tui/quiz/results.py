"""Stored runs (one JSON file each in :func:`locations.quiz_runs_dir`), published numbers, exports.

A run keeps the model file, its sha256 and quant, protocol, split, shots, every question's
prediction with its A-D probabilities, and timings, so runs can be compared later.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from baichuan_tui import jsonstate, locations
from baichuan_tui.engine.lora import Lora, with_adapters
from baichuan_tui.errors import UserError

if TYPE_CHECKING:
    from baichuan_tui.quiz.datasets import Dataset
    from baichuan_tui.quiz.protocols import Protocol
    from baichuan_tui.quiz.runner import RunOutcome

VERSION = 1

# shared/specs/quiz-protocols.md, "Published numbers" (5-shot).
PUBLISHED: dict[str, dict[str, str]] = {
    "baichuan-7B": {
        "ceval": "42.8 (test)",
        "mmlu": "42.3",
        "cmmlu": "44.02",
        "gaokao": "36.24",
        "agieval": "34.44",
    },
    "Baichuan-13B-Base": {
        "ceval": "52.4",
        "mmlu": "51.6",
        "cmmlu": "55.3",
        "gaokao": "49.69",
        "agieval": "43.20",
    },
    "Baichuan-13B-Chat": {"ceval": "51.5", "mmlu": "52.1", "cmmlu": "55.8"},
    "Baichuan2-7B-Base": {
        "ceval": "54.00",
        "mmlu": "54.16",
        "cmmlu": "57.07",
        "gaokao": "47.47",
        "agieval": "42.73",
    },
    "Baichuan2-13B-Base": {
        "ceval": "58.10",
        "mmlu": "59.17",
        "cmmlu": "61.97",
        "gaokao": "54.33",
        "agieval": "48.17",
    },
    "Baichuan2-7B-Chat": {"ceval": "54.35 (val)", "mmlu": "52.93", "cmmlu": "54.99"},
    "Baichuan2-13B-Chat": {"ceval": "56.74 (val)", "mmlu": "57.32", "cmmlu": "59.68"},
    "Baichuan2-13B-Chat 4-bit": {"ceval": "56.05 (val)", "mmlu": "56.24", "cmmlu": "58.82"},
}


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def published_model(*names: str | None) -> str | None:
    """The published row matching a model's name or file name (longest match wins)."""
    best: str | None = None
    for name in filter(None, names):
        key = _norm(name)
        for model in PUBLISHED:
            if _norm(model) in key and (best is None or len(_norm(model)) > len(_norm(best))):
                best = model
    return best


def published_value(model: str | None, bench: str) -> str | None:
    return PUBLISHED.get(model or "", {}).get(bench)


# ------------------------------------------------------------------------------- the model
def server_label(url: str) -> str:
    """A server's URL as a run records it: without any ``user:password@``."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))


def remote_where(model: dict[str, Any]) -> str | None:
    """Where a run's model ran when not here: its server, or "remote" for a record that has
    no server but no sha256 either (only a file not on this disk has none); None when local."""
    if model.get("server"):
        return f"remote: {model['server']}"
    return "remote" if model.get("sha256") is None else None


def model_title(model: dict[str, Any]) -> str:
    """How a run's model is named in tables: the file, plus its adapters (``+ a.gguf:0.5``)
    and, for a server's model, ``(remote: URL)``."""
    loras = [Lora(x["path"], float(x["scale"])) for x in model.get("loras") or []]
    where = remote_where(model)
    title = with_adapters(model["file"], loras)
    return f"{title} ({where})" if where else title


# ------------------------------------------------------------------------------- the record
def build_record(
    dataset: Dataset,
    protocol: Protocol,
    outcome: RunOutcome,
    *,
    model: dict[str, Any],
    shots: int,
    n_ctx: int,
    load_s: float = 0.0,
    limit: int | None = None,
) -> dict[str, Any]:
    bench = dataset.benchmark
    pub = published_model(model.get("name"), model.get("file"))
    subjects = {
        s.name: {
            "title": s.title,
            "accuracy": s.accuracy,
            "n": s.n,
            "correct": s.correct,
            "labelled": s.labelled,
            "shots_used": s.shots_used,
            "seconds": round(s.seconds, 3),
        }
        for s in outcome.subjects
    }
    return {
        "version": VERSION,
        "id": None,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "benchmark": bench.name,
        "benchmark_title": bench.title,
        "protocol": protocol.name,
        "protocol_title": protocol.title,
        "split": dataset.split,
        "shots": shots,
        "limit": limit,
        "data_source": dataset.source,
        "licence": bench.licence,
        "model": model,
        "n_ctx": n_ctx,
        "prefix_cache": outcome.prefix_cache,
        "interrupted": outcome.interrupted,
        "published_model": pub,
        "published": published_value(pub, bench.name),
        "timings": {"load_s": round(load_s, 3), "scoring_s": round(outcome.scoring_s, 3)},
        "questions_per_s": outcome.questions_per_s,
        "overall": {
            "accuracy": outcome.accuracy,
            "subject_average": outcome.subject_average,
            "n": outcome.n,
            "correct": sum(s.correct for s in outcome.subjects),
            "labelled": sum(s.labelled for s in outcome.subjects),
        },
        "subjects": subjects,
        "questions": [q.to_dict() for s in outcome.subjects for q in s.questions],
    }


def cli_document(record: dict[str, Any], stored: Path | None = None) -> dict[str, Any]:
    """The ``quiz run --json`` document (shared/specs/cli.md), plus a few extra fields."""
    keep = ("subject", "index", "answer", "prediction", "probs")
    return {
        "benchmark": record["benchmark"],
        "protocol": record["protocol"],
        "split": record["split"],
        "shots": record["shots"],
        "model": record["model"]["path"],
        "overall": {k: record["overall"][k] for k in ("accuracy", "subject_average", "n")},
        "subjects": {
            name: {k: s[k] for k in ("accuracy", "n", "shots_used")}
            for name, s in record["subjects"].items()
        },
        "questions": [{k: q[k] for k in keep} for q in record["questions"]],
        "questions_per_s": record["questions_per_s"],
        "run_id": record["id"],
        "stored": str(stored) if stored else None,
        "interrupted": record["interrupted"],
        "prefix_cache": record["prefix_cache"],
        "n_ctx": record["n_ctx"],
        "licence": record["licence"],
        "model_sha256": record["model"]["sha256"],
        "model_server": record["model"].get("server"),
        "quant": record["model"]["quant"],
        "published": record["published"],
        "submission": record.get("submission"),
    }


def ceval_submission(record: dict[str, Any]) -> dict[str, dict[str, str]]:
    """C-Eval's submission file: ``{subject: {question id: letter}}``."""
    out: dict[str, dict[str, str]] = {}
    for q in record["questions"]:
        qid = q.get("id") if q.get("id") is not None else q["index"]
        out.setdefault(q["subject"], {})[str(qid)] = q["prediction"]
    return out


# ------------------------------------------------------------------------------- storage
def runs_dir() -> Path:
    """Where runs are stored (:func:`locations.quiz_runs_dir`)."""
    return locations.quiz_runs_dir()


def _write_json(path: Path, doc: Any) -> None:
    jsonstate.write(path, doc, indent=1)


def save(record: dict[str, Any]) -> Path:
    """Store a run under a new id (``YYYYmmdd-HHMMSS-bench-model``); returns the file."""
    stem = Path(record["model"]["file"]).stem
    base = f"{time.strftime('%Y%m%d-%H%M%S')}-{record['benchmark']}-{_slug(stem)}"
    run_id, n = base, 1
    while (runs_dir() / f"{run_id}.json").exists():
        n += 1
        run_id = f"{base}-{n}"
    record["id"] = run_id
    path = runs_dir() / f"{run_id}.json"
    _write_json(path, record)
    return path


def write_submission(record: dict[str, Any]) -> Path:
    path = runs_dir() / f"{record['id']}.ceval-submission.json"
    _write_json(path, ceval_submission(record))
    record["submission"] = str(path)
    _write_json(runs_dir() / f"{record['id']}.json", record)
    return path


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:60] or "model"


def all_runs() -> list[dict[str, Any]]:
    """Stored runs, oldest first (unreadable files are skipped)."""
    out = []
    for path in sorted(runs_dir().glob("*.json")):
        if path.name.endswith(".ceval-submission.json"):
            continue
        doc = jsonstate.read(path)
        if doc.get("version") == VERSION:
            out.append(doc)
    return sorted(out, key=lambda r: (r.get("created_at") or "", r.get("id") or ""))


def load_run(ref: str) -> dict[str, Any]:
    """A run by file path, id, unique id prefix, or ``last``."""
    path = Path(ref).expanduser()
    if ref.endswith(".json") and path.is_file():
        try:
            doc: dict[str, Any] = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise UserError(f"{path} is not a stored quiz run ({exc})") from None
        return doc
    runs = all_runs()
    if ref in ("last", "latest") and runs:
        return runs[-1]
    exact = [r for r in runs if r.get("id") == ref]
    found = exact or [r for r in runs if str(r.get("id", "")).startswith(ref)]
    if len(found) == 1:
        return found[0]
    if not found:
        raise UserError(f"no stored quiz run '{ref}'", "see 'baichuan-chat quiz results'")
    raise UserError(
        f"'{ref}' matches {len(found)} runs",
        "give more of the id (see 'baichuan-chat quiz results')",
    )


def summary(record: dict[str, Any]) -> dict[str, Any]:
    """One line of ``quiz results --json``."""
    return {
        "id": record["id"],
        "created_at": record["created_at"],
        "benchmark": record["benchmark"],
        "protocol": record["protocol"],
        "split": record["split"],
        "shots": record["shots"],
        "model": record["model"]["path"],
        "quant": record["model"]["quant"],
        "model_sha256": record["model"]["sha256"],
        "model_server": record["model"].get("server"),
        "overall": record["overall"],
        "questions_per_s": record["questions_per_s"],
        "interrupted": record["interrupted"],
        "published": record["published"],
    }
