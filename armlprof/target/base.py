"""The Target interface: boot an image, talk to its console line by line, learn how the run ended.

    target = get_target("emulator")
    session = target.start(image)                 # a fresh boot (a real board is reset)
    ready = session.wait_for("ready", timeout_s=10)
    session.write_line("alloc=1024 seed=7")
    outcome = session.finish(timeout_s=60)        # lines, protocol records, StopInfo
    session.close()

`Target.run(image, host_line)` does exactly that; targets may override it with a faster equivalent (the emulator
queues the host line before booting and reuses its translations between runs). A run is over when the sketch
prints `@armlprof event=done`, or the target reports a stop (exit, fault, stack/heap collision, hang).
"""

from __future__ import annotations

import importlib
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

from armlprof.board import Board
from armlprof.errors import ArmlprofError, TargetError
from armlprof.protocol import Record, parse_line
from armlprof.stops import NORMAL_STOPS, StopReason

# name -> "module:Class", imported lazily (pyserial / Renode plumbing only when used).
_TARGETS = {
    "emulator": "armlprof.target.emulator:EmulatorTarget",
    "renode": "armlprof.target.renode:RenodeTarget",
    "serial": "armlprof.target.serial:SerialTarget",
}
TARGET_NAMES = tuple(_TARGETS)

# How a run may end (armlprof.stops); NORMAL_STOPS: done, exit, idle.


@dataclass
class Image:
    """What a target runs: the ELF armlprof built (emulator, Renode) and the sketch it came from (a target that
    builds with the official core, e.g. serial with arduino-cli, compiles the folder itself)."""

    board: Board
    elf: Path | None
    sketch_dir: Path | None = None
    kind: str | None = None  # the measurement sketch kind (ram_probe, init_time, inference_time)
    # The image size the target's own build reported (serial + arduino-cli: "Sketch uses N bytes"); the flash
    # record carries it as official_flash_bytes beside armlprof's own figure.
    official_flash_bytes: int | None = None


@dataclass
class StopInfo:
    # interrupted (Ctrl-C): measurements raise KeyboardInterrupt for it, so it is never recorded
    reason: StopReason
    exit_code: int | None = None
    fault: str | None = None  # one line
    cycles: int | None = None  # whole run, when the target counts them
    lowest_sp: int | None = None  # memory watch (emulator only)
    heap_high_water: int | None = None
    heap_start: int | None = None
    stack_top: int | None = None
    stack_limit: int | None = None
    wall_s: float | None = None

    def __post_init__(self) -> None:
        self.reason = StopReason(self.reason)  # a plain string is accepted; an unknown one is a ValueError

    @property
    def normal(self) -> bool:
        return self.reason in NORMAL_STOPS and self.exit_code in (None, 0) and self.fault is None

    def describe(self) -> str:
        text = self.reason
        if self.exit_code not in (None, 0):
            text += f" (exit code {self.exit_code})"
        if self.fault:
            text += f": {self.fault}"
        return text


@dataclass
class RunOutcome:
    lines: list[str]
    stop: StopInfo
    records: list[Record] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.records:
            self.records = [r for r in map(parse_line, self.lines) if r is not None]

    def last(self, event: str) -> Record | None:
        found = self.all(event)
        return found[-1] if found else None

    def all(self, event: str) -> list[Record]:
        return [r for r in self.records if r.event == event]

    @property
    def fault_line(self) -> str | None:
        """The firmware's own fault report (its HardFault handler), if it printed one."""
        record = self.last("fault")
        return None if record is None else " ".join(f"{k}={v}" for k, v in record.fields.items())


