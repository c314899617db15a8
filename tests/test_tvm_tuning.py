"""Schedule tuning with the emulator as the runner, and the DSP path of non-default and tuned schedules on the
emulated boards: bit-exact with tflite-micro for 20 seeds (the default schedule: tests/test_onboard_exact.py)."""

from __future__ import annotations

import pytest

from armlprof.board import load_board
from armlprof.build import build_sketch
from armlprof.measure import expected_crc
from armlprof.model import load_model
from armlprof.runtime import get_runtime
from armlprof.sketch import prepare_measurement_sketch
from armlprof.target import get_target
from armlprof.target.base import Image

from .conftest import shared_file

pytest.importorskip("tvm")

SEEDS = range(1, 21)


def _crc_mismatches(model, board, tmp_path, runtime_name: str = "tvm-aot", **options) -> list[int]:
    """Seeds whose output CRC differs from tflite-micro's, through the RAM-probe image on the emulator."""
    sketch = prepare_measurement_sketch(model, get_runtime(runtime_name), board, tmp_path, **options)
    build = build_sketch(sketch.use("ram_probe"), board)
    image = Image(board, build.elf, sketch.sketch_dir, "ram_probe")
    target = get_target("emulator")
    bad = []
    for seed in SEEDS:
        outcome = target.run(image, f"alloc=0 seed={seed}", timing=False)
        record = outcome.last("ram")
        assert record is not None and record.get("status") == "ok", (outcome.stop.describe(), outcome.lines[-3:])
        if record.get("crc") != expected_crc(model, seed):
            bad.append(seed)
    return bad


def _every_operator(model, index: int) -> dict[str, str]:
    """Each scheduled operator's index-th variant of its family (wrapping)."""
    from pathlib import Path

    from armlprof.runtime.tvm import kernels
    from armlprof.runtime.tvm.compiler import compile_model

    program = compile_model(Path(model.path), model.sha256)
    choices = {}
    for s in program.steps:
        if s.signature:
            variants = kernels.variants_for(kernels.family_of_signature(s.signature))
            choices[s.signature] = variants[index % len(variants)]
    return choices


def _family_on(model, family: str, variant: str) -> dict[str, str]:
    """Every scheduled operator of one family on `variant` (the others keep their default)."""
    from armlprof.runtime.tvm import kernels

    return {s: variant for s in _every_operator(model, 0) if kernels.family_of_signature(s) == family}


def _pw_layers_mismatches(tmp_path, board, seed: int, input_shape, layers, variant: str) -> list[int]:
    """The CRC mismatches of a generated chain of 1x1 convolutions (out_c, activation) from `input_shape` (NHWC),
    every layer on the pw `variant` (each a distinct geometry)."""
    from armlprof.modelgen import _Builder, _calibration_inputs

    b = _Builder(seed, _calibration_inputs(input_shape, seed))
    b.input(input_shape)
    for i, (out_c, act) in enumerate(layers):
        b.conv(f"pw_{i}", out_c, (1, 1), 1, act, depthwise=False)
    path = tmp_path / "pw_layers.tflite"
    path.write_bytes(b.serialize(f"pw layers on {variant}"))
    model = load_model(str(path))
    choices = _family_on(model, "pw", variant)
    assert len(choices) == len(layers)
    return _crc_mismatches(model, board, tmp_path, choices=choices)


@pytest.mark.slow
# the last variant of each family (gemm, pw t2p1u1, c1 f4, dw n3), the fifth (gemm t4p2u2, c1 t4p1u2, pw t2p2u1, dw p2)
@pytest.mark.parametrize("variant_index", [-1, 4])
@pytest.mark.parametrize("model_name", ["micro_speech_quantized", "person_detect"])
def test_other_schedules_bit_exact_on_emulated_board(tmp_path, model_name: str, variant_index: int) -> None:
    model = load_model(str(shared_file("models", f"{model_name}.tflite")))
    choices = _every_operator(model, variant_index)
    assert choices  # the micro-kernels cover the model's convolutions
    assert _crc_mismatches(model, load_board("nano33ble"), tmp_path, choices=choices) == []


