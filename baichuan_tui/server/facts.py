"""What a llama-server says about itself and its model (``/props``, ``/v1/models``, ``/slots``).

:func:`probe` is also the check that a URL is a llama-server at all. :func:`model_info` turns
the facts into the :class:`GGUFInfo` that template detection reads: the file's own header when
the server's model path is a readable GGUF here (same machine or a shared disk), else one made
from the server's answers (name, vocabulary and embedding sizes, token 195's text).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from baichuan_tui.engine.gguf_check import GGUFInfo, inspect_gguf
from baichuan_tui.errors import UserError
from baichuan_tui.server.client import ServerClient, ServerError

BAICHUAN_ROLE_PIECES = ("<reserved_102>", "<reserved_106>")
"""The text of token 195 in Baichuan-1 and Baichuan2 vocabularies."""


@dataclass(frozen=True)
class ServerFacts:
    """One llama-server and the model it runs."""

    url: str
    model_path: str
    model_id: str
    """``/v1/models``' id: the ``--alias`` or the model path."""
    n_ctx: int
    """Context per slot (``-c`` divided by ``-np``)."""
    total_slots: int
    n_vocab: int | None
    n_embd: int | None
    n_ctx_train: int | None
    n_params: int | None
    size: int | None
    ftype: str | None
    bos_token: str | None
    eos_token: str | None
    chat_template: str | None
    build_info: str | None
    endpoint_slots: bool

    @property
    def model_name(self) -> str:
        """The model file's name (or the alias when the path is unknown)."""
        return Path(self.model_path).name if self.model_path else self.model_id

    def as_dict(self) -> dict[str, object]:
        """The facts for ``doctor --server`` and ``--json``."""
        return {k: v for k, v in vars(self).items() if k != "chat_template"}


def probe(client: ServerClient) -> ServerFacts:
    """Ask the server what it runs; a ServerError when it is not a llama-server."""
    props = client.get("/props")
    settings = props.get("default_generation_settings") if isinstance(props, dict) else None
    if not isinstance(settings, dict) or "model_path" not in props:
        raise client.not_llama_server("GET /props has no model_path")
    models = client.get("/v1/models")
    data = models.get("data") if isinstance(models, dict) else None
    if not isinstance(data, list) or not data or not isinstance(data[0], dict):
        raise client.not_llama_server("GET /v1/models lists no model")
    meta = data[0].get("meta") or {}
    return ServerFacts(
        url=client.url,
        model_path=str(props.get("model_path") or ""),
        model_id=str(data[0].get("id") or ""),
        n_ctx=_int(settings.get("n_ctx")) or _int(meta.get("n_ctx")) or 0,
        total_slots=_int(props.get("total_slots")) or 1,
        n_vocab=_int(meta.get("n_vocab")),
        n_embd=_int(meta.get("n_embd")),
        n_ctx_train=_int(meta.get("n_ctx_train")),
        n_params=_int(meta.get("n_params")),
        size=_int(meta.get("size")),
        ftype=_str(props.get("model_ftype")) or _str(meta.get("ftype")),
        bos_token=_str(props.get("bos_token")),
        eos_token=_str(props.get("eos_token")),
        chat_template=_str(props.get("chat_template")) or None,
        build_info=_str(props.get("build_info")),
        endpoint_slots=props.get("endpoint_slots") is not False,
    )


def slots(client: ServerClient) -> list[dict[str, Any]] | None:
    """``/slots`` (each slot's id and whether it is busy), or None when the server hides it."""
    try:
        answer = client.get("/slots")
    except ServerError as exc:
        if "answered 501" in str(exc) or "404" in str(exc) or "not supported" in str(exc):
            return None
        raise
    return [s for s in answer if isinstance(s, dict)] if isinstance(answer, list) else None


def check_model(facts: ServerFacts, wanted: str | None) -> None:
    """A UserError when ``--model`` names another model than the one the server runs."""
    if not wanted:
        return
    names = {facts.model_id, facts.model_path, facts.model_name, Path(facts.model_path).stem}
    want = wanted.strip()
    if want in names or Path(want).name in names or Path(want).stem in names:
        return
    raise UserError(
        f"{facts.url} serves {facts.model_name}, not {wanted}",
        "leave out --model, or pick the server that runs it",
    )


def model_info(facts: ServerFacts, role_piece: str | None, add_bos: bool | None) -> GGUFInfo:
    """The model's facts as a :class:`GGUFInfo` (see the module docstring)."""
    local = _local_info(facts)
    if local is not None:
        return local
    path = Path(facts.model_path or facts.model_id or "server-model")
    words = f"{facts.model_id} {path.name}".lower()
    baichuan = "baichuan" in words or role_piece in BAICHUAN_ROLE_PIECES
    name = re.sub(r"\.gguf$", "", path.name, flags=re.IGNORECASE) or None
    return GGUFInfo(
        path=path,
        file_size=facts.size or 0,
        version=3,
        architecture="baichuan" if baichuan else "unknown",
        name=name,
        block_count=_layers(facts.n_embd, words) if baichuan else None,
        vocab_size=facts.n_vocab or 0,
        context_length=facts.n_ctx_train,
        embedding_length=facts.n_embd,
        head_count=None,
        head_count_kv=None,
        feed_forward_length=None,
        file_type=facts.ftype,
        bos_id=None,
        eos_id=None,
        add_bos=add_bos,
        add_space_prefix=None,
        chat_template=facts.chat_template,
        tokenizer_model="llama" if baichuan else None,
        tensors=(),
        data_offset=0,
        metadata={},
    )


def _local_info(facts: ServerFacts) -> GGUFInfo | None:
    """The header of the server's model file when it is here and matches the server."""
    if not facts.model_path:
        return None
    path = Path(facts.model_path)
    try:
        if not path.is_file():
            return None
        info = inspect_gguf(path)
    except (OSError, UserError):
        return None
    same = facts.n_vocab in (None, info.vocab_size) and facts.n_embd in (
        None,
        info.embedding_length,
    )
    return info if same and not info.vocab_only else None


def _layers(n_embd: int | None, words: str) -> int | None:
    """Baichuan's layer count from its width (7B: 4096, 13B: 5120) or its name."""
    if n_embd in (4096, 5120):
        return 32 if n_embd == 4096 else 40
    if re.search(r"13b", words):
        return 40
    if re.search(r"7b", words):
        return 32
    return None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None
