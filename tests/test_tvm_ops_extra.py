"""MEAN and HARD_SWISH through the TVM runtimes, bit-exact with tflite-micro's int8 reference kernels; and the
one-line errors for what the TVM runtimes deliberately leave to TFLM (int16x8 activations).

The generation-time HARD_SWISH table is checked against TFLM on all 256 inputs over scales that take every branch
of reference_ops::HardSwish (left- and right-shifted reluish multiplier, output shifts of 16 and more); MEAN on the
host over the axes real models use, keep_dims both ways, with the int8 extremes among 200 inputs per model. The
seeded random models of both operators are also in the differential corpus (tests/test_differential.py), and the
reduction chain runs on the emulated boards there.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from armlprof import modelgen
from armlprof.errors import ArmlprofError

pytest.importorskip("tflite_micro")


def _generated(tmp_path, name: str, data: bytes):
    from armlprof.model import load_model

    path = tmp_path / f"{name}.tflite"
    path.write_bytes(data)
    modelgen.validate(path)
    return load_model(str(path))


# (input scale, input zero point, output scale, output zero point)
HARD_SWISH_CASES = [(0.001, 0, 0.001, 0), (0.0235, -128, 0.0235, -128), (0.05, 127, 0.02, 60),
                    (0.1, 3, 0.4, -100), (0.37, -5, 0.05, -128), (1.5, 0, 0.9, 0), (0.01, -20, 8e-5, -128),
                    (0.02, 0, 4.0, -128), (0.2, -128, 30.0, 127), (0.0039, 10, 0.003, -90),
                    (0.01, 0, 8.0, 0), (0.002, 5, 4.0, -3)]


def test_hard_swish_table_equals_tflite_micro_for_every_int8_input(tmp_path) -> None:
    from armlprof.runtime.tvm import fixedpoint as fp

    every = np.arange(-128, 128, dtype=np.int8).tobytes()
    exponents = set()
    rng = np.random.default_rng(15)
    random_cases = [(float(np.exp(rng.uniform(np.log(1e-3), np.log(2.0)))), int(rng.integers(-128, 128)), 0.0,
                     int(rng.integers(-128, 128))) for _ in range(30)]
    random_cases = [(s, z, s * float(np.exp(rng.uniform(-4.0, 2.0))), oz) for s, z, _, oz in random_cases]
    for i, (scale, zp, out_scale, out_zp) in enumerate(HARD_SWISH_CASES + random_cases):
        model = _generated(tmp_path, f"hard_swish_{i}", modelgen.hard_swish_tflite(scale, zp, out_scale, out_zp))
        expected = np.frombuffer(model.reference(every), dtype=np.int8)
        got = fp.hard_swish_table(scale, zp, out_scale, out_zp)
        assert np.array_equal(got, expected), (scale, zp, out_scale, out_zp, np.flatnonzero(got != expected)[:5])
        _, out_e, _, relu_e = fp.hard_swish_params(scale, out_scale)
        exponents.add((out_e <= -16, relu_e > 0, relu_e < 0))
    # every branch taken: reluish left- and right-shifted, output shifts past int16's width and within it
    assert {flags[1] for flags in exponents} == {True, False} and {flags[2] for flags in exponents} == {True, False}
    assert {flags[0] for flags in exponents} == {True, False}


def test_hard_swish_output_scale_tflm_rejects_is_one_line(tmp_path) -> None:
    """Output scale below input scale / 128: TFLM's Prepare fails (output exponent > 0); so do the TVM runtimes."""
    pytest.importorskip("tvm")
    from armlprof.runtime.tvm.importer import import_tflite
    from armlprof.runtime.tvm.ops import build_kernel

    path = tmp_path / "hard_swish_bad.tflite"
    path.write_bytes(modelgen.hard_swish_tflite(0.5, 0, 0.001, 0))
    g = import_tflite(path)
    with pytest.raises(ArmlprofError) as err:
        build_kernel(g, g.operators[0])
    assert "HARD_SWISH" in str(err.value) and "\n" not in str(err.value)


