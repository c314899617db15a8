"""armlprof's built-in emulator: runs the ELF the toolchain built on the board its .repl describes.

Unicorn executes (Cortex-M4, Thumb, M-class); memory regions, console UART and clock come from the Board (parsed
from the same .repl Renode loads). A native block hook (native.py) counts instructions and, in timed mode,
Cortex-M4 cycles (timing.py); DWT CYCCNT reads return the modelled count exactly, also in the middle of a block.
MMIO goes through native trampolines too: they locate the reading instruction, answer CYCCNT and serve the console
UART's transmit side (bytes buffered, handed to the Console at each newline and before any Python callback), so
polling the cycle counter or printing costs no Python.

A run ends with one stop reason: exit (semihosting), idle (loop() re-entered with no console activity), fault,
cycle_limit, timeout (wall clock), stack_heap_collision, stopped (stop() from another thread) or interrupted
(Ctrl-C). Interrupt safety: while a run is in the main thread, SIGINT does not raise inside Unicorn's callbacks
(where ctypes would swallow it and the run would go on with wrong figures): a watcher thread woken by the signal
calls uc_emu_stop, the run ends as `interrupted` and run() raises KeyboardInterrupt (so no caller can take it for
a figure), and a second Ctrl-C exits at once. Every Python callback catches everything; an error in one stops the
run and is raised from run(). `run()` can be called again: memory, CPU and peripherals are restored from a
snapshot while Unicorn's translations and the block costs are kept.
"""

from __future__ import annotations

import contextlib
import ctypes
import mmap
import os
import select
import signal
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from capstone import arm as capstone_arm
from unicorn import (
    UC_ARCH_ARM,
    UC_HOOK_BLOCK,
    UC_HOOK_CODE,
    UC_HOOK_INTR,
    UC_HOOK_MEM_FETCH_UNMAPPED,
    UC_HOOK_MEM_READ,
    UC_HOOK_MEM_READ_UNMAPPED,
    UC_HOOK_MEM_WRITE,
    UC_HOOK_MEM_WRITE_PROT,
    UC_HOOK_MEM_WRITE_UNMAPPED,
    UC_MEM_FETCH_UNMAPPED,
    UC_MEM_READ_UNMAPPED,
    UC_MEM_WRITE_PROT,
    UC_MEM_WRITE_UNMAPPED,
    UC_MODE_MCLASS,
    UC_MODE_THUMB,
    UC_PROT_ALL,
    UC_PROT_EXEC,
    UC_PROT_READ,
    Uc,
    UcError,
)
from unicorn import arm_const as uca
from unicorn.unicorn_py3.unicorn import uc_hook_h, uclib

from armlprof.board import Board, MemoryRegion, load_board
from armlprof.emulator import native
from armlprof.emulator.elfimage import ElfImage, demangle, load_elf
from armlprof.emulator.faults import EXCEPTION_NAMES, EXCP_BKPT, FaultRecord
from armlprof.emulator.peripherals import (
    CONSOLE_TYPES,
    PERIPHERAL_WINDOW_BYTES,
    PLAIN_TYPES,
    PPB_TYPES,
    Console,
    ConsoleUart,
    Registers,
    RxWaiter,
    SystemControlSpace,
)
from armlprof.emulator.profile import BlockCycles, BlockProfile, FunctionCycles
from armlprof.emulator.timing import BlockCost, TimingParams, cost_block, make_disassembler
from armlprof.errors import ArmlprofError
from armlprof.stops import EMULATOR_STOPS, StopReason

STOP_REASONS = EMULATOR_STOPS
_UNTIL = 0xFFFFFFFE  # never executed: emu_start runs until a hook stops it
_PAGE = 0x1000
_CORE_REG_IDS = [getattr(uca, f"UC_ARM_REG_R{n}") for n in range(13)] + [
    uca.UC_ARM_REG_SP, uca.UC_ARM_REG_LR, uca.UC_ARM_REG_PC]
# Semihosting (ARM IHI 0080 / DUI 0471): operations in r0.
SYS_WRITEC, SYS_WRITE0, SYS_EXIT, SYS_EXIT_EXTENDED = 0x03, 0x04, 0x18, 0x20
ADP_STOPPED_APPLICATION_EXIT = 0x20026
EPSR_THUMB = 0x01000000  # EPSR with T set and no IT state
# Accesses that fault when unaligned whatever CCR.UNALIGN_TRP says (ARMv7-M ARM A3.2.1); word alignment suffices.
STRICT_ALIGNMENT_INSNS = frozenset(getattr(capstone_arm, f"ARM_INS_{name}") for name in (
    "LDM", "LDMDB", "STM", "STMDB", "PUSH", "POP", "LDRD", "STRD", "LDREX", "LDREXH", "STREX", "STREXH", "LDC",
    "LDCL", "STC", "STCL", "VLDR", "VSTR", "VLDMIA", "VLDMDB", "VSTMIA", "VSTMDB", "VPUSH", "VPOP"))
CCR_DIV_0_TRP = 1 << 4  # SCB->CCR: SDIV/UDIV by zero raise a UsageFault instead of giving 0


@dataclass
class RunResult:
    stop_reason: StopReason  # one of STOP_REASONS
    exit_code: int | None
    fault: FaultRecord | None
    instructions: int
    cycles: int
    ms: float  # cycles at the board clock
    lowest_sp: int
    heap_high_water: int | None  # highest program break (__armlprof_brk) seen; None if the ELF has no heap
    heap_start: int | None
    stack_top: int
    console_text: str
    wall_s: float
    timed: bool
    details: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.stop_reason in (StopReason.EXIT, StopReason.IDLE) and (self.exit_code in (None, 0))

    @property
    def stack_bytes(self) -> int:
        return self.stack_top - self.lowest_sp

    @property
    def heap_bytes(self) -> int | None:
        if self.heap_high_water is None or self.heap_start is None:
            return None
        return self.heap_high_water - self.heap_start

    def problem(self) -> str | None:
        """One line for a run that did not end normally: what happened, and the fix where there is one."""
        if self.stop_reason == StopReason.FAULT and self.fault is not None:
            return self.fault.describe()
        where = self._where()
        if self.stop_reason == "stack_heap_collision":
            return (f"stack/heap collision{where}: SP reached {self.lowest_sp:#010x}, below the heap break "
                    f"{self.heap_high_water or 0:#010x}; the sketch needs more RAM than the board has")
        if self.stop_reason == "cycle_limit":
            return (f"firmware hung or too slow{where}: no exit or idle loop within {self.cycles:,} cycles "
                    f"({self.ms:,.1f} ms at board clock); raise --max-cycles if it is just slow")
        if self.stop_reason == "timeout":
            return (f"firmware hung or too slow{where}: still running after {self.wall_s:.1f} s wall time; "
                    "raise --timeout")
        if self.stop_reason == "exit" and self.exit_code:
            return f"firmware exited with code {self.exit_code}"
        return None

    def _where(self) -> str:
        """" at PC (function)" where the run stopped, for hangs and collisions (where a fix starts looking)."""
        pc = self.details.get("pc")
        if pc is None:
            return ""
        function = demangle(self.details.get("function"))
        return f" at {pc:#010x}" + (f" ({function})" if function else "")

    def summary(self) -> str:
        lines = [f"stop reason: {self.stop_reason}" + (f" (exit code {self.exit_code})"
                                                      if self.exit_code is not None else "")]
        if self.fault is not None:
            lines.append(self.fault.describe())
        lines.append(f"instructions: {self.instructions:,}")
        lines.append(f"cycles: {self.cycles:,} ({'timed' if self.timed else 'functional: 1 per instruction'})")
        lines.append(f"time at board clock: {self.ms:.3f} ms")
        lines.append(f"lowest SP: {self.lowest_sp:#010x} ({self.stack_bytes:,} B of stack)")
        if self.heap_high_water is not None:
            lines.append(f"heap high-water: {self.heap_high_water:#010x} ({self.heap_bytes:,} B of heap)")
        lines.append(f"wall time: {self.wall_s:.3f} s")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "stop_reason": self.stop_reason, "exit_code": self.exit_code,
            "fault": self.fault.to_dict() if self.fault else None, "instructions": self.instructions,
            "cycles": self.cycles, "ms": self.ms, "lowest_sp": self.lowest_sp, "stack_bytes": self.stack_bytes,
            "heap_high_water": self.heap_high_water, "heap_bytes": self.heap_bytes, "wall_s": self.wall_s,
            "timed": self.timed,
        }


