from __future__ import annotations

import re

import pytest

from armlprof.board import board_names, load_board, parse_repl
from armlprof.errors import ArmlprofError


def test_boards_are_discovered_from_platform_folders():
    assert {"nano33ble", "spresense"} <= set(board_names())


def test_nano33ble_facts_come_from_its_repl():
    b = load_board("nano33ble")
    assert b.clock_hz == 64_000_000
    assert b.image_origin == 0x10000
    assert b.image_capacity_bytes == 983_040
    assert b.ram_origin == 0x20000200
    assert b.ram_bytes == 256 * 1024 - 0x200
    assert b.console.type == "UART.NRF52840_UART" and b.console.address == 0x40002000
    assert b.console.attrs["easyDMA"] is False  # the core drives the legacy TXD register
    ram = b.region("ram")
    assert ram.base == 0x20000000 and ram.aliases == (0x800000,)
    assert "-mfloat-abi=softfp" in b.cpu_flags


def test_spresense_image_and_memory_option():
    b = load_board("spresense")
    assert b.clock_hz == 156_000_000
    assert b.image_in_ram and b.image_origin == 0x0D000000
    assert b.ram_bytes == 1536 * 1024  # armlprof's default: all of it, as the study
    assert b.console.type == "UART.PL011" and b.console.address == 0x041AC000
    assert "-mfloat-abi=hard" in b.cpu_flags
    small = load_board("spresense", memory_kib=768)
    assert small.ram_bytes == 768 * 1024
    assert "LENGTH = 0xc0000" in small.memory_ld()


def test_memory_option_is_checked():
    with pytest.raises(ArmlprofError, match="128..1536 in steps of 128"):
        load_board("spresense", memory_kib=1000)
    with pytest.raises(ArmlprofError, match="no memory option"):
        load_board("nano33ble", memory_kib=128)


def test_unknown_board_lists_known_ones():
    with pytest.raises(ArmlprofError, match=r"unknown board 'uno'; known boards: .*nano33ble.*spresense"):
        load_board("uno")


def test_repl_parser_reads_renode_syntax():
    text = """
using "platforms/cpus/x.repl"
// comment
mem: Memory.MappedMemory @ { sysbus 0x800000; sysbus 0x20000000 }
    size: 0x40000   // 256 KB
cpu: CPU.CortexM @ sysbus
    cpuType: "cortex-m4"
    PerformanceInMips: 64
uart: UART.PL011 @ sysbus 0x1000
    -> nvic@3
sysbus:
    init:
        Tag <0x10000000, 0x10000FFF> "FICR"
"""
    p = parse_repl(text)
    assert p["mem"].addresses == (0x800000, 0x20000000) and p["mem"].attrs["size"] == 0x40000
    assert p["cpu"].attrs == {"cpuType": "cortex-m4", "PerformanceInMips": 64}
    assert p["uart"].attrs["irq"] == "nvic@3"
    assert "sysbus" not in p


# Renode peripheral types armlprof's boards may use (all exist in Renode's stock peripherals).
RENODE_TYPES = {"Memory.MappedMemory", "CPU.CortexM", "IRQControllers.NVIC", "Miscellaneous.DWT",
                "UART.NRF52840_UART", "UART.PL011", "Miscellaneous.NRF52840_CLOCK"}


@pytest.mark.parametrize("board_name", board_names())
def test_repl_is_renode_syntax(board_name):
    """The .repl stays loadable by Renode: 4-space indented attributes, known types, DWT at the board clock."""
    board = load_board(board_name)
    for number, line in enumerate(board.repl_path.read_text().splitlines(), 1):
        body = line.split("//", 1)[0].rstrip()
        if not body:
            continue
        indent = len(body) - len(body.lstrip(" "))
        assert "\t" not in line and indent in (0, 4), f"{board.repl_path.name}:{number}: indentation"
    types = {p.type for p in board.peripherals.values()}
    assert types <= RENODE_TYPES
    dwt = next(p for p in board.peripherals.values() if p.type == "Miscellaneous.DWT")
    assert dwt.address == 0xE0001000 and dwt.attrs["frequency"] == board.clock_hz
    assert board.cpu.attrs["PerformanceInMips"] * 1_000_000 == board.clock_hz
    resc = board.resc_path.read_text()
    assert f"platforms/{board_name}/{board.repl_path.name}" in resc and f"sysbus.{board.console_name}" in resc


# ---------------------------------------------------------------- board.toml schema and user board roots
def _user_board(root, name: str = "tinyboard", edit=None):
    """A throw-away board in `root/name`: the nano33ble files with 128 KB RAM and a 32 MHz clock."""
    import shutil

    from armlprof.board import PLATFORMS_DIR

    folder = root / name
    shutil.copytree(PLATFORMS_DIR / "nano33ble", folder)
    repl = folder / "nano33ble.repl"
    repl.write_text(repl.read_text().replace("size: 0x40000", "size: 0x20000").replace("64000000", "32000000")
                    .replace("PerformanceInMips: 64", "PerformanceInMips: 32"))
    toml = folder / "board.toml"
    text = toml.read_text().replace('title = "Arduino Nano 33 BLE"', 'title = "Tiny test board"')
    toml.write_text(edit(text) if edit else text)
    return folder


