from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from armlprof.cli import main

from .conftest import SKETCHES_DIR


def test_doctor_reports_one_line_per_piece(capsys):
    main(["doctor"])
    lines = capsys.readouterr().out.splitlines()
    names = ["ARM toolchain", "apache-tvm", "tflite-micro", "unicorn", "renode", "arduino-cli", "TFLM source tree",
             "serial ports"]
    assert len(lines) == len(names)
    for line, name in zip(lines, names, strict=True):
        assert line.startswith(("[ok     ] ", "[missing] ")) and name in line and " — " in line
    assert lines[0].startswith("[ok     ] ARM toolchain")  # the tests themselves need it


def test_doctor_json_and_exit_status(capsys, monkeypatch):
    from armlprof import doctor

    assert main(["doctor", "--json"]) == 0  # toolchain, emulator and reference interpreter are here
    checks = json.loads(capsys.readouterr().out)
    assert {c["name"] for c in checks if c["required"]} == {"ARM toolchain", "tflite-micro", "unicorn"}
    monkeypatch.setattr(doctor, "CHECKS", [*doctor.CHECKS, lambda: doctor.Check("x", False, "get x", "y", True)])
    assert main(["doctor", "--json"]) == 1
    captured = capsys.readouterr()
    json.loads(captured.out)  # stdout stays pure JSON; the verdict is on stderr
    assert captured.err.strip() == ("armlprof: error: x missing: armlprof cannot profile a model here; install what "
                                    "the lines above say")


def test_serial_ports_only_usb_known_boards_first():
    from types import SimpleNamespace as Port

    from armlprof.doctor import usb_serial_ports

    ports = usb_serial_ports([Port(device="/dev/ttyS0", vid=None, pid=None, description="ttyS0"),
                              Port(device="/dev/ttyUSB0", vid=0x0403, pid=0x6001, description="FT232R"),
                              Port(device="/dev/ttyACM0", vid=0x2341, pid=0x805A, description="Nano 33 BLE")])
    assert [p.device for p in ports] == ["/dev/ttyACM0", "/dev/ttyUSB0"]
    assert ports[0].text() == "/dev/ttyACM0 (nano33ble, USB 2341:805a)"


def test_boards_lists_platform_folders(capsys):
    assert main(["boards"]) == 0
    out = capsys.readouterr().out
    assert "nano33ble" in out and "64 MHz" in out and "0x40002000" in out
    assert "spresense" in out and "156 MHz" in out and "0x41ac000" in out
    assert main(["boards", "--json"]) == 0
    boards = {b["name"]: b for b in json.loads(capsys.readouterr().out)}
    assert boards["spresense"]["clock_hz"] == 156_000_000 and boards["nano33ble"]["console"]["address"] == 0x40002000


def test_runtimes_and_models(capsys):
    assert main(["runtimes", "--json"]) == 0
    runtimes = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(runtimes) == {"handwritten", "tvm-aot", "tvm-graph", "tflm"}
    assert runtimes["handwritten"]["available"] and runtimes["tvm-aot"]["version"]
    assert all(r["available"] or r["reason"] for r in runtimes.values())
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for spec in ("builtin:dense", "builtin:micro_speech", "builtin:person_detect", "builtin:ops_coverage"):
        assert spec in out
    assert "ops: CONV_2D" in out or "ops: DEPTHWISE_CONV_2D" in out


