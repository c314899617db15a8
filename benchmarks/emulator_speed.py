"""Emulator speed on an int8 convolution loop (tests/firmware/emu_conv): simulated instructions per second in
functional and timed mode, per board, and the timed/functional ratio. Also checks the cycle count repeats.

    .venv/bin/python benchmarks/emulator_speed.py [--repeats 20] [--board nano33ble --board spresense]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from armlprof.board import load_board
from armlprof.build import build_sketch
from armlprof.emulator import Emulator

SKETCH = Path(__file__).resolve().parents[1] / "tests" / "firmware" / "emu_conv"


def measure(board_name: str, timed: bool, repeats: int, runs: int = 3) -> tuple[float, int, int, str]:
    board = load_board(board_name)
    elf = build_sketch(SKETCH, board, baseline=False).elf
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
        line = result.console_text.strip()
    assert len(cycles_seen) == 1, f"non-deterministic cycle counts: {cycles_seen}"
    return best_mips, instructions, cycles_seen.pop(), line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=20, help="convolutions per run (~5.6 M instructions each)")
    parser.add_argument("--board", action="append", default=None)
    args = parser.parse_args()
    for board in args.board or ["nano33ble", "spresense"]:
        functional, instructions, _, _ = measure(board, False, args.repeats)
        timed, _, cycles, line = measure(board, True, args.repeats)
        print(f"{board}: {instructions:,} instructions per run; timed cycles {cycles:,} (identical on every run)")
        print(f"  firmware: {line}")
        print(f"  functional: {functional:7.1f} M instructions/s")
        print(f"  timed:      {timed:7.1f} M instructions/s   (timed/functional = {timed / functional:.2f})")


if __name__ == "__main__":
    main()
