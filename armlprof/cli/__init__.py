"""`armlprof` command line: a thin layer over the Python API.

One module per command in this package (`armlprof/cli/<command>.py`), each exposing
`register_commands(subparsers)` and setting `handler=` on its parsers; option groups several commands share are in
`armlprof/cli/options.py`. Errors are ArmlprofError: one line on stderr,
non-zero exit; a compiler's full diagnostics are printed before that line. Anything else is a bug: one line
asking for a report (exit 1), the traceback only with --debug. Ctrl-C ends every command with one line saying where
the results measured so far are (exit 130).
"""

from __future__ import annotations

import argparse
import functools
import importlib
import os
import signal
import sys
import traceback
from collections.abc import Sequence

from armlprof import __version__
from armlprof.errors import ArmlprofError

COMMAND_MODULES = [
    "armlprof.cli.doctor",
    "armlprof.cli.boards",
    "armlprof.cli.build",
    "armlprof.cli.run",
    "armlprof.cli.profile",
    "armlprof.cli.breakdown",
    "armlprof.cli.study",
    "armlprof.cli.report",
    "armlprof.cli.compare",
    "armlprof.cli.calibrate",
    "armlprof.cli.runtimes",
    "armlprof.cli.models",
    "armlprof.cli.get",
    "armlprof.cli.completion",
]


# Options whose values start with "-" (`--optimization -O2`, `--flag -DX`): argparse would take the value for an
# option; joined as `--optimization=-O2` they parse as the README writes them.
_DASH_VALUE_OPTIONS = ("--optimization", "--flag")


def _join_dash_values(argv: Sequence[str]) -> list[str]:
    out: list[str] = []
    items = list(argv)
    i = 0
    while i < len(items):
        if items[i] in _DASH_VALUE_OPTIONS and i + 1 < len(items) and items[i + 1].startswith("-") \
                and items[i + 1] not in ("-h", "--help") and not items[i + 1].startswith("--"):
            out.append(f"{items[i]}={items[i + 1]}")
            i += 2
            continue
        out.append(items[i])
        i += 1
    return out


def _interrupted(args: argparse.Namespace | None, argv: Sequence[str]) -> int:
    results = getattr(args, "results", None) if args is not None else _results_in(argv)
    where = f"; results so far are in {results}" if results is not None else ""
    print(f"armlprof: interrupted{where}", file=sys.stderr)
    return 130


def _from_interrupt(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    for _ in range(20):
        if seen is None:
            return False
        if isinstance(seen, KeyboardInterrupt) or "KeyboardInterrupt" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _results_in(argv: Sequence[str]) -> str | None:
    """--results as given, for an interrupt before the arguments were parsed."""
    for i, item in enumerate(argv):
        if item.startswith("--results="):
            return item.partition("=")[2]
        if item == "--results" and i + 1 < len(argv):
            return argv[i + 1]
    return None


def build_parser() -> argparse.ArgumentParser:
    # Imported here, inside main's Ctrl-C handling: `import armlprof.cli` (the entry point's) stays light, so a
    # Ctrl-C during start-up is `interrupted`, not a traceback from an import.
    from armlprof.cli.options import HelpFormatter

    parser = argparse.ArgumentParser(prog="armlprof", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"armlprof {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the Python traceback of an internal error")
    # Every command's help shows defaults and keeps its example epilog as written.
    sub = parser.add_subparsers(dest="command", metavar="COMMAND",
                                parser_class=functools.partial(argparse.ArgumentParser, formatter_class=HelpFormatter))
    for name in COMMAND_MODULES:
        importlib.import_module(name).register_commands(sub)
    for command in sub.choices.values():  # `armlprof profile ... --debug` works too
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    as_program = argv is None
    try:
        return _main(argv)
    except KeyboardInterrupt:  # a Ctrl-C that landed while _main was already ending: the command is over anyway
        return 130
    finally:
        if as_program:  # the command is over: a late Ctrl-C must not turn a finished run into a signal death
            signal.signal(signal.SIGINT, signal.SIG_IGN)


def _main(argv: Sequence[str] | None) -> int:
    args: argparse.Namespace | None = None
    debug = bool(os.environ.get("ARMLPROF_DEBUG"))
    argv = _join_dash_values(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser()  # imports every command: Ctrl-C may land here too
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # argparse's one-line usage error (or --help): a status, for callers of main()
            return exc.code if isinstance(exc.code, int) else 2
        debug = debug or bool(getattr(args, "debug", False))
        if not getattr(args, "handler", None):
            parser.print_help()
            return 2
        from armlprof.calibration import use_file

        with use_file(getattr(args, "calibration", None)):
            return int(args.handler(args) or 0)
    except ArmlprofError as exc:
        details = getattr(exc, "details", "")
        if details:
            print(details.rstrip(), file=sys.stderr)
        if debug:
            traceback.print_exc()
        print(f"armlprof: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return _interrupted(args, argv)
    except Exception as exc:  # noqa: BLE001 - a bug: one line, the traceback on request
        if _from_interrupt(exc):  # e.g. TVM's C++ turning Ctrl-C into its own error type
            return _interrupted(args, argv)
        if debug:
            traceback.print_exc()
        message = " ".join(str(exc).split())[:300]
        print(f"armlprof: internal error: {type(exc).__name__}: {message} (a bug in armlprof: please report it "
              "with the command line; --debug shows the traceback)", file=sys.stderr)
        return 1
