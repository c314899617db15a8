"""`armlprof doctor`: one line per external piece armlprof can use: found or not, version, how to get it."""

from __future__ import annotations

import argparse
import json
import sys

from armlprof.doctor import run_checks


def _doctor(args: argparse.Namespace) -> int:
    checks = run_checks()
    if args.json:
        print(json.dumps([c.to_dict() for c in checks], indent=2))
    else:
        for check in checks:
            print(check.line())
    missing = [c.name for c in checks if c.required and not c.found]
    if missing:
        print(f"armlprof: error: {', '.join(missing)} missing: armlprof cannot profile a model here; "
              "install what the lines above say", file=sys.stderr)
        return 1
    return 0


def register_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="report which toolchains, runtimes, emulators and boards are available",
                       description="One line per piece: found or not, its version, what it enables, how to get it. "
                                   "Exit status 1 when a piece the main job needs (toolchain, emulator, reference "
                                   "interpreter) is missing.",
                       epilog="examples:\n  armlprof doctor\n"
                              "  armlprof doctor --json | jq '.[] | select(.found | not)'")
    p.add_argument("--json", action="store_true", help="print the checks as a JSON list on stdout")
    p.set_defaults(handler=_doctor)
