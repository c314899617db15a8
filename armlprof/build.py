"""Build an Arduino sketch for a board with the ARM toolchain and armlprof's core, with a content-hash cache.

A sketch folder holds `<name>.ino` (plus any other .ino, concatenated as Arduino does) and optionally `src/`
(.c, .cpp, .S, recursively). Objects are cached by the hash of their source, flags and the headers they include
(ccache's direct mode); a whole build is cached by the hash of everything it links, so rebuilding an unchanged
sketch compiles and links nothing. Several processes may build at once on one cache: each entry is built under
its own lock, written under unique temporary names and renamed into place, and carries its content hash, which is
checked on every reuse (a truncated or garbled object or ELF is rebuilt with a one-line warning).
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile

from armlprof.board import Board
from armlprof.cache import (
    atomic_copy,
    atomic_write,
    cache_root,
    entry_lock,
    read_manifest,
    verify_manifest,
    write_manifest,
)
from armlprof.errors import ArmlprofError, CompileError, ImageTooLarge, raise_if_interrupted
from armlprof.toolchain import Toolchain, find_toolchain

CORE_DIR = Path(__file__).resolve().parent / "core"
CORE_SOURCES = ["startup.c", "wiring.c", "syscalls.c", "fault.c", "main.cpp", "new.cpp", "HardwareSerial.cpp",
                "WString.cpp"]
SOURCE_SUFFIXES = {".c", ".cpp", ".cc", ".S", ".s"}
ARDUINO_VERSION = "10819"
EMPTY_SKETCH = "void setup() {}\nvoid loop() {}\n"


@dataclass(frozen=True)
class SymbolSize:
    name: str
    size_bytes: int
    kind: str  # "code", "const", "data", "bss"


@dataclass
class BuildResult:
    elf: Path
    map_path: Path
    board: str
    flags: list[str]
    text_bytes: int  # code + constants (Berkeley `size` text)
    data_bytes: int
    bss_bytes: int
    flash_bytes: int  # the board's figure: text + data, or the whole image incl. bss when it loads into RAM
    static_ram_bytes: int  # data + bss
    largest_symbols: list[SymbolSize]
    compiled_objects: int  # objects compiled by this call (0 when everything came from the cache)
    cached: bool  # the linked image itself came from the cache
    baseline_flash_bytes: int | None = None  # the empty sketch, same board and flags
    warnings: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def model_flash_bytes(self) -> int | None:
        """Flash attributable to the sketch beyond the empty sketch."""
        return None if self.baseline_flash_bytes is None else self.flash_bytes - self.baseline_flash_bytes

    def to_dict(self) -> dict:
        return {
            "elf": str(self.elf), "board": self.board, "flags": self.flags, "text_bytes": self.text_bytes,
            "data_bytes": self.data_bytes, "bss_bytes": self.bss_bytes, "flash_bytes": self.flash_bytes,
            "static_ram_bytes": self.static_ram_bytes, "baseline_flash_bytes": self.baseline_flash_bytes,
            "model_flash_bytes": self.model_flash_bytes,
            "largest_symbols": [[s.name, s.size_bytes, s.kind] for s in self.largest_symbols],
        }


# ---------------------------------------------------------------- Arduino preprocessing
_FUNC_DEF = re.compile(
    r"^(?P<ret>(?:[A-Za-z_][\w:<>,]*[\s\*&]+)+?)(?P<name>[A-Za-z_]\w*)\s*\((?P<args>[^;{}()]*)\)\s*(?:const\s*)?\{",
    re.MULTILINE,
)
_NOT_FUNCTIONS = {"if", "while", "for", "switch", "return", "else", "do"}


def _read_sketch_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ArmlprofError(f"{path} is not UTF-8 text (byte {exc.start}); save the sketch as UTF-8") from None


def preprocess_ino(ino_files: Sequence[Path]) -> str:
    """Arduino's sketch preprocessing: one .cpp with `#include <Arduino.h>`, prototypes for the functions the
    sketch defines (so they can be called before their definition), and #line markers for diagnostics."""
    parts = [(f, _read_sketch_text(f)) for f in ino_files]
    code = "\n".join(text for _, text in parts)
    prototypes = []
    for m in _FUNC_DEF.finditer(code):
        ret, name = m["ret"].strip(), m["name"]
        if name in _NOT_FUNCTIONS or ret.split()[0] in ("static_assert", "return", "else", "typedef"):
            continue
        proto = f"{ret} {name}({m['args'].strip()});"
        declared = re.search(rf"^[ \t]*[A-Za-z_][\w\s\*&:<>,]*\b{name}\s*\([^)]*\)\s*;", code, re.MULTILINE)
        if proto not in prototypes and declared is None:
            prototypes.append(proto)
    out = ["#include <Arduino.h>"]
    first = True
    for path, text in parts:
        if first and prototypes:
            # Prototypes go before the first function definition, after the sketch's own includes.
            m = _FUNC_DEF.search(text)
            cut = text.rfind("\n", 0, m.start()) + 1 if m else len(text)
            head, tail = text[:cut], text[cut:]
            line_of_tail = head.count("\n") + 1
            out += [f'#line 1 "{path}"', head.rstrip("\n"), *prototypes, f'#line {line_of_tail} "{path}"', tail]
        else:
            out += [f'#line 1 "{path}"', text]
        first = False
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- compile with a cache
def _sha(*chunks: bytes | str) -> str:
    h = hashlib.sha256()
    for c in chunks:
        h.update(c.encode() if isinstance(c, str) else c)
        h.update(b"\0")
    return h.hexdigest()


