"""Emulated vs published hardware figures for the study's own TVM sketches (github guberti/tvm-arduino-profiling).

    .venv/bin/python benchmarks/fidelity.py --study DIR [--board-timing nano33ble:FILE] [--cells a,b]

DIR is a checkout of the study (keep it outside this repo). Each cell's sketch folder is copied with `src/`
unchanged and the study's `.ino` replaced by a timing one that calls the same entry points the study timed with
micros() (AOT: TVMInitialize then TVMExecute; graph: the Model constructor, then Model::inference) between calls of
a marker function. The benchmark hooks the marker and reads the emulator's instruction and cycle counters there,
so every cell reports the instructions executed and the cycles per instruction (CPI) separately: a gap in
instructions is the compiler's (the study used the official cores' older GCC), a gap in CPI is the cycle model's.
Hardware figures are the means of the study's published `*_times_*.txt` files (microseconds), read from DIR.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from unicorn import UC_HOOK_CODE

from armlprof.board import Board, load_board
from armlprof.build import build_sketch
from armlprof.calibration import with_timing
from armlprof.emulator import Emulator
from armlprof.toolchain import find_toolchain


@dataclass(frozen=True)
class Cell:
    name: str  # e.g. micro_speech/aot
    sketch: str  # folder inside the study checkout
    board: str
    executor: str  # aot | graph
    phase: str  # init | inference
    times_file: str  # the study's published per-run times (microseconds), one per line
    fitted: bool  # used to fit the boards' default timing parameters (the rest is held out)


CELLS = (
    Cell("micro_speech aot inference", "micro_speech/micro_speech_aot_executor", "nano33ble", "aot", "inference",
         "inference_times_nano.txt", True),
    Cell("micro_speech graph init", "micro_speech/micro_speech_graph_executor", "nano33ble", "graph", "init",
         "initialization_times_nano.txt", False),
    Cell("micro_speech graph inference", "micro_speech/micro_speech_graph_executor", "nano33ble", "graph",
         "inference", "inference_times_nano.txt", False),
    Cell("person_detection aot inference", "person_detection/person_detection_aot_executor", "spresense", "aot",
         "inference", "inference_times_spresense.txt", True),
    Cell("person_detection graph init", "person_detection/person_detection_graph_executor", "spresense", "graph",
         "init", "initialization_times_spresense.txt", False),
    Cell("person_detection graph inference", "person_detection/person_detection_graph_executor", "spresense",
         "graph", "inference", "inference_times_spresense.txt", False),
)

# micro_speech reads 49x40 = 1960 input bytes (the study's .ino declares 1920 and reads past it on hardware;
# here the stack ends at the top of RAM, so the buffer must be whole).
INPUT_BYTES = {"micro_speech": (1960, 4), "person_detection": (96 * 96, 3)}

# The timing sketch. Inputs live on setup()'s stack as in the study's own .ino; inference runs twice and the
# second (steady-state) run is reported, as the study's 256-run means are.
MARKER = """extern "C" __attribute__((noinline)) void armlprof_fidelity_mark(int phase) {
  asm volatile("" : : "r"(phase) : "memory");
}
"""
AOT_INO = MARKER + """#include "src/model.h"
void setup() {
  int8_t input_data[%(inputs)d] = {0};
  int8_t output_data[%(outputs)d];
  armlprof_fidelity_mark(0);
  TVMInitialize();
  armlprof_fidelity_mark(1);
  TVMExecute(input_data, output_data);
  armlprof_fidelity_mark(2);
  TVMInitialize();
  armlprof_fidelity_mark(3);
  TVMExecute(input_data, output_data);
  armlprof_fidelity_mark(4);
}
void loop() {}
"""
GRAPH_INO = MARKER + """#include "src/model.h"
void setup() {
  int8_t input_data[%(inputs)d] = {0};
  int8_t output_data[%(outputs)d];
  armlprof_fidelity_mark(0);
  Model model;
  armlprof_fidelity_mark(1);
  model.inference(input_data, output_data);
  armlprof_fidelity_mark(2);
  armlprof_fidelity_mark(3);
  model.inference(input_data, output_data);
  armlprof_fidelity_mark(4);
}
void loop() {}
"""


@dataclass
class Phase:
    instructions: int
    cycles: int
    allocator_calls: int  # malloc + free calls (the allocator surcharge applies to each)


def published_us(study: Path, cell: Cell) -> float:
    path = study / cell.sketch / cell.times_file
    if not path.is_file():
        raise SystemExit(f"fidelity: {path} not found: --study must be a checkout of guberti/tvm-arduino-profiling")
    return statistics.fmean(float(x) for x in path.read_text().split())


def newlib_stdint_flags() -> list[str]:
    """Debian's arm-none-eabi-gcc uses GCC's own stdint.h, which lacks newlib's __int64_t_defined, so newlib's
    inttypes.h leaves PRIu64 undefined (the study's CRT uses it). The official cores' Arm GNU toolchains pick
    newlib's stdint.h: put newlib's include folder first, as there."""
    toolchain = find_toolchain()
    gcc = toolchain.bin_dir / "arm-none-eabi-gcc"
    proc = subprocess.run([str(gcc), "-M", "-x", "c", "-"], input="#include <inttypes.h>\n", text=True,
                          capture_output=True, check=False)
    found = re.search(r"(\S+)/inttypes\.h", proc.stdout)
    return ["-isystem", found.group(1)] if found and "/lib/gcc/" not in found.group(1) else []


def prepare_sketch(study: Path, sketch: str, executor: str, work: Path) -> Path:
    """A copy of the study's sketch folder with its src/ unchanged and the timing .ino."""
    src = study / sketch
    name = f"fidelity_{Path(sketch).name}"
    out = work / name
    if out.exists():
        return out
    shutil.copytree(src / "src", out / "src")
    inputs, outputs = INPUT_BYTES[sketch.split("/")[0]]
    (out / f"{name}.ino").write_text((AOT_INO if executor == "aot" else GRAPH_INO)
                                     % {"inputs": inputs, "outputs": outputs})
    return out


def run_phases(board: Board, elf: Path) -> dict[str, Phase]:
    """Run the timing sketch once and read instructions and cycles at each marker."""
    emu = Emulator(board, elf, timed=True, max_cycles=20 * board.clock_hz)
    mark = emu.image.symbol("armlprof_fidelity_mark")
    if mark is None:
        raise SystemExit("fidelity: the timing sketch has no armlprof_fidelity_mark symbol")
    marks: list[tuple[int, int, int]] = []
    calls = [0]

    def on_mark(uc, address, size, user_data):  # the marker's first instruction starts a block: counters exact
        marks.append((emu._state.instructions, emu._state.cycles, calls[0]))

    def on_allocator(uc, address, size, user_data):
        calls[0] += 1

    emu.uc.hook_add(UC_HOOK_CODE, on_mark, begin=mark, end=mark)
    for name in ("_malloc_r", "_free_r"):
        entry = emu.image.symbol(name)
        if entry is not None:
            emu.uc.hook_add(UC_HOOK_CODE, on_allocator, begin=entry, end=entry)
    result = emu.run()
    if not result.ok or len(marks) != 5:
        raise SystemExit(f"fidelity: the sketch did not run to its end: {result.summary()}")
    d = [Phase(*(y - x for x, y in zip(a, b, strict=True))) for a, b in zip(marks, marks[1:], strict=False)]
    print(f"  {elf.parent.name}: {result.instructions:,} instructions in {result.wall_s:.1f} s "
          f"({result.instructions / result.wall_s / 1e6:.0f} M instr/s timed)", file=sys.stderr)
    return {"init": d[0], "first_inference": d[1], "inference": d[3]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", type=Path, required=True, help="checkout of guberti/tvm-arduino-profiling")
    parser.add_argument("--cells", default="", help="comma-separated substrings of cell names (default: all)")
    parser.add_argument("--set", action="append", default=[], metavar="BOARD:KEY=VALUE",
                        help="override a [timing] parameter, e.g. nano33ble:regions.flash.load_wait_states=4")
    args = parser.parse_args(argv)
    overrides: dict[str, dict[str, float]] = {}
    for item in args.set:
        board_name, _, assignment = item.partition(":")
        key, _, value = assignment.partition("=")
        overrides.setdefault(board_name, {})[key] = float(value)
    study = args.study.resolve()
    cells = [c for c in CELLS if not args.cells or any(s in c.name for s in args.cells.split(","))]
    for cell in cells:  # check the checkout before building anything
        published_us(study, cell)
        if not (study / cell.sketch / "src").is_dir():
            raise SystemExit(f"fidelity: {study / cell.sketch / 'src'} not found: --study must be a checkout of "
                             "guberti/tvm-arduino-profiling")
    rows = []
    with tempfile.TemporaryDirectory(prefix="armlprof-fidelity-") as tmp:
        runs: dict[tuple[str, str], dict[str, Phase]] = {}
        for cell in cells:
            key = (cell.sketch, cell.board)
            board = load_board(cell.board)
            if cell.board in overrides:
                board = with_timing(board, overrides[cell.board], "fidelity --set")
            if key not in runs:
                sketch = prepare_sketch(study, cell.sketch, cell.executor, Path(tmp))
                elf = build_sketch(sketch, board, baseline=False, extra_flags=newlib_stdint_flags()).elf
                runs[key] = run_phases(board, elf)
            phase = runs[key][cell.phase]
            emulated_ms = phase.cycles / board.clock_hz * 1e3
            hardware_ms = published_us(study, cell) / 1e3
            rows.append((cell, phase, emulated_ms, hardware_ms, hardware_ms * 1e-3 * board.clock_hz))
    print("| cell | board | emulated ms | hardware ms | error | instructions | malloc+free calls | emulated CPI "
          "| hardware CPI* | set |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for cell, phase, emu_ms, hw_ms, hw_cycles in rows:
        print(f"| {cell.name} | {cell.board} | {emu_ms:.3f} | {hw_ms:.3f} | {(emu_ms / hw_ms - 1) * 100:+.1f} % | "
              f"{phase.instructions:,} | {phase.allocator_calls:,} | {phase.cycles / phase.instructions:.3f} | "
              f"{hw_cycles / phase.instructions:.3f} | {'fitted' if cell.fitted else 'held out'} |")
    print("\n* hardware CPI = published cycles / instructions emulated: exact only if the official GCC executed "
          "as many instructions as armlprof's build.")
    by = {c.name: ms for c, _, ms, _, _ in rows}
    if "person_detection aot inference" in by and "person_detection graph inference" in by:
        faster = "graph" if by["person_detection graph inference"] < by["person_detection aot inference"] else "aot"
        print(f"spresense person_detection: emulated {faster} is faster (hardware: graph is faster)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
