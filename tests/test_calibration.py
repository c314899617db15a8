"""armlprof calibrate: the microbenchmarks fit the cycle model's board parameters. Against the emulator with
deliberately perturbed parameters the fit recovers them (directly and over the serial target on the pty-backed
emulated board); the calibration file then drives later runs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from armlprof import calibration
from armlprof.board import load_board
from armlprof.cli import main as cli_main
from armlprof.emulator import Emulator
from armlprof.errors import ArmlprofError

ITERATIONS = 2
PERTURBED = {
    "nano33ble": {"regions.flash.load_wait_states": 5, "regions.flash.fetch_wait_states": 1,
                  "data_load_wait_states": 1, "data_store_wait_states": 2, "branch_refill_cycles": 3,
                  "allocator_call_cycles": 700},
    "spresense": {"regions.sram.fetch_wait_states": 2, "data_load_wait_states": 3, "data_store_wait_states": 1,
                  "branch_refill_cycles": 1, "allocator_call_cycles": 1200},
}


@pytest.fixture(autouse=True)
def no_user_calibration(tmp_path, monkeypatch):
    """No per-user or explicit calibration file from the developer's machine leaks into these tests."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv(calibration.ENV_FILE, raising=False)
    monkeypatch.setattr(calibration, "_process_files", ())


def _assert_recovered(fitted: dict[str, float], truth: dict[str, float]) -> None:
    for key, value in truth.items():
        assert fitted[key] == pytest.approx(value, rel=0.05, abs=0.05), key


@pytest.mark.parametrize("board_name", ["nano33ble", "spresense"])
def test_round_trip_recovers_perturbed_parameters(board_name):
    board = load_board(board_name)
    truth = PERTURBED[board_name]
    assert set(truth) == {p.key for p in calibration.board_parameters(board)}
    measured = calibration.emulator_runner(ITERATIONS)(calibration.with_timing(board, truth, "truth"))
    result = calibration.fit(board, measured, ITERATIONS, "emulator")
    _assert_recovered(result.parameters, truth)
    assert max(abs(r) / result.measured[k] for k, r in result.residuals().items()) < 1e-6
    # The board's defaults are a different machine: the same kernels cost measurably less or more.
    assert calibration.emulator_runner(ITERATIONS)(board) != measured


def test_fit_stays_inside_the_physical_bounds():
    board = load_board("nano33ble")
    # P = 6 is no Cortex-M4 (DDI 0439D: 1..3): the fit must stop at the bound, not invent it.
    truth = PERTURBED["nano33ble"] | {"branch_refill_cycles": 6}
    measured = calibration.emulator_runner(ITERATIONS)(calibration.with_timing(board, truth, "truth"))
    fitted = calibration.fit(board, measured, ITERATIONS, "emulator").parameters
    assert fitted["branch_refill_cycles"] == 3


def test_bounded_lstsq_matches_unconstrained_inside_and_clamps_outside():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(8, 3))
    x = np.array([1.0, -2.0, 0.5])
    inside = calibration.bounded_lstsq(a, a @ x, np.full(3, -5.0), np.full(3, 5.0))
    assert inside == pytest.approx(x)
    clamped = calibration.bounded_lstsq(a, a @ x, np.array([-5.0, 0.0, -5.0]), np.full(3, 5.0))
    assert clamped[1] == 0.0


def test_calibration_file_drives_later_runs(tmp_path, monkeypatch):
    board = load_board("nano33ble")
    truth = PERTURBED["nano33ble"]
    measured = calibration.emulator_runner(ITERATIONS)(calibration.with_timing(board, truth, "truth"))
    path = calibration.write_file(calibration.fit(board, measured, ITERATIONS, "emulator"), tmp_path / "c.json")
    assert json.loads(path.read_text())["board"] == "nano33ble"

    elf = calibration.build_calibration_sketch(board)

    def kernels() -> dict[str, int]:
        emu = Emulator(load_board("nano33ble"), elf, timed=True)
        emu.write_console(f"n={ITERATIONS}\n")
        return calibration.parse_kernel_lines(emu.run().console_text.splitlines())

    default = kernels()
    monkeypatch.setenv(calibration.ENV_FILE, str(path))
    assert kernels() == measured  # the explicit file
    assert load_board("spresense").timing == load_board("spresense").meta["timing"]  # a file of another board
    monkeypatch.delenv(calibration.ENV_FILE)
    assert kernels() == default
    user = calibration.user_file("nano33ble")
    user.parent.mkdir(parents=True)
    user.write_text(path.read_text())
    assert kernels() == measured  # the per-user default


def test_bad_calibration_file_is_one_clear_error(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    monkeypatch.setenv(calibration.ENV_FILE, str(bad))
    with pytest.raises(ArmlprofError, match="unreadable"):
        _ = load_board("nano33ble").timing
    monkeypatch.delenv(calibration.ENV_FILE)
    assert cli_main(["boards"]) == 0
    assert cli_main(["run", "x.elf", "--board", "nano33ble", "--calibration", str(tmp_path / "missing.json")]) != 0
    assert "calibration file" in capsys.readouterr().err
    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps({"board": "nano33ble", "parameters": {"magic_wait": 1}}))
    monkeypatch.setenv(calibration.ENV_FILE, str(unknown))
    with pytest.raises(ArmlprofError, match="unknown parameter magic_wait"):
        _ = load_board("nano33ble").timing


