"""`armlprof doctor`: one line per external piece: found or not, version, what it enables, how to get it."""

from __future__ import annotations

import importlib
import importlib.metadata
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass

from armlprof.errors import ArmlprofError


@dataclass
class Check:
    name: str
    found: bool
    detail: str  # version or location when found; how to get it otherwise
    enables: str

    def line(self) -> str:
        mark = "ok     " if self.found else "missing"
        return f"[{mark}] {self.name:<18} {self.detail} — {self.enables}"


def _toolchain() -> Check:
    from armlprof.toolchain import find_toolchain

    enables = "building sketches for the emulator, Renode and `armlprof build`"
    try:
        tc = find_toolchain()
        return Check("ARM toolchain", True, f"arm-none-eabi-gcc {tc.version} in {tc.bin_dir}", enables)
    except ArmlprofError as exc:
        return Check("ARM toolchain", False, str(exc), enables)


def _python_package(name: str, dist: str, enables: str, how: str) -> Callable[[], Check]:
    def check() -> Check:
        try:
            importlib.import_module(name)
            return Check(dist, True, importlib.metadata.version(dist), enables)
        except Exception as exc:  # noqa: BLE001 - any import failure means "not usable"
            return Check(dist, False, f"{how} ({type(exc).__name__})", enables)

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


def _serial_ports() -> Check:
    from serial.tools import list_ports

    ports = [p.device + (f" ({p.description})" if p.description and p.description != "n/a" else "")
             for p in list_ports.comports()]
    enables = "the `serial` target (real boards)"
    if not ports:
        return Check("serial ports", False, "none found; connect a board over USB", enables)
    return Check("serial ports", True, ", ".join(ports), enables)


CHECKS: list[Callable[[], Check]] = [
    _toolchain,
    _python_package("tvm", "apache-tvm", "the `tvm-aot` and `tvm-graph` runtimes", "pip install apache-tvm"),
    _python_package("tflite_micro", "tflite-micro", "bit-exact reference outputs for .tflite models",
                    "pip install tflite-micro"),
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
