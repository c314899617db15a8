"""`armlprof` command line: a thin layer over the Python API.

Each command lives beside the concept it drives: a module listed in COMMAND_MODULES exposes
`register_commands(subparsers)` and sets `handler=` on its parsers. Errors are ArmlprofError: one line on stderr,
non-zero exit; a compiler's full diagnostics are printed before that line.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from armlprof import __version__
from armlprof.errors import ArmlprofError

COMMAND_MODULES = [
    "armlprof.build_cli",
    "armlprof.doctor",
    "armlprof.emulator.cli",
    "armlprof.study",
    "armlprof.report_cli",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="armlprof", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"armlprof {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            # A command module not written yet is skipped; an import error inside an existing one is real.
            if exc.name is None or not (name == exc.name or name.startswith(exc.name + ".")):
                raise
            continue
        module.register_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except ArmlprofError as exc:
        details = getattr(exc, "details", "")
        if details:
            print(details.rstrip(), file=sys.stderr)
        print(f"armlprof: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("armlprof: interrupted (results measured so far are saved)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