class Session(ABC):
    """One boot of an image. `lines` keeps every console line read so far."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.stop: StopInfo | None = None

    @abstractmethod
    def read_line(self, timeout_s: float) -> str | None:
        """The next console line (without line ending); None when none arrived in time or the run has stopped
        (then `stop` is set)."""

    @abstractmethod
    def write_line(self, text: str) -> None:
        """Send one line to the sketch's console (a newline is added)."""

    @abstractmethod
    def close(self) -> None:
        """End the session (an emulated run is stopped; a serial port is released)."""

    def wait_for(self, event: str, timeout_s: float) -> Record:
        """Read lines until a protocol record of `event`; TargetError if the run stops or time runs out."""
        deadline = time.monotonic() + timeout_s
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TargetError(f"no '@armlprof event={event}' line within {timeout_s:g} s; "
                                  f"last console line: {self._last_line()!r}")
            line = self.read_line(min(remaining, 1.0))
            if line is None:
                if self.stop is not None:
                    raise TargetError(f"the run ended ({self.stop.describe()}) before '@armlprof event={event}'; "
                                      f"last console line: {self._last_line()!r}")
                continue
            record = parse_line(line)
            if record is not None and record.event == event:
                return record

    def wait_for_text(self, text: str, timeout_s: float) -> str:
        """Read lines until one contains `text` (Robot's Wait For Line On Console)."""
        deadline = time.monotonic() + timeout_s
        while (remaining := deadline - time.monotonic()) > 0:
            line = self.read_line(min(remaining, 1.0))
            if line is not None and text in line:
                return line
            if line is None and self.stop is not None:
                break
        why = f"the run ended ({self.stop.describe()})" if self.stop else f"{timeout_s:g} s passed"
        raise TargetError(f"no console line containing {text!r}: {why}; last line: {self._last_line()!r}")

    def finish(self, timeout_s: float) -> RunOutcome:
        """Read until the sketch's `done` line (or a stop), then let the target report how the run ended."""
        deadline = time.monotonic() + timeout_s
        while self.stop is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.stop = StopInfo(StopReason.TIMEOUT, fault=f"no '@armlprof event=done' within {timeout_s:g} s")
                break
            line = self.read_line(min(remaining, 1.0))
            if line is not None:
                record = parse_line(line)
                if record is not None and record.event == "done":
                    self._after_done(deadline)
                    break
                if record is not None and record.event == "fault":
                    self._after_fault(record)
                    break
        assert self.stop is not None
        return RunOutcome(list(self.lines), self.stop)

    def _after_done(self, deadline: float) -> None:
        """Targets that see the firmware stop (emulator) wait for it here; others consider `done` the end."""
        if self.stop is None:
            self.stop = StopInfo(StopReason.DONE)

    def _after_fault(self, record: Record) -> None:
        fields = " ".join(f"{k}={v}" for k, v in record.fields.items())
        self.stop = StopInfo(StopReason.FAULT, fault=f"firmware fault handler: {fields}")

    def _last_line(self) -> str:
        return self.lines[-1] if self.lines else ""


class Target(ABC):
    name: str = ""
    # Deterministic targets give identical timings every run: fewer runs suffice.
    deterministic: bool = False

    def unavailable_reason(self, board: Board | None = None) -> str | None:
        """None when usable here; otherwise one line saying what is missing and how to get it."""
        return None

    def prepare(self, image: Image) -> Image:
        """Make `image` runnable (a real board: compile/upload). The default needs nothing."""
        if image.elf is None:
            raise TargetError(f"target {self.name} needs an ELF built by armlprof; build the sketch first")
        return image

    @abstractmethod
    def start(self, image: Image) -> Session:
        """Boot `image` from reset and return the session talking to its console."""

    def run(self, image: Image, host_line: str | None, *, timeout_s: float = 600.0,
            max_cycles: int | None = None, ready_timeout_s: float = 30.0, timing: bool = True) -> RunOutcome:
        """One boot: wait for the ready line, send `host_line`, read until done or stop. `timing=False` says only
        pass/fail matters (RAM trials), so a target may skip its timing model; a real board ignores it."""
        session = self.start(image)
        try:
            if host_line is not None:
                session.wait_for("ready", ready_timeout_s)
                session.write_line(host_line)
            return session.finish(timeout_s)
        except TargetError as exc:
            stop = session.stop or StopInfo(StopReason.TIMEOUT, fault=str(exc))
            return RunOutcome(list(session.lines), stop)
        finally:
            session.close()

    def close(self) -> None:  # noqa: B027 - optional hook, most targets hold nothing
        """Release what the target holds (processes, ports)."""


def get_target(name: str, **options) -> Target:
    spec = _TARGETS.get(name)
    if spec is None:
        raise ArmlprofError(f"unknown target '{name}'; known targets: {', '.join(_TARGETS)}")
    module_name, class_name = spec.split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(**options)
