"""Boards are data: a folder under platforms/ with a Renode .repl, a .resc, a linker script, startup code
and board.toml. Memory, CPU, clock and console are read from the .repl (the file Renode loads);
board.toml only adds what a platform description cannot say (image placement, build flags, timing)."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from armlprof.errors import ArmlprofError

PLATFORMS_DIR = Path(__file__).resolve().parent / "platforms"


@dataclass(frozen=True)
class ReplPeripheral:
    """One entry of a Renode platform description: `name: Type @ sysbus ADDR` plus its attributes."""

    name: str
    type: str
    addresses: tuple[int, ...]  # every sysbus registration (a memory may be aliased)
    attrs: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def address(self) -> int:
        return self.addresses[0]


_HEADER = re.compile(r"^(?P<name>[A-Za-z_][\w]*)\s*:\s*(?P<type>[\w.]+)?\s*(?:@\s*(?P<where>.+))?$")
_ATTR = re.compile(r"^(?P<key>[A-Za-z_]\w*)\s*:\s*(?P<value>.+)$")


def _parse_value(text: str) -> Any:
    text = text.strip()
    if text.startswith('"') and text.endswith('"'):
        return text[1:-1]
    if text in ("true", "false"):
        return text == "true"
    try:
        return int(text, 0)
    except ValueError:
        return text


def _parse_registrations(where: str) -> tuple[int, ...]:
    # "sysbus 0x20000000" or "{ sysbus 0x800000; sysbus 0x20000000 }" or "sysbus" (no address)
    return tuple(int(m, 0) for m in re.findall(r"sysbus\s+(0x[0-9A-Fa-f]+|\d+)", where))


def parse_repl(text: str) -> dict[str, ReplPeripheral]:
    """Parse the subset of Renode's .repl format armlprof boards use (renode-docs platform_description_format)."""
    peripherals: dict[str, ReplPeripheral] = {}
    current: ReplPeripheral | None = None
    for raw in text.splitlines():
        line = raw.split("//", 1)[0].rstrip()
        if not line.strip():
            continue
        if not line[0].isspace():
            m = _HEADER.match(line.strip())
            if not m or not m.group("type"):
                current = None  # e.g. "sysbus:" init blocks, "using" lines
                continue
            current = ReplPeripheral(m["name"], m["type"], _parse_registrations(m["where"] or ""), {})
            peripherals[current.name] = current
            continue
        if current is None:
            continue
        stripped = line.strip()
        if stripped.startswith("->"):
            current.attrs.setdefault("irq", stripped[2:].strip())
            continue
        m = _ATTR.match(stripped)
        if m:
            current.attrs[m["key"]] = _parse_value(m["value"])
    return peripherals


@dataclass(frozen=True)
class MemoryRegion:
    name: str
    base: int
    size: int
    aliases: tuple[int, ...] = ()

    @property
    def end(self) -> int:
        return self.base + self.size


