"""ADD and MAX_POOL_2D (and fused RELU/RELU6) through the TVM runtimes: bit-exact with tflite-micro.

The generated `ops_coverage` model is the only model using these operators; the full model's SOFTMAX output
averages the ADD over 8x8 positions, so the trunk-only variant (output = the ADD's 512 values) is checked too.
"""

from __future__ import annotations

import shutil

import numpy as np
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


# ---------------------------------------------------------------- bugs pinned with minimal generated models
def _generated(tmp_path, name: str, data: bytes):
    from armlprof.model import load_model

    path = tmp_path / f"{name}.tflite"
    path.write_bytes(data)
    modelgen.validate(path)
    return load_model(str(path))


def _random_inputs(n_bytes: int, count: int, seed: int) -> list[bytes]:
    rng = np.random.default_rng(seed)
    return [rng.integers(-128, 128, n_bytes).astype(np.int8).tobytes() for _ in range(count)]


@pytest.mark.slow
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_saturating_softmax_keeps_the_clamp_to_127(tmp_path, runtime: str) -> None:
    """A probability of 256/256 must give 127: TVM's simplifier used to drop the clamp and wrap it to -128."""
    pytest.importorskip("tvm")
    if shutil.which("gcc") is None:
        pytest.skip("host gcc not installed")
    model = _generated(tmp_path, "saturating_softmax", modelgen.saturating_softmax_tflite())
    exe, gen = host_compile(model, runtime, tmp_path / runtime)
    inputs = [bytes([127, 128, 0]), *_random_inputs(3, 199, seed=7)]
    expected = [model.reference(x) for x in inputs]
    assert expected[0] == bytes([127, 128, 128]) and sum(127 in e for e in expected) > 100
    assert host_run(exe, inputs, 3) == expected
    ops = (gen.src_dir / "model_ops.c").read_text()
    assert "< (127) ? " in ops  # the upper clamp is in the generated C


def test_add_lowers_in_seconds() -> None:
    """A 32x32x16 ADD took minutes in TVM's RewriteSimplifier when the fixed-point code was inlined TIR."""
    pytest.importorskip("tvm")
    import time

    from armlprof.runtime.tvm import codegen, ops
    from armlprof.runtime.tvm.importer import Graph, Operator, Tensor

    def tensor(i: int, scale: float, zp: int) -> Tensor:
        return Tensor(i, f"t{i}", (1, 32, 32, 16), "int8", np.array([scale], np.float32), np.array([zp]), 0)

    g = Graph([tensor(0, 0.05, 3), tensor(1, 0.03, -7), tensor(2, 0.07, -20)],
              [Operator("ADD", [0, 1], [2], {"activation": "RELU"})], [0], [2], ["ADD"])
    t0 = time.perf_counter()
    source = codegen.lower_kernels([ops.build_add(g, g.operators[0])]).source
    assert time.perf_counter() - t0 < 60
    assert "armlprof_mbqm(" in source and "< (127) ? " in source


@pytest.mark.slow
def test_model_without_tensor_names_is_bit_exact(tmp_path) -> None:
    """Stripped models (no tensor names, as hello_world_int8_stripped) import and run."""
    pytest.importorskip("tvm")
    if shutil.which("gcc") is None:
        pytest.skip("host gcc not installed")
    from armlprof.runtime.tvm.importer import import_tflite

    builder_bytes = modelgen.random_operator_tflite("CONV_2D", 0)
    named = _generated(tmp_path, "named", builder_bytes)
    stripped = _generated(tmp_path, "stripped", modelgen.random_operator_tflite("CONV_2D", 0, tensor_names=False))
    assert len(stripped.path.read_bytes()) < len(named.path.read_bytes())
    assert all(t.name.startswith("tensor_") for t in import_tflite(stripped.path).tensors)
    exe, _ = host_compile(stripped, "tvm-aot", tmp_path / "aot")
    inputs = _random_inputs(stripped.input_bytes, 50, seed=3)
    assert host_run(exe, inputs, stripped.output_bytes) == [named.reference(x) for x in inputs]


def test_vela_model_gets_one_specific_line(tmp_path) -> None:
    from armlprof.errors import ArmlprofError
    from armlprof.runtime.tvm.importer import import_tflite

    path = tmp_path / "vela.tflite"
    path.write_bytes(modelgen.vela_like_tflite())
    with pytest.raises(ArmlprofError) as err:
        import_tflite(path)
    message = str(err.value)
    assert "Ethos-U" in message and "Vela" in message and "\n" not in message


@pytest.mark.parametrize("kind", ["LOGISTIC", "TANH"])
def test_sigmoid_tables_equal_tflite_micro_for_every_int8_input(tmp_path, kind: str) -> None:
    """The generation-time table of LOGISTIC/TANH against TFLM's kernel on all 256 inputs, over scales from
    tiny (nothing saturates) to large (most inputs hit the radius) and extreme zero points."""
    from armlprof.runtime.tvm import fixedpoint as fp

    every = np.arange(-128, 128, dtype=np.int8).tobytes()
    for i, (scale, zp) in enumerate([(0.001, 0), (0.0078125, -128), (0.02, 17), (0.1, 127), (0.37, -5),
                                     (1.5, 0)]):
        model = _generated(tmp_path, f"{kind}_{i}", modelgen.sigmoid_tflite(kind, scale, zp))
        expected = np.frombuffer(model.reference(every), dtype=np.int8)
        assert len(set(expected.tolist())) > 2
        assert np.array_equal(fp.sigmoid_table(kind, scale, zp), expected), (kind, scale, zp)