def test_help_shows_defaults_and_examples(capsys):
    for command in ("profile", "study", "report", "compare", "doctor", "boards", "runtimes", "models", "get"):
        assert main([command, "--help"]) == 0  # argparse's exit becomes main()'s status
        out = capsys.readouterr().out
        assert "examples:\n  armlprof " in out, command
    assert main(["profile", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "(default: results.jsonl)" in out and "(default: 900.0)" in out


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


SHARED_TFLM = Path(__file__).resolve().parents[1].parent / "shared" / "tflm" / "Arduino_TensorFlowLite"
needs_shared_tflm = pytest.mark.skipif(not SHARED_TFLM.is_dir(), reason="../shared/tflm not present")


@pytest.fixture
def tflm_env(tmp_path, monkeypatch):
    """A private cache (the record of `get tflm`) and no TFLM from the environment."""
    monkeypatch.setenv("ARMLPROF_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("ARMLPROF_TFLM_ROOT", raising=False)
    return tmp_path


@needs_shared_tflm
def test_get_tflm_verifies_and_records_an_existing_tree(tflm_env, capsys):
    from armlprof.runtime.tflm.tree import find_tree

    folder = tflm_env / "Arduino_TensorFlowLite"
    shutil.copytree(SHARED_TFLM, folder)
    assert main(["get", "tflm", "--dir", str(folder)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("TFLM tree verified and recorded: arduino-library") and "CMSIS-NN" in out
    tree = find_tree(home=tflm_env)  # a later run finds it through the record
    assert tree is not None and tree.root == folder.resolve() and tree.found_by == "armlprof get tflm"


def test_get_tflm_without_a_network_says_what_to_do(tflm_env, capsys, monkeypatch):
    monkeypatch.setenv("ARMLPROF_TFLM_GIT_URL", "https://tflm.invalid/tflite-micro-arduino-examples")  # never resolves
    folder = tflm_env / "new"
    assert main(["get", "tflm", "--dir", str(folder), "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("armlprof: error: no network here to fetch TFLM")
    assert "git clone https://github.com/tensorflow/tflite-micro-arduino-examples" in err[0]
    assert "armlprof get tflm --dir" in err[0] and not folder.exists()


def test_get_tflm_rejects_a_folder_that_is_no_tree(tflm_env, capsys):
    folder = tflm_env / "junk"
    folder.mkdir()
    (folder / "README").write_text("not TFLM")
    assert main(["get", "tflm", "--dir", str(folder)]) == 2
    assert "is not a TFLM tree" in capsys.readouterr().err


@needs_shared_tflm
def test_get_tflm_clones_and_checks_out_a_ref(tflm_env, capsys, monkeypatch):
    """The clone path, from a local repository (no network): clone, checkout --ref, verify, record."""
    remote = tflm_env / "remote"
    shutil.copytree(SHARED_TFLM, remote)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run([*git, "init", "-q"], cwd=remote, check=True)
    subprocess.run([*git, "add", "-A"], cwd=remote, check=True)
    subprocess.run([*git, "commit", "-qm", "tree"], cwd=remote, check=True)
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=remote, check=True, capture_output=True,
                         text=True).stdout.strip()
    monkeypatch.setenv("ARMLPROF_TFLM_GIT_URL", remote.as_uri())
    folder = tflm_env / "clone"
    assert main(["get", "tflm", "--dir", str(folder), "--ref", sha, "-q"]) == 0
    assert capsys.readouterr().out.startswith("TFLM tree fetched, verified and recorded: arduino-library")
    assert (folder / "library.properties").is_file()
    assert main(["get", "tflm", "--dir", str(tflm_env / "clone2"), "--ref", "no-such-ref", "-q"]) == 2
    assert "git checkout no-such-ref failed" in capsys.readouterr().err


def test_bash_completion_from_the_parser(tmp_path, capsys):
    assert main(["completion", "bash"]) == 0
    script = tmp_path / "armlprof.bash"
    script.write_text(capsys.readouterr().out)

    def complete(*words: str) -> list[str]:
        array = " ".join(f"'{w}'" for w in words)
        proc = subprocess.run(["bash", "-c", f'source {script}; COMP_WORDS=(armlprof {array}); '
                               f'COMP_CWORD={len(words)}; _armlprof; echo "${{COMPREPLY[@]}}"'],
                              capture_output=True, text=True, check=True)
        return proc.stdout.split()

    assert complete("pro") == ["profile"]
    assert complete("profile", "--board", "") == ["nano33ble", "spresense"]
    assert complete("report", "--format", "") == ["table", "md", "json", "csv", "html"]
    assert "--wait-for-client" in complete("run", "--w")
