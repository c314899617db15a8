"""The four figures of the study, measured on any target: flash, unused RAM, initialization and inference time.

- flash: from the ELF the build produced: total (the board's figure, as the official tools report it), the empty
  sketch (baseline) and the difference (model-attributable), plus static RAM and the runtime's workspace.
- unused RAM: the largest N for which `malloc(N)` held during model construction and one inference still gives
  the reference output with no fault, stack/heap collision or hang. Found by binary search over N sent on the
  console to one image (`ram_probe` sketch), with sanity checks before (N=0 passes, N=RAM size fails) and after
  (N passes, N+1 fails), as the study did. Beside it, on the emulator, a one-run estimate from the memory watch
  of the N=0 run:  estimate = min(__stack_limit, lowest SP) - heap high water - MALLOC_CHUNK_OVERHEAD_BYTES,
  i.e. the gap the probe block could still take before the heap hits the stack reserve (newlib-nano's _sbrk
  refuses to go above __stack_limit) or the deepest stack. The estimate also narrows the search: the bisection
  starts with a bracket of +-ESTIMATE_BRACKET_BYTES around it (checked, so a wrong estimate only costs trials).
- init time: one timed construction per boot (`init_time` sketch), `runs` boots (the study: 32 resets).
- inference time: `runs` timed inferences in one boot (`inference_time` sketch; the study: 256).
Times are DWT cycles when the sketch has them (armlprof core), else micros() x clock; ms at the board clock.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from armlprof.board import Board
from armlprof.build import BuildResult
from armlprof.errors import MeasurementFailed
from armlprof.protocol import Record, crc32, crc_list, input_from_seed, inputs_from_seed
from armlprof.target.base import Image, RunOutcome, Target

MALLOC_CHUNK_OVERHEAD_BYTES = 8  # newlib-nano: a chunk header (size word + alignment padding) per malloc
ESTIMATE_BRACKET_BYTES = 64
DEFAULT_SEED = 7
TRIAL_TIMEOUT_S = 900.0  # wall clock per run; a hang on a real board shows up here

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass
class RunCounts:
    """Timed runs per figure. A real board: the study's 32 resets and 256 inferences. Deterministic targets
    (emulator, Renode) give identical runs, so a few show that and keep the study fast."""

    init_runs: int
    inference_runs: int

    @classmethod
    def for_target(cls, target: Target, quick: bool = False) -> RunCounts:
        if target.deterministic:
            return cls(1, 2) if quick else cls(2, 4)
        return cls(4, 32) if quick else cls(32, 256)


@dataclass
class Timing:
    cycles: list[int]
    ms: list[float]
    source: str  # "dwt" (cycles counted on the device) or "micros" (derived from micros() x clock)

    def values(self) -> dict[str, Any]:
        return {
            "cycles": round(statistics.fmean(self.cycles)),
            "ms": statistics.fmean(self.ms),
            "runs": len(self.ms),
            "ms_min": min(self.ms),
            "ms_max": max(self.ms),
            "ms_std": statistics.pstdev(self.ms) if len(self.ms) > 1 else 0.0,
            "cycles_min": min(self.cycles),
            "cycles_max": max(self.cycles),
            "source": self.source,
        }


# The statuses the sketches print (armlprof.protocol); anything else is a garbled line, never a reason to record.
SKETCH_STATUSES = ("ok", "malloc_failed", "init_failed", "inference_failed", "unstable")


def _count(fields: dict[str, str], key: str) -> int:
    """A non-negative decimal count from a protocol line; a garbled value (serial noise, wrong baud) is one line."""
    text = fields[key]
    if not text.isdigit():
        raise MeasurementFailed(f"the sketch printed {key}={text[:40]!r}, not a number; check the serial "
                                "connection (cable, baud rate) and rerun")
    return int(text)


def _status(record: Record, what: str = "") -> str:
    status = str(record.get("status"))
    if status not in SKETCH_STATUSES:
        prefix = f"{what}: " if what else ""
        raise MeasurementFailed(f"{prefix}the sketch printed status={status[:40]!r}, which it never prints "
                                f"(expected one of {', '.join(SKETCH_STATUSES)}); check the serial connection and "
                                "that the board runs armlprof's sketch")
    return status


def _elapsed(fields: dict[str, str], clock_hz: int) -> tuple[int, float, str]:
    """(cycles, ms, source) of one timed section from a protocol record's fields."""
    if "cycles" in fields:
        cycles = _count(fields, "cycles")
        return cycles, cycles * 1000.0 / clock_hz, "dwt"
    if "us" in fields:
        us = _count(fields, "us")
        return round(us * clock_hz / 1_000_000), us / 1000.0, "micros"
    raise MeasurementFailed("the sketch printed no elapsed time (cycles= or us=); rebuild it from sketches/")


