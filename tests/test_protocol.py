from __future__ import annotations

import zlib

from armlprof.protocol import crc32, format_host_line, input_from_seed, parse_line


def test_parse_tagged_line():
    r = parse_line("@armlprof event=ram alloc_bytes=1024 status=ok crc=0a0b0c0d\r\n")
    assert r is not None and r.event == "ram"
    assert r.int("alloc_bytes") == 1024 and r.get("status") == "ok" and r.get("crc") == "0a0b0c0d"


def test_ordinary_output_is_not_a_record():
    assert parse_line("hello world") is None
    assert parse_line("@armlprofx event=a") is None
    assert parse_line("@armlprof no_event=1") is None


def test_host_line():
    assert format_host_line(alloc=12, seed=3) == "alloc=12 seed=3\n"


def test_input_from_seed_is_xorshift32_top_byte():
    # First xorshift32 states from seed 1: 270369, 67634689, 2647435461 -> top bytes 0x00, 0x04, 0x9d.
    assert input_from_seed(1, 3) == bytes([0x00, 0x04, 0x9D])
    assert input_from_seed(0, 8) == input_from_seed(1, 8)  # zero seed would stick at zero
    assert input_from_seed(7, 1000) != input_from_seed(8, 1000)


def test_crc32_matches_zlib():
    data = bytes(range(256))
    assert crc32(data) == f"{zlib.crc32(data):08x}"
