"""Issue 9: one test per item of the list (interrupts, concurrency, options, unwritable paths, serial, smaller items).
The long ones have their own files: test_reliability_sigint.py, test_reliability_concurrency.py,
test_reliability_cache.py, test_fuzz.py."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest

from armlprof.board import load_board
from armlprof.cli import main
from armlprof.model import load_model
from armlprof.results import ResultStore, make_record
from armlprof.runtime import get_runtime
from armlprof.sketch import prepare_measurement_sketch


# ---------------------------------------------------------------- 2. concurrency
def test_generation_never_touches_another_runs_staging_folder(tmp_path):
    """Two runs of one cell used one `src.new`: the second deleted the first's half-generated sources."""
    model, runtime, board = load_model("builtin:dense"), get_runtime("handwritten"), load_board("nano33ble")
    first = prepare_measurement_sketch(model, runtime, board, tmp_path)
    in_progress = first.sketch_dir.parent / "src.new" / "model.c"  # what a concurrent run is writing right now
    in_progress.parent.mkdir()
    in_progress.write_text("/* being written */\n")
    second = prepare_measurement_sketch(model, runtime, board, tmp_path)
    assert in_progress.read_text() == "/* being written */\n"
    assert second.sketch_dir == first.sketch_dir and (second.sketch_dir / "src" / "model.h").is_file()
    assert not [p for p in first.sketch_dir.parent.glob("src.new.*")]  # its own staging folder is gone


def _append_many(path: str, writer: int, count: int) -> None:
    store = ResultStore(path)
    for i in range(count):
        store.append(make_record(model=f"m{writer}", model_sha256="0" * 64, runtime="handwritten", board="nano33ble",
                                 target="emulator", metric="flash", status="ok", values={"flash_bytes": i},
                                 reason=None, flags=[str(writer), str(i)], clock_hz=64_000_000))


def test_several_processes_append_to_one_results_file(tmp_path):
    path = tmp_path / "results.jsonl"
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        pool.starmap(_append_many, [(str(path), w, 150) for w in range(3)])
    lines = path.read_text().splitlines()
    assert len(lines) == 450 and all(json.loads(line)["schema"] == 1 for line in lines)
    assert len(ResultStore(path).records()) == 450


# ---------------------------------------------------------------- 7. validated options, 8. unwritable paths
PROFILE = ["profile", "--model", "builtin:dense", "--runtime", "handwritten", "--board", "nano33ble"]