def _file_sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


PrefixMaps = Sequence[tuple[str, str]]


def prefix_maps(flags: Sequence[str]) -> list[tuple[str, str]]:
    """The (old, new) of each -ffile-prefix-map=OLD=NEW: the compiler writes paths under OLD as NEW (__FILE__, debug
    info), so the object does not depend on where OLD is, and its cache key and recorded headers need not either."""
    return [tuple(f.removeprefix("-ffile-prefix-map=").partition("=")[::2]) for f in flags
            if f.startswith("-ffile-prefix-map=")]


def _relocatable(text: str, maps: PrefixMaps) -> str:
    """`text` with each mapped prefix written as `<map:NEW>`: the same for a copy of the tree elsewhere."""
    for old, new in maps:  # the whole prefix only (not /tree in /tree2): followed by /, =, space or the end
        text = re.sub(re.escape(old) + r"(?=[/=\s]|$)", lambda _, new=new: f"<map:{new}>", text)
    return text


def _located(text: str, maps: PrefixMaps) -> str:
    """The inverse of _relocatable for this job's prefixes: where a recorded header is in this tree."""
    for old, new in maps:
        text = text.replace(f"<map:{new}>", old)
    return text


class _ObjectCache:
    """ccache-style direct mode: key = source + flags; a hit needs the object's recorded hash and every recorded
    header unchanged. Paths under a -ffile-prefix-map prefix are keyed and recorded relative to it, so a copy of a
    TFLM tree elsewhere hits the same objects, and an edited header of that copy is checked in the copy."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "objects"
        self.dir.mkdir(parents=True, exist_ok=True)

    def paths(self, key: str) -> tuple[Path, Path]:
        return self.dir / f"{key}.o", self.dir / f"{key}.entry.json"

    def lookup(self, key: str, maps: PrefixMaps = ()) -> Path | None:
        obj, manifest = self.paths(key)
        if not verify_manifest(manifest, {"object": obj}, "object"):
            return None
        deps = (read_manifest(manifest) or {}).get("deps", {})
        for dep, digest in deps.items():
            p = Path(_located(dep, maps))
            if not p.is_file() or _file_sha(p) != digest:
                return None
        return obj

    def store(self, key: str, obj: Path, depfile: Path, maps: PrefixMaps = ()) -> Path:
        deps = _parse_depfile(depfile)
        target, manifest = self.paths(key)
        atomic_copy(obj, target)
        write_manifest(manifest, {"object": target},
                       {"deps": {_relocatable(str(d), maps): _file_sha(d) for d in deps if d.is_file()}})
        return target


def _parse_depfile(depfile: Path) -> list[Path]:
    text = depfile.read_text().replace("\\\n", " ")
    _, _, deps = text.partition(":")
    return [Path(d).resolve() for d in deps.split() if d != "\\"]


def _first_error(stderr: str) -> str:
    lines = stderr.splitlines()
    # ld's own words ("undefined reference to `f'") say more than collect2's "ld returned 1 exit status".
    for marker in ("undefined reference", "multiple definition", ": error:", ": fatal error:", "error"):
        for line in lines:
            if marker in line.lower():
                return line.strip()
    return stderr.strip().splitlines()[0] if stderr.strip() else "unknown error"


_UNDEFINED = re.compile(r"undefined reference to [`'](.+?)'")


def link_error(stderr: str) -> str:
    """The linker's cause in one line: its `undefined reference` lines (the symbols, the first object that needs
    each) rather than collect2's closing "ld returned 1 exit status"."""
    missing: dict[str, str] = {}
    where = ""
    for line in stderr.splitlines():
        if "in function" in line:
            where = line.split(": in function")[0].rsplit("/", 1)[-1].strip()
        m = _UNDEFINED.search(line)
        if m:
            missing.setdefault(m.group(1), where)
    if not missing:
        return _first_error(stderr)
    shown = "; ".join(f"undefined reference to `{sym}'" + (f" (from {obj})" if obj else "")
                      for sym, obj in list(missing.items())[:3])
    more = f"; and {len(missing) - 3} more undefined symbol(s)" if len(missing) > 3 else ""
    return shown + more


