"""Generated int8 TFLite models with the study's architectures, so profiling works with nothing downloaded.

`micro_speech`: input int8 [1,1960] (49x40 spectrogram) -> RESHAPE [1,49,40,1] -> DEPTHWISE_CONV_2D 8 filters
10x8 stride 2 SAME + RELU -> FULLY_CONNECTED 4000->4 -> SOFTMAX (TFLM's micro_speech).
`person_detect`: MobileNet v1 0.25 on 96x96x1 -> 2 classes (TFLM's person_detect: 13 depthwise/pointwise
blocks with RELU6, AVERAGE_POOL_2D 3x3, 1x1 CONV_2D, RESHAPE, SOFTMAX).
`ops_coverage`: not a study model; a small net that exercises every operator the TVM runtimes implement:
input int8 [1,16,16,1] -> CONV_2D 8x3x3 + RELU6 -> MAX_POOL_2D 2x2 -> residual ADD (+ RELU) of a
DEPTHWISE_CONV_2D 3x3 branch and the identity, whose scales differ so the ADD rescales both sides ->
AVERAGE_POOL_2D 8x8 -> RESHAPE [1,8] -> FULLY_CONNECTED 8->4 -> SOFTMAX.

Weights are seeded He-initialised floats; activation ranges are calibrated by running the float network on
seeded inputs; weights are quantized symmetric per output channel (int8), biases to int32 with scale
input_scale * weight_scale — the quantization a TFLite converter produces. The flatbuffer is written with the
`flatbuffers` builder (the `tflite` package can only read), and each model is validated with tflite-micro.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from armlprof import tflite_schema
from armlprof.cache import cache_root
from armlprof.errors import ArmlprofError

GENERATOR_VERSION = "1"
BUILTIN_MODELS = ("micro_speech", "person_detect", "ops_coverage")

# TFLite schema constants (schema.fbs): armlprof.tflite_schema is the one table.
_INT8, _INT32 = tflite_schema.TENSOR_TYPES["INT8"], tflite_schema.TENSOR_TYPES["INT32"]
_FLOAT32 = tflite_schema.TENSOR_TYPES["FLOAT32"]
_OPS = tflite_schema.OPCODES
_OPTIONS_TYPE = {op: tflite_schema.BUILTIN_OPTIONS[table] for op, table in tflite_schema.OPERATOR_OPTIONS.items()}
_ACT = tflite_schema.ACTIVATIONS
_PAD = tflite_schema.PADDINGS


@dataclass
class _Tensor:
    name: str
    shape: tuple[int, ...]
    dtype: int
    scale: list[float]
    zero_point: list[int]
    qdim: int = 0
    data: bytes | None = None
    variable: bool = False  # state kept across invocations (SVDF's activation state)


@dataclass
class _Op:
    kind: str
    inputs: list[int]
    outputs: list[int]
    options: dict = field(default_factory=dict)


# ------------------------------------------------------------------ float reference network
def _pad_same(x: np.ndarray, kh: int, kw: int, stride: int) -> np.ndarray:
    h, w = x.shape[1:3]
    oh, ow = -(-h // stride), -(-w // stride)
    ph, pw = max((oh - 1) * stride + kh - h, 0), max((ow - 1) * stride + kw - w, 0)
    return np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))


def _windows(x: np.ndarray, kh: int, kw: int, stride: int) -> np.ndarray:
    xp = _pad_same(x, kh, kw, stride)
    oh, ow = -(-x.shape[1] // stride), -(-x.shape[2] // stride)
    v = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(1, 2))  # n, H', W', c, kh, kw
    return v[:, : (oh - 1) * stride + 1 : stride, : (ow - 1) * stride + 1 : stride]


def _conv(x, w, b, stride):  # w [o, kh, kw, c]
    v = _windows(x, w.shape[1], w.shape[2], stride)
    return np.einsum("nyxcij,oijc->nyxo", v, w, optimize=True) + b


def _dwconv(x, w, b, stride):  # w [1, kh, kw, c*m]
    c = x.shape[3]
    m = w.shape[3] // c
    v = _windows(x, w.shape[1], w.shape[2], stride)
    wk = w[0].reshape(w.shape[1], w.shape[2], c, m)
    return np.einsum("nyxcij,ijcm->nyxcm", v, wk, optimize=True).reshape(*v.shape[:3], c * m) + b


class _Builder:
    """Collects tensors/operators, calibrates activation ranges from the float network, writes .tflite."""

    def __init__(self, seed: int, calibration: np.ndarray) -> None:
        self.rng = np.random.default_rng(seed)
        self.tensors: list[_Tensor] = []
        self.ops: list[_Op] = []
        self.x = calibration  # float activations of the current tensor, batch of calibration inputs
        self.current = -1
        self.graph_inputs: list[int] = []  # the subgraph's inputs/outputs; empty: tensor 0 / the current tensor
        self.graph_outputs: list[int] = []

    def add_tensor(self, t: _Tensor) -> int:
        self.tensors.append(t)
        return len(self.tensors) - 1

    def activation(self, name: str, values: np.ndarray, relu: bool) -> int:
        if relu:
            hi = max(float(np.percentile(values, 99.9)), 1e-3)
            scale, zp = hi / 255.0, -128
        else:
            lo, hi = float(values.min()), float(values.max())
            lo, hi = min(lo, 0.0), max(hi, 0.0)
            scale = max(hi - lo, 1e-3) / 255.0
            zp = int(np.clip(round(-128 - lo / scale), -128, 127))
        shape = values.shape[1:]
        return self.add_tensor(_Tensor(name, (1, *shape), _INT8, [scale], [zp]))

    def input(self, shape: tuple[int, ...]) -> None:
        self.current = self.add_tensor(_Tensor("input", shape, _INT8, [1.0 / 128], [0]))

    def _weights(self, name: str, w: np.ndarray, qdim: int) -> tuple[int, np.ndarray]:
        axes = tuple(i for i in range(w.ndim) if i != qdim)
        scales = np.maximum(np.abs(w).max(axis=axes), 1e-6) / 127.0
        shape = [1] * w.ndim
        shape[qdim] = -1
        q = np.clip(np.round(w / scales.reshape(shape)), -127, 127).astype(np.int8)
        scales32 = scales.astype(np.float32)
        idx = self.add_tensor(_Tensor(name, w.shape, _INT8, [float(s) for s in scales32], [0] * len(scales32), qdim,
                                      q.tobytes()))
        return idx, scales32

    def _bias(self, name: str, b: np.ndarray, w_scales: np.ndarray) -> int:
        in_scale = np.float32(self.tensors[self.current].scale[0])
        scales = (in_scale * w_scales).astype(np.float32)
        q = np.round(b / scales.astype(np.float64)).astype(np.int32)
        return self.add_tensor(_Tensor(name, b.shape, _INT32, [float(s) for s in scales], [0] * len(scales), 0,
                                       q.tobytes()))

    def _dequantized_input(self) -> np.ndarray:
        """The float activations as the int8 network sees them (quantized then dequantized)."""
        return self._dequantize(self.current, self.x)

    def _dequantize(self, index: int, x: np.ndarray) -> np.ndarray:
        t = self.tensors[index]
        q = np.clip(np.round(x / t.scale[0]) + t.zero_point[0], -128, 127)
        return (q - t.zero_point[0]) * t.scale[0]

    def conv(self, name: str, out_ch: int, k: tuple[int, int], stride: int, act: str, depthwise: bool) -> None:
        x = self._dequantized_input()
        c = x.shape[3]
        fan_in = k[0] * k[1] * (1 if depthwise else c)
        if depthwise:
            w = self.rng.normal(0, np.sqrt(2.0 / fan_in), (1, k[0], k[1], out_ch))
        else:
            w = self.rng.normal(0, np.sqrt(2.0 / fan_in), (out_ch, k[0], k[1], c))
        b = self.rng.normal(0, 0.05, out_ch)
        y = _dwconv(x, w, b, stride) if depthwise else _conv(x, w, b, stride)
        if act == "RELU":
            y = np.maximum(y, 0)
        elif act == "RELU6":
            y = np.clip(y, 0, 6)
        w_idx, w_scales = self._weights(f"{name}/weights", w, 3 if depthwise else 0)
        b_idx = self._bias(f"{name}/bias", b, w_scales)
        out = self.activation(name, y, relu=act != "NONE")
        if act == "RELU6":  # the converter's range for RELU6 is [0, 6]
            self.tensors[out].scale = [6.0 / 255.0]
        kind = "DEPTHWISE_CONV_2D" if depthwise else "CONV_2D"
        opts = {"padding": "SAME", "stride": stride, "act": act}
        if depthwise:
            opts["depth_multiplier"] = out_ch // c
        self.ops.append(_Op(kind, [self.current, w_idx, b_idx], [out], opts))
        self.current, self.x = out, y

    def avgpool(self, name: str, k: int) -> None:
        self._pool(name, k, "AVERAGE_POOL_2D")

    def maxpool(self, name: str, k: int) -> None:
        self._pool(name, k, "MAX_POOL_2D")

    def _pool(self, name: str, k: int, kind: str) -> None:
        """k x k window, stride k, VALID; the output keeps the input's quantization (TFLM requires it)."""
        x = self._dequantized_input()
        windows = x.reshape(x.shape[0], x.shape[1] // k, k, x.shape[2] // k, k, x.shape[3])
        y = windows.mean(axis=(2, 4)) if kind == "AVERAGE_POOL_2D" else windows.max(axis=(2, 4))
        src = self.tensors[self.current]
        out = self.add_tensor(_Tensor(name, (1, *y.shape[1:]), _INT8, list(src.scale), list(src.zero_point)))
        self.ops.append(_Op(kind, [self.current], [out], {"padding": "VALID", "stride": k, "filter": k, "act": "NONE"}))
        self.current, self.x = out, y

    def pool_window(self, name: str, kind: str, filter_hw: tuple[int, int], stride_hw: tuple[int, int],
                    padding: str, act: str) -> None:
        """An int8 pool of any window, strides and padding, keeping the input's quantization (TFLite's converter and
        TFLM's kernels assume it); the float activations are not followed, so nothing calibrated may come after it."""
        t_in = self.tensors[self.current]
        _, h, w, c = t_in.shape
        (fh, fw), (sh, sw) = filter_hw, stride_hw
        oh, ow = _out_size(padding, h, fh, sh, 1), _out_size(padding, w, fw, sw, 1)
        out = self.add_tensor(_Tensor(name, (1, oh, ow, c), _INT8, list(t_in.scale), list(t_in.zero_point)))
        self.ops.append(_Op(kind, [self.current], [out], {"padding": padding, "stride_h": sh, "stride_w": sw,
                                                          "filter_h": fh, "filter_w": fw, "act": act}))
        self.current = out

    def add(self, name: str, other: tuple[int, np.ndarray], act: str) -> None:
        """Elementwise ADD of the current tensor and `other` (an earlier (tensor index, float activations))."""
        y = self._dequantized_input() + self._dequantize(*other)
        if act == "RELU":
            y = np.maximum(y, 0)
        out = self.activation(name, y, relu=act != "NONE")
        self.ops.append(_Op("ADD", [other[0], self.current], [out], {"act": act}))
        self.current, self.x = out, y

    def reshape(self, name: str, shape: tuple[int, ...]) -> None:
        src = self.tensors[self.current]
        shape_idx = self.add_tensor(_Tensor(f"{name}/shape", (len(shape),), _INT32, [], [], 0,
                                            np.array(shape, dtype=np.int32).tobytes()))
        out = self.add_tensor(_Tensor(name, shape, _INT8, list(src.scale), list(src.zero_point)))
        self.ops.append(_Op("RESHAPE", [self.current, shape_idx], [out], {"new_shape": list(shape)}))
        self.current, self.x = out, self.x.reshape(self.x.shape[0], *shape[1:])

    def fully_connected(self, name: str, units: int) -> None:
        x = self._dequantized_input()
        x2 = x.reshape(x.shape[0], -1)
        w = self.rng.normal(0, np.sqrt(1.0 / x2.shape[1]), (units, x2.shape[1]))
        b = self.rng.normal(0, 0.05, units)
        y = x2 @ w.T + b
        # TFLite's FULLY_CONNECTED uses one weight scale (per-tensor), as the micro_speech model does.
        w_scale = np.float32(np.abs(w).max() / 127.0)
        q = np.clip(np.round(w / w_scale), -127, 127).astype(np.int8)
        w_idx = self.add_tensor(_Tensor(f"{name}/weights", w.shape, _INT8, [float(w_scale)], [0], 0, q.tobytes()))
        b_idx = self._bias(f"{name}/bias", b, np.array([w_scale], dtype=np.float32))
        out = self.activation(name, y, relu=False)
        self.ops.append(_Op("FULLY_CONNECTED", [self.current, w_idx, b_idx], [out], {"act": "NONE"}))
        self.current, self.x = out, y

    def softmax(self, name: str) -> None:
        out = self.add_tensor(_Tensor(name, self.tensors[self.current].shape, _INT8, [1.0 / 256], [-128]))
        self.ops.append(_Op("SOFTMAX", [self.current], [out], {"beta": 1.0}))
        self.current = out

    # -------------------------------------------------------------- flatbuffer
    def serialize(self, description: str, tensor_names: bool = True) -> bytes:
        """The .tflite flatbuffer; tensor_names=False leaves every tensor's name out (stripped models)."""
        import flatbuffers

        b = flatbuffers.Builder(1 << 16)

        def ivec(values, prepend=None, elem=4):
            b.StartVector(elem, len(values), elem)
            for v in reversed(values):
                (prepend or b.PrependInt32)(v)
            return b.EndVector()

        def ovec(offsets):
            b.StartVector(4, len(offsets), 4)
            for o in reversed(offsets):
                b.PrependUOffsetTRelative(o)
            return b.EndVector()

        # buffers: 0 is the empty sentinel, then one per constant tensor
        buffer_data = [None] + [t.data for t in self.tensors if t.data is not None]
        buffers = []
        for data in buffer_data:
            vec = None
            if data:
                b.StartVector(1, len(data), 16)
                b.head = b.head - len(data)
                b.Bytes[b.head:b.head + len(data)] = data
                vec = b.EndVector()
            b.StartObject(3)
            if vec is not None:
                b.PrependUOffsetTRelativeSlot(0, vec, 0)
            buffers.append(b.EndObject())
        tensors = []
        next_buffer = 1
        for t in self.tensors:
            name = b.CreateString(t.name) if tensor_names else None
            shape = ivec(list(t.shape))
            quant = None
            if t.scale:
                scale = ivec(t.scale, b.PrependFloat32)
                zp = ivec(t.zero_point, b.PrependInt64, 8)
                b.StartObject(7)
                b.PrependUOffsetTRelativeSlot(2, scale, 0)
                b.PrependUOffsetTRelativeSlot(3, zp, 0)
                b.PrependInt32Slot(6, t.qdim, 0)
                quant = b.EndObject()
            b.StartObject(8)
            b.PrependUOffsetTRelativeSlot(0, shape, 0)
            b.PrependInt8Slot(1, t.dtype, 0)
            if t.data is not None:
                b.PrependUint32Slot(2, next_buffer, 0)
                next_buffer += 1
            if name is not None:
                b.PrependUOffsetTRelativeSlot(3, name, 0)
            if quant is not None:
                b.PrependUOffsetTRelativeSlot(4, quant, 0)
            if t.variable:
                b.PrependBoolSlot(5, True, False)
            tensors.append(b.EndObject())
        kinds = list(dict.fromkeys(op.kind for op in self.ops))
        codes = []
        for kind in kinds:
            custom = next((op.options["custom_code"] for op in self.ops if op.kind == kind and kind == "CUSTOM"), None)
            custom_code = b.CreateString(custom) if custom else None
            b.StartObject(4)
            b.PrependInt8Slot(0, min(_OPS[kind], 127), 0)
            if custom_code is not None:
                b.PrependUOffsetTRelativeSlot(1, custom_code, 0)
            b.PrependInt32Slot(2, 1, 1)
            b.PrependInt32Slot(3, _OPS[kind], 0)
            codes.append(b.EndObject())
        operators = []
        for op in self.ops:
            opts = self._options(b, op, ivec) if op.kind in _OPTIONS_TYPE else None
            ins, outs = ivec(op.inputs), ivec(op.outputs)
            b.StartObject(9)
            b.PrependUint32Slot(0, kinds.index(op.kind), 0)
            b.PrependUOffsetTRelativeSlot(1, ins, 0)
            b.PrependUOffsetTRelativeSlot(2, outs, 0)
            if opts is not None:
                b.PrependUint8Slot(3, _OPTIONS_TYPE[op.kind], 0)
                b.PrependUOffsetTRelativeSlot(4, opts, 0)
            operators.append(b.EndObject())
        t_vec, o_vec = ovec(tensors), ovec(operators)
        in_vec, out_vec = ivec(self.graph_inputs or [0]), ivec(self.graph_outputs or [self.current])
        sg_name = b.CreateString("main")
        b.StartObject(5)
        b.PrependUOffsetTRelativeSlot(0, t_vec, 0)
        b.PrependUOffsetTRelativeSlot(1, in_vec, 0)
        b.PrependUOffsetTRelativeSlot(2, out_vec, 0)
        b.PrependUOffsetTRelativeSlot(3, o_vec, 0)
        b.PrependUOffsetTRelativeSlot(4, sg_name, 0)
        subgraph = b.EndObject()
        codes_vec, sg_vec, buf_vec = ovec(codes), ovec([subgraph]), ovec(buffers)
        desc = b.CreateString(description)
        b.StartObject(8)
        b.PrependUint32Slot(0, 3, 0)
        b.PrependUOffsetTRelativeSlot(1, codes_vec, 0)
        b.PrependUOffsetTRelativeSlot(2, sg_vec, 0)
        b.PrependUOffsetTRelativeSlot(3, desc, 0)
        b.PrependUOffsetTRelativeSlot(4, buf_vec, 0)
        model = b.EndObject()
        b.Finish(model, file_identifier=b"TFL3")
        return bytes(b.Output())

    @staticmethod
    def _options(b, op: _Op, ivec) -> int:
        o = op.options
        stride_h, stride_w = o.get("stride_h", o.get("stride", 1)), o.get("stride_w", o.get("stride", 1))
        dilation_h, dilation_w = o.get("dilation_h", 1), o.get("dilation_w", 1)
        if op.kind == "CONV_2D":
            b.StartObject(7)
            b.PrependInt8Slot(0, _PAD[o["padding"]], 0)
            b.PrependInt32Slot(1, stride_w, 0)
            b.PrependInt32Slot(2, stride_h, 0)
            b.PrependInt8Slot(3, _ACT[o["act"]], 0)
            b.PrependInt32Slot(4, dilation_w, 1)
            b.PrependInt32Slot(5, dilation_h, 1)
        elif op.kind == "DEPTHWISE_CONV_2D":
            b.StartObject(7)
            b.PrependInt8Slot(0, _PAD[o["padding"]], 0)
            b.PrependInt32Slot(1, stride_w, 0)
            b.PrependInt32Slot(2, stride_h, 0)
            b.PrependInt32Slot(3, o["depth_multiplier"], 0)
            b.PrependInt8Slot(4, _ACT[o["act"]], 0)
            b.PrependInt32Slot(5, dilation_w, 1)
            b.PrependInt32Slot(6, dilation_h, 1)
        elif op.kind in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
            b.StartObject(6)
            b.PrependInt8Slot(0, _PAD[o["padding"]], 0)
            b.PrependInt32Slot(1, stride_w, 0)
            b.PrependInt32Slot(2, stride_h, 0)
            b.PrependInt32Slot(3, o.get("filter_w", o.get("filter")), 0)
            b.PrependInt32Slot(4, o.get("filter_h", o.get("filter")), 0)
            b.PrependInt8Slot(5, _ACT[o["act"]], 0)
        elif op.kind in ("ADD", "SUB", "MUL"):
            b.StartObject(2)
            b.PrependInt8Slot(0, _ACT[o["act"]], 0)
        elif op.kind == "CONCATENATION":
            b.StartObject(2)
            b.PrependInt32Slot(0, o["axis"], 0)
            b.PrependInt8Slot(1, _ACT[o.get("act", "NONE")], 0)
        elif op.kind == "PAD":
            b.StartObject(0)
        elif op.kind == "STRIDED_SLICE":
            b.StartObject(6)
            for slot, key in enumerate(("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask",
                                        "shrink_axis_mask")):
                b.PrependInt32Slot(slot, o.get(key, 0), 0)
        elif op.kind == "TRANSPOSE_CONV":
            b.StartObject(5)
            b.PrependInt8Slot(0, _PAD[o["padding"]], 0)
            b.PrependInt32Slot(1, stride_w, 0)
            b.PrependInt32Slot(2, stride_h, 0)
            b.PrependInt8Slot(3, _ACT[o["act"]], 0)
        elif op.kind == "MEAN":
            b.StartObject(1)
            b.PrependBoolSlot(0, bool(o["keep_dims"]), False)
        elif op.kind == "SQUEEZE":
            dims = ivec(o["squeeze_dims"])
            b.StartObject(1)
            b.PrependUOffsetTRelativeSlot(0, dims, 0)
        elif op.kind == "FULLY_CONNECTED":
            b.StartObject(4)
            b.PrependInt8Slot(0, _ACT[o["act"]], 0)
        elif op.kind == "SOFTMAX":
            b.StartObject(1)
            b.PrependFloat32Slot(0, o["beta"], 0.0)
        elif op.kind == "RESHAPE":
            shape = ivec(o["new_shape"])
            b.StartObject(1)
            b.PrependUOffsetTRelativeSlot(0, shape, 0)
        elif op.kind == "SVDF":
            b.StartObject(3)
            b.PrependInt32Slot(0, o["rank"], 0)
            b.PrependInt8Slot(1, _ACT[o.get("act", "NONE")], 0)
        elif op.kind == "UNIDIRECTIONAL_SEQUENCE_LSTM":
            b.StartObject(6)
            b.PrependInt8Slot(0, _ACT[o.get("act", "TANH")], 0)
            b.PrependFloat32Slot(1, o.get("cell_clip", 0.0), 0.0)
            b.PrependFloat32Slot(2, 0.0, 0.0)
            b.PrependBoolSlot(3, bool(o.get("time_major", False)), False)
        return b.EndObject()


def _calibration_inputs(shape: tuple[int, ...], seed: int, count: int = 8) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(-128, 128, size=(count, *shape[1:])).astype(np.float64) / 128.0


def micro_speech_tflite(seed: int = 20240501) -> bytes:
    b = _Builder(seed, _calibration_inputs((1, 1960), seed))
    b.input((1, 1960))
    b.reshape("reshape_input", (1, 49, 40, 1))
    b.conv("conv", 8, (10, 8), 2, "RELU", depthwise=True)
    b.fully_connected("fc", 4)
    b.softmax("labels_softmax")
    return b.serialize("armlprof generated micro_speech-like model (seeded weights)")


def person_detect_tflite(seed: int = 20240502) -> bytes:
    b = _Builder(seed, _calibration_inputs((1, 96, 96, 1), seed, count=4))
    b.input((1, 96, 96, 1))
    b.conv("conv_0", 8, (3, 3), 2, "RELU6", depthwise=True)  # 1 input channel: depthwise x8, as person_detect
    blocks = [(16, 1), (32, 2), (32, 1), (64, 2), (64, 1), (128, 2), (128, 1), (128, 1), (128, 1), (128, 1),
              (128, 1), (256, 2), (256, 1)]
    for i, (out_ch, stride) in enumerate(blocks, start=1):
        in_ch = b.tensors[b.current].shape[3]
        b.conv(f"conv_{i}_depthwise", in_ch, (3, 3), stride, "RELU6", depthwise=True)
        b.conv(f"conv_{i}_pointwise", out_ch, (1, 1), 1, "RELU6", depthwise=False)
    b.avgpool("avgpool", 3)
    b.conv("logits", 2, (1, 1), 1, "NONE", depthwise=False)
    b.reshape("reshape_logits", (1, 2))
    b.softmax("predictions")
    return b.serialize("armlprof generated person_detect-like model (MobileNet v1 0.25, seeded weights)")


def ops_coverage_tflite(seed: int = 20240503, classifier: bool = True) -> bytes:
    """classifier=False ends the model at the ADD output ([1,8,8,8]), so tests see every ADD/MAX_POOL_2D value
    rather than their 8x8 average."""
    b = _Builder(seed, _calibration_inputs((1, 16, 16, 1), seed))
    b.input((1, 16, 16, 1))
    b.conv("conv", 8, (3, 3), 1, "RELU6", depthwise=False)
    b.maxpool("maxpool", 2)
    identity = (b.current, b.x)  # scale 6/255 (RELU6); the depthwise branch gets its own calibrated scale
    b.conv("branch_depthwise", 8, (3, 3), 1, "NONE", depthwise=True)
    b.add("residual_add", identity, "RELU")
    if not classifier:
        return b.serialize("armlprof generated operator-coverage model, trunk only (seeded weights)")
    b.avgpool("avgpool", 8)
    b.reshape("reshape", (1, 8))
    b.fully_connected("fc", 4)
    b.softmax("predictions")
    return b.serialize("armlprof generated operator-coverage model (ADD, MAX_POOL_2D, ...; seeded weights)")


def resnet_tflite(seed: int = 20240504) -> bytes:
    """MLPerf Tiny's image-classification ResNet-8 shape: 32x32x3 -> CONV 16 -> three residual stacks (16, 32/2,
    64/2; the strided ones with a 1x1 CONV shortcut) each ending in ADD + RELU -> AVERAGE_POOL 8x8 -> FC 10 ->
    SOFTMAX. Not a study model: the generation-time benchmark's and the differential test's residual network."""
    b = _Builder(seed, _calibration_inputs((1, 32, 32, 3), seed, count=4))
    b.input((1, 32, 32, 3))
    b.conv("conv_0", 16, (3, 3), 1, "RELU", depthwise=False)
    for i, (channels, stride) in enumerate([(16, 1), (32, 2), (64, 2)], start=1):
        stack_in = (b.current, b.x)
        if stride == 1:
            shortcut = stack_in
        else:
            b.conv(f"stack{i}_shortcut", channels, (1, 1), stride, "NONE", depthwise=False)
            shortcut = (b.current, b.x)
            b.current, b.x = stack_in
        b.conv(f"stack{i}_conv_a", channels, (3, 3), stride, "RELU", depthwise=False)
        b.conv(f"stack{i}_conv_b", channels, (3, 3), 1, "NONE", depthwise=False)
        b.add(f"stack{i}_add", shortcut, "RELU")
    b.avgpool("avgpool", 8)
    b.reshape("flatten", (1, 64))
    b.fully_connected("fc", 10)
    b.softmax("predictions")
    return b.serialize("armlprof generated ResNet-8 (MLPerf Tiny image classification shape, seeded weights)")


# ------------------------------------------------------------------ randomized single-operator models
# For differential testing: one operator with random shapes and quantization parameters (scales over decades,
# any zero point, per-channel or per-tensor weights, SAME/VALID, strides, dilations, fused activations whose
# clamps cut because the output scale is small), so coverage does not depend on which real models are at hand.
RANDOM_OPERATORS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "AVERAGE_POOL_2D", "MAX_POOL_2D", "ADD",
                    "SOFTMAX", "RESHAPE", "SUB", "MUL", "PAD", "CONCATENATION", "SQUEEZE", "LOGISTIC", "TANH",
                    "QUANTIZE", "TRANSPOSE", "STRIDED_SLICE", "MEAN", "HARD_SWISH",
                    "DEQUANTIZE", "TRANSPOSE_CONV", "SVDF", "UNIDIRECTIONAL_SEQUENCE_LSTM")


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.float32(np.exp(rng.uniform(np.log(lo), np.log(hi)))))


