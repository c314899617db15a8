"""The built-in emulator on real sketches built with build_sketch: hello, fault, timeout, idle, UART echo and
stack-into-heap, on both boards, functional and timed; the console over a pseudo-terminal with pyserial."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest

from armlprof.board import load_board
from armlprof.emulator import Emulator
from armlprof.errors import ArmlprofError

pytestmark = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="needs arm-none-eabi-gcc")

FIRMWARE = Path(__file__).resolve().parent / "firmware"
BOARDS = ["nano33ble", "spresense"]
MODES = [False, True]  # timed


@pytest.fixture(scope="module")
def elf():
    from armlprof.build import build_sketch

    built: dict[tuple[str, str], Path] = {}

    def get(sketch: str, board: str) -> Path:
        if (sketch, board) not in built:
            built[(sketch, board)] = build_sketch(FIRMWARE / sketch, load_board(board), baseline=False).elf
        return built[(sketch, board)]

    return get


@pytest.mark.parametrize("board", BOARDS)
@pytest.mark.parametrize("timed", MODES)
def test_hello_exit_code_and_console(elf, board: str, timed: bool) -> None:
    lines: list[str] = []
    result = Emulator(board, elf("emu_hello", board), timed=timed, on_console_line=lines.append).run()
    assert result.stop_reason == "exit" and result.exit_code == 7
    assert lines[0] == "hello from armlprof"
    busy_us = int(lines[1].split("=")[1])
    clock = load_board(board).clock_hz
    assert result.ms == pytest.approx(result.cycles * 1000 / clock)
    if timed:
        assert result.cycles > result.instructions
    else:
        assert result.cycles == result.instructions
    # micros() around a 1000-iteration loop: at least 1000 instructions' worth, and not absurdly more.
    assert 1000 * 4 / (clock / 1e6) <= busy_us <= 1000 * 40 / (clock / 1e6)
    assert result.lowest_sp < result.stack_top and result.fault is None


@pytest.mark.parametrize("board", BOARDS)
@pytest.mark.parametrize("timed", MODES)
@pytest.mark.parametrize(("command", "kind", "address", "function"), [
    ("r", "unmapped read", 0xDEADBEEF, "read_bad"),
    ("u", "undefined instruction", None, "undefined_insn"),
    ("w", "unmapped write", 0x60000000, "write_bad"),
])
def test_fault_record(elf, board: str, timed: bool, command: str, kind: str, address: int | None,
                      function: str) -> None:
    emu = Emulator(board, elf("emu_fault", board), timed=timed)
    emu.write_console(command)
    result = emu.run()
    assert result.stop_reason == "fault"
    f = result.fault
    assert f.kind == kind and f.address == address
    assert function in f.function and "setup" in f.caller
    message = f.describe()
    assert message.startswith(f"fault: {kind}") and f"pc={f.pc:#x} in " in message and "lr=" in message


def test_same_emulator_runs_again_after_fault(elf) -> None:
    emu = Emulator("nano33ble", elf("emu_fault", "nano33ble"))
    emu.write_console("r")
    assert emu.run().stop_reason == "fault"
    emu.write_console("x")
    again = emu.run()
    assert again.stop_reason == "exit" and again.exit_code == 3


@pytest.mark.parametrize("board", BOARDS)
@pytest.mark.parametrize("timed", MODES)
def test_cycle_limit(elf, board: str, timed: bool) -> None:
    result = Emulator(board, elf("emu_hang", board), timed=timed, max_cycles=200_000).run()
    assert result.stop_reason == "cycle_limit"
    assert 200_000 <= result.cycles < 200_100
    assert result.console_text.strip() == "hanging"


@pytest.mark.parametrize("board", BOARDS)
def test_wall_timeout(elf, board: str) -> None:
    result = Emulator(board, elf("emu_hang", board), timeout_s=0.3).run()
    assert result.stop_reason == "timeout"
    assert 0.25 <= result.wall_s < 2.0
    assert result.instructions > 1_000_000


@pytest.mark.parametrize("board", BOARDS)
@pytest.mark.parametrize("timed", MODES)
def test_idle_loop(elf, board: str, timed: bool) -> None:
    result = Emulator(board, elf("emu_idle", board), timed=timed).run()
    assert result.stop_reason == "idle" and result.exit_code is None
    assert result.console_text == "idle test done\r\n"
    assert result.instructions < 5000  # stopped at the second loop() call, not after spinning


@pytest.mark.parametrize("board", BOARDS)
@pytest.mark.parametrize("timed", MODES)
def test_uart_echo(elf, board: str, timed: bool) -> None:
    lines: list[str] = []
    emu = Emulator(board, elf("emu_echo", board), timed=timed, on_console_line=lines.append)
    emu.write_console(b"hello\nworld\n")
    result = emu.run()
    assert result.stop_reason == "idle"
    assert lines == ["echo ready", "echo: HELLO", "echo: WORLD"]


def test_echo_answers_from_the_line_callback(elf) -> None:
    """The target layer's pattern: answer a console line synchronously from the callback."""
    lines: list[str] = []
    emu = Emulator("spresense", elf("emu_echo", "spresense"), timed=True)

    def on_line(line: str) -> None:
        lines.append(line)
        if line == "echo ready":
            emu.write_console("ping\n")

    emu.console.on_line = on_line
    assert emu.run().stop_reason == "idle"
    assert lines == ["echo ready", "echo: PING"]


