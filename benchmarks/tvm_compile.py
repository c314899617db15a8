"""Per model x TVM runtime: workspace/storage bytes, generated code size, TVM and host compile times.

Usage: .venv/bin/python benchmarks/tvm_compile.py [model.tflite|builtin:name ...]
Defaults to the study models in ../shared/models (falls back to the generated builtins).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from armlprof.model import load_model
from armlprof.runtime import get_runtime
from armlprof.runtime.tvm.compiler import compile_model

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "models"


def main(specs: list[str]) -> None:
    if not specs:
        specs = [str(p) for p in (SHARED / "micro_speech_quantized.tflite", SHARED / "person_detect.tflite")
                 if p.is_file()] or ["builtin:micro_speech", "builtin:person_detect"]
    print(f"{'model':24} {'runtime':10} {'ws/storage B':>12} {'const B':>8} {'ops.c B':>8} {'host .text B':>12} "
          f"{'tvm s':>7} {'gcc s':>6}")
    for spec in specs:
        model = load_model(spec)
        t0 = time.perf_counter()
        program = compile_model(model.path, model.sha256, use_cache=False)
        tvm_s = time.perf_counter() - t0
        for runtime in ("tvm-aot", "tvm-graph"):
            with tempfile.TemporaryDirectory() as tmp:
                src = Path(tmp) / "src"
                gen = get_runtime(runtime).generate(model, src, None)
                t1 = time.perf_counter()
                objs = []
                for c in sorted(src.glob("*.c")):
                    obj = c.with_suffix(".o")
                    subprocess.run(["gcc", "-Os", "-c", "-I", str(src), "-o", str(obj), str(c)], check=True)
                    objs.append(str(obj))
                gcc_s = time.perf_counter() - t1
                size = subprocess.run(["size", "-t", *objs], capture_output=True, text=True).stdout.splitlines()[-1]
                text_b = int(size.split()[0])
                ws = gen.workspace_bytes if gen.workspace_bytes is not None else gen.notes["storage_bytes"]
                print(f"{model.name:24} {runtime:10} {ws:12d} {program.constant_bytes:8d} "
                      f"{(src / 'model_ops.c').stat().st_size:8d} {text_b:12d} {tvm_s:7.2f} {gcc_s:6.2f}")


if __name__ == "__main__":
    if shutil.which("gcc") is None:
        sys.exit("host gcc not found")
    main(sys.argv[1:])
