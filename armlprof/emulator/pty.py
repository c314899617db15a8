"""The emulated console as a pseudo-terminal: pyserial (or any terminal) opens the slave path as it would a real
board's serial port. The emulator writes TX bytes to the master and reads host input from it while the firmware
polls its UART (blocking briefly instead of spinning).

Board-like mode (`hold_slave=False`): armlprof keeps no slave descriptor open, so the master sees whether a client
has the port open (POLLHUP while none does). As on a real board's USB-UART, output sent while no client listens is
lost, and `ClientWatcher` reports each time a client opens the port: opening a serial port raises DTR, which resets
a board with an auto-reset circuit, so `armlprof run --uart-pty` reboots the emulated board then.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import time
import tty
from collections.abc import Callable

POLL_INTERVAL_S = 0.02  # a client closed for less than this and reopened is not seen as a reopen


class PtyConsole:
    def __init__(self, hold_slave: bool = True) -> None:
        self.master_fd, self._slave_fd = os.openpty()
        tty.setraw(self._slave_fd)  # bytes pass unchanged: no echo, no CR/LF translation
        self.slave_path = os.ttyname(self._slave_fd)
        os.set_blocking(self.master_fd, False)
        self.hold_slave = hold_slave
        if not hold_slave:
            os.close(self._slave_fd)
            self._slave_fd = -1
    def client_connected(self) -> bool:
        """Whether some process has the port open (always True while armlprof holds the slave itself)."""
        if self.hold_slave:
            return True
        poll = select.poll()  # one per call: a poll object must not be polled from two threads at once
        poll.register(self.master_fd, select.POLLHUP)
        return not any(ev & select.POLLHUP for _, ev in poll.poll(0))

    def wait_for_client(self, timeout_s: float | None = None) -> bool:
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while not self.client_connected():
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(POLL_INTERVAL_S)
        return True

    def write(self, data: bytes) -> None:
        """Firmware TX -> host. Dropped while no client has the port open, or if nobody reads for a long time
        (a real UART would lose it too)."""
        if not self.client_connected():
            return
        view = memoryview(data)  # the console hands over whole lines: write all of it that fits
        while view:
            try:
                view = view[os.write(self.master_fd, view):]
            except OSError:  # BlockingIOError included: the client stopped reading
                return

    def read(self, timeout_s: float) -> bytes:
        """Host -> firmware RX: whatever arrived within `timeout_s`."""
        if not self.client_connected():
            time.sleep(max(0.0, min(timeout_s, POLL_INTERVAL_S)))  # nobody to type: wait, do not spin
            return b""
        ready, _, _ = select.select([self.master_fd], [], [], max(0.0, timeout_s))
        if not ready:
            return b""
        try:
            return os.read(self.master_fd, 4096)
        except (BlockingIOError, OSError):
            return b""

    def close(self) -> None:
        for fd in (self.master_fd, self._slave_fd):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)

    def __enter__(self) -> PtyConsole:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ClientWatcher:
    """A daemon thread calling `on_open()` each time a client opens the port (closed -> open)."""

    def __init__(self, pty: PtyConsole, on_open: Callable[[], None]) -> None:
        self.pty, self.on_open = pty, on_open
        self._stop = threading.Event()
        # The state now, before the caller shows the port's path: a client that opens it at once is an open.
        self._connected = pty.client_connected()
        self._thread = threading.Thread(target=self._watch, name="pty-client-watcher", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        connected = self._connected
        while not self._stop.wait(POLL_INTERVAL_S):
            now = self.pty.client_connected()
            if now and not connected:
                self.on_open()
            connected = now

    def close(self) -> None:
        self._stop.set()
        self._thread.join(1)
