"""Profiling one model x runtime x board (its four figures) and the whole study, as a Python API (the CLI's
`armlprof profile` and `armlprof study` call it).

Each figure is appended to the results file as soon as it is measured (`armlprof.results`), so an interrupted run
loses nothing, and a rerun with the same file skips every figure already `ok` for the same key (model hash,
runtime, board, memory option, target, metric, flags). A figure that cannot be measured gets a record saying why
(`unavailable`: runtime or target missing here; `failed`: e.g. the image does not fit, or the model faults).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from armlprof.board import Board, load_board
from armlprof.build import compile_flags
from armlprof.cache import cache_root
from armlprof.errors import ArmlprofError
from armlprof.executor import Executor, SerialExecutor
from armlprof.jobs import PARALLEL_TARGETS, EventHook, JobEvent, close_targets, plan_cells, run_cells
from armlprof.measure import DEFAULT_SEED, TRIAL_TIMEOUT_S, RunCounts
from armlprof.metrics import METRIC_NAMES, METRICS, MeasureContext
from armlprof.model import Model, load_model
from armlprof.progress import Progress as ProgressReporter
from armlprof.progress import task
from armlprof.results import ResultStore, make_record
from armlprof.runtime.base import get_runtime, runtime_identity, runtime_names
from armlprof.sketch import prepare_measurement_sketch
from armlprof.target.base import Image, Target, get_target

STUDY_MODELS = ("builtin:micro_speech", "builtin:person_detect")
STUDY_RUNTIMES = ("tvm-graph", "tvm-aot", "tflm")
STUDY_BOARDS = ("nano33ble", "spresense")
SHARED_MODELS = {"micro_speech": "micro_speech_quantized.tflite", "person_detect": "person_detect.tflite"}

Progress = Callable[[str], None]


def stderr_progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class ProfileOptions:
    target: str = "emulator"
    target_options: dict[str, Any] = field(default_factory=dict)
    measures: Sequence[str] = METRIC_NAMES
    memory_kib: int | None = None
    optimization: str | None = None
    extra_flags: Sequence[str] = ()
    quick: bool = False
    init_runs: int | None = None
    inference_runs: int | None = None
    seed: int = DEFAULT_SEED
    timeout_s: float = TRIAL_TIMEOUT_S
    work_root: Path | None = None  # sketch folders; default: <armlprof cache>/sketches
    variant: str | None = None  # name of the study matrix variant these options come from (recorded)
    # Per runtime, options for its generate() (e.g. {"tflm": {"kernels": "reference", "arena_bytes": 90000}}).
    runtime_options: dict[str, dict[str, Any]] = field(default_factory=dict)


def _model_label(model: Model, spec: str) -> str:
    return spec.removeprefix("builtin:") if spec.startswith("builtin:") else model.name


class _Cell:
    """One model x runtime x board on one target: writes a record per figure."""

    def __init__(self, sink: Callable[[dict[str, Any]], None], model: Model, label: str, runtime_name: str,
                 board: Board, options: ProfileOptions, progress: Progress) -> None:
        # `sink` stores a record: the results file in the driver; in a job, nothing (the driver writes what it returns)
        self.sink, self.model, self.label, self.board = sink, model, label, board
        self.runtime_name, self.options = runtime_name, options
        # Runtime options change the code like compiler flags do, so they are part of the record's flags (and key).
        self.runtime_options = options.runtime_options.get(runtime_name, {})
        # So is what the runtime builds from (TFLM: tree and kernels, defaults included).
        keyed = {**dict(_flag_items(runtime_name, self.runtime_options)),
                 **runtime_identity(runtime_name, self.runtime_options)}
        self.flags = [*compile_flags(board, options.optimization, options.extra_flags),
                      *(f"{runtime_name}:{k}={v}" for k, v in sorted(keyed.items()))]
        self.runtime_version: str | None = None
        memory = "" if board.memory_kib is None else f" {board.memory_kib}KiB"
        variant = "" if options.variant is None else f" {options.variant}"
        self.prefix = prefix = f"[{label} {runtime_name} {board.name}{memory} {options.target}{variant}]"
        self.root = progress  # a Progress gets spinners and bars (armlprof.progress.task), a callback lines
        self.progress = lambda message: progress(f"{prefix} {message}")
        self.written: list[dict[str, Any]] = []
        self._last_reason: tuple[str, str | None] | None = None
        self.builds: list[Any] = []  # BuildResults of this cell (a job returns their ELFs to the driver)

    def timing(self, metric: str) -> dict[str, Any]:
        """What an emulated time depends on besides code and inputs: the cycle model's board parameters."""
        if not METRICS[metric].timed or self.options.target != "emulator":
            return {}
        from armlprof.calibration import timing_identity

        digest, calibration = timing_identity(self.board)
        return {"timing_sha256": digest, "calibration": calibration}

    def key(self, metric: str) -> dict[str, Any]:
        return {"model_sha256": self.model.sha256, "runtime": self.runtime_name, "board": self.board.name,
                "memory_kib": self.board.memory_kib, "target": self.options.target, "metric": metric,
                "flags": list(self.flags), **self.timing(metric)}

    def write(self, metric: str, status: str, values: dict[str, Any] | None = None,
              reason: str | None = None) -> dict[str, Any]:
        record = make_record(
            model=self.label, model_sha256=self.model.sha256, runtime=self.runtime_name,
            runtime_version=self.runtime_version, board=self.board.name, memory_kib=self.board.memory_kib,
            target=self.options.target, metric=metric, status=status, values=values,
            reason=None if reason is None else " ".join(str(reason).split()), flags=self.flags,
            clock_hz=self.board.clock_hz,
        )
        record.update(self.timing(metric))
        if self.options.variant is not None:
            record["variant"] = self.options.variant  # the matrix variant that asked for it, for reports
        self.sink(record)
        self.written.append(record)
        shown = reason if status != "ok" else ", ".join(f"{k}={_short(v)}" for k, v in (values or {}).items())
        if status != "ok" and (status, reason) == self._last_reason:
            shown = "the same reason"  # e.g. a missing runtime: its long reason once per cell, not per figure
        self._last_reason = (status, reason)
        self.progress(f"{metric}: {status}: {shown}")
        return record


