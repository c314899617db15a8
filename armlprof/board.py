"""Boards are data: a folder with a Renode .repl, a .resc, a linker script, startup code and board.toml.
Memory, CPU, clock and console are read from the .repl (the file Renode loads); board.toml only adds what a
platform description cannot say (image placement, build flags, timing).

Board folders are found in the board roots: each folder of `$ARMLPROF_BOARDS` (os.pathsep-separated, like
twister's board roots), then armlprof's own `platforms/` (package data). A root holds one sub-folder per board,
named as the board. board.toml is checked against BOARD_SCHEMA when it is loaded; a missing or mistyped key is
one line naming the file, the key and the fix. `Board` properties are the only way the rest of armlprof reads it.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from armlprof.errors import ArmlprofError, BoardError

# armlprof's own boards (package data; a plain folder in a wheel or editable install).
PLATFORMS_DIR = Path(str(files("armlprof") / "platforms"))
BOARDS_ENV = "ARMLPROF_BOARDS"


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


# ---------------------------------------------------------------- board.toml schema
@dataclass(frozen=True)
class Key:
    """One board.toml key: its type, whether it must be given, its default and what it means (for the fix)."""

    type: type | tuple[type, ...]
    required: bool = True
    default: Any = None
    help: str = ""
    minimum: int | None = None


_INT = (int,)
_NUMBER = (int, float)

BOARD_SCHEMA: dict[str, Any] = {
    "title": Key(str, False, None, "the board's display name"),
    "mcu": Key(str, False, "?", "the microcontroller, e.g. \"nRF52840\""),
    "fqbn": Key(str, True, None, "the official core's board name (FQBN), e.g. \"arduino:mbed_nano:nano33ble\""),
    "repl": Key(str, True, None, "the Renode platform description file in the board folder"),
    "resc": Key(str, True, None, "the Renode script file in the board folder"),
    "linker_script": Key(str, True, None, "the linker script file in the board folder"),
    "startup": Key(str, True, None, "the startup C file in the board folder"),
    "cpu": Key(str, False, "cpu", "the .repl peripheral name of the CPU"),
    "console": Key(str, True, None, "the .repl peripheral name of the console UART, e.g. \"uart0\""),
    "console_driver": Key(str, True, None, "armlprof/core/console_<driver>.c, e.g. \"pl011\""),
    "console_baud": Key(_INT, False, 115200, "the console baud rate", 1),
    "image": {
        "region": Key(str, True, None, "the .repl memory the image is linked into, e.g. \"flash\""),
        "offset": Key(_INT, False, 0, "bytes from the region's start to the image (a bootloader's share)", 0),
        "in_ram": Key(bool, False, False, "true when the image is loaded into RAM (its size counts .bss)"),
    },
    "ram": {
        "region": Key(str, True, None, "the .repl memory the sketch's RAM is in, e.g. \"ram\""),
        "offset": Key(_INT, False, 0, "bytes reserved at the region's start", 0),
        "stack_bytes": Key(_INT, True, None, "the main stack reserve in bytes, e.g. 0x8000", 1),
    },
    "build": {
        "flags": Key(list, True, None, "the CPU flags, e.g. [\"-mcpu=cortex-m4\", \"-mthumb\"]"),
        "optimization": Key(str, False, "-Os", "the official core's optimization flag"),
        "defines": Key(list, False, [], "preprocessor defines, e.g. [\"ARDUINO_ARCH_NRF52840\"]"),
    },
    # [options.memory_kib] (optional section): a board memory option in KiB (e.g. the Spresense main-core share)
    "options": {
        "memory_kib": {
            "default": Key(_INT, True, None, "the default in KiB", 1),
            "min": Key(_INT, True, None, "the smallest choice in KiB", 1),
            "max": Key(_INT, True, None, "the largest choice in KiB", 1),
            "step": Key(_INT, True, None, "the step between choices in KiB", 1),
        },
    },
}
OPTIONAL_SECTIONS = {"options", "options.memory_kib", "timing"}

# [timing] and its sub-tables are open: any numeric key is accepted (the cycle model grows new parameters);
# the known ones are checked here. [timing.regions.<name>] must name a .repl memory.
TIMING_KEYS: dict[str, Key] = {
    "branch_refill_cycles": Key(_INT, False, None, "pipeline refill after a direct branch, cycles", 0),
    "indirect_refill_cycles": Key(_INT, False, None, "pipeline refill after an indirect branch, cycles", 0),
}
REGION_TIMING_KEYS: dict[str, Key] = {
    "fetch_wait_states": Key(_INT, False, None, "wait states per instruction fetch", 0),
    "fetch_wait_states_uncached": Key(_INT, False, None, "fetch wait states with the cache off", 0),
    "cache_enable_register": Key(_INT, False, None, "the address of the cache enable register", 0),
    "load_wait_states": Key(_INT, False, None, "wait states per data load", 0),
    "store_wait_states": Key(_INT, False, None, "wait states per data store", 0),
}


def _type_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false", list: "a list"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _check_value(path: Path, dotted: str, value: Any, key: Key) -> None:
    kinds = key.type if isinstance(key.type, tuple) else (key.type,)
    # TOML booleans are Python ints: only a bool key takes true/false.
    ok = isinstance(value, kinds) and (bool in kinds or not isinstance(value, bool))
    if ok and list in kinds:
        ok = all(isinstance(v, str) for v in value)
    if not ok:
        shown = str(value).lower() if isinstance(value, bool) else repr(value)
        raise BoardError(f"{path}: {dotted} = {shown} is not {_type_name(key.type)}"
                         f"{' of strings' if list in kinds else ''}; give {key.help}")
    if key.minimum is not None and value < key.minimum:
        raise BoardError(f"{path}: {dotted} = {value} is below {key.minimum}; give {key.help}")


def _check_section(path: Path, prefix: str, data: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """`data` checked against `schema` (Keys and sub-sections), defaults filled in; unknown keys are errors."""
    out: dict[str, Any] = {}
    unknown = [name for name in data if name not in schema]
    if unknown:
        where = f" in [{prefix[:-1]}]" if prefix else ""
        raise BoardError(f"{path}: unknown key {prefix}{unknown[0]}; known keys{where}: {', '.join(schema)} "
                         "(check the spelling)")
    for name, spec in schema.items():
        dotted = f"{prefix}{name}"
        if isinstance(spec, Key):
            if name in data:
                _check_value(path, dotted, data[name], spec)
                out[name] = data[name]
            elif spec.required:
                raise BoardError(f"{path}: missing key {dotted}; add it: {spec.help}")
            else:
                out[name] = spec.default
            continue
        if name not in data:
            if dotted in OPTIONAL_SECTIONS:
                continue
            raise BoardError(f"{path}: missing section [{dotted}]; add it (see armlprof/platforms/*/board.toml)")
        if not isinstance(data[name], dict):
            raise BoardError(f"{path}: {dotted} must be a section [{dotted}], not a value")
        out[name] = _check_section(path, dotted + ".", data[name], spec)
    return out


def _check_timing(path: Path, dotted: str, data: Any, known: Mapping[str, Key]) -> None:
    """Every leaf of [timing] is a number (known keys: their own checks); sub-tables recurse."""
    if not isinstance(data, dict):
        raise BoardError(f"{path}: {dotted} must be a section [{dotted}], not a value")
    for name, value in data.items():
        key = f"{dotted}.{name}"
        if isinstance(value, dict):
            _check_timing(path, key, value, REGION_TIMING_KEYS if dotted.endswith(".regions") else {})
        elif name in known:
            _check_value(path, key, value, known[name])
        elif isinstance(value, bool) or not isinstance(value, _NUMBER):
            raise BoardError(f"{path}: {key} = {value!r} is not a number; timing parameters are numbers "
                             "(cycles, wait states, addresses)")


def validate_board_toml(path: Path, meta: Mapping[str, Any]) -> dict[str, Any]:
    """board.toml's content checked against BOARD_SCHEMA, with defaults filled in (BoardError on the first
    problem). The .repl-dependent checks (regions, console) are in `_check_against_repl`."""
    meta = dict(meta)
    timing = meta.pop("timing", {})
    checked = _check_section(path, "", meta, BOARD_SCHEMA)
    _check_timing(path, "timing", timing, TIMING_KEYS)
    checked["timing"] = timing
    opt = checked.get("options", {}).get("memory_kib")
    if opt is not None and not (opt["min"] <= opt["default"] <= opt["max"]):
        raise BoardError(f"{path}: options.memory_kib.default {opt['default']} is outside min..max "
                         f"({opt['min']}..{opt['max']}); fix the default")
    for key in ("repl", "resc", "linker_script", "startup"):
        if not (path.parent / checked[key]).is_file():
            raise BoardError(f"{path}: {key} = {checked[key]!r}: no such file in {path.parent}; add the file "
                             "or fix the name")
    return checked


def _check_against_repl(path: Path, meta: Mapping[str, Any], peripherals: Mapping[str, ReplPeripheral]) -> None:
    memories = [n for n, p in peripherals.items() if p.type == "Memory.MappedMemory"]
    for key in ("image.region", "ram.region"):
        section, name = key.split(".")
        if meta[section][name] not in memories:
            raise BoardError(f"{path}: {key} = {meta[section][name]!r} is no Memory.MappedMemory in {meta['repl']}; "
                             f"use one of: {', '.join(memories) or 'none (add one to the .repl)'}")
    for region in meta["timing"].get("regions", {}):
        if region not in memories:
            raise BoardError(f"{path}: [timing.regions.{region}] names no memory of {meta['repl']}; "
                             f"use one of: {', '.join(memories)}")
    for key in ("cpu", "console"):
        if meta[key] not in peripherals:
            raise BoardError(f"{path}: {key} = {meta[key]!r} is no peripheral of {meta['repl']}; "
                             f"use one of: {', '.join(peripherals)}")


@dataclass(frozen=True)
class MemoryOption:
    """A board memory choice in KiB (`--memory-kib`), e.g. the Spresense main core's share of SRAM."""

    default: int
    min: int
    max: int
    step: int

    def allows(self, memory_kib: int) -> bool:
        return self.min <= memory_kib <= self.max and (memory_kib - self.min) % self.step == 0


