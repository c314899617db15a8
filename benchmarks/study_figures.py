"""Per model x board x runtime, the study's figures on the emulator, with wall time per cell.

    .venv/bin/python benchmarks/study_figures.py [--models a.tflite b.tflite] [--runtimes tvm-aot,tvm-graph,tflm]

Prints flash (total and model-attributable), workspace/arena, unused RAM (bisection and memory-watch estimate),
initialization and inference (cycles and ms at the board clock), and the TVM/TFLM ratio of inference cycles.
Default models: the study's (../shared/models when present, else armlprof's generated ones).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from armlprof.study import ProfileOptions, profile

SHARED = Path(__file__).resolve().parents[2] / "shared" / "models"
DEFAULT_MODELS = [str(SHARED / f) for f in ("micro_speech_quantized.tflite", "person_detect.tflite")
                  if (SHARED / f).is_file()] or ["builtin:micro_speech", "builtin:person_detect"]


def _value(records: dict, metric: str, key: str):
    r = records.get(metric)
    return r["values"].get(key) if r and r["status"] == "ok" else None


def _show(v) -> str:
    return "—" if v is None else (f"{v:,.3f}" if isinstance(v, float) else f"{v:,}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=DEFAULT_MODELS)
    parser.add_argument("--runtimes", default="tvm-graph,tvm-aot,tflm")
    parser.add_argument("--boards", default="nano33ble,spresense")
    args = parser.parse_args()
    results = Path(tempfile.mkdtemp(prefix="armlprof-bench-")) / "results.jsonl"
    options = ProfileOptions(quick=True)
    rows = []
    for spec in args.models:
        for board in args.boards.split(","):
            for runtime in args.runtimes.split(","):
                started = time.monotonic()
                records = profile(spec, runtime, board, results, options, progress=lambda _: None)
                wall_s = time.monotonic() - started
                by_metric = {r["metric"]: r for r in records}
                rows.append((Path(spec).stem.removeprefix("builtin:"), board, runtime, by_metric, wall_s))

    header = ("model", "board", "runtime", "flash B", "model flash B", "workspace B", "unused RAM B",
              "estimate B", "init cycles", "init ms", "inference cycles", "inference ms", "wall s")
    print(" | ".join(header))
    inference = defaultdict(dict)
    for model, board, runtime, m, wall_s in rows:
        failed = [f"{k}: {r['reason']}" for k, r in m.items() if r["status"] != "ok"]
        print(" | ".join([model, board, runtime, *(_show(_value(m, *k)) for k in (
            ("flash", "flash_bytes"), ("flash", "model_flash_bytes"), ("flash", "workspace_bytes"),
            ("ram", "free_ram_bytes"), ("ram", "free_ram_estimate_bytes"), ("init", "cycles"), ("init", "ms"),
            ("inference", "cycles"), ("inference", "ms"))), f"{wall_s:.1f}"]))
        for line in failed:
            print(f"    {line}")
        inference[(model, board)][runtime] = _value(m, "inference", "cycles")
    print("\ninference cycles relative to tflm (below 1x: fewer cycles than TFLM):")
    for (model, board), cycles in inference.items():
        base = cycles.get("tflm")
        for runtime, c in cycles.items():
            if runtime != "tflm" and base and c:
                print(f"  {model} {board} {runtime}: {c / base:.2f}x tflm")
    print(f"\nresults: {results}")


if __name__ == "__main__":
    main()
