"""Every error type armlprof raises, in one place. Each is an `ArmlprofError`: a failure the user can act on, whose
`str()` is one line naming the problem and the fix; the CLI prints it and exits non-zero (never a traceback).

The modules that used to define some of these re-export them (`armlprof.build.CompileError`,
`armlprof.target.TargetError`, `armlprof.measure.MeasurementFailed`), so older imports keep working.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: board.py and build.py import this module
    from armlprof.board import Board
    from armlprof.build import SymbolSize


class ArmlprofError(Exception):
    """A failure the user can act on. `str(error)` is one line; the CLI prints it and exits non-zero."""

    exit_code = 2


class BoardError(ArmlprofError):
    """A board folder or its board.toml is unusable: the message names the file, the key and the fix."""


class CompileError(ArmlprofError):
    """The compiler's first error as the message; all its diagnostics in `details`."""

    def __init__(self, message: str, details: str) -> None:
        super().__init__(message)
        self.details = details


class ImageTooLarge(ArmlprofError):
    """The linked image (or image + stack reserve) does not fit the board's memory."""

    def __init__(self, board: Board, what: str, needed_bytes: int, available_bytes: int,
                 largest: Sequence[SymbolSize]) -> None:
        top = ", ".join(f"{s.name} ({s.size_bytes:,} B)" for s in largest[:3])
        super().__init__(
            f"does not fit: needs {needed_bytes:,} B {what}, {board.name} has {available_bytes:,} B; "
            f"largest symbols: {top}"
        )
        self.needed_bytes = needed_bytes
        self.available_bytes = available_bytes
        self.what = what


class TargetError(ArmlprofError):
    """A run could not be carried out (no ready line, board not answering); the message says what to check."""


class MeasurementFailed(ArmlprofError):
    """A figure could not be measured; the message (one line) is the record's reason."""
