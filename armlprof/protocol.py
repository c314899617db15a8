"""The console line protocol between measurement sketches and the host, parsed in one place.

Every machine-readable line is `@armlprof event=<name> key=value ...` (values have no spaces).
Sketches (sketches/*.ino.j2) print:
  @armlprof event=ready sketch=<name> input_bytes=N output_bytes=N runtime=R   -- then wait for one host line
  host -> sketch:  `alloc=N seed=S runs=R` (any subset; the sketch uses defaults for the rest)
  @armlprof event=ram alloc_bytes=N status=ok|malloc_failed|init_failed|inference_failed [crc=XXXXXXXX]
  @armlprof event=init status=ok|init_failed|inference_failed [cycles=C] us=U [crc=XXXXXXXX]
  @armlprof event=inference run=I [cycles=C] us=U                      -- one per timed inference
  @armlprof event=summary status=ok|init_failed|inference_failed|unstable runs=N [total_cycles=C] total_us=U
                          crc=XXXXXXXX                                 -- unstable: outputs differed between runs
  @armlprof event=done                                                 -- the run is over (then exit/idle)
  @armlprof event=fault pc=0x.. lr=0x.. cfsr=0x.. ...                  -- armlprof core's HardFault handler
cycles= (DWT) is printed only when built with armlprof's core (ARMLPROF_CORE); with an official core the host
derives cycles from us= x clock. crc= is the CRC-32 of the output buffer, compared with the host reference.
Inputs are generated on the device from a seed (xorshift32, below), so no input costs flash or transfer
time and the host reproduces the same bytes to compute the reference output.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

TAG = "@armlprof"


@dataclass(frozen=True)
class Record:
    event: str
    fields: dict[str, str]

    def int(self, key: str) -> int:
        return int(self.fields[key], 0)

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.fields.get(key, default)


def parse_line(line: str) -> Record | None:
    """The record on a console line, or None for ordinary output."""
    line = line.strip()
    if not line.startswith(TAG + " "):
        return None
    fields: dict[str, str] = {}
    for token in line[len(TAG) + 1 :].split():
        key, sep, value = token.partition("=")
        if sep:
            fields[key] = value
    event = fields.pop("event", None)
    if event is None:
        return None
    return Record(event, fields)


def format_host_line(**values: int) -> str:
    """The host's answer to a ready line, e.g. `alloc=1024 seed=7`."""
    return " ".join(f"{k}={v}" for k, v in values.items()) + "\n"


def input_from_seed(seed: int, n_bytes: int) -> bytes:
    """The bytes a sketch's `armlprof_fill_input(buf, n, seed)` produces (xorshift32, top byte)."""
    x = seed & 0xFFFFFFFF or 1
    out = bytearray(n_bytes)
    for i in range(n_bytes):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        out[i] = x >> 24
    return bytes(out)


def crc32(data: bytes) -> str:
    """The checksum sketches print for an output buffer (IEEE CRC-32, as zlib), as 8 hex digits."""
    return f"{zlib.crc32(data) & 0xFFFFFFFF:08x}"