def test_mean_multiplier_folds_the_count_as_tflm() -> None:
    """QuantizedMeanOrSum's multiplier: floor(log2 n) extra bits, capped by 31 + shift (precision given up)."""
    from armlprof.runtime.tvm import fixedpoint as fp

    m, s = fp.quantize_multiplier(0.5)
    assert fp.mean_multiplier(0.5, 1.0, 64) == ((m << 6) // 64, s - 6)
    assert fp.mean_multiplier(1.0, 1.0, 3) == (((1 << 30) << 1) // 3, 1 - 1)
    m, s = fp.quantize_multiplier(2.0 ** -30)  # shift -29: at most 2 extra bits
    assert fp.mean_multiplier(2.0 ** -30, 1.0, 1024) == ((m << 2) // 1024, s - 2)


# (input shape, axes, keep_dims): spatial means as in MobileNet/EfficientNet heads, other axes, the channels,
# negative and unordered axes, everything but the batch.
MEAN_CASES = [((1, 7, 7, 8), [1, 2], True), ((1, 7, 7, 8), [1, 2], False), ((1, 5, 3, 4), [2, 1], False),
              ((1, 4, 6, 3), [-3, -2], True), ((1, 6, 5, 4), [1], False), ((1, 3, 9, 2), [2], True),
              ((1, 4, 4, 16), [3], False), ((1, 4, 4, 16), [-1], True), ((1, 3, 5, 7), [1, 2, 3], False),
              ((1, 12, 10), [1], False), ((1, 16, 16, 3), [1, 2], True)]


@pytest.mark.slow
@pytest.mark.parametrize("runtime", ["tvm-aot", "tvm-graph"])
def test_mean_bit_exact_with_tflite_micro_on_host(tmp_path, runtime: str) -> None:
    pytest.importorskip("tvm")
    if shutil.which("gcc") is None:
        pytest.skip("host gcc not installed")
    from tests.test_differential import extreme_inputs
    from tests.test_tvm import host_compile, host_run

    models = [_generated(tmp_path, f"mean_{i}", modelgen.mean_tflite(shape, axes, keep, seed=i))
              for i, (shape, axes, keep) in enumerate(MEAN_CASES)]
    models += [_generated(tmp_path, f"mean_random_{seed}", modelgen.random_operator_tflite("MEAN", seed))
               for seed in range(100, 106)]
    informative = saturated = 0
    for i, model in enumerate(models):
        exe, _ = host_compile(model, runtime, tmp_path / f"{runtime}_{i}")
        inputs = extreme_inputs(model.input_bytes, 0, 200, seed=i)
        expected = [model.reference(x) for x in inputs]
        informative += len(set(expected)) > 10
        # the all -128 / all 127 inputs saturate the mean where the output scale is finer than the input's
        saturated += bool({-128, 127} & set(np.frombuffer(b"".join(expected[:2]), dtype=np.int8).tolist()))
        assert host_run(exe, inputs, model.output_bytes) == expected, model.name
    assert informative >= len(models) // 2 and saturated >= len(models) // 2


@pytest.mark.slow
def test_hard_swish_bit_exact_on_host(tmp_path) -> None:
    pytest.importorskip("tvm")
    if shutil.which("gcc") is None:
        pytest.skip("host gcc not installed")
    from tests.test_differential import extreme_inputs
    from tests.test_tvm import host_compile, host_run

    for seed in range(100, 104):
        model = _generated(tmp_path, f"hard_swish_{seed}", modelgen.random_operator_tflite("HARD_SWISH", seed))
        inputs = extreme_inputs(model.input_bytes, 0, 200, seed=seed)
        expected = [model.reference(x) for x in inputs]
        assert len(set(expected)) > 100
        for runtime in ("tvm-aot", "tvm-graph"):
            exe, _ = host_compile(model, runtime, tmp_path / f"{runtime}_{seed}")
            assert host_run(exe, inputs, model.output_bytes) == expected, (seed, runtime)


# ---------------------------------------------------------------- DEQUANTIZE at the output edge
@pytest.mark.slow
def test_dequantize_output_is_float_bytes_bit_exact_on_host(tmp_path) -> None:
    """int8 -> float32 at the output: the output is the float32 values' bytes, equal to tflite-micro's."""
    pytest.importorskip("tvm")
    if shutil.which("gcc") is None:
        pytest.skip("host gcc not installed")
    from tests.test_differential import extreme_inputs
    from tests.test_tvm import host_compile, host_run

    for seed in range(100, 103):
        model = _generated(tmp_path, f"dequantize_{seed}", modelgen.random_operator_tflite("DEQUANTIZE", seed))
        assert model.output_bytes == 4 * model.input_bytes
        inputs = extreme_inputs(model.input_bytes, 0, 200, seed=seed)
        expected = [model.reference(x) for x in inputs]
        floats = np.frombuffer(expected[1], dtype="<f4")  # all 127: one float value, not an int8 pattern
        assert floats.size == model.input_bytes and np.all(floats == floats[0]) and np.isfinite(floats[0])
        for runtime in ("tvm-aot", "tvm-graph"):
            exe, _ = host_compile(model, runtime, tmp_path / f"{runtime}_{seed}")
            assert host_run(exe, inputs, model.output_bytes) == expected, (seed, runtime)


def test_dequantize_inside_the_model_is_one_line(tmp_path) -> None:
    """Float activations after a DEQUANTIZE (here re-QUANTIZEd) are TFLM's: the error names DEQUANTIZE."""
    from armlprof.runtime.tvm.importer import import_tflite

    b = modelgen._Builder(0, np.zeros((1, 1)))
    x = b.add_tensor(modelgen._Tensor("input", (1, 8), modelgen._INT8, [0.05], [3]))
    f = b.add_tensor(modelgen._Tensor("float", (1, 8), modelgen._FLOAT32, [], []))
    out = b.add_tensor(modelgen._Tensor("output", (1, 8), modelgen._INT8, [0.1], [0]))
    b.ops += [modelgen._Op("DEQUANTIZE", [x], [f]), modelgen._Op("QUANTIZE", [f], [out])]
    b.current = out
    path = tmp_path / "dequantize_inside.tflite"
    path.write_bytes(b.serialize("DEQUANTIZE then QUANTIZE"))
    modelgen.validate(path)  # a valid model for TFLM
    with pytest.raises(ArmlprofError) as err:
        import_tflite(path)
    message = str(err.value)
    assert "DEQUANTIZE" in message and "--runtime tflm" in message and "\n" not in message


def test_float_input_is_still_refused_in_one_line(tmp_path) -> None:
    """Only the output may be float32 (a DEQUANTIZE's); a float input is no int8 model."""
    from armlprof.errors import ModelError
    from armlprof.model import load_model

    b = modelgen._Builder(0, np.zeros((1, 1)))
    x = b.add_tensor(modelgen._Tensor("float_input", (1, 8), modelgen._FLOAT32, [], []))
    out = b.add_tensor(modelgen._Tensor("output", (1, 8), modelgen._INT8, [0.1], [0]))
    b.ops.append(modelgen._Op("QUANTIZE", [x], [out]))
    b.current = out
    path = tmp_path / "float_input.tflite"
    path.write_bytes(b.serialize("float input"))
    with pytest.raises(ModelError) as err:
        load_model(str(path))
    assert "(tensor 'float_input') is float32, not int8" in str(err.value) and "\n" not in str(err.value)


# ---------------------------------------------------------------- left to TFLM on purpose
@pytest.mark.parametrize("kind", modelgen.LEFT_OUT)
def test_left_out_operators_are_one_line_naming_them(tmp_path, kind: str) -> None:
    """int16x8 activations: one line naming the operator, `--runtime tflm`,
    from the importer and from generation (what `armlprof profile` reports)."""
    pytest.importorskip("tvm")
    from armlprof.model import load_model
    from armlprof.runtime import get_runtime
    from armlprof.runtime.tvm.importer import import_tflite

    path = tmp_path / f"{kind.lower()}.tflite"
    path.write_bytes(modelgen.left_out_tflite(kind))
    model = load_model(str(path))  # a well-formed model: the refusal is the TVM runtimes'
    named = "TANH" if kind == "INT16X8" else kind  # int16x8 FULLY_CONNECTED runs; the int16 TANH after it not
    for attempt in (lambda: import_tflite(path),
                    lambda: get_runtime("tvm-graph").generate(model, tmp_path / "g", None)):
        with pytest.raises(ArmlprofError) as err:
            attempt()
        message = str(err.value)
        assert f"{named} " in message and "use --runtime tflm" in message and "\n" not in message
        if kind == "INT16X8":
            assert "int16x8" in message


# ---------------------------------------------------------------- TRANSPOSE_CONV
@pytest.mark.slow
def test_transpose_conv_bit_exact_on_host(tmp_path) -> None:
    """Seeded random TRANSPOSE_CONVs that between them have strides > 1 (outputs with gaps between taps), SAME
    padding that TFLM pads, VALID, per-tensor and per-channel weights, no bias and clamping activations."""
    pytest.importorskip("tvm")
    if shutil.which("gcc") is None:
        pytest.skip("host gcc not installed")
    from armlprof.runtime.tvm.importer import import_tflite
    from tests.test_differential import extreme_inputs
    from tests.test_tvm import host_compile, host_run

    seen = set()
    for seed in range(100, 108):
        model = _generated(tmp_path, f"transpose_conv_{seed}",
                           modelgen.random_operator_tflite("TRANSPOSE_CONV", seed))
        op = import_tflite(model.path).operators[0]
        t_w = import_tflite(model.path).tensors[op.inputs[1]]
        o = op.options
        seen |= {f"stride{max(o['stride_h'], o['stride_w']) > 1}", o["padding"], o["activation"] != "NONE",
                 f"per_channel{t_w.scale.size > 1}", f"bias{len(op.inputs) > 3}"}
        seen.add("padded" if o["padding"] == "SAME" and t_w.shape[1] > o["stride_h"] else "")
        inputs = extreme_inputs(model.input_bytes, 0, 200, seed=seed)
        expected = [model.reference(x) for x in inputs]
        assert len(set(expected)) > 10
        for runtime in ("tvm-aot", "tvm-graph"):
            exe, _ = host_compile(model, runtime, tmp_path / f"{runtime}_{seed}")
            assert host_run(exe, inputs, model.output_bytes) == expected, (seed, runtime, o)
    assert {"strideTrue", "strideFalse", "SAME", "VALID", True, "per_channelTrue", "per_channelFalse",
            "biasFalse", "biasTrue", "padded"} <= seen, seen
