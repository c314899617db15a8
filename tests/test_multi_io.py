"""Models with several inputs and outputs (issue 15): packed I/O buffers, one CRC per output, every runtime.

`builtin:multi_io` has two inputs ([1,8,8,1] and [1,16]) and two outputs (a SOFTMAX head of 3 and the ADD joining
the branches, 4 values, which the head also reads). The host reference, both TVM runtimes on the host and on the
emulated nano33ble, and TFLM on the emulator (with the tests' TFLM tree) must agree bit for bit.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from armlprof import modelgen
from armlprof.errors import ArmlprofError, ModelError
from armlprof.measure import expected_crc, wrong_output
from armlprof.protocol import crc32, crc_list, input_from_seed, inputs_from_seed, io_bytes, io_offsets, pack, unpack
from armlprof.runtime.base import write_model_header

SEEDS = range(1, 201)
BOARD_SEEDS = range(1, 9)

pytest.importorskip("tflite_micro")


@pytest.fixture(scope="module")
def model():
    from armlprof.model import load_model

    return load_model("builtin:multi_io")


# ---------------------------------------------------------------- protocol and model
def test_packed_layout_and_single_tensor_compatibility() -> None:
    assert io_offsets([64, 16]) == [0, 64] and io_offsets([3, 4, 1]) == [0, 16, 32]
    assert io_bytes([3, 4]) == 20 and io_bytes([10]) == 10  # one tensor: no padding, as always
    parts = [b"abc", b"defg"]
    packed = pack(parts, [3, 4])
    assert packed == b"abc" + bytes(13) + b"defg" and unpack(packed, [3, 4]) == parts
    with pytest.raises(ValueError):
        pack([b"ab", b"defg"], [3, 4])
    # One input: the stream the sketches always generated; several: the same stream cut in input order.
    assert inputs_from_seed(7, [100]) == [input_from_seed(7, 100)]
    assert b"".join(inputs_from_seed(7, [64, 16])) == input_from_seed(7, 80)
    assert crc_list([b"abc"]) == crc32(b"abc") and crc_list([b"a", b"b"]) == f"{crc32(b'a')},{crc32(b'b')}"


def test_single_io_header_is_unchanged_and_multi_io_header_has_the_layout(tmp_path) -> None:
    single = write_model_header(tmp_path / "one", "tvm-aot", 10, 4).read_text()
    assert "MODEL_INPUTS" not in single and "#define MODEL_OUTPUT_BYTES 4\n" in single
    multi = write_model_header(tmp_path / "two", "tvm-aot", 80, 20, [64, 16], [3, 4]).read_text()
    for line in ("#define MODEL_INPUTS 2", "#define MODEL_INPUT_OFFSETS {0, 64}", "#define MODEL_OUTPUTS 2",
                 "#define MODEL_OUTPUT_SIZES {3, 4}", "#define MODEL_OUTPUT_OFFSETS {0, 16}"):
        assert line in multi


def test_wrong_output_names_the_output_that_differs() -> None:
    assert wrong_output("0000000a", "0000000a") is None
    assert wrong_output("0000000b", "0000000a") == "wrong output (crc 0000000b, reference 0000000a)"
    assert wrong_output("0000000a,0000000c", "0000000a,0000000b") == \
        "wrong output (output 1 crc 0000000c, reference 0000000b)"
    assert "reference 0000000a,0000000b" in wrong_output("0000000a", "0000000a,0000000b")
    assert wrong_output(None, "0000000a") == "wrong output (crc None, reference 0000000a)"


def test_model_has_two_inputs_and_two_outputs_each_depending_on_both_inputs(model) -> None:
    assert (model.input_sizes, model.output_sizes) == ([64, 16], [3, 4])
    assert (model.input_bytes, model.output_bytes) == (80, 20) and not model.single_io
    a, b = inputs_from_seed(3, model.input_sizes)
    base = model.reference_outputs([a, b])
    other_a = model.reference_outputs([bytes(64), b])
    other_b = model.reference_outputs([a, bytes(16)])
    for k in range(2):  # every output reads both inputs: a runtime that mixes them up cannot pass
        assert base[k] != other_a[k] and base[k] != other_b[k]
    assert model.reference(pack([a, b], model.input_sizes)) == pack(base, model.output_sizes)
    assert len({crc for crc in (expected_crc(model, s) for s in range(1, 21))}) == 20
    with pytest.raises(ArmlprofError, match=r"inputs of \[64, 16\] bytes"):
        model.reference_outputs([a])


def test_reference_equals_tflite_micro_called_directly_for_many_seeds(model) -> None:
    from tflite_micro.python.tflite_micro import runtime

    it = runtime.Interpreter.from_file(str(model.path))
    for seed in SEEDS:
        inputs = inputs_from_seed(seed, model.input_sizes)
        for k, data in enumerate(inputs):
            it.set_input(np.frombuffer(data, np.int8).reshape(it.get_input_details(k)["shape"]), k)
        it.invoke()
        want = [np.asarray(it.get_output(k), np.int8).tobytes() for k in range(2)]
        assert model.reference_outputs(inputs) == want, seed


def test_vela_model_is_one_line_at_load(tmp_path) -> None:
    from armlprof.model import load_model

    path = tmp_path / "vela.tflite"
    path.write_bytes(modelgen.vela_like_tflite())
    with pytest.raises(ModelError) as err:
        load_model(str(path))
    assert "Ethos-U" in str(err.value) and "Vela" in str(err.value) and "\n" not in str(err.value)


# ---------------------------------------------------------------- TVM runtimes on the host
@pytest.fixture(scope="module")
def host_builds(model, tmp_path_factory) -> dict:
    pytest.importorskip("tvm")
    if shutil.which("gcc") is None:
        pytest.skip("host gcc not installed")
    from tests.test_tvm import RUNTIMES, host_compile

    root = tmp_path_factory.mktemp("multi_io_host")
    return {runtime: host_compile(model, runtime, root / runtime)[0] for runtime in RUNTIMES}


@pytest.mark.parametrize("runtime", ["tvm-aot", "tvm-graph"])
def test_tvm_host_bit_exact_for_many_seeds(model, host_builds, runtime) -> None:
    from tests.test_tvm import host_run

    inputs = [pack(inputs_from_seed(seed, model.input_sizes), model.input_sizes) for seed in SEEDS]
    got = host_run(host_builds[runtime], inputs, model.output_bytes)
    assert [s for s, x, y in zip(SEEDS, inputs, got, strict=True) if model.reference(x) != y] == []


@pytest.mark.parametrize("runtime", ["tvm-aot", "tvm-graph"])
def test_stripped_multi_io_model_is_bit_exact(model, runtime, tmp_path) -> None:
    """No tensor names at all (hello_world_int8_stripped style), several inputs and outputs."""
    pytest.importorskip("tvm")
    if shutil.which("gcc") is None:
        pytest.skip("host gcc not installed")
    from armlprof.model import load_model
    from tests.test_tvm import host_compile, host_run

    path = tmp_path / "multi_io_stripped.tflite"
    path.write_bytes(modelgen.multi_io_tflite(tensor_names=False))
    stripped = load_model(str(path))
    assert stripped.input_sizes == model.input_sizes and stripped.output_sizes == model.output_sizes
    exe, _ = host_compile(stripped, runtime, tmp_path / runtime)
    inputs = [pack(inputs_from_seed(seed, model.input_sizes), model.input_sizes) for seed in range(1, 41)]
    assert host_run(exe, inputs, model.output_bytes) == [model.reference(x) for x in inputs]


def test_tvm_rejects_an_input_that_is_also_an_output(tmp_path) -> None:
    pytest.importorskip("tvm")
    from armlprof.runtime.tvm.importer import Graph, Tensor, _check_io

    t = Tensor(0, "x", (1, 4), "int8", np.array([0.1], np.float32), np.array([0]), 0)
    with pytest.raises(ArmlprofError, match="listed 2 times"):
        _check_io(Graph([t], [], [0], [0], []), "echo.tflite")


# ---------------------------------------------------------------- emulated nano33ble
def _board_crcs(model, runtime_name: str, work, **options) -> tuple[list[str], list[str]]:
    """(crc= of each seed's ram_probe run on the emulated nano33ble, the ready line's fields)."""
    from armlprof.board import load_board
    from armlprof.build import build_sketch
    from armlprof.runtime import get_runtime
    from armlprof.sketch import prepare_measurement_sketch
    from armlprof.target import get_target
    from armlprof.target.base import Image

    runtime = get_runtime(runtime_name)
    if (reason := runtime.unavailable_reason(**options)) is not None:
        pytest.skip(reason)
    board = load_board("nano33ble")
    sketch = prepare_measurement_sketch(model, runtime, board, work, **options)
    gm = sketch.generated
    build = build_sketch(sketch.use("ram_probe"), board, extra_flags=gm.extra_build_flags,
                         extra_objects=gm.extra_objects)
    image = Image(board, build.elf, sketch.sketch_dir, "ram_probe")
    target = get_target("emulator")
    crcs, ready = [], None
    try:
        for seed in BOARD_SEEDS:
            outcome = target.run(image, f"alloc=0 seed={seed}", timing=False)
            record = outcome.last("ram")
            assert record is not None and record.get("status") == "ok", (outcome.stop.describe(), outcome.lines[-3:])
            crcs.append(record.get("crc"))
            ready = outcome.last("ready")
    finally:
        target.close()
    return crcs, ready


@pytest.mark.slow
@pytest.mark.parametrize("runtime_name", ["tvm-aot", "tvm-graph"])
def test_tvm_bit_exact_on_emulated_nano33ble(model, runtime_name, tmp_path) -> None:
    pytest.importorskip("tvm")
    crcs, ready = _board_crcs(model, runtime_name, tmp_path)
    assert crcs == [expected_crc(model, seed) for seed in BOARD_SEEDS]
    assert all(len(c.split(",")) == 2 for c in crcs)
    assert ready.get("inputs") == "2" and ready.get("outputs") == "2" and ready.get("input_bytes") == "80"


@pytest.mark.slow
def test_tflm_bit_exact_on_emulated_nano33ble(model, tflm_tree, tmp_path) -> None:
    crcs, _ = _board_crcs(model, "tflm", tmp_path, tflm_root=tflm_tree.root)
    assert crcs == [expected_crc(model, seed) for seed in BOARD_SEEDS]


@pytest.mark.slow
def test_profile_all_four_figures_for_multi_io(tmp_path) -> None:
    """The whole profile (RAM bisection, init and inference runs, each checking both outputs' CRCs)."""
    pytest.importorskip("tvm")
    from armlprof.study import ProfileOptions, profile

    written = profile("builtin:multi_io", "tvm-aot", "nano33ble", tmp_path / "results.jsonl",
                      ProfileOptions(quick=True), progress=lambda _: None)
    assert [r["metric"] for r in written] == ["flash", "ram", "init", "inference"]
    assert all(r["status"] == "ok" for r in written), [r.get("reason") for r in written]
    assert written[1]["values"]["free_ram_bytes"] > 0 and written[3]["values"]["cycles"] > 0