@pytest.mark.parametrize("board", BOARDS)
def test_stack_into_heap_is_detected(elf, board: str) -> None:
    result = Emulator(board, elf("emu_stackheap", board), timed=True).run()
    assert result.stop_reason == "stack_heap_collision"
    assert "survived" not in result.console_text
    f = result.fault
    assert f.kind == "stack_heap_collision" and "deep" in f.function
    assert result.lowest_sp < result.heap_high_water
    assert f"{result.lowest_sp:#x}" in f.detail and f"{result.heap_high_water:#x}" in f.detail
    assert result.heap_bytes > 100_000


def test_memory_watch_reports_heap_and_stack(elf) -> None:
    emu = Emulator("nano33ble", elf("emu_echo", "nano33ble"))
    emu.write_console("abc\n")
    result = emu.run()
    assert result.heap_high_water > result.heap_start  # String grew the heap via _sbrk
    assert 0 < result.stack_bytes < 4096


def test_pyserial_over_pty(elf) -> None:
    serial = pytest.importorskip("serial")
    emu = Emulator("nano33ble", elf("emu_echo", "nano33ble"), timeout_s=20)
    path = emu.attach_pty()
    holder: dict = {}
    thread = threading.Thread(target=lambda: holder.setdefault("result", emu.run()))
    # the port opened before the firmware runs: pyserial's open flushes the input, so a ready line printed
    # before it (the emulator thread first, under load) would be lost
    port = serial.Serial(path, 115200, timeout=5)
    thread.start()
    try:
        with port:
            assert port.readline() == b"echo ready\r\n"
            port.write(b"over a pty\n")
            assert port.readline() == b"echo: OVER A PTY\r\n"
            time.sleep(0.2)  # the firmware idles, waiting for input: it must not end the run
            assert thread.is_alive()
            port.write(b"again\n")
            assert port.readline() == b"echo: AGAIN\r\n"
    finally:
        emu.stop()
        thread.join(10)
    assert holder["result"].stop_reason == "stopped"


def test_wrong_board_image_is_a_clear_error(elf) -> None:
    with pytest.raises(ArmlprofError, match="build the sketch for --board spresense"):
        Emulator("spresense", elf("emu_idle", "nano33ble"))


def test_missing_elf_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ArmlprofError, match="ELF not found"):
        Emulator("nano33ble", tmp_path / "nope.elf")


def test_cli_run(elf, capsys) -> None:
    from armlprof.cli import main

    code = main(["run", str(elf("emu_hello", "spresense")), "--board", "spresense", "--timed"])
    out = capsys.readouterr()
    assert code == 7
    assert "hello from armlprof" in out.out
    assert "stop reason: exit (exit code 7)" in out.err and "cycles:" in out.err and "heap" in out.err


def test_python_fallback_matches_native_hooks(elf, monkeypatch) -> None:
    """Without a host C compiler the emulator uses Python hooks: slower, same results."""
    from armlprof.emulator import emulator as emulator_module

    path = elf("emu_hello", "nano33ble")
    native_result = Emulator("nano33ble", path, timed=True).run()
    monkeypatch.setattr(emulator_module.native, "load_library", lambda: None)
    fallback = Emulator("nano33ble", path, timed=True)
    assert fallback._lib is None
    result = fallback.run()
    assert (result.stop_reason, result.exit_code) == ("exit", 7)
    assert (result.cycles, result.instructions) == (native_result.cycles, native_result.instructions)
    assert result.console_text == native_result.console_text


@pytest.mark.parametrize("board", BOARDS)
def test_input_queued_between_runs_is_delivered_once(elf, board: str) -> None:
    emu = Emulator(board, elf("emu_echo", board))
    for _ in range(2):
        emu.write_console("ab\n")
        assert emu.run().console_text.replace("\r", "") == "echo ready\necho: AB\n"


@pytest.mark.parametrize("board", BOARDS)
@pytest.mark.parametrize(("sketch", "arg"), [("emu_delay", "2\n"), ("emu_print", "40\n")])
def test_native_cyccnt_and_console_match_python_hooks(elf, monkeypatch, board: str, sketch: str, arg: str) -> None:
    """The native MMIO hooks answer DWT CYCCNT mid-block and buffer console TX; the Python hooks do neither: both
    give the same cycles, instructions and console bytes (and so the same lines, in order, to the callback)."""
    from armlprof.emulator import emulator as emulator_module

    path = elf(sketch, board)
    runs = []
    for fallback in (False, True):
        if fallback:
            monkeypatch.setattr(emulator_module.native, "load_library", lambda: None)
        lines: list[str] = []
        emu = Emulator(board, path, timed=True, on_console_line=lines.append)
        assert (emu._lib is None) == fallback
        emu.write_console(arg)
        result = emu.run()
        assert (result.stop_reason, result.exit_code) == ("exit", 0), result.summary()
        runs.append((result.cycles, result.instructions, result.console_text, lines))
    assert runs[0] == runs[1]
    assert len(runs[0][3]) == (41 if sketch == "emu_print" else 1)


@pytest.mark.parametrize("native_hooks", [True, False])
def test_uart_sends_nothing_while_off(elf, monkeypatch, native_hooks: bool) -> None:
    """nRF52840 UART: TXD writes before ENABLE/STARTTX or after STOPTX are dropped, by the native TX path too."""
    from armlprof.emulator import emulator as emulator_module

    if not native_hooks:
        monkeypatch.setattr(emulator_module.native, "load_library", lambda: None)
    emu = Emulator("nano33ble", elf("emu_txoff", "nano33ble"), timed=True)
    result = emu.run()
    assert (result.stop_reason, result.exit_code) == ("exit", 0)
    assert result.console_text.replace("\r", "") == "on\nagain\n"
    assert emu.peripherals[emu.board.console_name].dropped_tx_bytes == 2