def _zero_point(rng: np.random.Generator) -> int:
    return int(rng.choice([-128, 127, 0, int(rng.integers(-128, 128))]))


def _out_size(padding: str, size: int, k: int, stride: int, dilation: int) -> int:
    effective = (k - 1) * dilation + 1
    return (size + stride - 1) // stride if padding == "SAME" else (size - effective + stride) // stride


def _random_input(b: _Builder, rng: np.random.Generator, shape: tuple[int, ...]) -> None:
    b.current = b.add_tensor(_Tensor("input", shape, _INT8, [_log_uniform(rng, 1e-3, 1.0)], [_zero_point(rng)]))


def _random_output(b: _Builder, rng: np.random.Generator, name: str, shape: tuple[int, ...],
                   real_std: float, act: str = "NONE", dtype: int = _INT8) -> int:
    """An int8 output whose scale puts the float std at 5-80 steps: large values saturate, clamps cut (an int16
    output, `dtype` _INT16: _random_int16_output)."""
    if dtype == _INT16:
        return _random_int16_output(b, rng, name, shape, real_std, act)
    scale = float(np.float32(max(real_std, 1e-9) / rng.uniform(5.0, 80.0)))
    if act in ("RELU_N1_TO_1", "RELU6"):  # the clamp range must span several steps, or all outputs are one value
        scale = min(scale, float(np.float32((1.0 if act == "RELU_N1_TO_1" else 6.0) / rng.uniform(8.0, 100.0))))
    # Zero points off the extremes: with RELU, a zero point of 127 clamps every output to 127 (nothing tested).
    return b.add_tensor(_Tensor(name, shape, _INT8, [scale], [int(rng.integers(-80, 81))]))


