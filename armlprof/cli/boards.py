"""`armlprof boards`: the boards armlprof knows, with their memory, clock and console."""

from __future__ import annotations

import argparse
import json

from armlprof.board import board_names, load_board


def _boards(args: argparse.Namespace) -> int:
    boards = [load_board(name) for name in board_names()]
    if args.json:
        print(json.dumps([{
            "name": b.name, "title": b.title, "mcu": b.mcu, "cpu": b.cpu_type, "clock_hz": b.clock_hz,
            "image_capacity_bytes": b.image_capacity_bytes, "image_origin": b.image_origin, "ram_bytes": b.ram_bytes,
            "ram_origin": b.ram_origin, "console": {"type": b.console.type, "address": b.console.address},
        } for b in boards], indent=2))
        return 0
    for b in boards:
        print(f"{b.name:<10} {b.title} ({b.mcu}, {b.cpu_type}, {b.clock_hz / 1e6:g} MHz): "
              f"image {b.image_capacity_bytes // 1024} KiB at {b.image_origin:#x}, RAM {b.ram_bytes // 1024} KiB "
              f"at {b.ram_origin:#x}, console {b.console.type} at {b.console.address:#x}")
    return 0


def register_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("boards", help="list the boards with their memory, clock and console",
                       epilog="examples:\n  armlprof boards\n  armlprof boards --json")
    p.add_argument("--json", action="store_true", help="print the boards as a JSON list on stdout")
    p.set_defaults(handler=_boards)
