"""A study matrix file: the models x runtimes x boards of a sweep and its named variants, the way PlatformIO
environments or MLonMCU flows describe runs. `armlprof study --config study.toml`, or `[tool.armlprof.study]` in a
project's pyproject.toml (read from the current folder when no --config is given):

    models = ["builtin:micro_speech"]          # default: the study's models
    runtimes = ["tvm-aot", "tflm"]             # default: the study's runtimes
    boards = ["nano33ble", "spresense"]        # default: the study's boards
    measures = ["flash", "inference"]          # settings for every variant: measures, target, quick, runs,
    quick = true                               # init_runs, seed, timeout_s, optimization, flags, memory_kib, tflm

    [variants.os]                              # one run of the grid per variant, its name in each record
    optimization = "-Os"

    [variants.o2]
    optimization = "-O2"
    tflm = { kernels = "reference" }           # runtime options (tflm: kernels, arena_bytes, optimization)

    [variants.spresense-768]
    boards = ["spresense"]                     # a variant may narrow models, runtimes, boards
    memory_kib = 768

Without [variants] the grid runs once with the top-level settings (no variant name). Every problem (unknown key,
wrong type, two variants that measure the same thing) is one error naming the file and the key, before any cell.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from armlprof.errors import ArmlprofError
from armlprof.results import METRICS

# key -> (type(s), ProfileOptions field); lists are checked to hold strings.
_SETTINGS: dict[str, tuple[type | tuple[type, ...], str]] = {
    "measures": (list, "measures"), "target": (str, "target"), "quick": (bool, "quick"),
    "runs": (int, "inference_runs"), "init_runs": (int, "init_runs"), "seed": (int, "seed"),
    "timeout_s": ((int, float), "timeout_s"), "optimization": (str, "optimization"), "flags": (list, "extra_flags"),
    "memory_kib": (int, "memory_kib"),
}
_GRID = ("models", "runtimes", "boards")
_RUNTIME_TABLES = ("tflm",)  # runtime-option tables a variant may set


@dataclass
class StudyMatrix:
    """The cells of a sweep: (model spec, runtime, board, ProfileOptions) in run order."""

    source: str
    cells: list[tuple[str, str, str, Any]]

    @property
    def variants(self) -> list[str | None]:
        return list(dict.fromkeys(c[3].variant for c in self.cells))


def find_config(folder: Path | None = None) -> Path | None:
    """./pyproject.toml when it has [tool.armlprof.study], else None."""
    path = (folder or Path.cwd()) / "pyproject.toml"
    if path.is_file() and _study_table(path, required=False) is not None:
        return path
    return None


def _study_table(path: Path, required: bool = True) -> dict[str, Any] | None:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArmlprofError(f"study matrix file {path} not found; pass --config study.toml") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ArmlprofError(f"{path} is not valid TOML ({exc}); fix the file") from None
    if path.name == "pyproject.toml":
        table = data.get("tool", {}).get("armlprof", {}).get("study")
        if table is None and required:
            raise ArmlprofError(f"{path} has no [tool.armlprof.study] table; add one or pass a study.toml")
        return table
    return data


def load_matrix(path: Path | str, base: Any, *, models: list[str] | None = None,
                runtimes: list[str] | None = None, boards: list[str] | None = None) -> StudyMatrix:
    """The cells a matrix file describes, on top of `base` (ProfileOptions from the command line). `models`,
    `runtimes`, `boards` (given on the command line) replace the file's top-level lists."""
    from armlprof.study import STUDY_BOARDS, STUDY_RUNTIMES, study_models

    path = Path(path)
    table = _study_table(path)
    assert table is not None
    where = f"{path}" if path.name != "pyproject.toml" else f"{path} [tool.armlprof.study]"
    variants = table.get("variants", {})
    if not isinstance(variants, dict) or not all(isinstance(v, dict) for v in variants.values()):
        raise ArmlprofError(f"{where}: variants must be tables ([variants.NAME]); fix the file")
    top = {k: v for k, v in table.items() if k != "variants"}
    grid = {"models": models or top.get("models"), "runtimes": runtimes or top.get("runtimes", list(STUDY_RUNTIMES)),
            "boards": boards or top.get("boards", list(STUDY_BOARDS))}
    options = _apply(base, top, where)
    cells: list[tuple[str, str, str, Any]] = []
    seen: dict[tuple, str] = {}
    for name, settings in (variants.items() if variants else [(None, {})]):
        label = where if name is None else f"{where} variant {name!r}"
        variant = replace(_apply(options, settings, label), variant=name)
        chosen = {k: settings.get(k, grid[k]) for k in _GRID}
        for k in _GRID:
            if chosen[k] is not None and not _strings(chosen[k]):
                raise ArmlprofError(f"{label}: {k} must be a list of strings; fix the file")
        identity = (tuple(chosen["runtimes"]), tuple(chosen["boards"]), tuple(chosen["models"] or ()),
                    variant.memory_kib, variant.optimization, tuple(variant.extra_flags),
                    repr(sorted((r, sorted(o.items())) for r, o in variant.runtime_options.items())))
        if identity in seen:
            raise ArmlprofError(f"{where}: variants {seen[identity]!r} and {name!r} measure the same thing; "
                                "remove one or make them differ")
        seen[identity] = name
        for spec in study_models(chosen["models"], lambda _: None):
            for board in chosen["boards"]:
                for runtime in chosen["runtimes"]:
                    cells.append((spec, runtime, board, variant))
    if not cells:
        raise ArmlprofError(f"{where}: the matrix has no cells (empty models, runtimes or boards); fix the file")
    return StudyMatrix(str(path), cells)


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _apply(options: Any, settings: dict[str, Any], where: str) -> Any:
    """`options` with a table's settings applied (grid keys are handled by the caller)."""
    changes: dict[str, Any] = {}
    runtime_options = {k: dict(v) for k, v in options.runtime_options.items()}
    for key, value in settings.items():
        if key in _GRID:
            continue
        if key in _RUNTIME_TABLES:
            if not isinstance(value, dict):
                raise ArmlprofError(f"{where}: {key} must be a table, e.g. {key} = {{ kernels = \"reference\" }}")
            runtime_options[key] = {**runtime_options.get(key, {}), **value}
            continue
        if key not in _SETTINGS:
            known = ", ".join([*_GRID, *_SETTINGS, *_RUNTIME_TABLES])
            raise ArmlprofError(f"{where}: unknown key {key!r}; known keys: {known}")
        kind, field_name = _SETTINGS[key]
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is int) or (
                kind is list and not _strings(value)):
            expected = "a list of strings" if kind is list else getattr(kind, "__name__", "a number")
            raise ArmlprofError(f"{where}: {key} must be {expected}, got {value!r}; fix the file")
        if key == "measures":
            unknown = [m for m in value if m not in METRICS]
            if unknown:
                raise ArmlprofError(f"{where}: unknown measure(s) {', '.join(unknown)}; choose from "
                                    f"{', '.join(METRICS)}")
        changes[field_name] = tuple(value) if key == "flags" else value
    return replace(options, runtime_options=runtime_options, **changes)