@dataclass
class _Job:
    source: Path
    lang: str  # "c", "c++", "asm"
    flags: list[str]


class _Compiler:
    def __init__(self, toolchain: Toolchain, cache: _ObjectCache, work: Path) -> None:
        self.tc, self.cache, self.work = toolchain, cache, work
        self.compiled = 0

    def command(self, job: _Job, obj: Path, depfile: Path) -> list[str]:
        exe = self.tc.gxx if job.lang == "c++" else self.tc.gcc
        lang = {"c": "c", "c++": "c++", "asm": "assembler-with-cpp"}[job.lang]
        return [exe, "-x", lang, *job.flags, "-MMD", "-MF", str(depfile), "-c", str(job.source), "-o", str(obj)]

    def compile(self, job: _Job) -> Path:
        maps = prefix_maps(job.flags)
        key = _sha(self.tc.version, job.lang, *(_relocatable(f, maps) for f in job.flags),
                   _relocatable(str(job.source), maps), job.source.read_bytes())
        with entry_lock(self.cache.paths(key)[0]):  # a second process building the same object waits, then hits
            hit = self.cache.lookup(key, maps)
            if hit is not None:
                return hit
            obj = self.work / f"{key}.o"
            depfile = self.work / f"{key}.d"
            proc = subprocess.run(self.command(job, obj, depfile), capture_output=True, text=True, errors="replace",
                                  check=False)
            raise_if_interrupted(proc.returncode)
            if proc.returncode != 0:
                raise CompileError(f"compile error: {_first_error(proc.stderr)}", proc.stderr)
            self.compiled += 1
            return self.cache.store(key, obj, depfile, maps)


def _lang(path: Path) -> str:
    return {".c": "c", ".cpp": "c++", ".cc": "c++", ".S": "asm", ".s": "asm"}[path.suffix]


