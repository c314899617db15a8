"""The ELF the toolchain built: loadable segments (at their load addresses), and the symbols the emulator needs
(function names for fault reports, `loop` for idle detection, the heap break for the memory watch).
Parsed once per file version and cached, so re-running the same image costs no ELF work."""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from armlprof.errors import ArmlprofError


@dataclass(frozen=True)
class Segment:
    address: int  # load address (LMA): where the bytes live before startup copies .data
    data: bytes
    mem_bytes: int
    executable: bool


@dataclass(frozen=True)
class ElfImage:
    path: Path
    segments: tuple[Segment, ...]
    symbols: dict[str, int]  # every named symbol (functions without the Thumb bit)
    _func_starts: tuple[int, ...]
    _func_ends: tuple[int, ...]
    _func_names: tuple[str, ...]

    def symbol(self, name: str) -> int | None:
        return self.symbols.get(name)

    def function_at(self, address: int) -> str | None:
        """The function containing `address` (thumb bit ignored), or None."""
        address &= ~1
        i = bisect.bisect_right(self._func_starts, address) - 1
        if i < 0:
            return None
        if address < self._func_ends[i] or self._func_ends[i] == self._func_starts[i]:
            return self._func_names[i]
        return None

    def code_owner(self, address: int) -> str:
        """A name for the code at `address`: its function; for code past a function's end and before the next
        one (e.g. an inline-assembly `.subsection 1` tail, which has no symbol) the preceding function's name
        with " (after)"; else the address in hex."""
        name = self.function_at(address)
        if name is not None:
            return name
        i = bisect.bisect_right(self._func_starts, address & ~1) - 1
        return f"{self._func_names[i]} (after)" if i >= 0 else f"{address & ~1:#x}"


def load_elf(path: Path | str) -> ElfImage:
    p = Path(path)
    try:
        st = p.stat()
    except OSError as e:
        raise ArmlprofError(f"ELF not found: {p} ({e.strerror}); build the sketch first (armlprof build)") from None
    return _load(p.resolve(), st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=16)
def _load(path: Path, mtime_ns: int, size: int) -> ElfImage:
    try:
        with path.open("rb") as f:
            elf = ELFFile(f)
            if elf["e_machine"] != "EM_ARM" or elf.elfclass != 32:
                raise ArmlprofError(f"{path} is not a 32-bit ARM ELF; build it for an Arm board")
            segments = []
            for seg in elf.iter_segments():
                if seg["p_type"] != "PT_LOAD" or seg["p_filesz"] == 0:
                    continue
                segments.append(Segment(seg["p_paddr"], seg.data(), seg["p_memsz"], bool(seg["p_flags"] & 1)))
            symbols: dict[str, int] = {}
            funcs: dict[int, tuple[int, str]] = {}
            symtab = elf.get_section_by_name(".symtab")
            for sym in symtab.iter_symbols() if symtab else []:
                if not sym.name or sym["st_shndx"] == "SHN_UNDEF":
                    continue
                kind = sym["st_info"]["type"]
                value = sym["st_value"]
                if kind == "STT_FUNC":
                    value &= ~1
                    # Prefer sized, global names over local aliases at the same address.
                    if value not in funcs or (sym["st_size"] and not funcs[value][0]):
                        funcs[value] = (sym["st_size"], sym.name)
                if kind in ("STT_FUNC", "STT_OBJECT", "STT_NOTYPE"):
                    symbols.setdefault(sym.name, value)
    except (ELFError, OSError) as e:
        raise ArmlprofError(f"cannot read ELF {path}: {e}; rebuild it") from None
    starts = sorted(funcs)
    return ElfImage(
        path=path, segments=tuple(segments), symbols=symbols, _func_starts=tuple(starts),
        _func_ends=tuple(a + funcs[a][0] for a in starts), _func_names=tuple(funcs[a][1] for a in starts),
    )


@lru_cache(maxsize=256)
def demangle(name: str | None) -> str | None:
    """C++ symbol names readable (`_Z8read_badv` -> `read_bad()`), via the toolchain's c++filt if present."""
    if not name or not name.startswith("_Z"):
        return name
    import shutil
    import subprocess

    tool = shutil.which("arm-none-eabi-c++filt") or shutil.which("c++filt")
    if tool is None:
        return name
    try:
        out = subprocess.run([tool, name], capture_output=True, text=True, timeout=5, check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return name
    return out or name
