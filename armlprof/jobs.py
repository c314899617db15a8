"""A sweep as jobs: each cell (model x runtime x board x options, its pending figures) is a `CellJob` carrying
everything it needs, run by any `armlprof.executor.Executor`; the driver is the only writer of the results file.

- Shared steps (`SharedStep`): TVM's compile of a model (a Program) and TFLM library builds (per board compiler
  and kernels) are done once per key as jobs of their own; the cells that need them take their futures as
  arguments, so they wait for them. A step whose output the driver's cache already has is no job: its files go
  with the cells, which start at once. A step returns its output as files (bytes,
  relative to the armlprof cache), which the engine moves to the cell's worker and the driver keeps in its cache.
- A cell job installs those files into its worker's cache, measures in its own work folder, and returns its
  records plus the ELFs it built (moved back to the driver's cache): nothing assumes a filesystem shared with the
  driver beyond the environment a worker is set up with (toolchain, armlprof, and the TFLM tree at the path in
  $ARMLPROF_TFLM_ROOT, which the job forwards).
- Resume: the driver plans only figures not yet `ok` in the results file, and writes each job's records as soon as
  that job finishes, so killing a sweep loses only the jobs in flight.
"""

from __future__ import annotations

import hashlib
import os
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from armlprof.board import load_board
from armlprof.cache import atomic_write, cache_root
from armlprof.calibration import resolved_timing
from armlprof.errors import ArmlprofError
from armlprof.executor import Executor, SerialExecutor
from armlprof.model import Model, load_model
from armlprof.results import ResultStore
from armlprof.target.base import Target, get_target

# Environment a job forwards to its worker (where its tools and trees are found); not the cache: that is per worker.
FORWARDED_ENV = ("ARMLPROF_TFLM_ROOT",)
# Targets that are one physical board: their cells run one after another in the driver.
PARALLEL_TARGETS = ("emulator",)
TVM_RUNTIMES = ("tvm-aot", "tvm-graph")


@dataclass
class ModelPayload:
    """A model as a job carries it: the .tflite bytes go with the job (a worker may not see the driver's files)."""

    spec: str
    name: str
    sha256: str
    data: bytes | None  # None for builtin:dense, which has no file

    @classmethod
    def of(cls, model: Model) -> ModelPayload:
        return cls(model.spec, model.name, model.sha256, None if model.path is None else model.path.read_bytes())

    def load(self) -> Model:
        """The model on this machine: the spec itself when it is already here, else a copy in the cache."""
        if self.data is None:
            return load_model(self.spec)
        here = Path(self.spec)
        if here.is_file() and hashlib.sha256(here.read_bytes()).hexdigest() == self.sha256:
            return load_model(self.spec)
        copy = cache_root() / "models" / self.sha256[:24] / f"{self.name}.tflite"
        install_files({str(copy.relative_to(cache_root())): self.data})
        return load_model(str(copy))


@dataclass
class Artifact:
    """What a shared step made: files relative to the cache root (or why it could not make them)."""

    key: tuple[str, ...]
    files: dict[str, bytes] = field(default_factory=dict)
    error: str | None = None


@dataclass
class SharedStep:
    """A step several cells share, done once per `key`: ("tvm-program", sha256) or ("tflm-library", compiler,
    kernels, optimization)."""

    key: tuple[str, ...]
    model: ModelPayload | None = None
    board: str | None = None  # tflm-library: the board whose compiler builds it; None = the host
    kernels: str | None = None
    optimization: str | None = None
    tflm_root: str | None = None  # tflm-library: the tree (the tflm_root runtime option), None = found as usual
    environment: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return " ".join(self.key[:2]) if self.key[0] == "tvm-program" else " ".join(k for k in self.key if k)


@dataclass
class CellJob:
    """One cell and the figures still to measure: everything a worker needs, picklable."""

    index: int
    model: ModelPayload
    label: str
    runtime: str
    board: str
    options: Any  # armlprof.study.ProfileOptions
    pending: list[str]
    steps: list[tuple[str, ...]] = field(default_factory=list)  # keys of the shared steps it waits for
    environment: dict[str, str] = field(default_factory=dict)
    # The board's timing as the driver resolved it (its calibration file applied): a worker elsewhere has not got
    # that file, and its own must not apply.
    timing: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        memory = "" if self.options.memory_kib is None else f" {self.options.memory_kib}KiB"
        variant = "" if self.options.variant is None else f" {self.options.variant}"
        return f"{self.label} {self.runtime} {self.board}{memory}{variant}"

    @property
    def work_key(self) -> str:
        """Its own work folder, stable across reruns (object cache hits) and apart from every other job's."""
        o = self.options
        parts = [self.model.sha256, self.runtime, self.board, str(o.memory_kib), str(o.optimization),
                 *o.extra_flags, repr(sorted(o.runtime_options.get(self.runtime, {}).items()))]
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