@dataclass
class _Region:
    region: MemoryRegion
    buffer: mmap.mmap
    host_address: int
    array: np.ndarray
    pristine: np.ndarray | None = None
    writable: bool = True

    def contains(self, address: int) -> bool:
        return any(b <= address < b + self.region.size for b in (self.region.base, *self.region.aliases))

    def offset(self, address: int) -> int:
        for b in (self.region.base, *self.region.aliases):
            if b <= address < b + self.region.size:
                return address - b
        raise KeyError(address)


# Block costs are a pure function of the code bytes and the timing parameters: share them between emulators.
_COST_CACHE: dict[tuple, dict[tuple[int, int], BlockCost]] = {}


class Emulator:
    """One board running one ELF. See the module docstring."""

    def __init__(
        self,
        board: Board | str,
        elf: Path | str,
        *,
        timed: bool = False,
        max_cycles: int | None = None,
        timeout_s: float | None = None,
        on_console_line: Callable[[str], None] | None = None,
        on_console_bytes: Callable[[bytes], None] | None = None,
        stop_on_idle: bool = True,
        idle_loops: int = 1,
        check_alignment: bool = False,
        profile: bool = False,
    ) -> None:
        self.board = load_board(board) if isinstance(board, str) else board
        self.image: ElfImage = load_elf(elf)
        self.timed = timed
        self.max_cycles = max_cycles
        self.timeout_s = timeout_s
        self.stop_on_idle = stop_on_idle
        self.idle_loops = idle_loops
        self.clock_hz = self.board.clock_hz
        self.params = TimingParams.from_board_timing(self.board.timing)
        self.console = Console(on_line=on_console_line, on_bytes=on_console_bytes)
        self._md = make_disassembler()
        self._costs: list[BlockCost] = []
        self._callbacks: list = []  # ctypes objects Unicorn's hooks point at: keep them alive
        self._ran = False

        self.uc = Uc(UC_ARCH_ARM, UC_MODE_THUMB | UC_MODE_MCLASS)
        self.uc.ctl_set_cpu_model(uca.UC_CPU_ARM_CORTEX_M4)
        self._regions: list[_Region] = []
        self._map_memory()
        self._load_image()
        self._read_vectors()
        # profiling charges cycles per block from the Python block hook (the native one keeps no per-block sums)
        self._profile = BlockProfile() if profile else None
        self._lib = None if profile else native.load_library()
        self._setup_state()
        self._map_peripherals()
        self._install_hooks()
        self.check_alignment = check_alignment
        self._cost_cache = _COST_CACHE.setdefault(self._cost_key(), {})
        self._initial_context = self.uc.context_save()
        self._reset_machine(first=True)

    # ------------------------------------------------------------------ construction
    def _map_memory(self) -> None:
        image_region = self.board.image_region
        for region in self.board.memories:
            size = (region.size + _PAGE - 1) // _PAGE * _PAGE
            buf = mmap.mmap(-1, size)
            host = ctypes.addressof(ctypes.c_char.from_buffer(buf))
            # Flash that the image runs from is read-only (NVMC writes are not modelled): a write faults.
            writable = not (region.name == image_region and not self.board.image_in_ram)
            perms = UC_PROT_ALL if writable else (UC_PROT_READ | UC_PROT_EXEC)
            for base in (region.base, *region.aliases):
                self.uc.mem_map_ptr(base, size, perms, host)
            self._regions.append(_Region(region, buf, host, np.frombuffer(buf, dtype=np.uint8), writable=writable))

    def region_at(self, address: int) -> _Region | None:
        for r in self._regions:
            if r.contains(address):
                return r
        return None

    def _load_image(self) -> None:
        for seg in self.image.segments:
            r = self.region_at(seg.address)
            if r is None or not r.contains(seg.address + len(seg.data) - 1):
                raise ArmlprofError(
                    f"{self.image.path.name}: segment at {seg.address:#x} ({len(seg.data):,} B) is outside "
                    f"{self.board.name}'s memory; build the sketch for --board {self.board.name}")
            off = r.offset(seg.address)
            r.array[off:off + len(seg.data)] = np.frombuffer(seg.data, dtype=np.uint8)
        for r in self._regions:
            r.pristine = r.array.copy()

    def read_u32(self, address: int) -> int:
        r = self.region_at(address)
        if r is None:
            raise ArmlprofError(f"address {address:#x} is not in {self.board.name}'s memory")
        off = r.offset(address)
        return int(r.array[off:off + 4].view(np.uint32)[0])

    def _read_vectors(self) -> None:
        origin = self.board.image_origin
        if self.region_at(origin) is None:
            raise ArmlprofError(f"board {self.board.name}: image origin {origin:#x} is not in its memory map")
        self.initial_sp = self.read_u32(origin)
        self.reset_vector = self.read_u32(origin + 4)
        if not (self.reset_vector & 1) or self.region_at(self.reset_vector & ~1) is None \
                or self.region_at(self.initial_sp - 4) is None:
            raise ArmlprofError(
                f"{self.image.path.name}: no valid vector table at {origin:#x} (SP {self.initial_sp:#x}, reset "
                f"{self.reset_vector:#x}); build the sketch for --board {self.board.name}")
        # The memory option (e.g. Spresense --memory-kib) shortens RAM; an image linked for more must not run with
        # its stack or data beyond the end (the whole region is mapped, so nothing else would notice).
        ram = self.region_at(self.board.ram_origin)
        ram_end = self.board.ram_origin + self.board.ram_bytes
        beyond = [seg.address + len(seg.data) for seg in self.image.segments
                  if ram is not None and ram.contains(seg.address) and seg.address + len(seg.data) > ram_end]
        if ram is not None and (ram.contains(self.initial_sp - 4) and self.initial_sp > ram_end or beyond):
            memory = f" --memory-kib {self.board.memory_kib}" if self.board.memory_kib is not None else ""
            raise ArmlprofError(
                f"{self.image.path.name}: linked for more RAM than {self.board.name}{memory} has (initial SP "
                f"{self.initial_sp:#x}, RAM ends at {ram_end:#x}); build and run with the same --memory-kib")
        sym = self.image.symbol
        self.stack_top = sym("__stack_top") or self.initial_sp
        self.heap_start = sym("__heap_start")
        self.brk_address = sym("__armlprof_brk")
        self.loop_address = sym("loop")

    def _map_peripherals(self) -> None:
        self.ppb = SystemControlSpace(self, self.board.image_origin)
        self._mmio(SystemControlSpace.BASE, SystemControlSpace.SIZE, self.ppb)
        self.waiter = RxWaiter(self.console, self, self.clock_hz, self.board.console_baud)
        self.peripherals: dict[str, Registers] = {}
        self.unmodelled: dict[int, str] = {}
        console_name = self.board.console_name
        for name, p in self.board.peripherals.items():
            if p.type == "Memory.MappedMemory" or p.type in PPB_TYPES or not p.addresses:
                continue
            if p.type in CONSOLE_TYPES:
                model: Registers = CONSOLE_TYPES[p.type](self.console, self.waiter) if name == console_name \
                    else CONSOLE_TYPES[p.type](Console(), self.waiter)
            elif p.type in PLAIN_TYPES:
                model = PLAIN_TYPES[p.type]()
            else:
                self.unmodelled[p.address] = f"{name} ({p.type})"
                continue
            self.peripherals[name] = model
            self._mmio(p.address, PERIPHERAL_WINDOW_BYTES, model, console=name == console_name)
        if console_name not in self.peripherals:
            raise ArmlprofError(f"board {self.board.name}: console {console_name} "
                                f"({self.board.console.type}) has no emulator model; use --target renode")

    def _mmio(self, base: int, size: int, model: Registers, console: bool = False) -> None:
        def read_model(offset: int, size: int, locate: Callable[[], int | None]) -> int:
            try:
                self._flush_tx()
                self._mmio_pc = locate()  # the reading instruction, for reads of the clock
                return model.read(offset, size) & 0xFFFFFFFF
            except BaseException as exc:  # noqa: BLE001 - never into C: stop the run, raise it from run()
                self._callback_failed(exc)
                return 0
            finally:
                self._mmio_pc = None

        def read(uc: Uc, offset: int, size: int, _ud: object) -> int:  # Python hooks: locate here
            return read_model(offset, size, lambda: self._locate_mmio_read(base + offset))

        def read_located(offset: int, size: int) -> int:  # from the native trampoline, which located it
            return read_model(offset, size, lambda: self._state.mmio_pc if self._state.mmio_located else None)

        def write(uc: Uc, offset: int, size: int, value: int, _ud: object) -> None:
            try:
                self._flush_tx()
                model.write(offset, size, value & 0xFFFFFFFF)
                if window is not None and window.tx_data != native.NO_OFFSET:
                    window.tx_on = int(model.tx_on())
                if model is self.ppb:
                    self._sync_dwt()
                    if offset == SystemControlSpace.CCR and value & CCR_DIV_0_TRP and not self._div0_hooked:
                        # Unicorn (QEMU 5) returns 0 for a divide by zero whatever CCR says: trap it ourselves.
                        # Hooks are added between emu_start calls, so stop here and let run() add them and resume.
                        self._div0_pending = True
                        self.uc.emu_stop()
            except BaseException as exc:  # noqa: BLE001
                self._callback_failed(exc)

        window: native.Mmio | None = None
        if self._lib is None:
            self.uc.mmio_map(base, size, read, None, write, None)
            return
        # Through the native trampolines (cyclehook.c): they answer DWT CYCCNT and the console's TX side.
        py_read = native.PY_READ_FN(read_located)
        py_write = native.PY_WRITE_FN(lambda offset, size, value: write(self.uc, offset, size, value, None))
        cyccnt = SystemControlSpace.DWT_CYCCNT if model is self.ppb else native.NO_OFFSET
        tx_data = tx_event = native.NO_OFFSET
        poll, poll_idle = native.NO_OFFSET, 0
        if console and isinstance(model, ConsoleUart):
            tx_data = model.TX_DATA
            tx_event = native.NO_OFFSET if model.TX_EVENT is None else model.TX_EVENT
            poll, poll_idle = (native.NO_OFFSET, 0) if model.POLL is None else (model.POLL, model.POLL_IDLE)
        window = native.Mmio(ctypes.pointer(self._state), ctypes.cast(py_read, ctypes.c_void_p).value,
                             ctypes.cast(py_write, ctypes.c_void_p).value, base, cyccnt, tx_data, tx_event, 0, 0,
                             poll, poll_idle, 0)
        if tx_data != native.NO_OFFSET:
            model.native = window
            self._tx_windows.append((window, model))
            self.console.on_rx_change = self._on_rx_change
        self._callbacks += [py_read, py_write, window]
        lib = self._lib
        status = uclib.uc_mmio_map(self.uc._uch, base, size, native.function_address(lib, "armlprof_mmio_read"),
                                   ctypes.addressof(window), native.function_address(lib, "armlprof_mmio_write"),
                                   ctypes.addressof(window))
        if status != 0:
            raise UcError(status)

    def _flush_tx(self) -> None:
        """Hand the console bytes the native hook buffered to the Console (before anything Python observes it)."""
        s = self._state
        if s.tx_len:
            data = ctypes.string_at(ctypes.addressof(s.tx_buf), s.tx_len)
            s.tx_len = 0
            self.console.write(data)

    def _on_rx_change(self, queued: int) -> None:
        self._state.rx_pending = queued

    def _on_tx_full(self) -> None:  # from the native hook: a newline, or the buffer is full
        try:
            self._flush_tx()
        except BaseException as exc:  # noqa: BLE001 - never into C
            self._callback_failed(exc)

    def _sync_dwt(self) -> None:
        """Mirror the DWT cycle counter's state into the native state, which answers CYCCNT reads."""
        s = self._state
        running, frozen, offset = self.ppb.cyccnt_state()
        s.dwt_running, s.dwt_frozen, s.dwt_offset = int(running), frozen, offset

    def _cost_key(self) -> tuple:
        return (self.image.path, tuple(s.address for s in self.image.segments),
                hash(b"".join(s.data for s in self.image.segments if s.executable)), self.timed, self.params)

    def _setup_state(self) -> None:
        s = native.State()
        self._state = s
        s.cur = -1
        ram = self.region_at(self.brk_address) if self.brk_address is not None else None
        if ram is not None:
            s.brk_host = ram.host_address + ram.offset(self.brk_address)
        elif self.heap_start is not None:
            # No _sbrk linked (no malloc): the heap is empty and the stack must stay above static data.
            self._fixed_brk = ctypes.c_uint32(self.heap_start)
            s.brk_host = ctypes.addressof(self._fixed_brk)
        for i, r in enumerate(self._regions[: native.MAX_REGIONS]):
            cfg = self.board.timing.get("regions", {}).get(r.region.name, {}) if self.timed else {}
            s.fetch_wait[i] = round(float(cfg.get("fetch_wait_states", 0)))
            s.fetch_wait_uncached[i] = round(float(cfg.get("fetch_wait_states_uncached", s.fetch_wait[i])))
            enable = cfg.get("cache_enable_register")
            if enable is not None:
                er = self.region_at(int(enable))
                if er is None:
                    raise ArmlprofError(f"board {self.board.name}: [timing.regions.{r.region.name}] "
                                        f"cache_enable_register {int(enable):#x} is not in a memory region")
                s.cache_enable[i] = er.host_address + er.offset(int(enable))
        s.reg_read = ctypes.cast(uclib.uc_reg_read, ctypes.c_void_p).value
        s.emu_stop = ctypes.cast(uclib.uc_emu_stop, ctypes.c_void_p).value
        s.reg_write = ctypes.cast(uclib.uc_reg_write, ctypes.c_void_p).value
        s.epsr_reg = uca.UC_ARM_REG_EPSR
        s.timed = int(self.timed)
        s.dwt_native = int(self._lib is not None)
        self._div0_hooked = False
        self._div0_pending = False
        self._miss_cb = native.MISS_FN(self._on_miss)
        s.miss = ctypes.cast(self._miss_cb, ctypes.c_void_p).value
        self._tx_flush_cb = native.TX_FLUSH_FN(self._on_tx_full)
        s.tx_flush = ctypes.cast(self._tx_flush_cb, ctypes.c_void_p).value
        self._tx_windows: list[tuple[native.Mmio, ConsoleUart]] = []
        self._alignment_hooks: list[int] = []
        self._unaligned_cb = native.UNALIGNED_FN(self._on_unaligned)
        self._align = native.Align(ctypes.pointer(s), ctypes.cast(self._unaligned_cb, ctypes.c_void_p).value)

    def _native_hook(self, htype: int, function: str, user_data: int, begin: int = 1, end: int = 0) -> int:
        handle = uc_hook_h()
        fptr = native.function_address(self._lib, function)
        status = uclib.uc_hook_add(self.uc._uch, ctypes.byref(handle), htype, ctypes.c_void_p(fptr),
                                   ctypes.c_void_p(user_data), ctypes.c_uint64(begin), ctypes.c_uint64(end))
        if status != 0:
            raise UcError(status)
        return handle.value

    def _install_hooks(self) -> None:
        state_ptr = ctypes.addressof(self._state)
        if self._lib is not None:
            self._native_hook(UC_HOOK_BLOCK, "armlprof_block_hook", state_ptr)
        else:
            self.uc.hook_add(UC_HOOK_BLOCK, self._py_block_hook if self._profile is None
                             else self._py_profile_block_hook)
        self.uc.hook_add(UC_HOOK_MEM_READ_UNMAPPED | UC_HOOK_MEM_WRITE_UNMAPPED | UC_HOOK_MEM_FETCH_UNMAPPED
                         | UC_HOOK_MEM_WRITE_PROT, self._on_bad_access)
        self.uc.hook_add(UC_HOOK_INTR, self._on_interrupt)
        if self.loop_address is not None:
            self.uc.hook_add(UC_HOOK_CODE, self._on_loop, begin=self.loop_address, end=self.loop_address)
        if self.timed:
            self._install_timed_hooks(state_ptr)

    @property
    def check_alignment(self) -> bool:
        """Fault on the unaligned accesses a Cortex-M4 faults on (cyclehook.c's alignment hook). Every access then
        goes through a hook, ~7x slower emulation: EmulatorTarget turns it on for the first run of each image."""
        return bool(self._alignment_hooks)

    @check_alignment.setter
    def check_alignment(self, on: bool) -> None:
        if on == self.check_alignment:
            return
        if on:
            kinds = UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE
            for r in self._regions:
                for base in (r.region.base, *r.region.aliases):
                    end = base + r.region.size - 1
                    self._alignment_hooks.append(
                        self._native_hook(kinds, "armlprof_align_hook", ctypes.addressof(self._align), base, end)
                        if self._lib is not None else self.uc.hook_add(kinds, self._py_align_hook, begin=base,
                                                                       end=end))
        else:
            for handle in self._alignment_hooks:
                if self._lib is not None:
                    uclib.uc_hook_del(self.uc._uch, uc_hook_h(handle))
                else:
                    self.uc.hook_del(handle)
            self._alignment_hooks.clear()
        self.uc.ctl_flush_tb()  # translations made with (or without) the hooks

    def _on_unaligned(self, pc: int, address: int, size: int) -> int:
        """1 when the instruction at `pc` may make this unaligned access (LDR, STR, the halfword forms); else the
        fault (the run stops) and 0."""
        try:
            code = bytes(self.uc.mem_read(pc, 4))
            insn = next(self._md.disasm(code, pc, 1), None)
            if insn is None or insn.id not in STRICT_ALIGNMENT_INSNS:
                return 1
            self._fault("unaligned access", address, f"{insn.mnemonic} {insn.op_str} needs a word-aligned address "
                        f"({size}-byte access); a Cortex-M4 takes a UsageFault (UNALIGNED) here", pc=pc)
            return 0
        except Exception as e:  # noqa: BLE001 - never a traceback from a C callback
            self._callback_failed(e)
            return 0

    def _py_align_hook(self, uc: Uc, access: int, address: int, size: int, value: int, _ud: object) -> None:
        uc.reg_write(uca.UC_ARM_REG_EPSR, EPSR_THUMB)  # see cyclehook.c
        if address & (3 if size >= 4 else 1 if size == 2 else 0):
            self._on_unaligned(uc.reg_read(uca.UC_ARM_REG_PC), address, size)

    def _install_timed_hooks(self, state_ptr: int) -> None:
        # Data wait states: a native memory hook over each slow region only (weights read from flash). The hook
        # also clears the IT state Unicorn's hook path leaves behind (cyclehook.c): without that, timed runs
        # computed different results from functional ones.
        for r in self._regions:
            cfg = self.board.timing.get("regions", {}).get(r.region.name, {})
            load_ws, store_ws = (round(float(cfg.get(k, 0))) for k in ("load_wait_states", "store_wait_states"))
            if not (load_ws or store_ws):
                continue
            if self._state.load_wait and self._state.load_wait != load_ws:
                raise ArmlprofError(f"board {self.board.name}: only one slow memory region is supported")
            self._state.load_wait, self._state.store_wait = load_ws, store_ws
            for base in (r.region.base, *r.region.aliases):
                kinds = (UC_HOOK_MEM_READ if load_ws else 0) | (UC_HOOK_MEM_WRITE if store_ws else 0)
                if self._lib is not None:
                    self._native_hook(kinds, "armlprof_mem_hook", state_ptr, base, base + r.region.size - 1)
                else:
                    self.uc.hook_add(kinds, self._py_mem_hook, begin=base, end=base + r.region.size - 1)
        # SDIV/UDIV: operand-dependent, so a native code hook on each divide found in the executable code.
        divs = self._find_divides()
        if divs:
            arr = (native.Div * len(divs))(*[native.Div(a, rn, rm, int(sg)) for a, rn, rm, sg in divs])
            table = native.DivTable(ctypes.pointer(self._state), arr, len(divs), self.params.div_min_cycles,
                                    self.params.div_max_cycles)
            self._callbacks += [arr, table]
            self._divs = {a: (rn, rm, sg) for a, rn, rm, sg in divs}
            for a, *_ in divs:
                if self._lib is not None:
                    self._native_hook(UC_HOOK_CODE, "armlprof_div_hook", ctypes.addressof(table), a, a)
                else:
                    self.uc.hook_add(UC_HOOK_CODE, self._py_div_hook, begin=a, end=a)

        # The official allocator's extra cost per call (TimingParams): a code hook on the allocator's entry.
        cycles = self.params.allocator_call_cycles
        for names in (("_malloc_r", "malloc"), ("_free_r", "free")):
            entry = next((a for a in map(self.image.symbol, names) if a is not None), None)
            if not cycles or entry is None:
                continue
            if self._lib is not None:
                surcharge = native.Surcharge(ctypes.pointer(self._state), cycles)
                self._callbacks.append(surcharge)
                self._native_hook(UC_HOOK_CODE, "armlprof_surcharge_hook", ctypes.addressof(surcharge), entry, entry)
            else:
                self.uc.hook_add(UC_HOOK_CODE, self._py_surcharge_hook, begin=entry, end=entry, user_data=cycles)

    def _py_surcharge_hook(self, uc: Uc, address: int, size: int, cycles: int) -> None:
        self._state.cycles += cycles

    def _hook_divides(self) -> None:
        """CCR.DIV_0_TRP was set: a code hook on every SDIV/UDIV faults on a zero divisor (as the UsageFault
        DIVBYZERO would), from now on in this emulator (reset clears CCR, and the hook then only reads it)."""
        self._div0_pending, self._div0_hooked = False, True
        for address, _rn, rm, _signed in self._find_divides():
            self.uc.hook_add(UC_HOOK_CODE, self._on_divide, user_data=rm, begin=address, end=address)
        self.uc.ctl_flush_tb()  # translated blocks predate the hooks

    def _on_divide(self, uc: Uc, address: int, size: int, rm: int) -> None:
        try:
            if self.ppb.regs.get(SystemControlSpace.CCR, 0) & CCR_DIV_0_TRP \
                    and uc.reg_read(uca.UC_ARM_REG_R0 + rm) == 0:
                self._fault("divide by zero (UsageFault DIVBYZERO: CCR.DIV_0_TRP is set)", None, pc=address)
        except BaseException as exc:  # noqa: BLE001
            self._callback_failed(exc)

    def _find_divides(self) -> list[tuple[int, int, int, bool]]:
        """SDIV (0xFB9n 0xFdFm) and UDIV (0xFBBn 0xFdFm) at every halfword of the executable segments."""
        found = []
        for seg in self.image.segments:
            if not seg.executable or len(seg.data) < 4:
                continue
            hw = np.frombuffer(seg.data[: len(seg.data) // 2 * 2], dtype="<u2")
            first, second = hw[:-1], hw[1:]
            hits = np.nonzero((((first & 0xFFF0) == 0xFB90) | ((first & 0xFFF0) == 0xFBB0))
                              & ((second & 0xF0F0) == 0xF0F0))[0]
            for i in hits:
                f, s = int(first[i]), int(second[i])
                found.append((seg.address + 2 * int(i), f & 0xF, s & 0xF, (f & 0xFFF0) == 0xFB90))
        return sorted(found)

    # ------------------------------------------------------------------ the clock (peripherals call these)
    def cycles(self) -> int:
        """Modelled cycles now: completed blocks plus the current block's prefix up to the executing insn."""
        return self._now()[0]

    def skip(self, cycles: int) -> None:
        self._state.cycles += cycles

    def wait_host(self, seconds: float) -> None:
        self.console.pull_host_input(seconds)

    def _fetch_wait(self, region_index: int) -> int:
        s = self._state
        enable = s.cache_enable[region_index]
        if enable and not ctypes.c_uint32.from_address(enable).value & 1:
            return s.fetch_wait_uncached[region_index]
        return s.fetch_wait[region_index]

    def _now(self, pc: int | None = None) -> tuple[int, int]:
        s = self._state
        cycles, instructions = s.cycles, s.instructions
        if s.cur >= 0:
            cost = self._costs[s.cur]
            block = s.blocks[s.cur]
            if pc is None:
                pc = self._executing_pc(cost)
            ws = self._fetch_wait(block.region)
            if cost.address <= pc < cost.address + cost.size:
                c, i = cost.prefix_at(pc)
                words = (pc - cost.address + 3) // 4
                cycles += (c + words * ws) if self.timed else i
                instructions += i
            else:  # the block ran to its end and execution stopped at the next one
                cycles += block.cycles + block.fetch_words * ws
                if block.flags & native.F_BRANCH and pc != block.addr + block.size:
                    cycles += block.taken_cycles
                instructions += block.instructions
        return cycles, instructions

    def _executing_pc(self, cost: BlockCost) -> int:
        return self._mmio_pc if self._mmio_pc is not None else self.uc.reg_read(uca.UC_ARM_REG_PC)

    def _locate_mmio_read(self, address: int) -> int | None:
        """The instruction of the current block that is reading the MMIO register at `address` (Python hooks; with
        the native library, cyclehook.c's locate_read does the same in C).

        Unicorn does not update PC inside a block for MMIO callbacks (only a memory hook would force it, at a 4x
        slowdown), but the core registers are exact there. Loads execute in order, so the reading instruction
        is the first load after the previous MMIO read of this block execution whose address, recomputed from
        the registers, is `address`. Every MMIO read goes through here to keep that order."""
        s = self._state
        if s.cur < 0:
            return None
        cost = self._costs[s.cur]
        if self._mmio_seq != s.block_seq:
            self._mmio_seq, self._mmio_last = s.block_seq, -1
        candidates = [ld for ld in cost.loads if ld.index_in_block > self._mmio_last]
        if len(candidates) > 1:
            regs = [self.uc.reg_read(r) for r in _CORE_REG_IDS]
            regs[15] = 0  # PC-relative loads read the literal pool, never MMIO
            candidates = [ld for ld in candidates if ld.address(regs) & ~3 == address & ~3] or candidates
        if not candidates:
            return None
        self._mmio_last = candidates[0].index_in_block
        return cost.addresses[self._mmio_last]

    # ------------------------------------------------------------------ hooks
    def _on_miss(self, address: int, size: int) -> int:
        try:
            key = (address, size)
            cost = self._cost_cache.get(key)
            if cost is None:
                r = self.region_at(address)
                code = bytes(self.uc.mem_read(address, size)) if r is None else \
                    r.array[r.offset(address):r.offset(address) + size].tobytes()
                cost = cost_block(self._md, code, address, self.params)
                self._cost_cache[key] = cost
            region = next((i for i, r in enumerate(self._regions) if r.contains(address)), 0)
            flags = (native.F_BRANCH if cost.conditional_branch else 0) | \
                (native.F_WRITES_SP if cost.writes_sp else 0)
            if self.timed:
                block = native.Block(address, size, cost.cycles, cost.taken_cycles, cost.instructions,
                                     cost.fetch_words, flags, region)
            else:  # functional: one cycle per instruction, no branch or wait-state costs
                block = native.Block(address, size, cost.instructions, 0, cost.instructions, 0,
                                     flags & native.F_WRITES_SP, region)
            if self._lib is not None:
                loads = (native.Load * len(cost.loads))(*[
                    native.Load(cost.addresses[ld.index_in_block], ld.index_in_block,
                                cost.prefix_cycles[ld.index_in_block], ld.displacement, ld.base,
                                native.NO_INDEX if ld.index is None else ld.index, ld.shift, int(ld.subtracted))
                    for ld in cost.loads])
                index = self._lib.armlprof_add_block(ctypes.byref(self._state), ctypes.byref(block), loads,
                                                     len(cost.loads))
            else:
                index = self._py_add_block(block)
            if index != len(self._costs):
                return -1
            self._costs.append(cost)
            return index
        except KeyboardInterrupt as e:
            self._callback_failed(e)
            return -1
        except Exception as e:  # noqa: BLE001 - reported as a fault, never a traceback from a C callback
            self._pending_fault = ("undecodable code", address, str(e))
            return -1

    def _on_bad_access(self, uc: Uc, access: int, address: int, size: int, value: int, _ud: object) -> bool:
        kind = {UC_MEM_READ_UNMAPPED: "unmapped read", UC_MEM_WRITE_UNMAPPED: "unmapped write",
                UC_MEM_FETCH_UNMAPPED: "unmapped fetch", UC_MEM_WRITE_PROT: "write to read-only memory"}.get(
            access, f"bad access ({access})")
        detail = ""
        base = address & ~(PERIPHERAL_WINDOW_BYTES - 1)
        if base in self.unmodelled:
            detail = f"{self.unmodelled[base]} is not modelled by the built-in emulator; try --target renode"
        self._fault(kind, address, detail, pc=address if access == UC_MEM_FETCH_UNMAPPED else None)
        return False

    def _on_interrupt(self, uc: Uc, intno: int, _ud: object) -> None:
        self._flush_tx()  # semihosting output comes after what the UART sent
        pc = uc.reg_read(uca.UC_ARM_REG_PC)
        if intno == EXCP_BKPT:
            insn = bytes(uc.mem_read(pc, 2)) if self.region_at(pc) else b""
            if len(insn) == 2 and insn[1] == 0xBE and insn[0] == 0xAB:
                self._semihosting(pc)
                return
            self._fault("breakpoint", None, f"bkpt #{insn[0] if insn else 0:#x}")
            return
        self._fault(EXCEPTION_NAMES.get(intno, f"exception {intno}"), None)

    def _semihosting(self, pc: int) -> None:
        op = self.uc.reg_read(uca.UC_ARM_REG_R0)
        arg = self.uc.reg_read(uca.UC_ARM_REG_R1)
        if op in (SYS_EXIT, SYS_EXIT_EXTENDED):
            if op == SYS_EXIT_EXTENDED:  # r1 -> {reason, code}
                reason, code = self.read_u32(arg), self.read_u32(arg + 4)
            else:  # 32-bit SYS_EXIT: r1 is the reason itself, no code
                reason, code = arg, 0
            if reason != ADP_STOPPED_APPLICATION_EXIT:
                code = code or 1
            self._stop(StopReason.EXIT, exit_code=code - (1 << 32) if code & 0x80000000 else code)
            return
        if op == SYS_WRITEC:
            self.console.transmit(bytes(self.uc.mem_read(arg, 1))[0])
        elif op == SYS_WRITE0:
            while (c := bytes(self.uc.mem_read(arg, 1))[0]) != 0:
                self.console.transmit(c)
                arg += 1
        else:
            self._fault("unsupported semihosting call", None, f"r0={op:#x}")
            return
        self.uc.reg_write(uca.UC_ARM_REG_PC, (pc + 2) | 1)

    def _on_loop(self, uc: Uc, address: int, size: int, _ud: object) -> None:
        self._flush_tx()
        activity = (self.console.tx_count, self.console.rx_count)
        if activity == self._loop_activity:
            self._quiet_loops += 1
        else:
            self._quiet_loops = 0
            self._loop_activity = activity
        if self._quiet_loops >= self.idle_loops:
            if self.console.input_source is not None:
                # A live host (pty): wait for its input instead of spinning; simulated time goes on.
                self.waiter.poll_empty()
            elif self.stop_on_idle:
                self._stop(StopReason.IDLE)

    # Fallback hooks without the native library (slow: one Python call per block).
    def _py_add_block(self, block: native.Block) -> int:
        if not hasattr(self, "_py_blocks"):
            self._py_blocks: list[native.Block] = []
            self._py_index: dict[tuple[int, int], int] = {}
            self._py_array = None
        self._py_blocks.append(block)
        self._py_index[(block.addr, block.size)] = len(self._py_blocks) - 1
        arr = (native.Block * len(self._py_blocks))(*self._py_blocks)
        self._py_array = arr
        self._state.blocks = ctypes.cast(arr, ctypes.POINTER(native.Block))
        return len(self._py_blocks) - 1

    def _py_block_hook(self, uc: Uc, address: int, size: int, _ud: object) -> None:
        s = self._state
        if s.cur >= 0:
            b = self._py_blocks[s.cur]
            s.cycles += b.cycles + b.fetch_words * self._fetch_wait(b.region)
            if b.flags & native.F_BRANCH and address != b.addr + b.size:
                s.cycles += b.taken_cycles
            s.instructions += b.instructions
            s.cur = -1
            if b.flags & native.F_WRITES_SP:
                sp = uc.reg_read(uca.UC_ARM_REG_SP)
                s.lowest_sp = min(s.lowest_sp, sp)
                if s.brk_host:
                    brk = ctypes.c_uint32.from_address(s.brk_host).value
                    s.heap_high = max(s.heap_high, brk)
                    if sp < brk:
                        s.collision_sp, s.collision_brk = sp, brk
                        s.stop_reason = native.STOP_COLLISION
                        uc.emu_stop()
        index = getattr(self, "_py_index", {}).get((address, size))
        if index is None:
            index = self._on_miss(address, size)
            if index < 0:
                s.stop_reason = native.STOP_TRANSLATION
                uc.emu_stop()
                return
        s.cur = index
        s.block_seq += 1
        if s.max_cycles and s.cycles >= s.max_cycles:
            s.stop_reason = native.STOP_CYCLE_LIMIT
            uc.emu_stop()

    def _py_profile_block_hook(self, uc: Uc, address: int, size: int, _ud: object) -> None:
        ended = self._state.cur
        self._py_block_hook(uc, address, size, _ud)
        if ended >= 0:
            self._profile.charge(self._py_blocks[ended].addr, self._state.cycles)

    def function_profile(self) -> list[FunctionCycles]:
        """The last run's cycles per function, most first (an Emulator made with profile=True)."""
        return self._block_profile_made().by_function(self.image)

    def block_profile(self) -> list[BlockCycles]:
        """The last run's cycles per translation block, most first (an Emulator made with profile=True): what a
        loop body costs per pass, where function_profile sums a whole function."""
        sizes_bytes = {b.addr: b.size for b in getattr(self, "_py_blocks", [])}
        return self._block_profile_made().by_block(self.image, sizes_bytes)

    def _block_profile_made(self) -> BlockProfile:
        if self._profile is None:
            raise ArmlprofError("no profile: make the Emulator with profile=True")
        return self._profile

    def _py_mem_hook(self, uc: Uc, access: int, address: int, size: int, value: int, _ud: object) -> None:
        uc.reg_write(uca.UC_ARM_REG_EPSR, EPSR_THUMB)  # clear the IT state Unicorn restored: see cyclehook.c
        self._state.cycles += self._state.load_wait if access == 16 else self._state.store_wait

    def _py_div_hook(self, uc: Uc, address: int, size: int, _ud: object) -> None:
        from armlprof.emulator.timing import div_cycles

        rn, rm, signed = self._divs[address]
        n = uc.reg_read(uca.UC_ARM_REG_R0 + rn)
        m = uc.reg_read(uca.UC_ARM_REG_R0 + rm)
        self._state.cycles += div_cycles(n, m, signed, self.params) - 1

    # ------------------------------------------------------------------ stopping
    def _callback_failed(self, exc: BaseException) -> None:
        """An exception in a Python callback: stop the run; Ctrl-C makes it `interrupted`, anything else is
        raised from run() (a bug, not the firmware's fault)."""
        if isinstance(exc, KeyboardInterrupt):
            self._interrupted = True
        elif self._callback_error is None:
            self._callback_error = exc
        with contextlib.suppress(Exception):
            self.uc.emu_stop()

    def interrupt(self) -> None:
        """End the run as `interrupted` (the SIGINT watcher calls this; safe from any thread)."""
        self._interrupted = True
        with contextlib.suppress(Exception):
            self.uc.emu_stop()

    def _stop(self, reason: StopReason, exit_code: int | None = None) -> None:
        if self._stop_reason is None:
            self._stop_reason = reason
            self._exit_code = exit_code
            self._stop_pc = self.uc.reg_read(uca.UC_ARM_REG_PC)
        self.uc.emu_stop()

    def _fault(self, kind: str, address: int | None, detail: str = "", pc: int | None = None) -> None:
        if self._stop_reason is not None:
            return
        pc = self.uc.reg_read(uca.UC_ARM_REG_PC) if pc is None else pc
        lr = self.uc.reg_read(uca.UC_ARM_REG_LR)
        self._fault_record = FaultRecord(kind, pc, lr, address, demangle(self.image.function_at(pc)),
                                         demangle(self.image.function_at(lr)), detail)
        self._stop(StopReason.FAULT)

    # ------------------------------------------------------------------ running
    def attach_pty(self, hold_slave: bool = True) -> str:
        """Expose the console as a pseudo-terminal; returns its path (e.g. /dev/pts/5) for pyserial.
        While attached, idle firmware waits for input from the terminal instead of ending the run.
        `hold_slave=False`: board-like, client opens are visible (see armlprof.emulator.pty)."""
        from armlprof.emulator.pty import PtyConsole

        self.pty = PtyConsole(hold_slave=hold_slave)
        previous = self.console.on_bytes

        def tx(data: bytes) -> None:
            self.pty.write(data)
            if previous is not None:
                previous(data)

        self.console.on_bytes = tx
        self.console.input_source = self.pty.read
        return self.pty.slave_path

    def stop(self) -> None:
        """End a run from another thread (stop reason "stopped"), e.g. when a pty client is done."""
        if self._stop_reason is None:
            self._stop_reason = StopReason.STOPPED
        self.uc.emu_stop()

    def write_console(self, data: bytes | str) -> None:
        """Queue bytes for the firmware's console RX (read by RXD / DR)."""
        self.console.send(data.encode() if isinstance(data, str) else bytes(data))

    def reset(self) -> None:
        """Restore memory, CPU and peripherals to the freshly loaded image (translations are kept)."""
        self._reset_machine()

    def _reset_machine(self, first: bool = False) -> None:
        for r in self._regions:
            np.copyto(r.array, r.pristine)
        self.uc.context_restore(self._initial_context)
        self.uc.reg_write(uca.UC_ARM_REG_MSP, self.initial_sp)
        self.uc.reg_write(uca.UC_ARM_REG_SP, self.initial_sp)
        self.uc.reg_write(uca.UC_ARM_REG_LR, 0xFFFFFFFF)
        self.ppb.reset()
        self._sync_dwt()
        for p in self.peripherals.values():
            p.reset()
        self._state.tx_len = 0
        self._state.rx_pending = len(self.console.rx)
        for window, model in self._tx_windows:
            window.tx_on, window.tx_event_value, window.poll_count = int(model.tx_on()), 0, 0
        self.console.reset()
        self.waiter.empty_polls = 0
        s = self._state
        s.cycles = s.instructions = 0
        if self._profile is not None:
            self._profile.reset()
        s.cur = -1
        s.stop_reason = native.STOP_NONE
        s.lowest_sp = self.initial_sp
        s.heap_high = self._brk() or 0
        s.max_cycles = self.max_cycles or 0
        s.collision_sp = s.collision_brk = 0
        self._stop_reason: StopReason | None = None
        self._exit_code: int | None = None
        self._fault_record: FaultRecord | None = None
        self._pending_fault: tuple | None = None
        self._stop_pc: int | None = None
        self._loop_activity: tuple[int, int] | None = None
        self._quiet_loops = 0
        self._mmio_pc: int | None = None
        self._mmio_seq = -1
        self._mmio_last = -1
        s.mmio_seq = (1 << 64) - 1  # no block execution: block_seq never gets there
        s.mmio_last = -1
        s.mmio_located = 0
        self._ran = False
        self._interrupted = False
        self._callback_error: BaseException | None = None

    def run(self) -> RunResult:
        """Run from reset until a stop reason; a second call re-runs the same image from reset."""
        if self._ran:  # input queued since the last run stays queued (reset keeps it), delivered once
            self._reset_machine()
        self._ran = True
        with _SigintGuard(self) as guard:
            result = self._run()
            guard.consumed = result.stop_reason == "interrupted"
        if result.stop_reason == "interrupted":  # Ctrl-C: what the run measured so far is not a figure
            raise KeyboardInterrupt
        return result

    def _run(self) -> RunResult:
        s = self._state
        start = time.monotonic()
        pc = self.reset_vector
        reason = None
        while reason is None:
            if self._interrupted:
                reason = "interrupted"
                break
            remaining_us = 0
            if self.timeout_s is not None:
                remaining_s = self.timeout_s - (time.monotonic() - start)
                if remaining_s <= 0:
                    reason = StopReason.TIMEOUT
                    break
                remaining_us = max(1, int(remaining_s * 1e6))
            try:
                self.uc.emu_start(pc | 1, _UNTIL, timeout=remaining_us)
            except UcError as e:
                if self._stop_reason is None and not self._interrupted:
                    self._fault_from_error(e)
            except KeyboardInterrupt:  # raised by a hook Unicorn's binding wraps (re-raised after emu_start)
                self._interrupted = True
            if self._callback_error is not None:
                error, self._callback_error = self._callback_error, None
                raise error
            if self._interrupted:
                reason = "interrupted"
            elif self._stop_reason is not None:
                reason = self._stop_reason
            elif s.stop_reason == native.STOP_CYCLE_LIMIT:
                reason = StopReason.CYCLE_LIMIT
            elif s.stop_reason == native.STOP_COLLISION:
                reason = StopReason.STACK_HEAP_COLLISION
            elif s.stop_reason == native.STOP_TRANSLATION:
                kind, addr, why = self._pending_fault or ("undecodable code", s.cur, "")
                self._fault(kind, addr, why)
                reason = StopReason.FAULT
            elif self.timeout_s is not None and time.monotonic() - start >= self.timeout_s:
                reason = StopReason.TIMEOUT
            else:  # Unicorn returned without a stop request (e.g. after a PC write): continue
                if self._div0_pending:
                    self._hook_divides()
                pc = self.uc.reg_read(uca.UC_ARM_REG_PC)
        wall_s = time.monotonic() - start
        return self._result(reason, wall_s)

    def _fault_from_error(self, e: UcError) -> None:
        msg = str(e)
        kind = "undefined instruction" if "INSN_INVALID" in msg or "invalid instruction" in msg.lower() \
            else f"emulation error ({msg})"
        self._fault(kind, None)

    def _brk(self) -> int | None:
        """The firmware's current program break (heap end), or None without a heap."""
        return ctypes.c_uint32.from_address(self._state.brk_host).value if self._state.brk_host else None

    def _result(self, reason: StopReason, wall_s: float) -> RunResult:
        s = self._state
        pc = self._stop_pc if self._stop_pc is not None else self.uc.reg_read(uca.UC_ARM_REG_PC)
        cycles, instructions = self._now(pc)
        if self._profile is not None and s.cur >= 0:  # the block the run stopped in, up to where it stopped
            self._profile.charge(self._py_blocks[s.cur].addr, cycles)
        self._flush_tx()
        self.console.flush_line()
        brk = self._brk()
        heap_high = max(s.heap_high, brk) if brk is not None else None
        fault = self._fault_record
        if reason == StopReason.STACK_HEAP_COLLISION:
            fault = FaultRecord(
                "stack_heap_collision", pc, self.uc.reg_read(uca.UC_ARM_REG_LR), s.collision_sp,
                demangle(self.image.function_at(pc)),
                demangle(self.image.function_at(self.uc.reg_read(uca.UC_ARM_REG_LR))),
                f"stack pointer {s.collision_sp:#x} went below the heap break {s.collision_brk:#x}")
        self.console.clear_rx()  # unread input does not leak into the next run
        return RunResult(
            stop_reason=reason, exit_code=self._exit_code, fault=fault, instructions=instructions,
            cycles=cycles, ms=cycles * 1000.0 / self.clock_hz, lowest_sp=min(s.lowest_sp, self.initial_sp),
            heap_high_water=heap_high, heap_start=self.heap_start, stack_top=self.stack_top,
            console_text=self.console.text.decode("utf-8", "replace"), wall_s=wall_s, timed=self.timed,
            details={"blocks": len(self._costs), "pc": pc, "function": self.image.function_at(pc)},
        )

    def close(self) -> None:
        """Release Unicorn and the native block table (also done by garbage collection)."""
        self.uc = None  # type: ignore[assignment]
        if getattr(self, "_lib", None) is not None and getattr(self, "_state", None) is not None:
            self._lib.armlprof_free(ctypes.byref(self._state))

    def __del__(self) -> None:
        self.close()


class _SigintGuard:
    """During a run in the main thread: SIGINT stops the emulator instead of raising inside a callback.

    Python runs its signal handlers only between bytecodes of the main thread, and the main thread is inside
    uc_emu_start, in C, for seconds at a time; so the handler here only notes the signal, and a watcher thread
    woken through signal.set_wakeup_fd (written by the C-level handler at once) calls emu_stop. A second SIGINT
    ends the process at once (results already stored are fsynced)."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        # Not when SIGINT is ignored: a shell starts background jobs so (POSIX), and Ctrl-C in the terminal must
        # leave them running, not stop their emulated runs while their builds carry on.
        self.active = (threading.current_thread() is threading.main_thread()
                       and signal.getsignal(signal.SIGINT) is not signal.SIG_IGN)
        self.consumed = False  # set by the run: it ended as interrupted (the SIGINTs so far were acted on)

    def __enter__(self) -> _SigintGuard:
        if not self.active:
            return self
        self.count = 0  # SIGINTs the watcher saw (each stopped or ends the run)
        self.handled = 0  # of those, the ones whose Python-level handler has run
        self.read_fd, write_fd = os.pipe()
        self.stop_read, self.stop_write = os.pipe()
        os.set_blocking(write_fd, False)
        self.write_fd = write_fd
        try:
            self.previous_handler = signal.signal(signal.SIGINT, self._on_signal)
            self.previous_fd = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
        except ValueError:  # e.g. signals unavailable in this interpreter
            self.active = False
            self._close_fds()
            return self
        self.thread = threading.Thread(target=self._watch, name="armlprof-sigint", daemon=True)
        self.thread.start()
        return self

    def _on_signal(self, signum: int, frame: object) -> None:
        self.handled += 1
        self.emulator.interrupt()  # the watcher has (or will have) done it too; noting it twice is harmless

    def _watch(self) -> None:
        while True:
            ready, _, _ = select.select([self.read_fd, self.stop_read], [], [])
            if self.stop_read in ready:
                return
            data = os.read(self.read_fd, 64)
            for signum in data:
                if signum != signal.SIGINT:
                    continue
                self.count += 1
                if self.count == 1:
                    self.emulator.interrupt()
                else:
                    os.write(2, b"armlprof: interrupted again; exiting now\n")
                    os._exit(130)

    def __exit__(self, *exc: object) -> None:
        if not self.active:
            return
        signal.set_wakeup_fd(self.previous_fd)
        os.write(self.stop_write, b"x")
        self.thread.join()
        pending = self.count - self.handled  # Python-level handler calls still to come (they run late)
        previous = self.previous_handler
        if self.consumed:
            # The run ended as interrupted: a late call would run the restored handler, a second KeyboardInterrupt
            # after the first was handled (the CLI printed `interrupted`, then died of SIGINT): absorb those.
            signal.signal(signal.SIGINT, previous if pending <= 0 else _SignalAbsorber(pending, previous))
        else:
            # The run ended by itself before a SIGINT could stop it: the signal belongs to what handles SIGINT
            # after the run (e.g. `run --uart-pty`'s quit), so hand it on: late calls reach the restored handler;
            # one the guard's handler already took is raised again.
            signal.signal(signal.SIGINT, previous)
            if self.handled and pending <= 0:
                self._close_fds()
                signal.raise_signal(signal.SIGINT)
                return
        self._close_fds()

    def _close_fds(self) -> None:
        for fd in (self.read_fd, self.write_fd, self.stop_read, self.stop_write):
            with contextlib.suppress(OSError):
                os.close(fd)


class _SignalAbsorber:
    """A SIGINT handler that swallows the late Python-level calls of signals already acted on, then puts the
    previous handler back."""

    def __init__(self, pending: int, previous: object) -> None:
        self.pending, self.previous = pending, previous

    def __call__(self, signum: int, frame: object) -> None:
        self.pending -= 1
        if self.pending <= 0 and signal.getsignal(signal.SIGINT) is self:
            signal.signal(signal.SIGINT, self.previous)


def run_elf(board: Board | str, elf: Path | str, **kwargs) -> RunResult:
    """Convenience: one run of `elf` on `board` (see Emulator for the keyword arguments)."""
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        return Emulator(board, elf, **kwargs).run()
