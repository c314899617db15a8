from __future__ import annotations

import subprocess
import sys

from armlprof.cli import main

from .conftest import SKETCHES_DIR


def test_doctor_reports_one_line_per_piece(capsys):
    assert main(["doctor"]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = ["ARM toolchain", "apache-tvm", "tflite-micro", "renode", "arduino-cli", "TFLM source tree", "serial ports"]
    assert len(lines) == len(names)
    for line, name in zip(lines, names, strict=True):
        assert line.startswith(("[ok     ] ", "[missing] ")) and name in line and " — " in line
    assert lines[0].startswith("[ok     ] ARM toolchain")  # the tests themselves need it


def test_boards_lists_platform_folders(capsys):
    assert main(["boards"]) == 0
    out = capsys.readouterr().out
    assert "nano33ble" in out and "64 MHz" in out and "0x40002000" in out
    assert "spresense" in out and "156 MHz" in out and "0x41ac000" in out


def test_build_prints_sizes(capsys):
    assert main(["build", str(SKETCHES_DIR / "core_api"), "--board", "spresense"]) == 0
    out = capsys.readouterr().out
    assert "flash:" in out and "model-attributable" in out and "largest symbols:" in out


def test_errors_are_one_line_and_non_zero():
    proc = subprocess.run([sys.executable, "-m", "armlprof.cli", "build", str(SKETCHES_DIR / "core_api"),
                           "--board", "uno"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "armlprof: error: unknown board 'uno'; known boards: nano33ble, spresense"]
    assert "Traceback" not in proc.stderr


def test_compile_error_prints_diagnostics_then_one_line(tmp_path):
    sketch = tmp_path / "bad"
    sketch.mkdir()
    (sketch / "bad.ino").write_text("void setup() { nope(); }\nvoid loop() {}\n")
    proc = subprocess.run([sys.executable, "-m", "armlprof.cli", "build", str(sketch), "--board", "nano33ble"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("armlprof: error: compile error:") and "nope" in last
    assert "In function 'void setup()'" in proc.stderr  # the compiler's own diagnostics come first
