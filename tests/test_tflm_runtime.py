"""Runtime `tflm` on a real TFLM tree: the configured one, else ../shared's Arduino library (tests/conftest.py
`tflm_tree`; skipped with the one-line reason when neither is there). Generated sources bit-exact with the
tflite-micro reference on the emulated boards and on the host, both study models built for both boards with
armlprof's core, all four figures of the TFLM row on both boards, the cached library reused, and the record key
naming the tree and kernels.

Cold cost: the first run compiles the TFLM library once per board flags (nano33ble softfp, spresense hard float);
every later test and run reuses them from the cache (<cache>/tflm/); see README. The host build's tests run on
request (ARMLPROF_TEST_TFLM_HOST=1)."""

from __future__ import annotations

import pytest

from armlprof.board import load_board
from armlprof.model import load_model
from armlprof.protocol import input_from_seed
from armlprof.runtime.tflm import tree as tflm
from armlprof.runtime.tflm.runtime import HostModel, TflmRuntime, dsp_scratch_bytes, target_arena_bytes
from tests.conftest import shared_file

STUDY_MODELS = ["micro_speech_quantized", "person_detect"]
BOARDS = ["nano33ble", "spresense"]
SEEDS = range(1, 21)

# Init once, then one inference per seed, each output printed in hex; then exit (ends an emulator run).
CHECK_SKETCH = """\
#include "src/model.h"
static int8_t input[MODEL_INPUT_BYTES];
static int8_t output[MODEL_OUTPUT_BYTES];
extern "C" size_t model_tflm_arena_used_bytes(void);

static void fill(uint32_t seed) {
  uint32_t x = seed ? seed : 1u;
  for (size_t i = 0; i < MODEL_INPUT_BYTES; ++i) {
    x ^= x << 13; x ^= x >> 17; x ^= x << 5;
    input[i] = (int8_t)(x >> 24);
  }
}

void setup() {
  Serial.begin(115200);
  int status = model_init();
  Serial.print("@armlprof event=init status=");
  Serial.print(status);
  Serial.print(" arena_used=");
  Serial.println((unsigned long)model_tflm_arena_used_bytes());
  for (uint32_t seed = 1; status == 0 && seed <= 20; ++seed) {
    fill(seed);
    int rc = model_inference(input, output);
    Serial.print("@armlprof event=output seed=");
    Serial.print(seed);
    Serial.print(" status=");
    Serial.print(rc);
    Serial.print(" hex=");
    for (size_t i = 0; i < MODEL_OUTPUT_BYTES; ++i) {
      const char *d = "0123456789abcdef";
      Serial.print(d[(uint8_t)output[i] >> 4]);
      Serial.print(d[(uint8_t)output[i] & 15]);
    }
    Serial.println();
  }
  exit(status);
}

void loop() {}
"""


@pytest.fixture(scope="module")
def tree(tflm_tree) -> tflm.TflmTree:
    return tflm_tree


HOST_ENV_VAR = "ARMLPROF_TEST_TFLM_HOST"


@pytest.fixture
def host_tree(tree) -> tflm.TflmTree:
    """The tree, for tests of the host build (HostModel: the arena fallback when no target can run the probe).
    That needs a third library build (host gcc, minutes on a cold cache) that nothing else in CI needs, so it runs
    on request only: set ARMLPROF_TEST_TFLM_HOST=1."""
    import os

    if not os.environ.get(HOST_ENV_VAR):
        pytest.skip(f"host build of TFLM only on request (a third library build): set {HOST_ENV_VAR}=1")
    return tree


def _generate(tree, model, src_dir, board, **options):
    return TflmRuntime().generate(model, src_dir, board, tflm_root=tree.root, **options)


def _model(name: str):
    return load_model(str(shared_file("models", f"{name}.tflite")))


