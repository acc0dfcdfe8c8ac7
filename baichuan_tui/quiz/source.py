"""Where a benchmark's files come from (``--data DIR`` or the HF cache) and which subjects."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from baichuan_tui.errors import UserError, first_line
from baichuan_tui.quiz.schema import Benchmark, Notify


def snapshot(
    repo: str,
    patterns: Sequence[str],
    *,
    offline: bool,
    notify: Notify | None = None,
    licence: str = "",
    ready: Callable[[Path], bool] | None = None,
) -> Path:
    """The repo's files in the HF cache: downloaded on first use, offline afterwards.

    A cached snapshot that ``ready`` finds incomplete (an interrupted download) is completed
    when the network is allowed.
    """
    from huggingface_hub import snapshot_download

    from baichuan_tui import locations
    from baichuan_tui.hub.remote import (
        OFFLINE,
        OFFLINE_HINT,
        check_reachable,
        endpoint,
        is_name_failure,
    )

    cache = locations.hf_hub_cache()
    kw: dict[str, Any] = {
        "repo_type": "dataset",
        "allow_patterns": list(patterns),
        "cache_dir": str(cache),
        "endpoint": endpoint(),
    }
    try:
        cached = Path(snapshot_download(repo, local_files_only=True, **kw))
        if offline or ready is None or ready(cached):
            return cached
    except Exception:  # noqa: BLE001 - not cached yet (any flavour of "not found")
        pass
    if offline:
        raise UserError(
            f"dataset {repo} is not in the Hugging Face cache ({cache}) and the network is off",
            "run once online or pass --data DIR",
        )
    check_reachable()
    if notify:
        notify(f"downloading dataset {repo} ({licence}) into {cache}")
    try:
        return Path(snapshot_download(repo, **kw))
    except Exception as exc:  # noqa: BLE001 - network, auth, missing repo: one line
        if is_name_failure(exc):
            raise UserError(f"{OFFLINE} (dataset {repo})", OFFLINE_HINT) from None
        raise UserError(
            f"could not download dataset {repo} ({first_line(exc)})",
            "check the network or pass --data DIR",
        ) from None


def _unknown_subject(bench: Benchmark, name: str, known: Sequence[str]) -> UserError:
    close = difflib.get_close_matches(name, known, n=3)
    hint = (
        f"did you mean {', '.join(close)}?"
        if close
        else (f"{len(known)} subjects, e.g. {', '.join(list(known)[:4])}")
    )
    return UserError(f"unknown {bench.title} subject '{name}'", hint)


def choose_subjects(
    bench: Benchmark, wanted: Sequence[str] | None, available: Sequence[str], where: str, split: str
) -> list[str]:
    """Requested subjects (in the order given) or all available, in the benchmark's order."""
    if wanted:
        out: list[str] = []
        for name in wanted:
            if name not in bench.subjects and name not in available:
                raise _unknown_subject(bench, name, list(bench.subjects) + list(available))
            if name not in available:
                raise UserError(
                    f"{where} has no {split} split for {bench.title} subject '{name}'",
                    "check the folder or choose other --subjects",
                )
            if name not in out:
                out.append(name)
        return out
    if not available:
        raise UserError(
            f"{where} has no {split} split of {bench.title}",
            "choose another --split, or point --data at a copy as released or as on the Hub "
            f"({bench.repo}; README: Quiz data)",
        )
    known = [s for s in bench.subjects if s in available]
    extra = sorted(s for s in available if s not in bench.subjects)
    order = sorted(known + extra) if bench.sorted_subjects else known + extra
    return order


def subject_title(bench: Benchmark, name: str) -> str:
    return bench.subjects.get(name) or " ".join(name.split("_"))
