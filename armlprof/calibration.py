"""Calibration of the cycle model's board parameters against a target (a real board over serial, or the emulator).

The microbenchmark sketch (armlprof/sketches/calibration) runs kernels each dominated by one parameter and prints
their DWT cycle counts. The cycle model is linear in every parameter it fits (wait states times accesses, refill
cycles times taken branches, a surcharge times allocator calls), so the emulator gives each kernel's sensitivity
to each parameter exactly, by running once per parameter with it raised by a step. A bounded least-squares fit of
the measured counts against that linear model gives the parameters; the bounds are the physically plausible
ranges. The result is a calibration file (JSON) whose values override the board's [timing] in later runs:

- `--calibration FILE` (or the environment variable ARMLPROF_CALIBRATION=FILE), or else
- the per-user default `$XDG_CONFIG_HOME/armlprof/calibration/<board>.json` (~/.config when unset).

Which parameters a board fits is board data: those of PARAMETERS its board.toml [timing] sets.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from armlprof.board import Board
from armlprof.emulator.timing import model_fingerprint
from armlprof.errors import ArmlprofError

SKETCH_DIR = Path(__file__).resolve().parent / "sketches" / "calibration"
ENV_FILE = "ARMLPROF_CALIBRATION"
KERNELS = ("flash_loads", "ram_loads", "ram_stores", "branches", "fetch", "malloc_free", "divide", "fpu")
CALIBRATED_MARK = "calibrated_from"  # set in a timing table that already carries its calibration


@dataclass(frozen=True)
class Parameter:
    """A board timing parameter the calibration can fit: its key inside [timing] (dotted for sub-tables)."""

    key: str
    lower: float
    upper: float
    step: float  # the emulator's finite-difference step (the model is linear: any step gives the same slope)
    kernel: str  # the microbenchmark it dominates
    about: str


# Bounds: wait states of on-chip memories at tens to hundreds of MHz stay below ~15; the Cortex-M4 pipeline
# refill P is 1..3 (ARM DDI 0439D 3.3.1); an allocator call with locking costs at most a few thousand cycles.
PARAMETERS = {p.key: p for p in (
    Parameter("regions.flash.load_wait_states", 0, 15, 1, "flash_loads", "flash data read wait states"),
    Parameter("regions.flash.fetch_wait_states", 0, 15, 1, "fetch", "flash instruction fetch wait states"),
    Parameter("regions.sram.fetch_wait_states", 0, 15, 1, "fetch", "SRAM instruction fetch wait states"),
    Parameter("data_load_wait_states", 0, 15, 1, "ram_loads", "data memory load wait states"),
    Parameter("data_store_wait_states", 0, 15, 1, "ram_stores", "data memory store wait states"),
    Parameter("branch_refill_cycles", 1, 3, 1, "branches", "pipeline refill of a taken direct branch"),
    Parameter("allocator_call_cycles", 0, 20000, 100, "malloc_free",
              "allocator cost per malloc or free call beyond newlib-nano"),
)}


# ---------------------------------------------------------------- reading and writing parameters in [timing]
def get_value(timing: dict[str, Any], key: str, default: Any = 0) -> Any:
    node: Any = timing
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return float(node)


def set_values(timing: dict[str, Any], values: dict[str, float]) -> dict[str, Any]:
    out = copy.deepcopy(timing)
    for key, value in values.items():
        *path, last = key.split(".")
        node = out
        for part in path:
            node = node.setdefault(part, {})
        node[last] = value
    return out


_MISSING = object()


def board_parameters(board: Board) -> list[Parameter]:
    """The parameters a board fits: those its board.toml [timing] sets (a region it does not have, it cannot fit)."""
    timing = board.nominal_timing
    params = [p for p in PARAMETERS.values() if get_value(timing, p.key, _MISSING) is not _MISSING]
    if not params:
        raise ArmlprofError(f"board {board.name} sets none of the calibrated [timing] parameters in its board.toml "
                            f"({', '.join(PARAMETERS)})")
    return params


def with_timing(board: Board, values: dict[str, float], source: str = "explicit") -> Board:
    """`board` with these [timing] values, marked so that no calibration file overrides them."""
    return board.with_nominal_timing(set_values(board.nominal_timing, values) | {CALIBRATED_MARK: source})


# ---------------------------------------------------------------- calibration files
def user_file(board_name: str) -> Path:
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "armlprof" / "calibration" / f"{board_name}.json"


@cache
def _read(path: str, mtime_ns: int) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ArmlprofError(f"calibration file {path} is unreadable ({exc}); rerun armlprof calibrate") from None
    if not isinstance(data, dict) or not isinstance(data.get("parameters"), dict) or "board" not in data:
        raise ArmlprofError(f"calibration file {path} has no board and parameters; rerun armlprof calibrate")
    return data


def read_file(path: Path) -> dict[str, Any]:
    return _read(str(path), path.stat().st_mtime_ns)


_process_files: tuple[Path, ...] = ()  # --calibration, for this process (use_file)


def active_file(board_name: str) -> Path | None:
    """The calibration of `board_name`: among explicit files (--calibration, else $ARMLPROF_CALIBRATION) the one
    for this board, none if they are all for others; with no explicit file, the per-user default if present."""
    explicit = _process_files or ((Path(os.environ[ENV_FILE]),) if os.environ.get(ENV_FILE) else ())
    for path in explicit:
        if not path.is_file():
            raise ArmlprofError(f"calibration file {path} not found; check --calibration / ${ENV_FILE}")
    if explicit:
        return next((path for path in explicit if read_file(path)["board"] == board_name), None)
    path = user_file(board_name)
    return path if path.is_file() else None


def calibrated_timing(board_name: str, timing: dict[str, Any]) -> dict[str, Any]:
    """The board's [timing] with the active calibration file's values applied (board.py calls this)."""
    if CALIBRATED_MARK in timing:
        return timing
    path = active_file(board_name)
    if path is None:
        return timing
    data = read_file(path)
    if data["board"] != board_name:  # an explicit file for another board leaves this one alone
        return timing
    unknown = [k for k in data["parameters"] if k not in PARAMETERS]
    if unknown:
        raise ArmlprofError(f"calibration file {path}: unknown parameter {unknown[0]}; rerun armlprof calibrate")
    return set_values(timing, {k: float(v) for k, v in data["parameters"].items()}) | {CALIBRATED_MARK: str(path)}


@contextlib.contextmanager
def use_file(paths: Sequence[Path] | Path | None) -> Iterator[None]:
    """Within the block, `paths` (one file per board) are this process's calibration (the CLI's --calibration; no
    environment write). Jobs on other processes or machines get the timing they give with the job
    (resolved_timing), not the files."""
    global _process_files
    given = () if paths is None else (paths,) if isinstance(paths, str | Path) else tuple(paths)
    for path in given:
        if not Path(path).is_file():
            raise ArmlprofError(f"calibration file {path} not found; pass a file armlprof calibrate wrote")
    previous = _process_files
    if given:
        _process_files = tuple(Path(path).resolve() for path in given)
    try:
        yield
    finally:
        _process_files = previous


def resolved_timing(board: Board) -> dict[str, Any]:
    """The board's timing as this process sees it (calibration applied), marked as resolved, so that a worker
    given it with the job (Board.with_nominal_timing) applies no calibration file of its own."""
    return {CALIBRATED_MARK: None} | board.timing


def timing_identity(board: Board) -> tuple[str, str | None]:
    """(sha256 prefix of the timing parameters, the calibration file they came from or None): what an emulated
    time was measured with, so a figure from other parameters is not taken for this one."""
    timing = board.timing
    parameters = {k: v for k, v in timing.items() if k != CALIBRATED_MARK}
    parameters["cycle_model"] = model_fingerprint()  # the same parameters under a fixed model: another figure
    digest = hashlib.sha256(json.dumps(parameters, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return digest, timing.get(CALIBRATED_MARK)


# ---------------------------------------------------------------- running the kernels
Runner = Callable[[Board], dict[str, int]]


def parse_kernel_lines(lines: Sequence[str]) -> dict[str, int]:
    from armlprof.protocol import parse_line

    out: dict[str, int] = {}
    for line in lines:
        record = parse_line(line)
        if record is not None and record.event == "calib":
            out[record.fields["kernel"]] = record.int("cycles")
    missing = [k for k in KERNELS if k not in out]
    if missing:
        raise ArmlprofError(f"the calibration sketch printed no cycles for {', '.join(missing)}; "
                            "check the board's console output")
    return out


def build_calibration_sketch(board: Board) -> Path:
    from armlprof.build import build_sketch

    return build_sketch(SKETCH_DIR, board, baseline=False).elf


def emulator_runner(iterations: int) -> Runner:
    """Run the calibration sketch on the emulator (timed) with the board's timing as given (a fresh Emulator per
    call: the emulator target keeps emulators per board name, whatever their timing)."""
    from armlprof.emulator import Emulator

    def run(board: Board) -> dict[str, int]:
        emulator = Emulator(board, build_calibration_sketch(board), timed=True, max_cycles=60 * board.clock_hz)
        try:
            emulator.write_console(f"n={iterations}\n")
            result = emulator.run()
        finally:
            emulator.close()
        if not result.ok:
            raise ArmlprofError(f"the calibration sketch failed on the emulator: {result.problem()}")
        return parse_kernel_lines(result.console_text.splitlines())

    return run


def target_runner(target: Any, iterations: int, timeout_s: float = 120.0) -> Runner:
    """Run the calibration sketch on another target (the serial one): its parameters are the board's own."""
    from armlprof.target import Image

    def run(board: Board) -> dict[str, int]:
        image = target.prepare(Image(board, build_calibration_sketch(board), SKETCH_DIR, "calibration"))
        outcome = target.run(image, f"n={iterations}", timeout_s=timeout_s)
        return parse_kernel_lines(outcome.lines)

    return run


