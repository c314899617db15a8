"""`armlprof run ELF --board BOARD [--timed] [--uart-pty [--wait-for-client]] [--max-cycles N] [--timeout S]
[--input TEXT] [--profile [--profile-top N]] [--json]`: run an ELF on the built-in emulator, stream its console
live, end with a summary (and with --profile, the functions that took the most cycles: emulator/profile.py).

With --uart-pty the emulated board behaves like one on a USB serial port: opening the port reboots it (the DTR
edge an auto-reset circuit turns into a reset), output while no client has the port open is lost, and the port
stays open after the firmware ends until Ctrl-C, so a terminal such as miniterm keeps working across reboots."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from dataclasses import asdict
from typing import Any

from armlprof.board import load_board
from armlprof.cli.options import add_board_arguments, int_in_range, positive_seconds
from armlprof.emulator.emulator import Emulator
from armlprof.emulator.profile import format_profile

DEFAULT_LIMIT_S = 60  # a run with no console attached that neither exits nor idles by then is hung
# From a client opening the pty to the boot: a real board's reset-to-sketch time, and it lets the client finish
# opening (pyserial flushes its input buffer at the end of open(), which would eat the first line).
BOOT_DELAY_S = 0.5


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("elf", help="the ELF to run (e.g. from armlprof build)")
    add_board_arguments(parser)
    parser.add_argument("--timed", action="store_true", help="Cortex-M4 cycle model (default: 1 cycle/instruction)")
    parser.add_argument("--uart-pty", action="store_true",
                        help="expose the console as a pseudo-terminal (prints its path on stderr) for pyserial or a "
                             "terminal; opening it reboots the board, and it stays open until Ctrl-C")
    parser.add_argument("--wait-for-client", action="store_true",
                        help="with --uart-pty: boot only when a client opens the port (so it sees the first line)")
    parser.add_argument("--max-cycles", type=int_in_range(1), default=None,
                        help=f"stop after N simulated cycles (default: {DEFAULT_LIMIT_S} s at the board clock, "
                             "none with --uart-pty)")
    parser.add_argument("--timeout", type=positive_seconds, default=None,
                        help="stop after S seconds of wall time per boot")
    parser.add_argument("--input", default=None, help="text sent to the console before the run (\\n allowed)")
    parser.add_argument("--profile", action="store_true",
                        help="after the run, the functions that took the most cycles (every cycle charged to the "
                             "function executing; a few times slower)")
    parser.add_argument("--profile-top", type=int_in_range(1), default=20, metavar="N",
                        help="with --profile: list N functions, sum the rest (default: 20)")
    parser.add_argument("--json", action="store_true",
                        help="print the result as JSON on stdout (the firmware's console then goes to stderr)")


def _summary(args: argparse.Namespace, board: Any, result: Any, profile: list | None = None) -> None:
    if args.json:
        data = result.to_dict()
        if profile is not None:
            data["profile"] = [asdict(r) for r in profile]
        print(json.dumps(data), flush=True)
    else:
        print(f"--- {board.name} @ {board.clock_hz / 1e6:g} MHz", file=sys.stderr)
        print(result.summary(), file=sys.stderr, flush=True)
        if profile is not None:
            print(format_profile(profile, result.cycles, args.profile_top), file=sys.stderr, flush=True)
    problem = result.problem()
    if problem and result.stop_reason != "exit":
        print(f"armlprof: error: {problem}", file=sys.stderr)


def _exit_status(result: Any) -> int:
    """0 for exit(0) or idle, the firmware's exit code, 1 for fault/collision/limit/timeout."""
    if result.stop_reason in ("exit", "idle"):
        return result.exit_code or 0
    return 1


