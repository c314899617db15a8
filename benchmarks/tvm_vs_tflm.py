"""TVM with armlprof's Cortex-M4 schedules against TFLM with CMSIS-NN, per model x board, from one run.

    ARMLPROF_TFLM_ROOT=../shared/tflm/Arduino_TensorFlowLite .venv/bin/python benchmarks/tvm_vs_tflm.py \
        [--models a.tflite ...] [--boards nano33ble,spresense] [--trials 8] [--layers]

Per model x board: tvm-aot with the default schedule, tvm-aot tuned (`--trials` candidates measured on the
emulator, records cached), tvm-graph (default schedule), tvm-aot with the plain TE loops (the old baseline), and
tflm: flash, unused RAM, inference cycles, cycles per MAC, and the speed-up over tflm. With --layers, the cycles
of every operator (default and tuned) from the layer-timing build, and TFLM's hottest functions (its CMSIS-NN
kernels) from the emulator's function profile.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from armlprof.board import load_board
from armlprof.breakdown import cycle_breakdown
from armlprof.model import load_model
from armlprof.runtime.tvm import tuning
from armlprof.runtime.tvm.compiler import compile_model
from armlprof.study import ProfileOptions, profile

SHARED = Path(__file__).resolve().parents[2] / "shared"
DEFAULT_MODELS = [str(SHARED / "models" / f) for f in ("micro_speech_quantized.tflite", "person_detect.tflite")]

TFLM_FUNCTIONS = 6  # with --layers: TFLM's hottest functions per model x board

# (label, runtime, runtime options)
CELLS = [
    ("tvm-aot default", "tvm-aot", {}),
    ("tvm-aot tuned", "tvm-aot", {"schedule": "tuned"}),
    ("tvm-graph", "tvm-graph", {}),
    ("tvm-aot te (unscheduled)", "tvm-aot", {"schedule": "te"}),
    ("tflm", "tflm", {}),
]


def _value(records: dict, metric: str, key: str):
    r = records.get(metric)
    return r["values"].get(key) if r and r["status"] == "ok" else None


def _show(v) -> str:
    return "—" if v is None else (f"{v:,.2f}" if isinstance(v, float) else f"{v:,}")


def _per_mac(cycles: int, macs: int) -> str:
    return f"{cycles / macs:.2f}" if macs else "—"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=DEFAULT_MODELS)
    parser.add_argument("--boards", default="nano33ble,spresense")
    parser.add_argument("--trials", type=int, default=tuning.kernels.max_variants(),
                        help="tuning candidates per model x board (default: the whole space)")
    parser.add_argument("--measure", default="flash,ram,inference")
    parser.add_argument("--layers", action="store_true", help="also print per-operator cycles")
    args = parser.parse_args()
    if not os.environ.get("ARMLPROF_TFLM_ROOT") and (SHARED / "tflm" / "Arduino_TensorFlowLite").is_dir():
        os.environ["ARMLPROF_TFLM_ROOT"] = str(SHARED / "tflm" / "Arduino_TensorFlowLite")
    results = Path(tempfile.mkdtemp(prefix="armlprof-tvmperf-")) / "results.jsonl"
    measures = [m for m in args.measure.split(",") if m]
    header = ("model", "board", "runtime", "flash B", "unused RAM B", "inference cycles", "cyc/MAC", "vs tflm",
              "wall s")
    lines = [" | ".join(header), " | ".join("---" for _ in header)]
    layer_text = []
    for spec in args.models:
        model = load_model(spec)
        macs = compile_model(Path(model.path), model.sha256).stats["macs"]
        for board_name in args.boards.split(","):
            board = load_board(board_name)
            started = time.monotonic()
            tuning.tune(model, board, args.trials, progress=print)
            print(f"tuning {model.name} on {board_name}: {time.monotonic() - started:.0f} s")
            rows = []
            for label, runtime, options in CELLS:
                started = time.monotonic()
                opts = ProfileOptions(quick=True, measures=measures,
                                      runtime_options={runtime: options} if options else {})
                records = {r["metric"]: r for r in profile(spec, runtime, board_name, results, opts,
                                                           progress=lambda _: None)}
                rows.append((label, records, time.monotonic() - started))
            tflm = next((_value(r, "inference", "cycles") for lbl, r, _ in rows if lbl == "tflm"), None)
            for label, r, wall_s in rows:
                cycles = _value(r, "inference", "cycles")
                failed = [f"{k}: {v['reason']}" for k, v in r.items() if v["status"] != "ok"]
                lines.append(" | ".join([
                    model.name, board_name, label, _show(_value(r, "flash", "flash_bytes")),
                    _show(_value(r, "ram", "free_ram_bytes")), _show(cycles),
                    _show(cycles / macs if cycles else None),
                    f"{tflm / cycles:.2f}x" if cycles and tflm else "—", f"{wall_s:.0f}"]))
                lines.extend(f"    {f}" for f in failed)
            if args.layers:
                default = tuning.layer_cycles(model, board)
                tuned = tuning.layer_cycles(model, board, choices=tuning.recorded_choices(model, board))
                layer_text.append(f"\n{model.name} on {board_name} ({macs:,} MACs): per-operator cycles")
                layer_text.append("operator | MACs | default | cycles | cyc/MAC | tuned | cycles | cyc/MAC")
                for d, t in zip(default, tuned, strict=True):
                    layer_text.append(f"{d.name} | {d.macs:,} | {d.schedule} | {d.cycles:,} | "
                                      f"{_per_mac(d.cycles, d.macs)} | {t.schedule} | {t.cycles:,} | "
                                      f"{_per_mac(t.cycles, d.macs)}")
                if tflm:  # TFLM has no per-operator timing here: its kernels' cycles from the function profile
                    b = cycle_breakdown(spec, "tflm", board_name)
                    layer_text.append(f"\ntflm on {board_name}: the {TFLM_FUNCTIONS} functions of most cycles "
                                      f"(`armlprof breakdown`; one inference {b.inference_cycles:,} cycles, the run "
                                      f"with boot and init {b.run_cycles:,})")
                    layer_text.append("function | cycles | share of the run")
                    layer_text.extend(f"{f.function} | {f.cycles:,} | {100 * f.cycles / b.run_cycles:.1f} %"
                                      for f in b.functions[:TFLM_FUNCTIONS])
    print("\n".join(lines + layer_text))
    print(f"\nresults: {results}")


if __name__ == "__main__":
    main()
