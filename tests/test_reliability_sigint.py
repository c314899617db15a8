"""Issue 9, item 1: Ctrl-C at any moment of a profile (generation, builds, emulated runs, bisection) ends the run
with one line naming the results file, exit 130, and never a wrong or false record; a rerun completes.

Interrupts land at random moments (seeded, so a failure reproduces) of `profile` on the hand-written dense model
(all four figures) and on TVM micro_speech (the inference figure: an emulated run of ~12 M cycles, where the
signal arrives inside uc_emu_start). Every `ok` record must equal the uninterrupted run's figure exactly."""

from __future__ import annotations

import random
import time

import pytest

from .conftest import shared_file
from .reliability_helpers import assert_no_traceback, cli_env, figures, interrupt_after, run_cli, start_cli

CASES = {
    # Many timed runs: the measuring part of the profile (~3.5 s) is most of its length, not Python's start-up.
    "dense": (["--model", "builtin:dense", "--runtime", "handwritten", "--board", "nano33ble", "--runs", "8000",
               "--init-runs", "40"], 16),
    # 40 timed inferences: a warm profile of 2 took ~1 s here, so signals from 1 s on mostly came after its end.
    "tvm": (["--runtime", "tvm-aot", "--board", "nano33ble", "--measure", "inference", "--runs", "40"], 4),
}


@pytest.mark.parametrize("case", list(CASES))
def test_sigint_at_random_moments_never_records_a_wrong_figure(case, tmp_path):
    args, moments = CASES[case]
    if case == "tvm":
        pytest.importorskip("tvm")
        args = ["--model", str(shared_file("models", "micro_speech_quantized.tflite")), *args]
    env = cli_env()
    reference_file = tmp_path / "reference.jsonl"
    done = run_cli(["profile", *args, "--results", str(reference_file)], env)  # builds: caches are warm after it
    assert done.returncode == 0, done.stderr[-2000:]
    reference = figures(reference_file)
    assert reference and all(status == "ok" for entries in reference.values() for status, _, _ in entries)
    # The interrupted runs find warm caches, so their length is that of a warm run, not of the first (cold) one:
    # moments drawn from the cold run's length fell after most warm runs had ended.
    started = time.monotonic()
    assert run_cli(["profile", *args, "--results", str(tmp_path / "warm.jsonl")], env).returncode == 0
    warm_s = time.monotonic() - started

    rng = random.Random(f"sigint-{case}")
    interrupted = 0
    for moment in range(moments):
        results = tmp_path / f"interrupted{moment}.jsonl"
        # Not before 1 s: a signal during Python's own start-up (importing the package) is Python's traceback.
        delay_s = rng.uniform(1.0, max(1.2, 0.9 * warm_s))
        code, _, err = interrupt_after(start_cli(["profile", *args, "--results", str(results)], env), delay_s)
        assert_no_traceback(err)
        assert code in (0, 130), f"exit {code} after SIGINT at {delay_s:.2f} s: {err[-1500:]}"
        if code == 130:
            interrupted += 1
            assert err.rstrip().splitlines()[-1] == f"armlprof: interrupted; results so far are in {results}"
        for key, entries in figures(results).items():
            for status, values, reason in entries:
                # A false failure (e.g. "not repeatable") or a short time would both be wrong records.
                assert status == "ok", f"SIGINT at {delay_s:.2f} s stored {status}: {reason}"
                assert values == reference[key][0][1], f"SIGINT at {delay_s:.2f} s stored a wrong {key[-1]}"
        if moment % 4 == 3:  # a rerun on the interrupted file completes, with the same figures
            rerun = run_cli(["profile", *args, "--results", str(results)], env)
            assert rerun.returncode == 0, rerun.stderr[-2000:]
            assert {k: v[-1][1] for k, v in figures(results).items()} == {k: v[0][1] for k, v in reference.items()}
    assert interrupted >= moments // 2, f"{interrupted} of {moments}"  # the moments fell inside the runs


