"""`armlprof run ELF --board BOARD [--timed] [--uart-pty] [--max-cycles N] [--timeout S] [--input TEXT]`:
run an ELF on the built-in emulator, stream its console live, end with a summary."""

from __future__ import annotations

import argparse
import json
import sys

from armlprof.board import load_board
from armlprof.cli.options import add_board_arguments, int_in_range, positive_seconds
from armlprof.emulator.emulator import Emulator

DEFAULT_LIMIT_S = 60  # a run with no console attached that neither exits nor idles by then is hung


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("elf", help="the ELF to run (e.g. from armlprof build)")
    add_board_arguments(parser)
    parser.add_argument("--timed", action="store_true", help="Cortex-M4 cycle model (default: 1 cycle/instruction)")
    parser.add_argument("--uart-pty", action="store_true",
                        help="expose the console as a pseudo-terminal (prints its path) for pyserial or a terminal")
    parser.add_argument("--max-cycles", type=int_in_range(1), default=None,
                        help=f"stop after N simulated cycles (default: {DEFAULT_LIMIT_S} s at the board clock, "
                             "none with --uart-pty)")
    parser.add_argument("--timeout", type=positive_seconds, default=None, help="stop after S seconds of wall time")
    parser.add_argument("--input", default=None, help="text sent to the console before the run (\\n allowed)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON instead of the summary")


def run_cli(args: argparse.Namespace) -> int:
    """Exit status: 0 for exit(0) or idle, the firmware's exit code, 1 for fault/collision/limit/timeout."""
    board = load_board(args.board, args.memory_kib)

    console = sys.stderr if args.json else sys.stdout  # with --json, stdout carries only the JSON document

    def show(data: bytes) -> None:
        console.write(data.decode("utf-8", "replace"))
        console.flush()

    max_cycles = args.max_cycles
    if max_cycles is None and not args.uart_pty:
        max_cycles = DEFAULT_LIMIT_S * board.clock_hz
    emu = Emulator(board, args.elf, timed=args.timed, max_cycles=max_cycles, timeout_s=args.timeout,
                   on_console_bytes=None if args.uart_pty else show)
    if args.uart_pty:
        path = emu.attach_pty()
        print(f"console on pseudo-terminal {path}", file=sys.stderr, flush=True)
    if args.input:
        emu.write_console(args.input.encode().decode("unicode_escape").encode())
    result = emu.run()
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        if result.console_text and not result.console_text.endswith("\n") and not args.uart_pty:
            print()
        print(f"--- {board.name} @ {board.clock_hz / 1e6:g} MHz", file=sys.stderr)
        print(result.summary(), file=sys.stderr)
    problem = result.problem()
    if problem and result.stop_reason != "exit":
        print(f"armlprof: error: {problem}", file=sys.stderr)
    if result.stop_reason in ("exit", "idle"):
        return result.exit_code or 0
    return 1


def register_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run firmware on the built-in emulator: console live, summary at the end")
    add_run_arguments(p)
    p.set_defaults(handler=run_cli)
