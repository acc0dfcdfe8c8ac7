"""``baichuan-chat ask``: one turn, streamed to stdout."""

from __future__ import annotations

import argparse
import sys

from baichuan_tui.commands.common import load_engine, read_stdin_or, sampling_from_args
from baichuan_tui.commands.output import print_json
from baichuan_tui.engine.prompts import Message
from baichuan_tui.errors import UserError


def run(args: argparse.Namespace) -> int:
    text = read_stdin_or(args.prompt)
    if getattr(args, "compare", None):
        from baichuan_tui.commands import compare

        return compare.run(args, text, prompt_from_stdin=args.prompt is None)
    if getattr(args, "blind", False):
        raise UserError("--blind needs --compare", "give --compare once per model")
    engine = load_engine(args)
    from baichuan_tui.repair.notice import normhead_notice

    if notice := normhead_notice(engine.path, engine.info):
        print(f"warning: {notice}", file=sys.stderr)
    try:
        sampling = sampling_from_args(args, engine.family.defaults)
        messages = [Message("system", args.system)] if getattr(args, "system", None) else []
        messages.append(Message("user", text))
        prompt = engine.prompt(messages, max_tokens=sampling.max_tokens)
        gen = engine.generate(prompt, sampling, stop=getattr(args, "stop", []) or [])
        out = sys.stdout
        try:
            for delta in gen:
                if not args.json:
                    out.write(delta)
                    out.flush()
        except KeyboardInterrupt:
            gen.cancel()
            gen.wait()
        res = gen.result
        assert res is not None
        if args.json:
            doc = {
                "reply": res.text,
                "model": str(engine.path),
                "template": engine.template,
                "family": engine.family.label,
                "prompt_tokens": res.prompt_tokens,
                "cached_tokens": res.cached_tokens,
                "completion_tokens": res.completion_tokens,
                "finish_reason": res.finish_reason,
                "dropped_rounds": res.dropped_rounds,
                "ttft_s": round(res.ttft_s, 6),
                "prompt_tokens_per_s": round(res.prompt_tokens_per_s, 3),
                "gen_tokens_per_s": round(res.gen_tokens_per_s, 3),
                "sampling": sampling.as_dict(),
            }
            if engine.loras:
                doc["loras"] = [{"path": x.path, "scale": x.scale} for x in engine.loras]
            print_json(doc, out)
        else:
            out.write("\n")
            if res.finish_reason == "length":
                print("[reply cut at max_tokens]", file=sys.stderr)
        return 130 if res.finish_reason == "cancelled" else 0
    finally:
        engine.close()