def _random_act(rng: np.random.Generator) -> str:
    return str(rng.choice(["NONE", "RELU", "RELU6", "RELU_N1_TO_1"]))


def _random_conv(b: _Builder, rng: np.random.Generator, depthwise: bool) -> None:
    t_in = b.tensors[b.current]
    _, h, w, c = t_in.shape
    while True:
        kh, kw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        sh, sw = int(rng.integers(1, 3)), int(rng.integers(1, 3))
        dh, dw = (int(rng.integers(1, 3)), int(rng.integers(1, 3))) if rng.random() < 0.4 else (1, 1)
        padding = str(rng.choice(["SAME", "VALID"]))
        oh, ow = _out_size(padding, h, kh, sh, dh), _out_size(padding, w, kw, sw, dw)
        if oh >= 1 and ow >= 1:
            break
    mult = int(rng.integers(1, 3)) if depthwise else 1
    oc = c * mult if depthwise else int(rng.integers(1, 6))
    w_shape = (1, kh, kw, oc) if depthwise else (oc, kh, kw, c)
    qdim = 3 if depthwise else 0
    weights = rng.integers(-127, 128, size=w_shape).astype(np.int8)
    per_channel = rng.random() < 0.7
    base = _log_uniform(rng, 1e-4, 1e-1)
    w_scales = [float(np.float32(base * rng.uniform(0.25, 4.0))) for _ in range(oc)] if per_channel else [base]
    w_idx = b.add_tensor(_Tensor("weights", w_shape, _INT8, w_scales, [0] * len(w_scales), qdim, weights.tobytes()))
    in_scale = float(t_in.scale[0])
    b_scales = [float(np.float32(in_scale) * np.float32(s)) for s in (w_scales * (oc if not per_channel else 1))]
    fan_in = kh * kw * (1 if depthwise else c)
    acc_std = float(np.sqrt(fan_in) * _INPUT_STD[t_in.dtype] * 74.0)
    bias_type = _bias_type(rng, t_in.dtype, int32_allowed=not depthwise)  # TFLM's int16 depthwise: int64 only
    bias = rng.normal(0, acc_std, oc).astype(_NP_TYPES[bias_type])
    b_idx = b.add_tensor(_Tensor("bias", (oc,), bias_type, b_scales, [0] * oc, 0, bias.tobytes()))
    act = _random_act(rng)
    out = _random_output(b, rng, "output", (1, oh, ow, oc), acc_std * in_scale * base, act, t_in.dtype)
    opts = {"padding": padding, "stride_h": sh, "stride_w": sw, "dilation_h": dh, "dilation_w": dw, "act": act}
    if depthwise:
        opts["depth_multiplier"] = mult
    b.ops.append(_Op("DEPTHWISE_CONV_2D" if depthwise else "CONV_2D", [b.current, w_idx, b_idx], [out], opts))
    b.current = out


