"""Where jobs run: in the driver (`serial`), in a local process pool (`local`, `--jobs N`), or on a Dask cluster
(`dask`, `--address tcp://scheduler:8786`, or a LocalCluster the executor starts itself).

One small interface (`Executor`) over concurrent.futures and dask.distributed, so the study's cells and the TVM
tuner's trials are submitted the same way:

    with make_executor("local", jobs=2) as ex:
        futures = [ex.submit(trial, config) for config in configs]      # picklable function + arguments
        for future in ex.as_completed(futures):
            record = future.result()                                   # results come back to the driver

A job's arguments may include futures this executor returned: the job waits for them and receives their results
(Dask moves that data between workers itself; the local pool submits the job once its inputs are done). Jobs get
no shared mutable state: the driver writes results and owns the durable cache; what a job makes travels back in its
return value. Live messages from a job reach the driver through `ex.reporter(sink)`, a picklable callable.

Why Dask rather than Ray: `distributed` is pure Python (no 100+ MB wheel, no raylet/GCS daemons per node), a
LocalCluster starts in about a second on a 2-core machine, its futures follow concurrent.futures (`result`,
`add_done_callback`, `as_completed`), and futures passed as arguments are dependency edges it resolves and transfers
itself — exactly the "shared step once, awaited by the jobs that need it" shape of a sweep.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import itertools
import multiprocessing
import os
import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from armlprof.errors import ArmlprofError

EXECUTOR_NAMES = ("serial", "local", "dask")
Sink = Callable[[str], None]


def default_jobs() -> int:
    """The number of cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


