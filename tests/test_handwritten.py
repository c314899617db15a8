"""The handwritten runtime's C code computes exactly dense_reference (compiled for the host and run)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from armlprof.board import load_board
from armlprof.errors import ArmlprofError
from armlprof.model import DENSE_IN, DENSE_OUT, dense_reference, load_model
from armlprof.protocol import input_from_seed
from armlprof.runtime import get_runtime

HARNESS = r"""
#include <stdio.h>
#include "model.h"
int main(void) {
  int8_t in[MODEL_INPUT_BYTES], out[MODEL_OUTPUT_BYTES];
  while (fread(in, 1, sizeof in, stdin) == sizeof in) {
    if (model_init() != 0) return 2;
    if (model_inference(in, out) != 0) return 3;
    model_deinit();
    fwrite(out, 1, sizeof out, stdout);
  }
  return 0;
}
"""


def test_generates_the_one_model_interface(tmp_path):
    generated = get_runtime("handwritten").generate(load_model("builtin:dense"), tmp_path, load_board("nano33ble"))
    header = (tmp_path / "model.h").read_text()
    assert "int model_inference(const int8_t *input, int8_t *output);" in header
    assert f"#define MODEL_INPUT_BYTES {DENSE_IN}" in header
    assert (generated.input_bytes, generated.output_bytes) == (DENSE_IN, DENSE_OUT)
    assert generated.runtime == "handwritten" and generated.runtime_version


@pytest.mark.skipif(shutil.which("gcc") is None, reason="host gcc not found")
def test_c_output_matches_the_reference_bit_exactly(tmp_path):
    get_runtime("handwritten").generate(load_model("builtin:dense"), tmp_path, load_board("nano33ble"))
    (tmp_path / "main.c").write_text(HARNESS)
    exe = tmp_path / "dense"
    subprocess.run(["gcc", "-O1", "-Wall", "-Werror", "-fsanitize=undefined", "-fno-sanitize-recover",
                    "-o", str(exe), str(tmp_path / "main.c"), str(tmp_path / "model.c")], check=True)
    inputs = [input_from_seed(seed, DENSE_IN) for seed in range(1, 41)]
    inputs.append(bytes([0x7F] * DENSE_IN))  # saturates high
    inputs.append(bytes([0x80] * DENSE_IN))  # saturates low
    out = subprocess.run([str(exe)], input=b"".join(inputs), capture_output=True, check=True).stdout
    got = [out[i * DENSE_OUT:(i + 1) * DENSE_OUT] for i in range(len(inputs))]
    assert got == [dense_reference(x) for x in inputs]
    assert any(127 in r or 128 in r for r in got), "the saturation path was not exercised"


def test_refuses_other_models(tmp_path):
    class Other:
        spec = "person_detect.tflite"

    with pytest.raises(ArmlprofError, match="only runs builtin:dense"):
        get_runtime("handwritten").generate(Other(), tmp_path, load_board("nano33ble"))
