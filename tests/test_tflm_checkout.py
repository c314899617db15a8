"""An upstream tflite-micro checkout (its Makefile's third-party layout in tools/make/downloads/) builds and runs
bit-exact with the tflite-micro reference, on the host. Needs a checkout with its downloads in place: set
ARMLPROF_TEST_TFLITE_MICRO to it (skipped otherwise: CI has only ../shared's Arduino library, which
tests/test_tflm_runtime.py covers). A cold run compiles the checkout's library for the host (minutes)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from armlprof.model import load_model
from armlprof.protocol import input_from_seed
from armlprof.runtime.tflm import tree as tflm
from armlprof.runtime.tflm.runtime import HostModel
from tests.conftest import shared_file

ENV_VAR = "ARMLPROF_TEST_TFLITE_MICRO"


@pytest.fixture(scope="module")
def checkout() -> tflm.TflmTree:
    path = os.environ.get(ENV_VAR)
    if not path:
        pytest.skip(f"no tflite-micro checkout: set {ENV_VAR} to one with its Makefile's downloads")
    tree = tflm.recognize(Path(path))
    assert tree is not None and tree.kind == "tflite-micro", tflm.describe_tree(tree) if tree else path
    assert tree.missing_third_party == [], tflm.describe_tree(tree)
    return tree


@pytest.mark.slow
@pytest.mark.parametrize("kernels", ["reference", "cmsis-nn"])
def test_checkout_builds_and_is_bit_exact_on_the_host(checkout, kernels):
    if kernels == "cmsis-nn" and not checkout.has_cmsis_nn:
        pytest.skip("the checkout has no downloads/cmsis_nn")
    model = load_model(str(shared_file("models", "micro_speech_quantized.tflite")))
    host = HostModel(model, checkout, kernels)
    inputs = [input_from_seed(seed, model.input_bytes) for seed in range(1, 21)]
    outputs = host.run(inputs)
    assert [model.reference(x) for x in inputs] == outputs
    assert host.arena_used_bytes() > 1000
