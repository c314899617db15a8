"""One exception type for every user-facing failure: a one-line message naming the problem and the fix."""


class ArmlprofError(Exception):
    """A failure the user can act on. `str(error)` is one line; the CLI prints it and exits non-zero."""

    exit_code = 2
