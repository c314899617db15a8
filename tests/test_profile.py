"""The emulator's function profile (Emulator(profile=True), emulator/profile.py): the same cycles as an unprofiled
run, every cycle charged to a function, reset per run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from armlprof.board import load_board
from armlprof.emulator import Emulator
from armlprof.emulator.elfimage import ElfImage
from armlprof.emulator.profile import BlockProfile, format_profile
from armlprof.errors import ArmlprofError

FIRMWARE = Path(__file__).resolve().parent / "firmware"
needs_gcc = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="needs arm-none-eabi-gcc")


@needs_gcc
@pytest.mark.parametrize("board", ["nano33ble", "spresense"])
def test_profile_charges_every_cycle_of_the_native_run(board: str) -> None:
    from armlprof.build import build_sketch

    elf = build_sketch(FIRMWARE / "emu_conv", load_board(board), baseline=False).elf
    plain = Emulator(board, elf, timed=True)
    plain.write_console("2\n")
    expected = plain.run()
    with pytest.raises(ArmlprofError, match="profile=True"):
        plain.function_profile()
    emu = Emulator(board, elf, timed=True, profile=True)
    profiles = []
    for _ in range(2):  # a second run starts a new profile
        emu.write_console("2\n")
        result = emu.run()
        assert (result.stop_reason, result.exit_code) == ("exit", 0), result.summary()
        assert (result.cycles, result.instructions, result.console_text) == \
            (expected.cycles, expected.instructions, expected.console_text)
        rows = emu.function_profile()
        assert sum(r.cycles for r in rows) == result.cycles
        # per block: the same cycles and executions, function by function
        blocks = emu.block_profile()
        assert {r.function: (r.cycles, r.blocks) for r in rows} == {
            f: (sum(b.cycles for b in blocks if b.function == f), sum(b.executions for b in blocks if b.function == f))
            for f in {b.function for b in blocks}}
        assert all(b.size_bytes > 0 for b in blocks) and blocks == sorted(blocks, key=lambda b: -b.cycles)
        profiles.append(rows)
    assert profiles[0] == profiles[1]
    top = profiles[0][0]
    assert top.function == "conv()" and top.cycles > 0.9 * expected.cycles and top.blocks > 2 * 22 * 22 * 16
    hottest = emu.block_profile()[0]  # conv()'s inner loop: one block, a few cycles per pass
    assert hottest.function == "conv()" and 2 < hottest.cycles_per_execution < 100
    assert "conv()" in format_profile(profiles[0], expected.cycles, top=3).splitlines()[1]


def test_code_after_a_function_is_named_after_it() -> None:
    image = ElfImage(path=Path("x.elf"), segments=(), symbols={}, _func_starts=(0x100, 0x200),
                     _func_ends=(0x180, 0x240), _func_names=("f", "g"))
    assert [image.code_owner(a) for a in (0x100, 0x17F, 0x180, 0x1FE, 0x200, 0x240, 0x80)] == \
        ["f", "f", "f (after)", "f (after)", "g", "g (after)", "0x80"]
    profile = BlockProfile()
    profile.charge(0x100, 10)
    profile.charge(0x180, 25)
    profile.charge(0x104, 40)
    rows = profile.by_function(image)
    assert [(r.function, r.cycles, r.blocks) for r in rows] == [("f", 25, 2), ("f (after)", 15, 1)]
    blocks = profile.by_block(image, {0x100: 4, 0x180: 8})
    assert [(b.address, b.size_bytes, b.function, b.cycles, b.executions) for b in blocks] == \
        [(0x180, 8, "f (after)", 15, 1), (0x104, 0, "f", 15, 1), (0x100, 4, "f", 10, 1)]  # (ties: first charged first)


@needs_gcc
def test_cli_run_profile(capsys) -> None:
    import json

    from armlprof.build import build_sketch
    from armlprof.cli import main

    elf = str(build_sketch(FIRMWARE / "emu_conv", load_board("spresense"), baseline=False).elf)
    assert main(["run", elf, "--board", "spresense", "--timed", "--input", "1\\n", "--profile", "--profile-top",
                 "2"]) == 0
    err = capsys.readouterr().err.splitlines()
    table = err[err.index(next(line for line in err if line.split() == ["cycles", "share", "blocks", "function"])):]
    assert table[1].endswith("  conv()") and "more functions)" in table[3] and table[4].endswith("  total")
    assert main(["run", elf, "--board", "spresense", "--timed", "--input", "1\\n", "--profile", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert sum(r["cycles"] for r in data["profile"]) == data["cycles"] and data["profile"][0]["function"] == "conv()"
    assert main(["run", elf, "--board", "spresense", "--profile", "--uart-pty"]) != 0
    assert "drop --uart-pty" in capsys.readouterr().err


@needs_gcc
def test_functional_profile_counts_instructions() -> None:
    from armlprof.build import build_sketch

    elf = build_sketch(FIRMWARE / "emu_conv", load_board("nano33ble"), baseline=False).elf
    emu = Emulator("nano33ble", elf, timed=False, profile=True)
    emu.write_console("1\n")
    result = emu.run()
    rows = emu.function_profile()
    assert sum(r.cycles for r in rows) == result.cycles == result.instructions
    assert rows[0].function == "conv()"
