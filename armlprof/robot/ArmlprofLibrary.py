"""Robot Framework keyword library: a thin layer over armlprof's Python API (the same calls the CLI makes)."""

from __future__ import annotations

import functools
import importlib.metadata
from collections.abc import Callable
from pathlib import Path
from typing import Any

from robot.api import SkipExecution, logger
from robot.api.deco import keyword, library
from robot.libraries.BuiltIn import BuiltIn

from armlprof import __version__
from armlprof.board import Board, load_board
from armlprof.build import compile_flags
from armlprof.cache import cache_root
from armlprof.errors import ArmlprofError
from armlprof.measure import (
    DEFAULT_SEED,
    RunCounts,
    expected_crc,
    find_largest_allocation,
    flash_values,
    measure_inference,
    measure_init,
)
from armlprof.model import load_model
from armlprof.results import ResultStore, make_record
from armlprof.runtime import get_runtime
from armlprof.sketch import prepare_measurement_sketch
from armlprof.target import Image, Session, get_target


class ArmlprofKeywordError(Exception):
    """A keyword failure: Robot shows only the one-line message (no exception name, no traceback)."""

    ROBOT_SUPPRESS_NAME = True


def _one_line(func: Callable[..., Any]) -> Callable[..., Any]:
    """ArmlprofError -> the one-line message as the keyword's failure."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ArmlprofError as exc:
            raise ArmlprofKeywordError(str(exc)) from None

    return wrapper


def _unset(value: str | None) -> bool:
    return value in (None, "", "None")


def _tvm_version() -> str:
    try:
        return importlib.metadata.version("apache-tvm")
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


@library(scope="SUITE", auto_keywords=False, doc_format="ROBOT")
class ArmlprofLibrary:
    """Profiles int8 ML models on a board (the built-in emulator, Renode or a real board over serial) from
    Robot Framework, with the same measurement code as `armlprof profile`.

    = Example =

    | *** Settings ***
    | Library    armlprof.robot.ArmlprofLibrary    board=${BOARD}    target=${TARGET}    results=${RESULTS}
    | Suite Setup    Prepare Model    builtin:micro_speech    tvm-aot
    |
    | *** Test Cases ***
    | Unused RAM
    |     [Tags]    ram
    |     Build Sketch    ram_probe
    |     ${free}=    Find Largest Allocation
    |     Should Be True    ${free} > 0

    = Results =

    Each figure keyword (`Measure Flash`, `Find Largest Allocation`, `Measure Init`, `Measure Inference`) logs the
    figure and, when the library was given ``results``, appends a record to that JSON Lines file, so
    ``armlprof report RESULTS`` shows the Robot run's figures beside those of ``armlprof study``.

    = Skipping =

    When the runtime (e.g. ``tflm`` without a TFLM tree) or the target (e.g. ``renode`` not installed, ``serial``
    without a ``port``) is not available here, `Prepare Model` skips the suite (SKIP, not FAIL) with the reason.

    `Prepare Model` also sets the suite Metadata (board, model, runtime, target, armlprof and TVM versions) and tags
    every test of the suite with ``board:``, ``runtime:`` and ``target:``.

    Every failure is one line naming the problem and the fix.
    """

    ROBOT_LIBRARY_VERSION = __version__

    def __init__(self, board: str = "nano33ble", target: str = "emulator", memory_kib: str | None = None,
                 port: str | None = None, results: str | None = None) -> None:
        """Set up the library for one board and target.

        - ``board``: ``nano33ble`` or ``spresense`` (see ``armlprof boards``).
        - ``target``: ``emulator`` (default), ``renode`` or ``serial``.
        - ``memory_kib``: the board's memory option (Spresense: the main core's share, 128..1536 KiB); empty for
          the default.
        - ``port``: the serial target's device (e.g. ``/dev/ttyACM0``); empty otherwise.
        - ``results``: a results.jsonl the figures are appended to; empty to keep them only in Robot's log.

        A bad ``board`` or ``memory_kib`` fails the first keyword with one line (not the library import, which
        would leave only "No keyword with name ..." errors).
        """
        self._board_error: str | None = None
        self._board: Board | None = None
        try:
            self._board = load_board(board, None if _unset(memory_kib) else int(memory_kib))
        except ArmlprofError as exc:
            self._board_error = str(exc)
        except ValueError:
            self._board_error = f"MEMORY_KIB {memory_kib!r} is not a number of KiB; pass e.g. MEMORY_KIB:768"
        self._target_name = target
        self._target_options = {} if _unset(port) else {"port": port}
        self._results = None if _unset(results) else ResultStore(Path(results))
        self._target = None
        self._model = None
        self._model_spec = ""
        self._runtime_name = ""
        self._runtime_version: str | None = None
        self._sketch = None
        self._build = None
        self._image: Image | None = None
        self._session: Session | None = None
        self._last_ram = None

    # ---------------------------------------------------------------- set-up
    @property
    def board(self) -> Board:
        if self._board is None:
            raise ArmlprofError(f"BOARD: {self._board_error}")
        return self._board

    @property
    def target(self):
        if self._target is None:
            target = get_target(self._target_name, **self._target_options)
            why = target.unavailable_reason(self.board)
            if why:
                raise SkipExecution(f"target {self._target_name} unavailable here: {why}")
            self._target = target
        return self._target

    @keyword("Prepare Model")
    @_one_line
    def prepare_model(self, model: str = "builtin:dense", runtime: str = "handwritten") -> None:
        """Generate ``model`` (a .tflite path or ``builtin:NAME``, see ``armlprof models``) with ``runtime`` (see
        ``armlprof runtimes``) into a measurement sketch folder for the suite's board.

        Skips the suite when the runtime or the target is unavailable here; sets the suite Metadata and the
        ``board:``/``runtime:``/``target:`` tags of its tests."""
        board = self.board
        rt = get_runtime(runtime)
        why = rt.unavailable_reason()
        if why:
            raise SkipExecution(f"runtime {runtime} unavailable here: {why}")
        self.target  # noqa: B018 - skips now, before generating, when the target is missing
        self._model = load_model(model)
        self._model_spec, self._runtime_name, self._runtime_version = model, runtime, rt.version()
        self._sketch = prepare_measurement_sketch(self._model, rt, board, cache_root() / "sketches")
        logger.info(f"{model} with {runtime} ({self._runtime_version}) for {board.name}: {self._sketch.sketch_dir}")
        builtin = BuiltIn()
        memory = "" if board.memory_kib is None else f" ({board.memory_kib} KiB)"
        for name, value in (("Board", f"{board.name}{memory}"), ("Model", model),
                            ("Runtime", f"{runtime} {self._runtime_version}"), ("Target", self._target_name),
                            ("armlprof", __version__), ("TVM", _tvm_version())):
            builtin.set_suite_metadata(name, value)
        builtin.set_tags(f"board:{board.name}", f"runtime:{runtime}", f"target:{self._target_name}")

    @keyword("Build Sketch")
    @_one_line
    def build_measurement_sketch(self, kind: str = "inference_time") -> str:
        """Build one measurement sketch kind (``ram_probe``, ``init_time``, ``inference_time``); returns the ELF
        path."""
        sketch = self._need_sketch()
        self._build = sketch.build(kind)  # the one build step the study uses too
        self._image = self.target.prepare(Image(self.board, self._build.elf, sketch.sketch_dir, kind))
        logger.info(f"built {kind}: {self._build.flash_bytes:,} B flash ({self._build.elf})")
        return str(self._build.elf)

    # ---------------------------------------------------------------- figures
    @keyword("Measure Flash")
    @_one_line
    def measure_flash(self) -> dict[str, Any]:
        """Flash of the last built sketch. Returns a dictionary (bytes):

        - ``flash_bytes``: the image as the board's tools count it
        - ``baseline_flash_bytes``: the empty sketch
        - ``model_flash_bytes``: the difference (model and runtime)
        - ``static_ram_bytes``: data + bss
        - ``workspace_bytes``: the runtime's static workspace or arena (None when not applicable)
        """
        if self._build is None:
            raise ArmlprofError("no sketch built; call Build Sketch first")
        values = flash_values(self._build, self._need_sketch().generated.workspace_bytes)
        logger.info(f"flash: {values['flash_bytes']:,} B total, {values['model_flash_bytes']:,} B model, "
                    f"{values['baseline_flash_bytes']:,} B empty sketch", also_console=True)
        self._record("flash", values)
        return values

    @keyword("Find Largest Allocation")
    @_one_line
    def find_largest_allocation(self, seed: int = DEFAULT_SEED) -> int:
        """Unused RAM in bytes: the largest ``malloc(N)`` with which the model still initializes and gives the
        reference output, by bisection on the built ram_probe sketch (sanity checks before and after)."""
        result = find_largest_allocation(self.target, self._need_image("ram_probe"), self._model, seed=int(seed),
                                         progress=logger.info)
        estimate = result.free_ram_estimate_bytes
        logger.info(f"unused RAM: {result.free_ram_bytes:,} B after {len(result.trials)} trials"
                    + (f" (memory-watch estimate {estimate:,} B)" if estimate is not None else ""), also_console=True)
        self._last_ram = result
        self._record("ram", result.values())
        return result.free_ram_bytes

    @keyword("Memory Watch Estimate")
    def memory_watch_estimate(self) -> int | None:
        """The one-run estimate (bytes) beside the last `Find Largest Allocation` (None on targets without a
        memory watch)."""
        if self._last_ram is None:
            raise ArmlprofKeywordError("no unused-RAM figure yet; call Find Largest Allocation first")
        return self._last_ram.free_ram_estimate_bytes

    @keyword("Measure Init")
    @_one_line
    def measure_init_time(self, runs: int | None = None) -> dict[str, Any]:
        """Initialization time over ``runs`` boots of the built init_time sketch (default: 2 emulated, 32 on a
        board). Returns a dictionary:

        - ``cycles``, ``cycles_min``, ``cycles_max``: DWT cycles (mean, min, max)
        - ``ms``, ``ms_min``, ``ms_max``, ``ms_std``: the same at the board clock, in ms
        - ``runs``: how many boots; ``source``: ``dwt`` or ``micros``
        """
        runs = int(runs) if runs else RunCounts.for_target(self.target).init_runs
        values = measure_init(self.target, self._need_image("init_time"), self._model, runs=runs,
                              progress=logger.info).values()
        logger.info(f"init: {values['ms']:.4f} ms ({values['cycles']:,} cycles) over {runs} runs", also_console=True)
        self._record("init", values)
        return values

    @keyword("Measure Inference")
    @_one_line
    def measure_inference_time(self, runs: int | None = None) -> dict[str, Any]:
        """Inference time: ``runs`` timed inferences of the built inference_time sketch, each output checked by
        CRC (default: 4 emulated, 256 on a board). Returns the same keys as `Measure Init`."""
        runs = int(runs) if runs else RunCounts.for_target(self.target).inference_runs
        values = measure_inference(self.target, self._need_image("inference_time"), self._model, runs=runs,
                                   progress=logger.info).values()
        logger.info(f"inference: {values['ms']:.4f} ms ({values['cycles']:,} cycles) over {runs} runs",
                    also_console=True)
        self._record("inference", values)
        return values

    # ---------------------------------------------------------------- console
    @keyword("Start Board")
    @_one_line
    def start_board(self) -> None:
        """Boot the last built sketch (a fresh session; the previous one is closed)."""
        self.stop_board()
        if self._image is None:
            raise ArmlprofError("no sketch built; call Build Sketch first")
        self._session = self.target.start(self._image)

    @keyword("Wait For Line On Console")
    @_one_line
    def wait_for_line_on_console(self, text: str, timeout: float = 30) -> str:
        """Wait for a console line containing ``text``; returns the line."""
        line = self._need_session().wait_for_text(text, float(timeout))
        logger.info(f"console: {line}")
        return line

    @keyword("Write Line To Console")
    @_one_line
    def write_line_to_console(self, text: str) -> None:
        """Send ``text`` and a newline to the board's console."""
        self._need_session().write_line(text)

    @keyword("Wait For Run To End")
    @_one_line
    def wait_for_run_to_end(self, timeout: float = 60) -> str:
        """Read until the sketch's done line (or a stop); returns how the run ended (``exit``, ``done``,
        ``fault``, ...)."""
        outcome = self._need_session().finish(float(timeout))
        logger.info(f"run ended: {outcome.stop.describe()}")
        return outcome.stop.reason

    @keyword("Stop Board")
    def stop_board(self) -> None:
        """End the running session, if any."""
        if self._session is not None:
            self._session.close()
            self._session = None

    @keyword("Expected CRC")
    @_one_line
    def expected_output_crc(self, seed: int = DEFAULT_SEED) -> str:
        """The CRC-32 (8 hex digits) the sketch must print for the input generated from ``seed`` (host
        reference)."""
        if self._model is None:
            raise ArmlprofError("no model prepared; call Prepare Model first")
        return expected_crc(self._model, int(seed))

    @keyword("Close Targets")
    def close(self) -> None:
        """Stop the board and release the target (Renode process, serial port)."""
        self.stop_board()
        if self._target is not None:
            self._target.close()

    # ---------------------------------------------------------------- helpers
    def _record(self, metric: str, values: dict[str, Any]) -> None:
        """Append the figure to the results file, with the key `armlprof profile` gives the same cell."""
        if self._results is None or self._model is None:
            return
        board = self.board
        label = self._model_spec.removeprefix("builtin:") if self._model_spec.startswith("builtin:") \
            else self._model.name
        self._results.append(make_record(
            model=label, model_sha256=self._model.sha256, runtime=self._runtime_name,
            runtime_version=self._runtime_version, board=board.name, memory_kib=board.memory_kib,
            target=self._target_name, metric=metric, values=values, flags=compile_flags(board),
            clock_hz=board.clock_hz))
        logger.info(f"{metric} appended to {self._results.path}")

    def _need_sketch(self):
        if self._sketch is None:
            raise ArmlprofError("no model prepared; call Prepare Model first")
        return self._sketch

    def _need_image(self, kind: str) -> Image:
        if self._image is None or self._image.kind != kind:
            raise ArmlprofError(f"the {kind} sketch is not built; call Build Sketch    {kind} first")
        return self._image

    def _need_session(self) -> Session:
        if self._session is None:
            raise ArmlprofError("no board running; call Start Board first")
        return self._session
