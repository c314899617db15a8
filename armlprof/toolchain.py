"""The ARM GNU toolchain: where it is, its version, and the one-line fix when it is missing."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from armlprof.errors import ArmlprofError

PREFIX = "arm-none-eabi-"
INSTALL_HINT = (
    "install it: sudo apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib "
    "(or set ARMLPROF_TOOLCHAIN_DIR to its bin/ folder)"
)


@dataclass(frozen=True)
class Toolchain:
    """A GNU toolchain: the ARM cross compiler for boards, or the host's gcc (prefix "") for host builds."""

    bin_dir: Path
    version: str  # also the object cache's compiler identity: the host one says "(host)"
    prefix: str = PREFIX

    def tool(self, name: str) -> str:
        return str(self.bin_dir / f"{self.prefix}{name}")

    @property
    def name(self) -> str:
        """For messages and cache keys, e.g. "arm-none-eabi-gcc 12.2.1"."""
        return f"{self.prefix}gcc {self.version}"

    @property
    def gcc(self) -> str:
        return self.tool("gcc")

    @property
    def gxx(self) -> str:
        return self.tool("g++")

    @property
    def size(self) -> str:
        return self.tool("size")


def _locate_gcc() -> Path | None:
    explicit = os.environ.get("ARMLPROF_TOOLCHAIN_DIR")
    if explicit:
        candidate = Path(explicit) / f"{PREFIX}gcc"
        return candidate if candidate.is_file() else None
    found = shutil.which(f"{PREFIX}gcc")
    return Path(found) if found else None


@cache
def find_toolchain() -> Toolchain:
    """The toolchain, or ArmlprofError with the install command."""
    gcc = _locate_gcc()
    if gcc is None:
        raise ArmlprofError(f"ARM toolchain not found (arm-none-eabi-gcc); {INSTALL_HINT}")
    bin_dir = gcc.resolve().parent
    if not (bin_dir / f"{PREFIX}g++").is_file():
        raise ArmlprofError(f"arm-none-eabi-g++ missing beside {gcc}; {INSTALL_HINT}")
    out = subprocess.run([str(gcc), "-dumpfullversion"], capture_output=True, text=True, check=False)
    version = out.stdout.strip() or "unknown"
    # newlib and libstdc++ are separate packages: a compiler without them cannot link a sketch.
    probe = subprocess.run(
        [str(gcc), "-mcpu=cortex-m4", "-mthumb", "--specs=nano.specs", "-print-file-name=libc_nano.a"],
        capture_output=True, text=True, check=False,
    )
    if not Path(probe.stdout.strip()).is_file():
        raise ArmlprofError(f"arm-none-eabi-gcc found but newlib-nano is missing; {INSTALL_HINT}")
    return Toolchain(bin_dir, version)


@cache
def host_toolchain() -> Toolchain:
    """The host's gcc/g++/ar (host builds of TFLM for checks), or ArmlprofError with the install command."""
    found = {tool: shutil.which(tool) for tool in ("gcc", "g++", "ar")}
    if not all(found.values()):
        raise ArmlprofError("host C/C++ compiler not found; install it: sudo apt-get install g++")
    gxx = Path(found["g++"])
    out = subprocess.run([str(gxx), "-dumpfullversion"], capture_output=True, text=True, check=False)
    return Toolchain(gxx.parent, f"{out.stdout.strip() or 'unknown'} (host)", prefix="")