def test_user_board_from_armlprof_boards_builds_and_runs(tmp_path, monkeypatch):
    """A board folder on $ARMLPROF_BOARDS is a board like the built-in ones: listed, built for, run."""
    import shutil

    if shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("needs arm-none-eabi-gcc")
    from pathlib import Path

    from armlprof.build import build_sketch
    from armlprof.target import Image, get_target

    _user_board(tmp_path / "boards")
    monkeypatch.setenv("ARMLPROF_BOARDS", str(tmp_path / "boards"))
    assert "tinyboard" in board_names() and "nano33ble" in board_names()
    board = load_board("tinyboard")
    assert (board.title, board.clock_hz, board.ram_bytes) == ("Tiny test board", 32_000_000, 0x20000 - 0x200)
    firmware = Path(__file__).resolve().parent / "firmware" / "emu_hello"
    build = build_sketch(firmware, board, baseline=False)
    outcome = get_target("emulator").run(Image(board, build.elf), None)
    assert outcome.stop.reason == "exit" and outcome.stop.exit_code == 7
    assert outcome.lines[0] == "hello from armlprof"
    # The stack starts at the top of this board's 128 KB, not the nano33ble's 256 KB.
    assert outcome.stop.stack_top == 0x20000000 + 0x20000


def test_armlprof_boards_must_be_folders(tmp_path, monkeypatch):
    monkeypatch.setenv("ARMLPROF_BOARDS", str(tmp_path / "nowhere"))
    with pytest.raises(ArmlprofError, match=r"\$ARMLPROF_BOARDS entry .*nowhere.* is not a folder"):
        board_names()


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace('fqbn = "arduino:mbed_nano:nano33ble"\n', ""),
     r"board.toml: missing key fqbn; add it: the official core's board name"),
    (lambda t: t.replace("stack_bytes = 0x8000", 'stack_bytes = "32K"'),
     r"board.toml: ram.stack_bytes = '32K' is not an integer; give the main stack reserve"),
    (lambda t: t.replace("console_baud = 115200", "console_bud = 115200"),
     r"board.toml: unknown key console_bud; known keys: .*console_baud"),
    (lambda t: t.replace('region = "flash"', 'region = "flsh"'),
     r"board.toml: image.region = 'flsh' is no Memory.MappedMemory in nano33ble.repl; use one of: flash, ram"),
    (lambda t: t.replace('console = "uart0"', 'console = "uart9"'),
     r"board.toml: console = 'uart9' is no peripheral of nano33ble.repl"),
    (lambda t: t.replace("in_ram = false", "in_ram = 0"), r"image.in_ram = 0 is not true or false"),
    (lambda t: t.replace("branch_refill_cycles = 2", "branch_refill_cycles = -1"),
     r"timing.branch_refill_cycles = -1 is below 0"),
    (lambda t: re.sub(r"\bload_wait_states = \d+", 'load_wait_states = "two"', t, count=1),
     r"timing.regions.flash.load_wait_states = 'two' is not an integer"),
    (lambda t: t + '\n[timing.memory]\nbus_width = "wide"\n', r"timing.memory.bus_width = 'wide' is not a number"),
    (lambda t: t + "\n[timing.regions.sram]\nload_wait_states = 1\n",
     r"\[timing.regions.sram\] names no memory of nano33ble.repl"),
    (lambda t: t.replace('repl = "nano33ble.repl"', 'repl = "missing.repl"'),
     r"repl = 'missing.repl': no such file"),
    (lambda t: t.replace("[build]", "[build\n"), r"board.toml: not valid TOML"),
])
def test_board_toml_errors_name_file_key_and_fix(tmp_path, monkeypatch, edit, message):
    _user_board(tmp_path, "broken", edit)
    monkeypatch.setenv("ARMLPROF_BOARDS", str(tmp_path))
    with pytest.raises(ArmlprofError, match=message) as info:
        load_board("broken")
    assert "\n" not in str(info.value) and str(tmp_path / "broken" / "board.toml") in str(info.value)


def test_timing_section_accepts_new_numeric_parameters(tmp_path, monkeypatch):
    """[timing] is open: a new numeric key (here a memory-system parameter) loads and is readable."""
    _user_board(tmp_path, "timed", lambda t: t + "\n[timing.memory]\nflash_line_bytes = 16\nhit_rate = 0.9\n")
    monkeypatch.setenv("ARMLPROF_BOARDS", str(tmp_path))
    board = load_board("timed")
    assert board.timing["memory"] == {"flash_line_bytes": 16, "hit_rate": 0.9}
    nominal = load_board("nano33ble").nominal_timing  # the rest of [timing] as the board folder has it
    assert board.timing["regions"]["flash"]["load_wait_states"] == nominal["regions"]["flash"]["load_wait_states"]


def test_board_meta_is_read_only_in_board_py():
    """Board properties are the only access to board.toml (no `.meta[...]` outside armlprof/board.py)."""
    from pathlib import Path

    package = Path(__file__).resolve().parents[1] / "armlprof"
    offenders = [str(p) for p in package.rglob("*.py")
                 if p.name != "board.py" and any(s in p.read_text() for s in (".meta[", ".meta.get("))]
    assert offenders == []