@pytest.mark.slow
@pytest.mark.parametrize("board_name", ["nano33ble", "spresense"])
def test_pw_pixel_pair_kernel_bit_exact_on_emulated_boards(tmp_path, board_name: str) -> None:
    """pw's d4p2 (hand-allocated assembly: runs only on the board) on every 1x1 layer of person_detect: 48x48 to
    3x3 pixels (odd counts, several pixel chunks), 8 to 256 input channels, and its fully connected layer."""
    model = load_model(str(shared_file("models", "person_detect.tflite")))
    choices = _family_on(model, "pw", "d4p2")
    assert len(choices) == 10  # 14 layers; conv_2d_14 ... 22 share one signature
    assert _crc_mismatches(model, load_board(board_name), tmp_path, choices=choices) == []


@pytest.mark.slow
@pytest.mark.parametrize("board_name", ["nano33ble", "spresense"])
def test_pw_pixel_pair_kernel_other_depths_bit_exact_on_emulated_boards(tmp_path, board_name: str) -> None:
    """The d4p2 paths person_detect does not reach: input depths of an odd number of words (12, 20: 2 peeled pairs
    before the 4-pair loop), fused requantization there (20 channels) and the accumulator buffer path (6 output
    channels, not whole groups of 4), 63 pixels (an odd one)."""
    layers = [(20, "RELU6"), (6, "NONE")]
    assert _pw_layers_mismatches(tmp_path, load_board(board_name), 20261201, (1, 7, 9, 12), layers, "d4p2") == []


@pytest.mark.slow
@pytest.mark.parametrize("board_name", ["nano33ble", "spresense"])
def test_pw_fpu_weights_kernel_bit_exact_on_emulated_boards(tmp_path, board_name: str) -> None:
    """pw's f4p2 (weights in FPU registers; assembly that runs only on the board) on every 1x1 layer of
    person_detect: 8 and 16 input channels (one block of 4 and 8 k pairs), 32 to 256 (2 to 16 blocks, partial
    sums between them, fused requantization in the last), 48x48 to 3x3 pixels (several chunks, odd counts)."""
    model = load_model(str(shared_file("models", "person_detect.tflite")))
    choices = _family_on(model, "pw", "f4p2")
    assert len(choices) == 10
    assert _crc_mismatches(model, load_board(board_name), tmp_path, choices=choices) == []


@pytest.mark.slow
@pytest.mark.parametrize("board_name", ["nano33ble", "spresense"])
def test_pw_fpu_weights_kernel_other_depths_bit_exact_on_emulated_boards(tmp_path, board_name: str) -> None:
    """The f4p2 paths person_detect does not reach, on 63 pixels (an odd one): one block of 2 and 6 k pairs (4, 12
    input channels), a first block of 2, 4 k pairs before the 8-pair ones (20, 24, 36, 40), a middle block (36,
    40), fused requantization after partial sums and the accumulator buffer path (6 output channels)."""
    layers = [(8, "NONE"), (12, "RELU6"), (20, "NONE"), (24, "NONE"), (36, "NONE"), (40, "NONE"), (6, "NONE")]
    assert _pw_layers_mismatches(tmp_path, load_board(board_name), 20261202, (1, 7, 9, 4), layers, "f4p2") == []


@pytest.mark.slow
@pytest.mark.parametrize("board_name", ["nano33ble", "spresense"])
def test_pw_fpu_weights_kernel_past_the_constants_table_bit_exact_on_emulated_boards(tmp_path, board_name: str) -> None:
    """f4p2's fused layers of several blocks take their last-block constants from a per-layer table of up to 64
    channel groups; 264 output channels (66 groups) build them per chunk and group instead."""
    layers = [(264, "NONE"), (32, "RELU")]
    assert _pw_layers_mismatches(tmp_path, load_board(board_name), 20261203, (1, 5, 5, 32), layers, "f4p2") == []


@pytest.mark.slow
def test_pw_fpu_weights_kernel_lone_pixel_bit_exact_on_emulated_board(tmp_path) -> None:
    """f4p2's odd last pixel computed alone on 3 pixels (one whole pair, entered at the loop's second half) after a
    first block of 6 k pairs (28 and 44 input channels), fused (44 output channels) and through the accumulator
    buffer (6), with a middle block (44)."""
    layers = [(28, "NONE"), (44, "NONE"), (6, "NONE")]
    assert _pw_layers_mismatches(tmp_path, load_board("spresense"), 20261203, (1, 1, 3, 4), layers, "f4p2") == []


