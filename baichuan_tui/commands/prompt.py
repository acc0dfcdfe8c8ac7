"""``baichuan-chat prompt``: the exact token ids and text the engine would feed."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from baichuan_tui.commands.common import load_engine
from baichuan_tui.commands.output import print_json
from baichuan_tui.engine.prompts import Message
from baichuan_tui.errors import UserError


def read_messages(path: str) -> list[Message]:
    """MESSAGES.json (or ``-`` for stdin) as messages, with one clear error when malformed."""
    try:
        raw = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        data = json.loads(raw)
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{path} is not valid JSON ({exc})") from None
    if not isinstance(data, list) or not data:
        raise UserError(f"{path} must hold a non-empty list of {{role, content}} messages")
    return [Message.from_dict(m) for m in data]


def run(args: argparse.Namespace) -> int:
    messages = read_messages(args.messages)
    engine = load_engine(args, vocab_only=True)
    try:
        max_tokens = getattr(args, "max_tokens", None) or engine.family.defaults.max_tokens
        prompt = engine.prompt(messages, max_tokens=max_tokens)
        doc = {
            "template": prompt.template,
            "token_ids": prompt.token_ids,
            "text": engine.detokenize(prompt.token_ids),
            "family": engine.family.label,
            "dropped_rounds": prompt.dropped_rounds,
        }
    finally:
        engine.close()
    print_json(doc)
    sys.stdout.write("\n")
    return 0