@pytest.mark.slow
@pytest.mark.parametrize("name", STUDY_MODELS)
def test_generated_source_is_bit_exact_on_host(host_tree, name):
    tree = host_tree
    model = _model(name)
    host = HostModel(model, tree, tree.default_kernels())
    inputs = [input_from_seed(seed, model.input_bytes) for seed in SEEDS]
    outputs = host.run(inputs)
    assert len(outputs) == len(inputs)
    mismatches = [seed for seed, x, y in zip(SEEDS, inputs, outputs, strict=True) if model.reference(x) != y]
    assert mismatches == []
    # Not a constant: different inputs give different outputs somewhere.
    assert len(set(outputs)) > 1 or name == "person_detect"


@pytest.mark.slow
@pytest.mark.parametrize("name", STUDY_MODELS)
def test_arena_estimate_covers_the_host_measurement(host_tree, name):
    tree = host_tree
    model = _model(name)
    used = HostModel(model, tree, "cmsis-nn").arena_used_bytes()
    assert 1000 < used < 1_000_000
    arena = target_arena_bytes(model, used, "cmsis-nn")
    assert arena % 16 == 0 and arena >= used + dsp_scratch_bytes(model) + 16
    assert dsp_scratch_bytes(model) > 0  # both study models have depthwise convolutions


def _write_sketch(tmp_path, name: str):
    sketch = tmp_path / f"tflm_{name}"
    sketch.mkdir()
    (sketch / f"{sketch.name}.ino").write_text(CHECK_SKETCH)
    return sketch


@pytest.mark.slow
@pytest.mark.parametrize("board_name", BOARDS)
@pytest.mark.parametrize("name", STUDY_MODELS)
def test_builds_for_board_with_static_arena_and_model_in_flash(tree, tmp_path, board_name, name):
    from armlprof.build import build_sketch

    board = load_board(board_name)
    model = _model(name)
    sketch = _write_sketch(tmp_path, name)
    generated = _generate(tree, model, sketch / "src", board)
    assert (sketch / "src" / "model.h").is_file() and (sketch / "src" / "model_tflm.cpp").is_file()
    assert generated.extra_objects[0].name == "libtflm.a"
    assert generated.workspace_bytes and generated.workspace_bytes % 16 == 0

    result = build_sketch(sketch, board, extra_flags=generated.extra_build_flags,
                          extra_objects=generated.extra_objects)
    symbols = {s.name: s for s in result.largest_symbols}
    model_bytes = model.path.stat().st_size
    assert symbols["g_tflm_model_data"].size_bytes == model_bytes
    # In the read-only image (the core's linker scripts put .rodata in .text), never copied to RAM.
    assert symbols["g_tflm_model_data"].kind in ("const", "code")
    if generated.workspace_bytes > 4096:  # small arenas fall out of the ten largest
        assert symbols["_ZL7g_arena"].size_bytes == generated.workspace_bytes
        assert symbols["_ZL7g_arena"].kind == "bss"
    assert result.bss_bytes >= generated.workspace_bytes
    if board.image_in_ram:  # the Spresense image holds .bss: the static arena counts, as in the study
        assert result.flash_bytes == result.text_bytes + result.data_bytes + result.bss_bytes
    else:
        assert result.flash_bytes == result.text_bytes + result.data_bytes
    assert result.model_flash_bytes > model_bytes


@pytest.mark.slow
def test_second_generate_reuses_the_library(tree, tmp_path):
    board = load_board("nano33ble")
    model = _model("micro_speech_quantized")
    first = _generate(tree, model, tmp_path / "a" / "src", board)
    lib = first.extra_objects[0]
    mtime_ns = lib.stat().st_mtime_ns
    second = _generate(tree, model, tmp_path / "b" / "src", board)
    assert second.notes["library_cached"] is True
    assert second.extra_objects == first.extra_objects and lib.stat().st_mtime_ns == mtime_ns
    assert (tmp_path / "a/src/model_tflm.cpp").read_text() == (tmp_path / "b/src/model_tflm.cpp").read_text()


