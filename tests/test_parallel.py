"""Sweeps as jobs: serial, a local process pool and a Dask local cluster measure identical records; a killed
parallel study resumes; executors' dependency handling."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from armlprof.executor import ProcessExecutor, SerialExecutor, make_executor
from armlprof.jobs import comparable, install_files
from armlprof.results import ResultStore
from armlprof.study import ProfileOptions, study

GRID = {"models": ["builtin:dense"], "runtimes": ["handwritten"], "boards": ["nano33ble", "spresense"]}


def _add(a: int, b: int) -> int:
    return a + b


def _fail() -> None:
    raise ValueError("no")


def _env(name: str) -> str | None:
    return os.environ.get(name)


@pytest.fixture(scope="module")
def serial_records(tmp_path_factory) -> list[dict]:
    results = tmp_path_factory.mktemp("serial") / "r.jsonl"
    written = study(results, **GRID, options=ProfileOptions(quick=True), progress=lambda _: None)
    assert len(written) == 8 and all(r["status"] == "ok" for r in written), [r.get("reason") for r in written]
    return ResultStore(results).records()


def test_local_pool_gives_the_serial_records(tmp_path, serial_records):
    results = tmp_path / "r.jsonl"
    events = []
    with make_executor("local", jobs=2) as executor:
        assert isinstance(executor, ProcessExecutor) and executor.workers == 2
        study(results, **GRID, options=ProfileOptions(quick=True), progress=lambda _: None, executor=executor,
              on_event=events.append)
    assert comparable(ResultStore(results).records()) == comparable(serial_records)
    kinds = {(e.job.board, e.kind) for e in events}
    for board in GRID["boards"]:  # each job reported to the driver's hook, live messages included
        assert {(board, k) for k in ("queued", "started", "message", "done")} <= kinds
    # A rerun submits nothing: every figure is ok in the file.
    with make_executor("local", jobs=2) as executor:
        assert study(results, **GRID, options=ProfileOptions(quick=True), progress=lambda _: None,
                     executor=executor) == []


def test_dask_local_cluster_gives_the_serial_records_without_a_shared_cache(tmp_path, serial_records, monkeypatch):
    pytest.importorskip("distributed", reason="dask.distributed is not installed (pip install -e '.[cluster]')")
    driver_cache, worker_cache = tmp_path / "driver-cache", tmp_path / "worker-cache"
    monkeypatch.setenv("ARMLPROF_CACHE", str(driver_cache))
    results = tmp_path / "r.jsonl"
    started = time.monotonic()
    with make_executor("dask", jobs=2, worker_env={"ARMLPROF_CACHE": str(worker_cache)}) as executor:
        assert executor.workers == 2
        study(results, **GRID, options=ProfileOptions(quick=True), progress=lambda _: None, executor=executor)
    assert time.monotonic() - started < 300
    assert comparable(ResultStore(results).records()) == comparable(serial_records)
    # The workers built in their own cache; the ELFs came back to the driver's through Dask.
    worker_elfs = {p.relative_to(worker_cache) for p in worker_cache.glob("builds/*/sketch.elf")}
    moved = [rel for rel in worker_elfs if (driver_cache / rel).is_file()]
    assert len(moved) == 6  # 3 sketch kinds x 2 boards (the empty sketch's baseline stays on the worker)
    for rel in moved:
        assert (driver_cache / rel).read_bytes() == (worker_cache / rel).read_bytes()
    assert not (driver_cache / "jobs").exists()  # no cell ran in the driver


@pytest.mark.slow
def test_killed_parallel_study_resumes(tmp_path):
    results = tmp_path / "r.jsonl"
    cmd = [sys.executable, "-m", "armlprof.cli", "study", "--models", "builtin:dense", "--runtimes", "handwritten",
           "--boards", "nano33ble,spresense", "--jobs", "2", "--results", str(results)]
    # Many init runs: the study is still measuring when the first figures are on disk.
    proc = subprocess.Popen([*cmd, "--init-runs", "400"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if results.is_file() and results.read_text().count("\n") >= 1:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the study finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and its pool processes
    proc.communicate(timeout=60)
    first = ResultStore(results).records()
    assert first and len(first) < 8

    rerun = subprocess.run([*cmd, "--init-runs", "2"], capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    records = ResultStore(results).records()
    done_before = {(r["board"], r["metric"]) for r in first if r["status"] == "ok"}
    for board, metric in done_before:
        assert f"{metric}: already measured" in rerun.stderr
        assert sum((r["board"], r["metric"]) == (board, metric) for r in records) == 1
    assert {(r["board"], r["metric"]) for r in records if r["status"] == "ok"} == {
        (b, m) for b in ("nano33ble", "spresense") for m in ("flash", "ram", "init", "inference")}
    assert "| handwritten |" in rerun.stdout


@pytest.mark.parametrize("make", [SerialExecutor, lambda: ProcessExecutor(2)])
def test_futures_as_arguments_are_dependencies(make):
    with make() as executor:
        first = executor.submit(_add, 1, 2)
        second = executor.submit(_add, first, 10)  # waits for `first`, gets its result
        third = executor.submit(_add, second, first)
        assert third.result(timeout=120) == 16
        failed = executor.submit(_add, executor.submit(_fail), 1)
        with pytest.raises(ValueError, match="no"):
            failed.result(timeout=120)
        assert executor.map(_add, [1, 2], [3, 4]) == [4, 6]


def test_bad_executor_settings_are_one_line_errors(tmp_path, capsys):
    from armlprof.cli import main

    assert main(["study", "--jobs", "0", "--results", str(tmp_path / "r.jsonl")]) == 2
    assert "--jobs 0: give 1 or more" in capsys.readouterr().err
    assert main(["study", "--address", "tcp://x:1", "--results", str(tmp_path / "r.jsonl")]) == 2
    assert "add --executor dask" in capsys.readouterr().err


def test_installed_files_stay_inside_the_cache(tmp_path):
    install_files({"a/b.bin": b"12"}, tmp_path)
    assert (tmp_path / "a" / "b.bin").read_bytes() == b"12"
    with pytest.raises(Exception, match="outside the cache"):
        install_files({"../evil": b"x"}, tmp_path)
    assert not (tmp_path.parent / "evil").exists()
    assert Path(tmp_path / "a").is_dir()


def test_shared_steps_are_planned_once_per_key(tmp_path, monkeypatch):
    from armlprof.jobs import plan_cells

    tree = Path(__file__).resolve().parents[1].parent / "shared" / "tflm" / "Arduino_TensorFlowLite"
    if not tree.is_dir():
        pytest.skip(f"{tree} not found (the ../shared folder beside the repository is absent)")
    monkeypatch.setenv("ARMLPROF_TFLM_ROOT", str(tree))
    options = ProfileOptions(quick=True)
    cells = [("builtin:micro_speech", runtime, board, options)
             for board in ("nano33ble", "spresense") for runtime in ("tvm-aot", "tvm-graph", "tflm")]
    jobs, steps = plan_cells(cells, ResultStore(tmp_path / "r.jsonl"), lambda _: None)
    assert len(jobs) == 6 and all(job.pending == ["flash", "ram", "init", "inference"] for job in jobs)
    kinds = sorted(key[0] + ":" + key[1] for key in steps)
    # One TVM compile for the model (both TVM runtimes, both boards), a TFLM library per board; no host build
    # (the arena is probed on the emulator with the board's library).
    assert kinds == ["tflm-library:nano33ble", "tflm-library:spresense", f"tvm-program:{jobs[0].model.sha256}"]
    tflm_job = next(j for j in jobs if j.runtime == "tflm" and j.board == "spresense")
    assert {k[1] for k in tflm_job.steps} == {"spresense"}
    assert tflm_job.environment == {"ARMLPROF_TFLM_ROOT": str(tree)}  # forwarded to the worker
    assert tflm_job.model.data  # the .tflite travels with the job
    assert len({j.work_key for j in jobs}) == 6  # each job its own work folder


def test_each_pool_gets_the_drivers_environment_of_now(monkeypatch):
    # The fork server outlives a pool; a later pool must still see the driver's current cache and TFLM tree.
    for value in ("first", "second"):
        monkeypatch.setenv("ARMLPROF_CACHE", f"/tmp/armlprof-test-{value}")
        with ProcessExecutor(1) as executor:
            assert executor.submit(_env, "ARMLPROF_CACHE").result(timeout=120) == f"/tmp/armlprof-test-{value}"


def test_several_workers_start_the_longest_cells_first(tmp_path):
    """Longest first on a pool (a long cell started last runs alone while the other workers idle); grid order,
    as the user wrote it, on one worker."""
    from armlprof.jobs import plan_cells, submission_order

    options = ProfileOptions(quick=True)
    cells = [(model, "tvm-aot", board, options) for model in ("builtin:micro_speech", "builtin:person_detect")
             for board in ("nano33ble", "spresense")]
    store = ResultStore(tmp_path / "r.jsonl")
    jobs, _ = plan_cells(cells, store, lambda _: None)
    jobs[1].pending = ["flash"]  # micro_speech on spresense: one figure left (the others were measured)
    names = lambda ordered: [(j.label, j.board) for j in ordered]  # noqa: E731
    assert names(submission_order(jobs, SerialExecutor())) == names(jobs)
    with ProcessExecutor(2) as pool:
        assert names(submission_order(jobs, pool)) == [("person_detect", "nano33ble"), ("person_detect", "spresense"),
                                                       ("micro_speech", "nano33ble"), ("micro_speech", "spresense")]


class _Recording(SerialExecutor):
    """Runs jobs in the driver, as SerialExecutor, but counts as a pool (cached steps resolved here) and keeps the
    names of the functions submitted; `fail_steps`: a step job's future fails as if its worker had died."""

    def __init__(self, fail_steps: bool = False) -> None:
        self.submitted: list[str] = []
        self.fail_steps = fail_steps

    @property
    def workers(self) -> int:
        return 2

    def submit(self, fn, /, *args, **kwargs):
        import concurrent.futures as cf
        from concurrent.futures.process import BrokenProcessPool

        self.submitted.append(fn.__name__)
        if self.fail_steps and fn.__name__ == "run_step":
            future = cf.Future()
            future.set_exception(BrokenProcessPool("a process in the pool was terminated abruptly"))
            return future
        return super().submit(fn, *args, **kwargs)