@pytest.mark.slow
@pytest.mark.parametrize("board_name", ["nano33ble", "spresense"])
@pytest.mark.parametrize("model_name,variant", [("micro_speech_quantized", "s4"), ("person_detect", "s4"),
                                                ("person_detect", "f4")])  # f4 on micro_speech's 10x8: s4
def test_c1_sliding_pairs_bit_exact_on_emulated_boards(tmp_path, model_name: str, board_name: str,
                                                       variant: str) -> None:
    """The first layer of both study models on the c1 variants s4 and f4 (sliding pixel pairs; their assembly runs
    only on the M4), the other operators on their defaults."""
    model = load_model(str(shared_file("models", f"{model_name}.tflite")))
    choices = _family_on(model, "c1", variant)
    assert len(choices) == 1
    assert _crc_mismatches(model, load_board(board_name), tmp_path, choices=choices) == []


def _c1_layer_model(tmp_path, geometry, description: str):
    """A one-layer model: a one-channel input (h, w) through a conv (or depthwise, multiplier out_c) with kernel k,
    stride 2, SAME, RELU; geometry = ((h, w), k, out_c, depthwise). Returns the .tflite path."""
    from armlprof import modelgen

    (h, w), k, out_c, depthwise = geometry
    b = modelgen._Builder(7, modelgen._calibration_inputs((1, h, w, 1), 7))
    b.input((1, h, w, 1))
    b.conv("conv", out_c, k, 2, "RELU", depthwise=depthwise)
    path = tmp_path / "c1.tflite"
    path.write_bytes(b.serialize(description))
    return path


# One-channel first layers (SAME, stride 2) that reach s4's other assembly paths on the board: kernel rows of 4
# pair words with an odd row count, of 2 pair words with an even and an odd count (not 3), a 2-row kernel (the
# first rows are the whole kernel), rows of 6 pair words (the portable steps), output channels 5, 6 and 7 (the
# single- and two-channel requantization runs); odd output widths (phantom pixels).
C1_GEOMETRIES = [((13, 17), (5, 5), 6, False), ((12, 15), (4, 3), 5, True), ((11, 16), (5, 3), 8, False),
                 ((9, 20), (2, 8), 4, True), ((14, 30), (6, 12), 7, False)]


@pytest.mark.slow
@pytest.mark.parametrize("geometry", C1_GEOMETRIES, ids=lambda g: f"{g[0][0]}x{g[0][1]}_k{g[1][0]}x{g[1][1]}_oc{g[2]}")
def test_c1_sliding_pairs_other_geometries_bit_exact_on_emulated_board(tmp_path, geometry) -> None:
    model = load_model(str(_c1_layer_model(tmp_path, geometry, "s4 geometry")))
    choices = _family_on(model, "c1", "s4")
    assert len(choices) == 1
    assert _crc_mismatches(model, load_board("spresense"), tmp_path, choices=choices) == []


# f4's own path beyond person_detect's first layer: top and left padding, 3 channel groups, 2-tap kernel rows (a
# depthwise first layer), one output row (the loop's end on the first row end).
F4_GEOMETRIES = [((11, 12), (3, 3), 12, False), ((9, 12), (3, 2), 4, True), ((3, 4), (3, 3), 4, False)]


@pytest.mark.slow
@pytest.mark.parametrize("geometry", F4_GEOMETRIES, ids=lambda g: f"{g[0][0]}x{g[0][1]}_k{g[1][0]}x{g[1][1]}_oc{g[2]}")
def test_c1_fused_pairs_other_geometries_bit_exact_on_emulated_board(tmp_path, geometry) -> None:
    from armlprof.runtime.tvm.importer import import_tflite
    from armlprof.runtime.tvm.ops import conv_multipliers

    path = _c1_layer_model(tmp_path, geometry, "f4 geometry")
    graph = import_tflite(path)
    op = graph.operators[0]
    _, shifts = conv_multipliers(*(graph.tensors[i] for i in (op.inputs[0], op.inputs[1], op.outputs[0])),
                                 geometry[2])
    assert (shifts <= -1).all()  # every channel on f4's fast path (else it would run s4)
    model = load_model(str(path))
    choices = _family_on(model, "c1", "f4")
    assert len(choices) == 1
    assert _crc_mismatches(model, load_board("spresense"), tmp_path, choices=choices) == []


