"""Cycles per basic block of one function of the micro-kernel library, from the emulator's cycle model.

    .venv/bin/python benchmarks/kernel_block_cycles.py BOARD FUNCTION [FUNCTION...]

e.g. `spresense ak_dwf_rows_s1 ak_dwp_rows_s1 ak_dwp_requant`. Compiles armlprof_kernels.c with the board's flags
(-Os), cuts each FUNCTION at its branches and branch targets and costs every piece as one translation block
(`timing.cost_block`: the manual's cycles plus the board's data wait states), plus the board's fetch wait states per
code word: what a loop body costs per iteration (add `taken` when its closing branch loops back).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from armlprof.board import load_board
from armlprof.build import compile_flags
from armlprof.emulator import timing
from armlprof.errors import ArmlprofError
from armlprof.toolchain import find_toolchain

SOURCE = Path(__file__).resolve().parents[1] / "armlprof" / "runtime" / "tvm" / "c" / "armlprof_kernels.c"


def main() -> None:
    try:
        _run()
    except ArmlprofError as exc:  # bad board or toolchain: one line, no traceback
        sys.exit(f"error: {exc}")


def _run() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("board")
    parser.add_argument("functions", nargs="+")
    args = parser.parse_args()
    board = load_board(args.board)
    gcc = find_toolchain().gcc
    params = timing.TimingParams.from_board_timing(board.timing)
    fetch_waits = max((r.get("fetch_wait_states", 0) for r in board.timing.get("regions", {}).values()), default=0)
    md = timing.make_disassembler()
    with tempfile.TemporaryDirectory() as tmp:
        obj = Path(tmp) / "k.o"
        subprocess.run([gcc, *compile_flags(board, "-Os"), "-c", "-o", str(obj), str(SOURCE)], check=True)
        for function in args.functions:
            code_file = Path(tmp) / f"{function}.bin"
            subprocess.run([gcc.replace("gcc", "objcopy"), "-O", "binary", f"--only-section=.text.{function}",
                            str(obj), str(code_file)], check=True)
            code = code_file.read_bytes()
            if not code:
                sys.exit(f"error: no function {function} in the micro-kernel library at -Os (a typo, or a static "
                         "function GCC inlined or renamed: see `arm-none-eabi-nm` of the object)")
            starts = {0}
            for insn in md.disasm(code, 0):
                if insn.mnemonic.startswith("b") or insn.mnemonic.startswith("cb"):
                    starts.add(insn.address + insn.size)
                    if insn.op_str.startswith("#"):
                        starts.add(int(insn.op_str.split("#")[-1], 16))
            bounds = sorted(a for a in starts if a < len(code)) + [len(code)]
            print(f"{function} ({len(code)} bytes)")
            for a, b in zip(bounds, bounds[1:], strict=False):
                cost = timing.cost_block(md, code[a:b], a, params)
                total = cost.cycles + fetch_waits * cost.fetch_words
                print(f"  {a:#06x}-{b:#06x} {cost.instructions:3d} instructions {total:5d} cycles"
                      f" (taken +{cost.taken_cycles})")


if __name__ == "__main__":
    main()