def compile_sources(toolchain: Toolchain, sources: Sequence[tuple[Path, Sequence[str]]],
                    jobs: int | None = None) -> tuple[list[Path], int]:
    """Compile (source, flags) pairs through the object cache, in parallel: (objects in order, how many were
    compiled rather than found). The one compile pipeline for sketches and prebuilt libraries (TFLM); raises
    CompileError with the compiler's first error as the message and all its diagnostics in `details`."""
    with tempfile.TemporaryDirectory(prefix="armlprof-compile-") as tmp:
        compiler = _Compiler(toolchain, _ObjectCache(cache_root()), Path(tmp))
        job_list = [_Job(Path(src), _lang(Path(src)), list(flags)) for src, flags in sources]
        with ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 2) as pool:
            objects = list(pool.map(compiler.compile, job_list))
    return objects, compiler.compiled


# ---------------------------------------------------------------- sizes
def _section_kind(sec) -> str | None:
    flags = sec["sh_flags"]
    if not flags & SH_FLAGS.SHF_ALLOC or sec["sh_size"] == 0:
        return None
    if sec["sh_type"] == "SHT_NOBITS":
        return "bss"
    return "data" if flags & SH_FLAGS.SHF_WRITE else "text"


def elf_sizes(elf_path: Path) -> tuple[int, int, int, list[SymbolSize]]:
    """(text, data, bss, ten largest symbols) as Berkeley `arm-none-eabi-size` counts them."""
    try:
        return _elf_sizes(elf_path)
    except (ELFError, OSError, ValueError, KeyError) as exc:
        raise ArmlprofError(f"{elf_path}: not a readable ELF ({exc}); delete it and build again") from None


def _elf_sizes(elf_path: Path) -> tuple[int, int, int, list[SymbolSize]]:
    totals = {"text": 0, "data": 0, "bss": 0}
    with elf_path.open("rb") as f:
        elf = ELFFile(f)
        kinds = {}
        for i, sec in enumerate(elf.iter_sections()):
            kind = _section_kind(sec)
            if kind:
                totals[kind] += sec["sh_size"]
                kinds[i] = "code" if sec["sh_flags"] & SH_FLAGS.SHF_EXECINSTR else (
                    "const" if kind == "text" else kind)
        symbols: dict[int, SymbolSize] = {}  # by address: aliases (__aeabi_dadd = __adddf3) count once
        symtab = elf.get_section_by_name(".symtab")
        for sym in symtab.iter_symbols() if symtab else []:
            if sym["st_info"]["type"] not in ("STT_FUNC", "STT_OBJECT") or sym["st_size"] == 0:
                continue
            shndx = sym["st_shndx"]
            if not isinstance(shndx, int) or shndx not in kinds:
                continue
            symbols.setdefault(sym["st_value"], SymbolSize(sym.name, sym["st_size"], kinds[shndx]))
    largest = sorted(symbols.values(), key=lambda s: (-s.size_bytes, s.name))[:10]
    return totals["text"], totals["data"], totals["bss"], largest


# ---------------------------------------------------------------- the build
def compile_flags(board: Board, optimization: str | None = None, extra_flags: Sequence[str] = ()) -> list[str]:
    """Flags shared by C, C++ and assembly: the board's CPU and float ABI, as its official core uses them."""
    return [
        *board.cpu_flags,
        optimization or board.optimization,
        "-g", "-ffunction-sections", "-fdata-sections", "-Wall",
        f"-DF_CPU={board.clock_hz}UL",
        f"-DARDUINO={ARDUINO_VERSION}",
        f"-DARMLPROF_BOARD_{board.name.upper()}=1",
        f"-DARMLPROF_CONSOLE_BASE={board.console.address:#x}u",
        *(f"-D{d}" for d in board.defines),
        *extra_flags,
    ]


LANG_FLAGS = {
    "c": ["-std=gnu11"],
    "c++": ["-std=gnu++17", "-fno-exceptions", "-fno-rtti", "-fno-threadsafe-statics", "-fno-use-cxa-atexit"],
    "asm": [],
}


