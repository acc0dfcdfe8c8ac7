"""LoRA adapters (GGUF, made by ``convert ADAPTER --base``) applied on a loaded base model.

:class:`Lora` is what the user asked for (``--lora FILE[:SCALE]``); :func:`check_adapter` reads
its header before anything is loaded; :class:`Adapters` holds llama.cpp's handles for one model
and sets, re-scales or removes them on its context without reloading the base.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from baichuan_tui.errors import UsageError, UserError

HINT = "give a GGUF LoRA adapter made by: baichuan-chat convert ADAPTER_DIR --base MODEL"


@dataclass(frozen=True)
class Lora:
    """One adapter and the scale it is applied with (1 = as trained, 0 = off)."""

    path: str
    scale: float = 1.0

    @property
    def label(self) -> str:
        """``name.gguf`` or ``name.gguf:0.5`` (what history and quiz runs record)."""
        name = Path(self.path).name
        return name if self.scale == 1.0 else f"{name}:{self.scale:g}"


def with_adapters(name: str, loras: Sequence[Lora]) -> str:
    """``model + a.gguf + b.gguf:0.5``: how a model with adapters is named in records."""
    return " + ".join([name, *(lora.label for lora in loras)])


def parse_lora(text: str) -> Lora:
    """``FILE[:SCALE]`` (a trailing ``:number`` is the scale; paths may hold other colons)."""
    path, sep, tail = text.rpartition(":")
    if sep and path:
        try:
            return Lora(str(Path(path).expanduser()), float(tail))
        except ValueError:
            pass
    if not text:
        raise UsageError("--lora needs a file")
    return Lora(str(Path(text).expanduser()))


def _gguf_text(path: Path) -> Callable[[str], str]:
    """A reader of a GGUF's keys as text ("" when missing); raises on an unreadable file."""
    import gguf

    fields = gguf.GGUFReader(path).fields

    def text(key: str) -> str:
        f = fields.get(key)
        return str(f.contents()) if f is not None else ""

    return text


def adapter_base(path: str | Path) -> str | None:
    """For a LoRA adapter GGUF: the base it was converted for (its file name; "" when the
    file does not say). None for any other file."""
    try:
        text = _gguf_text(Path(path))
    except Exception:  # noqa: BLE001 - not a readable GGUF: not an adapter
        return None
    if text("general.type") != "adapter":
        return None
    return text("general.base_model.0.name")


def check_adapter(path: str | Path, architecture: str = "baichuan") -> None:
    """One clear line unless ``path`` is a LoRA adapter GGUF for ``architecture``."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"LoRA adapter {p} does not exist", HINT)
    try:
        text = _gguf_text(p)
    except Exception as exc:  # noqa: BLE001 - any parse failure is a bad file
        raise UserError(f"{p.name} is not a readable GGUF ({exc})", HINT) from None
    if text("general.type") != "adapter" or text("adapter.type") != "lora":
        raise UserError(f"{p.name} is not a LoRA adapter (it is a full model?)", HINT)
    arch = text("general.architecture")
    if arch != architecture:
        raise UserError(f"{p.name} adapts a {arch or 'unknown'} model, not {architecture}", HINT)


class Adapters:
    """llama.cpp's adapter handles for one model; call only on the model's owner thread."""

    def __init__(self) -> None:
        self._handles: dict[str, Any] = {}
        self.active: tuple[Lora, ...] = ()

    def apply(self, llm: Any, loras: Sequence[Lora]) -> None:
        """Make exactly ``loras`` active on ``llm``'s context (loading new files once)."""
        import llama_cpp

        for lora in loras:
            if lora.path not in self._handles:
                handle = llama_cpp.llama_adapter_lora_init(llm.model, lora.path.encode())
                if not handle:
                    raise UserError(
                        f"llama.cpp could not apply {Path(lora.path).name} to this model "
                        "(its tensors do not fit the base)",
                        "use the base model the adapter was converted for (--base)",
                    )
                self._handles[lora.path] = handle
        n = len(loras)
        arr = (llama_cpp.llama_adapter_lora_p_ctypes * n)(*(self._handles[x.path] for x in loras))
        scales = (ctypes.c_float * n)(*(x.scale for x in loras))
        if llama_cpp.llama_set_adapters_lora(llm.ctx, arr if n else None, n, scales if n else None):
            raise UserError("llama.cpp refused the LoRA adapters")
        self.active = tuple(loras)

    def forget(self) -> None:
        """Drop the handles when the model is freed (llama.cpp frees them with it)."""
        self._handles.clear()
        self.active = ()
