"""Register models of the peripherals armlprof firmware touches, chosen by the Renode type in the board's .repl.

Each model is an MMIO handler: `read(offset, size) -> int`, `write(offset, size, value)`. They share a `Console`
(the UART's host side) and a `Clock` (the modelled cycle count, so DWT CYCCNT and SysTick read exact time).
Unlisted registers read back what was last written (0 after reset), as plain memory would.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

# Cortex-M4 r0p1 CPUID (ARMv7-M ARM B3.2.3; DDI 0439D 4.1: 0x410FC241).
CPUID_CORTEX_M4 = 0x410FC241


class Clock(Protocol):
    def cycles(self) -> int: ...  # modelled cycles now, exact inside a block

    def skip(self, cycles: int) -> None: ...  # advance time without executing (waiting on input)

    def wait_host(self, seconds: float) -> None: ...  # optionally block on host input


@dataclass
class Console:
    """The host side of the board's console UART: TX bytes become lines for a callback; RX is a byte queue."""

    on_line: Callable[[str], None] | None = None
    on_bytes: Callable[[bytes], None] | None = None  # raw TX stream (the pseudo-terminal)
    text: bytearray = field(default_factory=bytearray)
    rx: collections.deque = field(default_factory=collections.deque)
    tx_count: int = 0
    rx_count: int = 0
    _line: bytearray = field(default_factory=bytearray)
    input_source: Callable[[float], bytes] | None = None  # blocks up to N s for host input (pty)
    on_rx_change: Callable[[int], None] | None = None  # told the queued RX byte count after each change

    def transmit(self, byte: int) -> None:
        self.write(bytes((byte,)))

    def write(self, data: bytes) -> None:
        """Bytes the firmware sent, in order (the native hook hands over what it buffered in one call)."""
        self.tx_count += len(data)
        self.text += data
        if self.on_bytes is not None:
            self.on_bytes(data)
        *lines, rest = data.split(b"\n")
        for line in lines:
            self._line += line
            text = self._line.decode("utf-8", "replace").rstrip("\r")
            self._line.clear()
            if self.on_line is not None:
                self.on_line(text)
        self._line += rest

    def send(self, data: bytes) -> None:
        self.rx.extend(data)
        self._rx_changed()

    def receive(self) -> int:
        self.rx_count += 1
        byte = self.rx.popleft() if self.rx else 0
        self._rx_changed()
        return byte

    def clear_rx(self) -> None:
        self.rx.clear()
        self._rx_changed()

    def _rx_changed(self) -> None:
        if self.on_rx_change is not None:
            self.on_rx_change(len(self.rx))

    def pull_host_input(self, seconds: float) -> None:
        if self.input_source is not None:
            data = self.input_source(seconds)
            if data:
                self.send(data)

    def flush_line(self) -> None:
        """Deliver a final line without newline (at the end of a run)."""
        if self._line:
            line = self._line.decode("utf-8", "replace").rstrip("\r")
            self._line.clear()
            if self.on_line is not None:
                self.on_line(line)

    def reset(self) -> None:
        self.text.clear()
        self._line.clear()
        self.tx_count = self.rx_count = 0


