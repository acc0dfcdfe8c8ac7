"""From a spec to a loaded engine, for the CLI (in this process) and the app (a child process).

Both local loaders resolve the spec (:func:`~baichuan_tui.library.resolve_model`), plan the
context and the GPU layers (:func:`~baichuan_tui.hub.context.plan_load`: trained-context clamp,
memory check before anything is allocated), validate the file and load it; the engine's
``path`` is the file that was loaded and its ``n_ctx`` the context it got. With ``server`` set,
:func:`load` connects to that llama-server instead (:func:`connect_server`). Blocking: the app
calls them from a worker.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from baichuan_tui.engine.limits import MIN_CTX
from baichuan_tui.engine.lora import Lora, check_adapter
from baichuan_tui.errors import UserError
from baichuan_tui.hub.context import plan_load
from baichuan_tui.library import resolve_model

if TYPE_CHECKING:
    from baichuan_tui.engine.interface import Engine
    from baichuan_tui.engine.llama import LlamaEngine, LoadOptions
    from baichuan_tui.engine.process import EngineProcess
    from baichuan_tui.server.engine import ServerEngine


@dataclass(frozen=True)
class LoadRequest:
    """Which model to load and how."""

    spec: str | None
    """Catalog ``NAME[:QUANT]`` or a .gguf path (None: the catalog default)."""
    offline: bool = False
    template: str | None = None
    """Prompt template (None or ``auto``: from the file)."""
    n_ctx: int = 4096
    """Context length; above the model's trained context it is clamped unless ``n_ctx_asked``."""
    n_ctx_asked: bool = False
    """The user asked for this ``n_ctx`` explicitly (``--n-ctx``): no trained-context clamp
    (the memory check still applies)."""
    gpu_layers: str | int | None = "auto"
    """Layers to offload: ``auto`` (what fits in free VRAM), -1 (all) or a number."""
    threads: int | None = None
    """CPU threads (None: physical cores)."""
    use_mmap: bool | None = None
    """Map the file (None: decided per file, :mod:`baichuan_tui.engine.mapping`)."""
    vocab_only: bool = False
    """Load only the tokenizer (never offloads)."""
    server: str | None = None
    """A llama-server URL: the model runs there (``spec``, if any, picks the server's model)."""
    api_key_env: str | None = None
    """The environment variable holding the server's API key (None: the default one)."""
    loras: tuple[Lora, ...] = ()
    """LoRA adapters applied on the model (local models only)."""


def check_n_ctx(n_ctx: int) -> None:
    """A UserError when ``n_ctx`` is below :data:`MIN_CTX`."""
    if n_ctx < MIN_CTX:
        raise UserError(f"--n-ctx {n_ctx} is too small", f"use at least {MIN_CTX} tokens")


def _prepare(req: LoadRequest, say: Callable[[str], None] | None) -> tuple[Path, LoadOptions]:
    from baichuan_tui.engine.llama import LoadOptions

    path = resolve_model(req.spec, offline=req.offline)
    check_n_ctx(req.n_ctx)
    n_ctx, layers = req.n_ctx, 0
    if not req.vocab_only:
        n_ctx, layers = plan_load(path, n_ctx, req.gpu_layers, asked=req.n_ctx_asked, say=say)
    for lora in req.loras:
        check_adapter(lora.path)
    options = LoadOptions(
        loras=req.loras,
        n_ctx=n_ctx,
        n_threads=req.threads,
        n_gpu_layers=layers,
        use_mmap=req.use_mmap,
        vocab_only=req.vocab_only,
    )
    return path, options


def load_in_process(req: LoadRequest, say: Callable[[str], None] | None = None) -> LlamaEngine:
    """Load the model in this process (``say`` hears the ``auto`` GPU-layer choice and a
    clamped ``n_ctx``)."""
    from baichuan_tui.engine.llama import LlamaEngine

    path, options = _prepare(req, say)
    return LlamaEngine(path, options, template=req.template)


def start_engine_process(
    req: LoadRequest, say: Callable[[str], None] | None = None
) -> EngineProcess:
    """Load the model in a child process (the app's engine)."""
    from baichuan_tui.engine.process import EngineProcess

    path, options = _prepare(req, say)
    return EngineProcess(path, options, template=req.template)


def connect_server(req: LoadRequest, say: Callable[[str], None] | None = None) -> ServerEngine:
    """A :class:`ServerEngine` on ``req.server`` (``say`` hears the plain-http warning); a
    UserError when it cannot be reached or is not a llama-server."""
    from baichuan_tui.server.client import API_KEY_ENV, Address, api_key_from_env
    from baichuan_tui.server.client import transport_warning as warning
    from baichuan_tui.server.engine import ServerEngine

    if not req.server:
        raise UserError("no server URL given", "use --server http://HOST:PORT")
    if req.loras:
        raise UserError(
            "--lora applies adapters to a model loaded here, not to a server's",
            "start llama-server with its own --lora FILE, or drop --server",
        )
    line = warning(Address.parse(req.server))
    if line and say is not None:
        say(line)
    return ServerEngine(
        req.server,
        template=req.template,
        model=req.spec,
        api_key=api_key_from_env(req.api_key_env or API_KEY_ENV),
    )


def load(req: LoadRequest, say: Callable[[str], None] | None = None) -> Engine:
    """The engine for ``req`` in this process: on its server, else the model loaded here."""
    if req.server:
        return connect_server(req, say)
    return load_in_process(req, say)