def expected_crc(model: Any, seed: int) -> str:
    """The crc= value of the reference outputs for the inputs the sketch generates from `seed`: the CRC-32 of the
    output, or of each output, comma-separated, for a model with several (armlprof.protocol)."""
    sizes = getattr(model, "input_sizes", None)
    if sizes is None:  # any object with input_bytes and reference(): one input, one output
        return crc32(model.reference(input_from_seed(seed, model.input_bytes)))
    return crc_list(model.reference_outputs(inputs_from_seed(seed, sizes)))


def expected_last_crc(model: Any, seed: int, runs: int) -> str:
    """A stateful model's last_crc= value: the reference outputs of the `runs`-th consecutive invocation from a fresh
    state, each on the seed's inputs (what the inference_time sketch's timed runs compute)."""
    inputs = inputs_from_seed(seed, model.input_sizes)
    return crc_list(model.reference_sequence([inputs] * runs)[-1])


def wrong_output(got: str | None, expected: str) -> str | None:
    """None when the sketch's crc= value is the reference's; else what differs, naming the output when there are
    several."""
    if got == expected:
        return None
    want = expected.split(",")
    have = (got or "").split(",")
    if len(want) == 1 or len(have) != len(want):
        return f"wrong output (crc {got}, reference {expected})"
    bad = [f"output {k} crc {h}, reference {w}" for k, (h, w) in enumerate(zip(have, want, strict=True)) if h != w]
    return f"wrong output ({'; '.join(bad)})"


def _raise_if_interrupted(outcome: RunOutcome) -> None:
    """A run stopped by Ctrl-C proves nothing (a false failure or a short time): it is never judged or recorded."""
    if outcome.stop.reason == "interrupted":
        raise KeyboardInterrupt


def _outcome_problem(outcome: RunOutcome) -> str | None:
    if outcome.fault_line:
        return f"fault: {outcome.fault_line}"
    if not outcome.stop.normal:
        # The sketch's (or runtime's) own last words usually say why, e.g. an allocation error message.
        said = [line.strip() for line in outcome.lines if line.strip() and not line.startswith("@armlprof")]
        return outcome.stop.describe() + (f"; last console output: {said[-1][:160]!r}" if said else "")
    return None


# ---------------------------------------------------------------- flash
def flash_values(build: BuildResult, workspace_bytes: int | None) -> dict[str, Any]:
    return {
        "flash_bytes": build.flash_bytes,
        "baseline_flash_bytes": build.baseline_flash_bytes,
        "model_flash_bytes": build.model_flash_bytes,
        "static_ram_bytes": build.static_ram_bytes,
        "workspace_bytes": workspace_bytes,
    }


# ---------------------------------------------------------------- unused RAM
@dataclass
class RamTrial:
    alloc_bytes: int
    passed: bool
    why: str  # "ok" or what went wrong
    outcome: RunOutcome


