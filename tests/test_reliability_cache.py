"""Issue 9, item 3: the build cache is verified on reuse. A truncated or garbled cached ELF or object is rebuilt
with one warning line, and the rebuilt image is the same bytes and runs to the same result."""

from __future__ import annotations

import hashlib
import os

import pytest

from armlprof.board import load_board
from armlprof.build import build_sketch
from armlprof.cache import CacheError, cache_root
from armlprof.emulator import run_elf

from .conftest import SKETCHES_DIR


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _garble(path):
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 64] = bytes(b ^ 0x5A for b in data[middle:middle + 64])  # same size, wrong bytes
    path.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def board():
    return load_board("nano33ble")


@pytest.mark.parametrize("damage", [_truncate, _garble], ids=["truncate", "garble"])
def test_damaged_cached_elf_is_rebuilt(damage, board, private_cache, capsys):
    first = build_sketch(SKETCHES_DIR / "core_api", board, baseline=False)
    good = hashlib.sha256(first.elf.read_bytes()).hexdigest()
    expected = run_elf(board, first.elf, max_cycles=200_000_000)
    damage(first.elf)
    capsys.readouterr()
    again = build_sketch(SKETCHES_DIR / "core_api", board, baseline=False)
    warning = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(warning) == 1 and "damaged" in warning[0] and "sketch.elf" in warning[0]
    assert not again.cached and again.compiled_objects == 0  # relinked from the (good) cached objects
    assert hashlib.sha256(again.elf.read_bytes()).hexdigest() == good
    assert (again.flash_bytes, again.text_bytes) == (first.flash_bytes, first.text_bytes)
    rerun = run_elf(board, again.elf, max_cycles=200_000_000)
    assert (rerun.stop_reason, rerun.cycles, rerun.console_text) == \
        (expected.stop_reason, expected.cycles, expected.console_text)
    assert build_sketch(SKETCHES_DIR / "core_api", board, baseline=False).cached  # and reused from then on


@pytest.mark.parametrize("damage", [_truncate, _garble], ids=["truncate", "garble"])
def test_damaged_cached_object_is_recompiled(damage, board, private_cache, capsys):
    first = build_sketch(SKETCHES_DIR / "core_api", board, baseline=False)
    good = first.elf.read_bytes()
    objects = sorted((private_cache / "objects").glob("*.o"), key=lambda p: p.stat().st_size)
    damage(objects[-1])  # the largest object
    for built in (p for p in (private_cache / "builds").iterdir() if p.is_dir()):  # force a relink
        for f in built.iterdir():
            f.unlink()
    capsys.readouterr()
    again = build_sketch(SKETCHES_DIR / "core_api", board, baseline=False)
    warning = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(warning) == 1 and "damaged" in warning[0] and objects[-1].name in warning[0]
    assert again.compiled_objects == 1
    assert again.elf.read_bytes() == good


def test_unusable_cache_folder_is_one_error(tmp_path, monkeypatch):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    monkeypatch.setenv("ARMLPROF_CACHE", str(not_a_folder))
    with pytest.raises(CacheError, match="is not a folder; set ARMLPROF_CACHE"):
        cache_root()
    monkeypatch.setenv("ARMLPROF_CACHE", str(not_a_folder / "below"))
    with pytest.raises(CacheError, match="ARMLPROF_CACHE"):
        cache_root()
    if os.geteuid() != 0:  # root may write anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        monkeypatch.setenv("ARMLPROF_CACHE", str(locked))
        with pytest.raises(CacheError, match="not writable"):
            cache_root()


@pytest.mark.parametrize("damage", [_truncate, _garble], ids=["truncate", "garble"])
def test_damaged_cached_tvm_program_is_rebuilt(damage, private_cache, tmp_path, capsys, monkeypatch):
    """The TVM program cache (a pickle) carries its content hash too: a damaged one is regenerated, never
    unpickled, and gives the same figures as the first generation."""
    pytest.importorskip("tvm")
    from armlprof.model import load_model
    from armlprof.runtime.tvm import compiler
    from armlprof.study import ProfileOptions, profile

    model = load_model("builtin:micro_speech")
    options = ProfileOptions(measures=("flash", "inference"), quick=True)
    first = profile("builtin:micro_speech", "tvm-aot", "nano33ble", tmp_path / "first.jsonl", options)
    cached = compiler.program_path(model.sha256)
    assert cached.is_file() and compiler.program_manifest(cached).is_file()
    damage(cached)
    generated = []
    build_program = compiler.build_program
    monkeypatch.setattr(compiler, "build_program", lambda *a, **k: generated.append(1) or build_program(*a, **k))
    capsys.readouterr()
    again = profile("builtin:micro_speech", "tvm-aot", "nano33ble", tmp_path / "again.jsonl", options)
    warning = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(warning) == 1 and "damaged" in warning[0] and cached.name in warning[0], warning
    assert generated == [1]

    def figures(records):
        return {r["metric"]: (r["status"], r["values"]) for r in records}

    assert figures(again) == figures(first) and all(status == "ok" for status, _ in figures(first).values())
    compiler.compile_model(model.path, model.sha256)  # and reused from then on, without a warning
    assert generated == [1] and "warning" not in capsys.readouterr().err