@dataclass
class CellResult:
    index: int
    records: list[dict[str, Any]]
    files: dict[str, bytes] = field(default_factory=dict)  # ELFs built, relative to the cache root
    # Where the job's time went on its worker: wall, this process's CPU, and its child processes' (compilers).
    wall_s: float = 0.0
    cpu_s: float = 0.0
    children_cpu_s: float = 0.0


@dataclass
class JobEvent:
    """What the driver tells a progress hook (`study(..., on_event=hook)`), per job: `queued` (submitted),
    `started` (a worker began it), `message` (a progress line of the job, in `message`), then `done` or `failed`
    (with the records the driver just stored). queued/done/failed are called from the driver's main thread; started
    and message from the executor's message thread (local pool, Dask) as they arrive, so a hook must be
    thread-safe (a rich Progress is) and may see a last message after `done`."""

    kind: str
    job: CellJob
    message: str | None = None
    records: list[dict[str, Any]] = field(default_factory=list)
    result: CellResult | None = None  # done: what the worker returned (with its wall and CPU seconds)


EventHook = Callable[[JobEvent], None]


# ---------------------------------------------------------------- files between machines
def install_files(files: dict[str, bytes], root: Path | None = None) -> None:
    """Write files (paths relative to the cache root) that are not there yet, atomically."""
    root = root or cache_root()
    for rel, data in files.items():
        path = root / rel
        if ".." in Path(rel).parts or Path(rel).is_absolute():
            raise ArmlprofError(f"refusing to install {rel!r} outside the cache; a job returned a bad path")
        if path.is_file() and path.stat().st_size == len(data):
            continue
        atomic_write(path, data)


def _cache_files(*paths: Path) -> dict[str, bytes]:
    root = cache_root().resolve()
    return {str(Path(p).resolve().relative_to(root)): Path(p).read_bytes() for p in paths if Path(p).is_file()}


@contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def forwarded_environment() -> dict[str, str]:
    return {k: os.environ[k] for k in FORWARDED_ENV if k in os.environ}


# ---------------------------------------------------------------- worker side
def run_step(step: SharedStep) -> Artifact:
    """Do a shared step here; its output comes back as files (an error becomes the cells' own failure)."""
    artifact = _step(step, build=True)
    assert artifact is not None
    return artifact


def cached_step(step: SharedStep) -> Artifact | None:
    """The step's output if this machine's cache has it already (nothing is built): the driver then hands it to
    the cells itself, so they start at once and in submission order instead of waiting for a step job."""
    return _step(step, build=False)


def _step(step: SharedStep, build: bool) -> Artifact | None:
    with _environment(step.environment):
        try:
            if step.key[0] == "tvm-program":
                from armlprof.cache import verify_manifest
                from armlprof.runtime.tvm.compiler import compile_model, program_manifest, program_path

                assert step.model is not None
                cached = program_path(step.model.sha256)
                if build:
                    model = step.model.load()
                    compile_model(model.path, model.sha256)
                elif not verify_manifest(program_manifest(cached), {"program": cached}, "TVM program"):
                    return None
                return Artifact(step.key, _cache_files(cached, program_manifest(cached)))
            from armlprof.runtime.tflm.library import Compiler, build_library, cached_library
            from armlprof.runtime.tflm.tree import require_tree

            assert step.board is not None
            compiler = Compiler.for_board(load_board(step.board), step.optimization)
            tree = require_tree(step.tflm_root)
            library = (build_library if build else cached_library)(tree, compiler, step.kernels)
            return None if library is None else Artifact(step.key, _cache_files(library.path))
        except ArmlprofError as exc:
            return Artifact(step.key, error=str(exc)) if build else None
        except ImportError as exc:  # e.g. TVM missing on this worker: the cell's own check says so
            return Artifact(step.key, error=f"{type(exc).__name__}: {exc}") if build else None


_targets: dict[tuple, Target] = {}  # per process: one target object serves every cell that runs here


