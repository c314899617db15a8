"""`armlprof breakdown --model M --runtime R --board B`: where one inference's cycles go, per function (any
runtime) and per operator (tvm-aot), on the emulated board. Diagnostics: nothing is written to a results file."""

from __future__ import annotations

import argparse
import json

from armlprof.breakdown import cycle_breakdown, format_breakdown
from armlprof.cli.options import (
    add_cell_arguments,
    add_compile_arguments,
    add_run_arguments,
    add_runtime_option_arguments,
    int_in_range,
    runtime_options,
)
from armlprof.study import ProfileOptions


def _breakdown_command(args: argparse.Namespace) -> int:
    options = ProfileOptions(memory_kib=args.memory_kib, optimization=args.optimization,
                             extra_flags=tuple(args.flag or ()), seed=args.seed, timeout_s=args.timeout,
                             runtime_options=runtime_options(args))
    result = cycle_breakdown(args.model, args.runtime, args.board, options)
    print(json.dumps(result.to_dict()) if args.json else format_breakdown(result, args.top), flush=True)
    return 0


def register_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("breakdown", help="where one inference's cycles go: per function, and per operator for "
                                         "tvm-aot (emulated)",
                       description=__doc__.split(": ", 1)[1] if __doc__ else None,
                       epilog="examples:\n  armlprof breakdown --model builtin:micro_speech --runtime tvm-aot "
                              "--board spresense\n  armlprof breakdown --model person_detect.tflite --runtime tflm "
                              "--board nano33ble --tflm-root ../shared/tflm/Arduino_TensorFlowLite --top 10")
    add_cell_arguments(p)
    add_compile_arguments(p)
    add_runtime_option_arguments(p)
    add_run_arguments(p)
    p.add_argument("--top", type=int_in_range(1), default=20, help="functions listed (the rest summed; default 20)")
    p.add_argument("--json", action="store_true", help="the breakdown as JSON")
    p.set_defaults(handler=_breakdown_command)
