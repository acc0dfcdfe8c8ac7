"""Options that several commands share: ``--model`` and its load/sampling flags, ``--offline``.

argparse only (``--help`` stays fast). Subcommands get the options with suppressed defaults, so
``baichuan-chat --model M ask`` and ``baichuan-chat ask --model M`` mean the same.
"""

from __future__ import annotations

import argparse
from typing import Any, Protocol

from baichuan_tui.engine.family import TEMPLATES

TEMPLATE_CHOICES = ("auto", *TEMPLATES)
"""``--template``: ``auto`` (detected from the file) or one of the engine's templates."""


class _Arguments(Protocol):
    """A parser or an argument group."""

    def add_argument(self, *names: str, **kw: Any) -> Any: ...


class _SuppressDefaults:
    """Adds arguments with ``default=SUPPRESS`` (a subcommand's copy of a top-level option)."""

    def __init__(self, target: _Arguments) -> None:
        self._target = target

    def add_argument(self, *names: str, **kw: Any) -> None:
        kw["default"] = argparse.SUPPRESS
        self._target.add_argument(*names, **kw)


def _gpu_layers(value: str) -> str:
    if value != "auto":
        try:
            int(value)
        except ValueError:
            raise argparse.ArgumentTypeError("expected a number of layers or 'auto'") from None
    return value


def add_common_options(p: argparse.ArgumentParser) -> None:
    """``--offline`` and ``--debug`` on a subcommand (the top level's value unless given)."""
    p.add_argument(
        "--offline", action="store_true", default=argparse.SUPPRESS, help="never touch the network"
    )
    p.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )


def add_model_options(
    p: argparse.ArgumentParser, *, sampling: bool = True, top: bool = False
) -> None:
    """--model and the load/sampling options shared by ask, bench, quiz run and the app."""
    if not top:
        add_common_options(p)

    def group(title: str) -> _Arguments:
        g = p.add_argument_group(title)
        return g if top else _SuppressDefaults(g)

    g = group("model")
    g.add_argument("--model", "-m", help="a .gguf path or catalog name (baichuan2-7b-chat:Q8_0)")
    g.add_argument(
        "--template",
        choices=TEMPLATE_CHOICES,
        default="auto",
        help="prompt template (default: detected from the file)",
    )
    g.add_argument("--n-ctx", type=int, default=None, help="context length (default 4096)")
    g.add_argument(
        "--threads", type=int, default=None, help="CPU threads (default: physical cores)"
    )
    g.add_argument(
        "--gpu-layers",
        type=_gpu_layers,
        default=None,
        help="layers to offload to the GPU: N, -1 for all, or 'auto' (default: auto)",
    )
    g.add_argument("--no-mmap", action="store_true", help="read the file instead of mapping it")
    if not sampling:
        return
    s = group("sampling (defaults: the model family's generation_config)")
    s.add_argument("--temperature", type=float)
    s.add_argument("--top-p", type=float)
    s.add_argument("--top-k", type=int)
    s.add_argument("--min-p", type=float)
    s.add_argument("--repeat-penalty", type=float)
    s.add_argument("--presence-penalty", type=float)
    s.add_argument("--frequency-penalty", type=float)
    s.add_argument("--seed", type=int)
    s.add_argument("--max-tokens", type=int)
    s.add_argument("--system", help="system message")
    s.add_argument("--stop", action="append", default=[], help="stop string (repeatable)")
