"""Helpers shared by the commands: model flags → a load request, sampling flags, stdin."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from baichuan_tui.errors import UserError
from baichuan_tui.loading import LoadRequest, load_in_process

if TYPE_CHECKING:
    from baichuan_tui.engine.llama import LlamaEngine
    from baichuan_tui.engine.sampling import Sampling

SAMPLING_FLAGS = (
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "repeat_penalty",
    "presence_penalty",
    "frequency_penalty",
    "seed",
    "max_tokens",
)


def load_request(args: argparse.Namespace, *, vocab_only: bool = False) -> LoadRequest:
    """The model flags (``--model``, ``--n-ctx``, ``--gpu-layers``…) as a :class:`LoadRequest`."""
    return LoadRequest(
        spec=getattr(args, "model", None),
        offline=bool(getattr(args, "offline", False)),
        template=getattr(args, "template", None),
        n_ctx=getattr(args, "n_ctx", None) or 4096,
        gpu_layers=getattr(args, "gpu_layers", None) or "auto",
        threads=getattr(args, "threads", None),
        use_mmap=not getattr(args, "no_mmap", False),
        vocab_only=vocab_only,
    )


def load_engine(args: argparse.Namespace, *, vocab_only: bool = False) -> LlamaEngine:
    """Validate and load the model named by ``args`` in this process (one clear error on a bad
    file); the ``auto`` GPU-layer choice is said on stderr."""
    return load_in_process(load_request(args, vocab_only=vocab_only), say=say_on_stderr)


def say_on_stderr(line: str) -> None:
    print(line, file=sys.stderr)


def sampling_from_args(args: argparse.Namespace, defaults: Sampling) -> Sampling:
    """The family defaults with every flag the user gave applied and range-checked."""
    s = defaults.merged(**{k: getattr(args, k, None) for k in SAMPLING_FLAGS})
    problems = s.validate()
    if problems:
        raise UserError("bad sampling settings: " + "; ".join(problems))
    return s


def read_stdin_or(text: str | None) -> str:
    if text is not None:
        return text
    if sys.stdin is None or sys.stdin.isatty():
        raise UserError("no prompt given", "pass it as an argument or pipe it on stdin")
    return sys.stdin.read()
