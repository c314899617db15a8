"""Emulator speed on an int8 convolution loop (tests/firmware/emu_conv, data in RAM), on const data read from
flash with every load form (tests/firmware/emu_flashloads: on nano33ble timed mode hooks each flash read for its
wait states), on a delay() loop polling DWT CYCCNT (tests/firmware/emu_delay, a blinking firmware) and on a
console-heavy firmware (tests/firmware/emu_print, 64-character lines): simulated instructions per second in
functional and timed mode, per board, and the timed/functional ratio. Also checks that the cycle count repeats and
that both modes print the same checksum.

    .venv/bin/python benchmarks/emulator_speed.py [--repeats 20] [--board nano33ble --board spresense]
        [--sketch emu_delay ...]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from armlprof.board import load_board
from armlprof.build import build_sketch
from armlprof.emulator import Emulator

FIRMWARE = Path(__file__).resolve().parents[1] / "tests" / "firmware"


def measure(board_name: str, timed: bool, repeats: int, runs: int = 3,
            sketch: str = "emu_conv") -> tuple[float, int, int, str]:
    board = load_board(board_name)
    elf = build_sketch(FIRMWARE / sketch, board, baseline=False).elf
    emu = Emulator(board, elf, timed=timed)
    best_mips, cycles_seen, line = 0.0, set(), ""
    instructions = 0
    for _ in range(runs):  # the first run also pays for translation; report the best
        emu.write_console(f"{repeats}\n")
        result = emu.run()
        assert result.stop_reason == "exit", result.summary()
        best_mips = max(best_mips, result.instructions / result.wall_s / 1e6)
        cycles_seen.add(result.cycles)
        instructions = result.instructions
        line = result.console_text.strip().splitlines()[-1]
    assert len(cycles_seen) == 1, f"non-deterministic cycle counts: {cycles_seen}"
    return best_mips, instructions, cycles_seen.pop(), line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=20, help="convolutions per run (~5.6 M instructions each)")
    parser.add_argument("--flash-passes", type=int, default=2000, help="emu_flashloads passes (~8.5 k instr. each)")
    parser.add_argument("--delay-ms", type=int, default=200, help="emu_delay milliseconds of delay(1)")
    parser.add_argument("--print-lines", type=int, default=2000, help="emu_print console lines (~2.1 k instr. each)")
    parser.add_argument("--board", action="append", default=None)
    parser.add_argument("--sketch", action="append", default=None, help="only these cases (default: all)")
    args = parser.parse_args()
    cases = {"emu_conv": args.repeats, "emu_flashloads": args.flash_passes, "emu_delay": args.delay_ms,
             "emu_print": args.print_lines}
    for sketch, repeats in cases.items():
        if args.sketch and sketch not in args.sketch:
            continue
        for board in args.board or ["nano33ble", "spresense"]:
            functional, instructions, _, functional_line = measure(board, False, repeats, sketch=sketch)
            timed, _, cycles, line = measure(board, True, repeats, sketch=sketch)
            checksum = line.rsplit("checksum=", 1)[-1]
            assert checksum == functional_line.rsplit("checksum=", 1)[-1], (line, functional_line)
            print(f"{sketch} on {board}: {instructions:,} instructions per run; timed cycles {cycles:,} "
                  "(identical on every run)")
            print(f"  firmware: {line}   (functional mode: same checksum)")
            print(f"  functional: {functional:7.2f} M instructions/s")
            print(f"  timed:      {timed:7.2f} M instructions/s   (timed/functional = {timed / functional:.2f})")


if __name__ == "__main__":
    main()