def test_generate_options_are_checked(tree, tmp_path):
    board = load_board("nano33ble")
    model = _model("micro_speech_quantized")
    with pytest.raises(Exception, match="unknown tflm option"):
        _generate(tree, model, tmp_path / "src", board, arena=1)
    with pytest.raises(Exception, match="needs a .tflite model"):
        _generate(tree, load_model("builtin:dense"), tmp_path / "src", board)


@pytest.mark.slow
@pytest.mark.parametrize("board_name", BOARDS)
@pytest.mark.parametrize("name", STUDY_MODELS)
def test_bit_exact_on_the_emulator_with_the_measured_arena(tree, tmp_path, board_name, name):
    """The board's image, on armlprof's emulator: 20 seeded inputs give tflite-micro's reference outputs, and the
    arena is exactly what TFLM reports using on the target (+16 alignment slack)."""
    emulator = pytest.importorskip("armlprof.emulator")
    from armlprof.build import build_sketch
    from armlprof.protocol import parse_line

    board = load_board(board_name)
    model = _model(name)
    sketch = _write_sketch(tmp_path, name)
    generated = _generate(tree, model, sketch / "src", board)
    assert generated.notes["arena_source"] == "first run on the emulator"
    result = build_sketch(sketch, board, extra_flags=generated.extra_build_flags,
                          extra_objects=generated.extra_objects, baseline=False)
    run = emulator.run_elf(board, result.elf, timed=False, timeout_s=300)
    assert run.stop_reason == "exit" and run.exit_code == 0, run.summary()
    records = [r for r in map(parse_line, run.console_text.splitlines()) if r]
    init = next(r for r in records if r.event == "init")
    assert init.int("status") == 0
    used = init.int("arena_used")
    assert used == generated.notes["arena_target_used_bytes"]
    assert generated.workspace_bytes == (used + 16 + 15) // 16 * 16
    assert generated.notes["arena_host_used_bytes"] is None  # the target measured it: no host build needed
    outputs = {r.int("seed"): bytes.fromhex(r.get("hex")) for r in records if r.event == "output"}
    assert sorted(outputs) == list(SEEDS)
    assert all(r.int("status") == 0 for r in records if r.event == "output")
    mismatches = [s for s in SEEDS if outputs[s] != model.reference(input_from_seed(s, model.input_bytes))]
    assert mismatches == []


@pytest.mark.slow
@pytest.mark.parametrize("board_name", BOARDS)
def test_tflm_row_all_four_figures_with_tree_and_kernels_in_the_key(tree, tmp_path, board_name, monkeypatch):
    from armlprof.results import ResultStore
    from armlprof.study import ProfileOptions, profile

    results = tmp_path / "results.jsonl"
    monkeypatch.setenv(tflm.ENV_VAR, str(tree.root))  # what --tflm-root does
    options = ProfileOptions(quick=True)
    model = str(shared_file("models", "micro_speech_quantized.tflite"))
    written = profile(model, "tflm", board_name, results, options, progress=lambda _: None)
    assert [r["metric"] for r in written] == ["flash", "ram", "init", "inference"]
    assert all(r["status"] == "ok" for r in written), [r.get("reason") for r in written]
    kernels = tree.default_kernels()
    for r in written:
        assert f"tflm:tree={tree.identity(kernels)}" in r["flags"]
        assert f"tflm:kernels={kernels}" in r["flags"]  # the default kernels are in the key too
        assert r["runtime_version"].startswith(f"TFLM {tree.kind} {tree.version}")
    flash = written[0]["values"]
    assert flash["flash_bytes"] > flash["baseline_flash_bytes"] > 0 and flash["workspace_bytes"] > 0
    assert written[1]["values"]["free_ram_bytes"] > 0
    assert written[2]["values"]["cycles"] > 0 and written[3]["values"]["cycles"] > 0
    # Same tree again: nothing measured twice.
    assert profile(model, "tflm", board_name, results, options, progress=lambda _: None) == []
    assert len(ResultStore(results).records()) == 4


