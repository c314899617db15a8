"""TFLM figures for the study models on both boards: image size, static arena, emulated init and inference time.

    .venv/bin/python benchmarks/tflm_figures.py [--tflm-root TREE] [--kernels cmsis-nn|reference] [--runs 3]

Prints how long each board's TFLM library took to build (0 objects compiled when it came from the cache), then one
row per (board, model). Cycles come from armlprof's emulator with its Cortex-M4 timing model (timed
run), read from the DWT cycle counter by the sketch, so they include what the firmware measures and nothing else.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from armlprof.board import load_board  # noqa: E402
from armlprof.build import build_sketch  # noqa: E402
from armlprof.emulator import run_elf  # noqa: E402
from armlprof.model import load_model  # noqa: E402
from armlprof.protocol import parse_line  # noqa: E402
from armlprof.runtime.tflm import tree as tflm  # noqa: E402
from armlprof.runtime.tflm.library import Compiler, build_library  # noqa: E402
from armlprof.runtime.tflm.runtime import TflmRuntime  # noqa: E402

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
MODELS = ["micro_speech_quantized", "person_detect"]
BOARDS = ["nano33ble", "spresense"]

SKETCH = """\
#include "src/model.h"
static int8_t input[MODEL_INPUT_BYTES];
static int8_t output[MODEL_OUTPUT_BYTES];
void setup() {
  Serial.begin(115200);
  for (size_t i = 0; i < MODEL_INPUT_BYTES; ++i) input[i] = (int8_t)(i * 7);
  uint64_t c0 = armlprof_cycles();
  int status = model_init();
  uint64_t c1 = armlprof_cycles();
  Serial.print("@armlprof event=init status="); Serial.print(status);
  Serial.print(" cycles="); Serial.println((unsigned long)(c1 - c0));
  for (int run = 0; status == 0 && run < RUNS; ++run) {
    noInterrupts();
    c0 = armlprof_cycles();
    int rc = model_inference(input, output);
    c1 = armlprof_cycles();
    interrupts();
    Serial.print("@armlprof event=inference status="); Serial.print(rc);
    Serial.print(" cycles="); Serial.println((unsigned long)(c1 - c0));
  }
  exit(status);
}
void loop() {}
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kernels", choices=tflm.KERNEL_CHOICES, default=None)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tflm-root", default=None, help="TFLM tree (default: $ARMLPROF_TFLM_ROOT, sketchbook)")
    args = parser.parse_args()
    tree = tflm.require_tree(args.tflm_root)
    print(f"# {tflm.describe_tree(tree)}")
    for board_name in BOARDS:
        start = time.monotonic()
        lib = build_library(tree, Compiler.for_board(load_board(board_name)), args.kernels)
        print(f"# {board_name} libtflm.a ({lib.kernels}): {lib.compiled_objects} objects compiled "
              f"in {time.monotonic() - start:.1f} s{' (cached)' if lib.cached else ''}", flush=True)
    print(f"{'board':<10} {'model':<24} {'flash B':>9} {'model B':>9} {'arena B':>8} {'init ms':>8} "
          f"{'infer ms':>9} {'infer cycles':>13} {'emu wall s':>10}")
    for board_name in BOARDS:
        board = load_board(board_name)
        for name in MODELS:
            model = load_model(str(SHARED / "models" / f"{name}.tflite"))
            with tempfile.TemporaryDirectory() as tmp:
                sketch = Path(tmp) / "tflm_figures"
                sketch.mkdir()
                (sketch / "tflm_figures.ino").write_text(f"#define RUNS {args.runs}\n" + SKETCH)
                options = {"tflm_root": tree.root, **({"kernels": args.kernels} if args.kernels else {})}
                generated = TflmRuntime().generate(model, sketch / "src", board, **options)
                build = build_sketch(sketch, board, extra_flags=generated.extra_build_flags,
                                     extra_objects=generated.extra_objects)
                start = time.monotonic()
                run = run_elf(board, build.elf, timed=True, timeout_s=1800)
                wall_s = time.monotonic() - start
            records = [r for r in map(parse_line, run.console_text.splitlines()) if r]
            if not any(r.event == "init" for r in records):  # say why, then go on with the next cell
                last = run.console_text.strip().splitlines()[-1:] or [""]
                print(f"{board_name:<10} {name:<24} {build.flash_bytes:>9,} {build.model_flash_bytes:>9,} "
                      f"{generated.workspace_bytes:>8,}  emulator run failed: {run.stop_reason} "
                      f"(exit {run.exit_code}) {last[0][:120]}", flush=True)
                continue
            init = next(r for r in records if r.event == "init")
            infer = [r.int("cycles") for r in records if r.event == "inference"]
            mean_cycles = sum(infer) / len(infer) if infer else float("nan")
            to_ms = 1000.0 / board.clock_hz
            print(f"{board_name:<10} {name:<24} {build.flash_bytes:>9,} {build.model_flash_bytes:>9,} "
                  f"{generated.workspace_bytes:>8,} {init.int('cycles') * to_ms:>8.2f} {mean_cycles * to_ms:>9.2f} "
                  f"{mean_cycles:>13,.0f} {wall_s:>10.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
