"""Differential test: tvm-aot and tvm-graph against tflite-micro, bit for bit, over a corpus of models.

The corpus: the study's models (../shared/models, those the TVM runtimes accept), every `builtin:` TFLite model,
a SOFTMAX whose winner saturates (the dropped-clamp bug), a generated ResNet-8 (residual ADDs), a chain of the
newer operators, and seeded random single-operator models for every operator the TVM runtimes implement
(armlprof.modelgen.random_operator_tflite: random scales, zero points, per-channel/per-tensor weights,
SAME/VALID, strides, dilations, fused activations whose clamps cut), the same for the int16x8 operators
(modelgen.random_int16x8_tflite: CONV_2D, FULLY_CONNECTED, ADD with int16 or int8 + QUANTIZE model I/O) and an
int16x8 chain. Each model sees INPUTS_PER_MODEL inputs on the host (gcc + UBSan) — the int8 (int16) extremes
first, then random ones — and a sample runs on the emulated boards.
A stateful model (SVDF, UNIDIRECTIONAL_SEQUENCE_LSTM) sees its inputs as one sequence of invocations, compared with
the reference's sequence.
"""

from __future__ import annotations

import os
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from armlprof import modelgen
from armlprof.errors import ArmlprofError
from armlprof.protocol import pack, unpack

pytest.importorskip("tflite_micro")
pytest.importorskip("tvm")

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
INPUTS_PER_MODEL = 200
RANDOM_MODELS = 3  # per operator


def extreme_inputs(n_bytes: int, zero_point: int, count: int, seed: int, dtype: str = "int8") -> list[bytes]:
    """`count` inputs: all min, all max, all zero-point, alternating extremes, sparse extremes, then random, of
    int8 or (int16x8 models) little-endian int16 elements."""
    rng = np.random.default_rng(seed)
    lo, hi = int(np.iinfo(dtype).min), int(np.iinfo(dtype).max)
    n = n_bytes // np.dtype(dtype).itemsize
    near = 8 if dtype == "int8" else 2048  # "near the zero point": a few steps of the int8 scale
    fixed = [np.full(n, lo), np.full(n, hi), np.full(n, zero_point), np.resize([lo, hi], n), np.resize([hi, lo], n)]
    element = np.dtype(dtype).newbyteorder("<")
    out = [np.asarray(a, dtype=element).tobytes() for a in fixed]
    while len(out) < count:
        kind = len(out) % 3
        if kind == 0:  # uniform
            a = rng.integers(lo, hi + 1, n)
        elif kind == 1:  # only the extremes
            a = rng.choice([lo, hi], n)
        else:  # near the zero point with a few extremes
            a = np.clip(zero_point + rng.integers(-near, near + 1, n), lo, hi)
            hits = rng.random(n) < 0.1
            a[hits] = rng.choice([lo, hi], int(hits.sum()))
        out.append(a.astype(element).tobytes())
    return out[:count]


def corpus(root: Path, kinds: tuple[str, ...] = modelgen.RANDOM_OPERATORS) -> list[tuple[str, str, Path]]:
    """(group, name, .tflite path) for every corpus model (random ones of `kinds`); generated models are written
    under root."""
    models = []
    for path in sorted((SHARED / "models").glob("*.tflite")):
        models.append(("study", path.stem, path))
    for name in modelgen.BUILTIN_MODELS:
        models.append(("builtin", f"builtin:{name}", modelgen.builtin_model_path(name)))
    root.mkdir(parents=True, exist_ok=True)
    generated = [("saturating_softmax", "saturating_softmax", modelgen.saturating_softmax_tflite()),
                 ("resnet", "resnet8_generated", modelgen.resnet_tflite()),
                 ("operator_chain", "operator_chain", modelgen.operator_chain_tflite()),
                 ("reduction_chain", "reduction_chain", modelgen.reduction_chain_tflite()),
                 ("int16x8_chain", "int16x8_chain", modelgen.int16x8_tflite(seed=20240516))]
    for group, name, data in generated:
        path = root / f"{name}.tflite"
        path.write_bytes(data)
        models.append((group, name, path))
    for kind in kinds:
        models += _random_models(root, kind)
    for kind in modelgen.INT16X8_OPERATORS:  # int16 model I/O for even seeds, int8 + QUANTIZE for odd ones
        models += _random_models(root, kind, modelgen.random_int16x8_tflite, f"int16x8_{kind}")
    return models


