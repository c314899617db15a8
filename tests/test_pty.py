"""`armlprof run --uart-pty` behaves like a board on a USB serial port: boots when the port is opened
(--wait-for-client), reboots when it is opened again (the DTR edge), stays open after the firmware ends."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from armlprof.board import load_board

from .conftest import REPO_ROOT

serial = pytest.importorskip("serial")
FIRMWARE = Path(__file__).resolve().parent / "firmware"


def _elf(sketch: str) -> Path:
    from armlprof.build import build_sketch

    return build_sketch(FIRMWARE / sketch, load_board("nano33ble"), baseline=False).elf


class _Run:
    """`armlprof run ... --uart-pty` in a subprocess, with its stderr read line by line (a reader thread)."""

    def __init__(self, *args: str) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
        self.proc = subprocess.Popen([sys.executable, "-m", "armlprof.cli", "run", *args], stderr=subprocess.PIPE,
                                     stdout=subprocess.DEVNULL, text=True, env=env)
        self.queue: queue.Queue[str] = queue.Queue()
        self.lines: list[str] = []
        threading.Thread(target=lambda: [self.queue.put(line.rstrip("\n")) for line in self.proc.stderr],
                         daemon=True).start()

    def wait_for(self, start: str, timeout_s: float = 20) -> str:
        deadline = time.monotonic() + timeout_s
        while True:
            for line in self.lines:
                if line.startswith(start):
                    self.lines.remove(line)
                    return line
            try:
                self.lines.append(self.queue.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                raise AssertionError(f"no stderr line starting {start!r}; got {self.lines}") from None

    def close(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(10)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            time.sleep(0.2)
            while not self.queue.empty():
                self.lines.append(self.queue.get())

    def __repr__(self) -> str:
        return f"armlprof run (exit {self.proc.poll()}), stderr: {self.lines}"


def test_wait_for_client_boots_on_open_and_reboots_on_reopen() -> None:
    run = _Run(str(_elf("emu_echo")), "--board", "nano33ble", "--uart-pty", "--wait-for-client")
    try:
        path = run.wait_for("console on pseudo-terminal ").rsplit(" ", 1)[1]
        run.wait_for("waiting for a client")
        time.sleep(1.0)  # an eager board would have printed its ready line by now, to nobody
        with serial.Serial(path, 115200, timeout=10) as port:
            assert port.readline() == b"echo ready\r\n"
            port.write(b"pty\n")
            assert port.readline() == b"echo: PTY\r\n"
        time.sleep(1.0)  # closed for a moment (a terminal restarted), long enough to be seen under load
        with serial.Serial(path, 115200, timeout=10) as port:  # opening again: DTR resets the board
            assert port.readline() == b"echo ready\r\n"
        run.wait_for("the port was opened: rebooting")
    finally:
        code = run.close()
    assert code == 0, run
    assert "Traceback" not in "\n".join(run.lines), run


def test_port_stays_open_after_the_firmware_ends_until_ctrl_c() -> None:
    run = _Run(str(_elf("emu_hello")), "--board", "nano33ble", "--uart-pty", "--wait-for-client")
    try:
        path = run.wait_for("console on pseudo-terminal ").rsplit(" ", 1)[1]
        with serial.Serial(path, 115200, timeout=10) as port:
            assert port.readline() == b"hello from armlprof\r\n"
            run.wait_for("the firmware ended; the port stays open")
            assert run.proc.poll() is None
            port.write(b"x")  # the port still works: no EIO for the client
        time.sleep(1.0)
        with serial.Serial(path, 115200, timeout=10) as port:
            assert port.readline() == b"hello from armlprof\r\n"  # reopened: booted again
    finally:
        code = run.close()
    assert code == 7, run  # the firmware's exit code, after Ctrl-C
    run.wait_for("armlprof: stopped", timeout_s=2)


def test_wait_for_client_needs_uart_pty(capsys) -> None:
    from armlprof.cli import main

    assert main(["run", str(_elf("emu_hello")), "--board", "nano33ble", "--wait-for-client"]) == 2
    assert "add --uart-pty" in capsys.readouterr().err


def test_run_json_keeps_stdout_pure_json(capfd) -> None:
    import json

    from armlprof.cli import main

    assert main(["run", str(_elf("emu_hello")), "--board", "nano33ble", "--json"]) == 7
    out, err = capfd.readouterr()
    assert json.loads(out)["stop_reason"] == "exit"  # nothing but the JSON on stdout
    assert "hello from armlprof" in err
