"""Wall time of the study grid run serially, with a local pool of --jobs workers, and on a Dask local cluster of
as many workers, from one run; the speed-ups, and whether the three runs stored identical records.

    .venv/bin/python benchmarks/study_parallel.py [--jobs 2] [--models ...] [--runtimes ...] [--boards ...]
                                                  [--full] [--no-warmup]

Default grid: the study's (generated micro_speech and person_detect x tvm-graph, tvm-aot, tflm x nano33ble,
spresense), --quick run counts unless --full. A warm-up pass first fills the build cache (TVM programs, TFLM
libraries, objects), so the three timed passes compare measuring, not compiling. A last pass runs --jobs serial
studies at once, each in its own process: the throughput the machine itself gives this work on that many cores
(the ceiling of any executor's speed-up). Each pass is `armlprof study` in a
fresh process (start-up, imports, pool or cluster start all count) writing a fresh results file.
The load average is printed with each pass: the figures mean little on a machine other jobs are using.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from armlprof.jobs import comparable
from armlprof.results import ResultStore
from armlprof.study import STUDY_BOARDS, STUDY_MODELS, STUDY_RUNTIMES, ProfileOptions, study


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.1f} / {five:.1f} / {fifteen:.1f} (1 / 5 / 15 min) on {os.cpu_count()} cores"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2, help="workers of the pool and of the Dask cluster")
    parser.add_argument("--models", nargs="+", default=list(STUDY_MODELS))
    parser.add_argument("--runtimes", default=",".join(STUDY_RUNTIMES))
    parser.add_argument("--boards", default=",".join(STUDY_BOARDS))
    parser.add_argument("--full", action="store_true", help="the default run counts instead of --quick's")
    parser.add_argument("--no-warmup", action="store_true", help="time the first pass with the cache as it is")
    args = parser.parse_args()
    grid = {"models": args.models, "runtimes": args.runtimes.split(","), "boards": args.boards.split(",")}
    options = ProfileOptions(quick=not args.full)
    out = Path(tempfile.mkdtemp(prefix="armlprof-parallel-bench-"))
    quiet = lambda _: None  # noqa: E731

    print(f"grid: {len(grid['models'])} models x {len(grid['runtimes'])} runtimes x {len(grid['boards'])} boards; "
          f"{_load()}", flush=True)
    if not args.no_warmup:
        started = time.monotonic()
        study(out / "warmup.jsonl", **grid, options=options, progress=quiet)
        print(f"warm-up (serial, fills the cache): {time.monotonic() - started:.1f} s", flush=True)

    # Each pass is the command a user runs, in a fresh process: start-up and imports count for every executor.
    cli = [sys.executable, "-m", "armlprof.cli", "study", "--models", *grid["models"], "--runtimes",
           ",".join(grid["runtimes"]), "--boards", ",".join(grid["boards"]), *([] if args.full else ["--quick"])]
    passes = [("serial", ["--executor", "serial"]), (f"--jobs {args.jobs}", ["--jobs", str(args.jobs)]),
              (f"dask LocalCluster ({args.jobs} workers)", ["--executor", "dask", "--jobs", str(args.jobs)])]
    walls: dict[str, float] = {}
    records: dict[str, list] = {}
    for label, extra in passes:
        results = out / f"{len(walls)}.jsonl"
        started = time.monotonic()
        proc = subprocess.run([*cli, *extra, "--results", str(results)], capture_output=True, text=True, check=False)
        walls[label] = time.monotonic() - started
        if proc.returncode != 0:
            raise SystemExit(f"{label} failed ({proc.returncode}): {proc.stderr.strip().splitlines()[-1:]}")
        records[label] = ResultStore(results).records()
        print(f"{label}: {walls[label]:.1f} s, {len(records[label])} records; {_load()}", flush=True)

    # The machine's own ceiling for this work: N serial studies at once, each in its own process and results
    # file (no executor involved). N x serial wall / their wall is what N busy cores give emulation here.
    started = time.monotonic()
    procs = [subprocess.Popen([*cli, "--executor", "serial", "--results", str(out / f"alone-{k}.jsonl")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for k in range(args.jobs)]
    if any(p.wait() != 0 for p in procs):
        raise SystemExit("a concurrent serial study failed")
    concurrent = time.monotonic() - started
    print(f"{args.jobs} serial studies at once: {concurrent:.1f} s; {_load()}", flush=True)

    serial = walls["serial"]
    print("\n| executor | wall s | speed-up vs serial |\n| --- | ---: | ---: |")
    for label, wall in walls.items():
        print(f"| {label} | {wall:.1f} | {serial / wall:.2f}x |")
    print(f"| ceiling: {args.jobs} serial studies at once, {args.jobs} x the work | {concurrent:.1f} | "
          f"{args.jobs * serial / concurrent:.2f}x |")
    reference = comparable(records["serial"])
    for label in list(walls)[1:]:
        same = comparable(records[label]) == reference
        print(f"records of {label} identical to serial (date aside): {'yes' if same else 'NO'}")
    failed = [r for r in records["serial"] if r["status"] != "ok"]
    if failed:
        print(f"note: {len(failed)} serial records are not ok, e.g. {failed[0]['reason']}")


if __name__ == "__main__":
    main()
