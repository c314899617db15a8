"""The Cortex-M4 cycle model: cost of a basic block from its decoded instructions, per ARM DDI 0439D.

The per-class cycle counts live in `cortex_m4_timing.json` (one row per instruction class, each citing the manual);
this module applies them with the pipeline rules of DDI 0439D 3.3.2: single loads/stores pipelined after a load,
the +1 address-dependency stall, IT folding, the FP result latency, and branch refill (taken branches pay P,
decided at run time by the native hook). A block is decoded and costed once; the emulator caches the result.

Not modelled (documented limits): unaligned-access penalties, the extra cycle of LDR [PC,#imm] contending with
fetch, skipped (condition-failed) instructions in IT blocks costing less, dependencies across block boundaries,
interrupt/exception latency (the firmware uses none), and WFI/WFE wait time.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

import capstone as cs
from capstone import arm_const as csa

TIMING_TABLE = Path(__file__).resolve().parent / "cortex_m4_timing.json"

# Classes whose result the address generation of the next load/store cannot forward (DDI 0439D 3.3.2).
_DATA_PROCESSING = {"data_processing", "multiply", "long_multiply", "dsp", "divide"}
_SINGLE_LOAD_STORE = {"load", "store"}
_FP_RESULT = {"fp_arith", "fp_mac", "fp_div"}
_SP_ADJUSTING = {"push", "pop", "vpush", "vpop"}


@dataclass(frozen=True)
class TimingParams:
    """Board timing parameters no datasheet fixes (board.toml [timing]) plus the manual's table."""

    branch_refill_cycles: int = 2  # P for direct branches (B, BL, CBZ): target speculated early
    indirect_refill_cycles: int = 3  # P for PC loaded from a register or memory (BX, POP {PC}, LDR PC, TBB)
    address_dependency_cycles: int = 1
    div_min_cycles: int = 2
    div_max_cycles: int = 12
    # Wait states of the board's data memory (stack, heap, static data), charged per 32-bit data beat of every
    # load/store when the block is costed: no memory hook, so no speed cost. A region's own load/store wait states
    # ([timing.regions.*], charged by a memory hook on that region only) come on top.
    data_load_wait_states: int = 0
    data_store_wait_states: int = 0
    # The official C library's allocator cost beyond armlprof's newlib-nano one, per call of malloc or of free
    # (a code hook on each entry; one figure for both: a microbenchmark cannot separate calls that come in pairs).
    allocator_call_cycles: int = 0

    @classmethod
    def from_board_timing(cls, timing: dict[str, Any]) -> TimingParams:
        table = load_table()
        defaults = table["default_parameters"]
        div = table["classes"]["divide"]

        def rounded(key: str, default: float = 0) -> int:
            return round(float(timing.get(key, default)))  # calibrated values may be fractional

        return cls(
            branch_refill_cycles=rounded("branch_refill_cycles", defaults["branch_refill_cycles"]),
            indirect_refill_cycles=rounded("indirect_refill_cycles", defaults["indirect_refill_cycles"]),
            address_dependency_cycles=int(defaults["address_dependency_cycles"]),
            div_min_cycles=int(div["min_cycles"]),
            div_max_cycles=int(div["max_cycles"]),
            data_load_wait_states=rounded("data_load_wait_states"),
            data_store_wait_states=rounded("data_store_wait_states"),
            allocator_call_cycles=rounded("allocator_call_cycles"),
        )


@cache
def load_table() -> dict[str, Any]:
    return json.loads(TIMING_TABLE.read_text())


@cache
def model_fingerprint() -> str:
    """sha256 prefix of the cycle model itself (its table, this module, the native block hook): a time measured
    under an earlier model (before a timing fix) is not the same figure as one measured under this one."""
    here = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in (TIMING_TABLE, here / "timing.py", here / "cyclehook.c"):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@cache
def _class_of_mnemonic() -> dict[str, str]:
    out: dict[str, str] = {}
    for name, row in load_table()["classes"].items():
        for m in row["mnemonics"]:
            out[m] = name
    return out


