"""The user's TensorFlow Lite Micro source tree: finding it, describing it, and building it once into a cached
static library.

TFLM's C++ sources are in no package registry. Users have them either as the Arduino library
`Arduino_TensorFlowLite` (the tflite-micro-arduino-examples tree: sources under `src/`, third-party code vendored
under `src/third_party/`) or as a tflite-micro checkout (sources at the top, third-party code downloaded by its
Makefile into `tensorflow/lite/micro/tools/make/downloads/`).

Lookup order: an explicit path, `$ARMLPROF_TFLM_ROOT`, then the Arduino sketchbook's `libraries/` folders.

The library is built once per (tree contents, compiler, flags, kernel choice) into
`<cache>/tflm/<key>/libtflm.a` (cache = `$ARMLPROF_CACHE` or `~/.cache/armlprof`), with the flags TFLM's own
Makefile uses for Cortex-M, in parallel, and reused by every later build.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from armlprof.cache import cache_root
from armlprof.errors import ArmlprofError, raise_if_interrupted

ENV_VAR = "ARMLPROF_TFLM_ROOT"
ARDUINO_LIBRARY_NAME = "Arduino_TensorFlowLite"
NOT_FOUND_HINT = (
    "TFLM not found (no TensorFlow Lite Micro tree): run `arduino-cli lib install Arduino_TensorFlowLite`, or "
    "`git clone https://github.com/tensorflow/tflite-micro-arduino-examples ~/Arduino/libraries/"
    f"Arduino_TensorFlowLite`, or set {ENV_VAR} (or --tflm-root) to a TFLM tree"
)
KERNEL_CHOICES = ("cmsis-nn", "reference")

# Defines TFLM's Makefile passes for every microcontroller build (tensorflow/lite/micro/tools/make/Makefile);
# the generated model source must be compiled with the same ones (TF_LITE_STATIC_MEMORY changes TfLiteTensor).
TFLM_DEFINES = ["TF_LITE_STATIC_MEMORY", "TF_LITE_DISABLE_X86_NEON", "TF_LITE_MCU_DEBUG_LOG",
                "KERNELS_OPTIMIZED_FOR_SPEED"]
# C++ flags of TFLM's Makefile (CXXFLAGS / CCFLAGS common part).
TFLM_CXX_FLAGS = ["-std=gnu++17", "-fno-rtti", "-fno-exceptions", "-fno-threadsafe-statics",
                  "-fno-use-cxa-atexit", "-fno-unwind-tables", "-fmessage-length=0"]
TFLM_C_FLAGS = ["-std=gnu11", "-fmessage-length=0"]
COMMON_FLAGS = ["-ffunction-sections", "-fdata-sections", "-w"]  # -w: TFLM's warnings are not ours to fix

_SOURCE_SUFFIXES = (".cc", ".cpp", ".c")
# Test utilities and target glue: never part of the library. DebugLog comes from the generated model source
# (a Serial-free sink); system_setup is the Arduino example's Serial start-up.
_EXCLUDED_STEMS = {"system_setup", "debug_log", "test_helpers", "test_helper_custom_ops", "fake_micro_context",
                   "mock_micro_graph", "kernel_runner", "micro_test"}
# Third-party pieces: (name, Arduino layout folder under src/, checkout folder under downloads/, include root).
_THIRD_PARTY = {
    "flatbuffers": ("third_party/flatbuffers", "flatbuffers", "include"),
    "gemmlowp": ("third_party/gemmlowp", "gemmlowp", ""),
    "ruy": ("third_party/ruy", "ruy", ""),
    "kissfft": ("third_party/kissfft", "kissfft", ""),
    "cmsis_nn": ("third_party/cmsis_nn", "cmsis_nn", ""),
    "cmsis": ("third_party/cmsis", "cmsis", "CMSIS/Core/Include"),
}
_REQUIRED_THIRD_PARTY = ("flatbuffers", "gemmlowp", "ruy")
_CHECKOUT_DOWNLOADS = "tensorflow/lite/micro/tools/make/downloads"
_MARKER = "tensorflow/lite/micro/micro_interpreter.h"


@dataclass(frozen=True)
class TflmTree:
    root: Path  # what was found or given
    kind: str  # "arduino-library" or "tflite-micro"
    source_root: Path  # the folder holding tensorflow/
    found_by: str  # "explicit", "$ARMLPROF_TFLM_ROOT", "sketchbook <path>"
    third_party: dict[str, Path] = field(default_factory=dict)  # name -> folder, for what is present

    @property
    def micro_dir(self) -> Path:
        return self.source_root / "tensorflow" / "lite" / "micro"

    @cached_property
    def version(self) -> str:
        """library.properties version (+ git commit) for the Arduino library; the git commit for a checkout."""
        parts = []
        props = self.root / "library.properties"
        if props.is_file():
            m = re.search(r"^version=(.+)$", props.read_text(errors="replace"), re.MULTILINE)
            if m:
                parts.append(m.group(1).strip())
        if self.commit:
            parts.append(f"git {self.commit}")
        return " ".join(parts) or "unknown version"

    @cached_property
    def commit(self) -> str | None:
        if not (self.root / ".git").exists() or shutil.which("git") is None:
            return None
        proc = subprocess.run(["git", "-C", str(self.root), "rev-parse", "--short=12", "HEAD"],
                              capture_output=True, text=True, check=False)
        return proc.stdout.strip() or None if proc.returncode == 0 else None

    @property
    def has_cmsis_nn(self) -> bool:
        """The CMSIS-NN optimized kernels and the CMSIS-NN library they call are both present."""
        return (self.micro_dir / "kernels" / "cmsis_nn").is_dir() and "cmsis_nn" in self.third_party

    @property
    def missing_third_party(self) -> list[str]:
        return [name for name in _REQUIRED_THIRD_PARTY if name not in self.third_party]

    def default_kernels(self) -> str:
        return "cmsis-nn" if self.has_cmsis_nn else "reference"

    def include_dirs(self) -> list[Path]:
        """What the library and the generated model source need on the include path."""
        dirs = [self.source_root]
        for name, (_, _, include) in _THIRD_PARTY.items():
            folder = self.third_party.get(name)
            if folder is not None:
                dirs.append(folder / include if include else folder)
        return dirs

    def check_buildable(self, kernels: str) -> None:
        """Raise ArmlprofError (one line) when this tree cannot build `kernels`."""
        if kernels not in KERNEL_CHOICES:
            raise ArmlprofError(f"unknown TFLM kernels '{kernels}'; choose one of {', '.join(KERNEL_CHOICES)}")
        if self.missing_third_party:
            raise ArmlprofError(
                f"tflite-micro checkout {self.root} lacks third-party headers ({', '.join(self.missing_third_party)})"
                f": run `make -f tensorflow/lite/micro/tools/make/Makefile third_party_downloads` in it, "
                f"or use the Arduino_TensorFlowLite library instead"
            )
        if kernels == "cmsis-nn" and not self.has_cmsis_nn:
            raise ArmlprofError(f"TFLM tree {self.root} has no CMSIS-NN kernels; use kernels='reference'")
        if kernels == "reference":
            only_optimized = self.reference_kernels_missing()
            if only_optimized:
                raise ArmlprofError(
                    f"TFLM tree {self.root} ships only CMSIS-NN versions of {', '.join(only_optimized)} (the Arduino "
                    "library drops the reference ones); use kernels='cmsis-nn' or a tflite-micro checkout"
                )

    def reference_kernels_missing(self) -> list[str]:
        """Kernels that exist only as CMSIS-NN versions (the Arduino library's layout)."""
        kdir = self.micro_dir / "kernels"
        optimized = _sources_in(kdir / "cmsis_nn")
        reference_stems = {p.stem for p in _sources_in(kdir)}
        return sorted(p.stem for p in optimized if p.stem not in reference_stems)

    def library_sources(self, kernels: str) -> list[Path]:
        """The .cc/.cpp/.c files of the TFLM library for this kernel choice (as TFLM's Makefile selects them:
        an optimized kernel replaces the reference file of the same name)."""
        self.check_buildable(kernels)
        lite = self.source_root / "tensorflow" / "lite"
        micro = self.micro_dir
        sources: list[Path] = []
        sources += _sources_in(micro)
        for sub in ("arena_allocator", "memory_planner", "tflite_bridge"):
            sources += _sources_in(micro / sub)
        kernel_sources = _sources_in(micro / "kernels")
        if kernels == "cmsis-nn":
            optimized = _sources_in(micro / "kernels" / "cmsis_nn")
            replaced = {p.stem for p in optimized}
            kernel_sources = [p for p in kernel_sources if p.stem not in replaced] + optimized
            sources += _sources_in(self.third_party["cmsis_nn"] / "Source", recursive=True)
        sources += kernel_sources
        for sub in ("core", "c", "kernels", "schema"):
            sources += _sources_in(lite / sub, recursive=True)
        return sorted({p for p in sources if _is_library_source(p)})

    def fingerprint(self, kernels: str) -> str:
        """Identity of the tree's library contents: every source and header, by path, size and mtime."""
        h = hashlib.sha256()
        files = [*self.library_sources(kernels)]
        for inc in self.include_dirs():
            files += [p for p in inc.rglob("*.h")] if inc != self.source_root else []
        files += list((self.source_root / "tensorflow").rglob("*.h"))
        for p in sorted(set(files)):
            st = p.stat()
            h.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        return h.hexdigest()

    # ------------------------------------------------------------ facts the code generator adapts to
    @cached_property
    def debuglog_takes_va_list(self) -> bool:
        """Newer TFLM: `DebugLog(const char* format, va_list args)`; older: `DebugLog(const char* s)`."""
        header = self.micro_dir / "debug_log.h"
        return header.is_file() and "va_list" in header.read_text(errors="replace")

    @cached_property
    def declares_debug_vsnprintf(self) -> bool:
        header = self.micro_dir / "debug_log.h"
        return header.is_file() and "DebugVsnprintf" in header.read_text(errors="replace")

    @cached_property
    def interpreter_needs_error_reporter(self) -> bool:
        """TFLM before 2022 took an ErrorReporter* in MicroInterpreter's constructor."""
        text = (self.micro_dir / "micro_interpreter.h").read_text(errors="replace")
        ctor = re.search(r"MicroInterpreter\(const Model\* model,[^;]*?\)", text, re.DOTALL)
        return bool(ctor and "ErrorReporter" in ctor.group(0))

    @cached_property
    def resolver_methods(self) -> dict[str, str]:
        """Normalized builtin-op name ("depthwiseconv2d") -> MicroMutableOpResolver method ("AddDepthwiseConv2D")."""
        text = (self.micro_dir / "micro_mutable_op_resolver.h").read_text(errors="replace")
        methods = set(re.findall(r"TfLiteStatus\s+(Add[A-Z]\w*)\s*\(", text)) - {"AddBuiltin", "AddCustom"}
        return {_normalize_op(m[3:]): m for m in sorted(methods)}


def _normalize_op(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _sources_in(folder: Path, recursive: bool = False) -> list[Path]:
    if not folder.is_dir():
        return []
    it = folder.rglob("*") if recursive else folder.iterdir()
    return [p for p in it if p.is_file() and p.suffix in _SOURCE_SUFFIXES]


def _is_library_source(path: Path) -> bool:
    stem = path.stem
    return not (stem.endswith("_test") or stem in _EXCLUDED_STEMS or "/examples/" in path.as_posix()
                or "/python/" in path.as_posix() or "/tools/" in path.as_posix())


# ---------------------------------------------------------------- finding a tree
def recognize(path: Path, found_by: str = "explicit") -> TflmTree | None:
    """The tree at `path` (an Arduino library folder, its src/, or a tflite-micro checkout), or None."""
    path = Path(path).expanduser()
    for source_root in (path / "src", path):
        if (source_root / _MARKER).is_file():
            break
    else:
        return None
    root = path.parent if source_root == path and (path.parent / "library.properties").is_file() else path
    vendored = source_root / "third_party"
    arduino = (vendored / "flatbuffers").is_dir() or (root / "library.properties").is_file()
    downloads = source_root / _CHECKOUT_DOWNLOADS
    third_party: dict[str, Path] = {}
    for name, (arduino_dir, checkout_dir, _) in _THIRD_PARTY.items():
        folder = source_root / arduino_dir if arduino else downloads / checkout_dir
        if folder.is_dir():
            third_party[name] = folder
    return TflmTree(root=root.resolve(), kind="arduino-library" if arduino else "tflite-micro",
                    source_root=source_root.resolve(), found_by=found_by, third_party=third_party)


def sketchbook_dirs(home: Path | None = None) -> list[Path]:
    """Arduino sketchbook folders: arduino-cli's `directories.user`, the IDE's `sketchbook.path`, the defaults."""
    home = home or Path.home()
    found: list[Path] = []
    cli_yaml = home / ".arduino15" / "arduino-cli.yaml"
    if cli_yaml.is_file():
        # A minimal reader for `directories:\n  user: <path>` (no YAML dependency for one key).
        m = re.search(r"^directories:\s*\n((?:[ \t]+.*\n?)*)", cli_yaml.read_text(errors="replace"), re.MULTILINE)
        if m:
            user = re.search(r"^[ \t]+user:\s*['\"]?([^'\"\n]+?)['\"]?\s*$", m.group(1), re.MULTILINE)
            if user:
                found.append(Path(user.group(1)).expanduser())
    prefs = home / ".arduino15" / "preferences.txt"
    if prefs.is_file():
        m = re.search(r"^sketchbook\.path=(.+)$", prefs.read_text(errors="replace"), re.MULTILINE)
        if m:
            found.append(Path(m.group(1).strip()).expanduser())
    found += [home / "Arduino", home / "Documents" / "Arduino"]
    unique: list[Path] = []
    for p in found:
        if p not in unique:
            unique.append(p)
    return unique


def find_tree(explicit: str | Path | None = None, home: Path | None = None) -> TflmTree | None:
    """The TFLM tree to use: `explicit`, then $ARMLPROF_TFLM_ROOT, then the sketchbook's libraries.
    An explicit path or variable that holds no tree is an error (the user asked for it), not a fallback."""
    for value, how in ((explicit, "explicit"), (os.environ.get(ENV_VAR), f"${ENV_VAR}")):
        if value:
            tree = recognize(Path(value), how)
            if tree is None:
                raise ArmlprofError(
                    f"{value} ({how}) is not a TFLM tree: expected {_MARKER} in it or in its src/; "
                    "point it at an Arduino_TensorFlowLite library folder or a tflite-micro checkout"
                )
            return tree
    for sketchbook in sketchbook_dirs(home):
        tree = recognize(sketchbook / "libraries" / ARDUINO_LIBRARY_NAME, f"sketchbook {sketchbook}")
        if tree is not None:
            return tree
    return None


def require_tree(explicit: str | Path | None = None) -> TflmTree:
    tree = find_tree(explicit)
    if tree is None:
        raise ArmlprofError(NOT_FOUND_HINT)
    return tree


def describe_tree(tree: TflmTree | None = None) -> str:
    """One line for `armlprof doctor`: which tree, its kind, version, whether it has CMSIS-NN kernels."""
    tree = tree if tree is not None else find_tree()
    if tree is None:
        return NOT_FOUND_HINT
    kernels = "CMSIS-NN kernels" if tree.has_cmsis_nn else "reference kernels only"
    text = f"{tree.kind} {tree.version} at {tree.root} (found by {tree.found_by}); {kernels}"
    if tree.missing_third_party:
        text += f"; MISSING third-party {', '.join(tree.missing_third_party)} (run its third_party_downloads)"
    return text


# ---------------------------------------------------------------- building the library
@dataclass(frozen=True)
class Compiler:
    """A C/C++ compiler pair plus `ar`: the ARM toolchain for boards, the host's gcc for host checks."""

    cc: str
    cxx: str
    ar: str
    flags: tuple[str, ...]  # CPU/ABI and optimization flags (board.cpu_flags + board.optimization)
    name: str  # for cache keys and messages, e.g. "arm-none-eabi-gcc 12.2.1"

    @classmethod
    def for_board(cls, board, optimization: str | None = None) -> Compiler:
        from armlprof.toolchain import find_toolchain

        tc = find_toolchain()
        return cls(tc.gcc, tc.gxx, tc.tool("ar"), (*board.cpu_flags, optimization or board.optimization),
                   f"arm-none-eabi-gcc {tc.version}")

    @classmethod
    def host(cls, optimization: str = "-O2") -> Compiler:
        cc, cxx, ar = (shutil.which(t) for t in ("gcc", "g++", "ar"))
        if not (cc and cxx and ar):
            raise ArmlprofError("host C/C++ compiler not found; install it: sudo apt-get install g++")
        version = subprocess.run([cxx, "-dumpfullversion"], capture_output=True, text=True, check=False)
        return cls(cc, cxx, ar, (optimization,), f"host g++ {version.stdout.strip()}")


@dataclass
class TflmLibrary:
    path: Path  # libtflm.a
    key: str
    kernels: str
    include_dirs: list[Path]
    defines: list[str]
    compiled_objects: int  # 0 when it came from the cache
    cached: bool

    def build_flags(self) -> list[str]:
        """Flags the generated model source must be compiled with (same defines as the library, its headers)."""
        return [*(f"-D{d}" for d in self.defines), *(f"-I{d}" for d in self.include_dirs)]


def library_defines(tree: TflmTree, kernels: str) -> list[str]:
    defines = [*TFLM_DEFINES, *(["CMSIS_NN"] if kernels == "cmsis-nn" else [])]
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
    kernels = kernels or tree.default_kernels()
    sources = tree.library_sources(kernels)  # raises the one-line reasons a tree cannot build
    defines = library_defines(tree, kernels)
    includes = tree.include_dirs()
    base = [*compiler.flags, *COMMON_FLAGS, *(f"-D{d}" for d in defines), *(f"-I{d}" for d in includes)]
    key = hashlib.sha256("\0".join([
        "tflm-lib-v1", str(tree.source_root), tree.fingerprint(kernels), compiler.name, compiler.cxx, *base,
        *TFLM_CXX_FLAGS, *TFLM_C_FLAGS,
    ]).encode()).hexdigest()[:24]
    out_dir = cache_root() / "tflm" / key
    lib = out_dir / "libtflm.a"
    result = TflmLibrary(lib, key, kernels, includes, defines, 0, True)
    if lib.is_file():
        return result
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be building the same library
        if lib.is_file():
            return result
        result.compiled_objects = _compile_and_archive(tree, compiler, sources, base, lib, jobs)
        result.cached = False
    return result


def _compile_and_archive(tree: TflmTree, compiler: Compiler, sources: Sequence[Path], base: list[str],
                         lib: Path, jobs: int | None) -> int:
    with tempfile.TemporaryDirectory(prefix="armlprof-tflm-") as tmp:
        work = Path(tmp)

        def compile_one(src: Path) -> Path:
            rel = src.relative_to(tree.source_root) if src.is_relative_to(tree.source_root) else Path(src.name)
            obj = work / (rel.as_posix().replace("/", "__") + ".o")
            is_c = src.suffix == ".c"
            cmd = [compiler.cc, *base, *TFLM_C_FLAGS] if is_c else [compiler.cxx, *base, *TFLM_CXX_FLAGS]
            proc = subprocess.run([*cmd, "-c", str(src), "-o", str(obj)], capture_output=True, text=True,
                                  check=False)
            raise_if_interrupted(proc.returncode)  # Ctrl-C is not a build failure
            if proc.returncode != 0:
                first = next((ln for ln in proc.stderr.splitlines() if "error" in ln), proc.stderr.strip()[:300])
                raise ArmlprofError(f"TFLM library build failed ({compiler.name}) in {src}: {first.strip()}")
            return obj

        with ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 2) as pool:
            objects = list(pool.map(compile_one, sources))
        staging = work / "libtflm.a"
        _archive(compiler.ar, staging, objects)
        tmp_lib = lib.with_suffix(f".a.tmp{os.getpid()}")  # unique: another process may build the same library
        shutil.copyfile(staging, tmp_lib)
        os.replace(tmp_lib, lib)  # atomic: a reader sees no half-written archive
    return len(objects)


def _archive(ar: str, lib: Path, objects: Iterable[Path]) -> None:
    proc = subprocess.run([ar, "rcs", str(lib), *map(str, objects)], capture_output=True, text=True, check=False)
    raise_if_interrupted(proc.returncode)
    if proc.returncode != 0:
        raise ArmlprofError(f"creating {lib.name} failed: {proc.stderr.strip().splitlines()[0]}")
