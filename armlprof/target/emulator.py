"""The built-in emulator as a target (the default): deterministic, cycle-modelled, with a memory watch.

`run()` is the fast path every measurement uses: the host line is queued before the boot (the sketch reads it
after its ready line, exactly as if typed), and one `Emulator` per ELF is kept so later runs reuse Unicorn's
translations and the block costs. `start()` gives an interactive session (the emulator in a thread, console
input read from the session), for Robot keywords and anything that must react to what the sketch prints.

`PtyBoard` puts an emulated board behind a pseudo-terminal, so the serial target can be tested against it:
after each run the board "resets" and boots again, as a real board does when the host toggles DTR.
"""

from __future__ import annotations

import contextlib
import os
import queue
import select
import threading
import time
import tty
import weakref
from collections.abc import Callable
from pathlib import Path

from armlprof.board import Board
from armlprof.errors import ArmlprofError
from armlprof.stops import StopReason
from armlprof.target.base import Image, RunOutcome, Session, StopInfo, Target, TargetError

# A run that never finishes is a hang; without a hint from the caller allow this much board time.
DEFAULT_MAX_SECONDS_OF_BOARD_TIME = 600.0


def _stop_info(result, emulator) -> StopInfo:
    """Translate the emulator's RunResult into the target-neutral StopInfo (with the memory watch)."""
    return StopInfo(
        reason=result.stop_reason,
        exit_code=result.exit_code,
        # A hang says where it hung (PC and function), as a fault does.
        fault=result.fault.describe() if result.fault is not None else (
            result.problem() if result.stop_reason in ("cycle_limit", "timeout") else None),
        cycles=result.cycles,
        lowest_sp=result.lowest_sp,
        heap_high_water=result.heap_high_water,
        heap_start=result.heap_start,
        stack_top=result.stack_top,
        stack_limit=emulator.image.symbol("__stack_limit"),
        wall_s=result.wall_s,
    )


class EmulatorTarget(Target):
    name = "emulator"
    deterministic = True

    def __init__(self, timed: bool = True, profile: bool = False) -> None:
        self.timed = timed
        self.profile = profile  # emulators that keep a function profile of each run (emulator/profile.py)
        self._emulators: dict[tuple, object] = {}
        self._alignment_checked: weakref.WeakSet = weakref.WeakSet()

    def unavailable_reason(self, board: Board | None = None) -> str | None:
        try:
            import unicorn  # noqa: F401
        except ImportError:
            return "the unicorn package is missing; install armlprof's dependencies (pip install unicorn)"
        return None

    def _emulator(self, image: Image, timed: bool):
        from armlprof.emulator import Emulator

        if image.elf is None:
            raise TargetError("the emulator needs an ELF built by armlprof; build the sketch first")
        stat = Path(image.elf).stat()
        key = (str(image.elf), stat.st_mtime_ns, stat.st_size, image.board.name, image.board.memory_kib, timed)
        emulator = self._emulators.get(key)
        if emulator is None:
            if len(self._emulators) >= 4:  # each holds the board's memory: keep a few
                self._emulators.pop(next(iter(self._emulators))).close()
            emulator = Emulator(image.board, image.elf, timed=timed, profile=self.profile)
            self._emulators[key] = emulator
        return emulator

    def function_profile(self, image: Image) -> list:
        """The cycles per function of the last timed run of `image` (a target made with profile=True)."""
        return self._emulator(image, self.timed).function_profile()

    def run(self, image: Image, host_line: str | None, *, timeout_s: float = 600.0,
            max_cycles: int | None = None, ready_timeout_s: float = 30.0, timing: bool = True) -> RunOutcome:
        # Pass/fail runs (RAM trials) use the functional mode: same results, no per-block timing work.
        emulator = self._emulator(image, self.timed and timing)
        self._check_alignment_once(emulator)
        lines: list[str] = []
        emulator.console.on_line = lines.append
        emulator.console.input_source = None
        emulator.timeout_s = timeout_s
        emulator.max_cycles = max_cycles or int(DEFAULT_MAX_SECONDS_OF_BOARD_TIME * image.board.clock_hz)
        emulator.reset()  # applies max_cycles (the emulator reads it when it resets the machine)
        if host_line is not None:
            emulator.write_console(host_line.rstrip("\n") + "\n")
        result = emulator.run()
        outcome = RunOutcome(lines, _stop_info(result, emulator))
        if host_line is not None and outcome.last("ready") is None:
            outcome.stop.fault = outcome.stop.fault or "the sketch never printed its ready line"
        return outcome

    def start(self, image: Image) -> Session:
        emulator = self._emulator(image, self.timed)
        self._check_alignment_once(emulator)
        return EmulatorSession(emulator, image)

    def _check_alignment_once(self, emulator) -> None:
        """The first run of each emulator (one image, one mode) also faults on what a Cortex-M4 faults on when
        unaligned (LDM, LDRD, VLDR ...; ~7x slower): later runs execute the same code on the same buffers, at full
        speed."""
        emulator.check_alignment = emulator not in self._alignment_checked
        self._alignment_checked.add(emulator)

    def close(self) -> None:
        for emulator in self._emulators.values():
            emulator.close()
        self._emulators.clear()