class RxWaiter:
    """What happens when firmware polls an empty RX: time advances by one character at the console's baud
    rate (deterministic), and with a live host (pty) the emulator sleeps on the host's input instead of
    spinning. Consecutive empty polls back off up to 10 ms of wall time per poll."""

    def __init__(self, console: Console, clock: Clock, clock_hz: int, baud: int) -> None:
        self.console, self.clock = console, clock
        self.char_s = 10.0 / baud
        self.char_cycles = max(1, round(clock_hz * self.char_s))
        self.clock_hz = clock_hz
        self.empty_polls = 0

    def poll_empty(self) -> None:
        self.empty_polls += 1
        if self.console.input_source is not None:
            wait_s = min(0.01, self.char_s * (1 << min(self.empty_polls // 64, 7)))
            self.console.pull_host_input(wait_s)
            if self.console.rx:
                self.empty_polls = 0
                return
            self.clock.skip(max(self.char_cycles, round(wait_s * self.clock_hz)))
        else:
            self.clock.skip(self.char_cycles)

    def has_data(self) -> bool:
        if self.console.rx:
            self.empty_polls = 0
            return True
        return False


class Registers:
    """Plain register storage: what is written reads back."""

    def __init__(self) -> None:
        self.regs: dict[int, int] = {}

    def read(self, offset: int, size: int) -> int:
        return self.regs.get(offset, 0)

    def write(self, offset: int, size: int, value: int) -> None:
        self.regs[offset] = value

    def reset(self) -> None:
        self.regs.clear()


# --------------------------------------------------------------------------- Cortex-M private peripheral bus
class SystemControlSpace(Registers):
    """The PPB (0xE0000000-0xE00FFFFF): DWT, SysTick, SCB, FPU control and debug registers.

    DHCSR reads with C_DEBUGEN set, so the core's exit() reports over semihosting (a debugger is attached)."""

    BASE = 0xE0000000
    SIZE = 0x100000
    DWT_CTRL, DWT_CYCCNT = 0x1000, 0x1004
    SYST_CSR, SYST_RVR, SYST_CVR, SYST_CALIB = 0xE010, 0xE014, 0xE018, 0xE01C
    CPUID, ICSR, VTOR, AIRCR, CCR = 0xED00, 0xED04, 0xED08, 0xED0C, 0xED14
    CFSR, HFSR, MMFAR, BFAR, CPACR = 0xED28, 0xED2C, 0xED34, 0xED38, 0xED88
    DHCSR, DEMCR = 0xEDF0, 0xEDFC
    DWT_NUMCOMP_4 = 4 << 28  # DWT_CTRL.NUMCOMP on a Cortex-M4 with all comparators

    def __init__(self, clock: Clock, image_origin: int) -> None:
        super().__init__()
        self.clock = clock
        self.image_origin = image_origin
        self.reset()

    def reset(self) -> None:
        super().reset()
        self.regs[self.VTOR] = self.image_origin  # the bootloader leaves VTOR at the image
        self.regs[self.CCR] = 0x200  # STKALIGN (ARMv7-M reset value)
        self.regs[self.DWT_CTRL] = self.DWT_NUMCOMP_4
        self._cyccnt_frozen = 0
        self._cyccnt_offset = 0
        self._systick_load_cycles = 0

    def _cyccnt_running(self) -> bool:
        return bool(self.regs.get(self.DWT_CTRL, 0) & 1) and bool(self.regs.get(self.DEMCR, 0) & (1 << 24))

    def cyccnt_state(self) -> tuple[bool, int, int]:
        """(running, value while stopped, offset from the modelled cycles while running), for the native hook."""
        return self._cyccnt_running(), self._cyccnt_frozen & 0xFFFFFFFF, self._cyccnt_offset

    def _cyccnt(self) -> int:
        if self._cyccnt_running():
            return (self.clock.cycles() + self._cyccnt_offset) & 0xFFFFFFFF
        return self._cyccnt_frozen

    def read(self, offset: int, size: int) -> int:
        if offset == self.DWT_CYCCNT:
            return self._cyccnt()
        if offset == self.CPUID:
            return CPUID_CORTEX_M4
        if offset == self.DHCSR:
            # C_DEBUGEN (bit 0) and S_REGRDY (bit 16): a debugger is attached
            return (self.regs.get(self.DHCSR, 0) & 0xFFFF) | 1 | (1 << 16)
        if offset == self.SYST_CVR:
            return self._systick_current()
        if offset == self.SYST_CALIB:
            return 1 << 31  # NOREF: no reference clock, the core clock only
        return super().read(offset, size)

    def write(self, offset: int, size: int, value: int) -> None:
        if offset == self.DWT_CYCCNT:
            self._cyccnt_frozen = value & 0xFFFFFFFF
            self._cyccnt_offset = value - self.clock.cycles()
            return
        was_running = self._cyccnt_running()
        if offset == self.DWT_CTRL:
            value = (value & 0x0FFFFFFF) | self.DWT_NUMCOMP_4
        if offset in (self.CFSR, self.HFSR):  # write-one-to-clear status
            self.regs[offset] = self.regs.get(offset, 0) & ~value
            return
        if offset == self.SYST_CVR:  # any write clears the counter
            self._systick_load_cycles = self.clock.cycles()
            return
        super().write(offset, size, value)
        now_running = self._cyccnt_running()
        if was_running and not now_running:
            self._cyccnt_frozen = (self.clock.cycles() + self._cyccnt_offset) & 0xFFFFFFFF
        elif now_running and not was_running:
            self._cyccnt_offset = self._cyccnt_frozen - self.clock.cycles()
        if offset == self.SYST_CSR and value & 1:
            self._systick_load_cycles = self.clock.cycles()

    def _systick_current(self) -> int:
        reload = self.regs.get(self.SYST_RVR, 0) & 0xFFFFFF
        if not self.regs.get(self.SYST_CSR, 0) & 1 or reload == 0:
            return 0
        elapsed = self.clock.cycles() - self._systick_load_cycles
        return reload - (elapsed % (reload + 1))


# --------------------------------------------------------------------------- nRF52840
class Nrf52840Clock(Registers):
    """CLOCK (nrfx mdk/nrf52840.h): starting a clock completes at once."""

    TASKS_HFCLKSTART, TASKS_LFCLKSTART = 0x000, 0x008
    EVENTS_HFCLKSTARTED, EVENTS_LFCLKSTARTED = 0x100, 0x104
    HFCLKSTAT, LFCLKSTAT = 0x40C, 0x418

    def write(self, offset: int, size: int, value: int) -> None:
        super().write(offset, size, value)
        if offset == self.TASKS_HFCLKSTART and value & 1:
            self.regs[self.EVENTS_HFCLKSTARTED] = 1
            self.regs[self.HFCLKSTAT] = (1 << 16) | 1  # running, crystal
        elif offset == self.TASKS_LFCLKSTART and value & 1:
            self.regs[self.EVENTS_LFCLKSTARTED] = 1
            self.regs[self.LFCLKSTAT] = (1 << 16) | 1


class ConsoleUart(Registers):
    """A UART model wired to the host console; `waiter` decides what polling an empty receiver costs.

    The emulator's native MMIO hook may serve the transmit side itself (cyclehook.c): writes of TX_DATA while
    `tx_on()`, all accesses to TX_EVENT, and the first read of POLL (its value POLL_IDLE) after a data access while
    no input is queued; `native` is then its window, which also keeps the count of POLL reads."""

    TX_DATA: int
    TX_EVENT: int | None = None
    POLL: int | None = None
    POLL_IDLE = 0

    def __init__(self, console: Console, waiter: RxWaiter) -> None:
        super().__init__()
        self.console, self.waiter = console, waiter
        self.native = None
        self.reset()

    def tx_on(self) -> bool:
        return True

    @property
    def poll_count(self) -> int:
        """POLL reads since the last data access (kept in the native window when there is one)."""
        return self.native.poll_count if self.native is not None else self._poll_count

    @poll_count.setter
    def poll_count(self, value: int) -> None:
        if self.native is not None:
            self.native.poll_count = value
        self._poll_count = value


class Nrf52840Uart(ConsoleUart):
    """Legacy UART registers of UART0/UARTE0 with ENABLE = 4 (nrfx mdk/nrf52840.h). TX completes at once
    (TXDRDY set by the TXD write); RXDRDY reflects the host's input queue."""

    TASKS_STARTRX, TASKS_STOPRX, TASKS_STARTTX, TASKS_STOPTX = 0x000, 0x004, 0x008, 0x00C
    EVENTS_RXDRDY, EVENTS_TXDRDY = 0x108, 0x11C
    ENABLE, RXD, TXD = 0x500, 0x518, 0x51C
    ENABLE_UART = 4
    TX_DATA, TX_EVENT = TXD, EVENTS_TXDRDY

    def tx_on(self) -> bool:
        return self.regs.get(self.ENABLE) == self.ENABLE_UART and self.tx_started

    def reset(self) -> None:
        super().reset()
        self.tx_started = self.rx_started = False
        self.dropped_tx_bytes = 0

    def read(self, offset: int, size: int) -> int:
        if offset == self.EVENTS_RXDRDY:
            if self.rx_started and self.waiter.has_data():
                return 1
            self.waiter.poll_empty()
            return 1 if self.rx_started and self.console.rx else 0
        if offset == self.RXD:
            return self.console.receive()
        return super().read(offset, size)

    def write(self, offset: int, size: int, value: int) -> None:
        if offset == self.TXD:
            if self.tx_on():
                self.console.transmit(value & 0xFF)
                self.regs[self.EVENTS_TXDRDY] = 1
            else:
                self.dropped_tx_bytes += 1  # a real UART that is off or not started sends nothing
            return
        super().write(offset, size, value)
        if value & 1:
            if offset == self.TASKS_STARTTX:
                self.tx_started = True
            elif offset == self.TASKS_STOPTX:
                self.tx_started = False
            elif offset == self.TASKS_STARTRX:
                self.rx_started = True
            elif offset == self.TASKS_STOPRX:
                self.rx_started = False


# --------------------------------------------------------------------------- ARM PL011 (CXD5602 UART1)
class Pl011(ConsoleUart):
    """PL011 UART (ARM DDI 0183; NuttX cxd56_uart.h offsets): DR, FR (RXFE from the host queue, TX never full)."""

    DR, FR = 0x000, 0x018
    FR_RXFE, FR_TXFF, FR_RXFF, FR_TXFE = 1 << 4, 1 << 5, 1 << 6, 1 << 7
    TX_DATA, POLL, POLL_IDLE = DR, FR, FR_TXFE | FR_RXFE
    PERIPH_ID = {0xFE0: 0x11, 0xFE4: 0x10, 0xFE8: 0x14, 0xFEC: 0x00, 0xFF0: 0x0D, 0xFF4: 0xF0, 0xFF8: 0x05,
                 0xFFC: 0xB1}

    def reset(self) -> None:
        super().reset()
        self.poll_count = 0  # FR reads since the last DR access

    def read(self, offset: int, size: int) -> int:
        if offset == self.DR:
            self.poll_count = 0
            return self.console.receive()
        if offset == self.FR:
            if self.waiter.has_data():
                return self.FR_TXFE
            # FR also serves TX polling (TXFF before each DR write): only repeated FR reads without a DR
            # access in between are a firmware waiting for input.
            self.poll_count += 1
            if self.poll_count >= 2:
                self.waiter.poll_empty()
            return self.FR_TXFE if self.console.rx else self.FR_TXFE | self.FR_RXFE
        if offset in self.PERIPH_ID:
            return self.PERIPH_ID[offset]
        return super().read(offset, size)

    def write(self, offset: int, size: int, value: int) -> None:
        if offset == self.DR:
            self.poll_count = 0
            self.console.transmit(value & 0xFF)
            return
        super().write(offset, size, value)


# Renode type (from the .repl) -> model kind. Consoles get the shared Console; others are plain models.
CONSOLE_TYPES = {"UART.NRF52840_UART": Nrf52840Uart, "UART.PL011": Pl011}
PLAIN_TYPES = {"Miscellaneous.NRF52840_CLOCK": Nrf52840Clock}
PPB_TYPES = {"IRQControllers.NVIC", "Miscellaneous.DWT", "CPU.CortexM"}  # served by SystemControlSpace
PERIPHERAL_WINDOW_BYTES = 0x1000
