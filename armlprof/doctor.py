"""`armlprof doctor`: one line per external piece: found or not, version, what it enables, how to get it.

`required` pieces are those the main job (profiling a .tflite model on the built-in emulator) cannot do without;
`armlprof doctor` exits non-zero when one is missing."""

from __future__ import annotations

import importlib
import importlib.metadata
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from armlprof.errors import ArmlprofError


@dataclass
class Check:
    name: str
    found: bool
    detail: str  # version or location when found; how to get it otherwise
    enables: str
    required: bool = False  # the main job (profile a .tflite on the emulator) cannot run without it

    def line(self) -> str:
        mark = "ok     " if self.found else "missing"
        return f"[{mark}] {self.name:<18} {self.detail} — {self.enables}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _toolchain() -> Check:
    from armlprof.toolchain import find_toolchain

    enables = "building sketches for the emulator, Renode and `armlprof build`"
    try:
        tc = find_toolchain()
        return Check("ARM toolchain", True, f"arm-none-eabi-gcc {tc.version} in {tc.bin_dir}", enables, True)
    except ArmlprofError as exc:
        return Check("ARM toolchain", False, str(exc), enables, True)


def _python_package(name: str, dist: str, enables: str, how: str, required: bool = False) -> Callable[[], Check]:
    def check() -> Check:
        try:
            importlib.import_module(name)
            return Check(dist, True, importlib.metadata.version(dist), enables, required)
        except Exception as exc:  # noqa: BLE001 - any import failure means "not usable"
            return Check(dist, False, f"{how} ({type(exc).__name__})", enables, required)

    return check


def _executable(name: str, version_args: list[str], enables: str, how: str) -> Callable[[], Check]:
    def check() -> Check:
        path = shutil.which(name)
        if not path:
            return Check(name, False, how, enables)
        proc = subprocess.run([path, *version_args], capture_output=True, text=True, timeout=30, check=False)
        first = (proc.stdout or proc.stderr).strip().splitlines()
        return Check(name, True, f"{first[0] if first else 'unknown version'} ({path})", enables)

    return check


def _tflm_tree() -> Check:
    enables = "the `tflm` runtime"
    try:
        from armlprof.runtime.tflm import tree as tflm
    except ImportError:
        return Check("TFLM source tree", False, "armlprof's TFLM support is not installed", enables)
    try:
        tree = tflm.find_tree()
    except ArmlprofError as exc:  # $ARMLPROF_TFLM_ROOT points at something that is not a tree
        return Check("TFLM source tree", False, str(exc), enables)
    if tree is None:
        return Check("TFLM source tree", False, tflm.NOT_FOUND_HINT, enables)
    # Found but unbuildable (a checkout without its downloads) is not "ok": the line says what is missing.
    return Check("TFLM source tree", not tree.missing_third_party, tflm.describe_tree(tree), enables)


# USB vendor:product IDs of the study's boards (as `arduino-cli board list` matches them).
KNOWN_USB_IDS: dict[tuple[int, int], str] = {
    (0x2341, 0x805A): "nano33ble",  # Arduino Nano 33 BLE, sketch running
    (0x2341, 0x005A): "nano33ble (bootloader)",  # after the 1200-baud touch
    (0x10C4, 0xEA60): "spresense",  # the Spresense main board's CP2102N USB-UART bridge
}


@dataclass
class UsbPort:
    device: str
    vid: int
    pid: int
    description: str
    board: str | None  # a known board's name, else None (another USB-serial device)

    def text(self) -> str:
        what = self.board or (self.description if self.description and self.description != "n/a" else "unknown")
        return f"{self.device} ({what}, USB {self.vid:04x}:{self.pid:04x})"


def usb_serial_ports(comports: Any = None) -> list[UsbPort]:
    """Serial ports backed by a USB device (a board), known boards first; on-board UARTs such as /dev/ttyS0 have
    no USB IDs and are left out."""
    if comports is None:
        from serial.tools import list_ports

        comports = list_ports.comports()
    ports = [UsbPort(p.device, p.vid, p.pid, p.description or "", KNOWN_USB_IDS.get((p.vid, p.pid)))
             for p in comports if p.vid is not None and p.pid is not None]
    return sorted(ports, key=lambda p: (p.board is None, p.device))


def _serial_ports() -> Check:
    ports = usb_serial_ports()
    enables = "the `serial` target (real boards)"
    if not ports:
        return Check("serial ports", False, "no USB serial device found; connect a board over USB", enables)
    return Check("serial ports", True, ", ".join(p.text() for p in ports), enables)


CHECKS: list[Callable[[], Check]] = [
    _toolchain,
    _python_package("tvm", "apache-tvm", "the `tvm-aot` and `tvm-graph` runtimes", "pip install apache-tvm"),
    _python_package("tflite_micro", "tflite-micro", "bit-exact reference outputs for .tflite models",
                    "pip install tflite-micro", required=True),
    _python_package("unicorn", "unicorn", "the built-in emulator (the default target)", "pip install unicorn",
                    required=True),
    _executable("renode", ["--version"], "the `renode` target",
                "install Renode (a release package or portable build from renode.io, or the renode-run tool)"),
    _executable("arduino-cli", ["version"], "the `serial` target: builds and uploads with the official cores",
                "install arduino-cli (arduino.github.io/arduino-cli) and the cores arduino:mbed_nano, "
                "SPRESENSE:spresense"),
    _tflm_tree,
    _serial_ports,
]


def run_checks() -> list[Check]:
    return [check() for check in CHECKS]
