"""Which file a spec names: the path rule, and a catalog name → its verified file in the cache.

Never touches the network. The whole resolution (default model, paths, the repaired copy) is
:func:`baichuan_tui.library.resolve_model`; this module is its Hub-cache half.
"""

from __future__ import annotations

import os
from pathlib import Path

from baichuan_tui.errors import ModelNotFound, UserError
from baichuan_tui.hub import cache
from baichuan_tui.hub.catalog import catalog_file
from baichuan_tui.hub.download import download_command
from baichuan_tui.hub.remote import is_offline

_SEPARATORS = {"/", "\\", os.sep}


def looks_like_path(spec: str) -> bool:
    """A file path, not a catalog name: ends with ``.gguf``, has a path separator, or exists."""
    return (
        spec.lower().endswith(".gguf")
        or any(sep in spec for sep in _SEPARATORS)
        or Path(spec).exists()
    )


def cached_model(spec: str, *, offline: bool = False) -> Path:
    """A catalog ``NAME[:QUANT]`` → its downloaded, sha256-verified file in the HF cache.

    A missing, unverified or failed file raises a UserError naming the command that fixes it.
    """
    name, qf = catalog_file(spec)
    pointers = cache.cached_pointers(qf.repo, qf.filename)
    for pointer in pointers:
        if cache.is_verified(pointer):
            return pointer
    if pointers:
        rec = cache.record_of(pointers[0])
        if rec and not rec.get("ok"):
            raise UserError(
                f"{name} in the cache failed its sha256 check ({pointers[0]})",
                f"run 'baichuan-chat models rm {name}' and '{download_command(name)}'",
            )
        raise UserError(
            f"{name} is in the cache but not verified ({pointers[0]})",
            f"run 'baichuan-chat models verify {name}' (online)",
        )
    where = " (offline: not in the cache)" if is_offline(offline) else ""
    raise ModelNotFound(f"model {name} is not downloaded{where}", f"run '{download_command(name)}'")
