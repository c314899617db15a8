"""One exception type for every user-facing failure: a one-line message naming the problem and the fix.

Interrupts are not errors: Ctrl-C anywhere (also inside a compiler or the emulator) ends as KeyboardInterrupt, so no
stage ever records an interrupted measurement as a figure; the CLI prints where the results so far are.
"""

from __future__ import annotations

import signal


class ArmlprofError(Exception):
    """A failure the user can act on. `str(error)` is one line; the CLI prints it and exits non-zero."""

    exit_code = 2


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
