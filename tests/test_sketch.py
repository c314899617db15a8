"""Measurement sketch templates: render, build on both boards, stay plain Arduino, share one src/."""

from __future__ import annotations

import pytest

from armlprof.board import load_board
from armlprof.build import build_sketch
from armlprof.errors import ArmlprofError
from armlprof.model import load_model
from armlprof.runtime import get_runtime
from armlprof.sketch import SKETCH_KINDS, prepare_measurement_sketch, render_ino, template_names


def test_every_kind_has_a_template():
    assert set(SKETCH_KINDS) <= set(template_names())
    assert not [n for n in template_names() if n.startswith("_")]


@pytest.mark.parametrize("kind", SKETCH_KINDS)
def test_rendered_sketch_is_plain_arduino(kind):
    text = render_ino(kind, runtime="handwritten", model="dense", baud=115200)
    assert '#include "src/model.h"' in text
    assert "void setup()" in text and "void loop() {}" in text
    # armlprof-core extras only behind the guard, so the official cores compile the same sketch.
    for extra in ("armlprof_cycles()", "exit(0)"):
        for line in (ln for ln in text.splitlines() if extra in ln):
            start = text.index(line)
            assert text.rfind("#ifdef ARMLPROF_CORE", 0, start) > text.rfind("#endif", 0, start), line
    assert "{{" not in text and "{%" not in text


def test_unknown_kind_is_one_line_error():
    with pytest.raises(ArmlprofError, match="unknown sketch 'nope'; known sketches:"):
        render_ino("nope", runtime="x", model="y")


@pytest.mark.parametrize("board_name", ["nano33ble", "spresense"])
def test_all_kinds_build_and_share_model_objects(tmp_path, board_name, private_cache):
    board = load_board(board_name)
    sketch = prepare_measurement_sketch(load_model("builtin:dense"), get_runtime("handwritten"), board,
                                        tmp_path / "work")
    results = {kind: build_sketch(sketch.use(kind), board) for kind in SKETCH_KINDS}
    for result in results.values():
        assert result.flash_bytes > result.baseline_flash_bytes > 0
    # After the first kind, only the sketch itself recompiles: the model's objects come from the cache.
    assert [results[k].compiled_objects for k in SKETCH_KINDS[1:]] == [1, 1]
    assert len({r.elf for r in results.values()}) == 3


def test_regenerating_keeps_unchanged_sources(tmp_path):
    board = load_board("nano33ble")
    model, runtime = load_model("builtin:dense"), get_runtime("handwritten")
    first = prepare_measurement_sketch(model, runtime, board, tmp_path)
    stamp = (first.sketch_dir / "src" / "model.c").stat().st_mtime_ns
    second = prepare_measurement_sketch(model, runtime, board, tmp_path)
    assert second.sketch_dir == first.sketch_dir
    assert (second.sketch_dir / "src" / "model.c").stat().st_mtime_ns == stamp


def test_export_is_a_standalone_sketch(tmp_path):
    board = load_board("spresense")
    sketch = prepare_measurement_sketch(load_model("builtin:dense"), get_runtime("handwritten"), board, tmp_path)
    dest = sketch.export("ram_probe", tmp_path / "out" / "armlprof_ram_probe")
    assert (dest / "armlprof_ram_probe.ino").is_file() and (dest / "src" / "model.c").is_file()
