"""Fault records: how a run that went wrong is reported (never a Python traceback)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FaultRecord:
    kind: str  # "unmapped read", "unmapped write", "unmapped fetch", "write to read-only memory",
    #            "undefined instruction", "invalid state", "exception N", "stack_heap_collision"
    pc: int
    lr: int
    address: int | None  # the data address involved, when there is one
    function: str | None  # ELF symbol containing pc
    caller: str | None  # ELF symbol containing lr
    detail: str = ""

    def describe(self) -> str:
        """One line, e.g. `fault: unmapped read at 0xdeadbeef, pc=0x10234 in model_inference (lr=0x10100 in setup)`."""
        where = f" at {self.address:#x}" if self.address is not None else ""
        pc = f"pc={self.pc:#x}" + (f" in {self.function}" if self.function else "")
        lr = f"lr={self.lr:#x}" + (f" in {self.caller}" if self.caller else "")
        extra = f"; {self.detail}" if self.detail else ""
        return f"fault: {self.kind}{where}, {pc} ({lr}){extra}"

    def to_dict(self) -> dict:
        return {"kind": self.kind, "pc": self.pc, "lr": self.lr, "address": self.address,
                "function": self.function, "caller": self.caller, "detail": self.detail,
                "message": self.describe()}


# QEMU's ARM exception numbers as Unicorn reports them to an interrupt hook (target/arm/cpu.h).
EXCEPTION_NAMES = {
    1: "undefined instruction",
    2: "supervisor call (svc) without a handler",
    3: "prefetch abort",
    4: "data abort",
    7: "breakpoint",
    17: "coprocessor access (FPU disabled: CPACR)",
    18: "invalid state (branch to an ARM-state address: bit 0 clear)",
    19: "stack overflow (stack limit)",
    21: "lazy FP state error",
    22: "unaligned access",
}
EXCP_BKPT = 7
