from __future__ import annotations

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
    assert f"platforms/{board_name}/{board.repl_path.name}" in resc and f"sysbus.{board.meta['console']}" in resc