def arduino_cli_uploader(port: str, arduino_cli: str = "arduino-cli") -> Callable[[Any], None]:
    """Compile the calibration sketch with the board's official core (arduino-cli, its FQBN) and upload it."""
    import shutil
    import subprocess
    import tempfile

    def upload(image: Any) -> None:
        with tempfile.TemporaryDirectory(prefix="armlprof-calibration-") as tmp:
            sketch = Path(tmp) / "calibration"
            shutil.copytree(SKETCH_DIR, sketch)
            for step in (["compile", "--fqbn", image.board.fqbn, str(sketch)],
                         ["upload", "-p", port, "--fqbn", image.board.fqbn, str(sketch)]):
                proc = subprocess.run([arduino_cli, *step], capture_output=True, text=True, check=False)
                if proc.returncode != 0:
                    last = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
                    raise ArmlprofError(f"arduino-cli {step[0]} of the calibration sketch failed: "
                                        f"{last[-1] if last else 'no output'}")

    return upload


# ---------------------------------------------------------------- the fit
def bounded_lstsq(a: np.ndarray, b: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """min ||a x - b|| with lower <= x <= upper (active set: clamp the worst violator, re-solve the rest)."""
    n = a.shape[1]
    fixed: dict[int, float] = {}
    for _ in range(2 * n + 1):
        free = [j for j in range(n) if j not in fixed]
        x = np.array([fixed.get(j, 0.0) for j in range(n)])
        if free:
            rhs = b - a[:, list(fixed)] @ np.array(list(fixed.values())) if fixed else b
            x[free] = np.linalg.lstsq(a[:, free], rhs, rcond=None)[0]
        violation = np.maximum(lower - x, 0) + np.maximum(x - upper, 0)
        violation[list(fixed)] = 0
        if not violation.any():
            # Release a clamped variable whose gradient points into the box (KKT), then stop when none does.
            grad = a.T @ (a @ x - b)
            release = [j for j, v in fixed.items()
                       if (v == lower[j] and grad[j] < 0) or (v == upper[j] and grad[j] > 0)]
            if not release:
                return x
            del fixed[release[0]]
            continue
        j = int(np.argmax(violation))
        fixed[j] = float(np.clip(x[j], lower[j], upper[j]))
    return np.clip(x, lower, upper)


@dataclass
class Fit:
    board: str
    target: str
    parameters: dict[str, float]
    measured: dict[str, int]
    predicted: dict[str, float]

    def residuals(self) -> dict[str, float]:
        return {k: self.measured[k] - self.predicted[k] for k in self.measured}

    def to_json(self) -> dict[str, Any]:
        return {"board": self.board, "target": self.target,
                "parameters": {k: round(v, 4) for k, v in self.parameters.items()},
                "kernels": {k: {"measured_cycles": self.measured[k], "fitted_cycles": round(self.predicted[k], 1)}
                            for k in self.measured}}


def fit(board: Board, measured: dict[str, int], iterations: int, target_name: str,
        parameters: Sequence[Parameter] | None = None) -> Fit:
    """Fit `parameters` so the emulator's kernel cycles match `measured` (from the board's nominal values)."""
    params = list(parameters or board_parameters(board))
    timing = board.nominal_timing
    nominal = {p.key: get_value(timing, p.key) for p in params}
    emulate = emulator_runner(iterations)
    base = emulate(with_timing(board, nominal, "nominal"))
    columns = []
    for p in params:
        bumped = dict(nominal)
        bumped[p.key] = nominal[p.key] + p.step
        runs = emulate(with_timing(board, bumped, "sensitivity"))
        columns.append([(runs[k] - base[k]) / p.step for k in KERNELS])
    a = np.array(columns, dtype=float).T
    b = np.array([measured[k] - base[k] for k in KERNELS], dtype=float)
    x0 = np.array([nominal[p.key] for p in params])
    lower = np.array([p.lower for p in params]) - x0
    upper = np.array([p.upper for p in params]) - x0
    # Relative residuals: every kernel weighs the same whatever its length.
    scale = 1.0 / np.maximum(np.array([measured[k] for k in KERNELS], dtype=float), 1.0)
    delta = bounded_lstsq(a * scale[:, None], b * scale, lower, upper)
    predicted = {k: float(base[k] + a[i] @ delta) for i, k in enumerate(KERNELS)}
    values = {p.key: float(x0[j] + delta[j]) for j, p in enumerate(params)}
    return Fit(board.name, target_name, values, dict(measured), predicted)


def write_file(result: Fit, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result.to_json(), indent=2) + "\n")
    return path
