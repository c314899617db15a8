"""`armlprof study`: the whole study (models x runtimes x boards), then its tables."""

from __future__ import annotations

import argparse
from pathlib import Path

from armlprof.cli.options import (
    add_format_argument,
    add_measurement_arguments,
    add_memory_argument,
    add_verbosity_arguments,
    name_list,
    output_format,
    profile_options,
)
from armlprof.progress import Progress
from armlprof.report import emit
from armlprof.results import ResultStore
from armlprof.study import STUDY_BOARDS, STUDY_RUNTIMES, _study_keys, study, study_models


def _study_command(args: argparse.Namespace) -> int:
    options = profile_options(args)
    # --models a.tflite b.tflite or --models a.tflite,b.tflite (as --runtimes and --boards take them)
    models = study_models([m for item in args.models or () for m in item.split(",") if m] or None)
    runtimes = args.runtimes or list(STUDY_RUNTIMES)
    boards = args.boards or list(STUDY_BOARDS)
    fmt = output_format(args)
    progress = Progress(args.verbosity)
    try:
        study(args.results, models=models, runtimes=runtimes, boards=boards, options=options, progress=progress)
    finally:
        progress.close()
    records = _study_keys(ResultStore(args.results).records(), models, runtimes, boards, args.target)
    emit(records, fmt, sources=[Path(args.results).name])
    return 0


def register_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("study", help="reproduce the study: keyword spotting and person detection x TVM graph, TVM AOT, "
                                     "TFLM x nano33ble and spresense",
                       epilog="examples:\n  armlprof study --quick\n  armlprof study --runtimes tvm-aot,tflm "
                              "--boards nano33ble --results nano.jsonl\n  armlprof report nano.jsonl --format html "
                              "--out report/")
    p.add_argument("--models", nargs="+", default=None, help=".tflite files to use instead of the study's models")
    p.add_argument("--runtimes", type=name_list, default=None,
                   help=f"comma-separated (default: {','.join(STUDY_RUNTIMES)})")
    p.add_argument("--boards", type=name_list, default=None,
                   help=f"comma-separated (default: {','.join(STUDY_BOARDS)})")
    add_memory_argument(p)
    add_measurement_arguments(p)
    add_format_argument(p)
    add_verbosity_arguments(p)
    p.set_defaults(handler=_study_command)