def _sketch_inputs(sketch_dir: Path) -> tuple[list[Path], list[Path]]:
    if not sketch_dir.is_dir():
        raise ArmlprofError(f"sketch not found: {sketch_dir} is not a folder (a sketch is a folder with <name>.ino)")
    main_ino = sketch_dir / f"{sketch_dir.name}.ino"
    inos = sorted(sketch_dir.glob("*.ino"))
    if not inos:
        raise ArmlprofError(f"sketch not found: no .ino file in {sketch_dir}")
    if main_ino in inos:  # Arduino puts the sketch's main file first
        inos.remove(main_ino)
        inos.insert(0, main_ino)
    src = sketch_dir / "src"
    sources = sorted(p for p in src.rglob("*") if p.suffix in SOURCE_SUFFIXES) if src.is_dir() else []
    return inos, sources


def build_sketch(
    sketch_dir: Path,
    board: Board,
    *,
    extra_flags: Sequence[str] = (),
    optimization: str | None = None,
    include_dirs: Sequence[Path] = (),
    extra_objects: Sequence[Path] = (),
    baseline: bool = True,
    jobs: int | None = None,
) -> BuildResult:
    """Compile and link a sketch for `board`; raise CompileError, ImageTooLarge or ArmlprofError."""
    sketch_dir = Path(sketch_dir).resolve()
    inos, sources = _sketch_inputs(sketch_dir)
    toolchain = find_toolchain()
    root = cache_root()
    cache = _ObjectCache(root)
    flags = compile_flags(board, optimization, extra_flags)
    includes = [f"-I{CORE_DIR}", f"-I{sketch_dir}", *(f"-I{Path(d).resolve()}" for d in include_dirs)]

    with tempfile.TemporaryDirectory(prefix="armlprof-build-") as tmp:
        work = Path(tmp)
        # A stable path per sketch folder, so the preprocessed sketch hits the object cache on rebuilds.
        sketch_cpp = root / "preprocessed" / _sha(str(sketch_dir))[:16] / f"{sketch_dir.name}.ino.cpp"
        sketch_cpp.parent.mkdir(parents=True, exist_ok=True)
        text = preprocess_ino(inos)
        if not sketch_cpp.is_file() or sketch_cpp.read_text() != text:
            atomic_write(sketch_cpp, text)  # a concurrent build of the same sketch never compiles half a file
        core_sources = [CORE_DIR / s for s in CORE_SOURCES] + [CORE_DIR / f"console_{board.console_driver}.c",
                                                               board.startup_source]
        jobs_list = [
            _Job(p, _lang(p), [*flags, *LANG_FLAGS[_lang(p)], *includes])
            for p in [*core_sources, sketch_cpp, *sources]
        ]
        compiler = _Compiler(toolchain, cache, work)
        with ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 2) as pool:
            objects = list(pool.map(compiler.compile, jobs_list))

        memory_ld = board.memory_ld()
        link_flags = [*board.cpu_flags, "-nostartfiles", "--specs=nano.specs", "-Wl,--gc-sections"]
        link_key = _sha(
            toolchain.version, *link_flags, memory_ld, board.linker_script.read_text(),
            *(o.name for o in objects), *(_file_sha(Path(x)) for x in extra_objects),
        )
        out_dir = root / "builds" / link_key[:24]
        elf = out_dir / "sketch.elf"
        entry = {"sketch.elf": elf, "sketch.map": out_dir / "sketch.map"}
        warnings = ""
        with entry_lock(out_dir):
            cached = verify_manifest(out_dir / "entry.json", entry, "image")
            if not cached:
                warnings = _link(toolchain, board, objects, extra_objects, link_flags, memory_ld, out_dir, work)
                write_manifest(out_dir / "entry.json", entry)

    text, data, bss, largest = elf_sizes(elf)
    flash = text + data + (bss if board.image_in_ram else 0)
    result = BuildResult(
        elf=elf, map_path=out_dir / "sketch.map", board=board.name, flags=flags, text_bytes=text,
        data_bytes=data, bss_bytes=bss, flash_bytes=flash, static_ram_bytes=data + bss,
        largest_symbols=largest, compiled_objects=compiler.compiled, cached=cached, warnings=warnings,
    )
    if baseline:
        result.baseline_flash_bytes = empty_sketch_flash_bytes(board, optimization, extra_flags)
    return result


