"""Where an emulated run's cycles went: per function of the image (Emulator(profile=True)).

Every cycle the timing model counts is charged to the translation block that was executing when it was counted
(its own cost, taken-branch refills, load/store wait states, division and allocator surcharges), and each block to
the function that holds its first instruction, so the functions' cycles add up to the run's exactly. Profiling
uses the emulator's Python block hook, which charges the same cycles as the native one (tests/test_profile.py
checks the totals agree) at a few times its wall time.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from armlprof.emulator.elfimage import ElfImage, demangle


@dataclass(frozen=True)
class FunctionCycles:
    function: str  # demangled; "NAME (after)" for symbol-less code right after NAME (an asm .subsection 1 tail)
    cycles: int
    blocks: int  # translation blocks of it executed


@dataclass(frozen=True)
class BlockCycles:
    address: int  # the translation block's first instruction
    size_bytes: int  # its code (the last translation of it, if Unicorn translated it more than once)
    function: str  # as FunctionCycles.function
    cycles: int
    executions: int

    @property
    def cycles_per_execution(self) -> float:
        return self.cycles / max(self.executions, 1)


class BlockProfile:
    """Cycles and executions per translation block (by start address) of the runs since the last reset."""

    def __init__(self) -> None:
        self.cycles: Counter[int] = Counter()
        self.executions: Counter[int] = Counter()
        self.mark = 0  # the run's cycle count when the current block started

    def reset(self) -> None:
        self.cycles.clear()
        self.executions.clear()
        self.mark = 0

    def charge(self, block_address: int, cycles_now: int) -> None:
        """The cycles counted since the last charge belong to the block that just ended."""
        self.cycles[block_address] += cycles_now - self.mark
        self.executions[block_address] += 1
        self.mark = cycles_now

    def by_function(self, image: ElfImage) -> list[FunctionCycles]:
        """Per function, most cycles first."""
        cycles: Counter[str] = Counter()
        blocks: Counter[str] = Counter()
        for address, c in self.cycles.items():
            name = image.code_owner(address)
            cycles[name] += c
            blocks[name] += self.executions[address]
        return [FunctionCycles(_readable(name), c, blocks[name]) for name, c in cycles.most_common()]

    def by_block(self, image: ElfImage, sizes_bytes: dict[int, int]) -> list[BlockCycles]:
        """Per translation block, most cycles first (sizes_bytes: its code size by start address)."""
        return [BlockCycles(address, sizes_bytes.get(address, 0), _readable(image.code_owner(address)), c,
                            self.executions[address])
                for address, c in self.cycles.most_common()]


def _readable(owner: str) -> str:
    """An ElfImage.code_owner name demangled, its " (after)" kept."""
    after = " (after)" if owner.endswith(" (after)") else ""
    return demangle(owner.removesuffix(" (after)")) + after


def format_profile(rows: list[FunctionCycles], total_cycles: int, top: int | None = None) -> str:
    """A plain table: cycles, share of the run, blocks executed, function."""
    lines = [f"{'cycles':>13s} {'share':>6s} {'blocks':>10s}  function"]
    for r in rows[:top]:
        lines.append(f"{r.cycles:>13,} {100 * r.cycles / max(total_cycles, 1):5.1f}% {r.blocks:>10,}  {r.function}")
    rest = rows[top:] if top is not None else []
    if rest:
        rest_cycles = sum(r.cycles for r in rest)
        lines.append(f"{rest_cycles:>13,} {100 * rest_cycles / max(total_cycles, 1):5.1f}%"
                     f" {sum(r.blocks for r in rest):>10,}  ({len(rest)} more functions)")
    lines.append(f"{total_cycles:>13,} 100.0% {'':>10s}  total")
    return "\n".join(lines)
