from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from armlprof.board import load_board
from armlprof.build import CompileError, ImageTooLarge, build_sketch, preprocess_ino
from armlprof.errors import ArmlprofError
from armlprof.toolchain import find_toolchain

from .conftest import SKETCHES_DIR

BOARDS = ["nano33ble", "spresense"]


def _sketch(tmp_path: Path, name: str, code: str, src: dict[str, str] | None = None) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / f"{name}.ino").write_text(code)
    for rel, text in (src or {}).items():
        (folder / "src" / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / "src" / rel).write_text(text)
    return folder


def _berkeley_size(elf: Path) -> tuple[int, int, int]:
    out = subprocess.run([find_toolchain().size, str(elf)], capture_output=True, text=True, check=True).stdout
    text, data, bss = out.splitlines()[1].split()[:3]
    return int(text), int(data), int(bss)


@pytest.mark.parametrize("board_name", BOARDS)
def test_empty_sketch_is_small_and_matches_size(tmp_path, board_name):
    board = load_board(board_name)
    result = build_sketch(_sketch(tmp_path, "empty", "void setup() {}\nvoid loop() {}\n"), board)
    assert result.elf.is_file() and result.map_path.is_file()
    text, data, bss = _berkeley_size(result.elf)
    assert (result.text_bytes, result.data_bytes, result.bss_bytes) == (text, data, bss)
    expected_flash = text + data + (bss if board.image_in_ram else 0)
    assert result.flash_bytes == expected_flash
    assert result.flash_bytes < 8 * 1024  # not the ~83 KB of the official mbed core
    assert result.model_flash_bytes == 0


@pytest.mark.parametrize("board_name", BOARDS)
def test_core_api_sketch_builds_with_c_sources(board_name):
    board = load_board(board_name)
    result = build_sketch(SKETCHES_DIR / "core_api", board)
    text, data, bss = _berkeley_size(result.elf)
    assert result.static_ram_bytes == data + bss
    assert result.model_flash_bytes == result.flash_bytes - result.baseline_flash_bytes > 0
    names = {s.name for s in result.largest_symbols}
    assert "setup" in names
    assert len(result.largest_symbols) == 10
    assert result.largest_symbols == sorted(result.largest_symbols, key=lambda s: -s.size_bytes)


def test_spresense_flash_counts_bss_because_the_image_loads_into_ram(tmp_path):
    code = "static char big[100000];\nvoid setup() { big[5] = 1; }\nvoid loop() { big[6]++; }\n"
    folder = _sketch(tmp_path, "bigbss", code)
    nano = build_sketch(folder, load_board("nano33ble"))
    spresense = build_sketch(folder, load_board("spresense"))
    assert nano.bss_bytes >= 100000 and nano.flash_bytes < 10000
    assert spresense.flash_bytes >= 100000


def test_second_build_of_unchanged_sketch_compiles_nothing(tmp_path, private_cache):
    folder = _sketch(tmp_path, "cached", "void setup() { Serial.begin(9600); }\nvoid loop() {}\n",
                     {"extra.c": "int extra(void) { return 1; }\n"})
    board = load_board("nano33ble")
    first = build_sketch(folder, board)
    assert first.compiled_objects >= 10 and not first.cached
    second = build_sketch(folder, board)
    assert second.compiled_objects == 0 and second.cached and second.elf == first.elf
    # Touch one source: only that object is recompiled.
    (folder / "src" / "extra.c").write_text("int extra(void) { return 2; }\n")
    third = build_sketch(folder, board)
    assert third.compiled_objects == 1 and not third.cached


def test_header_change_invalidates_objects_that_include_it(tmp_path, private_cache):
    code = '#include "src/value.h"\nvoid setup() { Serial.println(VALUE); }\nvoid loop() {}\n'
    folder = _sketch(tmp_path, "hdr", code, {"value.h": "#define VALUE 1\n"})
    board = load_board("nano33ble")
    build_sketch(folder, board)
    (folder / "src" / "value.h").write_text("#define VALUE 2\n")
    assert build_sketch(folder, board).compiled_objects == 1


def test_prototypes_let_functions_be_used_before_definition(tmp_path):
    code = "void setup() { Serial.println(twice(2)); }\nvoid loop() {}\nint twice(int x) { return 2 * x; }\n"
    result = build_sketch(_sketch(tmp_path, "proto", code), load_board("spresense"))
    assert result.elf.is_file()


