"""armlprof as a user gets it: a wheel built from this checkout, installed (not editable) into a fresh virtual
environment, run from a folder outside the repository. Boards, sketch templates, the core's C sources and the
TVM C runtime must all come from the installed package data, not from the checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="needs arm-none-eabi-gcc")


def _run(args: list[str], cwd: Path, env: dict[str, str], timeout_s: float) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout_s)
    assert proc.returncode == 0, f"{' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path, dict[str, str]]:
    """(venv python, a work folder outside the repo, the environment): armlprof installed from its wheel."""
    root = tmp_path_factory.mktemp("install")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    # Copy the sources (not .venv or build leftovers) so the build never writes into the checkout.
    source = root / "src"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "__pycache__",
                                                                ".pytest_cache", ".ruff_cache"))
    wheels = root / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels),
          str(source)], root, env, 300)
    wheel = next(wheels.glob("armlprof-*.whl"))
    venv = root / "venv"
    # --system-site-packages: armlprof's dependencies come from the interpreter running the tests (no download).
    base_python = getattr(sys, "_base_executable", sys.executable)
    _run([base_python, "-m", "venv", "--system-site-packages", str(venv)], root, env, 120)
    python = venv / "bin" / "python"
    (venv / "lib").mkdir(exist_ok=True)
    # The test interpreter's own site-packages (its venv) become visible through a .pth file.
    site = _run([sys.executable, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], root, env, 60)
    venv_site = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], root, env, 60)
    Path(venv_site.stdout.strip(), "armlprof-test-deps.pth").write_text(site.stdout.strip() + "\n")
    _run([str(python), "-m", "pip", "install", "--no-deps", "-q", str(wheel)], root, env, 300)
    work = root / "work"
    work.mkdir()
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return python, work, env


def test_installed_package_is_not_the_checkout(installed):
    python, work, env = installed
    where = _run([str(python), "-c", "import armlprof; print(armlprof.__file__)"], work, env, 60).stdout.strip()
    assert str(REPO) not in where and "site-packages" in where


def test_installed_boards_and_quick_study(installed):
    python, work, env = installed
    armlprof = str(Path(python).parent / "armlprof")
    boards = _run([armlprof, "boards"], work, env, 120).stdout
    assert "nano33ble" in boards and "spresense" in boards
    study = _run([armlprof, "study", "--quick", "--models", "builtin:dense", "--runtimes", "handwritten",
                  "--boards", "nano33ble", "--results", str(work / "results.jsonl")], work, env, 600)
    assert "Inference" in study.stdout
    records = [line for line in (work / "results.jsonl").read_text().splitlines() if line.strip()]
    assert len(records) == 4 and all('"status":"ok"' in r for r in records), records


def test_installed_robot_suite(installed):
    python, work, env = installed
    proc = _run([str(python), "-m", "robot", "--outputdir", str(work / "robot"), str(REPO / "robot_tests" /
                 "flash.robot")], work, env, 300)
    assert "1 test, 1 passed, 0 failed" in proc.stdout


@pytest.mark.skipif(not (REPO / ".venv" / ".armlprof-installed").is_file(),
                    reason="the checkout's .venv is not set up (./armlprof.sh would install it)")
def test_wrapper_runs_commands_in_the_callers_folder(tmp_path):
    """`./armlprof.sh <command>` from another folder: relative paths are the caller's (it used to cd to the
    checkout, so `study` wrote results.jsonl there and `report results.jsonl` read the checkout's)."""
    from tests.test_report import _write, synthetic_records

    _write(tmp_path / "results.jsonl", synthetic_records())
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    _run([str(REPO / "armlprof.sh"), "report", "results.jsonl", "--format", "csv", "--out", "out"], tmp_path, env,
         300)
    assert (tmp_path / "out" / "results.csv").is_file()
