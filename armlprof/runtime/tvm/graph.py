"""Runtime `tvm-graph`: TVM-generated operators run by a small on-device graph executor.

model_init parses the graph JSON (nodes, arg_nodes, heads, attrs.storage_id/shape/dltype) as TVM's graph
executor did, mallocs one block per storage id, binds parameters (const arrays in flash) and operators
(a generated name table) by name; model_inference copies the input in, runs the nodes, copies the output
out; model_deinit frees everything. Init time and heap use are therefore real.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from armlprof.runtime.base import GeneratedModel
from armlprof.runtime.tvm.backend import TvmRuntimeBase

if TYPE_CHECKING:
    from armlprof.board import Board
    from armlprof.model import Model


class TvmGraphRuntime(TvmRuntimeBase):
    name = "tvm-graph"
    executor = "graph"

    def generate(self, model: Model, src_dir: Path, board: Board | None, **options: Any) -> GeneratedModel:
        from armlprof.runtime.tvm.emit import write_graph

        program = self._program(model, board, options)
        src_dir = Path(src_dir)
        text = write_graph(program, src_dir)
        storage = sum(program.storage_bytes)
        return self._generated(model, program, src_dir, None, graph_json_bytes=len(text),
                               storage_bytes=storage, storage_ids=len(program.storage_bytes))
