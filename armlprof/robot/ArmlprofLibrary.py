"""Robot Framework keyword library: a thin layer over armlprof's Python API (the same calls the CLI makes).

    *** Settings ***
    Library    armlprof.robot.ArmlprofLibrary    board=${BOARD}    target=${TARGET}

    *** Test Cases ***
    Unused RAM
        Prepare Model    builtin:dense    handwritten
        Build Sketch     ram_probe
        ${free}=    Find Largest Allocation
        Should Be True    ${free} > 0

Figures are logged (Robot's log) as they are measured. Every keyword failure is one line naming the problem.
"""

from __future__ import annotations

from typing import Any

from robot.api import logger
from robot.api.deco import keyword, library

from armlprof.board import load_board
from armlprof.cache import cache_root
from armlprof.errors import ArmlprofError
from armlprof.measure import DEFAULT_SEED, RunCounts, expected_crc
from armlprof.metrics import METRICS, MeasureContext, Metric
from armlprof.model import load_model
from armlprof.runtime import get_runtime
from armlprof.sketch import prepare_measurement_sketch
from armlprof.target import Image, Session, get_target


@library(scope="SUITE", auto_keywords=False)
class ArmlprofLibrary:
    def __init__(self, board: str = "nano33ble", target: str = "emulator", memory_kib: str | None = None) -> None:
        self._board = load_board(board, int(memory_kib) if memory_kib not in (None, "", "None") else None)
        self._target_name = target
        self._target = None
        self._model = None
        self._sketch = None
        self._build = None
        self._image: Image | None = None
        self._session: Session | None = None
        self._last: dict[str, dict[str, Any]] = {}  # metric name -> the values it last measured

    # ---------------------------------------------------------------- set-up
    @property
    def target(self):
        if self._target is None:
            self._target = get_target(self._target_name)
            why = self._target.unavailable_reason(self._board)
            if why:
                raise ArmlprofError(f"target {self._target_name} unavailable: {why}")
        return self._target

    @keyword("Prepare Model")
    def prepare_model(self, model: str = "builtin:dense", runtime: str = "handwritten") -> None:
        """Generate `model` with `runtime` into a measurement sketch folder for the suite's board."""
        rt = get_runtime(runtime)
        why = rt.unavailable_reason()
        if why:
            raise ArmlprofError(f"runtime {runtime} unavailable: {why}")
        self._model = load_model(model)
        self._sketch = prepare_measurement_sketch(self._model, rt, self._board, cache_root() / "sketches")
        logger.info(f"{model} with {runtime} ({rt.version()}) for {self._board.name}: {self._sketch.sketch_dir}")

    @keyword("Build Sketch")
    def build_measurement_sketch(self, kind: str = "inference_time") -> str:
        """Build one measurement sketch kind (ram_probe, init_time, inference_time); returns the ELF path."""
        sketch = self._need_sketch()
        self._build = sketch.build(kind)
        self._image = self.target.prepare(Image(self._board, self._build.elf, sketch.sketch_dir, kind))
        logger.info(f"built {kind}: {self._build.flash_bytes:,} B flash ({self._build.elf})")
        return str(self._build.elf)

    # ---------------------------------------------------------------- figures
    # One keyword per armlprof.metrics entry (Measure Flash, Find Largest Allocation, Measure Init, Measure
    # Inference), made by _metric_keyword below the class.
    def _measure(self, metric: Metric, runs: int | str | None = None, seed: int | str = DEFAULT_SEED) -> Any:
        image = self._need_image(metric.sketch)
        # `runs` is the count of the metric's own timed runs (init runs for init, inferences for inference).
        counts = RunCounts(int(runs), int(runs)) if runs else RunCounts.for_target(self.target)
        context = MeasureContext(self.target, image, self._build, self._model,
                                 self._need_sketch().generated.workspace_bytes, runs=counts, seed=int(seed),
                                 progress=logger.info)
        values = metric.measure(context)
        logger.info(metric.robot_log(values), also_console=True)
        self._last[metric.name] = values
        return values if metric.robot_returns is None else values[metric.robot_returns]

    @keyword("Memory Watch Estimate")
    def memory_watch_estimate(self) -> int | None:
        """The one-run estimate beside the last Find Largest Allocation (None on targets without a watch)."""
        if "ram" not in self._last:
            raise ArmlprofError("no unused-RAM figure yet; call Find Largest Allocation first")
        return self._last["ram"]["free_ram_estimate_bytes"]

    # ---------------------------------------------------------------- console
    @keyword("Start Board")
    def start_board(self) -> None:
        """Boot the last built sketch (a fresh session; the previous one is closed)."""
        self.stop_board()
        if self._image is None:
            raise ArmlprofError("no sketch built; call Build Sketch first")
        self._session = self.target.start(self._image)

    @keyword("Wait For Line On Console")
    def wait_for_line_on_console(self, text: str, timeout: float = 30) -> str:
        """Wait for a console line containing `text`; returns the line."""
        line = self._need_session().wait_for_text(text, float(timeout))
        logger.info(f"console: {line}")
        return line

    @keyword("Write Line To Console")
    def write_line_to_console(self, text: str) -> None:
        self._need_session().write_line(text)

    @keyword("Wait For Run To End")
    def wait_for_run_to_end(self, timeout: float = 60) -> str:
        """Read until the sketch's done line (or a stop); returns how the run ended (exit, done, fault, ...)."""
        outcome = self._need_session().finish(float(timeout))
        logger.info(f"run ended: {outcome.stop.describe()}")
        return outcome.stop.reason

    @keyword("Stop Board")
    def stop_board(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    @keyword("Expected CRC")
    def expected_output_crc(self, seed: int = DEFAULT_SEED) -> str:
        """The CRC-32 the sketch must print for the input generated from `seed` (host reference)."""
        return expected_crc(self._model, int(seed))

    @keyword("Close Targets")
    def close(self) -> None:
        """Stop the board and release the target (Renode process, serial port)."""
        self.stop_board()
        if self._target is not None:
            self._target.close()

    # ---------------------------------------------------------------- helpers
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


def _metric_keyword(metric: Metric):
    """The Robot keyword of one metric: `runs` only for timed figures, `seed` for the input; logs the figure."""
    if metric.robot_runs is None:
        def run(self, seed: int = DEFAULT_SEED) -> Any:
            return self._measure(metric, None, seed)
    else:
        def run(self, runs: int | None = None, seed: int = DEFAULT_SEED) -> Any:
            return self._measure(metric, runs, seed)
    fields = ", ".join(metric.value_fields)
    returns = f"values[{metric.robot_returns}]" if metric.robot_returns else f"its values ({fields})"
    run.__name__ = f"measure_{metric.name}"
    run.__doc__ = f"{metric.title}: measured on the built {metric.sketch} sketch; returns {returns}."
    return keyword(metric.robot_keyword)(run)


for _metric in METRICS.values():
    setattr(ArmlprofLibrary, f"measure_{_metric.name}", _metric_keyword(_metric))
