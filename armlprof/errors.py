"""Every error type armlprof raises, in one place. Each is an `ArmlprofError`: a failure the user can act on, whose
`str()` is one line naming the problem and the fix; the CLI prints it and exits non-zero (never a traceback).

The modules that used to define some of these re-export them (`armlprof.build.CompileError`,
`armlprof.target.TargetError`, `armlprof.measure.MeasurementFailed`), so older imports keep working.

Interrupts are not errors: Ctrl-C anywhere (also inside a compiler or the emulator) ends as KeyboardInterrupt, so no
stage ever records an interrupted measurement as a figure; the CLI prints where the results so far are.
"""

from __future__ import annotations

import signal
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


class ModelError(ArmlprofError):
    """A model file that is not a well-formed int8 .tflite model (the message names what is wrong)."""


class CacheError(ArmlprofError):
    """The armlprof cache folder cannot be used (not a folder, not writable)."""


class OptionError(ArmlprofError):
    """An option value out of range or not meaningful with the others."""


def raise_if_interrupted(returncode: int) -> None:
    """A child (compiler, linker) killed by the terminal's Ctrl-C is an interrupt, not a compile error: without
    this check, a Ctrl-C during a build would be recorded as a `failed: compile error` figure."""
    if returncode in (-signal.SIGINT, 128 + signal.SIGINT, -signal.SIGTERM):
        raise KeyboardInterrupt
