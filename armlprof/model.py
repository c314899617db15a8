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

from armlprof.errors import ArmlprofError, ModelError
from armlprof.tflite_verify import verify_tflite

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
    activation_bytes: int = 0  # every non-constant tensor, summed: what the reference interpreter's arena holds
    # The reference interpreter's arena: tflite-micro's default (10x the file size) is too small for models with
    # small weights and large activations, so it is sized from the model and grown until allocation succeeds.
    _arena_bytes: int = field(default=0, repr=False)

    @cached_property
    def sha256(self) -> str:
        if self.path is None:
            weights, bias = dense_weights()
            return hashlib.sha256(weights.tobytes() + bias.tobytes()).hexdigest()
        return hashlib.sha256(self.path.read_bytes()).hexdigest()

    def _first_arena_bytes(self) -> int:
        file_bytes = self.path.stat().st_size if self.path is not None else 0
        return max(10 * file_bytes, 2 * self.activation_bytes + 64 * 1024)

    @cached_property
    def _interpreter(self):
        from tflite_micro.python.tflite_micro import runtime

        arena = self._arena_bytes or self._first_arena_bytes()
        while True:
            try:
                interpreter = runtime.Interpreter.from_file(str(self.path), arena_size=arena)
                self._arena_bytes = arena
                return interpreter
            except RuntimeError as exc:
                if "allocate" not in str(exc).lower() or arena >= MAX_REFERENCE_ARENA_BYTES:
                    raise ModelError(f"{self.name}: tflite-micro cannot run the model ({' '.join(str(exc).split())});"
                                     " check that it is a valid int8 model") from None
                arena *= 2

    def reference(self, input_bytes: bytes) -> bytes:
        """The bit-exact expected output for one input."""
        if self.path is None:
            return dense_reference(input_bytes)
        it = self._interpreter
        details = it.get_input_details(0)
        try:
            it.reset()
            it.set_input(np.frombuffer(input_bytes, dtype=np.int8).reshape(details["shape"]), 0)
            it.invoke()
        except RuntimeError as exc:
            raise ModelError(f"{self.name}: tflite-micro cannot run the model ({' '.join(str(exc).split())}); "
                             "check that it is a valid int8 model") from None
        return np.asarray(it.get_output(0)).tobytes()  # int8, or a DEQUANTIZE's float32 output as its bytes


MAX_REFERENCE_ARENA_BYTES = 1 << 30


def tflite_operators(path: Path) -> list[str]:
    """The builtin operator names a .tflite model uses, in first-use order (the model is verified first)."""
    return verify_tflite(Path(path).read_bytes(), Path(path).name).operators


def load_model(spec: str) -> Model:
    """`path/to/model.tflite` or `builtin:dense` (the hand-written test model). A .tflite file is verified
    completely here (armlprof.tflite_verify): a damaged model is one ModelError line, never a crash later."""
    if spec == "builtin:dense":
        return Model("dense", spec, None, DENSE_IN, DENSE_OUT, ["FULLY_CONNECTED"])
    if spec.startswith("builtin:"):
        from armlprof import modelgen  # generated study-architecture models (issue 5)

        return load_model(str(modelgen.builtin_model_path(spec.removeprefix("builtin:"))))
    path = Path(spec)
    if not path.is_file():
        raise ArmlprofError(f"model not found: {spec} (give a .tflite file, or builtin:NAME; see armlprof models)")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read model {spec}: {exc.strerror}; check its permissions") from None
    info = verify_tflite(data, path.name)
    if len(info.inputs) != 1 or len(info.outputs) != 1:
        raise ModelError(f"{path.name}: {len(info.inputs)} inputs and {len(info.outputs)} outputs; armlprof "
                         "profiles single-input single-output models")
    for tensor in (*info.inputs, *info.outputs):
        if tensor.type_name != "int8" and not (tensor in info.outputs and tensor.type_name == "float32"):
            raise ModelError(f"{path.name}: tensor '{tensor.name}' is {tensor.type_name}, not int8; armlprof needs "
                             "a fully int8 model")
    output_bytes = info.outputs[0].elements * (4 if info.outputs[0].type_name == "float32" else 1)
    return Model(path.stem, spec, path, info.inputs[0].elements, output_bytes, info.operators,
                 info.activation_bytes)
