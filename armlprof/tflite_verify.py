"""A complete, bounds-checked walk of a .tflite flatbuffer, run when a model is loaded.

The `tflite` package reads fields with struct.unpack_from and no checks (a bad offset raises struct.error deep in
an importer, or silently reads other bytes), and Python's flatbuffers has no verifier. This walk does what the
flatbuffers C++ verifier does for the parts of the TFLite schema a model uses (schema.fbs: Model, OperatorCode,
SubGraph, Tensor, QuantizationParameters, Operator, Buffer, Metadata, SignatureDef, and the option tables of the
operators armlprof compiles), then checks what the runtimes rely on: every index in range, constant data the size
its shape says, shapes and options consistent per operator. Any problem is one ModelError line naming it.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field

from armlprof.errors import ModelError

FILE_IDENTIFIER = b"TFL3"
SCHEMA_VERSION = 3
MAX_ELEMENTS = 1 << 31  # a tensor larger than this cannot be on a microcontroller (and overflows int32 sizes)

# TensorType -> bytes per element (None: no fixed size, e.g. STRING).
ELEMENT_BYTES = {0: 4, 1: 2, 2: 4, 3: 1, 4: 8, 5: None, 6: 1, 7: 2, 8: 8, 9: 1, 10: 8, 11: 16, 12: 8, 13: None,
                 14: None, 15: 4, 16: 2, 17: None, 18: 2}
TYPE_NAMES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 5: "string", 6: "bool", 7: "int16",
              8: "complex64", 9: "int8", 10: "float64", 11: "complex128", 12: "uint64", 13: "resource",
              14: "variant", 15: "uint32", 16: "uint16", 17: "int4", 18: "bfloat16"}
CUSTOM_CODE = 32

# Option tables of the operators armlprof compiles: BuiltinOptions union type and fields (slot: name, format).
OPTIONS = {
    "Conv2DOptions": (1, {0: ("padding", "b"), 1: ("stride_w", "i"), 2: ("stride_h", "i"), 3: ("activation", "b"),
                          4: ("dilation_w", "i"), 5: ("dilation_h", "i")}),
    "DepthwiseConv2DOptions": (2, {0: ("padding", "b"), 1: ("stride_w", "i"), 2: ("stride_h", "i"),
                                   3: ("depth_multiplier", "i"), 4: ("activation", "b"), 5: ("dilation_w", "i"),
                                   6: ("dilation_h", "i")}),
    "Pool2DOptions": (5, {0: ("padding", "b"), 1: ("stride_w", "i"), 2: ("stride_h", "i"), 3: ("filter_w", "i"),
                          4: ("filter_h", "i"), 5: ("activation", "b")}),
    "FullyConnectedOptions": (8, {0: ("activation", "b"), 1: ("weights_format", "b"), 2: ("keep_num_dims", "B"),
                                  3: ("asymmetric_quantize_inputs", "B")}),
    "SoftmaxOptions": (9, {0: ("beta", "f")}),
    "AddOptions": (11, {0: ("activation", "b"), 1: ("pot_scale_int16", "B")}),
    "ReshapeOptions": (17, {}),
}
OPERATOR_OPTIONS = {"CONV_2D": "Conv2DOptions", "DEPTHWISE_CONV_2D": "DepthwiseConv2DOptions",
                    "AVERAGE_POOL_2D": "Pool2DOptions", "MAX_POOL_2D": "Pool2DOptions",
                    "FULLY_CONNECTED": "FullyConnectedOptions", "SOFTMAX": "SoftmaxOptions", "ADD": "AddOptions",
                    "RESHAPE": "ReshapeOptions"}
OPTIONS_REQUIRED = {"CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D", "SOFTMAX"}
OPTION_DEFAULTS = {"stride_w": 0, "stride_h": 0, "dilation_w": 1, "dilation_h": 1, "depth_multiplier": 0,
                   "filter_w": 0, "filter_h": 0, "beta": 0.0}
PADDINGS = (0, 1)  # SAME, VALID
ACTIVATIONS = range(0, 6)


class _Malformed(Exception):
    pass


class _Reader:
    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.size = len(buf)

    def need(self, pos: int, length: int, what: str) -> None:
        if pos < 0 or length < 0 or pos + length > self.size:
            raise _Malformed(f"{what} at byte {pos} is outside the {self.size:,}-byte file")

    def read(self, fmt: str, pos: int, what: str):
        self.need(pos, struct.calcsize(fmt), what)
        return struct.unpack_from("<" + fmt, self.buf, pos)[0]


class _Table:
    """One flatbuffer table: vtable and table bounds checked, fields read by slot with their size checked."""

    def __init__(self, r: _Reader, pos: int, what: str) -> None:
        self.r, self.pos, self.what = r, pos, what
        vtable = pos - r.read("i", pos, what)
        vsize = r.read("H", vtable, f"{what} vtable")
        self.tsize = r.read("H", vtable + 2, f"{what} vtable")
        if vsize < 4 or vsize % 2 or self.tsize < 4:
            raise _Malformed(f"{what} has a corrupt vtable (size {vsize}, table size {self.tsize})")
        r.need(vtable, vsize, f"{what} vtable")
        r.need(pos, self.tsize, what)
        self.slots = [r.read("H", vtable + 4 + 2 * i, f"{what} vtable") for i in range((vsize - 4) // 2)]

    def _field(self, slot: int, size: int, name: str) -> int | None:
        off = self.slots[slot] if slot < len(self.slots) else 0
        if not off:
            return None
        if off + size > self.tsize:
            raise _Malformed(f"{self.what}.{name} lies outside its table")
        return self.pos + off

    def scalar(self, slot: int, fmt: str, name: str, default=0):
        p = self._field(slot, struct.calcsize(fmt), name)
        return default if p is None else self.r.read(fmt, p, f"{self.what}.{name}")

    def _target(self, slot: int, name: str) -> int | None:
        p = self._field(slot, 4, name)
        if p is None:
            return None
        target = p + self.r.read("I", p, f"{self.what}.{name}")
        self.r.need(target, 4, f"{self.what}.{name}")
        return target

    def table(self, slot: int, name: str) -> _Table | None:
        target = self._target(slot, name)
        return None if target is None else _Table(self.r, target, f"{self.what}.{name}")

    def vector(self, slot: int, elem_bytes: int, name: str) -> tuple[int, int] | None:
        target = self._target(slot, name)
        if target is None:
            return None
        length = self.r.read("I", target, f"{self.what}.{name}")
        self.r.need(target + 4, length * elem_bytes, f"{self.what}.{name} ({length:,} elements)")
        return target + 4, length

    def scalars(self, slot: int, fmt: str, name: str) -> list:
        vec = self.vector(slot, struct.calcsize(fmt), name)
        if vec is None:
            return []
        start, length = vec
        return list(struct.unpack_from(f"<{length}{fmt}", self.r.buf, start))

    def string(self, slot: int, name: str) -> str | None:
        vec = self.vector(slot, 1, name)
        if vec is None:
            return None
        start, length = vec
        self.r.need(start + length, 1, f"{self.what}.{name} terminator")
        try:
            return self.r.buf[start:start + length].decode("utf-8")
        except UnicodeDecodeError:
            raise _Malformed(f"{self.what}.{name} is not UTF-8 text") from None

    def tables(self, slot: int, name: str) -> list[_Table]:
        vec = self.vector(slot, 4, name)
        if vec is None:
            return []
        start, length = vec
        return [_Table(self.r, start + 4 * i + self.r.read("I", start + 4 * i, f"{self.what}.{name}[{i}]"),
                       f"{self.what}.{name}[{i}]") for i in range(length)]


@dataclass
class TensorInfo:
    index: int
    name: str
    shape: tuple[int, ...]
    type: int
    constant: bool
    scales: list[float] = field(default_factory=list)
    variable: bool = False  # is_variable: state kept across invocations

    @property
    def elements(self) -> int:
        return math.prod(self.shape)

    @property
    def type_name(self) -> str:
        return TYPE_NAMES.get(self.type, f"type {self.type}")


@dataclass
class ModelInfo:
    """What loading needs from a verified model."""

    operators: list[str]  # builtin operator names, one per operator code, in first-use order
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]
    subgraphs: int
    activation_bytes: int  # every non-constant tensor of the main subgraph: an upper bound of the arena's tensors
    variable_tensors: int = 0  # the main subgraph's is_variable tensors: state that persists across invocations


def verify_tflite(buf: bytes, name: str) -> ModelInfo:
    """Walk the whole model; raise ModelError (one line: what is wrong and what to do) for any problem."""
    if len(buf) < 8 or buf[4:8] != FILE_IDENTIFIER:
        what = f"only {len(buf)} bytes" if len(buf) < 8 else f"no {FILE_IDENTIFIER.decode()} file identifier"
        raise ModelError(f"{name}: not a .tflite model ({what}); give a TensorFlow Lite flatbuffer file")
    try:
        return _walk(_Reader(buf))
    except _Malformed as exc:
        raise ModelError(f"{name}: malformed .tflite model ({exc}); the file is damaged or not from the TFLite "
                         "converter; re-export it") from None


def _builtin_names() -> dict[int, str]:
    import tflite

    return {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}


def _walk(r: _Reader) -> ModelInfo:
    model = _Table(r, r.read("I", 0, "root offset"), "model")
    version = model.scalar(0, "I", "version")
    if version != SCHEMA_VERSION:
        raise _Malformed(f"schema version {version}, expected {SCHEMA_VERSION}")
    names = _builtin_names()
    operators = []
    for i, oc in enumerate(model.tables(1, "operator_codes")):
        code = max(oc.scalar(0, "b", "deprecated_builtin_code"), oc.scalar(3, "i", "builtin_code"))
        custom = oc.string(1, "custom_code")
        oc.scalar(2, "i", "version", 1)
        if code == CUSTOM_CODE:
            operators.append(f"CUSTOM_{custom or '?'}")
        elif code in names:
            operators.append(names[code])
        else:
            raise _Malformed(f"operator code {i} is builtin operator {code}, which TFLite does not define")
    buffers = []
    for b in model.tables(4, "buffers"):
        data = b.vector(0, 1, "data")
        offset, size = b.scalar(1, "Q", "offset"), b.scalar(2, "Q", "size")
        if offset > 1:  # data outside the flatbuffer (models over 2 GB): must still be inside the file
            r.need(offset, size, f"{b.what} external data")
        buffers.append(data[1] if data else (size if offset > 1 else 0))
    subgraphs = model.tables(2, "subgraphs")
    if not subgraphs:
        raise _Malformed("no subgraphs")
    main_inputs: list[TensorInfo] = []
    main_outputs: list[TensorInfo] = []
    activation_bytes = variable_tensors = 0
    for s, g in enumerate(subgraphs):
        tensors = [_tensor(t, i, buffers) for i, t in enumerate(g.tables(0, "tensors"))]
        inputs, outputs = g.scalars(1, "i", "inputs"), g.scalars(2, "i", "outputs")
        for kind, indices in (("input", inputs), ("output", outputs)):
            for idx in indices:
                if not 0 <= idx < len(tensors):
                    raise _Malformed(f"subgraph {s} {kind} {idx} is not one of its {len(tensors)} tensors")
        for i, op in enumerate(g.tables(3, "operators")):
            _operator(op, i, operators, tensors)
        g.string(4, "name")
        if s == 0:
            main_inputs, main_outputs = [tensors[i] for i in inputs], [tensors[i] for i in outputs]
            activation_bytes = sum(t.elements * (ELEMENT_BYTES[t.type] or 8) for t in tensors if not t.constant)
            variable_tensors = sum(t.variable for t in tensors)
    model.string(3, "description")
    for idx in model.scalars(5, "i", "metadata_buffer"):
        if not 0 <= idx < len(buffers):
            raise _Malformed(f"metadata buffer {idx} is not one of the {len(buffers)} buffers")
    for m in model.tables(6, "metadata"):
        m.string(0, "name")
        if not m.scalar(1, "I", "buffer") < max(1, len(buffers)):
            raise _Malformed(f"{m.what} names a buffer that does not exist")
    for sig in model.tables(7, "signature_defs"):
        for slot, label in ((0, "inputs"), (1, "outputs")):
            for tm in sig.tables(slot, label):
                tm.string(0, "name")
                tm.scalar(1, "I", "tensor_index")
        sig.string(2, "signature_key")
        if not sig.scalar(4, "I", "subgraph_index") < len(subgraphs):
            raise _Malformed(f"{sig.what} names a subgraph that does not exist")
    return ModelInfo(operators, main_inputs, main_outputs, len(subgraphs), activation_bytes, variable_tensors)


def _tensor(t: _Table, index: int, buffers: list[int]) -> TensorInfo:
    shape = tuple(t.scalars(0, "i", "shape"))
    ttype = t.scalar(1, "b", "type")
    buffer = t.scalar(2, "I", "buffer")
    name = t.string(3, "name") or f"#{index}"
    what = f"tensor {index} '{name[:40]}'"
    if ttype not in ELEMENT_BYTES:
        raise _Malformed(f"{what} has type {ttype}, which TFLite does not define")
    if any(d < 0 for d in shape):
        raise _Malformed(f"{what} has shape {list(shape)} with a negative dimension")
    if math.prod(shape) > MAX_ELEMENTS:
        raise _Malformed(f"{what} has shape {list(shape)}: more elements than any microcontroller holds")
    if buffer >= max(1, len(buffers)):
        raise _Malformed(f"{what} uses buffer {buffer}; the model has {len(buffers)}")
    data_bytes = buffers[buffer] if buffers else 0
    element_bytes = ELEMENT_BYTES[ttype]
    if data_bytes and element_bytes and data_bytes != math.prod(shape) * element_bytes:
        raise _Malformed(f"{what} has {data_bytes:,} bytes of data, but its shape {list(shape)} of "
                         f"{TYPE_NAMES[ttype]} needs {math.prod(shape) * element_bytes:,}")
    scales: list[float] = []
    q = t.table(4, "quantization")
    if q is not None:
        q.scalars(0, "f", "min")
        q.scalars(1, "f", "max")
        scales = q.scalars(2, "f", "scale")
        zero_points = q.scalars(3, "q", "zero_point")
        q.scalar(4, "B", "details_type")
        q.table(5, "details")
        dim = q.scalar(6, "i", "quantized_dimension")
        if zero_points and len(zero_points) != len(scales):
            raise _Malformed(f"{what} has {len(scales)} quantization scales but {len(zero_points)} zero points")
        if any(not (math.isfinite(s) and s > 0) for s in scales):
            raise _Malformed(f"{what} has a quantization scale that is not a positive number")
        # Per-channel: one scale per entry of some dimension (converters give 1-D biases their filter's dimension).
        if len(scales) > 1 and not (0 <= dim < len(shape) and shape[dim] == len(scales)) \
                and not (len(shape) == 1 and shape[0] == len(scales)):
            raise _Malformed(f"{what} has {len(scales)} per-channel scales on dimension {dim} of shape "
                             f"{list(shape)}")
        if ttype == 9 and any(not -128 <= z <= 127 for z in zero_points):
            raise _Malformed(f"{what} is int8 with a zero point outside -128..127")
    variable = bool(t.scalar(5, "B", "is_variable"))
    if t.table(6, "sparsity") is not None:
        raise _Malformed(f"{what} is sparse; armlprof's runtimes need dense tensors")
    t.scalars(7, "i", "shape_signature")
    t.scalar(8, "B", "has_rank")
    return TensorInfo(index, name, shape, ttype, data_bytes > 0, scales, variable)


def _operator(op: _Table, index: int, operators: list[str], tensors: list[TensorInfo]) -> None:
    code = op.scalar(0, "I", "opcode_index")
    if code >= len(operators):
        raise _Malformed(f"operator {index} uses operator code {code}; the model has {len(operators)}")
    kind = operators[code]
    what = f"operator {index} ({kind})"
    ios = []
    for slot, label in ((1, "inputs"), (2, "outputs"), (8, "intermediates")):
        indices = op.scalars(slot, "i", label)
        for idx in indices:
            if not -1 <= idx < len(tensors) or (idx == -1 and label == "outputs"):
                raise _Malformed(f"{what} {label[:-1]} {idx} is not one of the {len(tensors)} tensors")
        ios.append(indices)
    options_type = op.scalar(3, "B", "builtin_options_type")
    options = op.table(4, "builtin_options")
    op.vector(5, 1, "custom_options")
    op.scalar(6, "b", "custom_options_format")
    op.vector(7, 1, "mutating_variable_inputs")
    op.scalar(11, "B", "builtin_options_2_type")
    op.table(12, "builtin_options_2")
    values = _options(kind, what, options_type, options)
    _check_shapes(kind, what, values, [tensors[i] if i >= 0 else None for i in ios[0]],
                  [tensors[i] for i in ios[1]])


def _options(kind: str, what: str, options_type: int, options: _Table | None) -> dict:
    table_name = OPERATOR_OPTIONS.get(kind)
    if table_name is None:
        return {}
    union_type, fields = OPTIONS[table_name]
    if options is None:
        if kind in OPTIONS_REQUIRED:
            raise _Malformed(f"{what} has no {table_name}")
        return {}
    if options_type != union_type:
        raise _Malformed(f"{what} carries options of union type {options_type}, not {table_name}")
    values = {name: options.scalar(slot, fmt, name, OPTION_DEFAULTS.get(name, 0))
              for slot, (name, fmt) in fields.items()}
    if table_name == "ReshapeOptions":
        options.scalars(0, "i", "new_shape")
    if values.get("padding", 0) not in PADDINGS:
        raise _Malformed(f"{what} has padding {values['padding']} (TFLite defines SAME=0 and VALID=1)")
    if values.get("activation", 0) not in ACTIVATIONS:
        raise _Malformed(f"{what} has fused activation {values['activation']}, which TFLite does not define")
    for name in ("stride_w", "stride_h", "dilation_w", "dilation_h", "filter_w", "filter_h"):
        if name in values and not 1 <= values[name] <= 1 << 16:
            raise _Malformed(f"{what} has {name}={values[name]}")
    if "beta" in values and not math.isfinite(values["beta"]):
        raise _Malformed(f"{what} has softmax beta {values['beta']}")
    return values


def _out_size(size: int, kernel: int, stride: int, dilation: int, padding: int) -> int:
    effective = (kernel - 1) * dilation + 1
    return -(-size // stride) if padding == 0 else max(0, -(-(size - effective + 1) // stride))


def _check_shapes(kind: str, what: str, o: dict, inputs: list[TensorInfo | None],
                  outputs: list[TensorInfo]) -> None:
    """The shape relations TFLM's Prepare and armlprof's TVM lowering rely on, for the operators armlprof compiles."""
    def fail(why: str) -> None:
        raise _Malformed(f"{what}: {why}")

    needs = {"CONV_2D": 2, "DEPTHWISE_CONV_2D": 2, "FULLY_CONNECTED": 2, "ADD": 2, "AVERAGE_POOL_2D": 1,
             "MAX_POOL_2D": 1, "SOFTMAX": 1, "RESHAPE": 1}.get(kind)
    if needs is None:
        return
    if len(inputs) < needs or any(t is None for t in inputs[:needs]) or len(outputs) != 1:
        fail(f"{len(inputs)} inputs and {len(outputs)} outputs")
    x, out = inputs[0], outputs[0]
    assert x is not None
    bias = inputs[2] if len(inputs) > 2 else None
    if kind in ("CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D"):
        if len(x.shape) != 4 or len(out.shape) != 4 or x.shape[0] != out.shape[0]:
            fail(f"input {list(x.shape)} and output {list(out.shape)} are not matching NHWC shapes")
        if kind.endswith("POOL_2D"):
            kernel, channels_out = (o["filter_h"], o["filter_w"]), x.shape[3]
            dilation = (1, 1)
        else:
            w = inputs[1]
            assert w is not None
            if len(w.shape) != 4:
                fail(f"filter shape {list(w.shape)} is not 4-D")
            kernel, dilation = (w.shape[1], w.shape[2]), (o["dilation_h"], o["dilation_w"])
            if kind == "CONV_2D":
                channels_out = w.shape[0]
                if w.shape[3] == 0 or x.shape[3] % w.shape[3]:
                    fail(f"input channels {x.shape[3]} do not match filter {list(w.shape)}")
            else:
                channels_out = w.shape[3]
                # TFLM derives the multiplier from the shapes (converters do not always fill depth_multiplier).
                if w.shape[0] != 1 or x.shape[3] == 0 or channels_out % x.shape[3]:
                    fail(f"filter {list(w.shape)} does not match input channels {x.shape[3]}")
        expected = [x.shape[0], _out_size(x.shape[1], kernel[0], o["stride_h"], dilation[0], o["padding"]),
                    _out_size(x.shape[2], kernel[1], o["stride_w"], dilation[1], o["padding"]), channels_out]
        if list(out.shape) != expected:
            fail(f"output shape {list(out.shape)}, but input {list(x.shape)} with these options gives {expected}")
        if bias is not None and bias.elements != channels_out:
            fail(f"bias of {bias.elements} values for {channels_out} output channels")
    elif kind == "FULLY_CONNECTED":
        w = inputs[1]
        assert w is not None
        if len(w.shape) != 2 or w.shape[1] == 0 or x.elements % w.shape[1]:
            fail(f"weights {list(w.shape)} do not fit input {list(x.shape)}")
        if out.elements != x.elements // w.shape[1] * w.shape[0]:
            fail(f"output {list(out.shape)} is not input {list(x.shape)} times weights {list(w.shape)}")
        if bias is not None and bias.elements != w.shape[0]:
            fail(f"bias of {bias.elements} values for {w.shape[0]} outputs")
    elif kind == "ADD":
        y = inputs[1]
        assert y is not None
        if list(out.shape) != _broadcast(x.shape, y.shape):
            fail(f"output {list(out.shape)} is not the broadcast of {list(x.shape)} and {list(y.shape)}")
    elif x.elements != out.elements:  # SOFTMAX, RESHAPE
        fail(f"input {list(x.shape)} and output {list(out.shape)} differ in size")


def _broadcast(a: tuple[int, ...], b: tuple[int, ...]) -> list[int] | None:
    n = max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + a, (1,) * (n - len(b)) + b
    out = []
    for p, q in zip(a, b, strict=True):
        if p != q and 1 not in (p, q):
            return None
        out.append(max(p, q))
    return out
