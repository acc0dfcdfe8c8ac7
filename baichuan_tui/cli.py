"""Command-line entry: argparse only; each command imports its heavy modules when it runs.

``baichuan-chat --help`` must stay fast, so nothing here imports llama_cpp, textual or
huggingface_hub at module level.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from baichuan_tui import __version__
from baichuan_tui.commands.options import add_model_options, at_least


class Parser(argparse.ArgumentParser):
    """argparse with the contract's usage error: one ``error:`` line, exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="baichuan-chat",
        description="Chat with Baichuan models locally (llama.cpp). "
        "Without a command, opens the terminal app.",
    )
    p.add_argument("--version", action="version", version=f"baichuan-chat {__version__}")
    p.add_argument("--offline", action="store_true", help="never touch the network")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    add_model_options(p, top=True)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    ask = sub.add_parser("ask", help="one turn: stream a reply to PROMPT (or stdin)")
    ask.add_argument("prompt", nargs="?", help="the message (default: read stdin)")
    add_model_options(ask)
    ask.add_argument("--json", action="store_true", help="print one JSON document")
    ask.add_argument(
        "--compare",
        action="append",
        metavar="M",
        help="answer with 2-4 models, side by side (repeat once per model; M is a path, a "
        "catalog name, http://HOST:PORT or server=NAME, optionally ,template=T ,preset=P)",
    )
    ask.add_argument(
        "--blind",
        action="store_true",
        help="with --compare: label the replies A/B/... in a shuffled order and ask for a vote",
    )

    pr = sub.add_parser("prompt", help="print the token ids the engine would feed the model")
    pr.add_argument("messages", help="MESSAGES.json: a list of {role, content}")
    add_model_options(pr)

    models = sub.add_parser("models", help="catalog, downloads, verification, file info")
    msub = models.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    ml = msub.add_parser("list", help="catalog and local state")
    ml.add_argument("--json", action="store_true")
    md = msub.add_parser("download", help="download NAME[:QUANT] into the HF cache")
    md.add_argument("spec", metavar="NAME[:QUANT]")
    mv = msub.add_parser("verify", help="check size and sha256 against the Hub's record")
    mv.add_argument("spec", metavar="NAME|PATH", nargs="?")
    mv.add_argument("--json", action="store_true")
    mr = msub.add_parser("rm", help="delete a downloaded model")
    mr.add_argument("spec", metavar="NAME[:QUANT]")
    mi = msub.add_parser("info", help="GGUF metadata, family, template, memory estimate")
    mi.add_argument(
        "spec", metavar="NAME|PATH", nargs="?", help="with --server: which of its models"
    )
    mi.add_argument("--json", action="store_true")
    mi.add_argument(
        "--server",
        metavar="URL|NAME",
        default=argparse.SUPPRESS,
        help="describe the model a llama-server runs",
    )
    mi.add_argument(
        "--n-ctx",
        type=at_least(1),
        default=None,
        help="context for the estimate (default: n_ctx in config.toml, else 4096)",
    )
    mf = msub.add_parser(
        "fix", help="copy a Baichuan2 GGUF with its output head normalised (NormHead)"
    )
    from baichuan_tui.commands.fix import add_fix_arguments

    add_fix_arguments(mf)
    for q in (ml, md, mv, mr, mi, mf):
        q.add_argument("--offline", action="store_true", default=argparse.SUPPRESS)

    doc = sub.add_parser("doctor", help="what this machine and install can do")
    doc.add_argument("--json", action="store_true")
    doc.add_argument("--offline", action="store_true", default=argparse.SUPPRESS)
    doc.add_argument(
        "--server",
        metavar="URL|NAME",
        default=argparse.SUPPRESS,
        help="also ask this llama-server what it runs (exit 1 when it is not reachable)",
    )

    bench = sub.add_parser(
        "bench",
        help="throughput of the engine vs bare llama-cpp-python (or a server's stream)",
        description="Prompt processing, generation speed and time to first token of the "
        "engine's streaming path and of llama-cpp-python's own Llama.generate loop, on the "
        "same loaded model and threads, alternating (ABBA) from an empty KV cache; the "
        "headline is their ratio in the same run. With --server: our client's streaming "
        "against a bare SSE reader of the same /completion request, and quiz questions/s "
        "at --parallel 1, 2 and 4.",
    )
    add_model_options(bench, sampling=False)
    bench.add_argument(
        "--prompt-tokens",
        type=at_least(1),
        default=256,
        metavar="N",
        help="prompt length in tokens (default 256; at most half the context)",
    )
    bench.add_argument(
        "--gen-tokens",
        type=at_least(1),
        default=256,
        metavar="N",
        help="tokens to generate per run (default 256; fewer when the context is full)",
    )
    bench.add_argument(
        "--repeats",
        type=at_least(1),
        default=3,
        metavar="N",
        help="runs of each path, alternating which goes first (default 3)",
    )
    bench.add_argument(
        "--compare",
        action="append",
        metavar="M",
        help="instead: 2-4 models answering side by side vs one after another, same threads "
        "(repeat once per model)",
    )
    srv = bench.add_argument_group("with --server URL|NAME")
    srv.add_argument(
        "--no-quiz", action="store_true", help="measure only the streaming cost, not the quiz"
    )
    srv.add_argument(
        "--quiz-subjects",
        type=at_least(1),
        default=2,
        metavar="N",
        help="subjects of the made-up quiz (default 2)",
    )
    srv.add_argument(
        "--quiz-questions",
        type=at_least(1),
        default=12,
        metavar="N",
        help="questions per subject (default 12); scored at --parallel 1, 2 and 4, and "
        "by the same file loaded here when it is on this disk",
    )
    bench.add_argument("--json", action="store_true", help="print one JSON document")
    from baichuan_tui.commands.convert import add_convert_parser
    from baichuan_tui.commands.history import add_history_parser
    from baichuan_tui.commands.quiz import add_quiz_parser

    add_history_parser(sub)
    add_convert_parser(sub)
    add_quiz_parser(sub)
    return p


