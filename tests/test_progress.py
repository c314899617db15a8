"""armlprof.progress: plain lines off a terminal, nothing with -q, bars driven by plain callbacks."""

from __future__ import annotations

import io

from armlprof.progress import NORMAL, QUIET, VERBOSE, Progress, task


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_when_not_a_terminal() -> None:
    out = io.StringIO()
    p = Progress(NORMAL, stream=out)
    assert not p.live
    with p.task("gen", description="generating", done="generated") as step:
        step("trial 1")
    p("a result")
    lines = out.getvalue().splitlines()
    assert lines[:2] == ["generating", "trial 1"] and lines[2].startswith("generated (") and lines[3] == "a result"


def test_quiet_prints_nothing_and_failure_prints_no_done_line() -> None:
    out = io.StringIO()
    p = Progress(QUIET, stream=out)
    p("x")
    with p.task("t", 3, "start", "done") as step:
        step("y")
    assert out.getvalue() == ""
    out = io.StringIO()
    p = Progress(NORMAL, stream=out)
    try:
        with p.task("t", description="compiling", done="compiled"):
            raise ValueError("boom")
    except ValueError:
        pass
    assert out.getvalue() == "compiling\n"


def test_bar_on_a_terminal_steps_only_with_verbose() -> None:
    out = _Tty()
    p = Progress(NORMAL, stream=out)
    assert p.live
    p.start("ram", total=4, description="ram bisection")
    step = p.step("ram")
    step("trial 1")
    step("trial 2")
    assert p._rich.tasks[0].completed == 2 and p._rich.tasks[0].total == 4
    p.done("ram", "ram: ok")
    assert "ram: ok (" in out.getvalue() and "trial 1" not in out.getvalue()
    out = _Tty()
    p = Progress(VERBOSE, stream=out)
    with p.task("runs", 2) as step:
        step("run 1/2")
    assert "run 1/2" in out.getvalue()


def test_task_helper_accepts_a_plain_callback() -> None:
    seen: list[str] = []
    with task(seen.append, "x", 2, "begin", "end", prefix="[c] ") as step:
        step("one")
    assert seen[:2] == ["begin", "[c] one"] and seen[2].startswith("end (")
