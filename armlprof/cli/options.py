"""Option groups several commands share (as pyOCD's CommonOptions): one definition of each option."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from armlprof.board import board_names
from armlprof.errors import ArmlprofError, OptionError
from armlprof.measure import DEFAULT_SEED, TRIAL_TIMEOUT_S
from armlprof.results import METRICS
from armlprof.runtime.base import runtime_names
from armlprof.study import RUNS_RANGE, SEED_RANGE, ProfileOptions
from armlprof.target.base import TARGET_NAMES

# ---------------------------------------------------------------- validated value types (argparse `type=`)
# A bad value is an argparse error: one line naming the option and the accepted range, exit 2, nothing measured.
OPTIMIZATION_LEVELS = ("0", "1", "2", "3", "s", "g", "z", "fast")


def int_in_range(low: int, high: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text, 0)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low or (high is not None and value > high):
            bound = f"from {low:,} to {high:,}" if high is not None else f"at least {low:,}"
            raise argparse.ArgumentTypeError(f"{value} is out of range (give a number {bound})")
        return value
    parse.__name__ = "integer"  # argparse names the type in its messages
    return parse


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} must be more than 0 seconds")
    return value


def optimization_flag(text: str) -> str:
    """-O2, O2 or 2 -> "-O2" (the README writes `--optimization -O2`; see cli._join_dash_values)."""
    level = text.strip().removeprefix("-").removeprefix("O")
    if level not in OPTIMIZATION_LEVELS:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an optimization level; use one of {', '.join('-O' + v for v in OPTIMIZATION_LEVELS)}")
    return f"-O{level}"


def metric_list(text: str) -> list[str]:
    names = [m.strip() for m in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"{text!r} has an empty name; give e.g. flash,ram")
    unknown = [m for m in names if m not in METRICS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown measurement(s) {', '.join(unknown)}; choose from {', '.join(METRICS)}")
    return names


def name_list(text: str) -> list[str]:
    """A comma-separated list without empty items (`tvm-aot,,bogus` is a typo)."""
    names = [n.strip() for n in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"{text!r} has an empty name between commas")
    return names


SEED = int_in_range(*SEED_RANGE)
RUNS = int_in_range(*RUNS_RANGE)


def add_board_arguments(parser: argparse.ArgumentParser) -> None:
    """--board and --memory-kib, shared by every command that targets one board."""
    parser.add_argument("--board", required=True, help=f"board name ({', '.join(board_names())})")
    add_memory_argument(parser)
    add_calibration_argument(parser)


def add_calibration_argument(parser: argparse.ArgumentParser) -> None:
    """--calibration: timing parameters `armlprof calibrate` wrote (applied in cli main before the command)."""
    parser.add_argument("--calibration", type=Path, action="append", default=None, metavar="FILE",
                        help="calibration file from armlprof calibrate, one per board (repeat for several boards; "
                             "default: the per-user one of each board, ~/.config/armlprof/calibration/BOARD.json, "
                             "if present)")


def add_memory_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--memory-kib", type=int_in_range(1), default=None,
                        help="board memory option (spresense: main-core share, 128..1536 KiB)")


def add_compile_arguments(parser: argparse.ArgumentParser) -> None:
    """--optimization and --flag: how a sketch is compiled beyond the board's defaults."""
    parser.add_argument("--optimization", type=optimization_flag, default=None,
                        help="override the board's optimization flag (-O0, -O1, -O2, -O3, -Os, -Og, -Oz, -Ofast)")
    parser.add_argument("--flag", action="append", help="extra compiler flag (repeatable), e.g. --flag=-DFOO=1")


def add_cell_arguments(p: argparse.ArgumentParser) -> None:
    """--model, --runtime and the board options: one model x runtime x board (profile, breakdown)."""
    p.add_argument("--model", required=True, help="an int8 .tflite file, or builtin:NAME (armlprof models lists them)")
    p.add_argument("--runtime", required=True, help=f"runtime ({', '.join(runtime_names())})")
    add_board_arguments(p)


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    """--seed and --timeout: the generated input and the hang limit of each run of a measurement sketch."""
    p.add_argument("--seed", type=SEED, default=DEFAULT_SEED,
                   help="seed of the generated model input")
    p.add_argument("--timeout", type=positive_seconds, default=TRIAL_TIMEOUT_S,
                   help="wall-clock seconds per run before a hang")


def add_measurement_arguments(p: argparse.ArgumentParser) -> None:
    """What profile and study share: target, figures, results file, run counts, compile and runtime options."""
    add_compile_arguments(p)
    p.add_argument("--target", default="emulator", choices=TARGET_NAMES,
                   help="where the sketches run (default: the built-in emulator)")
    p.add_argument("--measure", type=metric_list, default=list(METRICS),
                   help=f"comma-separated figures to measure (default: {','.join(METRICS)})")
    p.add_argument("--results", type=Path, default=Path("results.jsonl"),
                   help="JSON Lines file the figures are appended to; a rerun skips figures already ok")
    p.add_argument("--quick", action="store_true", help="fewer timed runs (emulated: 1 init, 2 inferences)")
    p.add_argument("--runs", type=RUNS, default=None,
                   help="timed inferences (default: 256 on a real board, 4 emulated)")
    p.add_argument("--init-runs", type=RUNS, default=None,
                   help="boots for the init time (default: 32 real, 2 emulated)")
    add_run_arguments(p)
    p.add_argument("--port", default=None, help="serial target: the board's serial device (e.g. /dev/ttyACM0)")
    p.add_argument("--reset", default=None, choices=("dtr", "1200bps", "none"),
                   help="serial target: how to reset the board between runs (default: dtr)")
    add_runtime_option_arguments(p)
    p.add_argument("--prebuilt", action="store_true", default=None,
                   help="serial target: the board already runs armlprof's image; skip arduino-cli build and upload")


