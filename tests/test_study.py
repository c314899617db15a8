"""`armlprof profile` / `study`: records per figure, resume, unavailable cells, interruption."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from armlprof.cli import main
from armlprof.results import ResultStore
from armlprof.study import ProfileOptions, profile, study

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("board", ["nano33ble", "spresense"])
def test_profile_measures_all_four_figures_then_resumes(tmp_path, board):
    results = tmp_path / "results.jsonl"
    messages: list[str] = []
    written = profile("builtin:dense", "handwritten", board, results, ProfileOptions(quick=True), messages.append)
    assert [r["metric"] for r in written] == ["flash", "ram", "init", "inference"]
    assert all(r["status"] == "ok" for r in written), [r.get("reason") for r in written]
    for r in written:
        assert r["model"] == "dense" and r["board"] == board and r["target"] == "emulator"
        assert r["runtime_version"] and r["model_sha256"] and r["flags"] and r["clock_hz"]
    ram = written[1]["values"]
    assert ram["free_ram_bytes"] > 0 and ram["free_ram_estimate_bytes"] is not None
    assert written[3]["values"]["runs"] == 2  # --quick on a deterministic target
    # A rerun with the same file measures nothing again.
    messages.clear()
    assert profile("builtin:dense", "handwritten", board, results, ProfileOptions(quick=True), messages.append) == []
    assert sum("already measured" in m for m in messages) == 4
    assert len(ResultStore(results).records()) == 4


def test_unavailable_target_and_runtime_say_why(tmp_path, monkeypatch):
    results = tmp_path / "r.jsonl"
    monkeypatch.setenv("PATH", "/nonexistent")  # no renode here
    written = profile("builtin:dense", "handwritten", "nano33ble", results,
                      ProfileOptions(target="renode", measures=["flash", "ram"]), lambda _: None)
    assert [(r["metric"], r["status"]) for r in written] == [("flash", "unavailable"), ("ram", "unavailable")]
    assert "renode not found" in written[0]["reason"]
    # An unavailable figure is retried on the next run (only ok figures are skipped).
    again = profile("builtin:dense", "handwritten", "nano33ble", results,
                    ProfileOptions(target="renode", measures=["flash"]), lambda _: None)
    assert len(again) == 1


def test_study_with_a_model_the_runtime_refuses(tmp_path):
    # handwritten refuses .tflite models: every figure of that cell is failed with the runtime's reason.
    model = REPO.parent / "shared" / "models" / "micro_speech_quantized.tflite"
    if not model.is_file():
        pytest.skip(f"{model} not found (the ../shared folder beside the repository is absent)")
    written = study(tmp_path / "r.jsonl", models=[str(model)], runtimes=["handwritten"], boards=["nano33ble"],
                    options=ProfileOptions(measures=["flash", "ram"]), progress=lambda _: None)
    assert [r["status"] for r in written] == ["failed", "failed"]
    assert "only runs builtin:dense" in written[0]["reason"]


def test_cli_errors_are_one_line(tmp_path, capsys):
    code = main(["profile", "--model", str(tmp_path / "missing.tflite"), "--runtime", "handwritten",
                 "--board", "nano33ble", "--results", str(tmp_path / "r.jsonl")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1 and err[0].startswith("armlprof: error: model not found")
    code = main(["profile", "--model", "builtin:dense", "--runtime", "handwritten", "--board", "nano33ble",
                 "--measure", "flash,speed", "--results", str(tmp_path / "r.jsonl")])
    assert code != 0 and "unknown measurement(s) speed" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_interrupted_profile_resumes(tmp_path, sig):
    results = tmp_path / "results.jsonl"
    cmd = [sys.executable, "-m", "armlprof.cli", "profile", "--model", "builtin:dense", "--runtime", "handwritten",
           "--board", "nano33ble", "--results", str(results), "--init-runs", "400"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if results.is_file() and results.read_text().count("\n") >= 2:  # flash and ram are on disk
            break
        time.sleep(0.02)
    assert proc.poll() is None, "profile finished before it could be interrupted"
    os.kill(proc.pid, sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0
    if sig == signal.SIGINT:
        assert f"interrupted; results so far are in {results}" in err
    first = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
    assert [r["metric"] for r in first][:2] == ["flash", "ram"]

    rerun = subprocess.run([*cmd[:-2], "--init-runs", "2"], capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert "flash: already measured" in rerun.stderr and "ram: already measured" in rerun.stderr
    records = ResultStore(results).records()
    assert sum(r["metric"] == "flash" for r in records) == 1 and sum(r["metric"] == "ram" for r in records) == 1
    assert {r["metric"] for r in records if r["status"] == "ok"} == {"flash", "ram", "init", "inference"}
    assert "| handwritten |" in rerun.stdout  # the study's table


def test_runtime_options_are_part_of_the_record_flags(tmp_path, monkeypatch):


    monkeypatch.setenv("ARMLPROF_TFLM_ROOT", str(tmp_path / "no-tree"))  # tflm unavailable: cells say why
    options = ProfileOptions(measures=("flash",), runtime_options={"tflm": {"kernels": "reference"}})
    records = profile("builtin:dense", "tflm", "nano33ble", tmp_path / "r.jsonl", options, progress=lambda _: None)
    assert [r["status"] for r in records] == ["unavailable"]
    assert "tflm:kernels=reference" in records[0]["flags"]
    assert "-Os" in records[0]["flags"]


def test_tflm_root_must_exist(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "armlprof.cli", "profile", "--model", "builtin:dense", "--runtime",
                           "tflm", "--board", "nano33ble", "--results", str(tmp_path / "r.jsonl"),
                           "--tflm-root", str(tmp_path / "missing")], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.strip().startswith("armlprof: error: --tflm-root")