def process_target(options: Any) -> Target:
    key = (options.target, tuple(sorted((k, repr(v)) for k, v in options.target_options.items())))
    if key not in _targets:
        _targets[key] = get_target(options.target, **options.target_options)
    return _targets[key]


def close_targets() -> None:
    while _targets:
        _targets.popitem()[1].close()


def run_cell_job(job: CellJob, report: Callable[[Any], None], *artifacts: Artifact) -> CellResult:
    """Measure `job.pending` on this worker; the records are returned, not written (the driver writes them)."""
    from armlprof.study import _Cell, measure_pending

    report(("started", None))
    clock = _JobClock()
    with _environment(job.environment):
        for artifact in artifacts:
            install_files(artifact.files)
        model = job.model.load()
        board = load_board(job.board, job.options.memory_kib)
        if job.timing is not None:
            board = board.with_nominal_timing(job.timing)
        options = replace(job.options, work_root=cache_root() / "jobs" / job.work_key)
        cell = _Cell(lambda record: None, model, job.label, job.runtime, board, options,
                     lambda message: report(("message", message)))
        measure_pending(cell, list(job.pending), target=process_target(options))
        elfs = [b.elf for b in cell.builds]
        return CellResult(job.index, cell.written, _cache_files(*elfs), *clock.elapsed())


class _JobClock:
    """Wall and CPU seconds since it was made: this process's, and its waited-for children's."""

    def __init__(self) -> None:
        self._start = self._now()

    @staticmethod
    def _now() -> tuple[float, float, float]:
        import resource
        import time

        me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.monotonic(), me.ru_utime + me.ru_stime, children.ru_utime + children.ru_stime

    def elapsed(self) -> tuple[float, float, float]:
        return tuple(now - then for now, then in zip(self._now(), self._start, strict=True))  # type: ignore[return-value]


# ---------------------------------------------------------------- driver side
def plan_cells(cells: Sequence[tuple[str, str, str, Any]], store: ResultStore,
               progress: Callable[[str], None]) -> tuple[list[CellJob], dict[tuple[str, ...], SharedStep]]:
    """Jobs for (model spec, runtime, board, ProfileOptions) cells with figures still to measure, and the shared
    steps they wait for (one per key)."""
    from armlprof.study import _Cell, _model_label, pending_metrics

    env = forwarded_environment()
    models: dict[str, tuple[Model, ModelPayload]] = {}
    jobs: list[CellJob] = []
    steps: dict[tuple[str, ...], SharedStep] = {}
    for spec, runtime, board_name, options in cells:  # study() checked every option first
        if spec not in models:
            model = load_model(spec)
            models[spec] = (model, ModelPayload.of(model))
        model, payload = models[spec]
        board = load_board(board_name, options.memory_kib)
        cell = _Cell(lambda record: None, model, _model_label(model, spec), runtime, board, options, progress)
        pending = pending_metrics(cell, store)
        if not pending:
            continue
        needs = _shared_steps(runtime, model, payload, board_name, options, env)
        for step in needs:
            steps.setdefault(step.key, step)
        jobs.append(CellJob(len(jobs), payload, cell.label, runtime, board_name, options, pending,
                            [s.key for s in needs], env, resolved_timing(board)))
    return jobs, steps


def _shared_steps(runtime: str, model: Model, payload: ModelPayload, board: str, options: Any,
                  env: dict[str, str]) -> list[SharedStep]:
    if model.path is None:
        return []  # builtin:dense: only the handwritten runtime runs it, nothing to share
    if runtime in TVM_RUNTIMES:
        return [SharedStep(("tvm-program", model.sha256), model=payload, environment=env)]
    if runtime != "tflm":
        return []
    from armlprof.runtime.tflm import tree as tflm

    tflm_options = options.runtime_options.get("tflm", {})
    root = tflm_options.get("tflm_root")
    try:
        tree = tflm.find_tree(root)
    except ArmlprofError:
        tree = None
    if tree is None:
        return []  # the cell says why it is unavailable
    kernels = tflm_options.get("kernels") or tree.default_kernels()
    optimization = tflm_options.get("optimization")
    # The arena is probed on the emulator with the board's library, so no host build is shared.
    return [SharedStep(("tflm-library", board, kernels, optimization or "", str(tree.root)), board=board,
                       kernels=kernels, optimization=optimization, tflm_root=root, environment=env)]


