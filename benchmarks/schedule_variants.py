"""Per-operator cycles of chosen micro-kernel variants on the emulated board (no tuning records used).

    .venv/bin/python benchmarks/schedule_variants.py BOARD MODEL FAMILY VARIANT[,VARIANT...]

e.g. `spresense ../shared/models/person_detect.tflite pw d4p2,d4,t2p2u2`. FAMILY: gemm | c1 | pw | dw. For each
VARIANT, one layer-timing build in which every operator of FAMILY runs VARIANT (the others their default); one row
per operator of the family (cycles, cycles per MAC), then the model totals.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from armlprof.board import load_board
from armlprof.model import load_model
from armlprof.runtime.tvm import kernels, tuning
from armlprof.runtime.tvm.compiler import compile_model

SHARED_MODELS = Path(__file__).resolve().parents[2] / "shared" / "models"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("board")
    parser.add_argument("model")
    parser.add_argument("family", choices=("gemm", "c1", "pw", "dw"))
    parser.add_argument("variants", help="comma-separated variants of FAMILY")
    args = parser.parse_args()
    variants = args.variants.split(",")
    for v in variants:
        kernels.c_function(args.family, v)  # ValueError on an unknown variant
    spec = args.model
    if not spec.startswith("builtin:") and not Path(spec).exists():
        spec = str(SHARED_MODELS / spec)  # a file name of the study's models
    board, model = load_board(args.board), load_model(spec)
    program = compile_model(Path(model.path), model.sha256)
    sigs = {s.signature for s in program.steps
            if s.signature and kernels.family_of_signature(s.signature) == args.family}
    cols = {v: tuning.layer_cycles(model, board, choices=dict.fromkeys(sigs, v)) for v in variants}
    print(f"{'operator':28s} {'MACs':>10s} " + " ".join(f"{v:>18s}" for v in variants))
    for i, r in enumerate(cols[variants[0]]):
        if r.signature in sigs:
            cells = (f"{cols[v][i].cycles:>11,} {cols[v][i].cycles / r.macs if r.macs else 0:6.2f}" for v in variants)
            print(f"{r.name:28s} {r.macs:>10,} " + " ".join(cells))
    for v in variants:
        fam = sum(r.cycles for r in cols[v] if r.signature in sigs)
        total = sum(r.cycles for r in cols[v])
        macs = sum(r.macs for r in cols[v])
        print(f"{v}: model {total:,} cycles ({total / max(macs, 1):.2f} cyc/MAC), {args.family} operators {fam:,}")


if __name__ == "__main__":
    main()
