"""Progress on stderr: rich spinners and bars on a terminal, plain lines otherwise (CI logs), nothing with -q.

One small object every long step reports to, so callers (the study, a parallel executor) need no rich code:

    progress = Progress(verbosity=1)
    progress.start("compile", total=None)    # spinner + elapsed (TVM generation, compiling)
    progress.start("ram", total=20)         # a bar (bisection trials, timed runs)
    progress.advance("ram")
    progress.done("ram", "ram: ok")
    progress.message("a line")               # or progress("a line"): it is a Callable[[str], None] too

`step(task)` gives a `Callable[[str], None]` that advances the task by one per message (measurement code reports
one line per trial or run), so a function that takes a plain progress callback drives a bar unchanged.
Verbosity: 0 = quiet (nothing), 1 = normal (results and finished steps; on a terminal the step lines only as the
bar's text), 2 = verbose (every step line, also on a terminal).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

QUIET, NORMAL, VERBOSE = 0, 1, 2


class Progress:
    """Reports of named tasks (a name is its id; `start` on a running name restarts it). Thread-safe."""

    def __init__(self, verbosity: int = NORMAL, stream: TextIO | None = None, live: bool | None = None) -> None:
        self.verbosity = verbosity
        self.stream = stream or sys.stderr
        # Bars only where a person watches: a terminal and not quiet.
        self.live = (self.stream.isatty() if live is None else live) and verbosity > QUIET
        self._lock = threading.RLock()
        self._started: dict[str, float] = {}
        self._tasks: dict[str, Any] = {}  # name -> rich TaskID
        self._rich: Any = None
        if self.live:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                ProgressColumn,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as RichProgress
            from rich.text import Text

            class IfTotal(ProgressColumn):
                """A column shown only for tasks with a known total (a bar); spinners show just the elapsed time."""

                def __init__(self, column: ProgressColumn) -> None:
                    super().__init__()
                    self.column = column

                def render(self, task: Any) -> Any:
                    return self.column.render(task) if task.total is not None else Text("")

            self._rich = RichProgress(
                SpinnerColumn(), TextColumn("{task.description}", markup=False),  # "[cell]" is not markup
                IfTotal(BarColumn(bar_width=24)), IfTotal(MofNCompleteColumn()), TimeElapsedColumn(),
                IfTotal(TimeRemainingColumn()), console=Console(file=self.stream), transient=True)

    # ---- the API a caller needs
    def __call__(self, text: str) -> None:
        self.message(text)

    def message(self, text: str, level: int = NORMAL) -> None:
        """One line (kept in the scrollback above the bars on a terminal)."""
        if self.verbosity < level:
            return
        with self._lock:
            if self._rich is not None:
                self._rich.console.print(text, markup=False, highlight=False, soft_wrap=True)
            else:
                print(text, file=self.stream, flush=True)

    def start(self, task: str, total: int | None = None, description: str | None = None) -> None:
        """Begin `task`: a bar of `total` steps, or a spinner with the elapsed time when the total is unknown."""
        with self._lock:
            self._started[task] = time.monotonic()
            if self._rich is not None:
                if task in self._tasks:
                    self._rich.remove_task(self._tasks.pop(task))
                if not self._tasks:
                    self._rich.start()
                self._tasks[task] = self._rich.add_task(description or task, total=total)
            elif self.verbosity >= NORMAL and description:
                print(description, file=self.stream, flush=True)

    def advance(self, task: str, steps: int = 1, description: str | None = None) -> None:
        with self._lock:
            if self._rich is not None and task in self._tasks:
                fields = {"description": description} if description else {}
                self._rich.update(self._tasks[task], advance=steps, **fields)

    def done(self, task: str, message: str | None = None) -> float:
        """End `task`; `message` (if any) is printed with the elapsed time. Returns the elapsed seconds."""
        with self._lock:
            elapsed = time.monotonic() - self._started.pop(task, time.monotonic())
            if self._rich is not None and task in self._tasks:
                self._rich.remove_task(self._tasks.pop(task))
                if not self._tasks:
                    self._rich.stop()
            if message:
                self.message(f"{message} ({elapsed:.1f} s)")
            return elapsed

    def close(self) -> None:
        with self._lock:
            for task in list(self._tasks):
                self.done(task)

    # ---- helpers
    def step(self, task: str, prefix: str = "") -> Callable[[str], None]:
        """A plain progress callback that advances `task` by one per line, shows the line as the bar's text and
        prints it (plain mode at normal verbosity, as before; on a terminal only with -v)."""

        def report(text: str) -> None:
            self.advance(task, description=f"{prefix}{text}")
            self.message(f"{prefix}{text}", VERBOSE if self.live else NORMAL)

        return report

    @contextmanager
    def task(self, task: str, total: int | None = None, description: str | None = None,
             done: str | None = None, prefix: str = "") -> Iterator[Callable[[str], None]]:
        """`start` ... `done` around a block; yields `step(task)`."""
        self.start(task, total, description)
        try:
            yield self.step(task, prefix)
        except BaseException:
            self.done(task)  # the caller reports the failure
            raise
        self.done(task, done)


def task(progress: Callable[[str], None], name: str, total: int | None = None, description: str | None = None,
         done: str | None = None, prefix: str = "") -> Any:
    """`progress.task(...)` for a Progress, else plain lines through a callback (the study accepts either).
    Step lines get `prefix`; `description` and `done` are printed as given."""
    if isinstance(progress, Progress):
        return progress.task(name, total, description, done, prefix)

    @contextmanager
    def plain() -> Iterator[Callable[[str], None]]:
        started = time.monotonic()
        if description:
            progress(description)
        yield lambda text: progress(prefix + text)
        if done:
            progress(f"{done} ({time.monotonic() - started:.1f} s)")

    return plain()
