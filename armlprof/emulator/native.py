"""The native hook library (cyclehook.c): built once with the host C compiler into the armlprof cache, loaded
with ctypes. Its hook functions are handed to Unicorn's `uc_hook_add` as raw C function pointers, so executing
a block costs no Python at all. Without a host compiler the emulator falls back to Python hooks (slow)."""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from functools import cache
from pathlib import Path

from armlprof.cache import cache_root

SOURCE = Path(__file__).resolve().parent / "cyclehook.c"
MAX_REGIONS = 8

F_BRANCH = 1
F_WRITES_SP = 2

STOP_NONE, STOP_CYCLE_LIMIT, STOP_COLLISION, STOP_TRANSLATION = 0, 1, 2, 3

MISS_FN = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_uint64, ctypes.c_uint32)
PY_READ_FN = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_uint64, ctypes.c_uint32)  # (offset, size) -> value
PY_WRITE_FN = ctypes.CFUNCTYPE(None, ctypes.c_uint64, ctypes.c_uint32, ctypes.c_uint64)  # (offset, size, value)
TX_FLUSH_FN = ctypes.CFUNCTYPE(None)
UNALIGNED_FN = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_uint32)  # pc, addr, size
ALIGN_SLOTS = 1024
NO_INDEX = 0xFF
NO_OFFSET = 0xFFFFFFFF
TX_BUF_BYTES = 4096