def _flag_items(runtime_name: str, runtime_options: dict[str, Any]) -> list[tuple[str, Any]]:
    """The runtime options that change the code (declared in_flags); all of them when the runtime cannot load."""
    try:
        return get_runtime(runtime_name).flag_items(runtime_options)
    except (ArmlprofError, ImportError):
        return sorted(runtime_options.items())


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int) and abs(value) >= 10_000:
        return f"{value:,}"
    return str(value)


# The accepted values of ProfileOptions' counts, for check_options (API callers) and the CLI's argparse types.
RUNS_RANGE = (1, 100_000)  # the sketches count runs in uint32; more than this is a typo, not a measurement
SEED_RANGE = (0, 0xFFFFFFFF)  # the sketches' xorshift32 seed is a uint32


def check_options(options: ProfileOptions, runtimes: Sequence[str]) -> None:
    """What the CLI's argparse types check (the same ranges), for Python API callers: one ArmlprofError each."""
    unknown = [m for m in options.measures if m not in METRICS]
    if unknown or not options.measures:
        raise ArmlprofError(f"unknown measurement(s) {', '.join(unknown) or '(none given)'}; "
                            f"choose from {', '.join(METRICS)}")
    bad_runtimes = [r for r in runtimes if r not in runtime_names()]
    if bad_runtimes or not runtimes:
        raise ArmlprofError(f"unknown runtime(s) {', '.join(repr(r) for r in bad_runtimes) or '(none given)'}; "
                            f"known runtimes: {', '.join(runtime_names())}")
    low, high = RUNS_RANGE
    for name, value in (("init_runs", options.init_runs), ("inference_runs", options.inference_runs)):
        if value is not None and not low <= value <= high:
            raise ArmlprofError(f"{name}={value}: give from {low:,} to {high:,} runs")
    if not SEED_RANGE[0] <= options.seed <= SEED_RANGE[1]:
        raise ArmlprofError(f"seed={options.seed}: give a seed from {SEED_RANGE[0]} to {SEED_RANGE[1]} "
                            "(the sketches' uint32)")
    if not options.timeout_s > 0:
        raise ArmlprofError(f"timeout_s={options.timeout_s}: give more than 0 seconds")


