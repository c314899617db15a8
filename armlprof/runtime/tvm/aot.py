"""Runtime `tvm-aot`: TVM-generated operators called in order by a generated entry function (AOT executor).

All intermediate tensors live in one static workspace (`.bss`) packed by tensor liveness; model_init only
sets tensor pointers, so initialization costs nearly nothing and uses no heap.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from armlprof.runtime.base import GeneratedModel
from armlprof.runtime.tvm.backend import TvmRuntimeBase

if TYPE_CHECKING:
    from armlprof.board import Board
    from armlprof.model import Model


class TvmAotRuntime(TvmRuntimeBase):
    name = "tvm-aot"
    executor = "aot"

    def generate(self, model: Model, src_dir: Path, board: Board | None, **options: Any) -> GeneratedModel:
        from armlprof.runtime.tvm.emit import write_aot

        program = self._program(model, board, options)
        src_dir = Path(src_dir)
        write_aot(program, src_dir)
        return self._generated(model, program, src_dir, program.workspace_bytes)
