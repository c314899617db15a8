"""Runtime options are declared by each runtime and checked in the base class before the runtime sees them."""

from __future__ import annotations

from pathlib import Path

import pytest

from armlprof.errors import ArmlprofError
from armlprof.model import load_model
from armlprof.runtime import get_runtime


def test_declared_options_are_checked_and_converted_in_the_base_class():
    tflm = get_runtime("tflm")
    assert [o.name for o in tflm.options] == ["tflm_root", "kernels", "arena_bytes", "optimization"]
    assert tflm.check_options({"arena_bytes": "90000", "tflm_root": "/x", "kernels": None}) == {
        "arena_bytes": 90000, "tflm_root": Path("/x")}
    with pytest.raises(ArmlprofError, match="unknown tflm option.s. bogus; known: tflm_root, kernels"):
        tflm.check_options({"bogus": 1})
    with pytest.raises(ArmlprofError, match="option kernels='fast' is not one of cmsis-nn, reference"):
        tflm.check_options({"kernels": "fast"})
    with pytest.raises(ArmlprofError, match="option arena_bytes='lots' is not int"):
        tflm.check_options({"arena_bytes": "lots"})
    # Where the tree is does not change the code: not part of the record's flags.
    assert tflm.flag_items({"tflm_root": "/x", "kernels": "reference"}) == [("kernels", "reference")]


def test_runtimes_without_options_refuse_them(tmp_path):
    from armlprof.board import load_board

    runtime = get_runtime("handwritten")
    with pytest.raises(ArmlprofError, match="runtime handwritten takes no options .got arena_bytes.; remove them"):
        runtime.generate(load_model("builtin:dense"), tmp_path, load_board("nano33ble"), arena_bytes=1)
    with pytest.raises(ArmlprofError, match="takes no options"):
        runtime.unavailable_reason(kernels="reference")


@pytest.mark.parametrize("name", ["tvm-aot", "tvm-graph"])
def test_tvm_runtimes_check_their_declared_options(tmp_path, name):
    from armlprof.board import load_board

    runtime = get_runtime(name)
    assert {o.name for o in runtime.options} >= {"schedule", "tune"}
    with pytest.raises(ArmlprofError, match=f"unknown {name} option.s. arena_bytes; known: schedule, tune"):
        runtime.generate(load_model("builtin:dense"), tmp_path, load_board("nano33ble"), arena_bytes=1)
    with pytest.raises(ArmlprofError, match="tune=-1.* is below 0"):
        runtime.unavailable_reason(tune=-1)
    # Options that only say which build the tuning records are for are not part of the record's flags.
    assert runtime.flag_items({"schedule": "tuned", "optimization": "-O2"}) == [("schedule", "tuned")]


def test_tflm_root_reaches_availability_without_the_environment(tmp_path, monkeypatch):
    """`unavailable_reason(tflm_root=...)` looks at that folder; nothing is written to os.environ."""
    import os

    monkeypatch.delenv("ARMLPROF_TFLM_ROOT", raising=False)
    before = dict(os.environ)
    reason = get_runtime("tflm").unavailable_reason(tflm_root=tmp_path)
    assert reason is not None and str(tmp_path) in reason
    assert dict(os.environ) == before
