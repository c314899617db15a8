"""Stateful sequence operators in the TVM runtimes: int8 SVDF and UNIDIRECTIONAL_SEQUENCE_LSTM bit-exact with
tflite-micro over invocation sequences, their state persisting across inferences and reset at init as TFLM resets
it, and the measurements' checks of stateful models (first and last timed run against the reference's sequence)."""

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
SVDF, LSTM = "SVDF", "UNIDIRECTIONAL_SEQUENCE_LSTM"
GENERATORS = {SVDF: modelgen.svdf_tflite, LSTM: modelgen.lstm_tflite}
# (seed, pinned options). SVDF: rank 1 and > 1, int16 and int8 state, RELU (ignored by TFLM's int8 kernel) and
# NONE, one and two batches. LSTM: time_major both ways, with and without a cell clip, one and two batches. Then
# seeds with everything random.
CASES = {
    SVDF: [(0, {"rank": 1, "state_type": "int16", "act": "NONE", "batches": 1}),
           (1, {"rank": 2, "state_type": "int16", "act": "RELU", "batches": 2}),
           (2, {"rank": 3, "state_type": "int8", "act": "NONE", "batches": 1}),
           (3, {"rank": 1, "state_type": "int8", "act": "RELU", "batches": 2}),
           *[(seed, {}) for seed in range(4, 16)]],
    LSTM: [(0, {"time_major": False, "cell_clip": False, "batches": 1}),
           (1, {"time_major": True, "cell_clip": True, "batches": 2}),
           (2, {"time_major": False, "cell_clip": True, "batches": 2}),
           (3, {"time_major": True, "cell_clip": False, "batches": 1}),
           *[(seed, {}) for seed in range(4, 16)]],
}
STEPS = 40  # consecutive invocations per model: longer than any generated SVDF memory (<= 8)


@pytest.fixture
def sigmoid_table(request, monkeypatch) -> None:
    """The LSTM kernel reads TFLM's int16 sigmoid table from a TFLM tree: the configured one, else ../shared's."""
    tree = request.getfixturevalue("tflm_tree")
    monkeypatch.setenv("ARMLPROF_TFLM_ROOT", str(tree.root))


def _needs_table(request, kind: str) -> None:
    if kind == LSTM:
        request.getfixturevalue("sigmoid_table")


def _model(root: Path, kind: str, seed: int, **pinned):
    from armlprof.model import load_model

    root.mkdir(parents=True, exist_ok=True)
    path = root / f"{kind.lower()}_{seed}.tflite"
    path.write_bytes(GENERATORS[kind](seed, **pinned))
    return load_model(str(path))


def _sequence(model, seed: int, steps: int = STEPS) -> list[bytes]:
    """The int8 extremes first (all -128, all 127, zero point, alternating), then random inputs."""
    from tests.test_differential import extreme_inputs

    return extreme_inputs(model.input_bytes, 0, steps, seed)


def _reference_sequence(model, inputs: list[bytes]) -> list[bytes]:
    return [outs[0] for outs in model.reference_sequence([[x] for x in inputs])]


@pytest.mark.parametrize("kind", [SVDF, LSTM])
def test_generator_is_stateful_and_varied(tmp_path, kind: str) -> None:
    """The generated models are what the tests need: variable state (so a sequence differs from repeated first
    invocations) and outputs that change with the input."""
    model = _model(tmp_path, kind, 1, **CASES[kind][1][1])
    assert model.stateful and model.operators == [kind]
    x = _sequence(model, 1, 6)
    seq = _reference_sequence(model, [x[5]] * 3)
    assert seq[1] != seq[0]  # the state changes the second output of the same input
    assert seq[0] == model.reference(x[5])  # reference() is the first invocation after init
    assert len({model.reference(v) for v in x}) > 1


@pytest.mark.slow
@pytest.mark.parametrize("kind", [SVDF, LSTM])
def test_bit_exact_over_sequences_on_host(request, tmp_path, kind: str) -> None:
    """Both TVM runtimes against tflite-micro on STEPS consecutive invocations per model (state carried over)."""
    if shutil.which("gcc") is None:
        pytest.skip("host gcc not installed")
    _needs_table(request, kind)
    from tests.test_tvm import host_mismatches

    mismatches = []
    for seed, pinned in CASES[kind]:
        model = _model(tmp_path / "models", kind, seed, **pinned)
        inputs = _sequence(model, seed)
        expected = _reference_sequence(model, inputs)
        assert len(set(expected)) > 1, seed
        mismatches += host_mismatches(model, inputs, expected, tmp_path, f"seed{seed}", "steps")
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


# An int8 state whose zero point is not 0 (TFLM resets it to the zero point): SVDF's state; LSTM's output state.
STATE_MODELS = {SVDF: (3, {"rank": 1, "state_type": "int8", "act": "NONE", "batches": 2}),
                LSTM: (1, {"time_major": True, "cell_clip": True, "batches": 2})}


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("kind", [SVDF, LSTM])
def test_state_persists_across_inferences_and_resets_at_init(request, tmp_path, kind: str, runtime: str) -> None:
    """Two invocations of the same input give the reference's second output (fails if the state is not kept, or
    is planned into memory another operator reuses), and model_init starts over from TFLM's reset state (an int8
    state is reset to its zero point, not to 0: fails if init does not reset it, or resets it to 0)."""
    if shutil.which("gcc") is None:
        pytest.skip("host gcc not installed")
    _needs_table(request, kind)
    from armlprof.runtime import get_runtime
    from armlprof.runtime.tvm.importer import import_tflite

    seed, pinned = STATE_MODELS[kind]
    model = _model(tmp_path, kind, seed, **pinned)
    graph = import_tflite(model.path)
    assert any(t.is_variable and t.dtype == "int8" and int(t.zero_point[0]) != 0 for t in graph.tensors)
    x = _sequence(model, seed, 8)[7]
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


