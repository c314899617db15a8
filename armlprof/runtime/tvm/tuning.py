"""Per-operator cycles on the emulated board, and auto-tuning of the micro-kernel schedules with the emulator as
the runner.

Measuring: the AOT entry function brackets every operator call with DWT CYCCNT reads when built with
-DARMLPROF_LAYER_CYCLES (emit.LAYER_CYCLES_DECL); `layer_cycles` builds the inference sketch so, runs one
inference on the emulator in timed mode and reads the array back from the emulated RAM.

Tuning is armlprof's own small search, not MetaSchedule: the schedule space is the micro-kernel variant per
operator (output-channel tile T, pixel tile P, unroll U; depthwise pixel pairing), which MetaSchedule's TIR
search does not see (the loop nest lives in C behind `call_extern`), and its builder/runner would need a
cross-compiling builder and an emulator runner anyway. The space is small enough to measure exhaustively:
candidate configuration j gives every untuned operator its family's j-th variant, so one build and one run time
every operator's j-th candidate at once (operators are independent: the cycle model has no data cache).
Candidates run in parallel processes. Records are kept per (operator signature, board, flags) in
<cache>/tvm/tuning.json and reused: a second build of the model, or another model with the same layer, does no
tuning.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from armlprof.cache import atomic_write
from armlprof.emulator.profile import BlockCycles, FunctionCycles
from armlprof.errors import ArmlprofError
from armlprof.runtime.tvm import kernels

LAYER_FLAG = "-DARMLPROF_LAYER_CYCLES"


@dataclass
class LayerCycles:
    name: str  # step name, e.g. conv_2d_3
    kind: str
    schedule: str  # micro-kernel variant or "te"
    signature: str
    macs: int
    cycles: int


@dataclass
class ProfiledRun:
    """One profiled layer-timing run: its operators, and every counted cycle per function and per block."""
    layers: list[LayerCycles]
    functions: list[FunctionCycles]
    blocks: list[BlockCycles]
    total_cycles: int  # setup and the sketch's own code included


def records_path() -> Path:
    from armlprof.runtime.tvm.compiler import cache_dir

    return cache_dir() / "tuning.json"


def load_records() -> dict[str, dict[str, int]]:
    path = records_path()
    try:
        return json.loads(path.read_text()) if path.is_file() else {}
    except (OSError, json.JSONDecodeError):
        return {}  # a damaged records file only costs a re-tune


def _save_records(records: dict[str, dict[str, int]]) -> None:
    atomic_write(records_path(), json.dumps(records, indent=1, sort_keys=True))


def flags_key(board, optimization: str | None = None, extra_flags: tuple[str, ...] = ()) -> str:
    """The build flags, the micro-kernel library version and the cycle model (its board parameters and version)
    the measurements hold for."""
    from armlprof.calibration import timing_identity

    text = "|".join([*board.cpu_flags, optimization or board.optimization, *extra_flags, kernels.fingerprint(),
                     timing_identity(board)[0]])
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def record_key(signature: str, board, flags: str) -> str:
    return f"{signature}|{board.name}|{flags}"


def layer_cycles(model, board, *, schedule: str = "default", choices: dict[str, str] | None = None,
                 work_root: Path | None = None, optimization: str | None = None,
                 extra_flags: tuple[str, ...] = ()) -> list[LayerCycles]:
    """Cycles of every operator of one tvm-aot inference on the emulated `board` (timed mode)."""
    return _layer_timing_run(model, board, schedule=schedule, choices=choices, work_root=work_root,
                             optimization=optimization, extra_flags=extra_flags)[0]


def profiled_layer_cycles(model, board, *, schedule: str = "default", choices: dict[str, str] | None = None,
                          optimization: str | None = None, extra_flags: tuple[str, ...] = ()) -> ProfiledRun:
    """layer_cycles, and the same run's cycles per function and per translation block (emulator/profile.py)."""
    layers, profiles, total = _layer_timing_run(model, board, schedule=schedule, choices=choices,
                                                optimization=optimization, extra_flags=extra_flags, profile=True)
    return ProfiledRun(layers, *profiles, total)


