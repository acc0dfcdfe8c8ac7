"""Helpers shared by the commands: the user's settings, model flags → a load request, sampling
flags, stdin."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from baichuan_tui.errors import UserError
from baichuan_tui.loading import LoadRequest, load
from baichuan_tui.textfiles import decode_input

if TYPE_CHECKING:
    from baichuan_tui.engine.interface import Engine
    from baichuan_tui.engine.sampling import Sampling
    from baichuan_tui.settings import Settings

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


def user_settings() -> Settings:
    """config.toml + ``BAICHUAN_CHAT_*``, as the app reads them; problems are warnings on
    stderr (one line each), never an error."""
    from baichuan_tui import settings

    loaded = settings.load()
    for warning in loaded.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return loaded


def load_request(
    args: argparse.Namespace, *, vocab_only: bool = False, settings: Settings | None = None
) -> LoadRequest:
    """The model flags (``--model``, ``--n-ctx``, ``--gpu-layers``, ``--threads``) as a
    :class:`LoadRequest`; a flag not given takes the user's setting (``default_model``,
    ``n_ctx``, ``gpu_layers``, ``threads`` from config.toml or the environment). With
    ``--server`` (or the ``server`` setting) the model runs there and ``--model`` picks it."""
    s = settings or user_settings()
    n_ctx = getattr(args, "n_ctx", None)
    server = getattr(args, "server", None) or s.server
    if server:
        from baichuan_tui.settings import server_entry

        entry = server_entry(s, server)
        return LoadRequest(
            spec=getattr(args, "model", None),
            offline=bool(getattr(args, "offline", False)),
            template=getattr(args, "template", None),
            vocab_only=vocab_only,
            server=entry.url,
            api_key_env=entry.api_key_env,
            loras=tuple(getattr(args, "lora", None) or ()),
        )
    return LoadRequest(
        spec=getattr(args, "model", None) or s.default_model,
        offline=bool(getattr(args, "offline", False)),
        template=getattr(args, "template", None),
        n_ctx=n_ctx or s.n_ctx,
        n_ctx_asked=n_ctx is not None,
        gpu_layers=getattr(args, "gpu_layers", None) or s.gpu_layers,
        threads=getattr(args, "threads", None) or s.threads,
        use_mmap=False if getattr(args, "no_mmap", False) else None,
        vocab_only=vocab_only,
        loras=tuple(getattr(args, "lora", None) or ()),
    )


def load_engine(args: argparse.Namespace, *, vocab_only: bool = False) -> Engine:
    """Validate and load the model named by ``args`` in this process (one clear error on a bad
    file), or connect to its server; the ``auto`` GPU-layer choice and a plain-http warning
    are said on stderr."""
    return load(load_request(args, vocab_only=vocab_only), say=say_on_stderr)


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
    """The prompt argument, else stdin; text in another encoding is decoded (see
    :func:`decode_input`), never passed on with undecodable bytes."""
    if text is not None:
        try:
            text.encode("utf-8")
            return text
        except UnicodeEncodeError:  # bytes the locale could not decode (surrogate escapes)
            return decode_input(os.fsencode(text), "the prompt argument")
    if sys.stdin is None or sys.stdin.isatty():
        raise UserError("no prompt given", "pass it as an argument or pipe it on stdin")
    raw = getattr(sys.stdin, "buffer", None)
    return sys.stdin.read() if raw is None else decode_input(raw.read(), "stdin")