def _random_fully_connected(b: _Builder, rng: np.random.Generator) -> None:
    t_in = b.tensors[b.current]
    batches, depth = t_in.shape[0], int(np.prod(t_in.shape[1:]))
    units = int(rng.integers(1, 9))
    weights = rng.integers(-127, 128, size=(units, depth)).astype(np.int8)
    w_scale = _log_uniform(rng, 1e-4, 1e-1)
    w_idx = b.add_tensor(_Tensor("weights", (units, depth), _INT8, [w_scale], [0], 0, weights.tobytes()))
    in_scale = float(t_in.scale[0])
    acc_std = float(np.sqrt(depth) * _INPUT_STD[t_in.dtype] * 74.0)
    inputs = [b.current, w_idx]
    if rng.random() < 0.8:
        bias_type = _bias_type(rng, t_in.dtype)
        bias = rng.normal(0, acc_std, units).astype(_NP_TYPES[bias_type])
        bias_scale = float(np.float32(in_scale) * np.float32(w_scale))
        inputs.append(b.add_tensor(_Tensor("bias", (units,), bias_type, [bias_scale], [0], 0, bias.tobytes())))
    act = _random_act(rng)
    out = _random_output(b, rng, "output", (batches, units), acc_std * in_scale * w_scale, act, t_in.dtype)
    b.ops.append(_Op("FULLY_CONNECTED", inputs, [out], {"act": act}))
    b.current = out


def _random_pool(b: _Builder, rng: np.random.Generator, kind: str) -> None:
    _, h, w, _ = b.tensors[b.current].shape
    while True:
        fh, fw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        sh, sw = int(rng.integers(1, 3)), int(rng.integers(1, 3))
        padding = str(rng.choice(["SAME", "VALID"]))
        oh, ow = _out_size(padding, h, fh, sh, 1), _out_size(padding, w, fw, sw, 1)
        if oh >= 1 and ow >= 1 and fh * fw > 1:
            break
    b.pool_window("output", kind, (fh, fw), (sh, sw), padding, _random_act(rng))


def _random_add(b: _Builder, rng: np.random.Generator, kind: str = "ADD") -> None:
    """ADD/SUB/MUL of the input and either its 1x1 CONV_2D (two activations with unrelated scales and zero
    points) or a constant per-channel int8 vector (broadcast over H and W)."""
    identity = b.current
    t_in = b.tensors[identity]
    if rng.random() < 0.6:
        _random_conv_1x1(b, rng, t_in.shape[3])
    elif t_in.dtype == _INT16:
        _int16_constant(b, rng, (t_in.shape[3],))
    else:
        c = t_in.shape[3]
        values = rng.integers(-128, 128, size=(c,)).astype(np.int8)
        b.current = b.add_tensor(_Tensor("constant", (c,), _INT8, [_log_uniform(rng, 1e-3, 1.0)],
                                         [int(rng.integers(-128, 128))], 0, values.tobytes()))
    s1, s2 = float(t_in.scale[0]), float(b.tensors[b.current].scale[0])
    real_std = s1 * s2 * 64 * 64 if kind == "MUL" else max(s1, s2) * 128 * (_INPUT_STD[t_in.dtype] / 73.0)
    act = _random_act(rng)
    out = _random_output(b, rng, "output", t_in.shape, real_std, act, t_in.dtype)
    b.ops.append(_Op(kind, [b.current, identity] if rng.random() < 0.5 else [identity, b.current], [out],
                     {"act": act}))
    b.current = out


def _random_pad(b: _Builder, rng: np.random.Generator, keep: tuple[int, ...] = (0,)) -> None:
    """PAD every dimension but those in `keep` by 0-2 elements on each side."""
    t_in = b.tensors[b.current]
    pads = [(0, 0) if d in keep else (int(rng.integers(0, 3)), int(rng.integers(0, 3)))
            for d in range(len(t_in.shape))]
    shape = tuple(n + lo + hi for n, (lo, hi) in zip(t_in.shape, pads, strict=True))
    p_idx = b.add_tensor(_Tensor("paddings", (len(pads), 2), _INT32, [], [], 0,
                                 np.array(pads, dtype=np.int32).tobytes()))
    out = b.add_tensor(_Tensor("output", shape, t_in.dtype, list(t_in.scale), list(t_in.zero_point)))
    b.ops.append(_Op("PAD", [b.current, p_idx], [out]))
    b.current = out


def _sigmoid(b: _Builder, kind: str) -> None:
    """LOGISTIC/TANH with the output quantization the converter gives them: [0, 1) and [-1, 1)."""
    scale, zp = (1.0 / 256, -128) if kind == "LOGISTIC" else (1.0 / 128, 0)
    out = b.add_tensor(_Tensor(kind.lower(), b.tensors[b.current].shape, _INT8, [scale], [zp]))
    b.ops.append(_Op(kind, [b.current], [out]))
    b.current = out


def _random_quantize(b: _Builder, rng: np.random.Generator) -> None:
    """int8 -> int8 QUANTIZE (requantization) to a scale 1/7 to 7 times the input's and any zero point."""
    t_in = b.tensors[b.current]
    scale = float(np.float32(float(t_in.scale[0]) * np.exp(rng.uniform(-2.0, 2.0))))
    out = b.add_tensor(_Tensor("requantized", t_in.shape, _INT8, [scale], [int(rng.integers(-64, 65))]))
    b.ops.append(_Op("QUANTIZE", [b.current], [out]))
    b.current = out


def _transpose(b: _Builder, perm: list[int]) -> None:
    t_in = b.tensors[b.current]
    p_idx = b.add_tensor(_Tensor("perm", (len(perm),), _INT32, [], [], 0, np.array(perm, np.int32).tobytes()))
    out = b.add_tensor(_Tensor("transposed", tuple(t_in.shape[p] for p in perm), _INT8, list(t_in.scale),
                               list(t_in.zero_point)))
    b.ops.append(_Op("TRANSPOSE", [b.current, p_idx], [out]))
    b.current = out


