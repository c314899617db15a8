"""Building a TFLM tree once into a cached static library, `<cache>/tflm/<key>/libtflm.a`.

One library per (tree contents, compiler, flags, kernel choice), with the flags TFLM's own Makefile uses for
Cortex-M. Its sources go through armlprof's one compile pipeline (armlprof.build.compile_sources: the object
cache, depfiles, the compiler's full diagnostics), so an edited TFLM file recompiles only that file. Paths of the
tree are mapped away (`-ffile-prefix-map`), so `__FILE__` strings, and with them flash, do not depend on where the
tree lives.
"""

from __future__ import annotations

import hashlib
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from armlprof.cache import atomic_copy, cache_root, entry_lock
from armlprof.errors import ArmlprofError, raise_if_interrupted
from armlprof.runtime.tflm.tree import TflmTree
from armlprof.toolchain import Toolchain, find_toolchain, host_toolchain

# Defines TFLM's Makefile passes for every microcontroller build (tensorflow/lite/micro/tools/make/Makefile);
# the generated model source must be compiled with the same ones (TF_LITE_STATIC_MEMORY changes TfLiteTensor).
TFLM_DEFINES = ["TF_LITE_STATIC_MEMORY", "TF_LITE_DISABLE_X86_NEON", "TF_LITE_MCU_DEBUG_LOG",
                "KERNELS_OPTIMIZED_FOR_SPEED"]
# ext_libs/cmsis_nn.inc: integer kernels only (newer CMSIS-NN's float files #error unless these are given).
CMSIS_NN_DEFINES = ["CMSIS_NN", "ARM_NN_ENABLE_F16=0", "ARM_NN_ENABLE_F32=0"]
# C++ flags of TFLM's Makefile (CXXFLAGS / CCFLAGS common part).
TFLM_CXX_FLAGS = ["-std=gnu++17", "-fno-rtti", "-fno-exceptions", "-fno-threadsafe-statics",
                  "-fno-use-cxa-atexit", "-fno-unwind-tables", "-fmessage-length=0"]
TFLM_C_FLAGS = ["-std=gnu11", "-fmessage-length=0"]
COMMON_FLAGS = ["-ffunction-sections", "-fdata-sections", "-w"]  # -w: TFLM's warnings are not ours to fix
TREE_PREFIX = "tflm"  # what the tree's path becomes in __FILE__ and debug info


@dataclass(frozen=True)
class Compiler:
    """A toolchain (armlprof.toolchain.Toolchain: ARM for boards, the host's gcc for host checks) with the
    CPU/ABI and optimization flags the library is built with."""

    toolchain: Toolchain
    flags: tuple[str, ...]  # board.cpu_flags + optimization, or just the optimization on the host

    @property
    def name(self) -> str:
        return self.toolchain.name

    @classmethod
    def for_board(cls, board, optimization: str | None = None) -> Compiler:
        return cls(find_toolchain(), (*board.cpu_flags, optimization or board.optimization))

    @classmethod
    def host(cls, optimization: str = "-O2") -> Compiler:
        return cls(host_toolchain(), (optimization,))


@dataclass
class TflmLibrary:
    path: Path  # libtflm.a
    key: str
    kernels: str
    include_dirs: list[Path]
    defines: list[str]
    prefix_map: str  # -ffile-prefix-map=<tree>=tflm
    compiled_objects: int  # objects compiled by this call (0 when the library came from the cache)
    cached: bool

    def build_flags(self) -> list[str]:
        """Flags the generated model source must be compiled with (same defines as the library, its headers, the
        same path mapping: TFLM's headers expand __FILE__ too)."""
        return [*(f"-D{d}" for d in self.defines), *(f"-I{d}" for d in self.include_dirs), self.prefix_map]


