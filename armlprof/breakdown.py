"""Where one inference's cycles go: per function for any runtime, per operator for tvm-aot, on the emulator.

`armlprof profile` gives a cell's four figures; this answers the next question, which code the inference time is
spent in. One boot of the cell's inference_time sketch, one inference (its output checked by CRC as a figure's
would be), with the emulator's function profile (emulator/profile.py: every cycle of the run charged to the
function executing). For tvm-aot, also the cycles of each operator from its layer-timing build (DWT CYCCNT around
every operator call, the build the tuner measures). Nothing is written to a results file: these are diagnostics,
and `armlprof profile` measures the figures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from armlprof.board import load_board
from armlprof.cache import cache_root
from armlprof.emulator.profile import FunctionCycles
from armlprof.errors import ArmlprofError
from armlprof.measure import measure_inference
from armlprof.model import load_model
from armlprof.runtime import get_runtime
from armlprof.sketch import prepare_measurement_sketch
from armlprof.study import ProfileOptions, check_options
from armlprof.target.base import Image
from armlprof.target.emulator import EmulatorTarget


@dataclass(frozen=True)
class OperatorCycles:
    name: str
    kind: str
    variant: str | None  # the micro-kernel variant it ran (None: a TE schedule)
    macs: int
    cycles: int


@dataclass
class Breakdown:
    model: str
    runtime: str
    board: str
    inference_cycles: int  # the one inference (the sketch's DWT count)
    run_cycles: int  # the whole profiled run: boot, model init, the inference, reporting
    functions: list[FunctionCycles]
    elf: str  # the inference_time image profiled (armlprof run ELF --board B --timed --profile reruns it)
    operators: list[OperatorCycles] | None = None  # tvm-aot only
    macs: int | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


def cycle_breakdown(model_spec: str, runtime_name: str, board_name: str,
                    options: ProfileOptions | None = None) -> Breakdown:
    """Profile one inference of `model_spec` with `runtime_name` on the emulated `board_name` (options as
    `profile`'s: compile flags, runtime options, memory option, seed, timeout; the target must be the emulator)."""
    options = options or ProfileOptions()
    if options.target != "emulator":
        raise ArmlprofError(f"a cycle breakdown needs the emulator's profile; --target {options.target} cannot give "
                            "one (drop --target)")
    check_options(options, [runtime_name])
    model = load_model(model_spec)
    board = load_board(board_name, options.memory_kib)
    runtime = get_runtime(runtime_name)
    runtime_options = options.runtime_options.get(runtime_name, {})
    why = runtime.unavailable_reason(**runtime_options)
    if why is not None:
        raise ArmlprofError(f"runtime {runtime_name} is unavailable here: {why}")
    sketch = prepare_measurement_sketch(model, runtime, board, options.work_root or cache_root() / "sketches",
                                        **runtime_options)
    build = sketch.build("inference_time", optimization=options.optimization, extra_flags=options.extra_flags)
    target = EmulatorTarget(profile=True)
    try:
        image = target.prepare(Image(board, build.elf, sketch.sketch_dir, "inference_time"))
        timing = measure_inference(target, image, model, runs=1, seed=options.seed, timeout_s=options.timeout_s)
        functions = target.function_profile(image)
    finally:
        target.close()
    result = Breakdown(model.name, runtime_name, board.name, timing.cycles[0], sum(f.cycles for f in functions),
                       functions, str(build.elf), macs=sketch.generated.notes.get("macs"))
    if runtime_name == "tvm-aot":
        result.operators = _tvm_operators(model, board, runtime_options, options)
        layer_total = sum(o.cycles for o in result.operators)
        result.notes.append(f"operators: {layer_total:,} cycles in the layer-timing build, which times each operator "
                            "call with DWT CYCCNT (its code sits at other addresses: a few cycles from the "
                            "inference's)")
    return result


def _tvm_operators(model, board, runtime_options: dict[str, Any], options: ProfileOptions) -> list[OperatorCycles]:
    from armlprof.runtime.tvm import tuning

    schedule = runtime_options.get("schedule", "default")
    choices = runtime_options.get("choices")
    if choices is None and schedule == "tuned":
        choices = tuning.recorded_choices(model, board, optimization=options.optimization,
                                          extra_flags=tuple(options.extra_flags))
    layers = tuning.layer_cycles(model, board, schedule="te" if schedule == "te" else "default", choices=choices,
                                 optimization=options.optimization, extra_flags=tuple(options.extra_flags))
    return [OperatorCycles(r.name, r.kind, r.schedule, r.macs, r.cycles) for r in layers]


def format_breakdown(b: Breakdown, top: int | None = 20) -> str:
    from armlprof.emulator.profile import format_profile

    per_mac = f", {b.inference_cycles / b.macs:.2f} cycles/MAC" if b.macs else ""
    lines = [f"{b.model} · {b.runtime} · {b.board}: one inference {b.inference_cycles:,} cycles{per_mac}; "
             f"the run (boot, init, inference) {b.run_cycles:,}", "", format_profile(b.functions, b.run_cycles, top)]
    if b.operators is not None:
        lines += ["", format_operators(b.operators)]
    lines += [f"({n})" for n in b.notes]
    return "\n".join(lines)


def format_operators(operators: list[OperatorCycles]) -> str:
    """A plain table: per operator its variant, MACs, cycles, share of the operators' cycles, cycles per MAC."""
    total = sum(o.cycles for o in operators)
    lines = [f"{'operator':28s} {'variant':>8s} {'MACs':>10s} {'cycles':>12s} {'share':>6s} {'cyc/MAC':>8s}"]
    for o in operators:
        lines.append(f"{o.name:28s} {o.variant or '-':>8s} {o.macs:>10,} {o.cycles:>12,} "
                     f"{100 * o.cycles / max(total, 1):5.1f}% " + (f"{o.cycles / o.macs:8.2f}" if o.macs else
                                                                   f"{'-':>8s}"))
    return "\n".join(lines)
