"""`armlprof calibrate --board B --target emulator|serial [--port P] [--output FILE]`: run the calibration
microbenchmarks on a target, fit the board's timing parameters (bounded least squares), print the residuals and
write the calibration file later runs use (default: the per-user one of the board)."""

from __future__ import annotations

import argparse
from pathlib import Path

from armlprof import calibration
from armlprof.board import load_board
from armlprof.cli.options import add_board_arguments


def _calibrate(args: argparse.Namespace) -> int:
    board = load_board(args.board, args.memory_kib)
    if args.target == "emulator":
        measured = calibration.emulator_runner(args.iterations)(board)
    else:
        from armlprof.target import get_target

        uploader = None if args.prebuilt or not args.port else calibration.arduino_cli_uploader(args.port)
        target = get_target("serial", port=args.port, reset=args.reset, prebuilt=args.prebuilt, uploader=uploader)
        reason = target.unavailable_reason(board)
        if reason:
            raise calibration.ArmlprofError(f"serial target unavailable: {reason}")
        try:
            target.connect(board)
            measured = calibration.target_runner(target, args.iterations, args.timeout)(board)
        finally:
            target.close()
    # Fit from the board's own data, not from a calibration applied to this process.
    result = calibration.fit(calibration.with_timing(board, {}, "board.toml"), measured, args.iterations,
                             args.target)
    print(f"calibration of {board.name} on the {args.target} target ({args.iterations} iterations per kernel)")
    print(f"{'kernel':<12} {'measured cycles':>16} {'fitted cycles':>14} {'residual':>9}")
    for kernel, residual in result.residuals().items():
        measured_cycles = result.measured[kernel]
        share = residual / measured_cycles * 100 if measured_cycles else 0.0
        print(f"{kernel:<12} {measured_cycles:>16,} {result.predicted[kernel]:>14,.0f} {share:>+8.2f}%")
    print("parameters:")
    nominal = board.nominal_timing
    for key, value in result.parameters.items():
        p = calibration.PARAMETERS[key]
        print(f"  {key} = {value:.3f}  (board.toml {calibration.get_value(nominal, key):g}; "
              f"bounds {p.lower:g}..{p.upper:g}; {p.about})")
    out = calibration.write_file(result, args.output or calibration.user_file(board.name))
    print(f"wrote {out}")
    return 0


def register_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("calibrate", help="fit the board's cycle-model parameters to microbenchmarks run on a "
                                         "target and write a calibration file")
    add_board_arguments(p)
    p.add_argument("--target", default="emulator", choices=("emulator", "serial"))
    p.add_argument("--port", default=None, help="serial target: the board's serial device (e.g. /dev/ttyACM0)")
    p.add_argument("--reset", default="dtr", choices=("dtr", "1200bps", "none"), help="serial target reset")
    p.add_argument("--prebuilt", action="store_true",
                   help="serial target: the calibration sketch is already on the board (no arduino-cli upload)")
    p.add_argument("--iterations", type=int, default=4, help="repetitions of each kernel (default 4)")
    p.add_argument("--timeout", type=float, default=120.0, help="serial target: seconds for the whole run")
    p.add_argument("--output", type=Path, default=None,
                   help="calibration file to write (default: ~/.config/armlprof/calibration/BOARD.json)")
    p.set_defaults(handler=_calibrate)
