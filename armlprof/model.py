"""A model to profile: a .tflite file, or a built-in (`builtin:<name>`).

Every model knows its identity (sha256), its input/output sizes in bytes (int8; int16x8 models' int16 tensors take
2 bytes an element, little-endian), its operator list, and how to
compute the reference output for an input (tflite-micro's host interpreter for .tflite models, which is
bit-exact with TFLM; numpy for the hand-written test model).

A model may have several inputs and outputs: `input_sizes`/`output_sizes` are each tensor's bytes in the model's
order, and `input_bytes`/`output_bytes` the packed buffers the sketches hand to `model_inference`
(armlprof.protocol.io_offsets: one tensor = its size). `reference_outputs` maps a list of input tensors to the list
of output tensors; `reference` does the same on packed buffers.

A model with variable tensors (SVDF's activation state) is *stateful*: its output depends on the invocations before.
`reference`/`reference_outputs` give the output of the first invocation after initialization (state zero), which is
what a sketch checks right after model init; `reference_sequence` gives N consecutive invocations (what a sketch's
N timed inferences compute, and what a streaming deployment sees).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from armlprof.errors import ArmlprofError, ModelError
from armlprof.protocol import io_bytes, pack, unpack
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
    input_sizes: list[int] = field(default_factory=list)  # bytes of each input tensor (default: [input_bytes])
    output_sizes: list[int] = field(default_factory=list)
    variable_tensors: int = 0  # is_variable tensors: > 0 makes the model stateful
    io_types: list[str] = field(default_factory=list)  # element type of each input, then each output (IO_ELEMENT_BYTES)
    # The reference interpreter's arena: tflite-micro's default (10x the file size) is too small for models with
    # small weights and large activations, so it is sized from the model and grown until allocation succeeds.
    _arena_bytes: int = field(default=0, repr=False)

    def __post_init__(self) -> None:
        self.input_sizes = list(self.input_sizes) or [self.input_bytes]
        self.output_sizes = list(self.output_sizes) or [self.output_bytes]

    @property
    def stateful(self) -> bool:
        return self.variable_tensors > 0

    @property
    def single_io(self) -> bool:
        return len(self.input_sizes) == 1 and len(self.output_sizes) == 1

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
        """The bit-exact expected output for one input (packed buffers: one tensor = its bytes)."""
        return pack(self.reference_outputs(unpack(input_bytes, self.input_sizes)), self.output_sizes)

    def reference_outputs(self, inputs: Sequence[bytes]) -> list[bytes]:
        """The bit-exact expected output tensors for these input tensors (model order)."""
        if [len(x) for x in inputs] != self.input_sizes:
            raise ArmlprofError(f"{self.name}: reference needs inputs of {self.input_sizes} bytes, got "
                                f"{[len(x) for x in inputs]}")
        return self.reference_sequence([inputs])[0]

    def reference_sequence(self, steps: Sequence[Sequence[bytes]]) -> list[list[bytes]]:
        """The output tensors of consecutive invocations from a fresh state, one list of input tensors per
        invocation (a stateless model gives each step what `reference_outputs` gives it)."""
        for inputs in steps:
            if [len(x) for x in inputs] != self.input_sizes:
                raise ArmlprofError(f"{self.name}: reference needs inputs of {self.input_sizes} bytes, got "
                                    f"{[len(x) for x in inputs]}")
        if self.path is None:
            return [[dense_reference(inputs[0])] for inputs in steps]
        it = self._interpreter
        results = []
        try:
            it.reset()  # zeroes the variable tensors too (MicroInterpreter::Reset)
            for inputs in steps:
                for index, data in enumerate(inputs):
                    details = it.get_input_details(index)  # int8, or int16 (int16x8 models): little-endian bytes
                    it.set_input(np.frombuffer(data, dtype=np.dtype(details["dtype"]).newbyteorder("<"))
                                 .reshape(details["shape"]), index)
                it.invoke()
                # int8, int16 or a DEQUANTIZE's float32 output as its little-endian bytes (as on the boards)
                outputs = [np.asarray(it.get_output(index)) for index in range(len(self.output_sizes))]
                results.append([a.astype(a.dtype.newbyteorder("<")).tobytes() for a in outputs])
        except RuntimeError as exc:
            raise ModelError(f"{self.name}: tflite-micro cannot run the model ({' '.join(str(exc).split())}); "
                             "check that it is a valid int8 model") from None
        return results


MAX_REFERENCE_ARENA_BYTES = 1 << 30
IO_ELEMENT_BYTES = {"int8": 1, "int16": 2, "float32": 4}  # model I/O element types (float32: outputs only)


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
    if VELA_OPERATOR in info.operators:
        raise ModelError(vela_message(path.name))
    if not info.inputs or not info.outputs:
        raise ModelError(f"{path.name}: {len(info.inputs)} inputs and {len(info.outputs)} outputs; a model to "
                         "profile needs at least one of each (re-export it with its inputs and outputs)")
    for kind, tensors in (("input", info.inputs), ("output", info.outputs)):
        for position, tensor in enumerate(tensors):
            # A float32 output: a DEQUANTIZE's, carried as its bytes; int16: an int16x8 model's.
            if tensor.type_name not in IO_ELEMENT_BYTES or (kind == "input" and tensor.type_name == "float32"):
                raise ModelError(f"{path.name}: {kind} {position} (tensor '{tensor.name}') is {tensor.type_name}, "
                                 "not int8; armlprof needs an int8 (or int16x8) model")
            if tensor.elements == 0:
                raise ModelError(f"{path.name}: {kind} {position} (tensor '{tensor.name}') has shape "
                                 f"{list(tensor.shape)}, no elements; give the model fixed, non-empty shapes")
    input_sizes = [t.elements * IO_ELEMENT_BYTES[t.type_name] for t in info.inputs]
    output_sizes = [t.elements * IO_ELEMENT_BYTES[t.type_name] for t in info.outputs]
    return Model(path.stem, spec, path, io_bytes(input_sizes), io_bytes(output_sizes), info.operators,
                 info.activation_bytes, input_sizes, output_sizes, info.variable_tensors,
                 [t.type_name for t in (*info.inputs, *info.outputs)])


VELA_OPERATOR = "CUSTOM_ethos-u"  # armlprof.tflite_verify's name for Vela's NPU command-stream operator


def vela_message(filename: str) -> str:
    """The one line for a model compiled by Vela: its operators run on an Ethos-U NPU, which these boards lack."""
    return (f"{filename}: compiled by Vela for an Arm Ethos-U NPU (CUSTOM operator 'ethos-u'), which these boards "
            "lack; profile the model as it was before Vela")
