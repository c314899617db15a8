"""`armlprof doctor`: one line per external piece armlprof can use: found or not, version, how to get it."""

from __future__ import annotations

import argparse

from armlprof.doctor import run_checks


def _doctor(args: argparse.Namespace) -> int:
    for check in run_checks():
        print(check.line())
    return 0


def register_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="report which toolchains, runtimes, emulators and boards are available")
    p.set_defaults(handler=_doctor)
