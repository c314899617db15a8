"""The console line protocol between measurement sketches and the host, parsed in one place.

Every machine-readable line is `@armlprof event=<name> key=value ...` (values have no spaces).
Sketches (sketches/*.ino.j2) print:
  @armlprof event=ready sketch=<name> input_bytes=N output_bytes=N runtime=R   -- then wait for one host line
  host -> sketch:  `alloc=N seed=S runs=R` (any subset; the sketch uses defaults for the rest)
  @armlprof event=ram alloc_bytes=N status=ok|malloc_failed|init_failed|inference_failed [crc=XXXXXXXX]
  @armlprof event=init status=ok|init_failed|inference_failed [cycles=C] us=U [crc=XXXXXXXX]
  @armlprof event=inference run=I [cycles=C] us=U                      -- one per timed inference
  @armlprof event=summary status=ok|init_failed|inference_failed|unstable runs=N [total_cycles=C] total_us=U
                          crc=XXXXXXXX [last_crc=XXXXXXXX]             -- unstable: outputs differed between runs
                          (stateful models, MODEL_STATEFUL: outputs change from run to run, never `unstable`;
                          crc= is the first run's, last_crc= the last run's, both checked against the reference
                          model's sequence of runs invocations from a fresh state)
  @armlprof event=done                                                 -- the run is over (then exit/idle)
  @armlprof event=fault pc=0x.. lr=0x.. cfsr=0x.. ...                  -- armlprof core's HardFault handler
cycles= (DWT) is printed only when built with armlprof's core (ARMLPROF_CORE); with an official core the host
derives cycles from us= x clock. crc= is the CRC-32 of the output buffer, compared with the host reference.
Inputs are generated on the device from a seed (xorshift32, below), so no input costs flash or transfer
time and the host reproduces the same bytes to compute the reference output.

Models with several inputs or outputs: the sketch's input (output) buffer holds every input (output) tensor, each
at an offset rounded up to IO_ALIGN_BYTES (`io_offsets`), so the one `model_inference(input, output)` interface
serves every model. The inputs are one xorshift32 stream cut in order (`inputs_from_seed`: input 0 gets the first
bytes, input 1 continues the stream), and crc= lists each output's CRC-32 in output order, comma-separated
(`crc=1a2b3c4d,5e6f7a8b`). With one input and one output all of this is exactly the single-tensor format above.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

TAG = "@armlprof"
IO_ALIGN_BYTES = 16  # each tensor's offset in the packed input/output buffer (word loads, LDRD in kernels)


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


def io_offsets(sizes: Sequence[int]) -> list[int]:
    """Each tensor's byte offset in a packed input or output buffer (the first at 0, the rest IO_ALIGN_BYTES
    aligned)."""
    offsets, end = [], 0
    for size in sizes:
        offsets.append(end)
        end = -(-(end + size) // IO_ALIGN_BYTES) * IO_ALIGN_BYTES
    return offsets


def io_bytes(sizes: Sequence[int]) -> int:
    """The packed buffer's size: the last tensor's end (one tensor: its size, no padding)."""
    return io_offsets(sizes)[-1] + sizes[-1] if sizes else 0


def pack(parts: Sequence[bytes], sizes: Sequence[int]) -> bytes:
    """Tensors into one packed buffer (zero padding between them)."""
    buf = bytearray(io_bytes(sizes))
    for part, size, offset in zip(parts, sizes, io_offsets(sizes), strict=True):
        if len(part) != size:
            raise ValueError(f"tensor of {len(part)} bytes where {size} are expected")
        buf[offset:offset + size] = part
    return bytes(buf)


def unpack(data: bytes, sizes: Sequence[int]) -> list[bytes]:
    """A packed buffer's tensors."""
    return [bytes(data[offset:offset + size]) for size, offset in zip(sizes, io_offsets(sizes), strict=True)]


def inputs_from_seed(seed: int, sizes: Sequence[int]) -> list[bytes]:
    """Every input tensor the sketch generates from `seed`: one xorshift32 stream cut in input order (one input:
    exactly `input_from_seed(seed, size)`)."""
    stream = input_from_seed(seed, sum(sizes))
    starts = [sum(sizes[:i]) for i in range(len(sizes))]
    return [stream[start:start + size] for start, size in zip(starts, sizes, strict=True)]


def crc_list(outputs: Sequence[bytes]) -> str:
    """The crc= value a sketch prints for these output tensors: each one's CRC-32, comma-separated."""
    return ",".join(crc32(out) for out in outputs)
