"""armlprof breakdown (armlprof/breakdown.py): one profiled inference per function, tvm-aot per operator; the
profile does not change the figure, and bad input is one line."""

from __future__ import annotations

import json
import shutil

import pytest

from armlprof.board import load_board
from armlprof.measure import measure_inference
from armlprof.model import load_model
from armlprof.target.base import Image
from armlprof.target.emulator import EmulatorTarget

pytestmark = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="needs arm-none-eabi-gcc")


def test_breakdown_of_tvm_aot(capsys) -> None:
    pytest.importorskip("tvm")
    from armlprof.cli import main

    assert main(["breakdown", "--model", "builtin:micro_speech", "--runtime", "tvm-aot", "--board", "nano33ble",
                 "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert sum(f["cycles"] for f in data["functions"]) == data["run_cycles"] > data["inference_cycles"] > 0
    assert data["functions"][0]["function"] == "ak_c1s_block"  # micro_speech's depthwise layer, s4's kernel
    assert [o["name"] for o in data["operators"]] == ["depthwise_conv_2d_0", "fully_connected_1", "softmax_2"]
    layer_total = sum(o["cycles"] for o in data["operators"])
    assert abs(layer_total - data["inference_cycles"]) < 0.01 * data["inference_cycles"]
    # the same image without the profile: the same inference cycles
    board, model = load_board("nano33ble"), load_model("builtin:micro_speech")
    target = EmulatorTarget()
    try:
        timing = measure_inference(target, Image(board, data["elf"], None, "inference_time"), model, runs=1)
    finally:
        target.close()
    assert timing.cycles[0] == data["inference_cycles"]
    assert main(["breakdown", "--model", "builtin:micro_speech", "--runtime", "tvm-aot", "--board", "nano33ble",
                 "--top", "2"]) == 0
    text = capsys.readouterr().out
    assert "ak_c1s_block" in text and "more functions)" in text and "depthwise_conv_2d_0" in text


@pytest.mark.parametrize(("argv", "message"), [
    (["--runtime", "tflm", "--tflm-root", "/nonexistent"], "--tflm-root /nonexistent: no such folder"),
    (["--runtime", "nope"], "unknown runtime(s) 'nope'"),
])
def test_breakdown_bad_input_is_one_line(capsys, argv: list[str], message: str) -> None:
    from armlprof.cli import main

    assert main(["breakdown", "--model", "builtin:micro_speech", "--board", "nano33ble", *argv]) != 0
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