def test_sigint_stops_a_run_spinning_in_native_code(tmp_path):
    """A firmware loop that never calls back into Python (no console, no new blocks): only the SIGINT watcher
    thread can stop uc_emu_start, at once, instead of at the cycle limit hours later."""
    from armlprof.board import load_board
    from armlprof.build import build_sketch

    from .reliability_helpers import REPO_ROOT

    elf = build_sketch(REPO_ROOT / "tests" / "firmware" / "emu_hang", load_board("nano33ble"), baseline=False).elf
    proc = start_cli(["run", str(elf), "--board", "nano33ble", "--max-cycles", str(10**13)], cli_env())
    time.sleep(3.0)
    assert proc.poll() is None
    started = time.monotonic()
    code, _, err = interrupt_after(proc, 0)
    assert time.monotonic() - started < 5
    assert_no_traceback(err)
    assert code == 130 and err.rstrip().splitlines()[-1] == "armlprof: interrupted"


def _guarded_run_with_a_late_sigint(run_ends_interrupted: bool) -> int:
    """A run under the SIGINT guard during which a SIGINT arrives whose Python-level handler runs only after the
    guard is gone (the C-level handler's wake-up byte, written here): how many times the run was interrupted."""
    import os
    import signal

    from armlprof.emulator.emulator import _SigintGuard

    class Run:
        interrupted = 0

        def interrupt(self) -> None:
            self.interrupted += 1

    run = Run()
    with _SigintGuard(run) as guard:
        os.write(guard.write_fd, bytes([signal.SIGINT]))
        deadline = time.monotonic() + 5
        while guard.count == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        guard.consumed = run_ends_interrupted  # what Emulator.run sets from the run's stop reason
    return run.interrupted


def test_a_sigint_already_acted_on_is_not_raised_again_after_the_run():
    """The watcher stops the run at once; the signal's Python-level handler may run only after the guard is gone.
    That late call must not raise a second KeyboardInterrupt (the CLI had printed `interrupted` and then died of
    SIGINT, exit -2); a later, new Ctrl-C still does."""
    import signal

    previous = signal.getsignal(signal.SIGINT)
    assert _guarded_run_with_a_late_sigint(run_ends_interrupted=True) == 1
    signal.raise_signal(signal.SIGINT)  # the late Python-level call: absorbed
    assert signal.getsignal(signal.SIGINT) is previous
    with pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)  # a new Ctrl-C


def test_a_sigint_the_run_ended_before_reaches_the_handler_after_it():
    """A run that ended by itself (the firmware exited) just as Ctrl-C came: the signal is not lost, the handler
    after the run gets it (`run --uart-pty` waited forever for a quit that the guard had taken)."""
    import signal

    seen = []
    previous = signal.signal(signal.SIGINT, lambda *_: seen.append("quit"))
    try:
        _guarded_run_with_a_late_sigint(run_ends_interrupted=False)
        signal.raise_signal(signal.SIGINT)  # the late Python-level call
        assert seen == ["quit"]
    finally:
        signal.signal(signal.SIGINT, previous)


def test_an_ignored_sigint_stays_ignored_through_a_run():
    """A background job of a shell starts with SIGINT ignored, so that Ctrl-C in the terminal leaves it running:
    the guard must not make its emulated runs stop on it (they did, while its builds and bisection carried on)."""
    import os
    import signal
    import threading

    from armlprof.board import load_board
    from armlprof.build import build_sketch
    from armlprof.emulator import Emulator

    from .reliability_helpers import REPO_ROOT

    board = load_board("nano33ble")
    elf = build_sketch(REPO_ROOT / "tests" / "firmware" / "emu_hang", board, baseline=False).elf
    emulator = Emulator(board, elf, max_cycles=10**8)  # about 1.5 s of emulation here
    stop = threading.Event()

    def ctrl_c_every_0_1_s() -> None:
        while not stop.wait(0.1):
            os.kill(os.getpid(), signal.SIGINT)

    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    sender = threading.Thread(target=ctrl_c_every_0_1_s)
    sender.start()
    try:
        result = emulator.run()
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        stop.set()
        sender.join()
        signal.signal(signal.SIGINT, previous)
        emulator.close()
    assert result.stop_reason == "cycle_limit", result.summary()
