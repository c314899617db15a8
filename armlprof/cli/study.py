"""`armlprof study`: the whole study (models x runtimes x boards, or a matrix file's cells and variants) as jobs,
in parallel (`--jobs N`, default: the number of cores) or on a Dask cluster (`--executor dask --address ...`), then
its tables."""

from __future__ import annotations

import argparse
from pathlib import Path

from armlprof.cli.options import add_measurement_arguments, add_memory_argument, profile_options
from armlprof.errors import ArmlprofError
from armlprof.executor import EXECUTOR_NAMES, default_jobs, make_executor
from armlprof.matrix import find_config, load_matrix
from armlprof.results import ResultStore
from armlprof.study import STUDY_BOARDS, STUDY_RUNTIMES, _study_keys, stderr_progress, study, study_models, tables_for


def _split(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _study_command(args: argparse.Namespace) -> int:
    options = profile_options(args)
    if args.jobs is not None and args.jobs < 1:
        raise ArmlprofError(f"--jobs {args.jobs}: give 1 or more parallel jobs")
    if args.address and args.executor != "dask":
        raise ArmlprofError("--address is the Dask scheduler's; add --executor dask")
    config = args.config or find_config()
    if config is not None:
        if args.config is None:
            stderr_progress(f"using [tool.armlprof.study] from {config}")
        matrix = load_matrix(config, options, models=args.models, runtimes=_split(args.runtimes),
                             boards=_split(args.boards))
        cells = matrix.cells
    else:
        runtimes = _split(args.runtimes) or list(STUDY_RUNTIMES)
        boards = _split(args.boards) or list(STUDY_BOARDS)
        cells = [(spec, runtime, board, options) for spec in study_models(args.models)
                 for board in boards for runtime in runtimes]
    jobs = args.jobs or default_jobs()
    with make_executor(args.executor, jobs=jobs, address=args.address) as executor:
        study(args.results, cells=cells, executor=executor)
    models = list(dict.fromkeys(c[0] for c in cells))
    records = _study_keys(ResultStore(args.results).records(), models, {c[1] for c in cells},
                          {c[2] for c in cells}, {c[3].target for c in cells})
    print(tables_for(Path(args.results), records), end="")
    return 0


def register_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("study", help="reproduce the study: keyword spotting and person detection x TVM graph, TVM AOT, "
                                     "TFLM x nano33ble and spresense (or a matrix file's sweep)")
    p.add_argument("--models", nargs="+", default=None, help=".tflite files to use instead of the study's models")
    p.add_argument("--runtimes", default=None, help=f"comma-separated (default: {','.join(STUDY_RUNTIMES)})")
    p.add_argument("--boards", default=None, help=f"comma-separated (default: {','.join(STUDY_BOARDS)})")
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
    add_measurement_arguments(p)
    p.set_defaults(handler=_study_command)