def profile(model_spec: str, runtime_name: str, board_name: str, results: Path | str,
            options: ProfileOptions | None = None, progress: Progress = stderr_progress,
            target: Target | None = None) -> list[dict[str, Any]]:
    """Measure the requested figures of one model x runtime x board, appending a record per figure to `results`.
    Figures already `ok` in `results` for the same key are skipped. Returns the records written by this call."""
    options = options or ProfileOptions()
    check_options(options, [runtime_name])
    model = load_model(model_spec)
    board = load_board(board_name, options.memory_kib)
    store = ResultStore(results)
    store.check_writable()  # before anything is measured: a figure is never measured only to be lost
    cell = _Cell(store.append, model, _model_label(model, model_spec), runtime_name, board, options, progress)
    pending = pending_metrics(cell, store)
    if pending:
        measure_pending(cell, pending, target)
    return cell.written


def pending_metrics(cell: _Cell, store: ResultStore) -> list[str]:
    """The requested figures of `cell` not yet `ok` in `store` (the others are reported as skipped)."""
    pending = [m for m in METRIC_NAMES if m in cell.options.measures and not store.is_done(cell.key(m))]
    for metric in (m for m in METRIC_NAMES if m in cell.options.measures and m not in pending):
        cell.progress(f"{metric}: already measured in {store.path}, skipped")
    return pending


def measure_pending(cell: _Cell, pending: list[str], target: Target | None = None) -> None:
    """Measure `pending` figures of `cell` on `target` (default: a new one from the options, closed after)."""
    # Runtime and target available here? Otherwise every pending figure says why.
    options = cell.options
    try:
        runtime = get_runtime(cell.runtime_name)
        why = runtime.unavailable_reason(**cell.runtime_options)
        if why is None:
            cell.runtime_version = runtime.version(**cell.runtime_options)
    except ImportError as exc:
        why = f"runtime {cell.runtime_name} cannot be imported ({exc}); reinstall armlprof"
    owns_target = target is None
    if why is None:
        target = target or get_target(options.target, **options.target_options)
        why = target.unavailable_reason(cell.board)
    if why is not None:
        for metric in pending:
            cell.write(metric, "unavailable", reason=why)
        if owns_target and target is not None:
            target.close()
        return

    assert target is not None
    try:
        _measure_cell(cell, runtime, target, pending)
    finally:
        if owns_target:
            target.close()


def _measure_cell(cell: _Cell, runtime: Any, target: Target, pending: list[str]) -> None:
    options = cell.options
    work_root = options.work_root or cache_root() / "sketches"
    try:
        with task(cell.root, cell.prefix, description=f"{cell.prefix} generating the model with {cell.runtime_name}",
                  done=f"{cell.prefix} generated"):
            sketch = prepare_measurement_sketch(cell.model, runtime, cell.board, work_root, **cell.runtime_options)
    except ArmlprofError as exc:
        for metric in pending:
            cell.write(metric, "failed", reason=f"{cell.runtime_name} could not generate the model: {exc}")
        return
    counts = RunCounts.for_target(target, options.quick)
    runs = RunCounts(options.init_runs or counts.init_runs, options.inference_runs or counts.inference_runs)
    build_errors: dict[str, ArmlprofError] = {}

    def image_for(kind: str) -> tuple[Image, Any]:
        if kind in build_errors:
            raise build_errors[kind]
        try:
            with task(cell.root, cell.prefix, description=f"{cell.prefix} building the {kind} sketch"):
                build = sketch.build(kind, optimization=options.optimization, extra_flags=options.extra_flags)
            cell.builds.append(build)
        except ArmlprofError as exc:
            build_errors[kind] = exc
            raise
        return target.prepare(Image(cell.board, build.elf, sketch.sketch_dir, kind)), build

    for name in pending:
        metric = METRICS[name]
        try:
            image, build = image_for(metric.sketch)
            with task(cell.root, cell.prefix, description=f"{cell.prefix} {name}: {metric.sketch}",
                      prefix=f"{cell.prefix} ") as step:
                values = metric.measure(MeasureContext(
                    target, image, build, cell.model, sketch.generated.workspace_bytes, runs=runs, seed=options.seed,
                    timeout_s=options.timeout_s, progress=step))
        except ArmlprofError as exc:
            cell.write(name, "failed", reason=str(exc))
            continue
        cell.write(name, "ok", values)