def _random_models(root: Path, kind: str, generate=modelgen.random_operator_tflite,
                   group: str | None = None) -> list[tuple[str, str, Path]]:
    """RANDOM_MODELS seeded models of `kind` whose output depends on the input (random quantization sometimes
    clamps every output to one value, e.g. RELU on a product that is never positive: nothing to compare)."""
    from armlprof.model import load_model

    group = group or kind
    found = []
    for seed in range(4 * RANDOM_MODELS):
        path = root / f"random_{group.lower()}_{seed}.tflite"
        path.write_bytes(generate(kind, seed))
        model = load_model(str(path))
        if len({model.reference(x) for x in extreme_inputs(model.input_bytes, 0, 12, seed)}) > 1:
            found.append((group, path.stem, path))
        if len(found) == RANDOM_MODELS:
            return found
    raise AssertionError(f"modelgen gives fewer than {RANDOM_MODELS} non-constant {kind} models")


LSTM = "UNIDIRECTIONAL_SEQUENCE_LSTM"


@pytest.fixture(scope="module")
def random_kinds():
    """Every randomly generated operator; the LSTM kernel reads TFLM's int16 sigmoid table from a TFLM tree (the
    configured one, else ../shared's test tree), so without any tree the LSTM models are left out."""
    from armlprof.runtime.tflm import tree as tflm

    tree = tflm.find_tree() or tflm.recognize(SHARED / "tflm" / "Arduino_TensorFlowLite", "../shared (tests)")
    with pytest.MonkeyPatch.context() as patch:
        if tree is not None:
            patch.setenv("ARMLPROF_TFLM_ROOT", str(tree.root))
        yield tuple(k for k in modelgen.RANDOM_OPERATORS if tree is not None or k != LSTM)


@pytest.fixture(scope="module")
def models(tmp_path_factory, random_kinds) -> list[tuple[str, str, Path]]:
    return corpus(tmp_path_factory.mktemp("differential"), random_kinds)


def _input_quantization(path: Path) -> tuple[int, str]:
    """The first input's zero point and element type (int8, or int16 for int16x8 models)."""
    from armlprof.runtime.tvm.importer import import_tflite

    g = import_tflite(path)
    t = g.tensors[g.inputs[0]]
    return int(t.zero_point[0]), t.dtype


def _check_model(i: int, path: Path, root: Path, tvm_lock: threading.Lock) -> tuple[str, list[str]]:
    """Compare both TVM runtimes with tflite-micro for one model: ('skipped'|'checked', mismatch lines)."""
    from armlprof.model import load_model
    from armlprof.runtime.tvm.compiler import compile_model
    from armlprof.runtime.tvm.importer import import_tflite
    from tests.test_tvm import host_mismatches

    try:
        import_tflite(path)
    except ArmlprofError:  # a study model the TVM runtimes reject (named in the error; tested elsewhere)
        return "skipped", []
    model = load_model(str(path))
    with tvm_lock:  # TVM once per model, one model at a time; the runtimes then load the cached program
        compile_model(model.path, model.sha256)
    zero_point, dtype = _input_quantization(path)
    inputs = extreme_inputs(model.input_bytes, zero_point, INPUTS_PER_MODEL, seed=i, dtype=dtype)
    if model.stateful:  # SVDF, LSTM: the harness runs the inputs as one sequence, the state carried over
        expected = [pack(outs, model.output_sizes) for outs in
                    model.reference_sequence([unpack(x, model.input_sizes) for x in inputs])]
    else:
        expected = [model.reference(x) for x in inputs]
    # A model whose output never changes would compare nothing: the corpus must not hold one.
    assert len(set(expected)) > 1, f"{path.stem}: reference output is the same for every input"
    return "checked", host_mismatches(model, inputs, expected, root, f"{i}_{path.stem}")


@pytest.mark.slow
def test_tvm_runtimes_bit_exact_over_the_corpus(models, random_kinds, tmp_path) -> None:
    if shutil.which("gcc") is None:
        pytest.skip("host gcc not installed")
    # gcc and the harness runs overlap on the machine's cores; TVM itself runs under one lock.
    tvm_lock = threading.Lock()
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        results = list(pool.map(lambda item: _check_model(item[0], item[1][2], tmp_path, tvm_lock),
                                enumerate(models)))
    mismatches = [line for _, lines in results for line in lines]
    assert mismatches == []
    checked = {group for (group, _, _), (state, _) in zip(models, results, strict=True) if state == "checked"}
    for group in (*random_kinds, *(f"int16x8_{k}" for k in modelgen.INT16X8_OPERATORS), "builtin",
                  "saturating_softmax", "resnet", "operator_chain", "reduction_chain", "int16x8_chain"):
        assert group in checked, group  # all really in the corpus