class Block(ctypes.Structure):
    _fields_ = [
        ("addr", ctypes.c_uint32),
        ("size", ctypes.c_uint32),
        ("cycles", ctypes.c_uint32),
        ("taken_cycles", ctypes.c_uint32),
        ("instructions", ctypes.c_uint32),
        ("fetch_words", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("region", ctypes.c_uint32),
        ("first_load", ctypes.c_uint32),
        ("n_loads", ctypes.c_uint32),
    ]


class Load(ctypes.Structure):
    """Mirror of load_t: one load instruction of a block, to locate MMIO reads natively."""

    _fields_ = [
        ("pc", ctypes.c_uint32),
        ("index_in_block", ctypes.c_uint32),
        ("prefix_cycles", ctypes.c_uint32),
        ("displacement", ctypes.c_int32),
        ("base", ctypes.c_uint8),
        ("index", ctypes.c_uint8),
        ("shift", ctypes.c_uint8),
        ("subtracted", ctypes.c_uint8),
    ]


class State(ctypes.Structure):
    """Mirror of state_t in cyclehook.c."""

    _fields_ = [
        ("cycles", ctypes.c_uint64),
        ("instructions", ctypes.c_uint64),
        ("max_cycles", ctypes.c_uint64),
        ("cur", ctypes.c_int64),
        ("stop_reason", ctypes.c_uint32),
        ("lowest_sp", ctypes.c_uint32),
        ("heap_high", ctypes.c_uint32),
        ("collision_sp", ctypes.c_uint32),
        ("collision_brk", ctypes.c_uint32),
        ("load_wait", ctypes.c_uint32),
        ("store_wait", ctypes.c_uint32),
        ("_pad", ctypes.c_uint32),
        ("brk_host", ctypes.c_void_p),
        ("cache_enable", ctypes.c_void_p * MAX_REGIONS),
        ("fetch_wait", ctypes.c_uint32 * MAX_REGIONS),
        ("fetch_wait_uncached", ctypes.c_uint32 * MAX_REGIONS),
        ("reg_read", ctypes.c_void_p),
        ("emu_stop", ctypes.c_void_p),
        ("miss", ctypes.c_void_p),
        ("reg_write", ctypes.c_void_p),
        ("epsr_reg", ctypes.c_int32),
        ("_pad3", ctypes.c_uint32),
        ("blocks", ctypes.POINTER(Block)),
        ("n_blocks", ctypes.c_uint32),
        ("cap_blocks", ctypes.c_uint32),
        ("table", ctypes.c_void_p),
        ("table_mask", ctypes.c_uint32),
        ("_pad2", ctypes.c_uint32),
        ("block_seq", ctypes.c_uint64),
        ("loads", ctypes.POINTER(Load)),
        ("n_loads", ctypes.c_uint32),
        ("cap_loads", ctypes.c_uint32),
        ("mmio_seq", ctypes.c_uint64),
        ("mmio_last", ctypes.c_int32),
        ("mmio_located", ctypes.c_uint32),
        ("mmio_pc", ctypes.c_uint32),
        ("timed", ctypes.c_uint32),
        ("dwt_native", ctypes.c_uint32),
        ("dwt_running", ctypes.c_uint32),
        ("dwt_frozen", ctypes.c_uint32),
        ("dwt_offset", ctypes.c_int64),
        ("tx_flush", ctypes.c_void_p),
        ("rx_pending", ctypes.c_uint32),
        ("tx_len", ctypes.c_uint32),
        ("tx_buf", ctypes.c_uint8 * TX_BUF_BYTES),
    ]


class Mmio(ctypes.Structure):
    """Mirror of mmio_t: one MMIO window served by armlprof_mmio_read."""

    _fields_ = [("state", ctypes.POINTER(State)), ("py_read", ctypes.c_void_p), ("py_write", ctypes.c_void_p),
                ("base", ctypes.c_uint32), ("cyccnt", ctypes.c_uint32), ("tx_data", ctypes.c_uint32),
                ("tx_event", ctypes.c_uint32), ("tx_on", ctypes.c_uint32), ("tx_event_value", ctypes.c_uint32),
                ("poll", ctypes.c_uint32), ("poll_idle", ctypes.c_uint32), ("poll_count", ctypes.c_uint32)]


class Div(ctypes.Structure):
    _fields_ = [("addr", ctypes.c_uint32), ("rn", ctypes.c_uint8), ("rm", ctypes.c_uint8),
                ("is_signed", ctypes.c_uint8), ("_pad", ctypes.c_uint8)]


class DivTable(ctypes.Structure):
    _fields_ = [("state", ctypes.POINTER(State)), ("divs", ctypes.POINTER(Div)), ("n_divs", ctypes.c_uint32),
                ("div_min_cycles", ctypes.c_uint32), ("div_max_cycles", ctypes.c_uint32)]


class Align(ctypes.Structure):
    """Mirror of align_t: the alignment hook's callback and its PCs of permitted unaligned accesses."""

    _fields_ = [("state", ctypes.POINTER(State)), ("unaligned", ctypes.c_void_p),
                ("permitted", ctypes.c_uint32 * ALIGN_SLOTS)]


class Surcharge(ctypes.Structure):
    _fields_ = [("state", ctypes.POINTER(State)), ("cycles", ctypes.c_uint32), ("_pad", ctypes.c_uint32)]


def _cache_dir() -> Path:
    root = cache_root() / "native"
    root.mkdir(parents=True, exist_ok=True)
    return root


def _compiler() -> str | None:
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


@cache
def load_library() -> ctypes.CDLL | None:
    """The compiled hook library, building it if needed; None (with a warning) if no host compiler works."""
    source = SOURCE.read_bytes()
    digest = hashlib.sha256(source + sys.platform.encode()).hexdigest()[:16]
    lib_path = _cache_dir() / f"cyclehook-{digest}.so"
    if not lib_path.is_file():
        cc = _compiler()
        if cc is None:
            warnings.warn("armlprof emulator: no host C compiler (cc); using slow Python hooks. "
                          "Install one (apt install gcc) for full speed.", stacklevel=2)
            return None
        with tempfile.TemporaryDirectory(dir=lib_path.parent) as tmp:
            out = Path(tmp) / lib_path.name
            proc = subprocess.run([cc, "-O2", "-shared", "-fPIC", "-o", str(out), str(SOURCE)],
                                  capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                warnings.warn(f"armlprof emulator: building the native hooks failed ({proc.stderr.strip()[:200]}); "
                              "using slow Python hooks.", stacklevel=2)
                return None
            os.replace(out, lib_path)
    lib = ctypes.CDLL(str(lib_path))
    lib.armlprof_add_block.restype = ctypes.c_int32
    lib.armlprof_add_block.argtypes = [ctypes.POINTER(State), ctypes.POINTER(Block), ctypes.POINTER(Load),
                                       ctypes.c_uint32]
    lib.armlprof_find_block.restype = ctypes.c_int32
    lib.armlprof_find_block.argtypes = [ctypes.POINTER(State), ctypes.c_uint32, ctypes.c_uint32]
    lib.armlprof_free.argtypes = [ctypes.POINTER(State)]
    lib.armlprof_div_cycles.restype = ctypes.c_uint32
    lib.armlprof_div_cycles.argtypes = [ctypes.c_uint32] * 2 + [ctypes.c_int] + [ctypes.c_uint32] * 2
    return lib


def function_address(lib: ctypes.CDLL, name: str) -> int:
    return ctypes.cast(getattr(lib, name), ctypes.c_void_p).value or 0
