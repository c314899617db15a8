"""Per-operator cycles of chosen micro-kernel variants of one schedule family, from the layer-timing build on the
emulated board (no tuning records: every operator of FAMILY runs each VARIANT in turn, the others their default).

    .venv/bin/python benchmarks/tvm_variants.py BOARD MODEL FAMILY VARIANT[,VARIANT...]

MODEL: a .tflite path, a file name in ../shared/models, or builtin:NAME; FAMILY: gemm | c1 | pw | dw. One row per
operator of FAMILY (cycles and cycles/MAC per variant), then the model totals.
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("board")
    parser.add_argument("model")
    parser.add_argument("family", choices=("gemm", "c1", "pw", "dw"))
    parser.add_argument("variants", help="comma-separated variants of the family")
    args = parser.parse_args()
    spec = args.model
    if not spec.startswith("builtin:") and not Path(spec).exists():
        spec = str(SHARED_MODELS / spec)
    board, model = load_board(args.board), load_model(spec)
    variants = args.variants.split(",")
    program = compile_model(Path(model.path), model.sha256)
    sigs = {s.signature for s in program.steps
            if s.signature and kernels.family_of_signature(s.signature) == args.family}
    cols = {v: tuning.layer_cycles(model, board, choices=dict.fromkeys(sigs, v)) for v in variants}
    print(f"{'operator':28s} {'MACs':>10s} " + " ".join(f"{v:>17s}" for v in variants))
    for i, row in enumerate(cols[variants[0]]):
        if row.signature in sigs:
            cells = [f"{cols[v][i].cycles:>10,} {cols[v][i].cycles / max(row.macs, 1):6.2f}" for v in variants]
            print(f"{row.name:28s} {row.macs:>10,} " + " ".join(cells))
    macs = sum(r.macs for r in cols[variants[0]])
    for v in variants:
        total = sum(r.cycles for r in cols[v])
        print(f"{v}: model {total:,} cycles ({total / macs:.2f} cyc/MAC)")


if __name__ == "__main__":
    main()
