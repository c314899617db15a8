"""Renode as a target: the same ELF on the same platforms/<board>/<board>.repl, driven through Renode's monitor.

Renode is started headless (`renode --disable-xwt --plain --port <monitor>`) with the board's `.resc` (which loads
the .repl and the ELF, and defines the `reset` macro), the console UART is connected to a TCP server socket
(`emulation CreateServerSocketTerminal <port> "armlprof_term" false` + `connector Connect sysbus.<uart>
armlprof_term`), and each run is `machine Reset` + `start` over the monitor. Renode's DWT counts virtual time at
the board clock (the .repl's `frequency`), so the sketch's cycle figures are Renode's, not a cycle model's: Renode
advances time per instruction (PerformanceInMips), with no wait states or multi-cycle instructions.
Semihosting exit is not relied on: a run ends at the sketch's `@armlprof event=done` line.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from pathlib import Path

from armlprof.board import Board
from armlprof.stops import StopReason
from armlprof.target.base import Image, Session, StopInfo, Target, TargetError

STARTUP_TIMEOUT_S = 60.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _connect(port: int, timeout_s: float, process: subprocess.Popen) -> socket.socket:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=1.0)
        except OSError:
            if process.poll() is not None:
                raise TargetError(f"renode exited with code {process.returncode} while starting; "
                                  "run `renode --disable-xwt` by hand to see why") from None
            if time.monotonic() > deadline:
                raise TargetError(f"renode did not open port {port} within {timeout_s:g} s; "
                                  "check that Renode starts headless (`renode --disable-xwt`)") from None
            time.sleep(0.2)


class _LineSocket:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()

    def read_line(self, timeout_s: float) -> str | None:
        deadline = time.monotonic() + timeout_s
        while (newline := self.buffer.find(b"\n")) < 0:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(4096)
            except TimeoutError:
                return None
            if not chunk:
                raise TargetError("Renode closed the console socket; the emulation stopped")
            self.buffer.extend(chunk)
        raw = bytes(self.buffer[:newline])
        del self.buffer[: newline + 1]
        return raw.decode("utf-8", "replace").rstrip("\r")

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)


class RenodeTarget(Target):
    name = "renode"
    deterministic = True  # virtual time: identical runs

    def __init__(self, renode: str = "renode") -> None:
        self.renode = renode
        self._process: subprocess.Popen | None = None
        self._monitor: _LineSocket | None = None
        self._console: _LineSocket | None = None
        self._loaded: tuple[str, str] | None = None  # (board, elf) in the running Renode

    def unavailable_reason(self, board: Board | None = None) -> str | None:
        if shutil.which(self.renode) is None:
            return ("renode not found on PATH; install Renode (https://renode.io/#downloads, or "
                    "`pip install renode-run && renode-run download`) to use --target renode")
        return None

    def _monitor_command(self, command: str) -> None:
        assert self._monitor is not None
        self._monitor.send(command.encode() + b"\n")
        self._monitor.read_line(5.0)  # the echo / prompt; Renode's monitor answers every command

    def _launch(self, image: Image) -> None:
        self.close()
        board = image.board
        monitor_port, uart_port = _free_port(), _free_port()
        console = board.console_name
        commands = "; ".join([
            f"$elf=@{Path(image.elf).resolve()}",
            f"$repl=@{board.repl_path.resolve()}",
            f"$name=\"{board.name}\"",
            f"include @{board.resc_path.resolve()}",
            f"emulation CreateServerSocketTerminal {uart_port} \"armlprof_term\" false",
            f"connector Connect sysbus.{console} armlprof_term",
        ])
        self._process = subprocess.Popen(
            [self.renode, "--disable-xwt", "--plain", "--port", str(monitor_port), "-e", commands],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        self._monitor = _LineSocket(_connect(monitor_port, STARTUP_TIMEOUT_S, self._process))
        self._console = _LineSocket(_connect(uart_port, STARTUP_TIMEOUT_S, self._process))
        self._loaded = (board.name, str(image.elf))

    def start(self, image: Image) -> Session:
        if image.elf is None:
            raise TargetError("Renode needs an ELF built by armlprof; build the sketch first")
        if self._process is None or self._process.poll() is not None or self._loaded != (image.board.name,
                                                                                          str(image.elf)):
            self._launch(image)
        else:
            self._monitor_command("pause")
            self._monitor_command("machine Reset")  # runs the .resc's reset macro: reloads the ELF
        assert self._console is not None
        self._console.buffer.clear()
        self._monitor_command("start")
        return RenodeSession(self._console)

    def close(self) -> None:
        if self._monitor is not None:
            with contextlib.suppress(OSError, TargetError):
                self._monitor.send(b"quit\n")
        for conn in (self._monitor, self._console):
            if conn is not None:
                with contextlib.suppress(OSError):
                    conn.sock.close()
        if self._process is not None:
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = self._monitor = self._console = None
        self._loaded = None


class RenodeSession(Session):
    def __init__(self, console: _LineSocket) -> None:
        super().__init__()
        self._console = console

    def read_line(self, timeout_s: float) -> str | None:
        if self.stop is not None:
            return None
        try:
            line = self._console.read_line(timeout_s)
        except TargetError as exc:
            self.stop = StopInfo(StopReason.DISCONNECTED, fault=str(exc))
            return None
        if line is not None:
            self.lines.append(line)
        return line

    def write_line(self, text: str) -> None:
        self._console.send(text.rstrip("\n").encode() + b"\n")

    def close(self) -> None:
        """Renode keeps running between sessions; the next start resets the machine."""