def estimated_cost(job: CellJob) -> int:
    """A job's relative length: its model's bytes (weights and ops scale the emulated work; measured on the study
    grid, person_detect's cells take 3-4x micro_speech's) times the figures it still has to measure."""
    model_bytes = len(job.model.data) if job.model.data is not None else 0
    return (model_bytes + 1) * len(job.pending)


def submission_order(jobs: list[CellJob], executor: Executor) -> list[CellJob]:
    """Grid order on one worker; longest first on several (the longest-processing-time rule), so a long cell does
    not start last and run alone while the other workers idle. A cell that waits for a shared step job (one the
    driver's cache does not have yet) is handed to the pool only when the step is done, so on a cold cache the
    order holds among cells whose steps are done."""
    if executor.workers <= 1:
        return list(jobs)
    return sorted(jobs, key=estimated_cost, reverse=True)  # stable: equal costs keep grid order


def run_cells(jobs: list[CellJob], steps: dict[tuple[str, ...], SharedStep], executor: Executor,
              store: ResultStore, progress: Callable[[str], None],
              on_event: EventHook | None = None) -> list[dict[str, Any]]:
    """Submit the shared steps, then every cell with the steps it needs; write each cell's records to `store` as
    it finishes (the driver is the only writer). Returns the records written, in the order they were written."""
    def event(kind: str, job: CellJob, message: str | None = None, records=(), result=None) -> None:
        if on_event is not None:
            on_event(JobEvent(kind, job, message, list(records), result))

    step_inputs: dict[tuple[str, ...], Any] = {}  # per step: its Artifact (cached here) or the future of its job
    step_futures = {}
    for key, step in steps.items():
        artifact = cached_step(step)
        if artifact is not None:
            step_inputs[key] = artifact
            continue
        progress(f"[{step.label}] shared step submitted")
        step_inputs[key] = step_futures[key] = executor.submit(run_step, step)
    futures: dict[Any, Any] = {f: ("step", key) for key, f in step_futures.items()}
    written: list[dict[str, Any]] = []

    def finish(future: Any) -> None:
        what, item = futures.pop(future)
        if what == "step":
            try:
                artifact = future.result()
            except Exception as exc:  # noqa: BLE001 - a dead worker: the cells waiting for it fail with it
                progress(f"[{steps[item].label}] shared step crashed: {type(exc).__name__}: {exc}")
                return
            if artifact.error:
                progress(f"[{steps[item].label}] shared step failed: {artifact.error}")
            else:
                install_files(artifact.files)  # the driver's cache keeps it
                progress(f"[{steps[item].label}] shared step done")
            return
        job: CellJob = item
        try:
            result: CellResult = future.result()
        except Exception as exc:  # noqa: BLE001 - a crashed job (bug, dead worker): its figures say so, not measured
            reason = f"job crashed: {type(exc).__name__}: {exc}"
            progress(f"[{job.name}] {reason}\n{''.join(traceback.format_exception(exc)).rstrip()}")
            from armlprof.study import _Cell

            cell = _Cell(store.append, job.model.load(), job.label, job.runtime,
                         load_board(job.board, job.options.memory_kib), job.options, progress)
            for metric in job.pending:
                cell.write(metric, "failed", reason=reason)
            written.extend(cell.written)
            event("failed", job, reason, cell.written)
            return
        install_files(result.files)
        for record in result.records:
            store.append(record)
        written.extend(result.records)
        event("done", job, None, result.records, result)

    for job in submission_order(jobs, executor):
        def sink(item: Any, job: CellJob = job) -> None:
            kind, message = item
            if kind == "message":
                progress(message)
            event(kind, job, message)

        event("queued", job)
        future = executor.submit(run_cell_job, job, executor.reporter(sink),
                                 *(step_inputs[k] for k in job.steps))
        futures[future] = ("cell", job)
        if isinstance(executor, SerialExecutor):  # done already: store it before the next cell runs
            for f in [f for f in futures if f.done()]:
                finish(f)
    for future in executor.as_completed(list(futures)):
        finish(future)
    return written


def comparable(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records without what differs between two runs of the same measurements (the date), in key order: two
    sweeps measured the same when these are equal."""
    from armlprof.results import latest_records, record_key

    stripped = [{k: v for k, v in r.items() if k != "date"} for r in latest_records(records)]
    return sorted(stripped, key=lambda r: repr(record_key(r)))
