"""`armlprof profile --model M --runtime R --board B`: the four figures of one cell, appended to a results file."""

from __future__ import annotations

import argparse
from pathlib import Path

from armlprof.board import load_board
from armlprof.cli.options import (
    add_cell_arguments,
    add_format_argument,
    add_measurement_arguments,
    add_verbosity_arguments,
    output_format,
    profile_options,
)
from armlprof.model import load_model
from armlprof.progress import Progress
from armlprof.report import emit
from armlprof.results import ResultStore, record_key
from armlprof.study import profile


def _profile_command(args: argparse.Namespace) -> int:
    options = profile_options(args)
    fmt = output_format(args)
    progress = Progress(args.verbosity)
    try:
        profile(args.model, args.runtime, args.board, args.results, options, progress=progress)
    finally:
        progress.close()
    model = load_model(args.model)
    key_fields = ("model_sha256", "runtime", "board", "memory_kib", "target")
    board = load_board(args.board, args.memory_kib)
    wanted = {"model_sha256": model.sha256, "runtime": args.runtime, "board": board.name,
              "memory_kib": board.memory_kib, "target": args.target}
    records = [r for r in ResultStore(args.results).records() if all(r.get(k) == wanted[k] for k in key_fields)]
    emit(records, fmt, sources=[Path(args.results).name])
    latest = {record_key(r): r for r in records}
    return 0 if all(r["status"] == "ok" for r in latest.values() if r["metric"] in options.measures) else 1


def register_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("profile", help="measure flash, unused RAM, init and inference time of one model x runtime x "
                                       "board",
                       epilog="examples:\n  armlprof profile --model builtin:micro_speech --runtime tvm-aot "
                              "--board nano33ble --quick\n  armlprof profile --model my_model.tflite --runtime tflm "
                              "--board spresense --format json > cell.json")
    add_cell_arguments(p)
    add_measurement_arguments(p)
    add_format_argument(p)
    add_verbosity_arguments(p)
    p.set_defaults(handler=_profile_command)