@dataclass
class RamResult:
    free_ram_bytes: int
    free_ram_estimate_bytes: int | None
    heap_high_water_bytes: int | None
    stack_bytes_used: int | None
    trials: list[RamTrial] = field(default_factory=list)

    def values(self) -> dict[str, Any]:
        return {
            "free_ram_bytes": self.free_ram_bytes,
            "free_ram_estimate_bytes": self.free_ram_estimate_bytes,
            "trials": len(self.trials),
            "heap_high_water_bytes": self.heap_high_water_bytes,
            "stack_bytes_used": self.stack_bytes_used,
        }


class RamProbe:
    """Runs `ram_probe` trials on a target and judges them against the reference output."""

    def __init__(self, target: Target, image: Image, model: Any, *, seed: int = DEFAULT_SEED,
                 progress: Progress = _quiet, timeout_s: float = TRIAL_TIMEOUT_S) -> None:
        self.target, self.image, self.seed, self.progress = target, image, seed, progress
        self.expected = expected_crc(model, seed)
        self.timeout_s = timeout_s
        self.max_cycles: int | None = None  # set from the first passing run: a run 4x longer is a hang
        self.trials: list[RamTrial] = []

    def trial(self, alloc_bytes: int) -> RamTrial:
        outcome = self.target.run(self.image, f"alloc={alloc_bytes} seed={self.seed}",
                                  timeout_s=self.timeout_s, max_cycles=self.max_cycles, timing=False)
        _raise_if_interrupted(outcome)
        why = _outcome_problem(outcome)
        record = outcome.last("ram")
        if why is None:
            if record is None:
                why = "the sketch printed no '@armlprof event=ram' line"
            elif _status(record, f"ram trial alloc={alloc_bytes}") != "ok":
                why = str(record.get("status"))
            else:
                why = wrong_output(record.get("crc"), self.expected)
        trial = RamTrial(alloc_bytes, why is None, why or "ok", outcome)
        self.trials.append(trial)
        self.progress(f"ram trial {len(self.trials)}: alloc={alloc_bytes:,} B -> {'pass' if trial.passed else why}")
        return trial


def memory_watch_estimate(outcome: RunOutcome) -> int | None:
    """Unused RAM from one run's memory watch (see the module docstring), or None without a memory watch."""
    stop = outcome.stop
    if stop.heap_high_water is None or stop.lowest_sp is None:
        return None
    ceiling = stop.lowest_sp if stop.stack_limit is None else min(stop.stack_limit, stop.lowest_sp)
    return max(0, ceiling - stop.heap_high_water - MALLOC_CHUNK_OVERHEAD_BYTES)


def find_largest_allocation(target: Target, image: Image, model: Any, *, seed: int = DEFAULT_SEED,
                            max_alloc_bytes: int | None = None, progress: Progress = _quiet,
                            timeout_s: float = TRIAL_TIMEOUT_S) -> RamResult:
    """Binary search for the largest allocation that still lets the model initialize and run correctly."""
    probe = RamProbe(target, image, model, seed=seed, progress=progress, timeout_s=timeout_s)
    board: Board = image.board
    high = max_alloc_bytes if max_alloc_bytes is not None else board.ram_bytes

    # Sanity before: the model must run with nothing taken, and taking all RAM must fail.
    first = probe.trial(0)
    if not first.passed:
        raise MeasurementFailed(f"the model does not run even with no allocation: {first.why}")
    if first.outcome.stop.cycles:
        probe.max_cycles = 4 * first.outcome.stop.cycles + 1_000_000
    top = probe.trial(high)
    if top.passed:
        raise MeasurementFailed(f"sanity check failed: allocating {high:,} B (all of {board.name}'s RAM) passed; "
                                "the probe sketch is not holding its allocation")
    low = 0  # invariant: `low` passed, `high` failed

    estimate = memory_watch_estimate(first.outcome)
    if estimate is not None:
        for candidate in (estimate - ESTIMATE_BRACKET_BYTES, estimate + ESTIMATE_BRACKET_BYTES):
            if low < candidate < high:
                if probe.trial(candidate).passed:
                    low = candidate
                else:
                    high = candidate
    while high - low > 1:
        middle = (low + high) // 2
        if probe.trial(middle).passed:
            low = middle
        else:
            high = middle

    # Sanity after: the answer must be repeatable.
    again, beyond = probe.trial(low), probe.trial(low + 1)
    if not again.passed or beyond.passed:
        raise MeasurementFailed(
            f"not repeatable: alloc={low:,} B {'passed' if again.passed else 'failed (' + again.why + ')'} and "
            f"alloc={low + 1:,} B {'passed' if beyond.passed else 'failed'} on the re-check; "
            "check the board's power and reset, then rerun"
        )
    stop = first.outcome.stop
    heap = None if stop.heap_high_water is None or stop.heap_start is None else stop.heap_high_water - stop.heap_start
    stack = None if stop.lowest_sp is None or stop.stack_top is None else stop.stack_top - stop.lowest_sp
    return RamResult(low, estimate, heap, stack, probe.trials)


