"""The figures armlprof measures, one `Metric` entry each: its name, the measurement sketch it runs, the function
that measures it, the value fields its records carry, how reports show it and the Robot keyword that measures it.

Adding a figure is one entry in METRICS plus its sketch template (armlprof/sketches/<kind>.ino.j2): the study
(`armlprof.study`), the result store's contract (`armlprof.results`), the reports (`armlprof.report`) and the
Robot library (`armlprof.robot.ArmlprofLibrary`) all read this table.

    metric = get_metric("inference")
    values = metric.measure(MeasureContext(target, image, build, model, workspace_bytes=None, runs=counts))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from armlprof.build import BuildResult
from armlprof.errors import ArmlprofError
from armlprof.measure import (
    DEFAULT_SEED,
    TRIAL_TIMEOUT_S,
    Progress,
    RunCounts,
    find_largest_allocation,
    flash_values,
    measure_inference,
    measure_init,
)
from armlprof.model import Model
from armlprof.target.base import Image, Target


def _quiet(_: str) -> None:
    pass


@dataclass
class MeasureContext:
    """What a measure function gets: the built image of its sketch on a target, and the run settings."""

    target: Target
    image: Image
    build: BuildResult
    model: Model
    workspace_bytes: int | None  # the runtime's static workspace or arena (GeneratedModel.workspace_bytes)
    runs: RunCounts = field(default_factory=lambda: RunCounts(1, 2))
    seed: int = DEFAULT_SEED
    timeout_s: float = TRIAL_TIMEOUT_S
    progress: Progress = _quiet


@dataclass(frozen=True)
class Metric:
    name: str  # the record's "metric"
    sketch: str  # the measurement sketch kind it runs (armlprof/sketches/<sketch>.ino.j2)
    measure: Callable[[MeasureContext], dict[str, Any]]  # the record's "values"
    value_fields: tuple[str, ...]  # the contract of its values (extra fields are kept)
    # ---- reports
    title: str
    unit: str  # "KiB" or "ms": what the headline figure is in (and how tables format it)
    lower_is_better: bool
    headline_field: str  # the value field of the headline figure
    headline_divisor: float  # headline = values[headline_field] / divisor, in `unit`
    detail_header: str  # its column in the per-model tables
    detail_extra_field: str | None = None  # a size shown in parentheses beside a KiB headline (flash: the model's)
    # ---- Robot Framework
    robot_keyword: str = ""
    robot_runs: str | None = None  # the RunCounts field its keyword's `runs` argument defaults to; None: no runs
    robot_returns: str | None = None  # the value field its keyword returns; None: all values
    robot_log: Callable[[Mapping[str, Any]], str] = str  # the line logged when it is measured
    # ---- fidelity
    timed: bool = False  # a time: on the emulator it depends on the board's timing parameters (calibration)

    def value(self, values: Mapping[str, Any]) -> float | None:
        """The headline figure of an ok record's values, in `unit` (None when not recorded)."""
        raw = values.get(self.headline_field)
        return None if raw is None else float(raw) / self.headline_divisor

    @property
    def arrow(self) -> str:
        return "↓" if self.lower_is_better else "↑"

    @property
    def better(self) -> str:
        return "lower is better" if self.lower_is_better else "higher is better"


# ---------------------------------------------------------------- the measure functions
def _flash(ctx: MeasureContext) -> dict[str, Any]:
    values = flash_values(ctx.build, ctx.workspace_bytes)
    if ctx.image.official_flash_bytes is not None:  # the target built with the official core (serial + arduino-cli)
        values["official_flash_bytes"] = ctx.image.official_flash_bytes
    return values


def _ram(ctx: MeasureContext) -> dict[str, Any]:
    ctx.progress("ram: bisection for the largest allocation")
    return find_largest_allocation(ctx.target, ctx.image, ctx.model, seed=ctx.seed, progress=ctx.progress,
                                   timeout_s=ctx.timeout_s).values()


def _init(ctx: MeasureContext) -> dict[str, Any]:
    return measure_init(ctx.target, ctx.image, ctx.model, runs=ctx.runs.init_runs, seed=ctx.seed,
                        progress=ctx.progress, timeout_s=ctx.timeout_s).values()


def _inference(ctx: MeasureContext) -> dict[str, Any]:
    return measure_inference(ctx.target, ctx.image, ctx.model, runs=ctx.runs.inference_runs, seed=ctx.seed,
                             progress=ctx.progress, timeout_s=ctx.timeout_s).values()


def _ram_log(v: Mapping[str, Any]) -> str:
    estimate = v.get("free_ram_estimate_bytes")
    return (f"unused RAM: {v['free_ram_bytes']:,} B after {v['trials']} trials"
            + (f" (memory-watch estimate {estimate:,} B)" if estimate is not None else ""))


TIMING_FIELDS = ("cycles", "ms", "runs", "ms_min", "ms_max", "ms_std", "cycles_min", "cycles_max")

_ENTRIES = (
    Metric("flash", "inference_time", _flash,
           ("flash_bytes", "baseline_flash_bytes", "model_flash_bytes", "static_ram_bytes", "workspace_bytes"),
           "Flash", "KiB", True, "flash_bytes", 1024, "Flash KiB (model) ↓", detail_extra_field="model_flash_bytes",
           robot_keyword="Measure Flash",
           robot_log=lambda v: (f"flash: {v['flash_bytes']:,} B total, {v['model_flash_bytes']:,} B model, "
                                f"{v['baseline_flash_bytes']:,} B empty sketch")),
    Metric("ram", "ram_probe", _ram,
           ("free_ram_bytes", "free_ram_estimate_bytes", "trials", "heap_high_water_bytes", "stack_bytes_used"),
           "Unused RAM", "KiB", False, "free_ram_bytes", 1024, "Unused RAM KiB ↑",
           robot_keyword="Find Largest Allocation", robot_returns="free_ram_bytes", robot_log=_ram_log),
    Metric("init", "init_time", _init, TIMING_FIELDS, "Initialization", "ms", True, "ms", 1,
           "Initialization ms (cycles) ↓", robot_keyword="Measure Init", robot_runs="init_runs",
           robot_log=lambda v: f"init: {v['ms']:.4f} ms ({v['cycles']:,} cycles) over {v['runs']} runs", timed=True),
    Metric("inference", "inference_time", _inference, TIMING_FIELDS, "Inference", "ms", True, "ms", 1,
           "Inference ms (cycles) ↓", robot_keyword="Measure Inference", robot_runs="inference_runs",
           robot_log=lambda v: f"inference: {v['ms']:.4f} ms ({v['cycles']:,} cycles) over {v['runs']} runs",
           timed=True),
)

# name -> Metric, in the order the study measures them and reports show them.
METRICS: dict[str, Metric] = {m.name: m for m in _ENTRIES}
METRIC_NAMES: tuple[str, ...] = tuple(METRICS)


def get_metric(name: str) -> Metric:
    metric = METRICS.get(name)
    if metric is None:
        raise ArmlprofError(f"unknown measurement '{name}'; choose from {', '.join(METRICS)}")
    return metric
