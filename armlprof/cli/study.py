"""`armlprof study`: the whole study (models x runtimes x boards), then its tables."""

from __future__ import annotations

import argparse
from pathlib import Path

from armlprof.cli.options import add_measurement_arguments, add_memory_argument, name_list, profile_options
from armlprof.results import ResultStore
from armlprof.study import STUDY_BOARDS, STUDY_RUNTIMES, _study_keys, study, study_models, tables_for


def _study_command(args: argparse.Namespace) -> int:
    options = profile_options(args)
    models = study_models(args.models)
    runtimes = args.runtimes or list(STUDY_RUNTIMES)
    boards = args.boards or list(STUDY_BOARDS)
    study(args.results, models=models, runtimes=runtimes, boards=boards, options=options)
    records = _study_keys(ResultStore(args.results).records(), models, runtimes, boards, args.target)
    print(tables_for(Path(args.results), records), end="")
    return 0


def register_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("study", help="reproduce the study: keyword spotting and person detection x TVM graph, TVM AOT, "
                                     "TFLM x nano33ble and spresense")
    p.add_argument("--models", nargs="+", default=None, help=".tflite files to use instead of the study's models")
    p.add_argument("--runtimes", type=name_list, default=None,
                   help=f"comma-separated (default: {','.join(STUDY_RUNTIMES)})")
    p.add_argument("--boards", type=name_list, default=None,
                   help=f"comma-separated (default: {','.join(STUDY_BOARDS)})")
    add_memory_argument(p)
    add_measurement_arguments(p)
    p.set_defaults(handler=_study_command)
