"""The Robot Framework suites run with plain `robot robot_tests/` on the emulator, on both boards, and under pabot
(one process per board, outputs merged)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("board", ["nano33ble", "spresense"])
def test_robot_suites_pass_on_the_emulator(tmp_path, board):
    proc = subprocess.run(
        [sys.executable, "-m", "robot", "--outputdir", str(tmp_path), "--variable", f"BOARD:{board}",
         str(REPO / "robot_tests")],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "5 tests, 5 passed, 0 failed" in proc.stdout
    log = (tmp_path / "output.xml").read_text()
    for figure in ("flash:", "unused RAM:", "init:", "inference:"):  # figures appear in Robot's log
        assert figure in log


def test_keyword_errors_name_the_fix():
    from armlprof.errors import ArmlprofError
    from armlprof.robot.ArmlprofLibrary import ArmlprofLibrary

    library = ArmlprofLibrary()
    with pytest.raises(ArmlprofError, match="call Prepare Model first"):
        library.build_measurement_sketch("ram_probe")
    with pytest.raises(ArmlprofError, match="call Start Board first"):
        library.wait_for_line_on_console("ready")


def test_pabot_runs_the_suites_one_process_per_board_merged(tmp_path):
    pytest.importorskip("pabot", reason="robotframework-pabot is not installed (pip install -e '.[dev]')")
    proc = subprocess.run(
        [sys.executable, str(REPO / "robot_tests" / "run_pabot.py"), "--boards", "nano33ble,spresense",
         "--outputdir", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "10 tests, 10 passed, 0 failed" in proc.stdout  # both boards' 5 tests, merged
    assert proc.stdout.count("PASSED Group_") == 2  # one execution item (process) per board
    merged = (tmp_path / "out" / "output.xml").read_text()
    assert merged.count('name="Robot Tests" source=') == 2  # both boards' runs, in one output.xml
    inference = set(re.findall(r"inference: [0-9.]+ ms \(([0-9,]+) cycles\)", merged))
    assert len(inference) == 2, inference  # each board's own figure (different clocks and memory timing)