@dataclass(frozen=True)
class Board:
    name: str
    folder: Path
    meta: dict[str, Any] = field(hash=False, compare=False)  # validated board.toml: read it through properties
    peripherals: dict[str, ReplPeripheral] = field(hash=False, compare=False)
    memory_kib: int | None = None  # board memory option (e.g. Spresense main-core share), None = default

    # ---- identity and files
    @property
    def title(self) -> str:
        return self.meta["title"] or self.name

    @property
    def mcu(self) -> str:
        return self.meta["mcu"]

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
        return self.peripherals[self.meta["cpu"]]

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
    def console_name(self) -> str:
        """The .repl peripheral name of the console UART (e.g. uart0)."""
        return self.meta["console"]

    @property
    def console(self) -> ReplPeripheral:
        return self.peripherals[self.console_name]

    @property
    def console_driver(self) -> str:
        return self.meta["console_driver"]

    @property
    def console_baud(self) -> int:
        return int(self.meta["console_baud"])

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
    def image_region(self) -> str:
        """The .repl memory the image is linked into."""
        return self.meta["image"]["region"]

    @property
    def ram_region(self) -> str:
        """The .repl memory the sketch's RAM (data, heap, stack) is in."""
        return self.meta["ram"]["region"]

    @property
    def image_in_ram(self) -> bool:
        return bool(self.meta["image"]["in_ram"])

    @property
    def image_origin(self) -> int:
        return self.region(self.image_region).base + int(self.meta["image"]["offset"])

    @property
    def ram_origin(self) -> int:
        return self.region(self.ram_region).base + int(self.meta["ram"]["offset"])

    @property
    def ram_bytes(self) -> int:
        """RAM available to the sketch (image too, when it runs from RAM), after reserved bytes and options."""
        region = self.region(self.ram_region)
        size = region.size
        if self.memory_kib is not None:
            size = self.memory_kib * 1024
        return size - int(self.meta["ram"]["offset"])

    @property
    def image_capacity_bytes(self) -> int:
        """The largest image the board can hold: flash after the bootloader, or the RAM share it loads into."""
        if self.image_in_ram:
            return self.ram_bytes
        region = self.region(self.image_region)
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
        return self.meta["build"]["optimization"]

    @property
    def defines(self) -> list[str]:
        return list(self.meta["build"]["defines"])

    @property
    def timing(self) -> dict[str, Any]:
        """board.toml's [timing] section (open: any numeric key; armlprof.emulator.timing reads it), with the active
        calibration file (armlprof calibrate) applied."""
        from armlprof.calibration import calibrated_timing  # board data + the active calibration file, if any

        return calibrated_timing(self.name, self.nominal_timing)

    @property
    def nominal_timing(self) -> dict[str, Any]:
        """board.toml's [timing] section as written, without any calibration file."""
        return self.meta.get("timing", {})

    def with_nominal_timing(self, timing: dict[str, Any]) -> Board:
        """This board with another [timing] section (calibration trials, perturbed-parameter tests)."""
        return dataclasses.replace(self, meta={**self.meta, "timing": timing})

    @property
    def memory_option(self) -> MemoryOption | None:
        opt = self.meta.get("options", {}).get("memory_kib")
        return None if opt is None else MemoryOption(**opt)

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
        opt = self.memory_option
        if opt is None:
            raise ArmlprofError(f"board {self.name} has no memory option; remove --memory-kib")
        if not opt.allows(memory_kib):
            raise ArmlprofError(f"board {self.name}: memory option {memory_kib} KiB not allowed; "
                                f"use {opt.min}..{opt.max} in steps of {opt.step}")
        return Board(self.name, self.folder, self.meta, self.peripherals, memory_kib)


