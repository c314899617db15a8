"""TVM runtimes: bit-exact with the tflite-micro reference on the study models (host gcc), and unit checks."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from armlprof.errors import ArmlprofError
from armlprof.protocol import input_from_seed

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
MODELS = SHARED / "models"
STUDY = ["micro_speech_quantized", "person_detect"]
RUNTIMES = ["tvm-aot", "tvm-graph"]
SEEDS = range(1, 21)

pytest.importorskip("tvm")

HARNESS = r"""
#include <stdio.h>
#include <stdlib.h>
#include "model.h"
int main(int argc, char **argv) {
  int n = atoi(argv[1]);
  static int8_t in[MODEL_INPUT_BYTES], out[MODEL_OUTPUT_BYTES];
  for (int round = 0; round < 2; round++) {  /* init/deinit twice: deinit must leave a clean state */
    if (model_init() != 0) return 3;
    if (round == 0) { model_deinit(); continue; }
  }
  for (int i = 0; i < n; i++) {
    if (fread(in, 1, MODEL_INPUT_BYTES, stdin) != MODEL_INPUT_BYTES) return 4;
    if (model_inference(in, out) != 0) return 5;
    fwrite(out, 1, MODEL_OUTPUT_BYTES, stdout);
  }
  model_deinit();
  return 0;
}
"""


def _model(name: str):
    from armlprof.model import load_model

    path = MODELS / f"{name}.tflite"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    return load_model(str(path))


def host_compile(model, runtime: str, out_dir: Path) -> tuple[Path, object]:
    """Generate `model` with `runtime` into out_dir/src and compile it with HARNESS (host gcc, UBSan).

    Returns (executable, GeneratedModel). Other TVM test modules reuse this and `host_run`."""
    from armlprof.runtime import get_runtime

    src = out_dir / "src"
    gen = get_runtime(runtime).generate(model, src, None)
    (out_dir / "harness.c").write_text(HARNESS)
    exe = out_dir / "harness"
    cmd = ["gcc", "-std=c11", "-O2", "-Wall", "-Werror=implicit-function-declaration", "-fsanitize=undefined",
           "-fno-sanitize-recover=undefined", "-I", str(src), "-o", str(exe), str(out_dir / "harness.c"),
           *map(str, sorted(src.glob("*.c")))]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return exe, gen


def host_run(exe: Path, inputs: list[bytes], output_bytes: int) -> list[bytes]:
    """One model_inference per input through a `host_compile` executable; the outputs in order."""
    run = subprocess.run([str(exe), str(len(inputs))], input=b"".join(inputs), capture_output=True, timeout=300)
    assert run.returncode == 0, run.stderr.decode()[-2000:]
    assert len(run.stdout) == len(inputs) * output_bytes
    return [run.stdout[i * output_bytes:(i + 1) * output_bytes] for i in range(len(inputs))]


def host_mismatches(model, inputs: list[bytes], expected: list[bytes], out_dir: Path, label: str,
                    what: str = "inputs") -> list[str]:
    """Both TVM runtimes built for the host and run over `inputs` (in order: one sequence for a stateful model):
    one line per runtime whose outputs differ from `expected`, naming how many and the first."""
    mismatches = []
    for runtime in RUNTIMES:
        exe, _ = host_compile(model, runtime, out_dir / f"{label}_{runtime}")
        got = host_run(exe, inputs, model.output_bytes)
        bad = [j for j, (g, e) in enumerate(zip(got, expected, strict=True)) if g != e]
        if bad:
            mismatches.append(f"{label} {runtime}: {len(bad)}/{len(inputs)} {what} differ (first: #{bad[0]})")
    return mismatches


@pytest.fixture(scope="session")
def host_builds(tmp_path_factory) -> dict:
    """(model, runtime) -> (model, executable): generated once per session, compiled with host gcc."""
    if shutil.which("gcc") is None:
        pytest.skip("host gcc not installed")
    from armlprof.model import load_model

    root = tmp_path_factory.mktemp("tvm_host")
    builds = {}
    for name in STUDY:
        path = MODELS / f"{name}.tflite"
        if not path.is_file():
            continue
        model = load_model(str(path))
        for runtime in RUNTIMES:
            exe, gen = host_compile(model, runtime, root / f"{name}_{runtime}")
            builds[(name, runtime)] = (model, exe, gen)
    return builds


@pytest.mark.slow
@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("name", STUDY)
def test_bit_exact_with_tflite_micro(host_builds, name: str, runtime: str) -> None:
    model = _model(name)
    _, exe, gen = host_builds[(name, runtime)]
    inputs = [input_from_seed(seed, model.input_bytes) for seed in SEEDS]
    outputs = host_run(exe, inputs, model.output_bytes)
    for seed, data, got in zip(SEEDS, inputs, outputs, strict=True):
        assert got == model.reference(data), f"{name} {runtime} seed {seed}"
    assert gen.runtime_version.startswith("tvm 0.")
    assert gen.input_bytes == model.input_bytes and gen.output_bytes == model.output_bytes


def test_generated_model_figures(host_builds) -> None:
    if ("micro_speech_quantized", "tvm-aot") not in host_builds:
        pytest.skip("study models not present")
    _, _, aot = host_builds[("micro_speech_quantized", "tvm-aot")]
    _, _, graph = host_builds[("micro_speech_quantized", "tvm-graph")]
    # conv output 25x20x8 int8 (4000 B) + FC output (4 B, 16-aligned): the liveness plan is exactly this.
    assert aot.workspace_bytes == 4016
    assert graph.workspace_bytes is None and graph.notes["storage_bytes"] >= 4000
    src = aot.src_dir
    assert (src / "model.h").is_file() and (src / "model_aot.c").is_file()
    assert "const int8_t tvmgen_default_p" in (src / "model_params.c").read_text()
    ops = (src / "model_ops.c").read_text()
    assert "tvm/" not in ops and "float" not in ops and "double" not in ops  # integer-only, no TVM headers


def test_unsupported_operator_names_it(tmp_path) -> None:
    from armlprof.runtime.tvm.importer import import_tflite

    path = MODELS / "audio_preprocessor_int8.tflite"
    if not path.is_file():
        pytest.skip("audio_preprocessor model not present")
    with pytest.raises(ArmlprofError) as err:
        import_tflite(path)
    message = str(err.value)
    assert "not supported" in message and "\n" not in message and "tflm" in message


def test_quantize_multiplier_matches_tflite() -> None:
    from armlprof.runtime.tvm import fixedpoint as fp

    assert fp.quantize_multiplier(0.5) == (1 << 30, 0)
    assert fp.quantize_multiplier(0.0) == (0, 0)
    m, s = fp.quantize_multiplier(0.0001234)
    assert abs(m * 2.0 ** (s - 31) - 0.0001234) < 1e-12
    # Rounding half away from zero in RoundingDivideByPOT, saturation in SRDHM.
    assert fp.rdbpot(5, 1) == 3 and fp.rdbpot(-5, 1) == -3 and fp.rdbpot(-6, 2) == -2
    assert fp.srdhm(fp.INT32_MIN, fp.INT32_MIN) == fp.INT32_MAX
    assert fp.exp_on_negative_values(0) == fp.INT32_MAX


def test_softmax_reference_sums_to_one() -> None:
    from armlprof.runtime.tvm import fixedpoint as fp

    row = np.array([10, 3, -40, 10], dtype=np.int8)
    out = fp.softmax_reference(row, 1.0, 0.1)
    probs = (out.astype(int) + 128) / 256
    assert abs(probs.sum() - 1.0) < 0.02 and out[0] == out[3] and out[2] < out[1]


def test_workspace_plan_never_overlaps_live_tensors() -> None:
    from armlprof.runtime.tvm import planner

    rng = np.random.default_rng(3)
    steps = []
    for i in range(40):  # a random DAG: each step reads 1-2 earlier entries
        ins = sorted({int(rng.integers(0, i + 1)) for _ in range(int(rng.integers(1, 3)))})
        steps.append((ins, i + 1))
    sizes = {e: int(rng.integers(1, 5000)) for e in range(41)}
    lives = planner.lifetimes(steps, set(range(1, 41)), sizes)
    offsets, total = planner.plan_workspace(lives)
    for a in lives:
        assert offsets[a.entry] % planner.ALIGN_BYTES == 0 and offsets[a.entry] + a.size_bytes <= total
        for b in lives:
            if a.entry < b.entry and a.overlaps(b):
                assert offsets[a.entry] + a.size_bytes <= offsets[b.entry] or \
                    offsets[b.entry] + b.size_bytes <= offsets[a.entry]
    assert total < sum(planner._align(s) for s in sizes.values())  # reuse happened
    storage_of, storage_bytes = planner.plan_storage_ids(lives)
    for a in lives:
        assert storage_bytes[storage_of[a.entry]] >= a.size_bytes
        for b in lives:
            if a.entry != b.entry and a.overlaps(b):
                assert storage_of[a.entry] != storage_of[b.entry]


def test_graph_json_is_tvm_graph_executor_format(host_builds) -> None:
    if ("person_detect", "tvm-graph") not in host_builds:
        pytest.skip("study models not present")
    import json

    from armlprof.runtime.tvm.compiler import compile_model
    from armlprof.runtime.tvm.emit import graph_json

    model, _, _ = host_builds[("person_detect", "tvm-graph")]
    g = json.loads(graph_json(compile_model(model.path, model.sha256)))
    assert set(g) == {"nodes", "arg_nodes", "heads", "node_row_ptr", "attrs"}
    n = len(g["nodes"])
    for key in ("storage_id", "shape", "dltype"):
        assert len(g["attrs"][key][1]) == n
    assert all(g["nodes"][i]["op"] == "null" for i in g["arg_nodes"])
    ops = [x for x in g["nodes"] if x["op"] == "tvm_op"]
    assert len(ops) == 30  # 31 TFLite operators minus the RESHAPE, which only aliases its input
    assert g["attrs"]["shape"][1][g["heads"][0][0]] == [1, 2]


def test_cross_compiles_for_both_boards(host_builds, tmp_path) -> None:
    """The generated C builds with arm-none-eabi-gcc and armlprof's core for each board."""
    if ("micro_speech_quantized", "tvm-aot") not in host_builds:
        pytest.skip("study models not present")
    build = pytest.importorskip("armlprof.build")
    from armlprof.board import load_board
    from armlprof.toolchain import find_toolchain

    try:
        find_toolchain()
    except ArmlprofError as exc:
        pytest.skip(str(exc))
    for runtime in RUNTIMES:
        _, _, gen = host_builds[("micro_speech_quantized", runtime)]
        sketch = tmp_path / runtime.replace("-", "_")
        shutil.copytree(gen.src_dir, sketch / "src")
        (sketch / f"{sketch.name}.ino").write_text(
            '#include "src/model.h"\nstatic int8_t in[MODEL_INPUT_BYTES], out[MODEL_OUTPUT_BYTES];\n'
            "void setup() { Serial.begin(115200); Model m; Serial.println(m.status());\n"
            "  Serial.println(m.inference(in, out)); }\nvoid loop() {}\n")
        for board_name in ("nano33ble", "spresense"):
            result = build.build_sketch(sketch, load_board(board_name), baseline=False)
            assert result.elf.is_file()
            # weights (~16 KB) are in the image; the AOT workspace is static RAM
            assert result.text_bytes > 16000
            if runtime == "tvm-aot":
                assert result.bss_bytes >= 4016
