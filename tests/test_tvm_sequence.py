"""Stateful sequence operators in the TVM runtimes: int8 SVDF bit-exact with tflite-micro over invocation sequences,
its activation state persisting across inferences and reset at init, and the measurements' checks of stateful
models (first and last timed run against the reference's sequence)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from armlprof import modelgen
from armlprof.errors import ArmlprofError

pytest.importorskip("tvm")
pytest.importorskip("tflite_micro")

RUNTIMES = ("tvm-aot", "tvm-graph")
# (seed, pinned options): rank 1 and > 1, int16 and int8 state, RELU (ignored by TFLM's int8 kernel) and NONE,
# one and two batches; then seeds with everything random.
SVDF_CASES = [(0, {"rank": 1, "state_type": "int16", "act": "NONE", "batches": 1}),
              (1, {"rank": 2, "state_type": "int16", "act": "RELU", "batches": 2}),
              (2, {"rank": 3, "state_type": "int8", "act": "NONE", "batches": 1}),
              (3, {"rank": 1, "state_type": "int8", "act": "RELU", "batches": 2}),
              *[(seed, {}) for seed in range(4, 16)]]
STEPS = 40  # consecutive invocations per model: longer than any generated memory (<= 8)


def _svdf_model(root: Path, seed: int, **pinned):
    from armlprof.model import load_model

    root.mkdir(parents=True, exist_ok=True)
    path = root / f"svdf_{seed}.tflite"
    path.write_bytes(modelgen.svdf_tflite(seed, **pinned))
    return load_model(str(path))


def _sequence(model, seed: int, steps: int = STEPS) -> list[bytes]:
    """The int8 extremes first (all -128, all 127, zero point, alternating), then random inputs."""
    from tests.test_differential import extreme_inputs

    return extreme_inputs(model.input_bytes, 0, steps, seed)


def _reference_sequence(model, inputs: list[bytes]) -> list[bytes]:
    return [outs[0] for outs in model.reference_sequence([[x] for x in inputs])]


def test_svdf_generator_is_stateful_and_varied(tmp_path) -> None:
    """The generated models are what the tests need: variable state (so a sequence differs from repeated first
    invocations) and outputs that change with the input."""
    model = _svdf_model(tmp_path, 1, rank=2, state_type="int16", act="NONE", batches=2)
    assert model.stateful and model.operators == ["SVDF"]
    x = _sequence(model, 1, 6)
    seq = _reference_sequence(model, [x[5]] * 3)
    assert seq[1] != seq[0]  # the state changes the second output of the same input
    assert seq[0] == model.reference(x[5])  # reference() is the first invocation after init
    assert len({model.reference(v) for v in x}) > 1


@pytest.mark.slow
def test_svdf_bit_exact_over_sequences_on_host(tmp_path) -> None:
    """Both TVM runtimes against tflite-micro on STEPS consecutive invocations per model (state carried over)."""
    if shutil.which("gcc") is None:
        pytest.skip("host gcc not installed")
    from tests.test_tvm import host_compile, host_run

    mismatches = []
    for seed, pinned in SVDF_CASES:
        model = _svdf_model(tmp_path / "models", seed, **pinned)
        inputs = _sequence(model, seed)
        expected = _reference_sequence(model, inputs)
        assert len(set(expected)) > 1, seed
        for runtime in RUNTIMES:
            exe, _ = host_compile(model, runtime, tmp_path / f"{seed}_{runtime}")
            got = host_run(exe, inputs, model.output_bytes)
            bad = [i for i, (g, e) in enumerate(zip(got, expected, strict=True)) if g != e]
            if bad:
                mismatches.append(f"seed {seed} {runtime}: {len(bad)}/{len(inputs)} steps differ (first #{bad[0]})")
    assert mismatches == []


STATE_HARNESS = r"""
#include <stdio.h>
#include "model.h"
/* The same input three times, re-initialize, once more: outputs 1-3 then 4 (= 1 if init resets the state). */
int main(void) {
  static int8_t in[MODEL_INPUT_BYTES], out[MODEL_OUTPUT_BYTES];
  if (fread(in, 1, MODEL_INPUT_BYTES, stdin) != MODEL_INPUT_BYTES) return 4;
  if (model_init() != 0) return 3;
  for (int i = 0; i < 3; i++) {
    if (model_inference(in, out) != 0) return 5;
    fwrite(out, 1, MODEL_OUTPUT_BYTES, stdout);
  }
  model_deinit();
  if (model_init() != 0) return 3;
  if (model_inference(in, out) != 0) return 5;
  fwrite(out, 1, MODEL_OUTPUT_BYTES, stdout);
  model_deinit();
  return 0;
}
"""


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_svdf_state_persists_across_inferences_and_resets_at_init(tmp_path, runtime: str) -> None:
    """Two invocations of the same input give the reference's second output (fails if the state is not kept, or
    is planned into memory another operator reuses), and model_init starts over from TFLM's reset state (an int8
    state is reset to its zero point, not to 0: fails if init does not reset it, or resets it to 0)."""
    if shutil.which("gcc") is None:
        pytest.skip("host gcc not installed")
    from armlprof.runtime import get_runtime

    model = _svdf_model(tmp_path, 3, rank=1, state_type="int8", act="NONE", batches=2)
    x = _sequence(model, 3, 8)[7]
    want = _reference_sequence(model, [x] * 3)
    assert want[0] != want[1]
    src = tmp_path / "src"
    get_runtime(runtime).generate(model, src, None)
    (tmp_path / "harness.c").write_text(STATE_HARNESS)
    exe = tmp_path / "harness"
    subprocess.run(["gcc", "-std=c11", "-O2", "-fsanitize=undefined", "-fno-sanitize-recover=undefined", "-I",
                    str(src), "-o", str(exe), str(tmp_path / "harness.c"), *map(str, sorted(src.glob("*.c")))],
                   check=True, capture_output=True)
    run = subprocess.run([str(exe)], input=x, capture_output=True, check=True)
    n = model.output_bytes
    got = [run.stdout[i * n:(i + 1) * n] for i in range(4)]
    assert got[:3] == want
    assert got[3] == want[0]
    assert "#define MODEL_STATEFUL 1" in (src / "model.h").read_text()


def test_svdf_state_has_its_own_buffer(tmp_path) -> None:
    """The state is no workspace tensor (the liveness planner would reuse its bytes) and has a graph storage id
    no other tensor shares."""
    from armlprof.runtime.tvm.compiler import compile_model

    model = _svdf_model(tmp_path, 2, rank=3, state_type="int8", act="NONE", batches=1)
    program = compile_model(model.path, model.sha256)
    states = [e for e in program.entries if e.kind == "state"]
    assert len(states) == 1 and states[0].dtype == "int8"
    state = states[0].id
    assert state not in program.workspace_offsets
    sid = program.storage_ids[state]
    assert [e for e, s in program.storage_ids.items() if s == sid] == [state]


def _edited_svdf(tmp_path: Path, edit) -> Path:
    b = modelgen._Builder(0, np.zeros((1, 1)))
    modelgen.svdf_random(b, np.random.default_rng(5), rank=1, state_type="int16", act="NONE", batches=1)
    edit(b)
    path = tmp_path / "edited.tflite"
    path.write_bytes(b.serialize("edited SVDF"))
    return path


@pytest.mark.parametrize(("edit", "message"), [
    (lambda b: b.ops[0].inputs.__setitem__(3, -1), "SVDF without bias"),
    (lambda b: setattr(b.tensors[b.ops[0].inputs[4]], "variable", False), "not a variable tensor"),
    (lambda b: setattr(b.tensors[b.ops[0].inputs[3]], "scale", [1.0]), "bias scale"),
])
def test_svdf_tflm_rejects_is_one_line(tmp_path, edit, message: str) -> None:
    """What TFLM's Prepare refuses (or crashes on: no bias) is one line from generation, never a kernel."""
    from armlprof.runtime.tvm.compiler import build_program

    path = _edited_svdf(tmp_path, edit)
    with pytest.raises(ArmlprofError) as err:
        build_program(path, "0" * 64)
    assert message in str(err.value) and "\n" not in str(err.value)


