"""The Cortex-M4 cycle model against hand-counted sequences (ARM DDI 0439D Table 3-1, 3.3.2, Table 7-1).

Each sequence is assembled with arm-none-eabi-as into a minimal image for the board, framed by two reads of DWT
CYCCNT in the same basic block; the image exits over semihosting with the difference as its exit code. The frame
itself (the first CYCCNT load, 2 cycles, and a NOP on each side) costs 4 cycles, so this also checks that
CYCCNT is exact in the middle of a block.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from armlprof.board import load_board
from armlprof.calibration import with_timing
from armlprof.emulator import Emulator
from armlprof.emulator.timing import TimingParams, div_cycles

pytestmark = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="needs arm-none-eabi-gcc")

FRAME_CYCLES = 4  # ldr r4,[r6] (2) + nop + nop
P_DIRECT = 2  # board.toml branch_refill_cycles
P_INDIRECT = 3  # board.toml indirect_refill_cycles

HARNESS = """
.syntax unified
.thumb
.section .vectors, "a"
.word {stack_top:#x}
.word reset
.text
.thumb_func
.global reset
reset:
  ldr r6, =0xE000EDFC          @ DEMCR.TRCENA
  ldr r0, [r6]
  orr r0, r0, #0x1000000
  str r0, [r6]
  ldr r6, =0xE0001000          @ DWT_CTRL.CYCCNTENA
  ldr r0, [r6]
  orr r0, r0, #1
  str r0, [r6]
  ldr r6, =0xE000ED88          @ CPACR: FPU on
  ldr r0, =0xF00000
  str r0, [r6]
  ldr r7, ={scratch:#x}        @ r7: scratch RAM; [r7] holds its own address
  str r7, [r7]
  str r7, [r7, #4]
  mov r1, r7
  mov r3, r7
  ldr r6, =0xE0001004          @ CYCCNT
{setup}
  nop
  ldr r4, [r6]
  nop
{sequence}
  nop
  ldr r5, [r6]
  subs r0, r5, r4
  ldr r1, ={scratch:#x}
  ldr r2, =0x20026
  str r2, [r1, #8]
  str r0, [r1, #12]
  add r1, r1, #8
  movs r0, #0x20               @ SYS_EXIT_EXTENDED
  bkpt 0xab
.ltorg
.align 2
table: .byte 0, 1, 2, 3
flash_word: .word 0x12345678
"""


def build(tmp: Path, board_name: str, sequence: str, setup: str = "") -> Path:
    board = load_board(board_name)
    ram = board.region(board.ram_region)
    src = HARNESS.format(stack_top=ram.end, scratch=board.ram_origin + 0x1000, setup=setup, sequence=sequence)
    n = len(list(tmp.glob("*.S")))
    asm, elf = tmp / f"seq{n}.S", tmp / f"seq{n}.elf"
    asm.write_text(src)
    ld = tmp / f"seq{n}.ld"
    ld.write_text(f"SECTIONS {{ . = {board.image_origin:#x}; .text : {{ KEEP(*(.vectors)) *(.text*) }} }}\n")
    subprocess.run(["arm-none-eabi-gcc", "-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard",
                    "-nostdlib", "-T", str(ld), str(asm), "-o", str(elf)], check=True, capture_output=True)
    return elf


# The hand-counted table is the core's own timing: no memory wait states (spresense's are board data).
ZERO_WAIT = {"data_load_wait_states": 0, "data_store_wait_states": 0, "regions.sram.fetch_wait_states": 0}


def measure(tmp: Path, sequence: str, setup: str = "", board: str = "spresense", timed: bool = True,
            timing: dict[str, float] | None = None) -> int:
    overrides = ZERO_WAIT if timing is None and board == "spresense" else timing or {}
    emulated = with_timing(load_board(board), overrides, "test")
    result = Emulator(emulated, build(tmp, board, sequence, setup), timed=timed, max_cycles=100_000).run()
    assert result.stop_reason == "exit", result.summary()
    return result.exit_code - FRAME_CYCLES


@pytest.fixture
def tmp(tmp_path: Path) -> Path:
    return tmp_path


def test_frame_is_exact_mid_block(tmp: Path) -> None:
    assert measure(tmp, "") == 0


@pytest.mark.parametrize(
    ("sequence", "cycles"),
    [
        ("adds r0, r1, r2", 1),  # Table 3-1 data processing
        ("mul r0, r1, r2", 1),  # Table 3-1 MUL
        ("mla r0, r1, r2, r3", 1),
        ("umull r0, r2, r1, r3", 1),  # long multiply
        ("smlad r0, r1, r2, r3", 1),  # DSP
        ("sxtb16 r0, r1", 1),
        ("ldr r0, [r1]", 2),  # single load
        ("ldr r0, [r1]\n ldr r2, [r3]", 2 + 1),  # 3.3.2: back-to-back loads pipeline
        ("ldr r0, [r1]\n ldr r2, [r1, #4]\n ldr r3, [r1]", 2 + 1 + 1),
        ("ldr r0, [r1]\n ldr r2, [r0]", 2 + 2),  # address uses the previous load's result: no pipelining
        ("adds r1, r1, #0\n ldr r0, [r1]", 1 + 2 + 1),  # +1 address dependency on a data-processing result
        ("str r0, [r1, #4]", 1),  # STR Rx,[Ry,#imm] is one cycle
        ("str r0, [r1, r2]", 2),  # register offset store
        ("ldr r0, [r1]\n str r0, [r3, #8]", 2 + 1),
        ("ldrd r0, r2, [r1]", 3),  # LDRD 1+N
        ("push {r0-r3}\n pop {r0-r3}", 5 + 5),  # 1+N each
        ("cmp r0, r0\n it eq\n addeq r0, r0, #1", 1 + 0 + 1),  # IT folded onto a 16-bit instruction
        ("cmp.w r0, r0\n it eq\n addeq r0, r0, #1", 1 + 1 + 1),  # not folded after a 32-bit one
        ("b 1f\n nop\n 1:", 1 + P_DIRECT),  # taken branch 1+P
        ("cmp r0, r0\n bne 1f\n nop\n 1:", 1 + 1 + 1),  # conditional, not taken: 1
        ("cmp r0, r0\n beq 1f\n nop\n 1:", 1 + 1 + P_DIRECT),  # conditional, taken
        ("movs r0, #0\n cbz r0, 1f\n nop\n 1:", 1 + 1 + P_DIRECT),
        ("adr r0, 1f\n adds r0, #1\n bx r0\n .align 2\n 1:", 1 + 1 + 1 + P_INDIRECT),
        # TBB: load (2) + add (1) + refill; entry 2 skips the table's 4 bytes, then 3 NOPs.
        ("movs r0, #2\n nop\n tbb [pc, r0]\n 0: .byte 0, 1, 2, 3\n nop\n nop\n nop", 1 + 1 + 3 + P_INDIRECT + 3),
        ("movs r0, #2\n tbb [pc, r0]\n 0: .byte 0, 1, 2, 3\n nop", 1 + 3 + 1 + P_INDIRECT + 1),  # +1 index dep.
        ("vadd.f32 s0, s1, s2", 1),  # Table 7-1
        ("vadd.f32 s0, s1, s2\n vadd.f32 s3, s0, s1", 1 + 1 + 1),  # +1: next instruction uses the result
        ("vmla.f32 s0, s1, s2", 3),
        ("vfma.f32 s0, s1, s2", 3),
        ("vdiv.f32 s0, s1, s2", 14),
        ("vsqrt.f32 s0, s1", 14),
        ("vldr s0, [r1]", 2),
        ("vldmia r1, {s0-s3}", 1 + 4),
        ("vmov r0, s0", 1),
        ("vmov r0, r2, d0", 2),
        ("vmov r0, r2, s0, s1", 2),  # the two-register forms, with S registers too
        ("vmov s0, s1, r0, r2", 2),
        ("vmov d0, r0, r2", 2),
    ],
)
def test_instruction_class(tmp: Path, sequence: str, cycles: int) -> None:
    assert measure(tmp, sequence) == cycles


@pytest.mark.parametrize(("dividend", "divisor"), [(100, 7), (0x7FFFFFFF, 1), (1, 7), (-1000, 3), (5, 0)])
def test_sdiv_operand_dependent(tmp: Path, dividend: int, divisor: int) -> None:
    setup = f"  ldr r1, ={dividend & 0xFFFFFFFF:#x}\n  ldr r2, ={divisor:#x}"
    cycles = measure(tmp, "sdiv r0, r1, r2", setup)
    params = TimingParams()
    assert params.div_min_cycles <= cycles <= params.div_max_cycles
    assert cycles == div_cycles(dividend, divisor, True, params)


def test_sdiv_early_termination_extremes(tmp: Path) -> None:
    assert measure(tmp, "udiv r0, r1, r2", "  movs r1, #1\n  movs r2, #7") == 2  # quotient 0
    assert measure(tmp, "udiv r0, r1, r2", "  ldr r1, =0xFFFFFFFF\n  movs r2, #1") == 12  # 32 quotient bits


def test_functional_mode_counts_instructions(tmp: Path) -> None:
    # One cycle per instruction: the frame (ldr, nop, nop) plus the three instructions, whatever their class.
    frame_instructions = 3
    got = measure(tmp, "vdiv.f32 s0, s1, s2\n ldr r0, [r1]\n b 1f\n 1:", timed=False) + FRAME_CYCLES
    assert got == frame_instructions + 3


def test_flash_load_wait_states(tmp: Path) -> None:
    # nano33ble [timing.regions.flash] load_wait_states: a load from flash costs that much more than from RAM.
    wait_states = load_board("nano33ble").timing["regions"]["flash"]["load_wait_states"]
    assert wait_states == 5  # fitted on the study's micro_speech AOT cell (board.toml)
    from_ram = measure(tmp, "ldr r0, [r1]", board="nano33ble")
    from_flash = measure(tmp, "ldr r0, [r1]", "  ldr r1, =flash_word", board="nano33ble")
    assert from_flash - from_ram == wait_states


@pytest.mark.parametrize(
    ("sequence", "reads", "writes"),
    [
        ("ldr r0, [r1]", 1, 0),
        ("str r0, [r1, #4]", 0, 1),
        ("ldrd r0, r2, [r1]", 2, 0),
        ("strd r0, r2, [r1]", 0, 2),
        ("push {r0-r3}\n pop {r0-r3}", 4, 4),
        ("vldmia r1, {s0-s3}", 4, 0),
        ("vstr s0, [r1]", 0, 1),
        ("adds r0, r1, r2", 0, 0),
    ],
)
def test_data_wait_states_per_beat(tmp: Path, sequence: str, reads: int, writes: int) -> None:
    # [timing] data_load_wait_states / data_store_wait_states: charged per 32-bit data beat, statically.
    base = measure(tmp, sequence)
    slow = measure(tmp, sequence, timing=ZERO_WAIT | {"data_load_wait_states": 3, "data_store_wait_states": 2})
    # The frame's own CYCCNT load (ldr r4/r5) is one read either side: one of them falls inside the frame.
    frame = measure(tmp, "", timing=ZERO_WAIT | {"data_load_wait_states": 3, "data_store_wait_states": 2})
    assert slow - base - frame == 3 * reads + 2 * writes


def test_allocator_surcharge_per_call(tmp: Path) -> None:
    from armlprof.calibration import build_calibration_sketch, emulator_runner

    board = load_board("nano33ble")
    build_calibration_sketch(board)
    none = emulator_runner(1)(with_timing(board, {"allocator_call_cycles": 0}, "test"))["malloc_free"]
    some = emulator_runner(1)(with_timing(board, {"allocator_call_cycles": 250}, "test"))["malloc_free"]
    assert some - none == 250 * 2 * 16  # 16 malloc/free pairs per iteration


def test_flash_fetch_wait_states_follow_icache(tmp: Path) -> None:
    seq = "\n".join(["nop"] * 16)
    cache_on = "  ldr r0, =0x4001E540\n  movs r2, #1\n  str r2, [r0]"
    cached = measure(tmp, seq, cache_on, board="nano33ble")
    uncached = measure(tmp, seq, board="nano33ble")
    assert cached == 16
    # fetch_wait_states_uncached = 2 per 32-bit fetch; the frame and the 16 NOPs span 38 bytes: 9 or 10 fetches
    assert 2 * 9 <= uncached - cached <= 2 * 10


def test_same_image_same_cycles(tmp: Path) -> None:
    elf = build(tmp, "nano33ble", "\n".join(["ldr r0, [r1]", "sdiv r0, r1, r7", "b 1f", "1:"] * 4))
    emu = Emulator("nano33ble", elf, timed=True)
    first = emu.run()
    assert [emu.run().cycles for _ in range(3)] == [first.cycles] * 3
    assert Emulator("nano33ble", elf, timed=True).run().cycles == first.cycles
