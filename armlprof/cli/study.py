"""`armlprof study`: the whole study (models x runtimes x boards, or a matrix file's cells and variants) as jobs,
in parallel (`--jobs N`, default: the number of cores) or on a Dask cluster (`--executor dask --address ...`), then
its tables."""

from __future__ import annotations

import argparse
from pathlib import Path

from armlprof.cli.options import (
    add_calibration_argument,
    add_format_argument,
    add_measurement_arguments,
    add_memory_argument,
    add_verbosity_arguments,
    name_list,
    output_format,
    profile_options,
)
from armlprof.errors import ArmlprofError
from armlprof.executor import EXECUTOR_NAMES, default_jobs, make_executor
from armlprof.matrix import find_config, load_matrix
from armlprof.progress import Progress
from armlprof.report import emit
from armlprof.results import ResultStore
from armlprof.study import STUDY_BOARDS, STUDY_RUNTIMES, _study_keys, study, study_models


def _study_command(args: argparse.Namespace) -> int:
    options = profile_options(args)
    if args.jobs is not None and args.jobs < 1:
        raise ArmlprofError(f"--jobs {args.jobs}: give 1 or more parallel jobs")
    if args.address and args.executor != "dask":
        raise ArmlprofError("--address is the Dask scheduler's; add --executor dask")
    # --models a.tflite b.tflite or --models a.tflite,b.tflite (as --runtimes and --boards take them)
    model_specs = [m for item in args.models or () for m in item.split(",") if m] or None
    fmt = output_format(args)
    progress = Progress(args.verbosity)
    try:
        config = args.config or find_config()
        if config is not None:
            if args.config is None:
                progress(f"using [tool.armlprof.study] from {config}")
            matrix = load_matrix(config, options, models=model_specs, runtimes=args.runtimes, boards=args.boards)
            cells = matrix.cells
        else:
            runtimes = args.runtimes or list(STUDY_RUNTIMES)
            boards = args.boards or list(STUDY_BOARDS)
            cells = [(spec, runtime, board, options) for spec in study_models(model_specs, progress)
                     for board in boards for runtime in runtimes]
        with make_executor(args.executor, jobs=args.jobs or default_jobs(), address=args.address) as executor:
            study(args.results, cells=cells, executor=executor, progress=progress)
    finally:
        progress.close()
    models = list(dict.fromkeys(c[0] for c in cells))
    records = _study_keys(ResultStore(args.results).records(), models, {c[1] for c in cells},
                          {c[2] for c in cells}, {c[3].target for c in cells})
    emit(records, fmt, sources=[Path(args.results).name])
    return 0


def register_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("study", help="reproduce the study: keyword spotting and person detection x TVM graph, TVM AOT, "
                                     "TFLM x nano33ble and spresense (or a matrix file's sweep)",
                       epilog="examples:\n  armlprof study --quick\n  armlprof study --runtimes tvm-aot,tflm "
                              "--boards nano33ble --results nano.jsonl\n  armlprof study --config study.toml --jobs 2"
                              "\n  armlprof report nano.jsonl --format html --out report/")
    p.add_argument("--models", nargs="+", default=None, help=".tflite files to use instead of the study's models")
    p.add_argument("--runtimes", type=name_list, default=None,
                   help=f"comma-separated (default: {','.join(STUDY_RUNTIMES)})")
    p.add_argument("--boards", type=name_list, default=None,
                   help=f"comma-separated (default: {','.join(STUDY_BOARDS)})")
    p.add_argument("--config", type=Path, default=None,
                   help="study matrix file (study.toml, or a pyproject.toml with [tool.armlprof.study]); default: "
                        "./pyproject.toml when it has that table")
    p.add_argument("--jobs", "-j", type=int, default=None,
                   help=f"cells measured at once (default: the number of cores, {default_jobs()} here)")
    p.add_argument("--executor", default="local", choices=EXECUTOR_NAMES,
                   help="where cells run: local process pool (default), serial (in this process), dask (a cluster)")
    p.add_argument("--address", default=None,
                   help="dask: the scheduler (tcp://host:8786); default: a local cluster of --jobs workers")
    add_memory_argument(p)
    add_calibration_argument(p)
    add_measurement_arguments(p)
    add_format_argument(p)
    add_verbosity_arguments(p)
    p.set_defaults(handler=_study_command)