def make_disassembler() -> cs.Cs:
    md = cs.Cs(cs.CS_ARCH_ARM, cs.CS_MODE_THUMB | cs.CS_MODE_MCLASS)
    md.detail = True
    return md


@dataclass
class _Insn:
    """What the cost rules need to know about one decoded instruction."""

    address: int
    size: int
    name: str
    cls: str
    reads: frozenset[int]
    writes: frozenset[int]
    address_regs: frozenset[int]  # registers that form a memory operand's address
    immediate_offset: bool  # memory operand without an index register
    list_words: int  # registers transferred by LDM/STM/PUSH/POP/VLDM (32-bit words)
    two_core_regs: bool  # VMOV between two core registers and FP registers
    writes_pc: bool
    direct_branch: bool
    conditional: bool
    writes_sp: bool
    load: LoadOperand | None  # how to recompute the address this instruction reads, if it reads memory


_READS_MEMORY = {"load", "load_pc", "load_double", "load_multiple", "fp_load", "fp_load_multiple", "table_branch"}
_CS_TO_UC_REG = {getattr(csa, f"ARM_REG_R{n}"): n for n in range(13)} | {
    csa.ARM_REG_SP: 13, csa.ARM_REG_LR: 14, csa.ARM_REG_PC: 15}


@dataclass(frozen=True)
class LoadOperand:
    """The address a load reads: base + (±index << shift) + displacement (pre-indexed) or base (post-indexed,
    multiple). Registers are core register numbers 0..15."""

    index_in_block: int
    base: int
    index: int | None
    shift: int
    displacement: int
    subtracted: bool

    def address(self, regs: list[int]) -> int:
        ea = regs[self.base]
        if self.index is not None:
            off = (regs[self.index] << self.shift) & 0xFFFFFFFF
            ea = ea - off if self.subtracted else ea + off
        return (ea + self.displacement) & 0xFFFFFFFF


def _load_operand(insn: cs.CsInsn, name: str, cls: str) -> LoadOperand | None:
    if cls not in _READS_MEMORY:
        return None
    if name == "pop" or name == "vpop":
        return LoadOperand(-1, 13, None, 0, 0, False)
    mem = [o for o in insn.operands if o.type == csa.ARM_OP_MEM]
    if not mem:  # LDM Rn!, {...}: the first operand is the base
        regs = [o.reg for o in insn.operands if o.type == csa.ARM_OP_REG]
        return LoadOperand(-1, _CS_TO_UC_REG.get(regs[0], 0), None, 0, 0, False) if regs else None
    op = mem[0]
    if op.mem.base not in _CS_TO_UC_REG:
        return None
    post_indexed = insn.operands[-1].type != csa.ARM_OP_MEM and insn.writeback and cls != "load_multiple"
    index = _CS_TO_UC_REG.get(op.mem.index) if op.mem.index else None
    shift = op.shift.value if index is not None and op.shift.type == csa.ARM_SFT_LSL else 0
    if name == "tbh":
        shift = 1
    return LoadOperand(-1, _CS_TO_UC_REG[op.mem.base], index, shift, 0 if post_indexed else op.mem.disp,
                       bool(op.subtracted))


