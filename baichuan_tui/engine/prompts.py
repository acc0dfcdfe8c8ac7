"""Conversation → token ids, per template.

Baichuan chat prompts are built as id lists (shared/specs/baichuan.md): each message is
tokenized on its own, without BOS and with special-token parsing off, and the role tokens
195/196 are inserted as ids. Text templates (Vicuna, LLaMA-Factory, completion) tokenize their
text with special parsing off too, so nothing a user types can become a control token.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from baichuan_tui.errors import UserError

USER_ID = 195
ASSISTANT_ID = 196

VICUNA_SYSTEM = (
    "A chat between a curious user and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the user's questions."
)
LLAMA_FACTORY_SYSTEM = VICUNA_SYSTEM


class Tokenizer(Protocol):
    """The model's own tokenizer, as the prompt builders need it."""

    bos_id: int
    eos_id: int

    def encode(self, text: str, *, special: bool = False) -> list[int]:
        """Token ids of ``text`` with no BOS/EOS added."""
        ...


MIN_REPLY_TOKENS = 1
"""The least room a prompt must leave for the reply to fit the context (:func:`fit_prompt`)."""


class PromptTooLong(UserError):
    """A prompt that leaves the reply no room even with the oldest rounds left out; ``over``
    says by how many tokens (what the app tells a user attaching a file)."""

    def __init__(self, tokens: int, n_ctx: int) -> None:
        self.tokens = tokens
        self.n_ctx = n_ctx
        super().__init__(
            f"the prompt is {tokens} tokens but the context holds {n_ctx}",
            "raise --n-ctx or shorten the message",
        )

    @property
    def over(self) -> int:
        """Tokens to take out before the prompt fits (with room for a reply)."""
        return self.tokens + MIN_REPLY_TOKENS - self.n_ctx

    def __reduce__(self) -> tuple[type[PromptTooLong], tuple[int, int]]:
        return type(self), (self.tokens, self.n_ctx)


@dataclass(frozen=True)
class Message:
    role: str
    """``system``, ``user`` or ``assistant``."""
    content: str

    @classmethod
    def from_dict(cls, data: object) -> Message:
        if not isinstance(data, dict) or not isinstance(data.get("content"), str):
            raise UserError("each message must be an object with 'role' and 'content' strings")
        role = data.get("role")
        if role not in ("system", "user", "assistant"):
            raise UserError(f"unknown message role {role!r}", "use system, user or assistant")
        return cls(role, data["content"])


@dataclass(frozen=True)
class Prompt:
    """What the engine feeds the model for one reply."""

    token_ids: list[int]
    template: str
    max_tokens: int
    """The reply budget after fitting into the context (≤ the requested max_tokens)."""
    dropped_rounds: int = 0
    """Oldest user/assistant rounds left out so the prompt fits."""
    stop: tuple[str, ...] = field(default=())
    """Stop strings the template implies (besides EOS)."""


def _split_system(messages: Sequence[Message]) -> tuple[str | None, list[Message]]:
    rest = list(messages)
    system = None
    if rest and rest[0].role == "system":
        system = rest.pop(0).content
    if any(m.role == "system" for m in rest):
        raise UserError("a system message may only come first")
    return system, rest


def _baichuan_ids(
    tok: Tokenizer, messages: Sequence[Message], eos_after_assistant: bool, continue_last: bool
) -> list[int]:
    system, rest = _split_system(messages)
    ids: list[int] = tok.encode(system) if system else []
    for m in rest:
        ids.append(USER_ID if m.role == "user" else ASSISTANT_ID)
        ids += tok.encode(m.content)
        if m.role == "assistant" and eos_after_assistant:
            ids.append(tok.eos_id)
    if not rest or rest[-1].role != "assistant":
        ids.append(ASSISTANT_ID)
    elif continue_last and eos_after_assistant:
        ids.pop()  # the reply being continued stays open
    return ids


def _turn_text_ids(
    tok: Tokenizer,
    messages: Sequence[Message],
    *,
    system_default: str,
    user: str,
    assistant: str,
    sep: str,
    open_cue: str,
) -> list[int]:
    """FastChat-style text templates: text segments split only at the template's own EOS."""
    system, rest = _split_system(messages)
    ids = [tok.bos_id]
    text = (system if system is not None else system_default) + sep
    for i, m in enumerate(rest):
        last = i == len(rest) - 1
        if m.role == "user":
            text += f"{user}{m.content}{sep}{assistant}"
            if last:
                text += open_cue
        else:
            text += m.content
            if not last:
                ids += tok.encode(text)
                ids.append(tok.eos_id)
                text = ""
    if text:
        ids += tok.encode(text)
    return ids


