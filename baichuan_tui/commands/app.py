"""``baichuan-chat`` with no command: open the Textual app.

The model and sampling flags become the new chat's settings. Without ``--model`` the app loads
the last model used, else the configured default, else the catalog default; when that cannot
be resolved it opens the model manager with a notice instead of failing.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from baichuan_tui.commands.common import SAMPLING_FLAGS
from baichuan_tui.engine.sampling import Sampling
from baichuan_tui.errors import ModelNotFound, UserError

if TYPE_CHECKING:
    from baichuan_tui.settings import Settings
    from baichuan_tui.ui.session import LaunchOptions


def _overrides(args: argparse.Namespace) -> dict[str, object]:
    values = {k: getattr(args, k, None) for k in SAMPLING_FLAGS}
    values = {k: v for k, v in values.items() if v is not None}
    problems = Sampling().merged(**values).validate()
    if problems:
        raise UserError("bad sampling settings: " + "; ".join(problems))
    return values


def choose_model(args: argparse.Namespace, settings: Settings) -> tuple[str | None, str | None]:
    """(spec, problem): the model to open and, when none can be resolved, why."""
    from baichuan_tui.hub.catalog import default_spec
    from baichuan_tui.library import resolve_model

    explicit = getattr(args, "model", None)
    candidates = (
        [explicit] if explicit else [settings.last_model, settings.default_model, default_spec()]
    )
    problem = None
    for spec in [c for c in candidates if c]:
        try:
            path = resolve_model(spec, offline=True)
            if not path.exists():
                raise ModelNotFound(f"{path}: no such file", "pick a model in the model manager")
        except UserError as err:
            problem = problem or str(err)
            continue
        return spec, None
    return None, problem


def launch_options(args: argparse.Namespace, settings: Settings) -> LaunchOptions:
    from baichuan_tui.loading import check_n_ctx
    from baichuan_tui.settings import server_entry
    from baichuan_tui.ui.session import LaunchOptions

    server = getattr(args, "server", None) or settings.server
    entry = server_entry(settings, server) if server else None
    spec, problem = (
        (getattr(args, "model", None) or entry.url, None) if entry else choose_model(args, settings)
    )
    n_ctx: int = getattr(args, "n_ctx", None) or settings.n_ctx
    check_n_ctx(n_ctx)
    template = getattr(args, "template", None)
    return LaunchOptions(
        model=spec,
        model_error=problem,
        offline=bool(getattr(args, "offline", False)),
        template=None if template in (None, "auto") else template,
        n_ctx=n_ctx,
        gpu_layers=str(getattr(args, "gpu_layers", None) or settings.gpu_layers),
        threads=getattr(args, "threads", None) or settings.threads,
        use_mmap=False if getattr(args, "no_mmap", False) else None,
        sampling=_overrides(args),
        system=getattr(args, "system", None),
        stop=tuple(getattr(args, "stop", None) or ()),
        server=entry.url if entry else None,
        api_key_env=entry.api_key_env if entry else None,
        loras=tuple(getattr(args, "lora", None) or ()),
    )


def run(args: argparse.Namespace) -> int:
    from baichuan_tui import settings as settings_mod

    settings = settings_mod.load()
    for warning in settings.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    options = launch_options(args, settings)
    from baichuan_tui.ui.app import ChatApp

    app = ChatApp(options, settings=settings)
    app.run()
    return app.return_code or 0
