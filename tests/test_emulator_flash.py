"""Timed mode computes exactly what functional mode computes; only the cycle counts differ.

Timed mode on nano33ble hooks data reads from flash (load_wait_states = 2), and Unicorn's memory-hook path used to
leak the Thumb IT state of a hooked load into the next translated block (unicorn-engine/unicorn#2309; see
armlprof/emulator/cyclehook.c): TFLM's flatbuffers code failed an assertion and TVM models faulted. These run
a sketch with every flash load form, and a real model built with TVM AOT and with TFLM, in both modes.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from armlprof.board import load_board
from armlprof.emulator import Emulator, RunResult
from armlprof.emulator import emulator as emulator_module

pytestmark = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="needs arm-none-eabi-gcc")

FIRMWARE = Path(__file__).resolve().parent / "firmware"
SHARED_MODELS = Path(__file__).resolve().parents[1].parent / "shared" / "models"
BOARDS = ["nano33ble", "spresense"]
SEED = 7


def _run(board: str, elf: Path, timed: bool, console_input: str) -> RunResult:
    emu = Emulator(board, elf, timed=timed, max_cycles=2_000_000_000)
    emu.write_console(console_input.encode())
    return emu.run()


@pytest.fixture(scope="module")
def flashloads_elf():
    from armlprof.build import build_sketch

    return {b: build_sketch(FIRMWARE / "emu_flashloads", load_board(b), baseline=False).elf for b in BOARDS}


def _checksum(result: RunResult) -> str:
    assert result.stop_reason == "exit" and result.exit_code == 0, result.summary()
    found = re.search(r"flashloads passes=2 checksum=([0-9A-F]+)", result.console_text)
    assert found, result.console_text
    return found.group(1)


@pytest.mark.parametrize("board", BOARDS)
def test_flash_loads_timed_equals_functional(flashloads_elf, board: str) -> None:
    functional = _run(board, flashloads_elf[board], False, "2\n")
    timed = _run(board, flashloads_elf[board], True, "2\n")
    assert _checksum(timed) == _checksum(functional)
    if board == "nano33ble":  # the flash data reads were charged their wait states
        assert timed.cycles > functional.cycles


def test_flash_loads_python_hooks_match(flashloads_elf, monkeypatch) -> None:
    """The Python fallback hooks (no host C compiler) must clear the leaked IT state the same way."""
    native = _run("nano33ble", flashloads_elf["nano33ble"], True, "2\n")
    monkeypatch.setattr(emulator_module.native, "load_library", lambda: None)
    fallback = Emulator("nano33ble", flashloads_elf["nano33ble"], timed=True, max_cycles=2_000_000_000)
    assert fallback._lib is None
    fallback.write_console(b"2\n")
    result = fallback.run()
    assert _checksum(result) == _checksum(native)
    assert (result.cycles, result.instructions) == (native.cycles, native.instructions)


@pytest.mark.parametrize("board", BOARDS)
@pytest.mark.parametrize("native_hooks", [True, False])
def test_alignment_check_changes_no_result(flashloads_elf, board: str, native_hooks: bool, monkeypatch) -> None:
    """The alignment hook sees every access (unaligned LDR/LDRH inside IT blocks included): with it on, the same
    checksum, cycles and instructions in both modes, native and Python hooks."""
    if not native_hooks:
        monkeypatch.setattr(emulator_module.native, "load_library", lambda: None)
    for timed in (False, True):
        runs = []
        for check in (False, True):
            emu = Emulator(board, flashloads_elf[board], timed=timed, max_cycles=2_000_000_000, check_alignment=check)
            assert emu.check_alignment == check and (emu._lib is not None) == native_hooks
            emu.write_console(b"2\n")
            result = emu.run()
            runs.append((_checksum(result), result.cycles, result.instructions))
        assert runs[0] == runs[1], (timed, runs)


def _runtime_or_skip(name: str):
    from armlprof.runtime import get_runtime

    if name.startswith("tvm"):
        pytest.importorskip("tvm")
    runtime = get_runtime(name)
    reason = runtime.unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    return runtime


@pytest.fixture(scope="module")
def micro_speech_build(tmp_path_factory):
    """micro_speech built by a runtime into the inference_time measurement sketch: (runtime, board) -> elf."""
    from armlprof.build import build_sketch
    from armlprof.model import load_model
    from armlprof.sketch import write_sketch

    path = SHARED_MODELS / "micro_speech_quantized.tflite"
    model = load_model(str(path) if path.is_file() else "builtin:micro_speech")
    root = tmp_path_factory.mktemp("flash_models")
    elves: dict[tuple[str, str], Path] = {}

    def get(runtime_name: str, board_name: str) -> Path:
        if (runtime_name, board_name) not in elves:
            runtime = _runtime_or_skip(runtime_name)
            board = load_board(board_name)
            sketch = root / f"micro_speech_{runtime_name}_{board_name}"
            generated = runtime.generate(model, sketch / "src", board)
            write_sketch("inference_time", sketch, src_dir=None, runtime=runtime_name, model=model.name)
            build = build_sketch(sketch, board, extra_flags=generated.extra_build_flags,
                                 extra_objects=generated.extra_objects)
            elves[(runtime_name, board_name)] = build.elf
        return elves[(runtime_name, board_name)]

    return model, get


@pytest.mark.slow
@pytest.mark.parametrize("board", BOARDS)
@pytest.mark.parametrize("runtime", ["tvm-aot", "tflm"])
def test_model_same_output_timed_and_functional(micro_speech_build, runtime: str, board: str) -> None:
    """A real model: the same output CRC, tflite-micro's reference, in both modes. TFLM's flatbuffers code is
    where the leaked IT state first showed (GetOptionalFieldOffset: `ite hi; ldrhhi ...`)."""
    from armlprof.measure import expected_crc
    from armlprof.protocol import format_host_line

    model, get = micro_speech_build
    elf = get(runtime, board)
    crcs = {}
    for timed in (False, True):
        result = _run(board, elf, timed, format_host_line(seed=SEED, runs=1))
        assert result.stop_reason in ("exit", "idle"), result.summary() + "\n" + result.console_text[-300:]
        found = re.search(r"event=summary status=ok .*crc=([0-9a-f]{8})", result.console_text)
        assert found, result.console_text[-300:]
        crcs[timed] = found.group(1)
    assert crcs[True] == crcs[False] == expected_crc(model, SEED)