@dataclass(frozen=True)
class Board:
    name: str
    folder: Path
    meta: dict[str, Any] = field(hash=False, compare=False)
    peripherals: dict[str, ReplPeripheral] = field(hash=False, compare=False)
    memory_kib: int | None = None  # board memory option (e.g. Spresense main-core share), None = default

    # ---- identity and files
    @property
    def title(self) -> str:
        return self.meta.get("title", self.name)

    @property
    def fqbn(self) -> str:
        return self.meta["fqbn"]

    @property
    def repl_path(self) -> Path:
        return self.folder / self.meta["repl"]

    @property
    def resc_path(self) -> Path:
        return self.folder / self.meta["resc"]

    @property
    def linker_script(self) -> Path:
        return self.folder / self.meta["linker_script"]

    @property
    def startup_source(self) -> Path:
        return self.folder / self.meta["startup"]

    # ---- CPU and clock, from the .repl
    @property
    def cpu(self) -> ReplPeripheral:
        return self.peripherals[self.meta.get("cpu", "cpu")]

    @property
    def cpu_type(self) -> str:
        return self.cpu.attrs.get("cpuType", "cortex-m4")

    @property
    def clock_hz(self) -> int:
        """The core clock: the DWT's `frequency` (what CYCCNT counts), else PerformanceInMips in MHz."""
        for p in self.peripherals.values():
            if p.type == "Miscellaneous.DWT" and "frequency" in p.attrs:
                return int(p.attrs["frequency"])
        mips = self.cpu.attrs.get("PerformanceInMips")
        if mips is None:
            raise ArmlprofError(f"board {self.name}: {self.repl_path} declares no DWT frequency or PerformanceInMips")
        return int(mips) * 1_000_000

    # ---- console
    @property
    def console(self) -> ReplPeripheral:
        return self.peripherals[self.meta["console"]]

    @property
    def console_driver(self) -> str:
        return self.meta["console_driver"]

    @property
    def console_baud(self) -> int:
        return int(self.meta.get("console_baud", 115200))

    # ---- memory
    def region(self, name: str) -> MemoryRegion:
        p = self.peripherals.get(name)
        if p is None or p.type != "Memory.MappedMemory":
            raise ArmlprofError(f"board {self.name}: no memory named '{name}' in {self.repl_path.name}")
        addrs = p.addresses
        # The canonical address is the highest alias (0x20000000 rather than the 0x800000 code alias).
        base = max(addrs)
        return MemoryRegion(name, base, int(p.attrs["size"]), tuple(a for a in addrs if a != base))

    @property
    def memories(self) -> list[MemoryRegion]:
        return [self.region(n) for n, p in self.peripherals.items() if p.type == "Memory.MappedMemory"]

    @property
    def image_in_ram(self) -> bool:
        return bool(self.meta["image"].get("in_ram", False))

    @property
    def image_origin(self) -> int:
        return self.region(self.meta["image"]["region"]).base + int(self.meta["image"].get("offset", 0))

    @property
    def ram_origin(self) -> int:
        return self.region(self.meta["ram"]["region"]).base + int(self.meta["ram"].get("offset", 0))

    @property
    def ram_bytes(self) -> int:
        """RAM available to the sketch (image too, when it runs from RAM), after reserved bytes and options."""
        region = self.region(self.meta["ram"]["region"])
        size = region.size
        if self.memory_kib is not None:
            size = self.memory_kib * 1024
        return size - int(self.meta["ram"].get("offset", 0))

    @property
    def image_capacity_bytes(self) -> int:
        """The largest image the board can hold: flash after the bootloader, or the RAM share it loads into."""
        if self.image_in_ram:
            return self.ram_bytes
        region = self.region(self.meta["image"]["region"])
        return region.end - self.image_origin

    @property
    def stack_bytes(self) -> int:
        return int(self.meta["ram"]["stack_bytes"])

    # ---- build
    @property
    def cpu_flags(self) -> list[str]:
        return list(self.meta["build"]["flags"])

    @property
    def optimization(self) -> str:
        return self.meta["build"].get("optimization", "-Os")

    @property
    def defines(self) -> list[str]:
        return list(self.meta["build"].get("defines", []))

    @property
    def timing(self) -> dict[str, Any]:
        from armlprof.calibration import calibrated_timing  # board data + the active calibration file, if any

        return calibrated_timing(self.name, self.meta.get("timing", {}))

    def memory_ld(self) -> str:
        """The MEMORY block the board's linker script INCLUDEs, derived from the .repl and options."""
        ram_end = self.ram_origin + self.ram_bytes
        lines = ["/* Generated by armlprof from the board's .repl and board.toml. */", "MEMORY", "{"]
        if not self.image_in_ram:
            lines.append(f"  FLASH (rx) : ORIGIN = {self.image_origin:#x}, LENGTH = {self.image_capacity_bytes:#x}")
        lines.append(f"  RAM (rwx) : ORIGIN = {self.ram_origin:#x}, LENGTH = {self.ram_bytes:#x}")
        lines.append("}")
        lines.append(f"__stack_reserve_bytes = {self.stack_bytes:#x};")
        lines.append(f"__ram_end = {ram_end:#x};")
        return "\n".join(lines) + "\n"

    def with_memory_kib(self, memory_kib: int | None) -> Board:
        if memory_kib is None:
            return self
        opt = self.meta.get("options", {}).get("memory_kib")
        if opt is None:
            raise ArmlprofError(f"board {self.name} has no memory option; remove --memory-kib")
        lo, hi, step = opt["min"], opt["max"], opt["step"]
        if not (lo <= memory_kib <= hi and (memory_kib - lo) % step == 0):
            raise ArmlprofError(
                f"board {self.name}: memory option {memory_kib} KiB not allowed; use {lo}..{hi} in steps of {step}"
            )
        return Board(self.name, self.folder, self.meta, self.peripherals, memory_kib)


def board_names() -> list[str]:
    return sorted(p.parent.name for p in PLATFORMS_DIR.glob("*/board.toml"))


@cache
def _load(name: str) -> Board:
    folder = PLATFORMS_DIR / name
    meta_path = folder / "board.toml"
    if not meta_path.is_file():
        known = ", ".join(board_names()) or "none"
        raise ArmlprofError(f"unknown board '{name}'; known boards: {known}")
    meta = tomllib.loads(meta_path.read_text())
    peripherals = parse_repl((folder / meta["repl"]).read_text())
    board = Board(name, folder, meta, peripherals)
    opt = meta.get("options", {}).get("memory_kib")
    if opt is not None:
        board = Board(name, folder, meta, peripherals, int(opt["default"]))
    return board


def load_board(name: str, memory_kib: int | None = None) -> Board:
    """The board of that name under platforms/, with an optional memory option applied."""
    return _load(name).with_memory_kib(memory_kib)
