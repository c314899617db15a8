"""Generated study-architecture models: valid TFLite, study-like structure, and bit-exact through tvm-aot."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from armlprof import modelgen
from armlprof.errors import ArmlprofError
from armlprof.protocol import input_from_seed

pytest.importorskip("tflite_micro")


@pytest.fixture
def models(tmp_path, monkeypatch):
    monkeypatch.setenv("ARMLPROF_CACHE", str(tmp_path / "cache"))
    from armlprof.model import load_model

    return {name: load_model(f"builtin:{name}") for name in modelgen.BUILTIN_MODELS}


def test_structure_matches_the_study_models(models) -> None:
    from armlprof.runtime.tvm.importer import import_tflite

    ms, pd = models["micro_speech"], models["person_detect"]
    assert (ms.input_bytes, ms.output_bytes) == (1960, 4)
    assert ms.operators == ["RESHAPE", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "SOFTMAX"]
    assert (pd.input_bytes, pd.output_bytes) == (96 * 96, 2)
    assert sorted(pd.operators) == ["AVERAGE_POOL_2D", "CONV_2D", "DEPTHWISE_CONV_2D", "RESHAPE", "SOFTMAX"]
    g = import_tflite(pd.path)
    assert len(g.operators) == 31  # as TFLM's person_detect.tflite
    weights = [t for t in g.tensors if t.data is not None and t.dtype == "int8"]
    assert any(t.scale.size > 1 for t in weights)  # per-channel weight scales
    assert all(t.data.dtype == np.int32 for t in g.tensors if t.name.endswith("/bias"))


def test_outputs_depend_on_the_input(models) -> None:
    for model in models.values():
        outs = {model.reference(input_from_seed(s, model.input_bytes)) for s in range(1, 9)}
        assert len(outs) > 1, model.name


def test_written_once_and_deterministic(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ARMLPROF_CACHE", str(tmp_path))
    path = modelgen.builtin_model_path("micro_speech")
    stamp = path.stat().st_mtime_ns
    assert modelgen.builtin_model_path("micro_speech").stat().st_mtime_ns == stamp
    assert path.read_bytes() == modelgen.micro_speech_tflite()
    with pytest.raises(ArmlprofError):
        modelgen.builtin_model_path("resnet")


@pytest.mark.slow
def test_micro_speech_bit_exact_through_tvm_aot(models, tmp_path) -> None:
    pytest.importorskip("tvm")
    if shutil.which("gcc") is None:
        pytest.skip("host gcc not installed")
    from armlprof.runtime import get_runtime

    model = models["micro_speech"]
    src = tmp_path / "src"
    get_runtime("tvm-aot").generate(model, src, None)
    (tmp_path / "h.c").write_text(
        '#include <stdio.h>\n#include "model.h"\nint main(void){static int8_t i[MODEL_INPUT_BYTES],'
        "o[MODEL_OUTPUT_BYTES];model_init();while(fread(i,1,sizeof i,stdin)==sizeof i){model_inference(i,o);"
        "fwrite(o,1,sizeof o,stdout);}return 0;}\n")
    subprocess.run(["gcc", "-O2", "-I", str(src), "-o", str(tmp_path / "h"), str(tmp_path / "h.c"),
                    *map(str, src.glob("*.c"))], check=True)
    inputs = [input_from_seed(s, model.input_bytes) for s in range(1, 21)]
    out = subprocess.run([str(tmp_path / "h")], input=b"".join(inputs), capture_output=True, check=True).stdout
    assert [out[i * 4:(i + 1) * 4] for i in range(20)] == [model.reference(x) for x in inputs]


def test_random_models_cover_the_quantization_and_layout_space(tmp_path) -> None:
    """The differential corpus's random models (seeds 0-2) really vary what the issue lists: per-channel and
    per-tensor weights, SAME and VALID, strides and dilations > 1, every fused activation, extreme zero points."""
    from armlprof.runtime.tvm.importer import import_tflite

    seen: set[str] = set()
    for kind in ("CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D", "ADD", "FULLY_CONNECTED"):
        for seed in range(3):
            path = tmp_path / f"{kind}_{seed}.tflite"
            path.write_bytes(modelgen.random_operator_tflite(kind, seed))
            modelgen.validate(path)
            g = import_tflite(path)
            op = g.operators[-1]
            o = op.options
            seen.add(f"act:{o['activation']}")
            if "padding" in o:
                seen.add(f"pad:{o['padding']}")
                seen.add("stride>1" if max(o["stride_h"], o["stride_w"]) > 1 else "stride1")
            if o.get("dilation_h", 1) > 1 or o.get("dilation_w", 1) > 1:
                seen.add("dilation>1")
            weights = [g.tensors[i] for i in op.inputs if i >= 0 and g.tensors[i].name == "weights"]
            if weights:
                seen.add("per-channel" if weights[0].scale.size > 1 else "per-tensor")
            if int(g.tensors[g.inputs[0]].zero_point[0]) in (-128, 127):
                seen.add("extreme input zero point")
    assert {"act:NONE", "act:RELU", "act:RELU6", "act:RELU_N1_TO_1", "pad:SAME", "pad:VALID", "stride>1",
            "dilation>1", "per-channel", "per-tensor", "extreme input zero point"} <= seen, seen
    assert modelgen.random_operator_tflite("CONV_2D", 1) == modelgen.random_operator_tflite("CONV_2D", 1)
    with pytest.raises(ArmlprofError):
        modelgen.random_operator_tflite("EMBEDDING_LOOKUP", 0)  # not a TVM operator: no generator