@pytest.mark.slow
@pytest.mark.parametrize("board_name", ["nano33ble", "spresense"])
def test_dw_fused_rows_bit_exact_on_emulated_boards(tmp_path, board_name: str) -> None:
    """dw's f3 (fused taps and requantization, plane conversion in assembly: runs only on the board) on every
    depthwise layer of person_detect: stride 1 at 48, 24, 12 and 6 outputs per row (6-output units; 6: one unit, no
    unit loop), stride 2 at 24, 12 and 6, 8 to 256 channels, and the 3-wide layers (odd: t3's code)."""
    model = load_model(str(shared_file("models", "person_detect.tflite")))
    choices = _family_on(model, "dw", "f3")
    assert len(choices) == 9  # 13 depthwise operators, 9 distinct geometries
    assert _crc_mismatches(model, load_board(board_name), tmp_path, choices=choices) == []


@pytest.mark.slow
@pytest.mark.parametrize("board_name", ["nano33ble", "spresense"])
def test_dw_fused_rows_other_geometries_bit_exact_on_emulated_boards(tmp_path, board_name: str) -> None:
    """The f3 paths person_detect does not reach: 12 channels (3 groups), an odd height, rows of 2 6-output units
    (12 wide, stride 1), of a unit and a pair at stride 2 (5x6), of one 6-output unit (5x6, stride 1), of a pair
    only (2x2: no unit, both strides), an odd width between them (5x6 -> 3x3: t3's code), a left pad of 0 at stride
    2 from an even input; then (a second model) a layer whose output scale, divided by 200, puts 5 of its 12
    channels off the fast path (multipliers >= 0.5: no right shift), so its groups mix fused channels one at a time
    with t3's code and its rows go in accumulator chunks; then (a third) stride-1 rows of 4-output units (20 wide:
    not a multiple of 6) and of units and a pair (10 wide), and bands of output rows (56 rows at stride 1, 28 at
    stride 2: the planes hold 52 and 26)."""
    from armlprof.modelgen import _Builder, _calibration_inputs
    from armlprof.runtime.tvm import kernels

    seed = 20261202
    b = _Builder(seed, _calibration_inputs((1, 9, 12, 12), seed))
    b.input((1, 9, 12, 12))
    b.conv("dw_s1_9x12", 12, (3, 3), 1, "NONE", depthwise=True)
    b.conv("dw_s2_5x6", 12, (3, 3), 2, "RELU", depthwise=True)
    b.conv("dw_s1_5x6", 12, (3, 3), 1, "RELU6", depthwise=True)
    b.conv("dw_s2_3x3", 12, (3, 3), 2, "NONE", depthwise=True)
    b.conv("dw_s2_2x2", 12, (3, 3), 2, "NONE", depthwise=True)
    b.conv("dw_s1_2x2", 12, (3, 3), 1, "RELU", depthwise=True)
    mixed = _Builder(seed, _calibration_inputs((1, 9, 12, 12), seed))
    mixed.input((1, 9, 12, 12))
    mixed.conv("dw_s1_mixed", 12, (3, 3), 1, "NONE", depthwise=True)
    mixed.tensors[mixed.current].scale = [mixed.tensors[mixed.current].scale[0] / 200]
    units4 = _Builder(seed, _calibration_inputs((1, 56, 20, 4), seed))
    units4.input((1, 56, 20, 4))
    units4.conv("dw_s1_56x20", 4, (3, 3), 1, "RELU", depthwise=True)
    units4.conv("dw_s2_28x10", 4, (3, 3), 2, "NONE", depthwise=True)
    units4.conv("dw_s1_28x10", 4, (3, 3), 1, "RELU6", depthwise=True)
    for name, builder, layers in (("dw_fused", b, 6), ("dw_mixed", mixed, 1), ("dw_units4", units4, 3)):
        path = tmp_path / f"{name}.tflite"
        path.write_bytes(builder.serialize(name))
        model = load_model(str(path))
        choices = _family_on(model, "dw", "f3")
        assert len(choices) == layers
        if name == "dw_mixed":
            _, qp = _dw_constants(path, "f3")[0]
            fold = qp[12 * 4:].reshape(12, kernels.DW_T3_WORDS)[:, 10]
            assert list(fold) == [1] * 7 + [0] * 3 + [1] * 2
        assert _crc_mismatches(model, load_board(board_name), tmp_path, choices=choices) == [], name