# ---------------------------------------------------------------- measurements of a stateful model
class _RepeatingReference:
    """A stateful model's view whose reference sequence repeats the first output: what an executor that loses its
    state between inferences would produce."""

    def __init__(self, model) -> None:
        self._model = model
        self.input_sizes, self.output_sizes = model.input_sizes, model.output_sizes
        self.stateful = True

    def reference_outputs(self, inputs):
        return self._model.reference_outputs(inputs)

    def reference_sequence(self, steps):
        return [self._model.reference_outputs(steps[0])] * len(steps)


@pytest.mark.slow
@pytest.mark.parametrize(("runtime_name", "board_name"), [("tvm-aot", "nano33ble"), ("tvm-graph", "spresense")])
def test_svdf_measured_on_emulated_board(tmp_path, runtime_name: str, board_name: str) -> None:
    """The four figures of an SVDF model on an emulated board: every output check passes (the first inference
    after init, and the last of the timed runs against the reference's sequence), and a reference that ignores
    the state fails the inference figure instead of storing it."""
    from armlprof.board import load_board
    from armlprof.build import build_sketch
    from armlprof.measure import MeasurementFailed, find_largest_allocation, measure_inference, measure_init
    from armlprof.runtime import get_runtime
    from armlprof.sketch import prepare_measurement_sketch
    from armlprof.target import Image, get_target

    runtime = get_runtime(runtime_name)
    if (reason := runtime.unavailable_reason()) is not None:
        pytest.skip(reason)
    model = _svdf_model(tmp_path, 1, rank=2, state_type="int16", act="RELU", batches=2)
    board = load_board(board_name)
    sketch = prepare_measurement_sketch(model, runtime, board, tmp_path / "work")
    gm = sketch.generated
    images = {kind: Image(board, build_sketch(sketch.use(kind), board, extra_flags=gm.extra_build_flags,
                                              extra_objects=gm.extra_objects).elf, sketch.sketch_dir, kind)
              for kind in ("ram_probe", "init_time", "inference_time")}
    target = get_target("emulator")
    try:
        ram = find_largest_allocation(target, images["ram_probe"], model, seed=3)
        assert 0 < ram.free_ram_bytes < board.ram_bytes
        init = measure_init(target, images["init_time"], model, runs=1, seed=3)
        assert init.values()["cycles"] > 0
        timing = measure_inference(target, images["inference_time"], model, runs=6, seed=3)
        assert timing.values()["runs"] == 6 and timing.values()["cycles"] > 0
        with pytest.raises(MeasurementFailed, match=r"run 6 of 6 \(state carried over\): wrong output"):
            measure_inference(target, images["inference_time"], _RepeatingReference(model), runs=6, seed=3)
    finally:
        target.close()
