"""Profiling one model x runtime x board (its four figures) and the whole study, as a Python API (the CLI's
`armlprof profile` and `armlprof study` call it).

Each figure is appended to the results file as soon as it is measured (`armlprof.results`), so an interrupted run
loses nothing, and a rerun with the same file skips every figure already `ok` for the same key (model hash,
runtime, board, memory option, target, metric, flags). A figure that cannot be measured gets a record saying why
(`unavailable`: runtime or target missing here; `failed`: e.g. the image does not fit, or the model faults).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from armlprof.board import Board, load_board
from armlprof.build import compile_flags
from armlprof.cache import cache_root
from armlprof.errors import ArmlprofError
from armlprof.measure import DEFAULT_SEED, TRIAL_TIMEOUT_S, RunCounts
from armlprof.metrics import METRIC_NAMES, METRICS, MeasureContext
from armlprof.model import Model, load_model
from armlprof.results import ResultStore, make_record
from armlprof.runtime.base import get_runtime
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
    # Per runtime, options for its generate() (e.g. {"tflm": {"kernels": "reference", "arena_bytes": 90000}}).
    runtime_options: dict[str, dict[str, Any]] = field(default_factory=dict)


def _model_label(model: Model, spec: str) -> str:
    return spec.removeprefix("builtin:") if spec.startswith("builtin:") else model.name


class _Cell:
    """One model x runtime x board on one target: writes a record per figure."""

    def __init__(self, store: ResultStore, model: Model, label: str, runtime_name: str, board: Board,
                 options: ProfileOptions, progress: Progress) -> None:
        self.store, self.model, self.label, self.board = store, model, label, board
        self.runtime_name, self.options = runtime_name, options
        # Runtime options change the code like compiler flags do, so they are part of the record's flags (and key).
        self.runtime_options = options.runtime_options.get(runtime_name, {})
        self.flags = [*compile_flags(board, options.optimization, options.extra_flags),
                      *(f"{runtime_name}:{k}={v}" for k, v in _flag_items(runtime_name, self.runtime_options))]
        self.runtime_version: str | None = None
        memory = "" if board.memory_kib is None else f" {board.memory_kib}KiB"
        prefix = f"[{label} {runtime_name} {board.name}{memory} {options.target}]"
        self.progress = lambda message: progress(f"{prefix} {message}")
        self.written: list[dict[str, Any]] = []

    def key(self, metric: str) -> dict[str, Any]:
        return {"model_sha256": self.model.sha256, "runtime": self.runtime_name, "board": self.board.name,
                "memory_kib": self.board.memory_kib, "target": self.options.target, "metric": metric,
                "flags": list(self.flags)}

    def write(self, metric: str, status: str, values: dict[str, Any] | None = None,
              reason: str | None = None) -> dict[str, Any]:
        record = make_record(
            model=self.label, model_sha256=self.model.sha256, runtime=self.runtime_name,
            runtime_version=self.runtime_version, board=self.board.name, memory_kib=self.board.memory_kib,
            target=self.options.target, metric=metric, status=status, values=values,
            reason=None if reason is None else " ".join(str(reason).split()), flags=self.flags,
            clock_hz=self.board.clock_hz,
        )
        self.store.append(record)
        self.written.append(record)
        shown = reason if status != "ok" else ", ".join(f"{k}={_short(v)}" for k, v in (values or {}).items())
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


def profile(model_spec: str, runtime_name: str, board_name: str, results: Path | str,
            options: ProfileOptions | None = None, progress: Progress = stderr_progress,
            target: Target | None = None) -> list[dict[str, Any]]:
    """Measure the requested figures of one model x runtime x board, appending a record per figure to `results`.
    Figures already `ok` in `results` for the same key are skipped. Returns the records written by this call."""
    options = options or ProfileOptions()
    unknown = [m for m in options.measures if m not in METRICS]
    if unknown:
        raise ArmlprofError(f"unknown measurement(s) {', '.join(unknown)}; choose from {', '.join(METRIC_NAMES)}")
    model = load_model(model_spec)
    board = load_board(board_name, options.memory_kib)
    store = ResultStore(results)
    cell = _Cell(store, model, _model_label(model, model_spec), runtime_name, board, options, progress)

    pending = [m for m in METRIC_NAMES if m in options.measures and not store.is_done(cell.key(m))]
    for metric in (m for m in METRIC_NAMES if m in options.measures and m not in pending):
        cell.progress(f"{metric}: already measured in {store.path}, skipped")
    if not pending:
        return []

    # Runtime and target available here? Otherwise every pending figure says why.
    try:
        runtime = get_runtime(runtime_name)
        why = runtime.unavailable_reason(**cell.runtime_options)
        if why is None:
            cell.runtime_version = runtime.version(**cell.runtime_options)
    except ImportError as exc:
        why = f"runtime {runtime_name} cannot be imported ({exc}); reinstall armlprof"
    owns_target = target is None
    if why is None:
        target = target or get_target(options.target, **options.target_options)
        why = target.unavailable_reason(board)
    if why is not None:
        for metric in pending:
            cell.write(metric, "unavailable", reason=why)
        return cell.written

    assert target is not None
    try:
        _measure_cell(cell, runtime, target, pending)
    finally:
        if owns_target:
            target.close()
    return cell.written


def _measure_cell(cell: _Cell, runtime: Any, target: Target, pending: list[str]) -> None:
    options = cell.options
    work_root = options.work_root or cache_root() / "sketches"
    cell.progress(f"generating the model with {cell.runtime_name}")
    started = time.monotonic()
    try:
        sketch = prepare_measurement_sketch(cell.model, runtime, cell.board, work_root, **cell.runtime_options)
    except ArmlprofError as exc:
        for metric in pending:
            cell.write(metric, "failed", reason=f"{cell.runtime_name} could not generate the model: {exc}")
        return
    cell.progress(f"generated in {time.monotonic() - started:.1f} s")
    counts = RunCounts.for_target(target, options.quick)
    runs = RunCounts(options.init_runs or counts.init_runs, options.inference_runs or counts.inference_runs)
    build_errors: dict[str, ArmlprofError] = {}

    def image_for(kind: str) -> tuple[Image, Any]:
        if kind in build_errors:
            raise build_errors[kind]
        cell.progress(f"building the {kind} sketch")
        try:
            build = sketch.build(kind, optimization=options.optimization, extra_flags=options.extra_flags)
        except ArmlprofError as exc:
            build_errors[kind] = exc
            raise
        return target.prepare(Image(cell.board, build.elf, sketch.sketch_dir, kind)), build

    for name in pending:
        metric = METRICS[name]
        try:
            image, build = image_for(metric.sketch)
            values = metric.measure(MeasureContext(
                target, image, build, cell.model, sketch.generated.workspace_bytes, runs=runs, seed=options.seed,
                timeout_s=options.timeout_s, progress=cell.progress))
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
          progress: Progress = stderr_progress) -> list[dict[str, Any]]:
    """Every model x board x runtime; cells that cannot run say why in their records."""
    options = options or ProfileOptions()
    target = get_target(options.target, **options.target_options)
    written: list[dict[str, Any]] = []
    try:
        for spec in study_models(models, progress):
            for board in boards:
                for runtime in runtimes:
                    written += profile(spec, runtime, board, results, options, progress, target=target)
    finally:
        target.close()
    return written


def _study_keys(records: list[dict[str, Any]], models: Sequence[str], runtimes: Sequence[str],
                boards: Sequence[str], target: str) -> list[dict[str, Any]]:
    hashes = set()
    for spec in models:
        try:
            hashes.add(load_model(spec).sha256)
        except ArmlprofError:
            continue
    return [r for r in records if r.get("model_sha256") in hashes and r["runtime"] in runtimes
            and r["board"] in boards and r["target"] == target]