def test_preprocess_keeps_line_numbers(tmp_path):
    ino = tmp_path / "a.ino"
    ino.write_text('#include "x.h"\n\nint f(int a) {\n  return a;\n}\n')
    cpp = preprocess_ino([ino])
    assert cpp.startswith("#include <Arduino.h>")
    assert "int f(int a);" in cpp
    assert f'#line 3 "{ino}"' in cpp


def test_compile_error_carries_compiler_diagnostics(tmp_path):
    folder = _sketch(tmp_path, "broken", "void setup() { undefined_thing(); }\nvoid loop() {}\n")
    with pytest.raises(CompileError) as info:
        build_sketch(folder, load_board("nano33ble"))
    message = str(info.value)
    assert message.startswith("compile error:") and "broken.ino:1" in message and "undefined_thing" in message
    assert "\n" not in message
    assert "error:" in info.value.details


def test_missing_sketch(tmp_path):
    with pytest.raises(ArmlprofError, match="sketch not found"):
        build_sketch(tmp_path / "nope", load_board("nano33ble"))
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(ArmlprofError, match=r"no \.ino file"):
        build_sketch(tmp_path / "empty_dir", load_board("nano33ble"))


def test_image_too_large_for_flash(tmp_path):
    code = ("const unsigned char weights[1200000] = {1};\n"
            "void setup() { Serial.println(weights[micros() % sizeof weights]); }\nvoid loop() {}\n")
    with pytest.raises(ImageTooLarge) as info:
        build_sketch(_sketch(tmp_path, "huge", code), load_board("nano33ble"))
    err = info.value
    assert err.available_bytes == 983_040 and err.needed_bytes > 1_200_000
    assert str(err).startswith("does not fit: needs 1,2") and "weights (1,200,000 B)" in str(err)


def test_image_too_large_for_spresense_ram(tmp_path):
    code = "static volatile char arena[1600000];\nvoid setup() { arena[micros() % 7] = 1; }\nvoid loop() {}\n"
    with pytest.raises(ImageTooLarge, match=r"needs .* B RAM \(image \+ stack reserve\), spresense has 1,572,864 B"):
        build_sketch(_sketch(tmp_path, "hugeram", code), load_board("spresense"))


def test_missing_toolchain_names_the_install_command(monkeypatch, tmp_path):
    find_toolchain.cache_clear()
    monkeypatch.setenv("ARMLPROF_TOOLCHAIN_DIR", str(tmp_path))
    try:
        with pytest.raises(ArmlprofError, match="apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi"):
            find_toolchain()
    finally:
        find_toolchain.cache_clear()


def test_optimization_override_changes_the_image(tmp_path):
    folder = _sketch(tmp_path, "opt", "volatile int x;\nvoid setup() { for (int i = 0; i < 64; i++) x += i * i; }\n"
                     "void loop() {}\n")
    board = load_board("nano33ble")
    small = build_sketch(folder, board)
    fast = build_sketch(folder, board, optimization="-O3")
    assert "-O3" in fast.flags and fast.elf != small.elf


def test_objects_of_a_tree_copied_elsewhere_are_reused_and_its_edited_headers_are_not(tmp_path):
    """Under -ffile-prefix-map the object does not depend on where the tree is: a copy elsewhere hits the cached
    objects (a TFLM tree copied or moved does not rebuild), but a header edited in the copy is checked in the copy."""
    import shutil

    from armlprof.build import compile_sources

    original = tmp_path / "one" / "tree"
    (original / "inc").mkdir(parents=True)
    (original / "inc" / "value.h").write_text("#define VALUE 1\n")
    # Unique text: no entry of an earlier test run matches.
    (original / "f.c").write_text(f'#include "value.h"\nconst char *where = __FILE__; /* {tmp_path} */\n'
                                  "int value(void) { return VALUE; }\n")
    copy = tmp_path / "two" / "tree"
    shutil.copytree(original, copy)

    def build(root: Path) -> tuple[bytes, int]:
        flags = ["-mcpu=cortex-m4", "-mthumb", "-Os", f"-ffile-prefix-map={root}=tree", f"-I{root / 'inc'}"]
        objects, compiled = compile_sources(find_toolchain(), [(root / "f.c", flags)])
        return objects[0].read_bytes(), compiled

    first, compiled = build(original)
    assert compiled == 1 and str(original).encode() not in first  # __FILE__ mapped
    assert build(copy) == (first, 0)  # the same object, from the cache
    (copy / "inc" / "value.h").write_text("#define VALUE 2\n")
    edited, compiled = build(copy)
    assert compiled == 1 and edited != first
    # One entry per key: the copy's compile replaced it, so the original's header no longer matches: compiled again.
    assert build(original) == (first, 1)