class Executor(ABC):
    """Runs picklable functions as jobs and hands their results back to the driver."""

    name: str = ""

    @property
    @abstractmethod
    def workers(self) -> int:
        """How many jobs run at once."""

    @abstractmethod
    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Start `fn(*args, **kwargs)`; returns a future (`result()`, `done()`, `add_done_callback`). Futures of this
        executor among `args` are awaited and replaced by their results before `fn` runs."""

    def as_completed(self, futures: Iterable[Any]) -> Iterator[Any]:
        """`futures` as they finish."""
        return cf.as_completed(list(futures))

    def map(self, fn: Callable[..., Any], *iterables: Iterable[Any]) -> list[Any]:
        """`fn` over the items, in parallel; results in input order (the first job's exception is raised)."""
        futures = [self.submit(fn, *args) for args in zip(*iterables, strict=True)]
        return [f.result() for f in futures]

    def reporter(self, sink: Sink) -> Sink:
        """A picklable callable a job calls with a message; `sink(message)` runs on the driver."""
        return sink

    def close(self, cancel: bool = False) -> None:  # noqa: B027 - nothing to stop for an in-driver executor
        """Stop the workers (`cancel`: drop jobs not yet started)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(cancel=exc_type is not None)


def _resolve(args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """Arguments with local futures replaced by their results (each is done by now)."""
    def value(a: Any) -> Any:
        return a.result() if isinstance(a, cf.Future) else a

    return tuple(value(a) for a in args), {k: value(v) for k, v in kwargs.items()}


class SerialExecutor(Executor):
    """Each job runs in the driver when it is submitted: today's one-after-another study, and the way to run a
    target that is one physical board (one serial port)."""

    name = "serial"

    @property
    def workers(self) -> int:
        return 1

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future:
        future: cf.Future = cf.Future()
        try:
            args, kwargs = _resolve(args, kwargs)
            future.set_result(fn(*args, **kwargs))
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 - the job's failure belongs to its future, as in a pool
            future.set_exception(exc)
        return future


# ---------------------------------------------------------------- local process pool
_worker_queue: Any = None  # set in each pool process by _init_worker: messages back to the driver


def _init_worker(messages: Any, environment: dict[str, str]) -> None:
    global _worker_queue
    _worker_queue = messages
    # The fork server outlives a pool: give each pool's processes the driver's environment of now (cache, TFLM tree).
    os.environ.clear()
    os.environ.update(environment)


class _QueueReporter:
    """Picklable: in a pool process, puts (sink id, message) on the queue the driver drains."""

    def __init__(self, sink_id: int) -> None:
        self.sink_id = sink_id

    def __call__(self, message: str) -> None:
        if _worker_queue is not None:
            _worker_queue.put((self.sink_id, message))


# Imported once by the fork server, so each pool process starts with them instead of importing them again.
PRELOAD_MODULES = ["armlprof.study", "armlprof.runtime.tvm.compiler"]


class ProcessExecutor(Executor):
    """A concurrent.futures process pool of `jobs` processes, forked from a fork server that preloaded armlprof
    (no state of the driver's threads is inherited; import cost is paid once, not once per worker)."""

    name = "local"

    def __init__(self, jobs: int | None = None) -> None:
        self.jobs = jobs or default_jobs()
        if self.jobs < 1:
            raise ArmlprofError(f"--jobs {self.jobs}: give 1 or more parallel jobs")
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD_MODULES)  # a module that fails to import is skipped
        self._messages = context.Queue()
        self._pool = cf.ProcessPoolExecutor(self.jobs, mp_context=context, initializer=_init_worker,
                                            initargs=(self._messages, dict(os.environ)))
        self._sinks: dict[int, Sink] = {}
        self._ids = itertools.count()
        self._drainer = threading.Thread(target=self._drain, name="armlprof-job-messages", daemon=True)
        self._drainer.start()

    @property
    def workers(self) -> int:
        return self.jobs

    def _drain(self) -> None:
        while True:
            try:
                item = self._messages.get()
            except (EOFError, OSError, ValueError):
                return
            if item is None:
                return
            sink_id, message = item
            sink = self._sinks.get(sink_id)
            if sink is not None:
                sink(message)

    def reporter(self, sink: Sink) -> Sink:
        sink_id = next(self._ids)
        self._sinks[sink_id] = sink
        return _QueueReporter(sink_id)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future:
        deps = [a for a in (*args, *kwargs.values()) if isinstance(a, cf.Future)]
        if all(d.done() for d in deps):
            return self._submit_now(fn, args, kwargs)
        # Dependencies still running: submit when the last one finishes, through a future handed out now.
        proxy: cf.Future = cf.Future()
        remaining = [len(deps)]
        lock = threading.Lock()

        def chain(inner: cf.Future) -> None:
            if inner.cancelled():
                proxy.cancel()
            elif inner.exception() is not None:
                proxy.set_exception(inner.exception())
            else:
                proxy.set_result(inner.result())

        def dep_done(_: cf.Future) -> None:
            with lock:
                remaining[0] -= 1
                if remaining[0]:
                    return
            if proxy.cancelled():
                return
            try:
                self._submit_now(fn, args, kwargs).add_done_callback(chain)
            except BaseException as exc:  # noqa: BLE001 - a failed input or a pool shut down: the job's failure
                proxy.set_exception(exc)

        for d in deps:
            d.add_done_callback(dep_done)
        return proxy

    def _submit_now(self, fn: Callable[..., Any], args: tuple, kwargs: dict) -> cf.Future:
        args, kwargs = _resolve(args, kwargs)
        return self._pool.submit(fn, *args, **kwargs)

    def close(self, cancel: bool = False) -> None:
        self._pool.shutdown(wait=True, cancel_futures=cancel)
        with contextlib.suppress(OSError, ValueError):
            self._messages.put(None)
        self._drainer.join(timeout=5)
        self._messages.close()


# ---------------------------------------------------------------- Dask
class _DaskReporter:
    """Picklable: on a Dask worker, sends the message as a worker event on the driver's topic."""

    def __init__(self, topic: str, sink_id: int) -> None:
        self.topic, self.sink_id = topic, sink_id

    def __call__(self, message: str) -> None:
        from distributed import get_worker

        try:
            worker = get_worker()
        except ValueError:  # not on a worker (e.g. called in the driver): nowhere to send it
            return
        worker.log_event(self.topic, {"sink": self.sink_id, "message": message})


class DaskExecutor(Executor):
    """Jobs on a Dask cluster: `address` of a running scheduler, or a LocalCluster of `jobs` single-threaded worker
    processes started (and stopped) by this executor. `worker_env` is set in a LocalCluster's workers."""

    name = "dask"

    def __init__(self, address: str | None = None, jobs: int | None = None,
                 worker_env: dict[str, str] | None = None, timeout_s: float = 60) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ArmlprofError("the dask executor needs dask.distributed; install it with: "
                                "pip install 'armlprof[cluster]'") from None
        self._cluster = None
        try:
            if address is None:
                self._cluster = LocalCluster(n_workers=jobs or default_jobs(), threads_per_worker=1, processes=True,
                                             dashboard_address=None, env=dict(worker_env or {}))
                self._client = Client(self._cluster, timeout=timeout_s)
            else:
                self._client = Client(address, timeout=timeout_s)
        except OSError as exc:
            if self._cluster is not None:
                self._cluster.close()
            raise ArmlprofError(f"cannot reach the Dask scheduler at {address}: {exc}; start one with `dask "
                                "scheduler` (and `dask worker ADDRESS` on each machine) or drop --address") from None
        self._topic = f"armlprof-{uuid.uuid4().hex[:12]}"
        self._sinks: dict[int, Sink] = {}
        self._ids = itertools.count()
        self._client.subscribe_topic(self._topic, self._on_event)

    @property
    def workers(self) -> int:
        return max(1, sum(w.get("nthreads", 1) for w in self._client.scheduler_info()["workers"].values()))

    def _on_event(self, event: Any) -> None:
        _, payload = event
        sink = self._sinks.get(payload.get("sink"))
        if sink is not None:
            sink(payload["message"])

    def reporter(self, sink: Sink) -> Sink:
        sink_id = next(self._ids)
        self._sinks[sink_id] = sink
        return _DaskReporter(self._topic, sink_id)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        # pure=False: a job has effects (it measures); equal arguments must not collapse into one task.
        return self._client.submit(fn, *args, pure=False, **kwargs)

    def as_completed(self, futures: Iterable[Any]) -> Iterator[Any]:
        from distributed import as_completed

        return iter(as_completed(list(futures)))

    def close(self, cancel: bool = False) -> None:
        with contextlib.suppress(Exception):  # the connection may already be gone (e.g. interrupted)
            self._client.unsubscribe_topic(self._topic)
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_executor(name: str = "local", *, jobs: int | None = None, address: str | None = None,
                  worker_env: dict[str, str] | None = None) -> Executor:
    """An executor by name: serial, local (process pool, `jobs`), dask (`address`, or a LocalCluster of `jobs`)."""
    if name == "serial" or (name == "local" and jobs == 1):
        return SerialExecutor()
    if name == "local":
        return ProcessExecutor(jobs)
    if name == "dask":
        return DaskExecutor(address, jobs, worker_env)
    raise ArmlprofError(f"unknown executor '{name}'; choose from {', '.join(EXECUTOR_NAMES)}")

