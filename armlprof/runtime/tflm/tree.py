"""The user's TensorFlow Lite Micro source tree: finding it, describing it, selecting its library sources (built by
armlprof/runtime/tflm/library.py).

TFLM's C++ sources are in no package registry. Users have them either as the Arduino library
`Arduino_TensorFlowLite` (the tflite-micro-arduino-examples tree: sources under `src/`, third-party code vendored
under `src/third_party/`) or as a tflite-micro checkout (sources at the top, third-party code downloaded by its
Makefile into `tensorflow/lite/micro/tools/make/downloads/`).

Lookup order: an explicit path, `$ARMLPROF_TFLM_ROOT`, the tree `armlprof get tflm` recorded, then the Arduino
sketchbook's `libraries/` folders.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from armlprof.cache import cache_root
from armlprof.errors import ArmlprofError

ENV_VAR = "ARMLPROF_TFLM_ROOT"
ARDUINO_LIBRARY_NAME = "Arduino_TensorFlowLite"
NOT_FOUND_HINT = (
    "TFLM not found (no TensorFlow Lite Micro tree): run `armlprof get tflm`, or "
    "`arduino-cli lib install Arduino_TensorFlowLite`, or "
    "`git clone https://github.com/tensorflow/tflite-micro-arduino-examples ~/Arduino/libraries/"
    f"Arduino_TensorFlowLite`, or set {ENV_VAR} (or --tflm-root) to a TFLM tree"
)
KERNEL_CHOICES = ("cmsis-nn", "reference")
KERNELS_FLAG = "--tflm-kernels"  # what messages suggest (the CLI's spelling; Python callers pass kernels=)

_SOURCE_SUFFIXES = (".cc", ".cpp", ".c")
# Test utilities and target glue: never part of the library. DebugLog comes from the generated model source
# (a Serial-free sink); system_setup is the Arduino example's Serial start-up.
_EXCLUDED_STEMS = {"system_setup", "debug_log", "test_helpers", "test_helper_custom_ops", "fake_micro_context",
                   "mock_micro_graph", "kernel_runner", "micro_test"}
# Third-party pieces: name -> (folder in the Arduino layout under src/, in a checkout under downloads/, and the
# include roots inside it, as TFLM's Makefile and ext_libs/cmsis_nn.inc pass them with -I).
_THIRD_PARTY = {
    "flatbuffers": ("third_party/flatbuffers", "flatbuffers", ("include",)),
    "gemmlowp": ("third_party/gemmlowp", "gemmlowp", ("",)),
    "ruy": ("third_party/ruy", "ruy", ("",)),
    "kissfft": ("third_party/kissfft", "kissfft", ("",)),
    "cmsis_nn": ("third_party/cmsis_nn", "cmsis_nn", ("", "Include")),
    "cmsis": ("third_party/cmsis", "cmsis", ("", "CMSIS/Core/Include")),
}
_REQUIRED_THIRD_PARTY = ("flatbuffers", "gemmlowp", "ruy")
CHECKOUT_DOWNLOADS = "tensorflow/lite/micro/tools/make/downloads"
_CHECKOUT_MAKEFILE = "tensorflow/lite/micro/tools/make/Makefile"
_MARKER = "tensorflow/lite/micro/micro_interpreter.h"
# Library sources outside tensorflow/lite/micro (sources.inc's TFL_CC_SRCS): everything under tensorflow/ but
# these (relative to the source root); newer trees keep error_reporter and schema_utils under compiler/mlir/lite/.
_TFL_EXCLUDED_DIRS = ("tensorflow/lite/micro", "tensorflow/lite/experimental")
_TFL_EXCLUDED_FILES = ("tensorflow/lite/array",)  # TF_LITE_STATIC_MEMORY builds drop it (sources.inc)


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
    def layout(self) -> str:
        """Where its third-party code is expected, for messages."""
        if self.kind == "arduino-library":
            return f"Arduino library layout ({self.source_root / 'third_party'})"
        return f"tflite-micro checkout layout ({self.source_root / CHECKOUT_DOWNLOADS})"

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
        """What the library and the generated model source need on the include path (TFLM's Makefile's -I)."""
        dirs = [self.source_root]
        if self.kind == "tflite-micro" and (self.source_root / CHECKOUT_DOWNLOADS).is_dir():
            dirs.append(self.source_root / CHECKOUT_DOWNLOADS)
        for name, (_, _, includes) in _THIRD_PARTY.items():
            folder = self.third_party.get(name)
            if folder is not None:
                dirs += [folder / inc if inc else folder for inc in includes if (folder / inc).is_dir()]
        return list(dict.fromkeys(dirs))

    def check_buildable(self, kernels: str) -> None:
        """Raise ArmlprofError (one line) when this tree cannot build `kernels`."""
        if kernels not in KERNEL_CHOICES:
            raise ArmlprofError(f"unknown TFLM kernels '{kernels}'; choose one of {', '.join(KERNEL_CHOICES)}")
        if self.missing_third_party:
            raise ArmlprofError(
                f"{self.kind} {self.root} lacks third-party code ({', '.join(self.missing_third_party)}) in its "
                f"{self.layout}: run `make -f {_CHECKOUT_MAKEFILE} third_party_downloads` in it, "
                f"or use the Arduino_TensorFlowLite library instead"
            )
        if kernels == "cmsis-nn" and not self.has_cmsis_nn:
            raise ArmlprofError(f"TFLM tree {self.root} has no CMSIS-NN kernels (no cmsis_nn in its {self.layout})"
                                f"; use {KERNELS_FLAG} reference")
        if kernels == "reference":
            only_optimized = self.reference_kernels_missing()
            if only_optimized:
                raise ArmlprofError(
                    f"TFLM tree {self.root} ships only CMSIS-NN versions of {', '.join(only_optimized)} (the Arduino "
                    f"library drops the reference ones); use {KERNELS_FLAG} cmsis-nn or a tflite-micro checkout"
                )

    def reference_kernels_missing(self) -> list[str]:
        """Kernels that exist only as CMSIS-NN versions (the Arduino library's layout)."""
        kdir = self.micro_dir / "kernels"
        optimized = _sources_in(kdir / "cmsis_nn")
        reference_stems = {p.stem for p in _sources_in(kdir)}
        return sorted(p.stem for p in optimized if p.stem not in reference_stems)

    def library_sources(self, kernels: str) -> list[Path]:
        """The .cc/.cpp/.c files of the TFLM library for this kernel choice, as TFLM's Makefile selects them
        (sources.inc, ext_libs/cmsis_nn.inc): an optimized kernel replaces the reference file of the same name."""
        self.check_buildable(kernels)
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
        sources += kernel_sources
        sources += [p for p in _sources_in(self.source_root / "tensorflow", recursive=True)
                    if not _tfl_excluded(p.relative_to(self.source_root).as_posix())]
        tflm = [p for p in sources if _is_library_source(p.relative_to(self.source_root))]
        return sorted({*tflm, *(self.cmsis_nn_sources() if kernels == "cmsis-nn" else [])})

    def cmsis_nn_sources(self) -> list[Path]:
        """CMSIS-NN's C sources without its float variants (TFLM builds with ARM_NN_ENABLE_F16/F32=0, and those
        files #error without them) and without the Python bindings under Source/Bindings (pybind11 C++)."""
        folder = self.third_party["cmsis_nn"] / "Source"
        return [p for p in _sources_in(folder, recursive=True)
                if p.suffix == ".c" and not p.stem.endswith(("_f16", "_f32")) and p.stem != "arm_nntables_flt"
                and "Bindings" not in p.relative_to(folder).parts]

    def header_files(self) -> list[Path]:
        """Every header the library can include: TFLM's own and the third-party include roots'."""
        headers = list((self.source_root / "tensorflow").rglob("*.h"))
        for folder in self.third_party.values():
            headers += folder.rglob("*.h")
        return sorted(set(headers))

    def fingerprint(self, kernels: str) -> str:
        """Identity of the library's inputs by path, size and mtime (cheap: tells when to recompute content_hash)."""
        h = hashlib.sha256()
        for p in sorted({*self.library_sources(kernels), *self.header_files()}):
            st = p.stat()
            h.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        return h.hexdigest()

    def content_hash(self, kernels: str) -> str:
        """Identity of the library's inputs by content and path relative to the tree (not where the tree lives):
        two copies of the same tree hash alike, any edited source or header changes it. Memoized per fingerprint
        on disk, so an unchanged tree is not read again."""
        memo = cache_root() / "tflm" / "content" / f"{self.fingerprint(kernels)[:32]}.txt"
        if memo.is_file():
            return memo.read_text().strip()
        h = hashlib.sha256()
        for p in sorted({*self.library_sources(kernels), *self.header_files()}):
            rel = p.relative_to(self.source_root) if p.is_relative_to(self.source_root) else Path(p.name)
            h.update(rel.as_posix().encode() + b"\0" + hashlib.sha256(p.read_bytes()).digest())
        digest = h.hexdigest()
        memo.parent.mkdir(parents=True, exist_ok=True)
        memo.write_text(digest + "\n")
        return digest

    def identity(self, kernels: str) -> str:
        """The tree as a record key part: kind, version (or commit) and content hash, without spaces."""
        version = re.sub(r"\s+", "-", self.version)
        return f"{self.kind}-{version}-{self.content_hash(kernels)[:12]}"

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


def _tfl_excluded(rel: str) -> bool:
    return (any(rel.startswith(d + "/") for d in _TFL_EXCLUDED_DIRS)
            or rel.rsplit(".", 1)[0] in _TFL_EXCLUDED_FILES)


def _is_library_source(rel: Path) -> bool:
    """`rel` relative to the source root: tests, examples and tools are not library sources (only TFLM's own
    files go through this; third-party code under tools/make/downloads is selected separately)."""
    stem, parts = rel.stem, rel.parts
    return not (stem.endswith("_test") or stem in _EXCLUDED_STEMS
                or any(part in ("examples", "python", "tools", "testing", "benchmarks") for part in parts))


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
    kind = tree_kind(root, source_root)
    downloads = source_root / CHECKOUT_DOWNLOADS
    third_party: dict[str, Path] = {}
    for name, (arduino_dir, checkout_dir, _) in _THIRD_PARTY.items():
        folder = source_root / arduino_dir if kind == "arduino-library" else downloads / checkout_dir
        if folder.is_dir():
            third_party[name] = folder
    return TflmTree(root=root.resolve(), kind=kind, source_root=source_root.resolve(), found_by=found_by,
                    third_party=third_party)


def tree_kind(root: Path, source_root: Path) -> str:
    """"arduino-library" (library.properties, or third-party code vendored under src/third_party with real headers)
    or "tflite-micro" (a checkout: its Makefile; its third_party/ holds Bazel stubs, not code)."""
    if (root / "library.properties").is_file():
        return "arduino-library"
    if (source_root / _CHECKOUT_MAKEFILE).is_file():
        return "tflite-micro"
    vendored = source_root / "third_party" / "flatbuffers" / "include" / "flatbuffers"
    return "arduino-library" if vendored.is_dir() else "tflite-micro"


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
    recorded = recorded_root()
    if recorded is not None and (tree := recognize(recorded, "armlprof get tflm")) is not None:
        return tree
    for sketchbook in sketchbook_dirs(home):
        tree = recognize(sketchbook / "libraries" / ARDUINO_LIBRARY_NAME, f"sketchbook {sketchbook}")
        if tree is not None:
            return tree
    return None


RECORD_FILE = "tflm_root.txt"  # in the cache folder: the tree `armlprof get tflm` fetched or verified


def recorded_root() -> Path | None:
    """The TFLM tree `armlprof get tflm` recorded, if any."""
    record = cache_root() / RECORD_FILE
    text = record.read_text(encoding="utf-8").strip() if record.is_file() else ""
    return Path(text) if text else None


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
    text = f"{tree.kind} {tree.version} at {tree.root} (found by {tree.found_by}); {tree.layout}; {kernels}"
    if tree.missing_third_party:
        text += (f"; MISSING third-party {', '.join(tree.missing_third_party)} (run "
                 f"`make -f {_CHECKOUT_MAKEFILE} third_party_downloads` in it)")
    elif "cmsis_nn" not in tree.third_party:
        text += "; no CMSIS-NN library (optional: the cmsis-nn kernels need it)"
    return text
