"""Helpers shared by the commands: find the model, load it, read sampling flags."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from baichuan_tui.errors import ModelNotFound, UserError

if TYPE_CHECKING:
    from baichuan_tui.engine.llama import LlamaEngine
    from baichuan_tui.engine.sampling import Sampling

DEFAULT_MODEL = "baichuan2-7b-chat:Q4_K_M"
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


def looks_like_path(spec: str) -> bool:
    return spec.endswith(".gguf") or "/" in spec or "\\" in spec or Path(spec).exists()


def resolve_model(spec: str | None, *, offline: bool) -> Path:
    """A model path from a .gguf path or a catalog name (downloaded and verified; its
    NormHead-repaired copy when ``models fix`` made one)."""
    spec = spec or DEFAULT_MODEL
    if looks_like_path(spec):
        return Path(spec).expanduser()
    try:
        from baichuan_tui.hub.download import resolve_model as hub_resolve
    except ImportError:  # pragma: no cover - the hub package ships with the app
        raise ModelNotFound(f"model '{spec}' is not a file", "pass a path to a .gguf") from None
    from baichuan_tui.repair.notice import prefer_repaired

    return prefer_repaired(hub_resolve(spec, offline=offline))


def gpu_layers(
    args: argparse.Namespace, model: Path, n_ctx: int, say: Callable[[str], None] | None = None
) -> int:
    """``--gpu-layers`` as a number; ``auto`` (the default) offloads what fits and ``say``s how
    many layers that is (the CLI prints it on stderr; the app shows it in its status bar)."""
    value = getattr(args, "gpu_layers", None) or "auto"
    if value != "auto":
        return int(value)
    from baichuan_tui.engine.gguf_check import inspect_gguf
    from baichuan_tui.hub import fit

    machine = fit.machine_facts()
    if not machine.free_vram:
        return 0
    est = fit.estimate(fit.numbers_from_gguf(inspect_gguf(model)), n_ctx)
    layers = fit.gpu_layers_that_fit(est, machine.free_vram)
    if say:
        say(f"gpu layers auto: {layers} of {est.n_layer + 1} offloaded")
    return layers


def load_engine(args: argparse.Namespace, *, vocab_only: bool = False) -> LlamaEngine:
    """Validate and load the model named by ``args`` (one clear error on a bad file)."""
    from baichuan_tui.engine.llama import LlamaEngine, LoadOptions

    path = resolve_model(getattr(args, "model", None), offline=args.offline)
    n_ctx = getattr(args, "n_ctx", None) or 4096
    if n_ctx < 16:
        raise UserError(f"--n-ctx {n_ctx} is too small", "use at least 16 tokens")
    options = LoadOptions(
        n_ctx=n_ctx,
        n_threads=getattr(args, "threads", None),
        n_gpu_layers=0 if vocab_only else gpu_layers(args, path, n_ctx, say=_to_stderr),
        use_mmap=not getattr(args, "no_mmap", False),
        vocab_only=vocab_only,
    )
    template = getattr(args, "template", None)
    return LlamaEngine(path, options, template=template)


def _to_stderr(line: str) -> None:
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
