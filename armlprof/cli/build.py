"""`armlprof build SKETCH --board B`: compile an Arduino sketch with armlprof's core and report its sizes."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from armlprof.board import load_board
from armlprof.build import BuildResult, build_sketch
from armlprof.cli.options import add_board_arguments, add_compile_arguments


def format_build(result: BuildResult) -> str:
    lines = [
        f"elf:              {result.elf}",
        f"flash:            {result.flash_bytes:,} B"
        + (f" (model-attributable {result.model_flash_bytes:,} B; empty sketch {result.baseline_flash_bytes:,} B)"
           if result.baseline_flash_bytes is not None else ""),
        f"static RAM:       {result.static_ram_bytes:,} B (data {result.data_bytes:,} + bss {result.bss_bytes:,})",
        f"compiled objects: {result.compiled_objects}{' (image from cache)' if result.cached else ''}",
        "largest symbols:",
        *(f"  {s.size_bytes:>9,} B  {s.kind:<5} {s.name}" for s in result.largest_symbols),
    ]
    return "\n".join(lines)


def _build(args: argparse.Namespace) -> int:
    board = load_board(args.board, args.memory_kib)
    result = build_sketch(Path(args.sketch), board, optimization=args.optimization, extra_flags=args.flag or ())
    print(json.dumps(result.to_dict(), indent=2) if args.json else format_build(result))
    return 0


def register_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("build", help="compile an Arduino sketch for a board into an ELF and report its sizes")
    p.add_argument("sketch", help="sketch folder (<name>/<name>.ino and optional src/)")
    add_board_arguments(p)
    add_compile_arguments(p)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=_build)
