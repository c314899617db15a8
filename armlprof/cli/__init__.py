"""`armlprof` command line: a thin layer over the Python API.

One module per command in this package (`armlprof/cli/<command>.py`), each exposing
`register_commands(subparsers)` and setting `handler=` on its parsers; option groups several commands share are in
`armlprof/cli/options.py`. Errors are ArmlprofError: one line on stderr,
non-zero exit; a compiler's full diagnostics are printed before that line.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import sys
from collections.abc import Sequence

from armlprof import __version__
from armlprof.cli.options import HelpFormatter
from armlprof.errors import ArmlprofError

COMMAND_MODULES = [
    "armlprof.cli.doctor",
    "armlprof.cli.boards",
    "armlprof.cli.build",
    "armlprof.cli.run",
    "armlprof.cli.profile",
    "armlprof.cli.study",
    "armlprof.cli.report",
    "armlprof.cli.compare",
    "armlprof.cli.runtimes",
    "armlprof.cli.models",
    "armlprof.cli.get",
    "armlprof.cli.completion",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="armlprof", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"armlprof {__version__}")
    # Every command's help shows defaults and keeps its example epilog as written.
    sub = parser.add_subparsers(dest="command", metavar="COMMAND",
                                parser_class=functools.partial(argparse.ArgumentParser, formatter_class=HelpFormatter))
    for name in COMMAND_MODULES:
        importlib.import_module(name).register_commands(sub)
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