def tables_for(results: Path | str, records: Iterable[dict[str, Any]] | None = None) -> str:
    """The study's markdown tables (from helper "reports") for `records`, or every record in `results`."""
    from armlprof.report import render_tables

    return render_tables(list(records) if records is not None else ResultStore(results).records())


# ---------------------------------------------------------------- the study
def study_models(models: Sequence[str] | None, progress: Progress = stderr_progress) -> list[str]:
    """The model specs to profile: the given ones, else the generated study models (or ../shared's files)."""
    if models:
        return list(models)
    try:
        from armlprof import modelgen  # noqa: F401 - the generated study architectures
    except ImportError:
        shared = Path(__file__).resolve().parents[2] / "shared" / "models"
        found = [str(shared / name) for name in SHARED_MODELS.values() if (shared / name).is_file()]
        if not found:
            raise ArmlprofError("no study models: armlprof.modelgen is missing and ../shared/models has none; "
                                "pass --models file.tflite ...") from None
        progress(f"using the shared models: {', '.join(found)}")
        return found
    return list(STUDY_MODELS)


def study(results: Path | str, *, models: Sequence[str] | None = None, runtimes: Sequence[str] = STUDY_RUNTIMES,
          boards: Sequence[str] = STUDY_BOARDS, options: ProfileOptions | None = None,
          progress: Progress = stderr_progress, executor: Executor | None = None,
          variants: Sequence[ProfileOptions] | None = None, on_event: EventHook | None = None,
          cells: Sequence[tuple[str, str, str, ProfileOptions]] | None = None) -> list[dict[str, Any]]:
    """Every model x board x runtime (x variant: one ProfileOptions each, default `options`), as jobs on
    `executor` (default: one after another here); cells that cannot run say why in their records. `cells` gives
    the (model spec, runtime, board, options) list directly instead (e.g. a matrix file's). `on_event` sees each
    job queued, started, its messages, done or failed (armlprof.jobs.JobEvent). Returns the records written."""
    if cells is None:
        specs = study_models(models, progress)
        cells = [(spec, runtime, board, variant)
                 for variant in (variants or [options or ProfileOptions()])
                 for spec in specs for board in boards for runtime in runtimes]
    # Every model, runtime, board and option is checked before the first cell: a typo fails at once, not hours in
    # (plan_cells loads every model and board).
    for cell_options in {id(c[3]): c[3] for c in cells}.values():
        check_options(cell_options, sorted({c[1] for c in cells if c[3] is cell_options}))
    store = ResultStore(results)
    store.check_writable()
    jobs, steps = plan_cells(cells, store, progress)
    if not jobs:
        return []
    own = executor is None
    if executor is not None and executor.workers > 1:
        one_board = sorted({job.options.target for job in jobs} - set(PARALLEL_TARGETS))
        if one_board:
            progress(f"target {', '.join(one_board)} is one board: its cells run one after another")
            own, executor = True, None
    executor = executor or SerialExecutor()
    hook = on_event
    if isinstance(progress, ProgressReporter):  # the overall bar advances as each cell's job ends
        def hook(event: JobEvent) -> None:
            if event.kind in ("done", "failed"):
                progress.advance("study", description=f"study: {event.job.label} {event.job.runtime} "
                                                      f"{event.job.board} {event.kind}")
            if on_event is not None:
                on_event(event)
    try:
        with task(progress, "study", len(jobs), f"study: {len(jobs)} model x board x runtime cells"):
            return run_cells(jobs, steps, executor, store, progress, hook)
    finally:
        if own:
            executor.close()
        close_targets()


def _study_keys(records: list[dict[str, Any]], models: Sequence[str], runtimes: Iterable[str],
                boards: Iterable[str], target: str | Iterable[str]) -> list[dict[str, Any]]:
    targets = {target} if isinstance(target, str) else set(target)
    runtimes, boards = set(runtimes), set(boards)
    hashes = set()
    for spec in models:
        try:
            hashes.add(load_model(spec).sha256)
        except ArmlprofError:
            continue
    return [r for r in records if r.get("model_sha256") in hashes and r["runtime"] in runtimes
            and r["board"] in boards and r["target"] in targets]
