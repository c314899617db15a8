"""What the two TVM runtimes share: availability check, compile (cached), GeneratedModel figures."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from armlprof.errors import ArmlprofError
from armlprof.runtime.base import GeneratedModel, Runtime, RuntimeOption, write_model_header

if TYPE_CHECKING:
    from armlprof.board import Board
    from armlprof.model import Model
    from armlprof.runtime.tvm.compiler import Program


class TvmRuntimeBase(Runtime):
    executor = ""
    options = (
        RuntimeOption("schedule", str, "default, tuned or te", choices=("default", "tuned", "te"), default="default"),
        RuntimeOption("tune", int, "the number of tuning candidates to measure (0: use the records only)",
                      default=0, minimum=0),
        # The build the tuning records are for: already in the record's compiler flags.
        RuntimeOption("optimization", str, "an optimization flag such as -O2", in_flags=False),
        RuntimeOption("extra_flags", tuple, "extra compiler flags", in_flags=False),
        RuntimeOption("choices", dict, "micro-kernel variant per operator signature (what tuning picks)"),
    )

    def unavailable_reason(self, **options: Any) -> str | None:
        import importlib.util

        from armlprof.runtime.tvm.codegen import INSTALL_HINT

        # Found, not imported: a cell whose Program is cached needs no TVM (importing it takes ~5 s per process);
        # a compile imports it and says in one line if the install is broken (codegen.require_tvm).
        if importlib.util.find_spec("tvm") is None:
            return f"TVM is not installed; {INSTALL_HINT}"
        return None

    def version(self, **options: Any) -> str:
        from armlprof.runtime.tvm.codegen import tvm_version

        return tvm_version()

    def _program(self, model: Model, board: Board | None = None, options: dict[str, Any] | None = None) -> Program:
        """Options: schedule = "default" | "tuned" | "te"; tune = trials (tunes operators without records on
        `board`, then uses the records); optimization / extra_flags = the build flags the records are for."""
        options = dict(options or {})  # declared and checked by the Runtime base class
        schedule = options.get("schedule", "default")
        reason = self.unavailable_reason()
        if reason:
            raise ArmlprofError(reason)
        if getattr(model, "path", None) is None:
            raise ArmlprofError(f"model '{model.name}' has no .tflite file; the {self.name} runtime needs one "
                                "(use --runtime handwritten for builtin:dense)")
        from armlprof.runtime.tvm.compiler import compile_model

        choices = options.get("choices")
        tune = int(options.get("tune", 0) or 0)
        if choices is None and (tune or schedule == "tuned"):
            if board is None:
                raise ArmlprofError(f"{self.name}: tuned schedules need a board (tuning records are per board)")
            from armlprof.runtime.tvm import tuning

            choices = tuning.tune(model, board, tune, optimization=options.get("optimization"),
                                  extra_flags=tuple(options.get("extra_flags", ())))
        return compile_model(Path(model.path), model.sha256, schedule="te" if schedule == "te" else "default",
                             choices=choices)

    def _generated(self, model: Model, program: Program, src_dir: Path, workspace_bytes: int | None,
                   **notes: Any) -> GeneratedModel:
        write_model_header(src_dir, self.name, model.input_bytes, model.output_bytes, model.input_sizes,
                           model.output_sizes, getattr(model, "stateful", False))
        return GeneratedModel(
            runtime=self.name, runtime_version=f"tvm {program.tvm_version}", src_dir=src_dir,
            input_bytes=model.input_bytes, output_bytes=model.output_bytes, workspace_bytes=workspace_bytes,
            notes={"executor": self.executor, "constant_bytes": program.constant_bytes,
                   "operator_functions": program.distinct_functions, "steps": len(program.steps),
                   "macs": program.stats.get("macs"), "tvm_compile_seconds": round(program.compile_seconds, 3),
                   **notes})
