"""`armlprof build` and `armlprof boards`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from armlprof.board import board_names, load_board
from armlprof.build import BuildResult, build_sketch


def add_board_arguments(parser: argparse.ArgumentParser) -> None:
    """--board and --memory-kib, shared by every command that targets a board."""
    parser.add_argument("--board", required=True, help=f"board name ({', '.join(board_names())})")
    parser.add_argument("--memory-kib", type=int, default=None,
                        help="board memory option (spresense: main-core share, 128..1536 KiB)")


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


def _boards(args: argparse.Namespace) -> int:
    for name in board_names():
        b = load_board(name)
        print(f"{name:<10} {b.title} ({b.meta.get('mcu', '?')}, {b.cpu_type}, {b.clock_hz / 1e6:g} MHz): "
              f"image {b.image_capacity_bytes // 1024} KiB at {b.image_origin:#x}, RAM {b.ram_bytes // 1024} KiB "
              f"at {b.ram_origin:#x}, console {b.console.type} at {b.console.address:#x}")
    return 0


def register_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("build", help="compile an Arduino sketch for a board into an ELF and report its sizes")
    p.add_argument("sketch", help="sketch folder (<name>/<name>.ino and optional src/)")
    add_board_arguments(p)
    p.add_argument("--optimization", default=None, help="override the board's optimization flag (e.g. -O2)")
    p.add_argument("--flag", action="append", help="extra compiler flag (repeatable), e.g. --flag=-DFOO=1")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=_build)
    p = sub.add_parser("boards", help="list the boards under platforms/")
    p.set_defaults(handler=_boards)
