"""The study's models give the tflite-micro reference output bit for bit on the emulated boards, for 20 seeded
inputs, through the very RAM-probe image the measurements use. (TFLM: tests/test_tflm_runtime.py.)"""

from __future__ import annotations

import pytest

from armlprof.board import load_board
from armlprof.build import build_sketch
from armlprof.measure import expected_crc
from armlprof.model import load_model
from armlprof.runtime import get_runtime
from armlprof.sketch import prepare_measurement_sketch
from armlprof.target import get_target
from armlprof.target.base import Image

from .conftest import shared_file

SEEDS = range(1, 21)


@pytest.mark.slow
@pytest.mark.parametrize("board_name", ["nano33ble", "spresense"])
@pytest.mark.parametrize("model_name", ["micro_speech_quantized", "person_detect"])
@pytest.mark.parametrize("runtime_name", ["tvm-aot", "tvm-graph"])
def test_bit_exact_on_emulated_board(tmp_path_factory, runtime_name, model_name, board_name):
    runtime = get_runtime(runtime_name)
    if (reason := runtime.unavailable_reason()) is not None:
        pytest.skip(reason)
    model = load_model(str(shared_file("models", f"{model_name}.tflite")))
    board = load_board(board_name)
    sketch = prepare_measurement_sketch(model, runtime, board, tmp_path_factory.mktemp("onboard"))
    gm = sketch.generated
    build = build_sketch(sketch.use("ram_probe"), board, extra_flags=gm.extra_build_flags,
                         extra_objects=gm.extra_objects)
    image = Image(board, build.elf, sketch.sketch_dir, "ram_probe")
    target = get_target("emulator")
    mismatches = []
    for seed in SEEDS:
        outcome = target.run(image, f"alloc=0 seed={seed}", timing=False)
        record = outcome.last("ram")
        assert record is not None and record.get("status") == "ok", (outcome.stop.describe(), outcome.lines[-3:])
        if record.get("crc") != expected_crc(model, seed):
            mismatches.append(seed)
    assert mismatches == []
