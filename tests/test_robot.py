"""The Robot Framework suites run with plain `robot robot_tests/` on the emulator, on both boards: Metadata, tags,
figures appended to a results file `armlprof report` reads, SKIP (not FAIL) where a runtime is missing; and under
pabot (one process per board, outputs merged)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from armlprof.cli import main
from armlprof.results import ResultStore

REPO = Path(__file__).resolve().parents[1]


def _robot(tmp_path: Path, *variables: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    args = [a for v in variables for a in ("--variable", v)]
    command = [sys.executable, "-m", "robot", "--outputdir", str(tmp_path), *args, str(REPO / "robot_tests")]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)


@pytest.mark.parametrize("board", ["nano33ble", "spresense"])
def test_robot_suites_pass_on_the_emulator(tmp_path, board, capsys):
    proc = _robot(tmp_path, f"BOARD:{board}")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "5 tests, 5 passed, 0 failed" in proc.stdout
    log = (tmp_path / "output.xml").read_text()
    for figure in ("flash:", "unused RAM:", "init:", "inference:"):  # figures appear in Robot's log
        assert figure in log
    root = ET.parse(tmp_path / "output.xml").getroot()
    flash_suite = next(s for s in root.iter("suite") if s.get("name") == "Flash")
    metadata = {m.get("name"): m.text for m in flash_suite.iter("meta")}
    assert metadata["Board"].split(" (")[0] == board and metadata["Model"] == "builtin:dense"
    assert metadata["Target"] == "emulator"
    assert metadata["Runtime"].startswith("handwritten ") and metadata["armlprof"] and metadata["TVM"]
    tags = {t.text for t in flash_suite.find("test").iter("tag")}
    assert {"figure:flash", f"board:{board}", "runtime:handwritten", "target:emulator"} <= tags
    # The figures reached the results file (the key `armlprof profile` uses), and `armlprof report` shows them.
    records = ResultStore(tmp_path / "results.jsonl").records()
    assert sorted(r["metric"] for r in records) == ["flash", "inference", "init", "ram"]
    assert {r["board"] for r in records} == {board} and all(r["status"] == "ok" for r in records)
    assert main(["report", str(tmp_path / "results.jsonl"), "--format", "md"]) == 0
    out = capsys.readouterr().out
    assert f"### dense on {board}" in out and "| handwritten |" in out


def test_robot_skips_without_tflm(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "ARMLPROF_TFLM_ROOT"}
    env.update(HOME=str(tmp_path), ARMLPROF_CACHE=str(tmp_path / "cache"))  # no sketchbook, no recorded tree
    proc = _robot(tmp_path, "RUNTIME:tflm", env=env)
    assert proc.returncode == 0, proc.stdout[-3000:]  # skipped, not failed
    assert "5 tests, 0 passed, 0 failed, 5 skipped" in proc.stdout
    assert "runtime tflm unavailable here: TFLM not found" in (tmp_path / "output.xml").read_text()


def test_robot_skips_a_serial_target_without_a_port(tmp_path):
    proc = _robot(tmp_path, "TARGET:serial")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "5 tests, 0 passed, 0 failed, 5 skipped" in proc.stdout
    assert "target serial unavailable here: the serial target needs the board's port" in (
        tmp_path / "output.xml").read_text()


def test_robot_bad_board_is_one_clear_line(tmp_path):
    proc = _robot(tmp_path, "BOARD:uno")
    assert proc.returncode != 0
    assert "BOARD: unknown board 'uno'; known boards: nano33ble, spresense" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr and "No keyword with name" not in proc.stdout


def test_keyword_errors_name_the_fix():
    from armlprof.robot.ArmlprofLibrary import ArmlprofKeywordError, ArmlprofLibrary

    library = ArmlprofLibrary()
    with pytest.raises(ArmlprofKeywordError, match="call Prepare Model first"):
        library.build_measurement_sketch("ram_probe")
    with pytest.raises(ArmlprofKeywordError, match="call Start Board first"):
        library.wait_for_line_on_console("ready")


def test_libdoc_has_intro_init_and_returned_keys(tmp_path):
    spec = tmp_path / "lib.json"
    subprocess.run([sys.executable, "-m", "robot.libdoc", "armlprof.robot.ArmlprofLibrary", str(spec)], check=True,
                   capture_output=True, timeout=120)
    import json

    doc = json.loads(spec.read_text())
    assert "Robot Framework" in doc["doc"] and "armlprof report" in doc["doc"]
    assert "Set up the library for one board and target" in doc["inits"][0]["doc"]
    keywords = {k["name"]: k["doc"] for k in doc["keywords"]}
    assert "model_flash_bytes" in keywords["Measure Flash"] and "cycles_min" in keywords["Measure Init"]


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
