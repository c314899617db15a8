"""A real board over its serial port: build with arduino-cli for the board's FQBN (the official core), upload, talk
with pyserial, reset between trials.

Reset methods (`reset=`):
  dtr      toggle DTR (boards with an auto-reset circuit: Spresense's USB-UART bridge)
  1200bps  the "1200-baud touch" the Arduino tools use on native-USB boards (Nano 33 BLE): the board drops into its
           bootloader, and the sketch is uploaded again, which boots it fresh
  none     the host does not reset: the board restarts by itself (or by a hand on the reset button); each trial
           waits for the next ready line
With `prebuilt=True` the board already runs the image (build and upload are skipped) - e.g. a board flashed by
other means, or armlprof's emulator behind a pseudo-terminal (`armlprof.target.emulator.serve_pty`), which is
how this target is tested. `uploader=` replaces arduino-cli's upload with a callable(image) (same purpose).
Cycle counts come from the sketch when it was built with armlprof's core; with an official core the sketch
prints micros() only and the figures are micros() x clock.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from armlprof.board import Board
from armlprof.cache import cache_root
from armlprof.errors import ArmlprofError
from armlprof.protocol import parse_line
from armlprof.sketch import write_sketch
from armlprof.target.base import Image, Session, StopInfo, Target, TargetError

RESET_METHODS = ("dtr", "1200bps", "none")
_SKETCH_USES = re.compile(r"Sketch uses ([\d,.]+) bytes")


class SerialTarget(Target):
    name = "serial"
    deterministic = False

    def __init__(self, port: str | None = None, reset: str = "dtr", prebuilt: bool = False,
                 baud: int | None = None, arduino_cli: str = "arduino-cli",
                 uploader: Callable[[Image], None] | None = None, boot_timeout_s: float = 30.0) -> None:
        if reset not in RESET_METHODS:
            raise ArmlprofError(f"unknown reset method '{reset}'; use one of {', '.join(RESET_METHODS)}")
        self.port, self.reset, self.prebuilt, self.baud = port, reset, prebuilt, baud
        self.arduino_cli, self.uploader, self.boot_timeout_s = arduino_cli, uploader, boot_timeout_s
        self._serial = None
        self._buffer = bytearray()
        self._uploaded: str | None = None  # digest of the image on the board
        self._current: Image | None = None

    # ---------------------------------------------------------------- availability and images
    def unavailable_reason(self, board: Board | None = None) -> str | None:
        try:
            import serial  # noqa: F401
        except ImportError:
            return "pyserial is missing; pip install pyserial"
        if not self.port:
            return "the serial target needs the board's port; pass --port /dev/ttyACM0 (or COM3)"
        if not self.prebuilt and self.uploader is None and shutil.which(self.arduino_cli) is None:
            return (f"{self.arduino_cli} not found on PATH; install arduino-cli and the board's core "
                    f"({board.fqbn if board else 'see platforms/<board>/board.toml fqbn'}), or pass --prebuilt")
        return None

    def prepare(self, image: Image) -> Image:
        """Compile the sketch with arduino-cli for the board's FQBN and upload it (skipped when prebuilt)."""
        if self.prebuilt:
            return image
        if self.uploader is not None:
            self._upload_once(image, lambda: self.uploader(image))
            return image
        if image.sketch_dir is None or image.kind is None:
            raise TargetError("the serial target needs the sketch folder to compile with arduino-cli")
        exported = self._export(image)
        build_dir = exported.parent / "build"
        compiled = self._cli("compile", "--fqbn", image.board.fqbn, "--output-dir", str(build_dir), str(exported))
        match = _SKETCH_USES.search(compiled)
        official_flash_bytes = int(re.sub(r"[,.]", "", match.group(1))) if match else None
        elf = next(iter(sorted(build_dir.glob("*.elf"))), None)
        prepared = Image(image.board, elf, exported, image.kind, official_flash_bytes)
        self._upload_once(prepared, lambda: self._upload(prepared))
        return prepared

    def _export(self, image: Image) -> Path:
        # arduino-cli wants folder name == .ino name: one standalone folder per kind.
        assert image.sketch_dir is not None and image.kind is not None
        digest = hashlib.sha256(str(image.sketch_dir).encode()).hexdigest()[:12]
        dest = cache_root() / "arduino-cli" / digest / f"armlprof_{image.kind}"
        if dest.exists():
            shutil.rmtree(dest)
        return write_sketch(image.kind, dest, src_dir=image.sketch_dir / "src",
                            runtime=_runtime_of(image.sketch_dir), model=image.kind, baud=image.board.console_baud)

    def _upload(self, image: Image) -> None:
        assert image.sketch_dir is not None
        self._release_port()
        self._cli("upload", "-p", str(self.port), "--fqbn", image.board.fqbn,
                  "--input-dir", str(image.sketch_dir.parent / "build"), str(image.sketch_dir))

    def _upload_once(self, image: Image, upload: Callable[[], None]) -> None:
        digest = _image_digest(image)
        if digest != self._uploaded:
            upload()
            self._uploaded = digest
        self._current = image

    def _cli(self, *args: str) -> str:
        proc = subprocess.run([self.arduino_cli, *args], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            last = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
            raise TargetError(f"arduino-cli {args[0]} failed: {last[-1] if last else 'no output'}; "
                              f"run `arduino-cli {' '.join(args)}` to see why")
        return proc.stdout

    # ---------------------------------------------------------------- the port
    def connect(self, board: Board) -> None:
        """Open the port now (before the board starts talking: what arrives before opening is lost)."""
        self._open(board)

    def _open(self, board: Board):
        import serial

        if self._serial is None:
            try:
                self._serial = serial.Serial(self.port, self.baud or board.console_baud, timeout=0.05)
            except (serial.SerialException, OSError) as exc:
                raise TargetError(f"cannot open {self.port}: {exc}; check the cable and --port") from None
        return self._serial

    def _release_port(self) -> None:
        if self._serial is not None:
            self._serial.close()
            self._serial = None
        self._buffer.clear()

    def _reset_board(self, image: Image) -> None:
        if self.reset == "none":
            return
        if self.reset == "dtr":
            import serial

            port = self._open(image.board)
            port.reset_input_buffer()
            self._buffer.clear()
            try:
                port.dtr = False
                time.sleep(0.1)
                port.dtr = True
            except (serial.SerialException, OSError):
                # No modem lines (a pseudo-terminal, `armlprof run --uart-pty`): reopening is the edge.
                self._release_port()
                time.sleep(0.1)
                self._open(image.board)
            return
        # 1200-baud touch: the board enters its bootloader; uploading again boots the sketch from reset.
        import serial

        self._release_port()
        try:
            with serial.Serial(self.port, 1200) as touch:
                touch.dtr = False
        except (serial.SerialException, OSError) as exc:
            raise TargetError(f"1200-baud touch on {self.port} failed: {exc}; check --port") from None
        time.sleep(1.0)
        if self._current is None:
            raise TargetError("1200-baud reset needs an uploaded sketch; do not combine it with --prebuilt")
        self._uploaded = None
        self.prepare(self._current) if self.uploader else self._upload_once(self._current,
                                                                            lambda: self._upload(self._current))

    def read_line(self, board: Board, timeout_s: float) -> str | None:
        """One line from the port (shared by the sessions: lines after `done` belong to the next boot)."""
        port = self._open(board)
        deadline = time.monotonic() + timeout_s
        while True:
            newline = self._buffer.find(b"\n")
            if newline >= 0:
                raw = bytes(self._buffer[:newline])
                del self._buffer[: newline + 1]
                return raw.decode("utf-8", "replace").rstrip("\r")
            if time.monotonic() >= deadline:
                return None
            try:
                chunk = port.read(max(1, port.in_waiting))
            except OSError as exc:
                raise TargetError(f"lost {self.port}: {exc}; check the cable") from None
            self._buffer.extend(chunk)

    def write_line(self, board: Board, text: str) -> None:
        port = self._open(board)
        port.write(text.rstrip("\n").encode() + b"\n")
        port.flush()

    # ---------------------------------------------------------------- sessions
    def run(self, image: Image, host_line: str | None, *, timeout_s: float = 600.0,
            max_cycles: int | None = None, ready_timeout_s: float | None = None, timing: bool = True):
        """As Target.run, but the wait for the ready line follows the run's timeout (--timeout) instead of a fixed
        30 s: a slow-booting board gets what the user allows, and a short --timeout is not exceeded."""
        ready = timeout_s if ready_timeout_s is None else ready_timeout_s
        return super().run(image, host_line, timeout_s=timeout_s, max_cycles=max_cycles, ready_timeout_s=ready,
                           timing=timing)

    def start(self, image: Image) -> Session:
        self._open(image.board)
        self._reset_board(image)
        return SerialSession(self, image.board)

    def close(self) -> None:
        self._release_port()


class SerialSession(Session):
    def __init__(self, target: SerialTarget, board: Board) -> None:
        super().__init__()
        self._target, self._board = target, board

    def read_line(self, timeout_s: float) -> str | None:
        if self.stop is not None:
            return None
        line = self._target.read_line(self._board, timeout_s)
        if line is not None:
            self.lines.append(line)
            record = parse_line(line)
            if record is not None and record.event == "fault":
                self._after_fault(record)
        return line

    def write_line(self, text: str) -> None:
        self._target.write_line(self._board, text)

    def close(self) -> None:
        """The port stays open in the target (re-opening may reset a board); nothing to release per session."""

    def reset(self) -> None:
        self.stop = None
        self.lines.clear()
        assert self._target._current is not None or self._target.reset != "1200bps"
        self._target._reset_board(self._target._current or Image(self._board, None))


def _image_digest(image: Image) -> str:
    h = hashlib.sha256()
    for path in (image.elf,):
        if path is not None and Path(path).is_file():
            h.update(Path(path).read_bytes())
    if image.sketch_dir is not None:
        for p in sorted(Path(image.sketch_dir).rglob("*")):
            if p.is_file():
                h.update(str(p.relative_to(image.sketch_dir)).encode())
                h.update(p.read_bytes())
    return h.hexdigest()


def _runtime_of(sketch_dir: Path) -> str:
    header = Path(sketch_dir) / "src" / "model.h"
    match = re.search(r'#define MODEL_RUNTIME "([^"]+)"', header.read_text()) if header.is_file() else None
    return match.group(1) if match else "unknown"


__all__ = ["RESET_METHODS", "SerialSession", "SerialTarget", "StopInfo"]