def _layer_timing_run(model, board, *, schedule: str, choices: dict[str, str] | None, work_root: Path | None = None,
                      optimization: str | None, extra_flags: tuple[str, ...], profile: bool = False
                      ) -> tuple[list[LayerCycles], tuple[list[FunctionCycles], list[BlockCycles]] | None, int]:
    from armlprof.build import build_sketch
    from armlprof.emulator import Emulator
    from armlprof.runtime import get_runtime
    from armlprof.runtime.tvm.compiler import compile_model
    from armlprof.runtime.tvm.emit import LAYER_CYCLES_SYMBOL
    from armlprof.sketch import prepare_measurement_sketch

    program = compile_model(Path(model.path), model.sha256, schedule=schedule, choices=choices)
    root = Path(work_root) if work_root is not None else Path(tempfile.mkdtemp(prefix="armlprof_layers_"))
    options: dict[str, Any] = {"schedule": schedule}
    if choices:
        options["choices"] = dict(sorted(choices.items()))
    sketch = prepare_measurement_sketch(model, get_runtime("tvm-aot"), board, root, **options)
    build = build_sketch(sketch.use("inference_time"), board, optimization=optimization,
                         extra_flags=[*extra_flags, LAYER_FLAG])
    emulator = Emulator(board, build.elf, timed=True, timeout_s=600, profile=profile)
    try:
        emulator.write_console("runs=1\n")
        result = emulator.run()
        if result.stop_reason not in ("idle", "exit"):
            raise ArmlprofError(f"layer timing run of {model.name} on {board.name} stopped: {result.summary()}")
        address = emulator.image.symbol(LAYER_CYCLES_SYMBOL)
        if address is None:
            raise ArmlprofError(f"{build.elf}: no {LAYER_CYCLES_SYMBOL} (not a tvm-aot layer-timing build)")
        raw = bytes(emulator.uc.mem_read(address, 4 * len(program.steps)))
        profiles = (emulator.function_profile(), emulator.block_profile()) if profile else None
    finally:
        emulator.close()
    counts = [int.from_bytes(raw[4 * i:4 * i + 4], "little") for i in range(len(program.steps))]
    layers = [LayerCycles(s.name, s.kind, s.schedule, s.signature, s.macs, c)
              for s, c in zip(program.steps, counts, strict=True)]
    return layers, profiles, result.cycles


def _candidate(args: tuple) -> list[dict]:
    model_path, board_name, memory_kib, choices, optimization, extra_flags = args
    from armlprof.board import load_board
    from armlprof.model import load_model

    board = load_board(board_name, memory_kib=memory_kib) if memory_kib else load_board(board_name)
    model = load_model(str(model_path))
    try:
        return [asdict(lc) for lc in layer_cycles(model, board, choices=choices, optimization=optimization,
                                                  extra_flags=tuple(extra_flags))]
    except ArmlprofError as exc:
        # a plain ArmlprofError crosses the process pool; subclasses with more constructor arguments (CompileError)
        # do not unpickle there and would surface as a BrokenProcessPool traceback
        raise ArmlprofError(f"tuning candidate {sorted(set(choices.values()))} of {model.name} on {board.name}: "
                            f"{exc}") from None


def tune(model, board, trials: int, *, optimization: str | None = None, extra_flags: tuple[str, ...] = (),
         workers: int | None = None, progress=None) -> dict[str, str]:
    """Measure up to `trials` candidate configurations for the operators without records; return the best
    variant per operator signature (from the records, old and new)."""
    from armlprof.runtime.tvm.compiler import compile_model

    if trials < 0:
        raise ArmlprofError(f"--tune {trials}: the number of tuning trials must be 0 or more")
    program = compile_model(Path(model.path), model.sha256)
    families = {s.signature: kernels.family_of_signature(s.signature) for s in program.steps if s.signature}
    flags = flags_key(board, optimization, extra_flags)
    records = load_records()
    missing = sorted(sig for sig in families if record_key(sig, board, flags) not in records)
    if missing and trials > 0:
        depth = min(trials, max(len(kernels.variants_for(families[s])) for s in missing))
        configs = [{s: kernels.variants_for(families[s])[j] for s in missing
                    if j < len(kernels.variants_for(families[s]))} for j in range(depth)]
        if progress:
            progress(f"tuning {len(missing)} operators of {model.name} on {board.name}: {depth} candidates")
        jobs = [(str(model.path), board.name, board.memory_kib, c, optimization, list(extra_flags)) for c in configs]
        workers = workers or min(len(jobs), os.cpu_count() or 1)
        if workers > 1:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                results = list(pool.map(_candidate, jobs))
        else:
            results = [_candidate(j) for j in jobs]
        measured: dict[str, dict[str, list[int]]] = {}
        for layers in results:
            for lc in layers:
                if lc["signature"] in missing:
                    measured.setdefault(lc["signature"], {}).setdefault(lc["schedule"], []).append(lc["cycles"])
        records = load_records()  # another process may have added records meanwhile
        for sig, by_variant in measured.items():
            records[record_key(sig, board, flags)] = {v: max(c) for v, c in by_variant.items()}
        _save_records(records)
    return best_choices(records, families, board, flags)


def best_choices(records: dict[str, dict[str, int]], signatures, board, flags: str) -> dict[str, str]:
    choices = {}
    for sig in signatures:
        measured = records.get(record_key(sig, board, flags))
        if measured:
            choices[sig] = min(measured, key=lambda v: (measured[v], v))
    return choices


def recorded_choices(model, board, *, optimization: str | None = None, extra_flags: tuple[str, ...] = ()
                     ) -> dict[str, str]:
    """The tuned variant of every operator that has records (no measuring)."""
    return tune(model, board, 0, optimization=optimization, extra_flags=extra_flags)