SERIAL_ONLY_OPTIONS = ("port", "reset", "prebuilt")


def add_runtime_option_arguments(p: argparse.ArgumentParser) -> None:
    """The runtimes' options (TFLM tree, kernels and arena; TVM tuning): what runtime_options() turns into each
    runtime's generate() options."""
    p.add_argument("--tflm-root", default=None,
                   help="TFLM tree (Arduino_TensorFlowLite library or tflite-micro checkout); default: "
                        "$ARMLPROF_TFLM_ROOT, then the Arduino sketchbook's libraries")
    p.add_argument("--tflm-kernels", default=None, choices=("cmsis-nn", "reference"),
                   help="TFLM kernels (default: CMSIS-NN when the tree has them)")
    p.add_argument("--tflm-arena-bytes", type=int_in_range(1), default=None,
                   help="TFLM tensor arena size (default: measured from a first run)")
    p.add_argument("--tune", type=int, default=None, metavar="TRIALS",
                   help="tvm-aot/tvm-graph: tune the operator schedules on the emulator with up to TRIALS candidates "
                        "(records cached per operator, board and flags), then build with the best")


def runtime_options(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Per runtime, its generate() options from add_runtime_option_arguments' (and the compile) options."""
    tflm_root = None
    if args.tflm_root is not None:
        # A runtime option (no environment write): availability checks and generation both get it.
        if not Path(args.tflm_root).is_dir():
            raise ArmlprofError(f"--tflm-root {args.tflm_root}: no such folder (give the Arduino_TensorFlowLite "
                                "library folder or a tflite-micro checkout)")
        tflm_root = str(Path(args.tflm_root).resolve())
    tflm_options = {k: v for k, v in (("tflm_root", tflm_root), ("kernels", args.tflm_kernels),
                                      ("arena_bytes", args.tflm_arena_bytes)) if v is not None}
    options: dict[str, dict[str, Any]] = {"tflm": tflm_options} if tflm_options else {}
    if args.tune is not None:
        if args.tune < 0:
            raise ArmlprofError(f"--tune {args.tune}: give the number of tuning candidates (0 = use records only)")
        tvm_options = {"tune": args.tune, "schedule": "tuned", **({"optimization": args.optimization}
                                                                 if args.optimization else {}),
                       **({"extra_flags": tuple(args.flag)} if args.flag else {})}
        options.update({"tvm-aot": tvm_options, "tvm-graph": tvm_options})
    return options


def profile_options(args: argparse.Namespace) -> ProfileOptions:
    target_options = {k: getattr(args, k) for k in SERIAL_ONLY_OPTIONS if getattr(args, k) is not None}
    if target_options and args.target != "serial":
        given = ", ".join(f"--{k}" for k in target_options)
        raise OptionError(f"{given} only apply to --target serial; add --target serial or drop {given}")
    measures = list(args.measure)
    return ProfileOptions(
        runtime_options=runtime_options(args),
        target=args.target, target_options=target_options, measures=measures, memory_kib=args.memory_kib,
        optimization=args.optimization, extra_flags=tuple(args.flag or ()), quick=args.quick,
        init_runs=args.init_runs, inference_runs=args.runs, seed=args.seed, timeout_s=args.timeout,
    )


def add_format_argument(parser: argparse.ArgumentParser, formats: tuple[str, ...] | None = None) -> None:
    """--format: how tables are written (rich tables on a terminal, markdown otherwise, unless given)."""
    from armlprof.report import FORMATS

    parser.add_argument("--format", default=None, choices=formats or FORMATS,
                        help="output format (default: table on a terminal, md when stdout is a file or pipe)")


def output_format(args: argparse.Namespace) -> str:
    """The --format asked for, or its default: rich tables on a terminal, markdown for a file or pipe."""
    import sys

    return args.format or ("table" if sys.stdout.isatty() else "md")


def add_verbosity_arguments(parser: argparse.ArgumentParser) -> None:
    """-q/-v: how much progress goes to stderr (figures and results are unaffected)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-q", "--quiet", action="store_const", dest="verbosity", const=0,
                       help="no progress on stderr, only errors")
    group.add_argument("-v", "--verbose", action="store_const", dest="verbosity", const=2,
                       help="every step on stderr (each bisection trial, each timed run)")
    parser.set_defaults(verbosity=1)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps examples in epilogs as written and appends `(default: X)` to options whose help does not say it."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if (action.default not in (None, False, argparse.SUPPRESS) and "default" not in text
                and action.option_strings and action.nargs != 0):  # flags (-q, --json) take no value
            text += " (default: %(default)s)"
        return text
