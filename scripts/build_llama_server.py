#!/usr/bin/env python3
"""Build llama-server, rpc-server and llama-bench from the installed llama-cpp-python's llama.cpp.

    .venv/bin/python scripts/build_llama_server.py [--cuda] [--jobs N] [--sdist FILE]

Prints the folder of the binaries last (cached: a second run returns at once).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from baichuan_tui.errors import UserError, error_line  # noqa: E402
from baichuan_tui.server import build  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cuda", action="store_true", help="build with -DGGML_CUDA=ON")
    parser.add_argument("--jobs", "-j", type=int, default=None, help="parallel compile jobs")
    parser.add_argument("--sdist", type=Path, default=None, help="llama-cpp-python .tar.gz")
    parser.add_argument("--force", action="store_true", help="rebuild even when built")
    parser.add_argument("--print-dir", action="store_true", help="only print the binaries' dir")
    args = parser.parse_args(argv)
    setting = build.default_setting(cuda=args.cuda)
    if args.print_dir:
        found = build.find_binaries(setting)
        if found is None:
            print("error: not built", file=sys.stderr)
            return 1
        print(found.folder)
        return 0
    try:
        done = build.build(
            setting,
            sdist=args.sdist,
            jobs=args.jobs,
            force=args.force,
            progress=lambda line: print(line, file=sys.stderr, flush=True),
        )
    except UserError as exc:
        print(f"error: {error_line(exc)}", file=sys.stderr)
        return 1
    print(done.folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
