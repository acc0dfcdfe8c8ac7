"""Headless helpers of the chat screen: launch options, model loading, chat state.

Nothing here imports Textual, so it is testable (and importable) without a terminal.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from baichuan_tui.engine.lora import Lora, with_adapters
from baichuan_tui.engine.prompts import Message
from baichuan_tui.engine.sampling import Sampling
from baichuan_tui.loading import LoadRequest

if TYPE_CHECKING:
    from baichuan_tui.engine.interface import Engine
    from baichuan_tui.store.conversations import Conversation, StoredMessage

SAMPLING_FIELDS = tuple(f.name for f in fields(Sampling))


@dataclass
class LaunchOptions:
    """What the command line asked for: the model to load and the new chat's settings."""

    model: str | None = None
    """Catalog spec or .gguf path to load at start (None: open the model manager)."""
    model_error: str | None = None
    """Why no model could be chosen (shown as a notice)."""
    offline: bool = False
    template: str | None = None
    n_ctx: int = 4096
    gpu_layers: str = "auto"
    threads: int | None = None
    use_mmap: bool | None = None
    sampling: dict[str, Any] = field(default_factory=dict)
    """Sampling flags given on the command line (applied over the model's defaults)."""
    system: str | None = None
    stop: tuple[str, ...] = ()
    server: str | None = None
    """A llama-server URL: models run there (``model`` is then this URL or the server's
    model to pick) instead of in a child process."""
    api_key_env: str | None = None
    """The environment variable holding the server's API key."""
    loras: tuple[Lora, ...] = ()
    """LoRA adapters (``--lora``) applied on the model given at launch."""

    def load_request(self, spec: str) -> LoadRequest:
        """How to load ``spec`` with these options."""
        if self.server:
            return LoadRequest(
                None if spec == self.server else spec,
                template=self.template,
                server=self.server,
                api_key_env=self.api_key_env,
            )
        return LoadRequest(
            spec,
            offline=self.offline,
            template=self.template,
            n_ctx=self.n_ctx,
            gpu_layers=self.gpu_layers,
            threads=self.threads,
            use_mmap=self.use_mmap,
            loras=self.loras if spec == self.model else (),
        )


def recorded_model(spec: str | None, engine: Engine) -> str | None:
    """What a reply records as its model: the spec, plus the adapters applied on it."""
    return with_adapters(spec, engine.loras) if spec and engine.loras else spec


def continued_model(recorded: str | None, current: str | None) -> str | None:
    """What a reply records once ``current`` continued it: ``A → B`` when another model
    wrote the rest (each model that wrote part of it, in order), else unchanged."""
    if not current or not recorded:
        return recorded or current
    if recorded.rsplit(" → ", 1)[-1] == current:
        return recorded
    return f"{recorded} → {current}"


def model_label(engine: Engine) -> str:
    """``Baichuan2-7B-Chat · Q4_K_M`` (the quant from the file name when it names one)."""
    stem = engine.path.stem
    for sep in (".", "-"):
        quant = stem.rsplit(sep, 1)[-1]
        if quant.upper().startswith(("Q", "IQ", "F16", "F32", "BF16")) and len(quant) <= 8:
            return with_adapters(f"{engine.family.label} · {quant.upper()}", engine.loras)
    return with_adapters(engine.family.label, engine.loras)


def engine_mode(engine: Engine | None) -> str:
    """``completion`` when ``engine`` continues text (a base model), else ``chat``."""
    return "completion" if engine is not None and engine.template == "completion" else "chat"


@dataclass
class ChatState:
    """The open chat: its stored row (None until the first message) and its settings."""

    conversation: Conversation | None = None
    messages: list[StoredMessage] = field(default_factory=list)
    sampling: Sampling | None = None
    system: str | None = None
    stop: tuple[str, ...] = ()
    mode: str = "chat"
    """``chat``, or ``completion`` for base models (a document the model continues)."""

    def settings_dict(self) -> dict[str, Any]:
        return {
            "sampling": self.sampling.as_dict() if self.sampling else None,
            "stop": list(self.stop),
            "mode": self.mode,
        }

    @classmethod
    def from_conversation(cls, conv: Conversation, messages: list[StoredMessage]) -> ChatState:
        raw = conv.settings or {}
        sampling = None
        if isinstance(raw.get("sampling"), dict):
            known = {k: v for k, v in raw["sampling"].items() if k in SAMPLING_FIELDS}
            sampling = Sampling(**known)
        return cls(
            conv,
            messages,
            sampling,
            conv.system,
            tuple(raw.get("stop") or ()),
            raw.get("mode") or "chat",
        )

    def prompt_messages(self, upto: int | None = None) -> list[Message]:
        """The engine's view: system first (a completion prompt's preamble), then the stored
        turns (``upto`` excludes)."""
        msgs = self.messages if upto is None else self.messages[:upto]
        out = [Message("system", self.system)] if self.system else []
        out += [Message(m.role, m.content) for m in msgs if m.role in ("user", "assistant")]
        return out