def _analyze(insn: cs.CsInsn) -> _Insn:
    name = insn.insn_name() or insn.mnemonic.split(".")[0]
    name = name.lower()
    cls = _class_of_mnemonic().get(name, "data_processing")
    reads, writes = insn.regs_access()
    groups = set(insn.groups)
    operands = insn.operands
    addr_regs: set[int] = set()
    immediate_offset = False
    reg_ops = 0
    d_regs = 0
    for op in operands:
        if op.type == csa.ARM_OP_MEM:
            if op.mem.base:
                addr_regs.add(op.mem.base)
            if op.mem.index:
                addr_regs.add(op.mem.index)
            immediate_offset = not op.mem.index
        elif op.type == csa.ARM_OP_REG:
            reg_ops += 1
            if csa.ARM_REG_D0 <= op.reg <= csa.ARM_REG_D31:
                d_regs += 1
    is_jump = bool(groups & {cs.CS_GRP_JUMP, cs.CS_GRP_CALL, cs.CS_GRP_RET, cs.CS_GRP_BRANCH_RELATIVE})
    writes_pc = is_jump or csa.ARM_REG_PC in writes or (name == "pop" and any(
        op.type == csa.ARM_OP_REG and op.reg == csa.ARM_REG_PC for op in operands))
    direct = cs.CS_GRP_BRANCH_RELATIVE in groups or name in ("cbz", "cbnz")
    conditional = insn.cc not in (csa.ARM_CC_AL, csa.ARM_CC_INVALID) or name in ("cbz", "cbnz")
    if cls in ("load_multiple",):
        list_words = reg_ops - (1 if name not in ("push", "pop") else 0)
    elif cls == "fp_load_multiple":
        list_words = reg_ops + d_regs - (1 if name not in ("vpush", "vpop") else 0)
    else:
        list_words = 0
    if cls == "load" and csa.ARM_REG_PC in writes:
        cls = "load_pc"
    return _Insn(
        address=insn.address, size=insn.size, name=name, cls=cls, reads=frozenset(reads),
        writes=frozenset(writes), address_regs=frozenset(addr_regs), immediate_offset=immediate_offset,
        list_words=max(list_words, 0), two_core_regs=name == "vmov" and reg_ops >= 3,  # r0, r1, d0 and r0, r1, s0, s1
        writes_pc=writes_pc, direct_branch=direct, conditional=conditional,
        writes_sp=csa.ARM_REG_SP in writes or name in _SP_ADJUSTING,
        load=_load_operand(insn, name, cls),
    )


@dataclass(frozen=True)
class BlockCost:
    address: int
    size: int
    instructions: int
    cycles: int  # zero-wait-state cycles with the final branch not taken (taken, if it always is)
    taken_cycles: int  # extra when a conditional final branch is taken
    conditional_branch: bool
    writes_sp: bool
    prefix_cycles: tuple[int, ...]  # cycles before each instruction, for reads of CYCCNT inside the block
    addresses: tuple[int, ...]  # address of each instruction
    divides: tuple[tuple[int, int, int, bool], ...]  # (address, rn index, rm index, signed)
    loads: tuple[LoadOperand, ...]  # instructions that read memory, to find which one read an MMIO register

    @property
    def fetch_words(self) -> int:
        return (self.size + 3) // 4

    def prefix_at(self, pc: int) -> tuple[int, int]:
        """(cycles, instructions) of the block before the instruction at `pc`."""
        for i, a in enumerate(self.addresses):
            if a == pc:
                return self.prefix_cycles[i], i
        return self.cycles, self.instructions


def instruction_cycles(cur: _Insn, prev: _Insn | None, params: TimingParams) -> int:
    """Cycles of `cur` following `prev` in the same block (no wait states, branch not taken)."""
    rows = load_table()["classes"]
    row = rows[cur.cls]
    cycles = int(row["cycles"])
    prev_cls = prev.cls if prev else None
    if cur.cls in _SINGLE_LOAD_STORE or cur.cls == "load_pc":
        pipelined = prev_cls == "load" and not (cur.address_regs & (prev.writes - prev.address_regs))
        if cur.cls != "load_pc" and pipelined:
            cycles = int(row["pipelined_cycles"])
        elif cur.cls == "store" and cur.immediate_offset:
            cycles = int(row["immediate_offset_cycles"])
    elif cur.cls in ("load_multiple", "fp_load_multiple"):
        cycles = int(row["cycles"]) + int(row["per_register_cycles"]) * cur.list_words
    elif cur.cls == "if_then":
        if prev is not None and prev.size == 2:
            cycles = int(row["folded_cycles"])
    elif cur.cls == "fp_move" and cur.two_core_regs:
        cycles = int(row["two_register_cycles"])
    elif cur.cls == "barrier" and cur.name == "isb":
        cycles += params.indirect_refill_cycles
    reads, writes = data_beats(cur)
    cycles += reads * params.data_load_wait_states + writes * params.data_store_wait_states
    # Address generation waits for the immediately preceding data-processing result (no forwarding path).
    if cur.address_regs and prev is not None and prev_cls in _DATA_PROCESSING and cur.address_regs & prev.writes:
        cycles += params.address_dependency_cycles
    # An FP arithmetic result used by the very next instruction costs one more cycle.
    if prev is not None and prev_cls in _FP_RESULT and cur.reads & prev.writes:
        cycles += int(rows["fp_arith"]["result_latency_cycles"])
    return cycles


