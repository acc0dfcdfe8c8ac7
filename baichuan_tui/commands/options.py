"""Options that several commands share: ``--model`` and its load/sampling flags, ``--offline``.

argparse only (``--help`` stays fast). Subcommands get the options with suppressed defaults, so
``baichuan-chat --model M ask`` and ``baichuan-chat ask --model M`` mean the same.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, Protocol

from baichuan_tui.engine.family import TEMPLATES
from baichuan_tui.engine.limits import MIN_CTX
from baichuan_tui.engine.lora import Lora, parse_lora
from baichuan_tui.engine.sampling import in_range, range_text
from baichuan_tui.errors import UserError

TEMPLATE_CHOICES = ("auto", *TEMPLATES)
"""``--template``: ``auto`` (detected from the file) or one of the engine's templates."""


SAMPLING_OPTIONS: dict[str, type[int] | type[float]] = {
    "--temperature": float,
    "--top-p": float,
    "--top-k": int,
    "--min-p": float,
    "--repeat-penalty": float,
    "--presence-penalty": float,
    "--frequency-penalty": float,
    "--seed": int,
    "--max-tokens": int,
}
"""The sampling flags and their value types (each checked against its range when parsed)."""


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
            n = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError("expected a number of layers or 'auto'") from None
        if n < -1:
            raise argparse.ArgumentTypeError(f"must be -1 (all), 0 or more, or 'auto', not {n}")
    return value


def at_least(low: int) -> Callable[[str], int]:
    """An argparse type: a whole number ``>= low`` (out of range is a usage error)."""

    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
        if n < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, not {n}")
        return n

    return parse


def sampling_value(name: str, kind: type[int] | type[float]) -> Callable[[str], int | float]:
    """An argparse type for the sampling setting ``name``: parsed and range-checked against
    :data:`engine.sampling.RANGES`, so a bad value stops before any model loads (exit 2)."""

    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, not {text!r}") from None
        if not in_range(name, value):
            raise argparse.ArgumentTypeError(f"must be {range_text(name)}, not {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in "invalid int value"
    return parse


def add_common_options(p: argparse.ArgumentParser) -> None:
    """``--offline`` and ``--debug`` on a subcommand (the top level's value unless given)."""
    p.add_argument(
        "--offline", action="store_true", default=argparse.SUPPRESS, help="never touch the network"
    )
    p.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )


def _lora(text: str) -> Lora:
    try:
        return parse_lora(text)
    except UserError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


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
        "--server",
        metavar="URL|NAME",
        help="run the model on a llama-server (a URL or a [servers.NAME] in config.toml)",
    )
    g.add_argument(
        "--template",
        choices=TEMPLATE_CHOICES,
        default="auto",
        help="prompt template (default: detected from the file)",
    )
    g.add_argument(
        "--n-ctx", type=at_least(MIN_CTX), default=None, help="context length (default 4096)"
    )
    g.add_argument(
        "--threads", type=at_least(1), default=None, help="CPU threads (default: physical cores)"
    )
    g.add_argument(
        "--gpu-layers",
        type=_gpu_layers,
        default=None,
        help="layers to offload to the GPU: N, -1 for all, or 'auto' (default: auto)",
    )
    g.add_argument(
        "--no-mmap",
        action="store_true",
        help="read the file instead of mapping it (default: decided per file)",
    )
    g.add_argument(
        "--lora",
        metavar="FILE[:SCALE]",
        action="append",
        type=_lora,
        help="a GGUF LoRA adapter applied on the model (repeatable; SCALE default 1; "
        "made by: convert ADAPTER_DIR --base MODEL)",
    )
    if not sampling:
        return
    s = group("sampling (defaults: the model family's generation_config)")
    for flag, kind in SAMPLING_OPTIONS.items():
        name = flag.removeprefix("--").replace("-", "_")
        s.add_argument(flag, type=sampling_value(name, kind), help=range_text(name))
    s.add_argument("--system", help="system message")
    s.add_argument("--stop", action="append", default=[], help="stop string (repeatable)")
