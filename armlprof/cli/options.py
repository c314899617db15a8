"""Option groups several commands share (as pyOCD's CommonOptions): one definition of each option."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from armlprof.board import board_names
from armlprof.errors import ArmlprofError
from armlprof.measure import DEFAULT_SEED, TRIAL_TIMEOUT_S
from armlprof.results import METRICS
from armlprof.study import ProfileOptions
from armlprof.target.base import TARGET_NAMES


def add_board_arguments(parser: argparse.ArgumentParser) -> None:
    """--board and --memory-kib, shared by every command that targets one board."""
    parser.add_argument("--board", required=True, help=f"board name ({', '.join(board_names())})")
    add_memory_argument(parser)


def add_memory_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--memory-kib", type=int, default=None,
                        help="board memory option (spresense: main-core share, 128..1536 KiB)")


def add_compile_arguments(parser: argparse.ArgumentParser) -> None:
    """--optimization and --flag: how a sketch is compiled beyond the board's defaults."""
    parser.add_argument("--optimization", default=None, help="override the board's optimization flag (e.g. -O2)")
    parser.add_argument("--flag", action="append", help="extra compiler flag (repeatable), e.g. --flag=-DFOO=1")


def add_measurement_arguments(p: argparse.ArgumentParser) -> None:
    """What profile and study share: target, figures, results file, run counts, compile and runtime options."""
    add_compile_arguments(p)
    p.add_argument("--target", default="emulator", choices=TARGET_NAMES,
                   help="where the sketches run (default: the built-in emulator)")
    p.add_argument("--measure", default=",".join(METRICS),
                   help=f"comma-separated figures to measure (default: {','.join(METRICS)})")
    p.add_argument("--results", type=Path, default=Path("results.jsonl"),
                   help="JSON Lines file the figures are appended to; a rerun skips figures already ok")
    p.add_argument("--quick", action="store_true", help="fewer timed runs (emulated: 1 init, 2 inferences)")
    p.add_argument("--runs", type=int, default=None, help="timed inferences (default: 256 on a real board, 4 emulated)")
    p.add_argument("--init-runs", type=int, default=None, help="boots for the init time (default: 32 real, 2 emulated)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the generated model input")
    p.add_argument("--timeout", type=float, default=TRIAL_TIMEOUT_S, help="wall-clock seconds per run before a hang")
    p.add_argument("--port", default=None, help="serial target: the board's serial device (e.g. /dev/ttyACM0)")
    p.add_argument("--reset", default=None, choices=("dtr", "1200bps", "none"),
                   help="serial target: how to reset the board between runs (default: dtr)")
    p.add_argument("--tflm-root", default=None,
                   help="TFLM tree (Arduino_TensorFlowLite library or tflite-micro checkout); default: "
                        "$ARMLPROF_TFLM_ROOT, then the Arduino sketchbook's libraries")
    p.add_argument("--tflm-kernels", default=None, choices=("cmsis-nn", "reference"),
                   help="TFLM kernels (default: CMSIS-NN when the tree has them)")
    p.add_argument("--tflm-arena-bytes", type=int, default=None,
                   help="TFLM tensor arena size (default: measured from a first run)")
    p.add_argument("--prebuilt", action="store_true", default=None,
                   help="serial target: the board already runs armlprof's image; skip arduino-cli build and upload")


def profile_options(args: argparse.Namespace) -> ProfileOptions:
    target_options: dict[str, Any] = {}
    if args.target == "serial":
        target_options = {k: v for k, v in (("port", args.port), ("reset", args.reset),
                                             ("prebuilt", args.prebuilt)) if v is not None}
    measures = [m.strip() for m in args.measure.split(",") if m.strip()]
    tflm_root = None
    if args.tflm_root is not None:
        # A runtime option (no environment write): availability checks and generation both get it.
        if not Path(args.tflm_root).is_dir():
            raise ArmlprofError(f"--tflm-root {args.tflm_root}: no such folder (give the Arduino_TensorFlowLite "
                                "library folder or a tflite-micro checkout)")
        tflm_root = str(Path(args.tflm_root).resolve())
    tflm_options = {k: v for k, v in (("tflm_root", tflm_root), ("kernels", args.tflm_kernels),
                                      ("arena_bytes", args.tflm_arena_bytes)) if v is not None}
    return ProfileOptions(
        runtime_options={"tflm": tflm_options} if tflm_options else {},
        target=args.target, target_options=target_options, measures=measures, memory_kib=args.memory_kib,
        optimization=args.optimization, extra_flags=tuple(args.flag or ()), quick=args.quick,
        init_runs=args.init_runs, inference_runs=args.runs, seed=args.seed, timeout_s=args.timeout,
    )
