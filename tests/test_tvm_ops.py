"""ADD and MAX_POOL_2D (and fused RELU/RELU6) through the TVM runtimes: bit-exact with tflite-micro.

The generated `ops_coverage` model is the only model using these operators; the full model's SOFTMAX output
averages the ADD over 8x8 positions, so the trunk-only variant (output = the ADD's 512 values) is checked too.
"""

from __future__ import annotations

import shutil

import pytest

from armlprof import modelgen
from armlprof.protocol import input_from_seed
from tests.test_tvm import RUNTIMES, host_compile, host_run

pytest.importorskip("tflite_micro")

SEEDS = range(1, 21)


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict:
    from armlprof.model import load_model

    root = tmp_path_factory.mktemp("ops_coverage")
    mp = pytest.MonkeyPatch()
    mp.setenv("ARMLPROF_CACHE", str(root / "cache"))
    try:
        full = load_model("builtin:ops_coverage")
    finally:
        mp.undo()
    trunk_path = root / "ops_coverage_trunk.tflite"
    trunk_path.write_bytes(modelgen.ops_coverage_tflite(classifier=False))
    modelgen.validate(trunk_path)
    return {"full": full, "trunk": load_model(str(trunk_path))}


def test_operator_list_covers_add_and_max_pool(models) -> None:
    full, trunk = models["full"], models["trunk"]
    assert full.operators == ["CONV_2D", "MAX_POOL_2D", "DEPTHWISE_CONV_2D", "ADD", "AVERAGE_POOL_2D", "RESHAPE",
                              "FULLY_CONNECTED", "SOFTMAX"]
    assert (full.input_bytes, full.output_bytes) == (16 * 16, 4)
    assert trunk.operators == ["CONV_2D", "MAX_POOL_2D", "DEPTHWISE_CONV_2D", "ADD"]
    assert trunk.output_bytes == 8 * 8 * 8


def test_add_inputs_have_different_quantization(models) -> None:
    """So the ADD really rescales both sides (unequal multipliers), and the fused activations are present."""
    from armlprof.runtime.tvm.importer import import_tflite

    g = import_tflite(models["full"].path)
    add = next(op for op in g.operators if op.kind == "ADD")
    a, b = (g.tensors[i] for i in add.inputs)
    assert a.shape == b.shape and float(a.scale[0]) != float(b.scale[0])
    assert int(a.zero_point[0]) != int(b.zero_point[0])
    assert add.options["activation"] == "RELU"
    assert g.operators[0].options["activation"] == "RELU6"
    pool = next(op for op in g.operators if op.kind == "MAX_POOL_2D")
    assert (pool.options["filter_h"], pool.options["stride_h"]) == (2, 2)


@pytest.mark.slow
@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("variant", ["full", "trunk"])
def test_bit_exact_with_tflite_micro(models, tmp_path, variant: str, runtime: str) -> None:
    pytest.importorskip("tvm")
    if shutil.which("gcc") is None:
        pytest.skip("host gcc not installed")
    model = models[variant]
    exe, gen = host_compile(model, runtime, tmp_path / f"{variant}_{runtime}")
    assert gen.input_bytes == model.input_bytes and gen.output_bytes == model.output_bytes
    inputs = [input_from_seed(seed, model.input_bytes) for seed in SEEDS]
    expected = [model.reference(data) for data in inputs]
    assert len(set(expected)) > 1  # outputs depend on the input, so equality means something
    for seed, got, want in zip(SEEDS, host_run(exe, inputs, model.output_bytes), expected, strict=True):
        assert got == want, f"ops_coverage {variant} {runtime} seed {seed}"