def _random_strided_slice(b: _Builder, rng: np.random.Generator) -> None:
    """Random begin/end (negative ones too), strides of -2..2, begin/end masks and maybe one shrunk axis; the
    output shape follows TFLM's strided_slice_logic (the TVM side computes it independently and checks it)."""
    from armlprof.runtime.tvm.ops import _slice_start, _slice_stop

    t_in = b.tensors[b.current]
    rank = len(t_in.shape)
    while True:
        begin = [int(rng.integers(-n, n)) for n in t_in.shape]
        end = [int(rng.integers(-n, n + 1)) for n in t_in.shape]
        strides = [int(rng.choice([-2, -1, 1, 1, 2])) for _ in t_in.shape]
        begin_mask, end_mask = int(rng.integers(0, 1 << rank)), int(rng.integers(0, 1 << rank))
        shrink = (1 << int(rng.integers(1, rank))) if rng.random() < 0.3 else 0
        begin_mask, end_mask = begin_mask & ~shrink, end_mask & ~shrink  # as converters write it
        strides = [1 if shrink & (1 << a) else v for a, v in enumerate(strides)]
        shape = []
        for axis, n in enumerate(t_in.shape):
            start = _slice_start(begin[axis], strides[axis], n, bool(begin_mask & (1 << axis)))
            if shrink & (1 << axis):
                if not 0 <= start < n:
                    break
                continue
            stop = _slice_stop(end[axis], strides[axis], n, bool(end_mask & (1 << axis)))
            shape.append(max(0, -(-(stop - start) // strides[axis])))
        else:
            if all(shape) and shape:
                break
    vec = [b.add_tensor(_Tensor(name, (rank,), _INT32, [], [], 0, np.array(v, np.int32).tobytes()))
           for name, v in (("begin", begin), ("end", end), ("strides", strides))]
    out = b.add_tensor(_Tensor("sliced", tuple(shape), t_in.dtype, list(t_in.scale), list(t_in.zero_point)))
    b.ops.append(_Op("STRIDED_SLICE", [b.current, *vec], [out], {"begin_mask": begin_mask, "end_mask": end_mask,
                                                                "shrink_axis_mask": shrink}))
    b.current = out


def _random_mean(b: _Builder, rng: np.random.Generator, axes: list[int] | None = None,
                 keep_dims: bool | None = None) -> None:
    """MEAN over the axes real models use (spatial [1, 2] most often, in either order or negative; also one axis,
    the channels, or all three), keep_dims either way, and an output quantization unrelated to the input's
    (mostly), so the requantization and its clamps are exercised."""
    t_in = b.tensors[b.current]
    rank = len(t_in.shape)
    if axes is None:
        choices = [[1, 2], [1, 2], [2, 1], [-3, -2], [1], [2], [rank - 1], [-1], list(range(1, rank))]
        axes = choices[int(rng.integers(len(choices)))]
    keep_dims = bool(rng.random() < 0.5) if keep_dims is None else keep_dims
    reduced = {a % rank for a in axes}
    shape = tuple(1 if a in reduced else n for a, n in enumerate(t_in.shape) if keep_dims or a not in reduced)
    a_idx = b.add_tensor(_Tensor("axes", (len(axes),), _INT32, [], [], 0, np.array(axes, np.int32).tobytes()))
    count = int(np.prod([t_in.shape[a % rank] for a in reduced]))
    # A mean of uniform int8 inputs has a std of ~74 / sqrt(count) input steps: put it at 2-60 output steps.
    scale = float(np.float32(float(t_in.scale[0]) * 74.0 / np.sqrt(count) / rng.uniform(2.0, 60.0)))
    same = rng.random() < 0.2  # converters often keep the input's quantization
    out = b.add_tensor(_Tensor("mean", shape or (1,), _INT8, list(t_in.scale) if same else [scale],
                               list(t_in.zero_point) if same else [int(rng.integers(-100, 101))]))
    b.ops.append(_Op("MEAN", [b.current, a_idx], [out], {"keep_dims": keep_dims}))
    b.current = out


def _random_hard_swish(b: _Builder, rng: np.random.Generator) -> None:
    """HARD_SWISH with the input range straddling [-3, 3] (or far beyond it) and an output scale of 1/4 to 2 times
    the input's (TFLM needs output scale >= input scale / 128)."""
    t_in = b.tensors[b.current]
    scale = float(np.float32(float(t_in.scale[0]) * np.exp(rng.uniform(-1.4, 0.7))))
    out = b.add_tensor(_Tensor("hard_swish", t_in.shape, _INT8, [scale], [int(rng.integers(-128, 60))]))
    b.ops.append(_Op("HARD_SWISH", [b.current], [out]))
    b.current = out


def _random_transpose_conv(b: _Builder, rng: np.random.Generator) -> None:
    """TRANSPOSE_CONV with the output sizes converters write (SAME: in x stride; VALID: (in - 1) x stride + k),
    kernels 1-4 by 1-4, strides 1-3 (each output then sums a varying number of taps), per-channel or per-tensor
    symmetric weights, a bias or none, and a fused activation."""
    t_in = b.tensors[b.current]
    _, h, w, c = t_in.shape
    oc = int(rng.integers(1, 5))
    kh, kw = int(rng.integers(1, 5)), int(rng.integers(1, 5))
    sh, sw = (1, 1) if rng.random() < 0.25 else (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    padding = str(rng.choice(["SAME", "VALID"]))
    oh, ow = (h * sh, w * sw) if padding == "SAME" else ((h - 1) * sh + kh, (w - 1) * sw + kw)
    per_channel = rng.random() < 0.7
    w_scales = [_log_uniform(rng, 1e-3, 1e-1) for _ in range(oc if per_channel else 1)]
    weights = rng.integers(-127, 128, size=(oc, kh, kw, c)).astype(np.int8)
    w_idx = b.add_tensor(_Tensor("weights", weights.shape, _INT8, w_scales, [0] * len(w_scales), 0,
                                 weights.tobytes()))
    shape_idx = b.add_tensor(_Tensor("output_shape", (4,), _INT32, [], [], 0,
                                     np.array([1, oh, ow, oc], np.int32).tobytes()))
    in_scale = np.float32(t_in.scale[0])
    inputs = [shape_idx, w_idx, b.current]
    if rng.random() < 0.7:
        bias = rng.integers(-3000, 3000, size=oc).astype(np.int32)
        bias_type = _INT32
        if t_in.dtype == _INT16:  # int16x8: an int64 bias scaled to the int16 inputs, or the int16 one TFLM widens
            bias_type = _INT16 if rng.random() < 0.3 else _INT64
            bias = bias.astype(np.int16) if bias_type == _INT16 else bias.astype(np.int64) * 256
        scales = [float(in_scale * np.float32(s)) for s in w_scales]
        inputs.append(b.add_tensor(_Tensor("bias", (oc,), bias_type, scales, [0] * len(w_scales), 0, bias.tobytes())))
    taps = max(kh * kw * c / (sh * sw), 1.0)
    act = _random_act(rng)
    out = _random_output(b, rng, "output", (1, oh, ow, oc), float(np.sqrt(taps)) * _INPUT_STD[t_in.dtype] * 74.0
                         * float(in_scale) * float(np.median(w_scales)), act, t_in.dtype)
    b.ops.append(_Op("TRANSPOSE_CONV", inputs, [out], {"padding": padding, "stride_h": sh, "stride_w": sw,
                                                       "act": act}))
    b.current = out


def _dequantize(b: _Builder) -> None:
    """DEQUANTIZE to a float32 model output (no quantization on the float tensor)."""
    out = b.add_tensor(_Tensor("dequantized", b.tensors[b.current].shape, _FLOAT32, [], []))
    b.ops.append(_Op("DEQUANTIZE", [b.current], [out]))
    b.current = out


def _random_concatenation(b: _Builder, rng: np.random.Generator, axis: int | None = None) -> None:
    """The input, its 2x2 stride-1 SAME MAX_POOL_2D (same quantization) and maybe the input again, on one axis."""
    identity = b.current
    t_in = b.tensors[identity]
    pooled = b.add_tensor(_Tensor("pooled", t_in.shape, _INT8, list(t_in.scale), list(t_in.zero_point)))
    b.ops.append(_Op("MAX_POOL_2D", [identity], [pooled], {"padding": "SAME", "stride": 1, "filter": 2,
                                                          "act": "NONE"}))
    inputs = [identity, pooled] + ([identity] if rng.random() < 0.5 else [])
    axis = int(rng.choice([1, 2, 3, -1])) if axis is None else axis
    shape = list(t_in.shape)
    shape[axis] *= len(inputs)
    out = b.add_tensor(_Tensor("output", tuple(shape), _INT8, list(t_in.scale), list(t_in.zero_point)))
    b.ops.append(_Op("CONCATENATION", [int(i) for i in rng.permutation(inputs)], [out], {"axis": axis}))
    b.current = out


def _random_conv_1x1(b: _Builder, rng: np.random.Generator, channels: int) -> None:
    t_in = b.tensors[b.current]
    w_scale = _log_uniform(rng, 1e-3, 1e-1)
    weights = rng.integers(-127, 128, size=(channels, 1, 1, channels)).astype(np.int8)
    w_idx = b.add_tensor(_Tensor("branch/weights", weights.shape, _INT8, [w_scale], [0], 0, weights.tobytes()))
    bias_type = _INT64 if t_in.dtype == _INT16 else _INT32
    bias = np.zeros(channels, dtype=_NP_TYPES[bias_type])
    b_idx = b.add_tensor(_Tensor("branch/bias", (channels,), bias_type,
                                 [float(np.float32(t_in.scale[0]) * np.float32(w_scale))], [0], 0, bias.tobytes()))
    acc_std = float(np.sqrt(channels) * _INPUT_STD[t_in.dtype] * 74.0)
    out = _random_output(b, rng, "branch", t_in.shape, acc_std * float(t_in.scale[0]) * w_scale, dtype=t_in.dtype)
    b.ops.append(_Op("CONV_2D", [b.current, w_idx, b_idx], [out], {"padding": "VALID", "stride": 1, "act": "NONE"}))
    b.current = out


def _random_softmax(b: _Builder, rng: np.random.Generator, beta: float | None = None) -> None:
    shape = b.tensors[b.current].shape
    out = b.add_tensor(_Tensor("output", shape, _INT8, [1.0 / 256], [-128]))
    beta = float(np.float32(rng.choice([1.0, rng.uniform(0.3, 3.0)]))) if beta is None else beta
    b.ops.append(_Op("SOFTMAX", [b.current], [out], {"beta": beta}))
    b.current = out


def random_operator_tflite(kind: str, seed: int, tensor_names: bool = True) -> bytes:
    """A model of one `kind` operator (RANDOM_OPERATORS) with seeded random shapes and quantization."""
    if kind not in RANDOM_OPERATORS:
        raise ArmlprofError(f"no random model generator for {kind}; choose one of {', '.join(RANDOM_OPERATORS)}")
    rng = np.random.default_rng([seed, RANDOM_OPERATORS.index(kind)])
    b = _Builder(seed, np.zeros((1, 1)))
    if kind in ("CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D", "ADD", "SUB", "MUL", "PAD",
                "CONCATENATION", "LOGISTIC", "TANH", "QUANTIZE", "TRANSPOSE", "STRIDED_SLICE", "MEAN", "HARD_SWISH",
                "DEQUANTIZE", "TRANSPOSE_CONV"):
        _random_input(b, rng, (1, int(rng.integers(2, 10)), int(rng.integers(2, 10)), int(rng.integers(1, 5))))
    elif kind == "SOFTMAX":
        _random_input(b, rng, (int(rng.integers(1, 3)), int(rng.integers(2, 12))))
        b.tensors[b.current].scale = [_log_uniform(rng, 1e-2, 1.0)]
    elif kind in ("SVDF", "UNIDIRECTIONAL_SEQUENCE_LSTM"):  # sequence operators with state: own generators
        (svdf_random if kind == "SVDF" else lstm_random)(b, rng)
        return b.serialize(f"armlprof random {kind} model (seed {seed})", tensor_names)
    else:
        _random_input(b, rng, (int(rng.integers(1, 3)), int(rng.integers(1, 40))))
    if kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        _random_conv(b, rng, depthwise=kind == "DEPTHWISE_CONV_2D")
    elif kind == "FULLY_CONNECTED":
        _random_fully_connected(b, rng)
    elif kind in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        _random_pool(b, rng, kind)
    elif kind in ("ADD", "SUB", "MUL"):
        _random_add(b, rng, kind)
    elif kind == "PAD":
        _random_pad(b, rng)
    elif kind in ("LOGISTIC", "TANH"):
        b.tensors[b.current].scale = [_log_uniform(rng, 2e-3, 0.2)]
        _sigmoid(b, kind)
    elif kind == "QUANTIZE":
        _random_quantize(b, rng)
    elif kind == "MEAN":
        _random_mean(b, rng)
    elif kind == "TRANSPOSE_CONV":
        _random_transpose_conv(b, rng)
    elif kind == "DEQUANTIZE":  # an int8 operator, then DEQUANTIZE of its output (any scale and zero point)
        _random_quantize(b, rng)
        _dequantize(b)
    elif kind == "HARD_SWISH":
        b.tensors[b.current].scale = [_log_uniform(rng, 5e-3, 0.3)]  # [-3, 3] spans 10 to 600 steps
        _random_hard_swish(b, rng)
    elif kind == "TRANSPOSE":
        _transpose(b, [int(p) for p in rng.permutation(len(b.tensors[b.current].shape))])
    elif kind == "STRIDED_SLICE":
        _random_strided_slice(b, rng)
    elif kind == "CONCATENATION":
        _random_concatenation(b, rng)
    elif kind == "SQUEEZE":  # [n, 1, d] -> SQUEEZE -> [n, d] -> FULLY_CONNECTED
        t_in = b.tensors[b.current]
        t_in.shape = (t_in.shape[0], 1, t_in.shape[1])
        out = b.add_tensor(_Tensor("squeezed", (t_in.shape[0], t_in.shape[2]), _INT8, list(t_in.scale),
                                   list(t_in.zero_point)))
        b.ops.append(_Op("SQUEEZE", [b.current], [out], {"squeeze_dims": [1]}))
        b.current = out
        _random_fully_connected(b, rng)
    elif kind == "SOFTMAX":
        _random_softmax(b, rng)
    elif kind == "RESHAPE":  # RESHAPE into FULLY_CONNECTED: reshaped input and FC's batch flattening
        n = b.tensors[b.current].shape
        b.x = np.zeros(n)
        b.reshape("reshaped", (n[0], 1, n[1]))
        _random_fully_connected(b, rng)
    return b.serialize(f"armlprof random {kind} model (seed {seed})", tensor_names)


def vela_like_tflite() -> bytes:
    """A model shaped like Vela's output: one CUSTOM 'ethos-u' operator (command stream + weights as inputs)."""
    b = _Builder(0, np.zeros((1, 1)))
    b.current = b.add_tensor(_Tensor("input", (1, 16), _INT8, [0.1], [0]))
    stream = b.add_tensor(_Tensor("command_stream", (8,), 3, [], [], 0, bytes(range(8))))
    out = b.add_tensor(_Tensor("output", (1, 16), _INT8, [0.1], [0]))
    b.ops.append(_Op("CUSTOM", [stream, b.current], [out], {"custom_code": "ethos-u"}))
    b.current = out
    return b.serialize("armlprof Vela-like model (not runnable on a CPU)")


def sigmoid_tflite(kind: str, input_scale: float, input_zero_point: int) -> bytes:
    """LOGISTIC or TANH on a [1, 256] input with the given quantization (feed it every int8 value at once)."""
    b = _Builder(0, np.zeros((1, 1)))
    b.current = b.add_tensor(_Tensor("input", (1, 256), _INT8, [float(np.float32(input_scale))], [input_zero_point]))
    _sigmoid(b, kind)
    return b.serialize(f"armlprof {kind} model")


def hard_swish_tflite(input_scale: float, input_zero_point: int, output_scale: float,
                      output_zero_point: int) -> bytes:
    """HARD_SWISH on a [1, 256] input with the given quantization (feed it every int8 value at once)."""
    b = _Builder(0, np.zeros((1, 1)))
    b.current = b.add_tensor(_Tensor("input", (1, 256), _INT8, [float(np.float32(input_scale))], [input_zero_point]))
    out = b.add_tensor(_Tensor("hard_swish", (1, 256), _INT8, [float(np.float32(output_scale))],
                               [output_zero_point]))
    b.ops.append(_Op("HARD_SWISH", [b.current], [out]))
    b.current = out
    return b.serialize("armlprof HARD_SWISH model")


def mean_tflite(shape: tuple[int, ...], axes: list[int], keep_dims: bool, seed: int) -> bytes:
    """MEAN of an int8 `shape` input over `axes` (random input and output quantization from `seed`)."""
    rng = np.random.default_rng(seed)
    b = _Builder(seed, np.zeros((1, 1)))
    _random_input(b, rng, shape)
    _random_mean(b, rng, axes, keep_dims)
    return b.serialize(f"armlprof MEAN model (axes {axes}, keep_dims {keep_dims}, seed {seed})")


def reduction_chain_tflite(seed: int = 20240508) -> bytes:
    """TRANSPOSE_CONV -> HARD_SWISH -> MEAN over the width (keep_dims false) -> HARD_SWISH -> DEQUANTIZE (float32
    output), random quantization: the newest operators in one image for the boards."""
    rng = np.random.default_rng(seed)
    b = _Builder(seed, np.zeros((1, 1)))
    _random_input(b, rng, (1, 3, 4, 3))
    _random_transpose_conv(b, rng)
    _random_hard_swish(b, rng)
    _random_mean(b, rng, [2], keep_dims=False)
    _random_hard_swish(b, rng)
    _dequantize(b)
    return b.serialize("armlprof reduction chain (TRANSPOSE_CONV, HARD_SWISH, MEAN, DEQUANTIZE; seeded)")


LEFT_OUT = ("INT16X8",)


def left_out_tflite(kind: str) -> bytes:
    """A small model of what the TVM runtimes deliberately leave to TFLM (LEFT_OUT): an int16x8 FULLY_CONNECTED and
    TANH between two QUANTIZEs (the TVM runtimes run int16x8 convolutions, FULLY_CONNECTED and ADD, not TANH). For
    testing the TVM runtimes' refusal; the tensors are well-formed."""
    b = _Builder(0, np.zeros((1, 1)))
    rng = np.random.default_rng(LEFT_OUT.index(kind))

    def const(name: str, shape: tuple[int, ...], dtype: int, np_dtype: str, scale: float) -> int:
        data = rng.integers(-100, 100, size=shape).astype(np_dtype).tobytes()
        return b.add_tensor(_Tensor(name, shape, dtype, [scale], [0], 0, data))

    x = b.add_tensor(_Tensor("input", (1, 8), _INT8, [0.05], [0]))
    # int8 -> int16 -> FULLY_CONNECTED (int16 activations, int8 weights, int64 bias) -> TANH -> int8
    wide = b.add_tensor(_Tensor("input_int16", (1, 8), tflite_schema.TENSOR_TYPES["INT16"], [1e-4], [0]))
    b.ops.append(_Op("QUANTIZE", [x], [wide]))
    fc = b.add_tensor(_Tensor("fc_int16", (1, 4), tflite_schema.TENSOR_TYPES["INT16"], [1e-3], [0]))
    b.ops.append(_Op("FULLY_CONNECTED", [wide, const("weights", (4, 8), _INT8, "int8", 0.01),
                                         const("bias", (4,), tflite_schema.TENSOR_TYPES["INT64"], "int64", 1e-6)],
                     [fc], {"act": "NONE"}))
    tanh = b.add_tensor(_Tensor("tanh_int16", (1, 4), tflite_schema.TENSOR_TYPES["INT16"], [1 / 32768], [0]))
    b.ops.append(_Op("TANH", [fc], [tanh]))
    out = b.add_tensor(_Tensor("output", (1, 4), _INT8, [0.05], [0]))
    b.ops.append(_Op("QUANTIZE", [tanh], [out]))
    b.current = out
    return b.serialize(f"armlprof {kind} model (left to TFLM)")


def operator_chain_tflite(seed: int = 20240507) -> bytes:
    """PAD -> SUB (with its 1x1 CONV_2D) -> MUL -> TANH -> CONCATENATION (with a MAX_POOL_2D) -> LOGISTIC ->
    QUANTIZE -> TRANSPOSE -> SQUEEZE -> STRIDED_SLICE, random quantization, output = every value of the last
    operator: the newer operators in one image for the boards."""
    rng = np.random.default_rng(seed)
    b = _Builder(seed, np.zeros((1, 1)))
    _random_input(b, rng, (1, 1, 6, 3))
    _random_pad(b, rng, keep=(0, 1, 3))
    _random_add(b, rng, "SUB")
    _random_add(b, rng, "MUL")
    _sigmoid(b, "TANH")
    _random_concatenation(b, rng, axis=2)
    _sigmoid(b, "LOGISTIC")
    _random_quantize(b, rng)
    _transpose(b, [0, 1, 3, 2])
    t = b.tensors[b.current]
    out = b.add_tensor(_Tensor("squeezed", (1, *t.shape[2:]), _INT8, list(t.scale), list(t.zero_point)))
    b.ops.append(_Op("SQUEEZE", [b.current], [out], {"squeeze_dims": [1]}))
    b.current = out
    _random_strided_slice(b, rng)
    return b.serialize("armlprof operator chain (PAD, SUB, MUL, TANH, CONCATENATION, LOGISTIC, QUANTIZE, TRANSPOSE, "
                       "SQUEEZE, STRIDED_SLICE; seeded)")


def saturating_softmax_tflite() -> bytes:
    """SOFTMAX whose winner gets probability 256/256 (input scale 0.5: differences of 30+ steps give exp ~ 0).

    Pins the bug where TVM's simplifier dropped the clamp to 127 and such a probability wrapped to -128."""
    b = _Builder(0, np.zeros((1, 1)))
    b.current = b.add_tensor(_Tensor("input", (1, 3), _INT8, [0.5], [0]))
    _random_softmax(b, np.random.default_rng(0), beta=1.0)
    return b.serialize("armlprof saturating SOFTMAX model")


_GENERATORS = {"micro_speech": micro_speech_tflite, "person_detect": person_detect_tflite,
               "ops_coverage": ops_coverage_tflite}


def validate(path: Path) -> None:
    """Run the model once in tflite-micro; an ArmlprofError if it does not load or run."""
    try:
        from tflite_micro.python.tflite_micro import runtime

        from armlprof.tflite_verify import verify_tflite

        info = verify_tflite(path.read_bytes(), path.name)
        it = runtime.Interpreter.from_file(str(path))
        for index in range(len(info.inputs)):
            details = it.get_input_details(index)
            it.set_input(np.zeros(details["shape"], dtype=details["dtype"]), index)
        it.invoke()
        for index in range(len(info.outputs)):
            it.get_output(index)
    except Exception as exc:
        raise ArmlprofError(f"generated model {path.name} does not run in tflite-micro ({exc}); "
                            "report this as an armlprof bug") from exc


def builtin_model_path(name: str) -> Path:
    """The generated model `name` (one of BUILTIN_MODELS), written once into ~/.cache/armlprof/models/."""
    if name not in _GENERATORS:
        raise ArmlprofError(f"unknown builtin model '{name}'; builtin models: dense, {', '.join(BUILTIN_MODELS)}")
    base = cache_root() / "models"
    base.mkdir(parents=True, exist_ok=True)
    path = base / f"{name}_v{GENERATOR_VERSION}.tflite"
    if not path.is_file():
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(_GENERATORS[name]())
        validate(tmp)
        tmp.replace(path)
    return path


# ------------------------------------------------------------------ several inputs and outputs (issue 15)
def multi_io_tflite(seed: int = 20240508, tensor_names: bool = True) -> bytes:
    """Two inputs, two outputs: input_a int8 [1,8,8,1] -> CONV_2D 4x3x3 + RELU -> AVERAGE_POOL_2D 8x8 -> RESHAPE
    [1,4]; input_b int8 [1,16] -> FULLY_CONNECTED 16->4; ADD of the two branches (+ RELU) = output 1 "features",
    which also feeds FULLY_CONNECTED 4->3 -> SOFTMAX = output 0 "classes". Output 0 is the last operator and
    output 1 an intermediate tensor a later operator reads, so executors must keep both; the outputs' sizes (3 and
    4 bytes) exercise the packed buffers' padding (armlprof.protocol.io_offsets)."""
    b = _Builder(seed, _calibration_inputs((1, 8, 8, 1), seed))
    b.input((1, 8, 8, 1))
    b.tensors[b.current].name = "input_a"
    input_a = b.current
    b.conv("branch_a/conv", 4, (3, 3), 1, "RELU", depthwise=False)
    b.avgpool("branch_a/pool", 8)
    b.reshape("branch_a/flat", (1, 4))
    branch_a = (b.current, b.x)
    b.current = b.add_tensor(_Tensor("input_b", (1, 16), _INT8, [1.0 / 128], [0]))
    input_b = b.current
    b.x = _calibration_inputs((1, 16), seed + 1)
    b.fully_connected("branch_b/fc", 4)
    b.add("features", branch_a, "RELU")
    features = b.current
    b.fully_connected("head/fc", 3)
    b.softmax("classes")
    b.graph_inputs, b.graph_outputs = [input_a, input_b], [b.current, features]
    return b.serialize("armlprof generated model with two inputs and two outputs (seeded weights)", tensor_names)


BUILTIN_MODELS = (*BUILTIN_MODELS, "multi_io")
_GENERATORS["multi_io"] = multi_io_tflite


# ------------------------------------------------------------------ sequence operators with state (SVDF)
_INT16 = tflite_schema.TENSOR_TYPES["INT16"]


def svdf_random(b: _Builder, rng: np.random.Generator, *, rank: int | None = None, state_type: str | None = None,
                act: str | None = None, batches: int | None = None) -> None:
    """One int8 SVDF on a fresh [batches, input] input: random sizes, rank, fused activation (TFLM's int8 kernel
    ignores it), int16 or int8 time weights and activation state (a variable tensor), and scales that put the
    feature projection and the output at 5-2000 steps (the int8 state: 5-80), so the clamps cut sometimes.
    The scales come from a float run of the same weights over random inputs (the state's history included)."""
    batches = batches or int(rng.integers(1, 3))
    depth, memory = int(rng.integers(1, 24)), int(rng.integers(1, 9))
    rank = rank or int(rng.integers(1, 4))
    units = int(rng.integers(1, 7))
    filters = units * rank
    state_type = state_type or str(rng.choice(["int16", "int8"]))
    act = act or str(rng.choice(["NONE", "RELU"]))
    _random_input(b, rng, (batches, depth))
    t_in = b.tensors[b.current]
    in_scale, in_zp = t_in.scale[0], t_in.zero_point[0]
    wf = rng.integers(-128, 128, (filters, depth)).astype(np.int8)
    wf_scale = _log_uniform(rng, 1e-3, 0.1)
    t_max = 32767 if state_type == "int16" else 127
    wt = rng.integers(-t_max, t_max + 1, (filters, memory)).astype(state_type)
    wt_scale = _log_uniform(rng, 1e-5, 1e-2)
    x = rng.integers(-128, 128, (4 * memory, batches, depth)).astype(np.float64) - in_zp
    feature = in_scale * wf_scale * np.einsum("sbi,fi->sbf", x, wf.astype(np.float64))
    state_steps = rng.uniform(5.0, 2000.0) if state_type == "int16" else rng.uniform(5.0, 80.0)
    state_scale = float(np.float32(max(float(feature.std()), 1e-9) / state_steps))
    state_zp = 0 if state_type == "int16" else int(rng.integers(-20, 21))
    windows = np.lib.stride_tricks.sliding_window_view(feature, memory, axis=0)  # [step, batch, filter, slot]
    real_out = np.einsum("wbft,ft->wbf", windows, wt.astype(np.float64) * wt_scale).reshape(
        -1, batches, units, rank).sum(-1)
    bias_scale = float(np.float32(state_scale) * np.float32(wt_scale))
    bias = rng.integers(-2000, 2001, units).astype(np.int32) * int(rng.choice([0, 1, 50]))
    out_scale = float(np.float32(max(float(real_out.std()), 1e-9) / rng.uniform(5.0, 80.0)))
    const = [b.add_tensor(_Tensor("weights_feature", wf.shape, _INT8, [wf_scale], [0], 0, wf.tobytes())),
             b.add_tensor(_Tensor("weights_time", wt.shape, _INT16 if state_type == "int16" else _INT8, [wt_scale],
                                  [0], 0, wt.tobytes())),
             b.add_tensor(_Tensor("bias", (units,), _INT32, [bias_scale], [0], 0, bias.tobytes()))]
    state = b.add_tensor(_Tensor("activation_state", (batches, memory * filters),
                                 _INT16 if state_type == "int16" else _INT8, [state_scale], [state_zp], variable=True))
    out = b.add_tensor(_Tensor("output", (batches, units), _INT8, [out_scale], [int(rng.integers(-80, 81))]))
    b.ops.append(_Op("SVDF", [b.current, *const, state], [out], {"rank": rank, "act": act}))
    b.current = out


def svdf_tflite(seed: int, *, rank: int | None = None, state_type: str | None = None, act: str | None = None,
                batches: int | None = None) -> bytes:
    """A seeded random int8 SVDF model (svdf_random); the keyword arguments pin what the seed would pick."""
    rng = np.random.default_rng([seed, 15])
    b = _Builder(seed, np.zeros((1, 1)))
    svdf_random(b, rng, rank=rank, state_type=state_type, act=act, batches=batches)
    return b.serialize(f"armlprof SVDF model (seed {seed})")


def lstm_random(b: _Builder, rng: np.random.Generator, *, time_major: bool | None = None,
                cell_clip: bool | None = None, batches: int | None = None) -> None:
    """One int8 UNIDIRECTIONAL_SEQUENCE_LSTM (TFLM's integer 8x8->16 kernel: all four gates, no peephole,
    projection or layer norm) on a fresh input: random sizes, time_major either way, per-tensor int8 weights whose
    scales put the gate pre-activations at a few units (sigmoid and tanh in and out of saturation), int32 biases,
    an int8 output state (variable, any zero point) and a power-of-two int16 cell state (variable), a cell clip
    that cuts or none."""
    batches = batches or int(rng.integers(1, 3))
    steps, depth, units = int(rng.integers(1, 6)), int(rng.integers(1, 12)), int(rng.integers(1, 9))
    time_major = bool(rng.integers(0, 2)) if time_major is None else time_major
    clip = (bool(rng.integers(0, 2)) if cell_clip is None else cell_clip)
    shape = (steps, batches, depth) if time_major else (batches, steps, depth)
    _random_input(b, rng, shape)
    in_scale = b.tensors[b.current].scale[0]
    state_scale = float(np.float32(_log_uniform(rng, 1 / 160, 1 / 60)))
    state_zp = int(rng.integers(-40, 41))
    cell_scale = float(2.0 ** -int(rng.integers(9, 14)))
    gate_std = rng.uniform(0.5, 6.0)  # real units at the nonlinearity's input

    def weights(name: str, cols: int, x_scale: float) -> int:
        w = rng.integers(-127, 128, (units, cols)).astype(np.int8)
        scale = float(np.float32(gate_std / (x_scale * 70.0 * 74.0 * np.sqrt(cols))))
        return b.add_tensor(_Tensor(name, (units, cols), _INT8, [scale], [0], 0, w.tobytes()))

    gates = ("input", "forget", "cell", "output")
    w_in = [weights(f"{g}_input_weights", depth, in_scale) for g in gates]
    w_rec = [weights(f"{g}_recurrent_weights", units, state_scale) for g in gates]
    biases = []
    for g, w in zip(gates, w_in, strict=True):
        bias_scale = float(np.float32(in_scale) * np.float32(b.tensors[w].scale[0]))
        bias = (rng.normal(0, 1.0, units) / bias_scale).clip(-2e9, 2e9).astype(np.int32)
        biases.append(b.add_tensor(_Tensor(f"{g}_bias", (units,), _INT32, [bias_scale], [0], 0, bias.tobytes())))
    h = b.add_tensor(_Tensor("output_state", (batches, units), _INT8, [state_scale], [state_zp], variable=True))
    c = b.add_tensor(_Tensor("cell_state", (batches, units), _INT16, [cell_scale], [0], variable=True))
    out_shape = (steps, batches, units) if time_major else (batches, steps, units)
    out = b.add_tensor(_Tensor("output", out_shape, _INT8, [state_scale], [state_zp]))
    inputs = [b.current, *w_in, *w_rec, -1, -1, -1, *biases, -1, -1, h, c, -1, -1, -1, -1]
    options = {"act": "TANH", "time_major": time_major,
               "cell_clip": float(np.float32(cell_scale * rng.integers(2000, 30000))) if clip else 0.0}
    b.ops.append(_Op("UNIDIRECTIONAL_SEQUENCE_LSTM", inputs, [out], options))
    b.current = out


def lstm_tflite(seed: int, *, time_major: bool | None = None, cell_clip: bool | None = None,
                batches: int | None = None) -> bytes:
    """A seeded random int8 UNIDIRECTIONAL_SEQUENCE_LSTM model (lstm_random); keywords pin what the seed picks."""
    rng = np.random.default_rng([seed, 16])
    b = _Builder(seed, np.zeros((1, 1)))
    lstm_random(b, rng, time_major=time_major, cell_clip=cell_clip, batches=batches)
    return b.serialize(f"armlprof UNIDIRECTIONAL_SEQUENCE_LSTM model (seed {seed})")


# ------------------------------------------------------------------ int16x8 models (issue 15)
# TFLite's "16x8" quantization: int16 activations (zero point 0), int8 weights, int64 biases (int32 allowed).
_INT64 = tflite_schema.TENSOR_TYPES["INT64"]
_NP_TYPES = {_INT32: np.int32, _INT64: np.int64}
_INPUT_STD = {_INT8: 73.0, _INT16: 18918.0}  # the std of q - zero point for uniform random inputs, about
INT16X8_OPERATORS = ("CONV_2D", "FULLY_CONNECTED", "ADD", "DEPTHWISE_CONV_2D", "SUB", "PAD", "STRIDED_SLICE",
                     "TRANSPOSE_CONV")


def _bias_type(rng: np.random.Generator, activation_type: int, int32_allowed: bool = True) -> int:
    """int32 for int8 models (no random draw: the int8 generators stay as they were); int16x8: int64 mostly, the
    int32 bias TFLM's CONV_2D and FULLY_CONNECTED also take (an int32 accumulator) one time in four."""
    if activation_type != _INT16:
        return _INT32
    return _INT32 if int32_allowed and rng.random() < 0.25 else _INT64


def _random_int16_output(b: _Builder, rng: np.random.Generator, name: str, shape: tuple[int, ...],
                         real_std: float, act: str) -> int:
    """An int16 output (zero point 0) with the float std at 50 to 20,000 steps: the largest values saturate at
    +-32767, RELU6 / RELU_N1_TO_1 clamps cut inside the range."""
    scale = float(np.float32(max(real_std, 1e-12) / rng.uniform(50.0, 20000.0)))
    if act in ("RELU_N1_TO_1", "RELU6"):
        bound = 1.0 if act == "RELU_N1_TO_1" else 6.0
        scale = min(scale, float(np.float32(bound / rng.uniform(100.0, 30000.0))))
    return b.add_tensor(_Tensor(name, shape, _INT16, [scale], [0]))


def _int16_constant(b: _Builder, rng: np.random.Generator, shape: tuple[int, ...]) -> None:
    values = rng.integers(-32768, 32768, size=shape).astype(np.int16)
    b.current = b.add_tensor(_Tensor("constant", shape, _INT16, [_log_uniform(rng, 1e-6, 1e-2)], [0], 0,
                                     values.tobytes()))


def _quantize_to(b: _Builder, rng: np.random.Generator, dtype: int) -> None:
    """QUANTIZE int8 -> int16 (a scale 2^-9 to 2^-6 of the int8 one: the largest inputs saturate) or int16 -> int8
    (2^4 to 2^9 times the int16 scale, any zero point)."""
    t_in = b.tensors[b.current]
    if dtype == _INT16:
        scale, zp = float(t_in.scale[0]) * 2.0 ** rng.uniform(-9.0, -6.0), 0
    else:
        scale, zp = float(t_in.scale[0]) * 2.0 ** rng.uniform(4.0, 9.0), int(rng.integers(-64, 65))
    out = b.add_tensor(_Tensor("quantized", t_in.shape, dtype, [float(np.float32(scale))], [zp]))
    b.ops.append(_Op("QUANTIZE", [b.current], [out]))
    b.current = out


def _int16_input(b: _Builder, rng: np.random.Generator, shape: tuple[int, ...], int8_io: bool) -> None:
    """The model input: int16, or int8 then QUANTIZE to int16."""
    if int8_io:
        _random_input(b, rng, shape)
        _quantize_to(b, rng, _INT16)
    else:
        b.current = b.add_tensor(_Tensor("input", shape, _INT16, [_log_uniform(rng, 1e-5, 1e-2)], [0]))


# The int8 generators, which follow their input's type (the int16 ones: _random_int16_output, _bias_type).
_INT16X8_BUILDERS = {"CONV_2D": lambda b, rng: _random_conv(b, rng, depthwise=False),
                     "DEPTHWISE_CONV_2D": lambda b, rng: _random_conv(b, rng, depthwise=True),
                     "FULLY_CONNECTED": _random_fully_connected, "ADD": lambda b, rng: _random_add(b, rng, "ADD"),
                     "SUB": lambda b, rng: _random_add(b, rng, "SUB"), "PAD": _random_pad,
                     "STRIDED_SLICE": _random_strided_slice, "TRANSPOSE_CONV": _random_transpose_conv}


def random_int16x8_tflite(kind: str, seed: int, int8_io: bool | None = None) -> bytes:
    """One int16x8 `kind` operator (INT16X8_OPERATORS) with seeded random shapes and quantization (as
    random_operator_tflite: per-channel/per-tensor weights, SAME/VALID, strides, dilations, clamping activations;
    int64 or int32 bias). Model I/O: int16, or (int8_io, default for odd seeds) int8 with QUANTIZE int8 -> int16
    before and int16 -> int8 after."""
    if kind not in INT16X8_OPERATORS:
        raise ArmlprofError(f"no int16x8 model generator for {kind}; choose one of {', '.join(INT16X8_OPERATORS)}")
    int8_io = seed % 2 == 1 if int8_io is None else int8_io
    rng = np.random.default_rng([seed, 1000 + INT16X8_OPERATORS.index(kind)])
    b = _Builder(seed, np.zeros((1, 1)))
    if kind == "FULLY_CONNECTED":
        _int16_input(b, rng, (int(rng.integers(1, 3)), int(rng.integers(1, 40))), int8_io)
    else:
        _int16_input(b, rng, (1, int(rng.integers(2, 10)), int(rng.integers(2, 10)), int(rng.integers(1, 5))),
                     int8_io)
    _INT16X8_BUILDERS[kind](b, rng)
    if int8_io:
        _quantize_to(b, rng, _INT8)
    return b.serialize(f"armlprof random int16x8 {kind} model (seed {seed}, {'int8' if int8_io else 'int16'} I/O)")


def int16x8_tflite(seed: int = 20240514) -> bytes:
    """`builtin:int16x8`: int8 input [1,6,6,2] -> QUANTIZE to int16 -> CONV_2D and DEPTHWISE_CONV_2D (int16x8, random
    kernels, strides, padding) -> residual ADD -> RESHAPE -> FULLY_CONNECTED -> int16 output: every int16x8
    operator, both I/O types, random quantization."""
    rng = np.random.default_rng(seed)
    b = _Builder(seed, np.zeros((1, 1)))
    _int16_input(b, rng, (1, 6, 6, 2), int8_io=True)
    _random_conv(b, rng, depthwise=False)
    _random_conv(b, rng, depthwise=True)
    _random_add(b, rng)
    t = b.tensors[b.current]
    b.x = np.zeros((1, *t.shape[1:]))
    b.reshape("flat", (1, int(np.prod(t.shape))))
    b.tensors[b.current].dtype = _INT16
    _random_fully_connected(b, rng)
    return b.serialize("armlprof int16x8 chain (QUANTIZE, CONV_2D, DEPTHWISE_CONV_2D, ADD, RESHAPE, FULLY_CONNECTED; "
                       "seeded)")


BUILTIN_MODELS = (*BUILTIN_MODELS, "int16x8")
_GENERATORS["int16x8"] = int16x8_tflite