_OVERFLOW = re.compile(r"region `(\w+)' overflowed by (\d+) bytes|RAM overflow")


def _link(toolchain: Toolchain, board: Board, objects: list[Path], extra_objects: Sequence[Path],
          link_flags: list[str], memory_ld: str, out_dir: Path, work: Path) -> str:
    staging = work / "link"
    staging.mkdir()
    (staging / "memory.ld").write_text(memory_ld)
    elf = staging / "sketch.elf"
    cmd = [
        toolchain.gxx, *link_flags, f"-L{staging}", "-T", str(board.linker_script),
        f"-Wl,-Map={staging / 'sketch.map'}", "-o", str(elf), *map(str, objects), *map(str, extra_objects),
        "-Wl,--start-group", "-lstdc++", "-lsupc++", "-lc", "-lm", "-lgcc", "-Wl,--end-group",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace", check=False)
    raise_if_interrupted(proc.returncode)
    if proc.returncode != 0:
        if _OVERFLOW.search(proc.stderr):
            _raise_too_large(toolchain, board, cmd, staging)
        raise CompileError(f"link error: {link_error(proc.stderr)}", proc.stderr)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in ("sketch.elf", "sketch.map"):
        atomic_copy(staging / name, out_dir / name)
    return proc.stderr


def _raise_too_large(toolchain: Toolchain, board: Board, cmd: list[str], staging: Path) -> None:
    """Relink with room to spare to measure what the image needs, then say so."""
    big = board.memory_ld()
    big = re.sub(r"LENGTH = 0x[0-9a-f]+", "LENGTH = 0x4000000", big)
    big = re.sub(r"__ram_end = 0x[0-9a-f]+", f"__ram_end = {board.ram_origin + 0x4000000:#x}", big)
    (staging / "memory.ld").write_text(big)
    proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace", check=False)
    raise_if_interrupted(proc.returncode)
    if proc.returncode != 0:
        raise CompileError(f"link error: {_first_error(proc.stderr)}", proc.stderr)
    text, data, bss, largest = elf_sizes(staging / "sketch.elf")
    if board.image_in_ram:
        need = text + data + bss + board.stack_bytes
        raise ImageTooLarge(board, "RAM (image + stack reserve)", need, board.ram_bytes, largest)
    if text + data > board.image_capacity_bytes:
        raise ImageTooLarge(board, "flash", text + data, board.image_capacity_bytes, largest)
    raise ImageTooLarge(board, "RAM (data + bss + stack reserve)", data + bss + board.stack_bytes,
                        board.ram_bytes, largest)


_baseline_memo: dict[tuple, int] = {}


def empty_sketch_flash_bytes(board: Board, optimization: str | None = None, extra_flags: Sequence[str] = ()) -> int:
    """Flash of `void setup(){} void loop(){}` for the same board and flags (memoized; cached on disk too)."""
    key = (board.name, board.memory_kib, optimization, tuple(extra_flags))
    if key not in _baseline_memo:
        sketch = cache_root() / "empty" / "empty"
        sketch.mkdir(parents=True, exist_ok=True)
        ino = sketch / "empty.ino"
        if not ino.is_file() or ino.read_text() != EMPTY_SKETCH:
            atomic_write(ino, EMPTY_SKETCH)
        result = build_sketch(sketch, board, optimization=optimization, extra_flags=extra_flags, baseline=False)
        _baseline_memo[key] = result.flash_bytes
    return _baseline_memo[key]