@pytest.mark.slow
def test_flash_and_library_do_not_depend_on_where_the_tree_lives_but_its_contents_do(tree, tmp_path, monkeypatch):
    """A copy of the tree elsewhere: the same library (no rebuild), the same image size (no __FILE__ paths), the
    same record key. An edited copy: another key, so its figures are measured rather than skipped."""
    import shutil

    from armlprof.build import build_sketch
    from armlprof.study import ProfileOptions, profile

    board = load_board("nano33ble")
    model = _model("micro_speech_quantized")
    copy_root = tmp_path / "elsewhere" / tree.root.name
    shutil.copytree(tree.root, copy_root)
    copy = tflm.recognize(copy_root)
    kernels = tree.default_kernels()
    assert copy.identity(kernels) == tree.identity(kernels)

    flash = {}
    for name, t in (("original", tree), ("copy", copy)):
        (tmp_path / name).mkdir()
        sketch = _write_sketch(tmp_path / name, "micro_speech_quantized")
        generated = _generate(t, model, sketch / "src", board)
        built = build_sketch(sketch, board, extra_flags=generated.extra_build_flags,
                             extra_objects=generated.extra_objects, baseline=False)
        flash[name] = (generated.extra_objects[0], built.flash_bytes)
    assert flash["original"] == flash["copy"]

    # One edited source: another tree identity (and library), so profile measures instead of skipping.
    results = tmp_path / "r.jsonl"
    source = next(p for p in copy.library_sources(kernels) if p.stem == "micro_string")
    source.write_text(source.read_text() + "\n// edited\n")
    edited = tflm.recognize(copy_root)
    assert edited.identity(kernels) != tree.identity(kernels)
    for t in (tree, edited):
        monkeypatch.setenv(tflm.ENV_VAR, str(t.root))
        written = profile(str(model.path), "tflm", "nano33ble", results, ProfileOptions(measures=("flash",)),
                          progress=lambda _: None)
        assert [r["status"] for r in written] == ["ok"], written


def test_arena_probe_survives_a_tflm_that_crashes_on_a_small_arena(tree, tmp_path):
    """The Arduino tree's TFLM writes through a null pointer (a fault, not an error status) when an arena is too
    small for a model's variable tensors (an SVDF's state): the probe's in-run search dies at used + 16. The
    search then goes on one boot per trial, and the arena found initializes, runs and is what the profile uses."""
    from armlprof.modelgen import svdf_tflite
    from armlprof.study import ProfileOptions, profile

    path = tmp_path / "svdf.tflite"
    path.write_bytes(svdf_tflite(1, rank=2, state_type="int16", act="RELU", batches=2))
    board = load_board("nano33ble")
    model = load_model(str(path))
    generated = _generate(tree, model, tmp_path / "src", board)
    used = generated.notes["arena_target_used_bytes"]
    assert generated.notes["arena_source"] == "first run on the emulator"
    assert generated.workspace_bytes > (used + 16 + 15) // 16 * 16  # used + 16 is the size that crashed
    options = ProfileOptions(quick=True, runtime_options={"tflm": {"tflm_root": str(tree.root)}})
    records = profile(str(path), "tflm", "nano33ble", tmp_path / "r.jsonl", options=options, progress=lambda _: None)
    assert [r["status"] for r in records] == ["ok"] * 4, [r.get("reason") for r in records]


def test_int16x8_model_with_int16_io_runs_on_tflm(tree, tmp_path):
    """builtin:int16x8 (int8 input, int16 output): TFLM takes int16 tensors as their little-endian bytes, checked
    against the reference like any output; the four figures are measured."""
    from armlprof.study import ProfileOptions, profile

    options = ProfileOptions(quick=True, runtime_options={"tflm": {"tflm_root": str(tree.root)}})
    records = profile("builtin:int16x8", "tflm", "nano33ble", tmp_path / "r.jsonl", options=options,
                      progress=lambda _: None)
    assert [r["status"] for r in records] == ["ok"] * 4, [r.get("reason") for r in records]
