"""A model to profile: a .tflite file, or a built-in (`builtin:<name>`).

Every model knows its identity (sha256), its int8 input/output sizes, its operator list, and how to
compute the reference output for an input (tflite-micro's host interpreter for .tflite models, which is
bit-exact with TFLM; numpy for the hand-written test model).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from armlprof.errors import ArmlprofError

# The hand-written int8 dense test model (runtime `handwritten`): y = requant(W x + b), no TVM/TFLM needed.
DENSE_IN = 64
DENSE_OUT = 8
DENSE_SHIFT = 8  # requantization: (acc + 2^(shift-1)) >> shift, clamped to int8


def dense_weights() -> tuple[np.ndarray, np.ndarray]:
    """Fixed weights and bias of the test model (seeded, so C and Python agree by construction)."""
    rng = np.random.default_rng(20240501)
    weights = rng.integers(-128, 128, size=(DENSE_OUT, DENSE_IN), dtype=np.int64).astype(np.int8)
    bias = rng.integers(-2000, 2000, size=DENSE_OUT, dtype=np.int64).astype(np.int32)
    return weights, bias


def dense_reference(input_bytes: bytes) -> bytes:
    weights, bias = dense_weights()
    x = np.frombuffer(input_bytes, dtype=np.int8).astype(np.int64)
    acc = weights.astype(np.int64) @ x + bias
    y = np.clip((acc + (1 << (DENSE_SHIFT - 1))) >> DENSE_SHIFT, -128, 127).astype(np.int8)
    return y.tobytes()


@dataclass
class Model:
    name: str  # short name for tables: file stem or builtin name
    spec: str  # what the user gave
    path: Path | None  # the .tflite file, None for the hand-written builtin
    input_bytes: int
    output_bytes: int
    operators: list[str] = field(default_factory=list)

    @cached_property
    def sha256(self) -> str:
        if self.path is None:
            weights, bias = dense_weights()
            return hashlib.sha256(weights.tobytes() + bias.tobytes()).hexdigest()
        return hashlib.sha256(self.path.read_bytes()).hexdigest()

    @cached_property
    def _interpreter(self):
        from tflite_micro.python.tflite_micro import runtime

        return runtime.Interpreter.from_file(str(self.path))

    def reference(self, input_bytes: bytes) -> bytes:
        """The bit-exact expected output for one input."""
        if self.path is None:
            return dense_reference(input_bytes)
        it = self._interpreter
        details = it.get_input_details(0)
        it.reset()
        it.set_input(np.frombuffer(input_bytes, dtype=np.int8).reshape(details["shape"]), 0)
        it.invoke()
        return np.asarray(it.get_output(0), dtype=np.int8).tobytes()


def tflite_operators(path: Path) -> list[str]:
    """The builtin operator names a .tflite model uses, in first-use order."""
    import tflite

    from armlprof.tflite_schema import model_operators

    return model_operators(tflite.Model.GetRootAsModel(path.read_bytes(), 0))


def _tflite_io_bytes(path: Path) -> tuple[int, int]:
    import tflite

    m = tflite.Model.GetRootAsModel(path.read_bytes(), 0)
    g = m.Subgraphs(0)
    sizes = []
    for idx in (g.Inputs(0), g.Outputs(0)):
        t = g.Tensors(idx)
        if t.Type() != tflite.TensorType.INT8:
            name = t.Name().decode()
            raise ArmlprofError(f"{path.name}: tensor '{name}' is not int8; armlprof needs a fully int8 model")
        sizes.append(int(np.prod(t.ShapeAsNumpy())))
    return sizes[0], sizes[1]


def load_model(spec: str) -> Model:
    """`path/to/model.tflite` or `builtin:dense` (the hand-written test model)."""
    if spec == "builtin:dense":
        return Model("dense", spec, None, DENSE_IN, DENSE_OUT, ["FULLY_CONNECTED"])
    if spec.startswith("builtin:"):
        from armlprof import modelgen  # generated study-architecture models (issue 5)

        return load_model(str(modelgen.builtin_model_path(spec.removeprefix("builtin:"))))
    path = Path(spec)
    if not path.is_file():
        raise ArmlprofError(f"model not found: {spec} (give a .tflite file or builtin:dense)")
    try:
        in_bytes, out_bytes = _tflite_io_bytes(path)
        ops = tflite_operators(path)
    except ArmlprofError:
        raise
    except Exception as exc:  # a flatbuffer that does not parse
        raise ArmlprofError(f"{path}: not a readable .tflite model ({exc})") from exc
    return Model(path.stem, spec, path, in_bytes, out_bytes, ops)