def board_roots() -> list[Path]:
    """Where boards are looked up, in order: each folder of $ARMLPROF_BOARDS, then armlprof's own platforms/."""
    roots: list[Path] = []
    for entry in os.environ.get(BOARDS_ENV, "").split(os.pathsep):
        if not entry.strip():
            continue
        root = Path(entry).expanduser()
        if not root.is_dir():
            raise BoardError(f"${BOARDS_ENV} entry {entry!r} is not a folder; set ${BOARDS_ENV} to folders that "
                             "hold one <board>/board.toml folder per board")
        roots.append(root)
    return [*roots, PLATFORMS_DIR]


def _board_folders() -> dict[str, Path]:
    """Board name -> folder; a user root's board of the same name comes first (it shadows a built-in one)."""
    found: dict[str, Path] = {}
    for root in board_roots():
        for meta in sorted(root.glob("*/board.toml")):
            found.setdefault(meta.parent.name, meta.parent)
    return found


def board_names() -> list[str]:
    return sorted(_board_folders())


@cache
def _load(folder: Path) -> Board:
    meta_path = folder / "board.toml"
    try:
        raw = tomllib.loads(meta_path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise BoardError(f"{meta_path}: not valid TOML ({exc}); fix the file") from None
    meta = validate_board_toml(meta_path, raw)
    peripherals = parse_repl((folder / meta["repl"]).read_text())
    _check_against_repl(meta_path, meta, peripherals)
    opt = meta.get("options", {}).get("memory_kib")
    return Board(folder.name, folder, meta, peripherals, None if opt is None else int(opt["default"]))


def load_board(name: str, memory_kib: int | None = None) -> Board:
    """The board of that name from the board roots, with an optional memory option applied."""
    folder = _board_folders().get(name)
    if folder is None:
        known = ", ".join(board_names()) or "none"
        raise BoardError(f"unknown board '{name}'; known boards: {known}")
    return _load(folder.resolve()).with_memory_kib(memory_kib)
