"""Helpers of the reliability tests: the CLI in a subprocess (its own session, so a signal reaches it and every
compiler it runs, as a terminal's Ctrl-C does), and the figures of a results file without the run-specific fields."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from armlprof.results import ResultStore

REPO_ROOT = Path(__file__).resolve().parents[1]
# Fields that differ between two correct runs of the same figure.
RUN_FIELDS = ("date",)
VOLATILE_VALUES = ("trials",)  # the bisection's trial count depends on where a resumed search starts


def cli_env(cache: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    if cache is not None:
        env["ARMLPROF_CACHE"] = str(cache)
    return env


def start_cli(args: list[str], env: dict[str, str], cwd: Path | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "armlprof", *args], env=env, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def run_cli(args: list[str], env: dict[str, str], timeout_s: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "armlprof", *args], env=env, capture_output=True, text=True,
                          timeout=timeout_s, check=False)


def interrupt_after(proc: subprocess.Popen, delay_s: float, timeout_s: float = 300) -> tuple[int, str, str]:
    """SIGINT to the process group after `delay_s` (if still running); (returncode, stdout, stderr)."""
    try:
        proc.wait(timeout=delay_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=timeout_s)
    return proc.returncode, out, err


def figures(path: Path) -> dict[tuple, dict[str, Any]]:
    """metric -> values of every ok record (each must be the same figure as the reference)."""
    found: dict[tuple, dict[str, Any]] = {}
    for record in ResultStore(path).records():
        key = (record["model_sha256"], record["runtime"], record["board"], record["metric"])
        values = {k: v for k, v in (record["values"] or {}).items() if k not in VOLATILE_VALUES}
        found.setdefault(key, []).append((record["status"], values, record.get("reason")))  # type: ignore[attr-defined]
    return found


def assert_no_traceback(stderr: str) -> None:
    for marker in ("Traceback", "Exception ignored", "internal error"):
        assert marker not in stderr, stderr[-3000:]


def wait_s(start: float) -> float:
    return time.monotonic() - start