COMMANDS = {
    "convert": "baichuan_tui.commands.convert:run",
    "history": "baichuan_tui.commands.history:run",
    "quiz.run": "baichuan_tui.commands.quiz:run",
    "quiz.results": "baichuan_tui.commands.quiz:results",
    "quiz.compare": "baichuan_tui.commands.quiz:compare",
    "ask": "baichuan_tui.commands.ask:run",
    "prompt": "baichuan_tui.commands.prompt:run",
    "doctor": "baichuan_tui.commands.doctor:run",
    "bench": "baichuan_tui.commands.bench:run",
    "models.list": "baichuan_tui.commands.models:cmd_list",
    "models.download": "baichuan_tui.commands.models:cmd_download",
    "models.verify": "baichuan_tui.commands.models:cmd_verify",
    "models.rm": "baichuan_tui.commands.models:cmd_rm",
    "models.info": "baichuan_tui.commands.info:run",
    "models.fix": "baichuan_tui.commands.fix:run",
    None: "baichuan_tui.commands.app:run",
}


def _handler(args: argparse.Namespace) -> Callable[[argparse.Namespace], int | None]:
    key = args.command
    if key in ("models", "quiz"):
        key = f"{key}.{getattr(args, key + '_command')}"
    module, _, func = COMMANDS[key].partition(":")
    import importlib

    handler: Callable[[argparse.Namespace], int | None] = getattr(
        importlib.import_module(module), func
    )
    return handler


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if sys.stdout is None:  # started with stdout closed (``>&-``): output would vanish
        print(
            "error: standard output is closed: redirect it instead (> FILE or > /dev/null)",
            file=sys.stderr,
        )
        return 1
    if args.offline:
        os.environ["HF_HUB_OFFLINE"] = "1"
    args.offline = args.offline or os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")
    from baichuan_tui.errors import UserError, error_line

    try:
        return int(_handler(args)(args) or 0)
    except UserError as err:
        if args.debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        sys.stderr.close()
        return 0
    except Exception as exc:  # noqa: BLE001 - last line of defence: one line, no traceback
        if args.debug:
            raise
        print(f"error: {error_line(exc)} (run with --debug for details)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