def test_calibrate_cli_on_the_emulator_writes_the_file(tmp_path, capsys):
    out = tmp_path / "nano.json"
    assert cli_main(["calibrate", "--board", "nano33ble", "--iterations", str(ITERATIONS),
                     "--output", str(out)]) == 0
    text = capsys.readouterr().out
    assert "flash_loads" in text and "residual" in text and f"wrote {out}" in text
    fitted = json.loads(out.read_text())["parameters"]
    nominal = load_board("nano33ble").meta["timing"]
    for key, value in fitted.items():  # the emulator is the model: the fit returns the board's own values
        assert value == pytest.approx(calibration.get_value(nominal, key), abs=0.01), key


def test_calibrate_against_the_serial_target_on_the_pty_board(tmp_path, capsys):
    from armlprof.target.emulator import PtyBoard

    board = load_board("nano33ble")
    truth = PERTURBED["nano33ble"]
    perturbed = calibration.with_timing(board, truth, "truth")
    pty = PtyBoard(perturbed, calibration.build_calibration_sketch(board))
    out = tmp_path / "serial.json"
    try:
        # The CLI opens the port before the board boots (connect), as with a real board.
        import threading

        threading.Timer(1.0, pty.power_on).start()
        code = cli_main(["calibrate", "--board", "nano33ble", "--target", "serial", "--port", pty.port,
                         "--reset", "none", "--prebuilt", "--iterations", str(ITERATIONS), "--timeout", "60",
                         "--output", str(out)])
    finally:
        pty.close()
    assert code == 0, capsys.readouterr().err
    _assert_recovered(json.loads(out.read_text())["parameters"], truth)


def test_calibrate_serial_needs_a_port(capsys):
    assert cli_main(["calibrate", "--board", "nano33ble", "--target", "serial"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--port" in err[0]


def test_fidelity_benchmark_needs_the_study_checkout(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, str(root / "benchmarks" / "fidelity.py"), "--study", str(tmp_path)],
                          capture_output=True, text=True, cwd=root, env={"PYTHONPATH": str(root)}, check=False)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines() == [
        f"fidelity: {tmp_path}/micro_speech/micro_speech_aot_executor/inference_times_nano.txt not found: "
        "--study must be a checkout of guberti/tvm-arduino-profiling"]


def test_an_emulated_time_is_keyed_by_the_timing_it_was_measured_with(tmp_path):
    """A calibration changes emulated times, so a time measured without it is not skipped on resume as if it were
    the calibrated one (flash and RAM do not depend on timing and are kept); each time record names its timing.
    Jobs on a pool get the driver's calibrated timing with the job: no file or environment on the worker."""
    from armlprof.results import ResultStore

    path = tmp_path / "slow-branches.json"
    path.write_text(json.dumps({"board": "nano33ble", "parameters": {"branch_refill_cycles": 3,
                                                                     "allocator_call_cycles": 700}}))
    cell = ["--model", "builtin:dense", "--runtime", "handwritten", "--board", "nano33ble", "--quick"]

    def profile(results, *extra) -> list[dict]:
        assert cli_main(["profile", *cell, "--results", str(results), *extra]) == 0
        return ResultStore(results).records()

    results = tmp_path / "r.jsonl"
    nominal = {r["metric"]: r for r in profile(results)}
    assert nominal["inference"]["calibration"] is None and nominal["inference"]["timing_sha256"]
    assert "timing_sha256" not in nominal["flash"]  # a size: no timing in its key
    calibrated = {r["metric"]: r for r in profile(results, "--calibration", str(path))[4:]}
    assert sorted(calibrated) == ["inference", "init"]  # flash and ram: already measured, skipped
    for metric, record in calibrated.items():
        assert record["calibration"] == str(path.resolve())
        assert record["timing_sha256"] != nominal[metric]["timing_sha256"]
        assert record["values"]["cycles"] > nominal[metric]["values"]["cycles"]  # slower branches, dearer malloc
    assert len(profile(results, "--calibration", str(path))) == 6  # all done: nothing new
    assert len(profile(results)) == 6  # and the nominal times are still there, still done
    assert calibration._process_files == ()  # the CLI's --calibration ends with its command

    pooled = tmp_path / "pool.jsonl"
    assert cli_main(["study", "--models", "builtin:dense", "--runtimes", "handwritten", "--boards", "nano33ble",
                     "--quick", "--jobs", "2", "--calibration", str(path), "--results", str(pooled)]) == 0
    on_pool = {r["metric"]: r for r in ResultStore(pooled).records()}
    for metric, record in calibrated.items():
        assert on_pool[metric]["values"]["cycles"] == record["values"]["cycles"], metric


def test_times_and_tuning_records_are_keyed_by_the_cycle_model_version(monkeypatch) -> None:
    """A fix to the cycle model (its table, its rules) makes earlier emulated times other figures: a resume measures
    them again and the tuner's records (cycles per candidate) are not reused."""
    from armlprof.emulator import timing
    from armlprof.runtime.tvm import tuning

    board = load_board("spresense")
    assert len(timing.model_fingerprint()) == 16
    before = calibration.timing_identity(board)[0], tuning.flags_key(board)
    monkeypatch.setattr(calibration, "model_fingerprint", lambda: "another model")
    after = calibration.timing_identity(board)[0], tuning.flags_key(board)
    assert before[0] != after[0] and before[1] != after[1]