@pytest.mark.parametrize(("extra", "complaint"), [
    (["--init-runs", "-1"], "argument --init-runs: -1 is out of range"),
    (["--runs", "-3"], "argument --runs: -3 is out of range"),
    (["--runs", "0"], "argument --runs: 0 is out of range"),
    (["--seed", "-1"], "argument --seed: -1 is out of range"),
    (["--timeout", "0"], "argument --timeout: 0 must be more than 0 seconds"),
    (["--optimization", "-O9"], "argument --optimization: '-O9' is not an optimization level"),
    (["--measure", "flash,,ram"], "argument --measure: 'flash,,ram' has an empty name"),
    (["--port", "/dev/ttyACM0"], "--port only apply to --target serial"),
    (["--reset", "none", "--prebuilt"], "--reset, --prebuilt only apply to --target serial"),
])
def test_bad_option_is_one_line_and_measures_nothing(extra, complaint, tmp_path, capsys):
    results = tmp_path / "r.jsonl"
    code = main([*PROFILE, "--results", str(results), *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and complaint in err[-1], err
    assert not results.exists() or not results.read_text()


@pytest.mark.parametrize(("field", "value"), [("inference_runs", 0), ("init_runs", 100_001), ("seed", -1),
                                              ("seed", 2**32)])
def test_the_api_checks_the_ranges_the_cli_does(field, value, tmp_path):
    from dataclasses import replace

    from armlprof.errors import ArmlprofError
    from armlprof.study import ProfileOptions, profile

    with pytest.raises(ArmlprofError, match=f"{field}={value}: give"):
        profile("builtin:dense", "handwritten", "nano33ble", tmp_path / "r.jsonl",
                replace(ProfileOptions(), **{field: value}))
    assert not (tmp_path / "r.jsonl").exists()


def test_optimization_accepts_the_readme_form(tmp_path, capsys):
    from armlprof.cli.options import optimization_flag

    assert [optimization_flag(v) for v in ("-O2", "O2", "2", "-Os", "fast")] == ["-O2", "-O2", "-O2", "-Os", "-Ofast"]
    from armlprof.cli import _join_dash_values

    assert _join_dash_values(["build", "x", "--optimization", "-O2", "--flag", "-DX=1"]) == \
        ["build", "x", "--optimization=-O2", "--flag=-DX=1"]


@pytest.mark.parametrize("max_cycles", ["0", "-10"])
def test_run_max_cycles_must_be_positive(max_cycles, capsys):
    assert main(["run", "x.elf", "--board", "nano33ble", "--max-cycles", max_cycles]) == 2
    assert "argument --max-cycles" in capsys.readouterr().err


def test_study_checks_every_name_before_the_first_cell(tmp_path, capsys):
    results = tmp_path / "r.jsonl"
    assert main(["study", "--models", "builtin:dense", "--runtimes", "tvm-aot,,bogus", "--boards", "nano33ble",
                 "--results", str(results)]) == 2
    assert "has an empty name" in capsys.readouterr().err
    assert main(["study", "--models", "builtin:dense", "--runtimes", "handwritten,bogus", "--boards", "nano33ble",
                 "--results", str(results)]) == 2
    assert "unknown runtime(s) 'bogus'" in capsys.readouterr().err
    assert main(["study", "--models", "builtin:dense", "--runtimes", "handwritten", "--boards", "nano33ble,nope",
                 "--results", str(results)]) == 2
    assert "nope" in capsys.readouterr().err
    assert main(["study", "--models", "builtin:dense", str(tmp_path / "missing.tflite"), "--runtimes", "handwritten",
                 "--boards", "nano33ble", "--results", str(results)]) == 2
    assert "model not found" in capsys.readouterr().err
    assert not results.exists() or not results.read_text()  # no cell ran


@pytest.mark.parametrize("where", ["/proc/nope/x.jsonl", "{tmp}/dir.jsonl"])
def test_unwritable_results_path_fails_before_measuring(where, tmp_path, capsys):
    target = Path(where.format(tmp=tmp_path))
    if "{tmp}" in where:
        target.mkdir()
    assert main([*PROFILE, "--results", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1].startswith("armlprof: error:") and str(target) in err
    assert "flash: ok" not in err  # nothing measured, so nothing lost


def test_unwritable_cache_is_one_line(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "cachefile"
    blocker.write_text("")
    monkeypatch.setenv("ARMLPROF_CACHE", str(blocker))
    assert main([*PROFILE, "--results", str(tmp_path / "r.jsonl")]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith(f"armlprof: error: armlprof cache {blocker}")


# ---------------------------------------------------------------- the one error path
def test_unexpected_exception_is_one_line_unless_debug(monkeypatch, capsys):
    from armlprof.cli import build_parser

    def broken(args):
        raise ZeroDivisionError("boom")

    parser = build_parser()
    monkeypatch.setattr("armlprof.cli.build_parser", lambda: _Fixed(parser, broken))
    assert main(["boards"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "internal error: ZeroDivisionError: boom" in err[0] and "please report" in err[0]
    assert main(["boards", "--debug"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "please report" in err.strip().splitlines()[-1]


class _Fixed:
    """A parser whose every command runs `handler`."""

    def __init__(self, parser, handler):
        self.parser, self.handler = parser, handler

    def parse_args(self, argv):
        args = self.parser.parse_args(argv)
        args.handler = self.handler
        return args

    def print_help(self):
        self.parser.print_help()


# ---------------------------------------------------------------- 5. the reference interpreter's arena
def test_reference_runs_a_small_weight_large_activation_model(tmp_path):
    pytest.importorskip("tflite_micro")
    from tflite_micro.python.tflite_micro import runtime

    from armlprof import modelgen
    from armlprof.protocol import input_from_seed

    shape = (1, 64, 64, 16)  # 64 KiB of input, no weights: the file is ~1 KiB
    b = modelgen._Builder(5, modelgen._calibration_inputs(shape, 5, count=2))
    b.input(shape)
    b.maxpool("pool1", 2)
    b.maxpool("pool2", 2)
    b.avgpool("pool3", 16)
    b.reshape("flat", (1, 16))
    path = tmp_path / "wide.tflite"
    path.write_bytes(b.serialize("activation-heavy"))
    with pytest.raises(RuntimeError):  # tflite-micro's default arena (10x the file) cannot hold it
        runtime.Interpreter.from_file(str(path))
    model = load_model(str(path))
    output = model.reference(input_from_seed(7, model.input_bytes))
    assert len(output) == 16 and model._arena_bytes >= 64 * 1024


# ---------------------------------------------------------------- 6. serial target
def _pty() -> tuple[int, str]:
    import os
    import tty

    master, slave = os.openpty()
    tty.setraw(slave)
    return master, os.ttyname(slave)


def test_serial_dtr_reset_on_a_pty_reopens_the_port():
    """A pty has no modem lines: the default --reset dtr reopens the port (as `armlprof run --uart-pty` reboots on
    open) instead of ending in an `Inappropriate ioctl` traceback; nobody answering is then a plain timeout."""
    pytest.importorskip("serial")
    from armlprof.target import Image
    from armlprof.target.serial import SerialTarget

    _, port = _pty()
    target = SerialTarget(port=port, reset="dtr", prebuilt=True)
    try:
        outcome = target.run(Image(load_board("nano33ble"), None), "seed=7", timeout_s=1.5)
    finally:
        target.close()
    assert outcome.stop.reason == "timeout" and "within 1.5 s" in outcome.stop.fault


def test_serial_ready_wait_follows_the_timeout():
    pytest.importorskip("serial")
    import time

    from armlprof.target import Image
    from armlprof.target.serial import SerialTarget

    _, port = _pty()  # nobody answers
    target = SerialTarget(port=port, reset="none", prebuilt=True)
    started = time.monotonic()
    try:
        outcome = target.run(Image(load_board("nano33ble"), None), "seed=7", timeout_s=1.5)
    finally:
        target.close()
    assert time.monotonic() - started < 10  # not the fixed 30 s
    assert outcome.stop.reason == "timeout" and "within 1.5 s" in outcome.stop.fault


class _Scripted:
    """A target whose every run prints the given console lines (as a noisy serial line might)."""

    deterministic = False

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines

    def run(self, image, host_line, **kwargs):
        from armlprof.target.base import RunOutcome, StopInfo

        return RunOutcome(list(self.lines), StopInfo("done"))


@pytest.mark.parametrize(("line", "complaint"), [
    ("@armlprof event=init status=ok cycles=notanumber us=5 crc={crc}", "cycles='notanumber', not a number"),
    ("@armlprof event=init status=ok cycles=-5 us=5 crc={crc}", "cycles='-5', not a number"),
    ("@armlprof event=init status=banana cycles=5 us=5 crc={crc}", "init run 1: the sketch printed status='banana'"),
])
def test_garbled_protocol_values_are_one_line_failures(line, complaint):
    from armlprof.measure import MeasurementFailed, expected_crc, measure_init
    from armlprof.target import Image

    model = load_model("builtin:dense")
    text = line.format(crc=expected_crc(model, 7))
    with pytest.raises(MeasurementFailed) as info:
        measure_init(_Scripted(["@armlprof event=ready", text, "@armlprof event=done"]),
                     Image(load_board("nano33ble"), None), model, runs=1)
    assert complaint in str(info.value) and "\n" not in str(info.value)


# ---------------------------------------------------------------- 9. smaller items
FIRMWARE = Path(__file__).resolve().parent / "firmware"


@pytest.fixture(scope="module")
def firmware_elf():
    from armlprof.build import build_sketch

    built: dict[tuple[str, str], Path] = {}

    def get(sketch: str, board: str = "nano33ble") -> Path:
        if (sketch, board) not in built:
            built[(sketch, board)] = build_sketch(FIRMWARE / sketch, load_board(board), baseline=False).elf
        return built[(sketch, board)]

    return get


def test_run_json_keeps_console_text_off_stdout(firmware_elf, capsys):
    assert main(["run", str(firmware_elf("emu_hello")), "--board", "nano33ble", "--json"]) == 7
    captured = capsys.readouterr()
    assert json.loads(captured.out)["exit_code"] == 7  # the whole of stdout is the JSON document
    assert "hello from armlprof" in captured.err


def test_hang_line_says_where(firmware_elf, capsys):
    assert main(["run", str(firmware_elf("emu_hang")), "--board", "nano33ble", "--max-cycles", "200000"]) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert "firmware hung or too slow at 0x" in last and "(setup" in last, last


def test_image_linked_for_more_ram_than_the_memory_option_is_refused(firmware_elf, capsys):
    elf = firmware_elf("emu_hello", "spresense")  # linked for the default 1536 KiB
    assert main(["run", str(elf), "--board", "spresense", "--memory-kib", "128"]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert "linked for more RAM than spresense --memory-kib 128 has" in last


def test_report_of_dev_null_says_no_records(capsys):
    assert main(["report", "/dev/null"]) == 2
    assert "no result records in /dev/null" in capsys.readouterr().err


def test_link_error_names_the_undefined_reference(tmp_path):
    from armlprof.build import CompileError, build_sketch

    sketch = tmp_path / "undef"
    sketch.mkdir()
    (sketch / "undef.ino").write_text("int missing(int);\nvoid setup() { missing(1); }\nvoid loop() {}\n")
    with pytest.raises(CompileError, match="undefined reference to `missing"):
        build_sketch(sketch, load_board("nano33ble"), baseline=False)


@pytest.mark.parametrize("timed", [False, True])
def test_div_0_trp_traps_a_divide_by_zero(firmware_elf, timed):
    from armlprof.emulator import Emulator

    emulator = Emulator(load_board("nano33ble"), firmware_elf("emu_div0"), timed=timed, max_cycles=10_000_000)
    emulator.write_console("n")
    plain = emulator.run()  # DIV_0_TRP clear: the architecture says the quotient is 0
    assert plain.stop_reason == "exit" and plain.exit_code == 0 and "quotient=0" in plain.console_text
    emulator.write_console("t")
    trapped = emulator.run()
    assert trapped.stop_reason == "fault" and "divide by zero" in trapped.fault.describe()
    assert "in setup" in trapped.fault.describe() and "quotient=" not in trapped.console_text
    emulator.write_console("n")
    again = emulator.run()  # reset clears CCR: no trap
    assert again.stop_reason == "exit" and again.cycles == plain.cycles


def test_an_error_caused_by_ctrl_c_is_an_interrupt(monkeypatch, capsys, tmp_path):
    from armlprof.cli import build_parser

    def wrapped(args):  # as a C++ library reports a signal it caught: its own error type, chained
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as exc:
            raise RuntimeError("TVMError: interrupted") from exc

    parser = build_parser()
    monkeypatch.setattr("armlprof.cli.build_parser", lambda: _Fixed(parser, wrapped))
    results = tmp_path / "r.jsonl"
    assert main([*PROFILE, "--results", str(results)]) == 130
    assert capsys.readouterr().err.strip() == f"armlprof: interrupted; results so far are in {results}"


@pytest.mark.parametrize("board_name", ["nano33ble", "spresense"])
def test_unaligned_multiword_access_faults_as_on_the_board(firmware_elf, board_name):
    """With the alignment check on, LDRD/STRD/LDM/STM/VLDR/VLDM at an address that is not word-aligned fault
    (a Cortex-M4's UsageFault UNALIGNED); LDR, STR and LDRH complete. Off, every form completes (Unicorn's own
    behaviour): the check is what makes the emulator refuse what the board would not run."""
    from armlprof.emulator import Emulator

    emulator = Emulator(load_board(board_name), firmware_elf("emu_unaligned", board_name), check_alignment=True)
    for form in "lhs":
        emulator.write_console(form)
        result = emulator.run()
        assert result.stop_reason == "exit" and "value=" in result.console_text, (form, result.summary())
    for form, mnemonic in zip("dDmMvV", ("ldrd", "strd", "ldm", "stm", "vldr", "vldmia"), strict=True):
        emulator.write_console(form)
        result = emulator.run()
        assert result.stop_reason == "fault", (form, result.summary())
        message = result.fault.describe()
        assert message.startswith("fault: unaligned access at 0x") and f"; {mnemonic}" in message, message
        assert "UsageFault (UNALIGNED)" in message and "in access" in message, message
        assert "value=" not in result.console_text
    emulator.check_alignment = False
    for form in "dDmMvV":
        emulator.write_console(form)
        assert emulator.run().stop_reason == "exit", form


def test_emulator_target_checks_alignment_on_each_images_first_run(firmware_elf):
    """The target's first run of an image faults on an unaligned LDRD; its later runs do not check (full
    speed), and a new target checks again."""
    from armlprof.target.base import Image
    from armlprof.target.emulator import EmulatorTarget

    board = load_board("nano33ble")
    image = Image(board, firmware_elf("emu_unaligned", "nano33ble"), None, "emu_unaligned")
    target = EmulatorTarget()
    first = target.run(image, "d")
    assert first.stop.reason == "fault" and "unaligned access" in first.stop.fault, first.stop.fault
    assert target.run(image, "d").stop.reason == "exit"
    assert EmulatorTarget().run(image, "d").stop.reason == "fault"