@pytest.mark.slow
@pytest.mark.parametrize("board_name", ["nano33ble", "spresense"])
def test_average_pool_kernel_bit_exact_on_emulated_boards(tmp_path, board_name: str) -> None:
    """pool a4's DSP path (SXTAB16 lanes: runs only on the boards) on pools person_detect lacks, each the default
    schedule: SAME 3x3 at stride 2 from an odd input (border windows of 4 and 6 taps), VALID 2x3 at stride 1 under a
    RELU6 clamp, SAME 5x5 windows wider than the input under RELU, 12 channels (3 groups)."""
    from pathlib import Path

    from armlprof import modelgen
    from armlprof.runtime.tvm.compiler import compile_model

    seed = 20261202
    b = modelgen._Builder(seed, modelgen._calibration_inputs((1, 9, 11, 12), seed))
    b.input((1, 9, 11, 12))
    b.pool_window("same3x3_s2", "AVERAGE_POOL_2D", (3, 3), (2, 2), "SAME", "NONE")
    b.pool_window("valid2x3_s1", "AVERAGE_POOL_2D", (2, 3), (1, 1), "VALID", "RELU6")
    b.pool_window("same5x5_s1", "AVERAGE_POOL_2D", (5, 5), (1, 1), "SAME", "RELU")
    path = tmp_path / "pools.tflite"
    path.write_bytes(b.serialize("average pools"))
    model = load_model(str(path))
    program = compile_model(Path(model.path), model.sha256)
    assert [s.schedule for s in program.steps] == ["a4"] * 3
    assert _crc_mismatches(model, load_board(board_name), tmp_path) == []


@pytest.mark.slow
@pytest.mark.parametrize("board_name", ["nano33ble", "spresense"])
def test_dw_pair_planes_bit_exact_on_emulated_boards(tmp_path, board_name: str) -> None:
    """dw's q3 (raw channel-pair planes, assembly on the board) on every depthwise layer of person_detect: its own
    path at stride 2 (24, 12, 6 and 3 outputs a row: units of 4, a unit and a pair, a pair and a single; 16 to 128
    channels), f3 at stride 1."""
    model = load_model(str(shared_file("models", "person_detect.tflite")))
    choices = _family_on(model, "dw", "q3")
    assert len(choices) == 9
    assert _crc_mismatches(model, load_board(board_name), tmp_path, choices=choices) == []


