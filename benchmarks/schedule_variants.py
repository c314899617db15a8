"""Per-operator cycles of chosen micro-kernel variants on the emulated board (timed mode, no tuning records): every
operator of one schedule family runs the given variant (the others their default), one column per variant.

    .venv/bin/python benchmarks/schedule_variants.py --board spresense --model ../shared/models/person_detect.tflite \
        --family dw --variants r1,t3
"""

from __future__ import annotations

import argparse
from pathlib import Path

from armlprof.board import load_board
from armlprof.model import load_model
from armlprof.runtime.tvm import kernels, tuning
from armlprof.runtime.tvm.compiler import compile_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--board", default="spresense")
    parser.add_argument("--model", required=True, help="a .tflite path or builtin:*")
    parser.add_argument("--family", required=True, choices=("gemm", "c1", "pw", "dw"))
    parser.add_argument("--variants", required=True, help="comma-separated variants of the family")
    args = parser.parse_args()
    variants = args.variants.split(",")
    for v in variants:
        kernels.c_function(args.family, v)  # unknown variants fail here, before any build
    board, model = load_board(args.board), load_model(args.model)
    program = compile_model(Path(model.path), model.sha256)
    sigs = {s.signature for s in program.steps if s.signature and kernels.family_of_signature(s.signature) ==
            args.family}
    columns = {v: tuning.layer_cycles(model, board, choices=dict.fromkeys(sorted(sigs), v)) for v in variants}
    print(f"| operator | MACs | {' | '.join(f'{v} cycles (cyc/MAC)' for v in variants)} |")
    print(f"| --- | ---: | {' | '.join('---:' for _ in variants)} |")
    for i, row in enumerate(columns[variants[0]]):
        if row.signature in sigs:
            cells = [f"{columns[v][i].cycles:,} ({columns[v][i].cycles / row.macs:.2f})" for v in variants]
            print(f"| {row.name} | {row.macs:,} | {' | '.join(cells)} |")
    for v in variants:
        total = sum(r.cycles for r in columns[v])
        family = sum(r.cycles for r in columns[v] if r.signature in sigs)
        macs = sum(r.macs for r in columns[v])
        print(f"{v}: model {total:,} cycles ({total / macs:.2f} cyc/MAC), {args.family} operators {family:,}")


if __name__ == "__main__":
    main()