def _vicuna_ids(tok: Tokenizer, messages: Sequence[Message]) -> list[int]:
    # FastChat vicuna_v1.1: "{system} USER: {u} ASSISTANT: {a}</s>USER: ... ASSISTANT:"
    return _turn_text_ids(
        tok,
        messages,
        system_default=VICUNA_SYSTEM,
        user="USER: ",
        assistant="ASSISTANT:",
        sep=" ",
        open_cue="",
    )


def _llama_factory_ids(tok: Tokenizer, messages: Sequence[Message]) -> list[int]:
    # LLaMA-Efficient-Tuning "default": "{system}\nHuman: {u}\nAssistant: {a}\nHuman: ..."
    system, rest = _split_system(messages)
    text = system if system is not None else LLAMA_FACTORY_SYSTEM
    for m in rest:
        text += f"\nHuman: {m.content}\nAssistant: " if m.role == "user" else m.content
    return [tok.bos_id, *tok.encode(text)]


COMPLETION_SYSTEM_SEP = "\n\n"
"""Between a completion prompt's system text (a preamble) and the document it precedes."""


def _completion_ids(tok: Tokenizer, messages: Sequence[Message], add_bos: bool) -> list[int]:
    system, rest = _split_system(messages)
    text = "".join(m.content for m in rest)
    if system:
        text = system.rstrip("\n") + COMPLETION_SYSTEM_SEP + text
    return ([tok.bos_id] if add_bos else []) + tok.encode(text)


_MARK = re.compile("\x1e(\\d+)\x1f")

RenderGGUF = Callable[[Sequence[Message]], str]
"""An embedded (Jinja) chat template: the prompt text for the messages."""


def _gguf_ids(tok: Tokenizer, messages: Sequence[Message], render: RenderGGUF) -> list[int]:
    """An embedded template's prompt: the template's own text is parsed for special tokens,
    the message contents are not (they are rendered as markers, then tokenized apart)."""
    masked = [Message(m.role, f"\x1e{i}\x1f") for i, m in enumerate(messages)]
    parts = _MARK.split(render(masked))
    ids: list[int] = []
    for j, part in enumerate(parts):
        if j % 2:
            ids += tok.encode(messages[int(part)].content)
        elif part:
            ids += tok.encode(part, special=True)
    return ids


STOPS = {"vicuna": ("USER:",), "llama-factory": ("\nHuman:",)}


def build_ids(
    tok: Tokenizer,
    template: str,
    messages: Sequence[Message],
    *,
    add_bos: bool = False,
    render_gguf: RenderGGUF | None = None,
    continue_last: bool = False,
) -> list[int]:
    """Token ids for ``messages`` under ``template`` (no fitting to the context).

    ``continue_last``: the last message is a reply to be continued, so it stays open (no EOS).
    """
    if template in ("baichuan2-chat", "baichuan-13b-chat"):
        return _baichuan_ids(tok, messages, template == "baichuan-13b-chat", continue_last)
    if template == "vicuna":
        return _vicuna_ids(tok, messages)
    if template == "llama-factory":
        return _llama_factory_ids(tok, messages)
    if template == "completion":
        return _completion_ids(tok, messages, add_bos)
    if template == "gguf":
        if render_gguf is None:
            raise UserError("this model file has no chat template", "use --template completion")
        return _gguf_ids(tok, messages, render_gguf)
    raise UserError(f"unknown template '{template}'")


def _rounds(messages: Sequence[Message]) -> list[int]:
    """Start index of each user-led round (after a leading system message)."""
    return [i for i, m in enumerate(messages) if m.role == "user"]


def fit_prompt(
    tok: Tokenizer,
    template: str,
    messages: Sequence[Message],
    *,
    n_ctx: int,
    max_tokens: int,
    add_bos: bool = False,
    render_gguf: RenderGGUF | None = None,
    continue_last: bool = False,
) -> Prompt:
    """Build the prompt, dropping the oldest whole rounds (never the system message) until
    prompt + max_tokens fits in ``n_ctx``; then shrink the reply budget if it still does not."""
    system = [m for m in messages[:1] if m.role == "system"]
    body = list(messages[len(system) :])
    dropped = 0
    while True:
        ids = build_ids(
            tok,
            template,
            system + body,
            add_bos=add_bos,
            render_gguf=render_gguf,
            continue_last=continue_last,
        )
        starts = _rounds(body)
        if len(ids) + max_tokens <= n_ctx or len(starts) < 2 or template == "completion":
            break
        body = body[starts[1] :]
        dropped += 1
    budget = min(max_tokens, n_ctx - len(ids))
    if budget < MIN_REPLY_TOKENS:
        raise PromptTooLong(len(ids), n_ctx)
    return Prompt(ids, template, budget, dropped, STOPS.get(template, ()))
