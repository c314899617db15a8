"""TVM generation time per model: import, integer kernels (TE), lowering with TVM (tvm.tirx.build), total — no cache.

Usage: .venv/bin/python benchmarks/tvm_generation_time.py [model.tflite|builtin:name ...]
Defaults to every .tflite in ../shared/models the TVM runtimes accept, the builtin models, and a generated
ResNet-8 (three residual ADDs, the shape of MLPerf Tiny's pretrainedResnet_quant, whose generation took 5,808 s
before the fixed-point arithmetic became opaque calls). Exits non-zero if any model takes over --limit seconds.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from armlprof import modelgen
from armlprof.errors import ArmlprofError
from armlprof.runtime.tvm import codegen
from armlprof.runtime.tvm.importer import import_tflite
from armlprof.runtime.tvm.ops import build_kernel

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "models"


def default_models(tmp: Path) -> list[tuple[str, Path]]:
    models = [(p.stem, p) for p in sorted(SHARED.glob("*.tflite"))]
    models += [(f"builtin:{n}", modelgen.builtin_model_path(n)) for n in modelgen.BUILTIN_MODELS]
    resnet = tmp / "resnet8_generated.tflite"
    resnet.write_bytes(modelgen.resnet_tflite())
    return [*models, ("resnet8 (generated)", resnet)]


def generation_seconds(path: Path) -> tuple[float, float, float, int]:
    """(import s, kernels s, lowering s, operators) for one model, with no program cache involved."""
    t0 = time.perf_counter()
    graph = import_tflite(path)
    t1 = time.perf_counter()
    kernels = [build_kernel(graph, op) for op in graph.operators if op.kind != "RESHAPE"]
    t2 = time.perf_counter()
    codegen.lower_kernels(kernels)
    return t1 - t0, t2 - t1, time.perf_counter() - t2, len(graph.operators)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", help=".tflite files or builtin:<name> (default: see above)")
    parser.add_argument("--limit", type=float, default=60.0, help="seconds a model may take (default 60)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.models:
            models = [(m, modelgen.builtin_model_path(m.removeprefix("builtin:")) if m.startswith("builtin:")
                       else Path(m)) for m in args.models]
        else:
            models = default_models(Path(tmp))
        codegen.lower_kernels([])  # pay TVM's one-time start-up here, not in the first model's figure
        print(f"{'model':28} {'ops':>4} {'import s':>9} {'kernels s':>10} {'lower s':>8} {'total s':>8}")
        slow = []
        for name, path in models:
            try:
                imp, kern, lower, n_ops = generation_seconds(path)
            except ArmlprofError as exc:
                print(f"{name:28} skipped: {exc}")
                continue
            total = imp + kern + lower
            print(f"{name:28} {n_ops:4d} {imp:9.2f} {kern:10.2f} {lower:8.2f} {total:8.2f}", flush=True)
            if total > args.limit:
                slow.append(name)
    if slow:
        print(f"over {args.limit:g} s: {', '.join(slow)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