_WRITES_MEMORY = {"store"}


def data_beats(ins: _Insn) -> tuple[int, int]:
    """32-bit data transfers (reads, writes) of one instruction on the data bus."""
    if ins.cls in ("load", "load_pc", "fp_load") and ins.name != "vstr":
        return 1, 0  # VLDR.64 moves two words: counted as one (rare in int8 code)
    if ins.name == "vstr" or ins.cls in _WRITES_MEMORY:
        return 0, 1
    if ins.cls == "load_double":
        return (2, 0) if ins.name == "ldrd" else (0, 2)
    if ins.cls in ("load_multiple", "fp_load_multiple"):
        writes = ins.name.startswith(("stm", "push", "vstm", "vpush"))
        return (0, ins.list_words) if writes else (ins.list_words, 0)
    if ins.cls == "table_branch":
        return 1, 0
    return 0, 0


def cost_block(md: cs.Cs, code: bytes, address: int, params: TimingParams) -> BlockCost:
    """Decode `code` (one QEMU translation block starting at `address`) and cost it."""
    insns = [_analyze(i) for i in md.disasm(code, address)]
    decoded = sum(i.size for i in insns)
    if decoded != len(code):
        raise ValueError(f"cannot decode the instruction at {address + decoded:#x}")
    prefix: list[int] = []
    total = 0
    prev: _Insn | None = None
    taken = 0
    conditional = False
    divides = []
    for k, ins in enumerate(insns):
        prefix.append(total)
        total += instruction_cycles(ins, prev, params)
        if ins.cls == "divide":
            signed = ins.name == "sdiv"
            rn, rm = _div_operands(md, code, address, ins)
            divides.append((ins.address, rn, rm, signed))
        if ins.writes_pc and k == len(insns) - 1:
            refill = params.branch_refill_cycles if ins.direct_branch else params.indirect_refill_cycles
            if ins.conditional:
                conditional, taken = True, refill
            else:
                total += refill
        prev = ins
    return BlockCost(
        address=address, size=len(code), instructions=len(insns), cycles=total, taken_cycles=taken,
        conditional_branch=conditional, writes_sp=any(i.writes_sp for i in insns),
        prefix_cycles=tuple(prefix), addresses=tuple(i.address for i in insns), divides=tuple(divides),
        loads=tuple(replace(i.load, index_in_block=k) for k, i in enumerate(insns) if i.load is not None),
    )


def _div_operands(md: cs.Cs, code: bytes, address: int, ins: _Insn) -> tuple[int, int]:
    one = next(md.disasm(code[ins.address - address:ins.address - address + ins.size], ins.address))
    ops = [o.reg for o in one.operands if o.type == csa.ARM_OP_REG]
    return _CS_TO_UC_REG[ops[1]], _CS_TO_UC_REG[ops[2]]


def div_cycles(dividend: int, divisor: int, signed: bool, params: TimingParams) -> int:
    """Python twin of the native divide model (for tests and the fallback hook)."""
    n, m = dividend & 0xFFFFFFFF, divisor & 0xFFFFFFFF
    if signed:
        n = (-n) & 0xFFFFFFFF if n & 0x80000000 else n
        m = (-m) & 0xFFFFFFFF if m & 0x80000000 else m
    if m == 0 or n < m:
        return params.div_min_cycles
    quotient_bits = m.bit_length() and (n.bit_length() - m.bit_length() + 1)
    span = params.div_max_cycles - params.div_min_cycles
    return params.div_min_cycles + (quotient_bits * span + 31) // 32
