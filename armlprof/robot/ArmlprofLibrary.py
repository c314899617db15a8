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

from pathlib import Path
from typing import Any

from robot.api import logger
from robot.api.deco import keyword, library

from armlprof.board import load_board
from armlprof.build import build_sketch
from armlprof.cache import cache_root
from armlprof.errors import ArmlprofError
from armlprof.measure import (
    DEFAULT_SEED,
    expected_crc,
    find_largest_allocation,
    flash_values,
    measure_inference,
    measure_init,
)
from armlprof.model import load_model
from armlprof.runtime import get_runtime
from armlprof.sketch import prepare_measurement_sketch
from armlprof.study import RunCounts
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
        generated = sketch.generated
        self._build = build_sketch(
            sketch.use(kind), self._board, extra_flags=generated.extra_build_flags,
            include_dirs=[Path(d) for d in generated.notes.get("include_dirs", [])],
            extra_objects=generated.extra_objects,
        )
        self._image = self.target.prepare(Image(self._board, self._build.elf, sketch.sketch_dir, kind))
        logger.info(f"built {kind}: {self._build.flash_bytes:,} B flash ({self._build.elf})")
        return str(self._build.elf)

    # ---------------------------------------------------------------- figures
    @keyword("Measure Flash")
    def measure_flash(self) -> dict[str, Any]:
        """Flash of the last built sketch: total, empty sketch, model-attributable (bytes)."""
        if self._build is None:
            raise ArmlprofError("no sketch built; call Build Sketch first")
        values = flash_values(self._build, self._need_sketch().generated.workspace_bytes)
        logger.info(f"flash: {values['flash_bytes']:,} B total, {values['model_flash_bytes']:,} B model, "
                    f"{values['baseline_flash_bytes']:,} B empty sketch", also_console=True)
        return values

    @keyword("Find Largest Allocation")
    def find_largest_allocation(self, seed: int = DEFAULT_SEED) -> int:
        """Unused RAM by bisection on the built ram_probe sketch (sanity checks before and after)."""
        result = find_largest_allocation(self.target, self._need_image("ram_probe"), self._model, seed=int(seed),
                                         progress=logger.info)
        estimate = result.free_ram_estimate_bytes
        logger.info(f"unused RAM: {result.free_ram_bytes:,} B after {len(result.trials)} trials"
                    + (f" (memory-watch estimate {estimate:,} B)" if estimate is not None else ""), also_console=True)
        self._last_ram = result
        return result.free_ram_bytes

    @keyword("Memory Watch Estimate")
    def memory_watch_estimate(self) -> int | None:
        """The one-run estimate beside the last Find Largest Allocation (None on targets without a watch)."""
        return self._last_ram.free_ram_estimate_bytes

    @keyword("Measure Init")
    def measure_init_time(self, runs: int | None = None) -> dict[str, Any]:
        """Initialization time over `runs` boots of the built init_time sketch."""
        runs = int(runs) if runs else RunCounts.for_target(self.target).init_runs
        values = measure_init(self.target, self._need_image("init_time"), self._model, runs=runs,
                              progress=logger.info).values()
        logger.info(f"init: {values['ms']:.4f} ms ({values['cycles']:,} cycles) over {runs} runs", also_console=True)
        return values

    @keyword("Measure Inference")
    def measure_inference_time(self, runs: int | None = None) -> dict[str, Any]:
        """Inference time: `runs` timed inferences of the built inference_time sketch."""
        runs = int(runs) if runs else RunCounts.for_target(self.target).inference_runs
        values = measure_inference(self.target, self._need_image("inference_time"), self._model, runs=runs,
                                   progress=logger.info).values()
        logger.info(f"inference: {values['ms']:.4f} ms ({values['cycles']:,} cycles) over {runs} runs",
                    also_console=True)
        return values

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
