"""The four measurements: bisection logic against a scripted target, and end to end on the emulator."""

from __future__ import annotations

import pytest

from armlprof.board import load_board
from armlprof.build import build_sketch
from armlprof.measure import (
    ESTIMATE_BRACKET_BYTES,
    MeasurementFailed,
    expected_crc,
    find_largest_allocation,
    flash_values,
    measure_inference,
    measure_init,
    memory_watch_estimate,
)
from armlprof.model import load_model
from armlprof.runtime import get_runtime
from armlprof.sketch import prepare_measurement_sketch
from armlprof.target import Image, RunOutcome, StopInfo, Target, get_target

MODEL = load_model("builtin:dense")
SEED = 7


class ScriptedTarget(Target):
    """A board whose RAM probe passes exactly for alloc <= limit (optionally flaky, optionally with a watch)."""

    name = "scripted"

    def __init__(self, limit: int, *, watch_free: int | None = None, flaky_at: int | None = None) -> None:
        self.limit, self.watch_free, self.flaky_at = limit, watch_free, flaky_at
        self.allocs: list[int] = []

    def start(self, image):  # pragma: no cover - run() is overridden
        raise NotImplementedError

    def run(self, image, host_line, **_):
        fields = dict(token.split("=") for token in host_line.split())
        alloc = int(fields["alloc"])
        self.allocs.append(alloc)
        ok = alloc <= self.limit and not (alloc == self.flaky_at and self.allocs.count(alloc) > 1)
        crc = expected_crc(MODEL, int(fields["seed"]))
        status = f"status=ok crc={crc}" if ok else "status=malloc_failed"
        stop = StopInfo("exit", exit_code=0, cycles=1000)
        if self.watch_free is not None:
            stop.heap_start, stop.heap_high_water = 0x20000000, 0x20000100
            stop.stack_limit = stop.lowest_sp = 0x20000100 + self.watch_free + 8
            stop.stack_top = stop.lowest_sp + 512
        lines = ["@armlprof event=ready sketch=ram_probe", f"@armlprof event=ram alloc_bytes={alloc} {status}",
                 "@armlprof event=done"]
        return RunOutcome(lines, stop)


def image(board="nano33ble"):
    return Image(load_board(board), None)


def test_bisection_finds_the_limit_with_sanity_checks():
    target = ScriptedTarget(limit=100_003)
    result = find_largest_allocation(target, image(), MODEL)
    assert result.free_ram_bytes == 100_003
    assert target.allocs[:2] == [0, load_board("nano33ble").ram_bytes]  # sanity before: min passes, max fails
    assert target.allocs[-2:] == [100_003, 100_004]  # sanity after: N passes, N+1 fails
    assert len(result.trials) == len(target.allocs) and result.free_ram_estimate_bytes is None


def test_estimate_narrows_the_search():
    exact = ScriptedTarget(limit=150_000, watch_free=150_010)
    result = find_largest_allocation(exact, image(), MODEL)
    assert result.free_ram_bytes == 150_000 and result.free_ram_estimate_bytes == 150_010
    assert len(result.trials) <= 4 + 2 + (2 * ESTIMATE_BRACKET_BYTES).bit_length()
    wrong = ScriptedTarget(limit=20_000, watch_free=150_000)  # a wrong estimate costs trials, not correctness
    assert find_largest_allocation(wrong, image(), MODEL).free_ram_bytes == 20_000


def test_model_that_never_runs_fails_with_reason():
    with pytest.raises(MeasurementFailed, match="does not run even with no allocation: malloc_failed"):
        find_largest_allocation(ScriptedTarget(limit=-1), image(), MODEL)


def test_unrepeatable_answer_is_reported():
    with pytest.raises(MeasurementFailed, match="not repeatable"):
        find_largest_allocation(ScriptedTarget(limit=5000, flaky_at=5000), image(), MODEL)


def test_memory_watch_estimate_uses_lower_of_stack_limit_and_lowest_sp():
    stop = StopInfo("exit", exit_code=0, lowest_sp=0x2000F000, heap_high_water=0x20001000, stack_limit=0x20008000)
    assert memory_watch_estimate(RunOutcome([], stop)) == 0x7000 - 8
    stop.lowest_sp = 0x20004000  # the stack went below the reserve
    assert memory_watch_estimate(RunOutcome([], stop)) == 0x3000 - 8


@pytest.fixture(scope="module")
def emulator():
    target = get_target("emulator")
    yield target
    target.close()


@pytest.fixture(scope="module", params=["nano33ble", "spresense"])
def built(request, tmp_path_factory):
    board = load_board(request.param)
    sketch = prepare_measurement_sketch(MODEL, get_runtime("handwritten"), board, tmp_path_factory.mktemp("w"))
    builds = {kind: build_sketch(sketch.use(kind), board) for kind in ("ram_probe", "init_time", "inference_time")}
    return board, sketch, builds


def test_flash_on_both_boards(built):
    board, sketch, builds = built
    values = flash_values(builds["inference_time"], sketch.generated.workspace_bytes)
    assert values["model_flash_bytes"] == values["flash_bytes"] - values["baseline_flash_bytes"] > 512  # weights
    assert values["workspace_bytes"] == 32


def test_ram_on_emulator_matches_memory_watch(built, emulator):
    board, _, builds = built
    result = find_largest_allocation(emulator, Image(board, builds["ram_probe"].elf), MODEL, seed=SEED)
    # Free RAM is what lies between static data and the stack reserve, less the model's heap (its accumulators).
    assert 0 < result.free_ram_bytes < board.ram_bytes - board.stack_bytes
    assert abs(result.free_ram_bytes - result.free_ram_estimate_bytes) <= 16
    assert result.heap_high_water_bytes >= 32 and result.stack_bytes_used > 0
    assert result.values()["trials"] <= 16


def test_timing_on_emulator_is_deterministic(built, emulator):
    board, _, builds = built
    init = measure_init(emulator, Image(board, builds["init_time"].elf), MODEL, runs=2).values()
    inference = measure_inference(emulator, Image(board, builds["inference_time"].elf), MODEL, runs=3).values()
    for values in (init, inference):
        assert values["ms_std"] == 0 and values["cycles_min"] == values["cycles_max"] == values["cycles"]
        assert values["ms"] == pytest.approx(values["cycles"] * 1000 / board.clock_hz)
        assert values["source"] == "dwt"
    assert inference["runs"] == 3
    # 64x8 int8 MACs cannot take fewer than 512 cycles on a Cortex-M4, nor 100x that.
    assert 512 < inference["cycles"] < 51_200


def test_wrong_output_fails_the_figure(built, emulator):
    board, _, builds = built

    class WrongReference:
        input_bytes = MODEL.input_bytes

        def reference(self, data: bytes) -> bytes:
            return bytes(MODEL.output_bytes)  # all zeros: not what the model computes

    with pytest.raises(MeasurementFailed, match="wrong output"):
        measure_inference(emulator, Image(board, builds["inference_time"].elf), WrongReference(), runs=1)
