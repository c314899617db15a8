"""Where one tvm-aot inference's cycles go on the emulated board: per function, and per operator.

    .venv/bin/python benchmarks/function_profile.py BOARD MODEL [--schedule tuned|default] [FAMILY=VARIANT ...]
        [--top 25] [--blocks FUNCTION ...]

e.g. `spresense person_detect.tflite` (a file name of the study's models, or a path). The layer-timing build of
tvm-aot runs once with the emulator's profile (emulator/profile.py: every counted cycle charged to the function
executing); `tuned` (the default) uses the tuning records (tune first: benchmarks/tvm_vs_tflm.py), `default` the
default schedule; FAMILY=VARIANT (gemm | c1 | pw | dw) overrides every operator of that family. Prints the
functions (micro-kernels, drivers, the runtime) and the operators with cycles, share and cycles per MAC.
--blocks FUNCTION then lists the hottest translation blocks of the functions whose names start with FUNCTION
(e.g. `ak_pwf_groups`): cycles, executions, cycles per execution (a loop body's cost per pass, its closing
branch's refill included), code bytes, address.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from armlprof.board import load_board
from armlprof.breakdown import OperatorCycles, format_operators
from armlprof.emulator.profile import format_profile
from armlprof.model import load_model
from armlprof.runtime.tvm import kernels, tuning
from armlprof.runtime.tvm.compiler import compile_model

SHARED_MODELS = Path(__file__).resolve().parents[2] / "shared" / "models"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("board")
    parser.add_argument("model")
    parser.add_argument("overrides", nargs="*", metavar="FAMILY=VARIANT")
    parser.add_argument("--schedule", choices=("tuned", "default"), default="tuned")
    parser.add_argument("--top", type=int, default=25, help="functions (and blocks) listed")
    parser.add_argument("--blocks", nargs="+", default=[], metavar="FUNCTION",
                        help="the hottest translation blocks of the functions whose names start with FUNCTION")
    args = parser.parse_args()
    spec = args.model
    if not spec.startswith("builtin:") and not Path(spec).exists():
        spec = str(SHARED_MODELS / spec)
    board, model = load_board(args.board), load_model(spec)
    choices = tuning.recorded_choices(model, board) if args.schedule == "tuned" else {}
    if args.overrides:
        program = compile_model(Path(model.path), model.sha256)
        for item in args.overrides:
            family, _, variant = item.partition("=")
            kernels.c_function(family, variant)  # ValueError on an unknown family or variant
            choices.update({s.signature: variant for s in program.steps
                            if s.signature and kernels.family_of_signature(s.signature) == family})
    run = tuning.profiled_layer_cycles(model, board, choices=choices or None)
    layers, total = run.layers, run.total_cycles
    macs = sum(r.macs for r in layers)
    inference = sum(r.cycles for r in layers)
    print(f"{model.name} on {board.name} ({args.schedule}{', ' + ' '.join(args.overrides) if args.overrides else ''}):"
          f" inference {inference:,} cycles, {inference / max(macs, 1):.2f} cyc/MAC; the run {total:,} cycles")
    print()
    print(format_profile(run.functions, total, args.top))
    print()
    print(format_operators([OperatorCycles(r.name, r.kind, r.schedule, r.macs, r.cycles) for r in layers]))
    if args.blocks:
        blocks = [b for b in run.blocks if b.function.startswith(tuple(args.blocks))]
        print()
        print(f"{'cycles':>13s} {'executions':>10s} {'per pass':>9s} {'bytes':>5s}  address     function")
        for b in blocks[:args.top]:
            print(f"{b.cycles:>13,} {b.executions:>10,} {b.cycles_per_execution:>9.1f} {b.size_bytes:>5d}"
                  f"  {b.address:#010x}  {b.function}")
        print(f"{sum(b.cycles for b in blocks):>13,} {'':>10s} {'':>9s} {'':>5s}  {len(blocks)} blocks of "
              f"{', '.join(args.blocks)}")


if __name__ == "__main__":
    main()