def _run_pty(args: argparse.Namespace, board: Any, emu: Emulator) -> int:
    from armlprof.emulator.pty import ClientWatcher

    path = emu.attach_pty(hold_slave=False)
    opened = threading.Event()  # a client opened the port: (re)boot
    quit_ = threading.Event()  # Ctrl-C
    running = threading.Event()

    def on_open() -> None:
        opened.set()
        if running.is_set():
            emu.stop()

    def on_sigint(_signum: int, _frame: Any) -> None:
        # Not KeyboardInterrupt: raised inside an emulator hook it would surface as a ctypes traceback.
        quit_.set()
        emu.stop()

    def wait_for_open() -> bool:
        """Until a client opens the port (True) or Ctrl-C (False)."""
        while not opened.wait(0.1):
            if quit_.is_set():
                return False
        return not quit_.is_set()

    watcher = ClientWatcher(emu.pty, on_open)
    # (an ignored SIGINT stays ignored, as a shell leaves it for a background job)
    previous_handler = signal.getsignal(signal.SIGINT)
    if previous_handler is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, on_sigint)
    print(f"console on pseudo-terminal {path}", file=sys.stderr, flush=True)
    status = 0
    try:
        if args.wait_for_client:
            print("waiting for a client to open the port (boots then)", file=sys.stderr, flush=True)
            if not wait_for_open():
                return status
        while not quit_.is_set():
            if opened.is_set():
                time.sleep(BOOT_DELAY_S)
            opened.clear()
            if args.input:
                emu.write_console(args.input.encode().decode("unicode_escape").encode())
            running.set()
            try:
                result = emu.run()
            except KeyboardInterrupt:  # Ctrl-C during a boot, through the emulator's own SIGINT guard: quit
                break
            finally:
                running.clear()
            if quit_.is_set():
                break
            if opened.is_set():
                print("the port was opened: rebooting (as DTR resets a board)", file=sys.stderr, flush=True)
                continue
            _summary(args, board, result)
            status = _exit_status(result)
            print("the firmware ended; the port stays open (reopen it to reboot, Ctrl-C to quit)", file=sys.stderr,
                  flush=True)
            if not wait_for_open():
                break
            print("the port was opened: rebooting (as DTR resets a board)", file=sys.stderr, flush=True)
        return status
    finally:
        signal.signal(signal.SIGINT, previous_handler)
        print("armlprof: stopped", file=sys.stderr, flush=True)
        watcher.close()
        emu.pty.close()


def run_cli(args: argparse.Namespace) -> int:
    """Exit status: 0 for exit(0) or idle, the firmware's exit code, 1 for fault/collision/limit/timeout."""
    board = load_board(args.board, args.memory_kib)
    console = sys.stderr if args.json else sys.stdout  # with --json, stdout carries only the JSON document

    def show(data: bytes) -> None:
        console.write(data.decode("utf-8", "replace"))
        console.flush()

    if args.wait_for_client and not args.uart_pty:
        from armlprof.errors import ArmlprofError

        raise ArmlprofError("--wait-for-client waits for a client of the pseudo-terminal; add --uart-pty")
    if args.profile and args.uart_pty:
        from armlprof.errors import ArmlprofError

        raise ArmlprofError("--profile profiles one run; drop --uart-pty (its board reboots on every port open)")
    max_cycles = args.max_cycles
    if max_cycles is None and not args.uart_pty:
        max_cycles = DEFAULT_LIMIT_S * board.clock_hz
    emu = Emulator(board, args.elf, timed=args.timed, max_cycles=max_cycles, timeout_s=args.timeout,
                   on_console_bytes=None if args.uart_pty else show, profile=args.profile)
    if args.uart_pty:
        return _run_pty(args, board, emu)
    if args.input:
        emu.write_console(args.input.encode().decode("unicode_escape").encode())
    result = emu.run()  # Ctrl-C: KeyboardInterrupt, which the CLI ends with `armlprof: interrupted` (exit 130)
    if result.console_text and not result.console_text.endswith("\n"):
        console.write("\n")
    _summary(args, board, result, emu.function_profile() if args.profile else None)
    return _exit_status(result)


def register_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run firmware on the built-in emulator: console live, summary at the end",
                       description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
                       epilog="examples:\n  armlprof run build/sketch.elf --board nano33ble --timed\n"
                              "  armlprof run build/sketch.elf --board spresense --timed --profile\n"
                              "  armlprof run sketch.elf --board spresense --uart-pty --wait-for-client &\n"
                              "  python -m serial.tools.miniterm /dev/pts/N 115200")
    add_run_arguments(p)
    p.set_defaults(handler=run_cli)
