"""int16x8 ("16x8" quantization: int16 activations, int8 weights, int64 bias) in the TVM runtimes: CONV_2D,
DEPTHWISE_CONV_2D, TRANSPOSE_CONV, FULLY_CONNECTED, ADD, SUB, PAD and STRIDED_SLICE bit-exact with tflite-micro's
reference kernels, QUANTIZE int8 <-> int16, int16 model I/O.

The seeded random models (modelgen.random_int16x8_tflite) are also in the differential corpus
(tests/test_differential.py, seeds that give non-constant outputs among 0-11), with the int16x8 chain on the emulated
boards there; here: what the generator covers, more seeds on the host, the I/O sizes, and the refusals.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from armlprof import modelgen
from armlprof.errors import ArmlprofError

pytest.importorskip("tflite_micro")


def _graph(tmp_path, name: str, data: bytes):
    from armlprof.runtime.tvm.importer import import_tflite

    path = tmp_path / f"{name}.tflite"
    path.write_bytes(data)
    return path, import_tflite(path)


def test_generator_covers_the_int16x8_space(tmp_path) -> None:
    """Over seeds 0-11 the generator varies what the issue lists, and every model is valid 16x8 TFLite."""
    pytest.importorskip("tvm")
    seen: set[str] = set()
    for kind in modelgen.INT16X8_OPERATORS:
        for seed in range(12):
            path, g = _graph(tmp_path, f"{kind}_{seed}", modelgen.random_int16x8_tflite(kind, seed))
            if seed < 2:
                modelgen.validate(path)
            op = next(o for o in g.operators if o.kind == kind)
            wide = [g.tensors[i] for i in op.inputs + op.outputs if i >= 0 and g.tensors[i].dtype == "int16"]
            assert len(wide) >= 2 and all((t.zero_point == 0).all() for t in wide)
            seen.add(f"io_{g.tensors[g.inputs[0]].dtype}_{g.tensors[g.outputs[0]].dtype}")
            seen.add(f"act_{op.options.get('activation')}")
            if kind in ("CONV_2D", "FULLY_CONNECTED") and len(op.inputs) > 2 and op.inputs[2] >= 0:
                seen.add(f"bias_{g.tensors[op.inputs[2]].dtype}")
            if kind == "TRANSPOSE_CONV" and len(op.inputs) > 3:
                seen.add(f"transpose_conv_bias_{g.tensors[op.inputs[3]].dtype}")
            if kind == "CONV_2D":
                o = op.options
                seen |= {o["padding"], f"stride{max(o['stride_h'], o['stride_w']) > 1}",
                         f"dilation{max(o['dilation_h'], o['dilation_w']) > 1}",
                         f"per_channel{g.tensors[op.inputs[1]].scale.size > 1}"}
            if kind == "ADD":
                seen.add(f"add_constant{any(g.tensors[i].is_constant for i in op.inputs)}")
    assert {"io_int16_int16", "io_int8_int8", "act_NONE", "act_RELU", "act_RELU6", "act_RELU_N1_TO_1",
            "bias_int64", "bias_int32", "SAME", "VALID", "strideTrue", "dilationTrue", "per_channelTrue",
            "per_channelFalse", "add_constantTrue", "add_constantFalse", "transpose_conv_bias_int64",
            "transpose_conv_bias_int16"} <= seen, seen


def test_int16_model_io_is_two_bytes_an_element(tmp_path) -> None:
    """An int16-I/O model's buffers are little-endian int16 bytes; the reference reads and writes them so."""
    from armlprof.model import load_model

    path = tmp_path / "fc.tflite"
    path.write_bytes(modelgen.random_int16x8_tflite("FULLY_CONNECTED", 0, int8_io=False))
    model = load_model(str(path))
    it = model._interpreter
    inp, out = it.get_input_details(0), it.get_output_details(0)
    assert model.input_bytes == 2 * int(np.prod(inp["shape"])) and model.output_bytes == 2 * int(np.prod(out["shape"]))
    x = np.full(int(np.prod(inp["shape"])), 32767, dtype="<i2")
    y = np.frombuffer(model.reference(x.tobytes()), dtype="<i2")
    it.reset()
    it.set_input(x.reshape(inp["shape"]), 0)
    it.invoke()
    assert np.array_equal(y, np.asarray(it.get_output(0)).reshape(-1))


def test_int16x8_operators_without_tvm_support_are_one_line(tmp_path) -> None:
    """int16 on any other operator, a non-zero int16 zero point or mixed types: one line, `--runtime tflm`."""
    pytest.importorskip("tvm")
    from armlprof.runtime.tvm.importer import _check_int16x8

    path, g = _graph(tmp_path, "conv", modelgen.random_int16x8_tflite("CONV_2D", 0))
    conv = next(o for o in g.operators if o.kind == "CONV_2D")
    g.tensors[conv.outputs[0]].zero_point = np.array([5])
    with pytest.raises(ArmlprofError) as err:
        _check_int16x8(g, path.name)
    assert "CONV_2D" in str(err.value) and "zero point" in str(err.value) and "\n" not in str(err.value)
    g.tensors[conv.outputs[0]].zero_point = np.array([0])
    g.tensors[conv.inputs[1]].dtype = "int16"
    with pytest.raises(ArmlprofError, match="int16 weights"):
        _check_int16x8(g, path.name)
    g.tensors[conv.inputs[1]].dtype = "int8"
    g.tensors[conv.outputs[0]].dtype = "int8"
    with pytest.raises(ArmlprofError, match="mixes int16"):
        _check_int16x8(g, path.name)


@pytest.mark.slow
def test_int16x8_bit_exact_on_host_over_more_seeds(tmp_path) -> None:
    """Seeds 12-14 of each operator (the differential corpus has the first ones), both I/O kinds, 100 inputs each
    with the int16 extremes first; the int16x8 layers run the TE loops, never the int8 micro-kernels; outputs reach
    the int16 saturation bounds."""
    pytest.importorskip("tvm")
    if shutil.which("gcc") is None:
        pytest.skip("host gcc not installed")
    from armlprof.model import load_model
    from armlprof.runtime.tvm.compiler import compile_model
    from tests.test_differential import _input_quantization, extreme_inputs
    from tests.test_tvm import host_compile, host_run

    saturated = False
    for kind in modelgen.INT16X8_OPERATORS:
        for k, seed in enumerate(range(12, 15)):
            path = tmp_path / f"{kind}_{seed}.tflite"
            path.write_bytes(modelgen.random_int16x8_tflite(kind, seed))
            model = load_model(str(path))
            program = compile_model(path, model.sha256)
            assert all(s.schedule == "te" for s in program.steps)  # int16 never reaches the int8 DSP kernels
            zero_point, dtype = _input_quantization(path)
            inputs = extreme_inputs(model.input_bytes, zero_point, 100, seed, dtype)
            expected = [model.reference(x) for x in inputs]
            runtime = ("tvm-aot", "tvm-graph")[k % 2]
            exe, _ = host_compile(model, runtime, tmp_path / f"{kind}_{seed}_{runtime}")
            got = host_run(exe, inputs, model.output_bytes)
            bad = [i for i, (a, b) in enumerate(zip(got, expected, strict=True)) if a != b]
            assert bad == [], f"{kind} seed {seed} {runtime}: {len(bad)} of {len(inputs)} differ (first #{bad[0]})"
            if program.entries[program.output_entry].dtype == "int16":
                values = np.concatenate([np.frombuffer(e, dtype="<i2") for e in expected])
                saturated |= bool(values.max() == 32767 or values.min() == -32768)
    assert saturated