def _micro_speech_cells(tmp_path):
    from armlprof.jobs import plan_cells

    store = ResultStore(tmp_path / "r.jsonl")
    cells = [("builtin:micro_speech", "tvm-aot", "nano33ble", ProfileOptions(quick=True))]
    jobs, steps = plan_cells(cells, store, lambda _: None)
    return store, jobs, steps


def test_a_step_the_drivers_cache_has_is_not_a_job(tmp_path):
    """A warm sweep's cells start at once, in submission order: a TVM program already in the driver's cache goes
    to the cells with them, not through a step job they would wait for."""
    from armlprof.jobs import cached_step, run_cells
    from armlprof.model import load_model
    from armlprof.runtime.tvm.compiler import compile_model

    model = load_model("builtin:micro_speech")
    compile_model(model.path, model.sha256)  # cached from now on
    store, jobs, steps = _micro_speech_cells(tmp_path)
    (step,) = steps.values()
    artifact = cached_step(step)
    assert artifact is not None and artifact.error is None and len(artifact.files) == 2  # pickle + manifest
    executor = _Recording()
    records = run_cells(jobs, steps, executor, store, lambda _: None)
    assert executor.submitted == ["run_cell_job"]
    assert [r["status"] for r in records] == ["ok"] * 4


def test_an_empty_cache_makes_steps_jobs_and_a_crashed_step_fails_its_cells(tmp_path, monkeypatch):
    """Cold: the step is a job. Its worker dying fails the cells waiting for it (records say so), not the study."""
    from armlprof.jobs import cached_step, run_cells

    monkeypatch.setenv("ARMLPROF_CACHE", str(tmp_path / "empty-cache"))
    store, jobs, steps = _micro_speech_cells(tmp_path)
    assert all(cached_step(step) is None for step in steps.values())
    executor = _Recording(fail_steps=True)
    lines: list[str] = []
    records = run_cells(jobs, steps, executor, store, lines.append)
    assert executor.submitted == ["run_step", "run_cell_job"]
    assert [r["status"] for r in records] == ["failed"] * 4
    assert all("BrokenProcessPool" in r["reason"] for r in records)
    assert any("shared step crashed: BrokenProcessPool" in line for line in lines)
    assert [r["status"] for r in store.records()] == ["failed"] * 4  # stored as failed, never as measured


def test_a_cached_program_needs_no_tvm_import():
    """Importing TVM takes seconds per process: a sweep worker (or the driver) whose Programs are cached must not
    pay it, neither for the runtime's availability check nor for the cache key."""
    code = ("import sys\n"
            "from armlprof.model import load_model\n"
            "from armlprof.runtime.base import get_runtime\n"
            "from armlprof.runtime.tvm.compiler import compile_model\n"
            "m = load_model('builtin:micro_speech')\n"
            "compile_model(m.path, m.sha256)\n"
            "assert get_runtime('tvm-aot').unavailable_reason() is None\n"
            "print('tvm' in sys.modules)\n")
    from armlprof.model import load_model
    from armlprof.runtime.tvm.compiler import compile_model

    model = load_model("builtin:micro_speech")
    compile_model(model.path, model.sha256)  # warm the cache first (this process may import TVM)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False,
                          cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"
