"""Targets: the emulator (fast path and interactive session), the serial target against an emulated board behind a
pseudo-terminal (same figures as the emulator target), and Renode when it is installed."""

from __future__ import annotations

import shutil
import sys

import pytest

from armlprof.board import load_board
from armlprof.build import build_sketch
from armlprof.errors import ArmlprofError
from armlprof.measure import expected_crc, find_largest_allocation, measure_inference, measure_init
from armlprof.model import load_model
from armlprof.runtime import get_runtime
from armlprof.sketch import prepare_measurement_sketch
from armlprof.target import Image, TargetError, get_target

MODEL = load_model("builtin:dense")


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    board = load_board("nano33ble")
    sketch = prepare_measurement_sketch(MODEL, get_runtime("handwritten"), board, tmp_path_factory.mktemp("w"))
    return {kind: Image(board, build_sketch(sketch.use(kind), board).elf, sketch.sketch_dir, kind)
            for kind in ("ram_probe", "init_time", "inference_time")}


def test_unknown_target_is_one_line_error():
    with pytest.raises(ArmlprofError, match="unknown target 'jtag'; known targets: emulator, renode, serial"):
        get_target("jtag")


def test_emulator_run_reports_lines_and_memory_watch(images):
    target = get_target("emulator")
    outcome = target.run(images["ram_probe"], "alloc=100 seed=3")
    assert outcome.stop.reason == "exit" and outcome.stop.normal
    assert outcome.last("ram").get("crc") == expected_crc(MODEL, 3)
    assert outcome.stop.heap_high_water > outcome.stop.heap_start and outcome.stop.lowest_sp < outcome.stop.stack_top
    target.close()


def test_pass_fail_runs_skip_the_timing_model_with_the_same_outcome(images):
    target = get_target("emulator")
    timed = target.run(images["ram_probe"], "alloc=100 seed=3")
    functional = target.run(images["ram_probe"], "alloc=100 seed=3", timing=False)
    assert functional.last("ram").fields == timed.last("ram").fields  # same status and output crc
    assert functional.stop.lowest_sp == timed.stop.lowest_sp  # the memory watch does not depend on timing
    assert functional.stop.cycles != timed.stop.cycles  # functional mode counts 1 cycle per instruction


def test_emulator_hang_is_a_stop_not_a_wait(images):
    target = get_target("emulator")
    # No host line: the sketch waits for input forever; the cycle limit ends the run.
    outcome = target.run(images["ram_probe"], None, max_cycles=2_000_000)
    assert outcome.stop.reason == "cycle_limit" and not outcome.stop.normal
    assert outcome.last("ready") is not None and outcome.last("ram") is None


def test_emulator_interactive_session(images):
    target = get_target("emulator")
    session = target.start(images["ram_probe"])
    try:
        ready = session.wait_for("ready", timeout_s=20)
        assert ready.int("input_bytes") == MODEL.input_bytes
        session.write_line("alloc=2048 seed=11")
        outcome = session.finish(timeout_s=20)
    finally:
        session.close()
    assert outcome.stop.reason == "exit"
    assert outcome.last("ram").get("status") == "ok"
    assert outcome.last("ram").get("crc") == expected_crc(MODEL, 11)


def test_session_reports_a_stop_before_the_awaited_line(images):
    session = get_target("emulator").start(images["init_time"])
    session.write_line("seed=1")
    with pytest.raises(TargetError, match="the run ended .*before '@armlprof event=nothing'"):
        session.wait_for("nothing", timeout_s=20)
    session.close()


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_serial_target_against_pty_gives_the_emulator_figures(images):
    from armlprof.target.emulator import PtyBoard
    from armlprof.target.serial import SerialTarget

    emulator = get_target("emulator")
    figures = {}
    for kind, measure in (("ram_probe", lambda t, i: find_largest_allocation(t, i, MODEL).free_ram_bytes),
                          ("init_time", lambda t, i: measure_init(t, i, MODEL, runs=2).values()["cycles"]),
                          ("inference_time", lambda t, i: measure_inference(t, i, MODEL, runs=5).values())):
        image = images[kind]
        board = PtyBoard(image.board, image.elf)
        serial = SerialTarget(port=board.port, reset="none", prebuilt=True)
        try:
            assert serial.unavailable_reason(image.board) is None
            serial.connect(image.board)
            board.power_on()
            figures[kind] = (measure(serial, image), measure(emulator, image))
        finally:
            serial.close()
            board.close()
    for over_serial, on_emulator in figures.values():
        assert over_serial == on_emulator
    assert figures["inference_time"][0]["runs"] == 5


def test_serial_target_needs_a_port():
    from armlprof.target.serial import SerialTarget

    assert "--port" in SerialTarget().unavailable_reason(load_board("nano33ble"))
    with pytest.raises(ArmlprofError, match="unknown reset method"):
        SerialTarget(port="/dev/null", reset="magic")


def test_renode_target_availability():
    target = get_target("renode")
    reason = target.unavailable_reason(load_board("nano33ble"))
    if shutil.which("renode") is None:
        assert reason is not None and "renode" in reason.lower()
    else:
        assert reason is None


@pytest.mark.renode
@pytest.mark.skipif(shutil.which("renode") is None, reason="renode not on PATH (install Renode to run this test)")
def test_renode_runs_the_same_sketch(images):
    target = get_target("renode")
    try:
        outcome = target.run(images["ram_probe"], "alloc=100 seed=3", timeout_s=120)
    finally:
        target.close()
    assert outcome.last("ram").get("crc") == expected_crc(MODEL, 3)
