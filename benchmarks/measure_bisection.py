"""Wall time of one RAM bisection and of one full profile (four figures) on the emulator, build excluded.

    .venv/bin/python benchmarks/measure_bisection.py [--model builtin:dense] [--runtime handwritten]

Targets (issue #4): one RAM bisection on the 256 KB board <= 30 s; one full profile <= 2 min excluding the
runtime's compile. Prints the figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from armlprof.board import load_board
from armlprof.measure import RunCounts, find_largest_allocation, flash_values, measure_inference, measure_init
from armlprof.model import load_model
from armlprof.runtime import get_runtime
from armlprof.sketch import SKETCH_KINDS, prepare_measurement_sketch
from armlprof.target import Image, get_target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="builtin:dense")
    parser.add_argument("--runtime", default="handwritten")
    parser.add_argument("--board", default="nano33ble")
    args = parser.parse_args()

    model, board = load_model(args.model), load_board(args.board)
    runtime = get_runtime(args.runtime)
    with tempfile.TemporaryDirectory() as work:
        started = time.monotonic()
        sketch = prepare_measurement_sketch(model, runtime, board, Path(work))
        builds = {}
        for kind in SKETCH_KINDS:
            builds[kind] = sketch.build(kind)
        build_s = time.monotonic() - started

        target = get_target("emulator")
        counts = RunCounts.for_target(target)
        t0 = time.monotonic()
        flash = flash_values(builds["inference_time"], sketch.generated.workspace_bytes)
        t1 = time.monotonic()
        ram = find_largest_allocation(target, Image(board, builds["ram_probe"].elf), model)
        t2 = time.monotonic()
        init = measure_init(target, Image(board, builds["init_time"].elf), model, runs=counts.init_runs)
        t3 = time.monotonic()
        inference = measure_inference(target, Image(board, builds["inference_time"].elf), model,
                                      runs=counts.inference_runs)
        t4 = time.monotonic()
        target.close()

    print(f"{args.model} x {args.runtime} x {args.board} on the emulator")
    print(f"  generate + build (3 sketches):  {build_s:8.2f} s")
    print(f"  flash:      {t1 - t0:8.2f} s   {flash['flash_bytes']:,} B ({flash['model_flash_bytes']:,} B model)")
    print(f"  RAM bisection: {t2 - t1:5.2f} s   {ram.free_ram_bytes:,} B free in {len(ram.trials)} trials "
          f"(estimate {ram.free_ram_estimate_bytes:,} B)   [target <= 30 s]")
    print(f"  init:       {t3 - t2:8.2f} s   {init.values()['cycles']:,} cycles x {len(init.cycles)} runs")
    print(f"  inference:  {t4 - t3:8.2f} s   {inference.values()['cycles']:,} cycles x {len(inference.cycles)} runs")
    print(f"  full profile (four figures, build excluded): {t4 - t0:.2f} s   [target <= 120 s]")


if __name__ == "__main__":
    main()