@pytest.mark.slow
def test_dw_pair_planes_other_geometries_bit_exact_on_emulated_board(tmp_path) -> None:
    """q3's paths person_detect does not reach: a left padding word (odd input, SAME), 7 outputs a row (a unit, a
    pair and a single), 3 channel groups, 2 bands (82 output rows: the later band's bottom padding row), a right
    padding word (VALID, odd input: the layer's padding patched after the builder's SAME)."""
    from armlprof.modelgen import _Builder, _calibration_inputs

    seed = 20261203
    models = []
    for name, shape, valid in (("dw_q3_same", (1, 163, 13, 12), False), ("dw_q3_valid", (1, 9, 11, 4), True)):
        b = _Builder(seed, _calibration_inputs(shape, seed))
        b.input(shape)
        b.conv(name, shape[3], (3, 3), 2, "RELU", depthwise=True)
        if valid:
            b.ops[-1].options["padding"] = "VALID"
            b.tensors[b.current].shape = (1, (shape[1] - 1) // 2, (shape[2] - 1) // 2, shape[3])
        path = tmp_path / f"{name}.tflite"
        path.write_bytes(b.serialize(name))
        (geometry, qp), = _dw_constants(path, "q3")
        assert qp[16 * geometry.out_c] == 1  # q3's own path
        models.append(load_model(str(path)))
    for model in models:
        choices = _family_on(model, "dw", "q3")
        assert len(choices) == 1
        assert _crc_mismatches(model, load_board("spresense"), tmp_path, choices=choices) == [], model.path


def _dw_constants(path, variant: str) -> list:
    """(geometry, qparams) of each depthwise operator of a .tflite built for `variant`."""
    from armlprof.runtime.tvm import kernels
    from armlprof.runtime.tvm.importer import import_tflite

    graph = import_tflite(path)
    out = []
    for op in graph.operators:
        sched = kernels.plan(graph, op)
        if sched is not None and sched.family == "dw":
            kernel = kernels.build(graph, op, sched, variant)
            out.append((sched.geometry, dict(kernel.constants)["qparams"]))
    return out


@pytest.mark.slow
# f3: also its stride-2 path and the 3x3-pixel layer, which the default gives to q3 and n3; the default (f3 on the
# other stride-1 layers): above; p2: index 4, n3: index -1 above
@pytest.mark.parametrize("variant", ["r1", "p1", "t3", "f3"])
def test_depthwise_variants_bit_exact_on_emulated_board(tmp_path, variant: str) -> None:
    """person_detect with every depthwise operator on one of the dw variants the tests above do not reach."""
    model = load_model(str(shared_file("models", "person_detect.tflite")))
    choices = _family_on(model, "dw", variant)
    assert len(choices) == 9  # 13 depthwise operators, 9 distinct geometries
    assert _crc_mismatches(model, load_board("nano33ble"), tmp_path, choices=choices) == []


@pytest.mark.slow
@pytest.mark.parametrize("board_name", ["nano33ble", "spresense"])
def test_dw_few_pixel_kernel_bit_exact_on_emulated_boards(tmp_path, board_name: str) -> None:
    """dw's n3 (hand-allocated assembly with FPU-held constants: runs only on the board) on every depthwise layer of
    person_detect: its own path on the 12x12 to 3x3 ones (strides 1 and 2, 64 to 256 channels), r1 on the larger
    ones (padded buffer over 16 KiB)."""
    model = load_model(str(shared_file("models", "person_detect.tflite")))
    choices = _family_on(model, "dw", "n3")
    assert len(choices) == 9
    assert _crc_mismatches(model, load_board(board_name), tmp_path, choices=choices) == []


# n3's paths person_detect does not reach on the board: the stride-1 pixel pairs with an odd row (the last pixel
# alone), 3 channel groups (the padding copy's C loop).
N3_GEOMETRIES = [(7, 7, 16), (9, 10, 12)]


@pytest.mark.slow
@pytest.mark.parametrize("geometry", N3_GEOMETRIES, ids=lambda g: "x".join(map(str, g)))
def test_dw_few_pixel_kernel_other_geometries_bit_exact_on_emulated_board(tmp_path, geometry) -> None:
    import numpy as np

    from armlprof import modelgen
    from armlprof.runtime.tvm import fixedpoint as fp
    from armlprof.runtime.tvm import kernels
    from armlprof.runtime.tvm.importer import import_tflite
    from armlprof.runtime.tvm.ops import conv_multipliers

    h, w, c = geometry
    b = modelgen._Builder(5, modelgen._calibration_inputs((1, h, w, c), 5))
    b.input((1, h, w, c))
    b.conv("dw", c, (3, 3), 1, "RELU", depthwise=True)
    path = tmp_path / "dw.tflite"
    path.write_bytes(b.serialize("n3 geometry"))
    graph = import_tflite(path)
    op = graph.operators[0]
    t_in, t_w, t_out = (graph.tensors[i] for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
    mults, shifts = conv_multipliers(t_in, t_w, t_out, c)
    lo, hi = fp.activation_range("RELU", float(t_out.scale[0]), int(t_out.zero_point[0]))
    qp = kernels.dw_qparams("n3", t_w.data, graph.tensors[op.inputs[2]].data.astype(np.int64), mults, shifts, 1,
                            int(t_out.zero_point[0]), lo, hi)
    assert qp[4 * c] == 1  # n3's own path, not r1
    model = load_model(str(path))
    choices = _family_on(model, "dw", "n3")
    assert len(choices) == 1
    assert _crc_mismatches(model, load_board("spresense"), tmp_path, choices=choices) == []


@pytest.mark.slow
def test_small_tuning_run_records_reuse_and_bit_exact(tmp_path, monkeypatch) -> None:
    """Two candidates per operator of micro_speech on nano33ble: records per (signature, board, flags), the best
    variant chosen, a second tuning measures nothing, and the tuned build is bit-exact on the board."""
    from armlprof.runtime.tvm import kernels, tuning

    records_file = tmp_path / "tuning.json"
    monkeypatch.setattr(tuning, "records_path", lambda: records_file)
    model = load_model(str(shared_file("models", "micro_speech_quantized.tflite")))
    board = load_board("nano33ble")
    choices = tuning.tune(model, board, 2)
    records = tuning.load_records()
    flags = tuning.flags_key(board)
    assert len(records) == 2 and all(k.endswith(f"|nano33ble|{flags}") for k in records)
    for key, measured in records.items():
        family = kernels.family_of_signature(key.split("|")[0])  # the one-channel depthwise (c1), the FC (gemm)
        assert set(measured) == set(kernels.variants_for(family)[:2])
        assert all(c > 0 for c in measured.values())
        assert choices[key.split("|")[0]] == min(measured, key=measured.get)
    # different variants really cost different cycles (the measurement sees the schedule)
    assert any(len(set(m.values())) > 1 for m in records.values())

    def no_measuring(*_args):
        raise AssertionError("a second tuning of the same operators must reuse the records")

    monkeypatch.setattr(tuning, "_candidate", no_measuring)
    assert tuning.tune(model, board, 8) == choices
    assert tuning.tune(model, load_board("spresense"), 0) == {}  # records are per board
    assert _crc_mismatches(model, board, tmp_path, schedule="tuned") == []


def test_tune_option_reaches_both_tvm_runtimes_and_rejects_negative(capsys) -> None:
    from armlprof.cli import build_parser, main
    from armlprof.cli.options import profile_options

    args = build_parser().parse_args(["profile", "--model", "builtin:dense", "--runtime", "tvm-aot", "--board",
                                      "nano33ble", "--tune", "3", "--optimization=-O2"])
    options = profile_options(args)
    assert options.runtime_options["tvm-aot"] == {"tune": 3, "schedule": "tuned", "optimization": "-O2"}
    assert options.runtime_options["tvm-graph"] == options.runtime_options["tvm-aot"]
    assert main(["profile", "--model", "builtin:dense", "--runtime", "tvm-aot", "--board", "nano33ble",
                 "--tune", "-1"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--tune -1" in err[0]


def test_unknown_tvm_option_is_one_clear_error(tmp_path) -> None:
    from armlprof.errors import ArmlprofError
    from armlprof.runtime import get_runtime

    # The Runtime base class checks the declared options before generate() sees the model.
    with pytest.raises(ArmlprofError, match="schedule='fast' is not one of default, tuned, te"):
        get_runtime("tvm-aot").generate(object(), tmp_path, None, schedule="fast")
    with pytest.raises(ArmlprofError, match="unknown tvm-aot option"):
        get_runtime("tvm-aot").generate(object(), tmp_path, None, tile=4)


def test_failed_candidate_crosses_the_process_pool_as_one_error(monkeypatch) -> None:
    """A candidate whose build fails (CompileError takes two constructor arguments, so it does not unpickle in the
    parent) reaches the tuner as a plain ArmlprofError naming the candidate, not as a BrokenProcessPool."""
    import pickle

    from armlprof.errors import ArmlprofError, CompileError
    from armlprof.runtime.tvm import tuning

    def fail(*_args, **_kwargs):
        raise CompileError("sketch did not compile", "armlprof_kernels.c:1: error: ...")

    monkeypatch.setattr(tuning, "layer_cycles", fail)
    model_path = shared_file("models", "micro_speech_quantized.tflite")
    with pytest.raises(ArmlprofError) as info:
        tuning._candidate((str(model_path), "nano33ble", None, {"sig": "t4p2u2"}, None, []))
    assert type(info.value) is ArmlprofError and "t4p2u2" in str(info.value) and "did not compile" in str(info.value)
    assert str(pickle.loads(pickle.dumps(info.value))) == str(info.value)