class EmulatorSession(Session):
    """The emulator running in a thread; console lines arrive on a queue, input is fed when the sketch polls."""

    def __init__(self, emulator, image: Image, max_cycles: int | None = None) -> None:
        super().__init__()
        self._emulator = emulator
        self._image = image
        self._lines: queue.Queue[str] = queue.Queue()
        self._input: queue.Queue[bytes] = queue.Queue()
        self._closed = threading.Event()
        self._result = None
        self._error: BaseException | None = None
        emulator.console.on_line = self._lines.put
        emulator.console.input_source = self._pull_input
        emulator.timeout_s = None
        emulator.max_cycles = max_cycles or int(DEFAULT_MAX_SECONDS_OF_BOARD_TIME * image.board.clock_hz)
        emulator.reset()
        self._thread = threading.Thread(target=self._run, name="armlprof-emulator", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._result = self._emulator.run()
        except BaseException as exc:  # noqa: BLE001 - reported through the session, never lost in a thread
            self._error = exc
        finally:
            self._lines.put(None)  # type: ignore[arg-type]  # end marker

    def _pull_input(self, wait_s: float) -> bytes:
        if self._closed.is_set():
            # Stop the emulated board: the session is gone, nobody will ever answer.
            self._emulator.stop()  # from this thread: the run ends with stop reason "stopped"
            return b""
        try:
            return self._input.get(timeout=wait_s)
        except queue.Empty:
            return b""

    def read_line(self, timeout_s: float) -> str | None:
        if self.stop is not None and self._lines.empty():
            return None
        try:
            line = self._lines.get(timeout=max(0.0, timeout_s))
        except queue.Empty:
            return None
        if line is None:
            self._finish_stop()
            return None
        self.lines.append(line)
        return line

    def _finish_stop(self) -> None:
        self._thread.join()
        if self._error is not None:
            if isinstance(self._error, ArmlprofError):
                raise self._error
            raise TargetError(f"the emulator failed: {self._error}; rerun with the same ELF to reproduce")
        self.stop = _stop_info(self._result, self._emulator)

    def write_line(self, text: str) -> None:
        self._input.put(text.rstrip("\n").encode() + b"\n")

    def _after_done(self, deadline: float) -> None:
        # The sketch said done; the emulator sees the exit (or idle loop) right after: collect that stop.
        while self.stop is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.stop = StopInfo(StopReason.DONE)
                return
            self.read_line(min(remaining, 1.0))

    def close(self) -> None:
        self._closed.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5.0)
        self._emulator.console.input_source = None


class PtyBoard:
    """An emulated board behind a pseudo-terminal: `port` is what a serial target opens. After `power_on()` each
    run boots the image from reset and, when it ends, the board boots again (`runs` times, or until closed), like
    a board the host resets between trials. Open the port before powering on: a serial client that opens the port
    later discards what was already sent (pyserial flushes input on open), as with a real board."""

    def __init__(self, board: Board, elf: Path, *, timed: bool = True, runs: int | None = None,
                 on_run: Callable[[object], None] | None = None) -> None:
        from armlprof.emulator import Emulator

        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.port = os.ttyname(self._slave)
        self._stopping = threading.Event()
        self._runs, self._on_run = runs, on_run
        self._emulator = Emulator(board, elf, timed=timed)
        self._emulator.console.on_bytes = self._write_out
        self._emulator.console.input_source = self._pull_input
        self._thread: threading.Thread | None = None

    def _write_out(self, data: bytes) -> None:
        try:
            os.write(self._master, data)
        except OSError:
            self._stopping.set()

    def _pull_input(self, wait_s: float) -> bytes:
        if self._stopping.is_set():
            self._emulator.stop()  # from this thread: the run ends with stop reason "stopped"
            return b""
        ready, _, _ = select.select([self._master], [], [], wait_s)
        if not ready:
            return b""
        try:
            return os.read(self._master, 1024)
        except OSError:
            self._stopping.set()
            return b""

    def _serve(self) -> None:
        count = 0
        while not self._stopping.is_set() and (self._runs is None or count < self._runs):
            result = self._emulator.run()
            count += 1
            if self._on_run is not None:
                self._on_run(result)

    def power_on(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name="armlprof-pty", daemon=True)
            self._thread.start()

    def close(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=10.0)
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._emulator.close()


def serve_pty(board: Board, elf: Path, *, timed: bool = True, runs: int | None = None,
              on_run: Callable[[object], None] | None = None) -> tuple[str, Callable[[], None]]:
    """A powered-on PtyBoard: returns (device path, stop function)."""
    pty_board = PtyBoard(board, elf, timed=timed, runs=runs, on_run=on_run)
    pty_board.power_on()
    return pty_board.port, pty_board.close