# ---------------------------------------------------------------- timing
def _checked_record(outcome: RunOutcome, event: str, expected_crc_hex: str, what: str) -> Record:
    """The run's `event` record, once the run ended normally with status ok and the reference output."""
    _raise_if_interrupted(outcome)
    record = outcome.last(event)
    if record is None:
        why = _outcome_problem(outcome) or "no output"
        raise MeasurementFailed(f"{what}: no '@armlprof event={event}' line ({why})")
    if _status(record, what) != "ok":
        raise MeasurementFailed(f"{what}: {record.get('status')}")
    wrong = wrong_output(record.get("crc"), expected_crc_hex)
    if wrong:
        raise MeasurementFailed(f"{what}: {wrong}")
    problem = _outcome_problem(outcome)
    if problem:
        raise MeasurementFailed(f"{what}: {problem}")
    return record


def measure_init(target: Target, image: Image, model: Any, *, runs: int, seed: int = DEFAULT_SEED,
                 progress: Progress = _quiet, timeout_s: float = TRIAL_TIMEOUT_S) -> Timing:
    """`runs` boots of the init_time sketch, one timed construction each."""
    expected = expected_crc(model, seed)
    cycles: list[int] = []
    ms: list[float] = []
    source = "dwt"
    for run in range(runs):
        outcome = target.run(image, f"seed={seed}", timeout_s=timeout_s)
        record = _checked_record(outcome, "init", expected, f"init run {run + 1}")
        c, m, source = _elapsed(record.fields, image.board.clock_hz)
        cycles.append(c)
        ms.append(m)
        progress(f"init run {run + 1}/{runs}: {c:,} cycles ({m:.3f} ms)")
    return Timing(cycles, ms, source)


def measure_inference(target: Target, image: Image, model: Any, *, runs: int, seed: int = DEFAULT_SEED,
                      progress: Progress = _quiet, timeout_s: float = TRIAL_TIMEOUT_S) -> Timing:
    """One boot of the inference_time sketch: `runs` timed inferences, each output checked by CRC (a stateful
    model's outputs change from run to run: its first and last runs are checked against the reference sequence)."""
    expected = expected_crc(model, seed)
    progress(f"inference: {runs} runs")
    outcome = target.run(image, f"seed={seed} runs={runs}", timeout_s=timeout_s)
    record = _checked_record(outcome, "summary", expected, "inference")
    if getattr(model, "stateful", False):
        wrong = wrong_output(record.get("last_crc"), expected_last_crc(model, seed, runs))
        if wrong:
            raise MeasurementFailed(f"inference: run {runs} of {runs} (state carried over): {wrong}")
    per_run = outcome.all("inference")
    if len(per_run) != runs:
        raise MeasurementFailed(f"inference: {len(per_run)} timed runs printed, {runs} asked for")
    timings = [_elapsed(r.fields, image.board.clock_hz) for r in per_run]
    cycles = [c for c, _, _ in timings]
    ms = [m for _, m, _ in timings]
    if any(math.isnan(m) for m in ms):
        raise MeasurementFailed("inference: unreadable elapsed times")
    return Timing(cycles, ms, timings[0][2])
