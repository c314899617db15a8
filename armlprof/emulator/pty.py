"""The emulated console as a pseudo-terminal: pyserial (or any terminal) opens the slave path as it would a real
board's serial port. The emulator writes TX bytes to the master and reads host input from it while the firmware
polls its UART (blocking briefly instead of spinning)."""

from __future__ import annotations

import contextlib
import os
import select
import tty


class PtyConsole:
    def __init__(self) -> None:
        self.master_fd, self._slave_fd = os.openpty()
        tty.setraw(self._slave_fd)  # bytes pass unchanged: no echo, no CR/LF translation
        self.slave_path = os.ttyname(self._slave_fd)
        os.set_blocking(self.master_fd, False)

    def write(self, data: bytes) -> None:
        """Firmware TX -> host. Drops output if nobody reads for a long time (a real UART would too)."""
        with contextlib.suppress(BlockingIOError):
            os.write(self.master_fd, data)

    def read(self, timeout_s: float) -> bytes:
        """Host -> firmware RX: whatever arrived within `timeout_s`."""
        ready, _, _ = select.select([self.master_fd], [], [], max(0.0, timeout_s))
        if not ready:
            return b""
        try:
            return os.read(self.master_fd, 4096)
        except (BlockingIOError, OSError):
            return b""

    def close(self) -> None:
        for fd in (self.master_fd, self._slave_fd):
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> PtyConsole:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
