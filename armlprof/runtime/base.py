"""The one small interface every runtime backend implements, and the registry that finds them.

A backend writes into a sketch's `src/` directory:
  - `model.h` (always via `write_model_header`, so every runtime exposes the identical interface), and
  - its implementation files (`model*.c` / `.cpp` / whatever it needs, any subfolders).
The interface (C, usable from C++; a C++ `Model` class wraps it as in the study):
  int  model_init(void);                                   -- initialization; 0 = ok
  int  model_inference(const int8_t *input, int8_t *output); -- one inference; 0 = ok
  void model_deinit(void);                                 -- frees what init allocated
"""

from __future__ import annotations

import functools
import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from armlprof.errors import ArmlprofError

if TYPE_CHECKING:
    from armlprof.board import Board
    from armlprof.model import Model

# name -> "module:Class"; imported lazily so the CLI starts without importing TVM.
_REGISTRY: dict[str, str] = {
    "handwritten": "armlprof.runtime.handwritten:HandwrittenRuntime",
    "tvm-aot": "armlprof.runtime.tvm.aot:TvmAotRuntime",
    "tvm-graph": "armlprof.runtime.tvm.graph:TvmGraphRuntime",
    "tflm": "armlprof.runtime.tflm.runtime:TflmRuntime",
}


@dataclass
class GeneratedModel:
    """What a backend wrote, and the figures it knows before anything runs."""

    runtime: str
    runtime_version: str
    src_dir: Path
    input_bytes: int
    output_bytes: int
    workspace_bytes: int | None = None  # static workspace (AOT) or arena (TFLM); None when not applicable
    extra_build_flags: list[str] = field(default_factory=list)
    extra_objects: list[Path] = field(default_factory=list)  # prebuilt static libraries to link (TFLM)
    include_dirs: list[Path] = field(default_factory=list)  # folders the generated sources #include from
    notes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RuntimeOption:
    """One option a runtime declares (MLonMCU-style backend options): checked before the runtime sees it."""

    name: str
    type: type  # int, str or Path: the value is converted to it
    help: str
    choices: tuple[str, ...] = ()
    default: Any = None  # documentation only: the runtime applies its own default when the option is absent
    minimum: int | None = None
    in_flags: bool = True  # part of the record's flags (and key): True when it changes the generated code

    def convert(self, runtime: str, value: Any) -> Any:
        try:
            converted = self.type(value)
        except (TypeError, ValueError):
            raise ArmlprofError(f"runtime {runtime} option {self.name}={value!r} is not {self.type.__name__}; "
                                f"give {self.help}") from None
        if self.choices and converted not in self.choices:
            raise ArmlprofError(f"runtime {runtime} option {self.name}={value!r} is not one of "
                                f"{', '.join(self.choices)}")
        if self.minimum is not None and converted < self.minimum:
            raise ArmlprofError(f"runtime {runtime} option {self.name}={value!r} is below {self.minimum}")
        return converted