def library_defines(tree: TflmTree, kernels: str) -> list[str]:
    defines = [*TFLM_DEFINES, *(CMSIS_NN_DEFINES if kernels == "cmsis-nn" else [])]
    if tree.kind == "arduino-library":
        # The Arduino library's sources were rewritten to test ARDUINO where tflite-micro tests CMSIS_NN or
        # TF_LITE_STATIC_MEMORY (kernel_util, conv.h, ...): build it as the Arduino IDE does. Same value as
        # armlprof's sketch builds, so the sketch's own -DARDUINO is an identical (silent) redefinition.
        from armlprof.build import ARDUINO_VERSION

        defines.append(f"ARDUINO={ARDUINO_VERSION}")
    return defines


def build_library(tree: TflmTree, compiler: Compiler, kernels: str | None = None,
                  jobs: int | None = None) -> TflmLibrary:
    """libtflm.a for `tree` with `compiler` and `kernels`, from the cache when it is already built."""
    result, sources, base = _library_plan(tree, compiler, kernels)
    lib = result.path
    if lib.is_file():
        return result
    with entry_lock(lib):  # another process may be building the same library
        if lib.is_file():
            return result
        result.compiled_objects = _compile_and_archive(compiler, sources, base, lib, jobs)
        result.cached = False
    return result


def cached_library(tree: TflmTree, compiler: Compiler, kernels: str | None = None) -> TflmLibrary | None:
    """The library if the cache has it already (nothing is built)."""
    result, _, _ = _library_plan(tree, compiler, kernels)
    return result if result.path.is_file() else None


def _library_plan(tree: TflmTree, compiler: Compiler, kernels: str | None) -> tuple[TflmLibrary, list[Path],
                                                                                    list[str]]:
    """The library's cache entry (keyed by content, not by where the tree lives), its sources and base flags."""
    kernels = kernels or tree.default_kernels()
    sources = tree.library_sources(kernels)  # raises the one-line reasons a tree cannot build
    defines = library_defines(tree, kernels)
    includes = tree.include_dirs()
    prefix_map = f"-ffile-prefix-map={tree.source_root}={TREE_PREFIX}"
    base = [*compiler.flags, *COMMON_FLAGS, prefix_map, *(f"-D{d}" for d in defines), *(f"-I{d}" for d in includes)]
    relative = [f.replace(str(tree.source_root), "<tree>") for f in base]  # paths in the flags, relative to it
    key = hashlib.sha256("\0".join([
        "tflm-lib-v2", tree.content_hash(kernels), compiler.name, *relative, *TFLM_CXX_FLAGS, *TFLM_C_FLAGS,
    ]).encode()).hexdigest()[:24]
    lib = cache_root() / "tflm" / key / "libtflm.a"
    return TflmLibrary(lib, key, kernels, includes, defines, prefix_map, 0, True), list(sources), base


def _compile_and_archive(compiler: Compiler, sources: Sequence[Path], base: list[str], lib: Path,
                         jobs: int | None) -> int:
    from armlprof.build import CompileError, compile_sources

    pairs = [(src, [*base, *(TFLM_C_FLAGS if src.suffix == ".c" else TFLM_CXX_FLAGS)]) for src in sources]
    try:
        objects, compiled = compile_sources(compiler.toolchain, pairs, jobs)
    except CompileError as exc:
        raise CompileError(f"TFLM library build failed ({compiler.name}): {exc}", exc.details) from None
    with tempfile.TemporaryDirectory(prefix="armlprof-tflm-") as tmp:
        staging = Path(tmp) / "libtflm.a"
        # Cached objects are named by their hash; ar keeps basenames, which are unique here.
        proc = subprocess.run([compiler.toolchain.tool("ar"), "rcs", str(staging), *map(str, objects)],
                              capture_output=True, text=True, check=False)
        raise_if_interrupted(proc.returncode)  # Ctrl-C is not a build failure
        if proc.returncode != 0:
            raise ArmlprofError(f"creating {lib.name} failed: {proc.stderr.strip().splitlines()[0]}")
        atomic_copy(staging, lib)  # a reader sees no half-written archive
    return compiled