@pytest.mark.parametrize(("kind", "dtypes"), [(SVDF, ["int8"]), (LSTM, ["int8", "int16"])])
def test_states_have_their_own_buffers(request, tmp_path, kind: str, dtypes: list[str]) -> None:
    """A state is no workspace tensor (the liveness planner would reuse its bytes) and has a graph storage id no
    other tensor shares."""
    _needs_table(request, kind)
    from armlprof.runtime.tvm.compiler import compile_model

    seed, pinned = STATE_MODELS[kind]
    model = _model(tmp_path, kind, seed, **pinned)
    program = compile_model(model.path, model.sha256)
    states = [e for e in program.entries if e.kind == "state"]
    assert [e.dtype for e in states] == dtypes
    for e in states:
        assert e.id not in program.workspace_offsets
        sid = program.storage_ids[e.id]
        assert [k for k, s in program.storage_ids.items() if s == sid] == [e.id]


def _edited(tmp_path: Path, kind: str, edit) -> Path:
    b = modelgen._Builder(0, np.zeros((1, 1)))
    rng = np.random.default_rng(5)
    if kind == SVDF:
        modelgen.svdf_random(b, rng, rank=1, state_type="int16", act="NONE", batches=1)
    else:
        modelgen.lstm_random(b, rng, time_major=False, cell_clip=False, batches=1)
    edit(b)
    path = tmp_path / "edited.tflite"
    path.write_bytes(b.serialize(f"edited {kind}"))
    return path


def _per_channel(b) -> None:  # one scale per unit (two units at least)
    w = b.tensors[b.ops[0].inputs[2]]
    w.shape = (max(2, w.shape[0]), *w.shape[1:])
    w.data = bytes(int(np.prod(w.shape)))
    w.scale, w.zero_point, w.qdim = [w.scale[0]] * w.shape[0], [0] * w.shape[0], 0


@pytest.mark.parametrize(("kind", "edit", "message"), [
    (SVDF, lambda b: b.ops[0].inputs.__setitem__(3, -1), "SVDF without bias"),
    (SVDF, lambda b: setattr(b.tensors[b.ops[0].inputs[4]], "variable", False), "not a variable tensor"),
    (SVDF, lambda b: setattr(b.tensors[b.ops[0].inputs[3]], "scale", [1.0]), "bias scale"),
    (LSTM, lambda b: b.ops[0].inputs.__setitem__(1, -1), "no CIFG"),
    (LSTM, lambda b: b.ops[0].inputs.__setitem__(9, b.ops[0].inputs[13]), "peephole, projection or layer-norm"),
    (LSTM, lambda b: setattr(b.tensors[b.ops[0].inputs[19]], "variable", False), "not variable tensors"),
    (LSTM, _per_channel, "per-channel or asymmetric weights"),
    (LSTM, lambda b: setattr(b.tensors[b.ops[0].inputs[6]], "zero_point", [3]), "per-channel or asymmetric"),
    (LSTM, lambda b: b.ops[0].options.__setitem__("act", "RELU"), "cell gate is not TANH"),
])
def test_what_tflm_rejects_is_one_line(tmp_path, kind: str, edit, message: str) -> None:
    """What TFLM's Prepare refuses (or crashes on: SVDF without bias) or its kernels do not apply is one line from
    generation, never a kernel."""
    from armlprof.runtime.tvm.compiler import build_program

    path = _edited(tmp_path, kind, edit)
    with pytest.raises(ArmlprofError) as err:
        build_program(path, "0" * 64)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_lstm_without_a_tflm_tree_is_one_line(tmp_path, monkeypatch) -> None:
    """The LSTM kernel's sigmoid table comes from a TFLM tree; with none, one line saying how to give one."""
    from armlprof.runtime.tflm import tree as tflm
    from armlprof.runtime.tvm.compiler import build_program

    monkeypatch.setattr(tflm, "find_tree", lambda *a, **k: None)
    path = tmp_path / "lstm.tflite"
    path.write_bytes(modelgen.lstm_tflite(0))
    with pytest.raises(ArmlprofError) as err:
        build_program(path, "0" * 64)
    assert "ARMLPROF_TFLM_ROOT" in str(err.value) and "--runtime tflm" in str(err.value) \
        and "\n" not in str(err.value)


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
@pytest.mark.parametrize(("kind", "runtime_name", "board_name"), [
    (SVDF, "tvm-aot", "nano33ble"), (SVDF, "tvm-graph", "spresense"),
    (LSTM, "tvm-aot", "spresense"), (LSTM, "tvm-graph", "nano33ble")])
def test_measured_on_emulated_board(request, tmp_path, kind: str, runtime_name: str, board_name: str) -> None:
    """The four figures of a stateful model on an emulated board: every output check passes (the first inference
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
    _needs_table(request, kind)
    model = _model(tmp_path, kind, 1, **CASES[kind][1][1])
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