def test_saturating_softmax_reference_hits_127() -> None:
    """The pinning model is what it claims: TFLM gives the winner 127 (probability 256/256)."""
    from armlprof.model import load_model

    tmp = Path(modelgen.cache_root()) / "models"
    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / "saturating_softmax_test.tflite"
    path.write_bytes(modelgen.saturating_softmax_tflite())
    model = load_model(str(path))
    assert model.reference(np.array([127, -128, 0], dtype=np.int8).tobytes()) == bytes([127, 128, 128])


def test_extreme_inputs_cover_both_ends() -> None:
    inputs = extreme_inputs(16, 3, 200, seed=0)
    assert len(inputs) == 200 and len(set(inputs)) == 200
    assert inputs[0] == bytes([128] * 16) and inputs[1] == bytes([127] * 16)
    wide = extreme_inputs(64, 0, 200, seed=0, dtype="int16")  # int16x8 models: 32 little-endian int16 elements
    assert len(wide) == 200 and len(set(wide)) == 200 and all(len(x) == 64 for x in wide)
    assert wide[0] == b"\x00\x80" * 32 and wide[1] == b"\xff\x7f" * 32


# (group, runtime, board): the first corpus model of each group. operator_chain holds PAD, SUB, MUL,
# CONCATENATION, SQUEEZE (and CONV_2D, MAX_POOL_2D), reduction_chain HARD_SWISH and MEAN, so every newer
# operator also runs on both boards.
EMULATED_SAMPLE = [("saturating_softmax", "tvm-aot", "nano33ble"), ("ADD", "tvm-graph", "spresense"),
                   ("DEPTHWISE_CONV_2D", "tvm-aot", "spresense"), ("operator_chain", "tvm-aot", "nano33ble"),
                   ("operator_chain", "tvm-graph", "spresense"), ("reduction_chain", "tvm-aot", "spresense"),
                   ("reduction_chain", "tvm-graph", "nano33ble"), ("SVDF", "tvm-graph", "nano33ble"),
                   (LSTM, "tvm-aot", "spresense"), ("int16x8_chain", "tvm-aot", "nano33ble"),
                   ("int16x8_ADD", "tvm-graph", "spresense")]


@pytest.mark.slow
@pytest.mark.parametrize(("group", "runtime_name", "board_name"), EMULATED_SAMPLE)
def test_sample_bit_exact_on_emulated_board(models, tmp_path, group: str, runtime_name: str, board_name: str) -> None:
    """A sample of the corpus through the measurement image on the emulator (seeded inputs, CRC compared)."""
    from armlprof.board import load_board
    from armlprof.build import build_sketch
    from armlprof.measure import expected_crc
    from armlprof.model import load_model
    from armlprof.runtime import get_runtime
    from armlprof.sketch import prepare_measurement_sketch
    from armlprof.target import get_target
    from armlprof.target.base import Image

    runtime = get_runtime(runtime_name)
    if (reason := runtime.unavailable_reason()) is not None:
        pytest.skip(reason)
    path = next((p for g, _, p in models if g == group), None)
    if path is None:  # the LSTM without a TFLM tree for its sigmoid table (random_kinds)
        pytest.skip(f"no {group} model in the corpus: no TFLM tree")
    model = load_model(str(path))
    board = load_board(board_name)
    sketch = prepare_measurement_sketch(model, runtime, board, tmp_path)
    gm = sketch.generated
    build = build_sketch(sketch.use("ram_probe"), board, extra_flags=gm.extra_build_flags,
                         extra_objects=gm.extra_objects)
    image = Image(board, build.elf, sketch.sketch_dir, "ram_probe")
    target = get_target("emulator")
    seeds = range(1, 11)
    assert len({expected_crc(model, s) for s in seeds}) > 1
    mismatches = []
    for seed in seeds:
        record = target.run(image, f"alloc=0 seed={seed}", timing=False).last("ram")
        assert record is not None and record.get("status") == "ok"
        if record.get("crc") != expected_crc(model, seed):
            mismatches.append(seed)
    assert mismatches == []
