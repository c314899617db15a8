"""Read an int8 (or int16x8) .tflite flatbuffer into armlprof's small graph IR (tensors + operators in execution
order).

Why our own importer: TVM 0.27's Relax TFLite frontend fails on both study models and lowers quantized
operators through float dequantize/quantize, which is neither integer-only nor bit-exact with TFLM. This
importer keeps every tensor's int8/int32 storage and quantization parameters (per-channel scales included)
so `armlprof.runtime.tvm.ops` can build integer-only TE compute that reproduces TFLM's reference kernels exactly.
Supported operators: SUPPORTED_OPERATORS (fused NONE/RELU/RELU6/RELU_N1_TO_1); every activation is int8 except a
DEQUANTIZE's float32 model output, the state of SVDF (int16 or int8) and UNIDIRECTIONAL_SEQUENCE_LSTM (int8
output state, int16 cell state): *variable* tensors that persist across invocations (`Tensor.is_variable`; the
executors give each its own buffer, reset at init, see compiler.py), and int16x8 ("16x8" quantization: int16
activations with zero point 0, int8 weights, int64 or int32 bias) in INT16X8_OPERATORS — CONV_2D, DEPTHWISE_CONV_2D
(int64 bias), TRANSPOSE_CONV (int64 or int16 bias), FULLY_CONNECTED, ADD, SUB, QUANTIZE int8 <-> int16, PAD/PADV2,
STRIDED_SLICE, RESHAPE/SQUEEZE; model inputs and outputs may be int16. Anything else (the other operators on int16
are left to TFLM on purpose) is an ArmlprofError naming the operator and pointing at `--runtime tflm`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from armlprof.errors import ArmlprofError
from armlprof.tflite_schema import opcode_of, operator_name

SUPPORTED_OPERATORS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "AVERAGE_POOL_2D", "MAX_POOL_2D",
                       "RESHAPE", "SQUEEZE", "SOFTMAX", "ADD", "SUB", "MUL", "PAD", "PADV2", "CONCATENATION",
                       "LOGISTIC", "TANH", "QUANTIZE", "TRANSPOSE", "STRIDED_SLICE", "MEAN", "HARD_SWISH",
                       "DEQUANTIZE", "TRANSPOSE_CONV", "SVDF",
                       "UNIDIRECTIONAL_SEQUENCE_LSTM")
# Operators with state inputs (variable tensors they update in place): their positions among the inputs.
STATEFUL_OPERATORS = {"SVDF": (4,), "UNIDIRECTIONAL_SEQUENCE_LSTM": (18, 19)}
# int16x8 ("16x8" quantization: int16 activations, int8 weights, int64 bias): the operators the TVM runtimes run
# on int16 (QUANTIZE converting int8 <-> int16; PAD, STRIDED_SLICE, RESHAPE, SQUEEZE moving int16 elements); any
# other operator on int16 is refused.
INT16X8_OPERATORS = ("CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV", "FULLY_CONNECTED", "ADD", "SUB", "QUANTIZE",
                     "PAD", "PADV2", "STRIDED_SLICE", "RESHAPE", "SQUEEZE")
_INT16X8_BIASES = {"CONV_2D": ("int64", "int32"), "FULLY_CONNECTED": ("int64", "int32"),
                   "DEPTHWISE_CONV_2D": ("int64",), "TRANSPOSE_CONV": ("int64", "int16")}
_DTYPES = {9: "int8", 2: "int32", 0: "float32", 3: "uint8", 7: "int16", 4: "int64"}
_ACTIVATIONS = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6"}
_PADDING = {0: "SAME", 1: "VALID"}


@dataclass
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    scale: np.ndarray  # float32, one per channel (or one)
    zero_point: np.ndarray  # int64
    quantized_dimension: int
    data: np.ndarray | None = None  # constants only
    is_variable: bool = False  # state that persists across invocations (SVDF, LSTM), reset at init

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize

    @property
    def is_constant(self) -> bool:
        return self.data is not None


@dataclass
class Operator:
    kind: str
    inputs: list[int]  # tensor indices; -1 = optional input absent
    outputs: list[int]
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Graph:
    tensors: list[Tensor]
    operators: list[Operator]
    inputs: list[int]
    outputs: list[int]
    operator_names: list[str]


def _options(op, kind: str) -> dict[str, Any]:
    import tflite

    table = op.BuiltinOptions()
    if kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        cls = tflite.Conv2DOptions if kind == "CONV_2D" else tflite.DepthwiseConv2DOptions
        o = cls()
        o.Init(table.Bytes, table.Pos)
        opts = {"padding": _PADDING[o.Padding()], "stride_h": o.StrideH(), "stride_w": o.StrideW(),
                "dilation_h": o.DilationHFactor(), "dilation_w": o.DilationWFactor(),
                "activation": _ACTIVATIONS.get(o.FusedActivationFunction(), "UNSUPPORTED")}
        if kind == "DEPTHWISE_CONV_2D":
            opts["depth_multiplier"] = o.DepthMultiplier()
        return opts
    if kind in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        o = tflite.Pool2DOptions()
        o.Init(table.Bytes, table.Pos)
        return {"padding": _PADDING[o.Padding()], "stride_h": o.StrideH(), "stride_w": o.StrideW(),
                "filter_h": o.FilterHeight(), "filter_w": o.FilterWidth(),
                "activation": _ACTIVATIONS.get(o.FusedActivationFunction(), "UNSUPPORTED")}
    if kind == "FULLY_CONNECTED":
        if table is None:
            return {"activation": "NONE", "keep_num_dims": False}
        o = tflite.FullyConnectedOptions()
        o.Init(table.Bytes, table.Pos)
        return {"activation": _ACTIVATIONS.get(o.FusedActivationFunction(), "UNSUPPORTED"),
                "keep_num_dims": bool(o.KeepNumDims()), "weights_format": o.WeightsFormat()}
    if kind == "SOFTMAX":
        o = tflite.SoftmaxOptions()
        o.Init(table.Bytes, table.Pos)
        return {"beta": float(np.float32(o.Beta()))}
    if kind in ("ADD", "SUB", "MUL"):
        if table is None:
            return {"activation": "NONE"}
        o = {"ADD": tflite.AddOptions, "SUB": tflite.SubOptions, "MUL": tflite.MulOptions}[kind]()
        o.Init(table.Bytes, table.Pos)
        return {"activation": _ACTIVATIONS.get(o.FusedActivationFunction(), "UNSUPPORTED")}
    if kind == "STRIDED_SLICE":
        o = tflite.StridedSliceOptions()
        o.Init(table.Bytes, table.Pos)
        return {"begin_mask": o.BeginMask(), "end_mask": o.EndMask(), "ellipsis_mask": o.EllipsisMask(),
                "new_axis_mask": o.NewAxisMask(), "shrink_axis_mask": o.ShrinkAxisMask(), "offset": bool(o.Offset())}
    if kind == "TRANSPOSE_CONV":
        o = tflite.TransposeConvOptions()
        o.Init(table.Bytes, table.Pos)
        return {"padding": _PADDING.get(o.Padding(), "UNSUPPORTED"), "stride_h": o.StrideH(),
                "stride_w": o.StrideW(), "activation": _ACTIVATIONS.get(o.FusedActivationFunction(), "UNSUPPORTED")}
    if kind == "MEAN":
        if table is None:
            return {"keep_dims": False}
        o = tflite.ReducerOptions()
        o.Init(table.Bytes, table.Pos)
        return {"keep_dims": bool(o.KeepDims())}
    if kind == "CONCATENATION":
        o = tflite.ConcatenationOptions()
        o.Init(table.Bytes, table.Pos)
        return {"axis": o.Axis(), "activation": _ACTIVATIONS.get(o.FusedActivationFunction(), "UNSUPPORTED")}
    if kind == "SVDF":
        o = tflite.SVDFOptions()
        o.Init(table.Bytes, table.Pos)
        return {"rank": o.Rank(), "activation": _ACTIVATIONS.get(o.FusedActivationFunction(), "UNSUPPORTED"),
                "asymmetric_quantize_inputs": bool(o.AsymmetricQuantizeInputs())}
    if kind == "UNIDIRECTIONAL_SEQUENCE_LSTM":
        o = tflite.UnidirectionalSequenceLSTMOptions()
        o.Init(table.Bytes, table.Pos)
        # the cell gate's nonlinearity (TANH), not a fused clamp: ops_sequence checks it
        return {"cell_activation": o.FusedActivationFunction(), "cell_clip": float(np.float32(o.CellClip())),
                "proj_clip": float(np.float32(o.ProjClip())), "time_major": bool(o.TimeMajor())}
    return {}


def operator_codes(model) -> list[str]:
    """Operator names per opcode index: builtin names, or CUSTOM:<custom_code> for custom operators."""
    codes = []
    for i in range(model.OperatorCodesLength()):
        oc = model.OperatorCodes(i)
        name = operator_name(opcode_of(oc))
        if name == "CUSTOM":
            custom = oc.CustomCode()
            name = f"CUSTOM:{custom.decode(errors='replace') if custom else '?'}"
        codes.append(name)
    return codes


def import_tflite(path: Path) -> Graph:
    """Parse `path`; raise ArmlprofError for anything the integer code generator does not cover."""
    import tflite


    buf = Path(path).read_bytes()
    model = tflite.Model.GetRootAsModel(buf, 0)
    if model.SubgraphsLength() != 1:
        raise ArmlprofError(f"{Path(path).name}: {model.SubgraphsLength()} subgraphs; the TVM runtimes support "
                            "single-subgraph models only (use --runtime tflm)")
    codes = operator_codes(model)
    if "CUSTOM:ethos-u" in codes:
        from armlprof.model import vela_message

        raise ArmlprofError(vela_message(Path(path).name))
    g = model.Subgraphs(0)
    tensors: list[Tensor] = []
    for i in range(g.TensorsLength()):
        t = g.Tensors(i)
        dtype = _DTYPES.get(t.Type(), f"type{t.Type()}")
        q = t.Quantization()
        scale = np.asarray(q.ScaleAsNumpy() if q is not None and q.ScaleLength() else [0.0], dtype=np.float32)
        zp = np.asarray(q.ZeroPointAsNumpy() if q is not None and q.ZeroPointLength() else [0], dtype=np.int64)
        qdim = q.QuantizedDimension() if q is not None else 0
        data = None
        b = model.Buffers(t.Buffer())
        if b is not None and b.DataLength() > 0:
            data = np.frombuffer(b.DataAsNumpy().tobytes(), dtype=np.dtype(dtype)).reshape(
                tuple(int(s) for s in t.ShapeAsNumpy()) if t.ShapeLength() else ())
        shape = tuple(int(s) for s in t.ShapeAsNumpy()) if t.ShapeLength() else ()
        name = t.Name()  # optional in the schema: stripped models have none
        tensors.append(Tensor(i, name.decode(errors="replace") if name else f"tensor_{i}", shape, dtype, scale, zp,
                              qdim, data, bool(t.IsVariable())))
    operators = []
    for i in range(g.OperatorsLength()):
        op = g.Operators(i)
        kind = codes[op.OpcodeIndex()]
        if kind not in SUPPORTED_OPERATORS:
            raise ArmlprofError(f"{Path(path).name}: operator {kind} is not supported by the TVM runtimes "
                                f"(model uses {', '.join(codes)}; supported: {', '.join(SUPPORTED_OPERATORS)}); "
                                "use --runtime tflm")
        if kind in ("SVDF", "UNIDIRECTIONAL_SEQUENCE_LSTM") and op.BuiltinOptions() is None:
            raise ArmlprofError(f"{Path(path).name}: operator {i} ({kind}) has no options; re-export the model")
        opts = _options(op, kind)
        if opts.get("activation") == "UNSUPPORTED":
            raise ArmlprofError(f"{Path(path).name}: operator {i} ({kind}) has an unsupported fused activation; "
                                "use --runtime tflm")
        operators.append(Operator(kind, [int(x) for x in op.InputsAsNumpy()],
                                  [int(x) for x in op.OutputsAsNumpy()], opts))
    graph = Graph(tensors, operators, [int(x) for x in g.InputsAsNumpy()], [int(x) for x in g.OutputsAsNumpy()],
                  codes)
    for op in operators:
        if op.kind == "DEQUANTIZE" and op.outputs[0] not in graph.outputs:
            raise ArmlprofError(f"{Path(path).name}: DEQUANTIZE inside the model (float activations); the TVM "
                                "runtimes take an int8 -> float32 DEQUANTIZE only at the output (use --runtime tflm)")
    wide = [(op, tensors[idx]) for op in operators for idx in op.inputs + op.outputs
            if idx >= 0 and not tensors[idx].is_constant and tensors[idx].dtype != "int8"
            # the model's float output: its bytes are the output (ops.build_dequantize)
            and not (op.kind == "DEQUANTIZE" and idx == op.outputs[0] and tensors[idx].dtype == "float32")
            # an int16 state: its operator checks it (ops_sequence)
            and not (op.kind in STATEFUL_OPERATORS and idx in [op.inputs[k] for k in STATEFUL_OPERATORS[op.kind]
                                                               if k < len(op.inputs)])
            and not (op.kind in INT16X8_OPERATORS and tensors[idx].dtype == "int16")]
    if wide:  # name the operator computing on the wider type, not the QUANTIZE converting to it
        op, t = next(((o, t) for o, t in wide if o.kind not in ("QUANTIZE", "DEQUANTIZE")), wide[0])
        what = "int16x8 activations" if t.dtype == "int16" else f"{t.dtype} activations"
        raise ArmlprofError(f"{Path(path).name}: {op.kind} uses {t.dtype} tensor '{t.name}' ({what}); the TVM "
                            f"runtimes run int8 models, and int16x8 in {', '.join(INT16X8_OPERATORS)} only "
                            "(other int16x8 operators and float models: use --runtime tflm)")
    _check_int16x8(graph, Path(path).name)
    _check_io(graph, Path(path).name)
    return graph


def _check_int16x8(graph: Graph, filename: str) -> None:
    """An int16x8 operator as TFLite's 16x8 mode writes it (and TFLM's kernels assume): int16 activations with zero
    point 0 in and out, int8 weights, an int64 or int32 bias."""
    for op in graph.operators:
        ts = [graph.tensors[i] for i in op.inputs + op.outputs if i >= 0]
        # SVDF's and the LSTM's int16 states and weights are their own int8 kernels' (ops_sequence checks them)
        if not any(t.dtype == "int16" for t in ts) or op.kind == "QUANTIZE" or op.kind in STATEFUL_OPERATORS:
            continue
        # (activation inputs, weights, bias): TRANSPOSE_CONV's inputs are (output shape, weights, input, bias)
        ins, weights, bias = {"ADD": (op.inputs[:2], -1, -1), "SUB": (op.inputs[:2], -1, -1),
                              "TRANSPOSE_CONV": (op.inputs[2:3], 1, 3)}.get(
            op.kind, (op.inputs[:1], 1, 2) if op.kind in _INT16X8_BIASES else (op.inputs[:1], -1, -1))
        acts = [graph.tensors[i] for i in ins + op.outputs]
        problem = None
        if any(t.dtype != "int16" for t in acts):
            problem = "mixes int16 with other activation types"
        elif any(int(z) != 0 for t in acts for z in t.zero_point):
            problem = "has an int16 tensor with a non-zero zero point (TFLite's 16x8 mode uses 0)"
        elif weights >= 0 and graph.tensors[op.inputs[weights]].dtype != "int8":
            problem = f"has {graph.tensors[op.inputs[weights]].dtype} weights (int16x8 means int8 weights)"
        elif bias >= 0 and len(op.inputs) > bias and op.inputs[bias] >= 0 and \
                graph.tensors[op.inputs[bias]].dtype not in _INT16X8_BIASES[op.kind]:
            problem = (f"has a {graph.tensors[op.inputs[bias]].dtype} bias (TFLM's int16x8 {op.kind} takes "
                       f"{' or '.join(_INT16X8_BIASES[op.kind])})")
        if problem:
            raise ArmlprofError(f"{filename}: int16x8 {op.kind} {problem}; re-export the model or use --runtime tflm")


def _check_io(graph: Graph, filename: str) -> None:
    """Any number of inputs and outputs, as long as the executors can give each its own buffer: an input that is
    also an output, or one tensor listed twice, has no place in the packed I/O buffers."""
    if not graph.inputs or not graph.outputs:
        raise ArmlprofError(f"{filename}: {len(graph.inputs)} inputs / {len(graph.outputs)} outputs; the TVM "
                            "runtimes need at least one of each")
    io = [*graph.inputs, *graph.outputs]
    for t in io:
        if io.count(t) > 1:
            raise ArmlprofError(f"{filename}: tensor '{graph.tensors[t].name}' is listed {io.count(t)} times among "
                                "the model's inputs and outputs; the TVM runtimes need distinct I/O tensors "
                                "(use --runtime tflm)")
        if graph.tensors[t].is_constant:
            raise ArmlprofError(f"{filename}: model input/output '{graph.tensors[t].name}' is a constant; the TVM "
                                "runtimes need computed outputs (use --runtime tflm)")
