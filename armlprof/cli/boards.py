"""`armlprof boards`: the boards armlprof knows, with their memory, clock and console."""

from __future__ import annotations

import argparse

from armlprof.board import board_names, load_board


def _boards(args: argparse.Namespace) -> int:
    for name in board_names():
        b = load_board(name)
        print(f"{name:<10} {b.title} ({b.mcu}, {b.cpu_type}, {b.clock_hz / 1e6:g} MHz): "
              f"image {b.image_capacity_bytes // 1024} KiB at {b.image_origin:#x}, RAM {b.ram_bytes // 1024} KiB "
              f"at {b.ram_origin:#x}, console {b.console.type} at {b.console.address:#x}")
    return 0


def register_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("boards", help="list the boards with their memory, clock and console")
    p.set_defaults(handler=_boards)