def _checking(method: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a runtime's generate / unavailable_reason / version so it only ever sees declared, converted options."""

    @functools.wraps(method)
    def checked(self: Runtime, *args: Any, **options: Any) -> Any:
        return method(self, *args, **self.check_options(options))

    checked.__armlprof_checked__ = True  # type: ignore[attr-defined]
    return checked


class Runtime(ABC):
    name: str = ""
    # The options this runtime takes (`generate(..., **options)`, `--tflm-kernels` etc. on the CLI).
    options: tuple[RuntimeOption, ...] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Options are validated here, in the base class, for every runtime: unknown names and bad values are one
        # ArmlprofError line before the runtime runs.
        for attr in ("generate", "unavailable_reason", "version"):
            method = cls.__dict__.get(attr)
            if method is not None and not getattr(method, "__armlprof_checked__", False):
                setattr(cls, attr, _checking(method))

    def check_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """`options` with unknown names rejected and values converted to their declared types (None = absent)."""
        declared = {o.name: o for o in self.options}
        unknown = sorted(set(options) - set(declared))
        if unknown:
            if not declared:
                raise ArmlprofError(f"runtime {self.name} takes no options (got {', '.join(unknown)}); remove them")
            raise ArmlprofError(f"unknown {self.name} option(s) {', '.join(unknown)}; known: {', '.join(declared)}")
        return {k: declared[k].convert(self.name, v) for k, v in options.items() if v is not None}

    def flag_items(self, options: Mapping[str, Any]) -> list[tuple[str, Any]]:
        """The options that change the generated code, sorted: they go into the record's flags."""
        flagged = {o.name for o in self.options if o.in_flags}
        return sorted((k, v) for k, v in self.check_options(options).items() if k in flagged)

    def unavailable_reason(self, **options: Any) -> str | None:
        """None when usable here (with these options); otherwise one line saying what is missing and how to get it."""
        self.check_options(options)
        return None

    @abstractmethod
    def version(self, **options: Any) -> str: ...

    def identity(self, **options: Any) -> dict[str, str]:
        """Key parts beyond the options that change the figures (e.g. which TFLM tree and kernels); cheap, called
        before anything is generated. Default: none."""
        return {}

    @abstractmethod
    def generate(self, model: Model, src_dir: Path, board: Board, **options: Any) -> GeneratedModel:
        """Write `src_dir/model.h` and the implementation for `model` on `board`."""


def runtime_identity(name: str, options: dict[str, Any]) -> dict[str, str]:
    """`get_runtime(name).identity(**options)`, or {} when the runtime cannot say (not installed, no tree): its
    records are then `unavailable` and a later run, with the runtime present, has another key."""
    try:
        return get_runtime(name).identity(**options)
    except (ImportError, ArmlprofError):
        return {}


def runtime_names() -> list[str]:
    return list(_REGISTRY)


def get_runtime(name: str) -> Runtime:
    spec = _REGISTRY.get(name)
    if spec is None:
        raise ArmlprofError(f"unknown runtime '{name}'; known runtimes: {', '.join(_REGISTRY)}")
    module_name, class_name = spec.split(":")
    module = importlib.import_module(module_name)
    return getattr(module, class_name)()


MODEL_H = """\
/* Generated by armlprof for runtime {runtime}. The same interface for every runtime. */
#ifndef ARMLPROF_MODEL_H
#define ARMLPROF_MODEL_H
#include <stdint.h>

#define MODEL_RUNTIME "{runtime}"
#define MODEL_INPUT_BYTES {input_bytes}
#define MODEL_OUTPUT_BYTES {output_bytes}
{io_layout}
#ifdef __cplusplus
extern "C" {{
#endif
/* Initialization: returns 0 on success. May allocate from the heap (graph executor, TFLM arena). */
int model_init(void);
/* One inference on MODEL_INPUT_BYTES int8 values into MODEL_OUTPUT_BYTES; returns 0 on success. */
int model_inference(const int8_t *input, int8_t *output);
/* Releases what model_init allocated. */
void model_deinit(void);
#ifdef __cplusplus
}}

/* The study's interface: constructing the model is initialization. */
class Model {{
 public:
  Model() : status_(model_init()) {{}}
  ~Model() {{ model_deinit(); }}
  int status() const {{ return status_; }}
  int inference(const int8_t *input, int8_t *output) {{ return model_inference(input, output); }}

 private:
  int status_;
}};
#endif
#endif
"""


def _io_layout(input_sizes: Sequence[int], output_sizes: Sequence[int]) -> str:
    """Several inputs or outputs: where each tensor lies in the packed buffers (armlprof.protocol.io_offsets).
    One of each: nothing, so a single-I/O model.h (and image) is what it always was."""
    from armlprof.protocol import io_offsets

    if len(input_sizes) <= 1 and len(output_sizes) <= 1:
        return ""

    def array(values: Sequence[int]) -> str:
        return "{" + ", ".join(str(v) for v in values) + "}"

    lines = []
    for kind, sizes in (("INPUT", input_sizes), ("OUTPUT", output_sizes)):
        lines += [f"#define MODEL_{kind}S {len(sizes)}", f"#define MODEL_{kind}_SIZES {array(sizes)}",
                  f"#define MODEL_{kind}_OFFSETS {array(io_offsets(sizes))}"]
    return "/* Several inputs/outputs: each tensor's bytes and offset in the packed buffers. */\n" + \
        "\n".join(lines) + "\n"


def write_model_header(src_dir: Path, runtime: str, input_bytes: int, output_bytes: int,
                       input_sizes: Sequence[int] | None = None, output_sizes: Sequence[int] | None = None,
                       stateful: bool = False) -> Path:
    """`input_bytes`/`output_bytes`: the packed buffers; `*_sizes`: each tensor's bytes (default: one tensor);
    `stateful`: the model keeps state across inferences (variable tensors), which the sketches check differently."""
    src_dir.mkdir(parents=True, exist_ok=True)
    path = src_dir / "model.h"
    layout = _io_layout(input_sizes or [input_bytes], output_sizes or [output_bytes])
    if stateful:
        layout += "/* Variable tensors: each inference's output depends on the ones before (reset at init). */\n" \
                  "#define MODEL_STATEFUL 1\n"
    path.write_text(MODEL_H.format(runtime=runtime, input_bytes=input_bytes, output_bytes=output_bytes,
                                   io_layout=layout))
    return path
