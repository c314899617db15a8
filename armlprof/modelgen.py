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
    def serialize(self, description: str) -> bytes:
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
            name = b.CreateString(t.name)
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
            b.PrependUOffsetTRelativeSlot(3, name, 0)
            if quant is not None:
                b.PrependUOffsetTRelativeSlot(4, quant, 0)
            tensors.append(b.EndObject())
        kinds = list(dict.fromkeys(op.kind for op in self.ops))
        codes = []
        for kind in kinds:
            b.StartObject(4)
            b.PrependInt8Slot(0, min(_OPS[kind], 127), 0)
            b.PrependInt32Slot(2, 1, 1)
            b.PrependInt32Slot(3, _OPS[kind], 0)
            codes.append(b.EndObject())
        operators = []
        for op in self.ops:
            opts = self._options(b, op, ivec)
            ins, outs = ivec(op.inputs), ivec(op.outputs)
            b.StartObject(9)
            b.PrependUint32Slot(0, kinds.index(op.kind), 0)
            b.PrependUOffsetTRelativeSlot(1, ins, 0)
            b.PrependUOffsetTRelativeSlot(2, outs, 0)
            b.PrependUint8Slot(3, _OPTIONS_TYPE[op.kind], 0)
            b.PrependUOffsetTRelativeSlot(4, opts, 0)
            operators.append(b.EndObject())
        t_vec, o_vec = ovec(tensors), ovec(operators)
        in_vec, out_vec = ivec([0]), ivec([self.current])
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
        if op.kind == "CONV_2D":
            b.StartObject(7)
            b.PrependInt8Slot(0, _PAD[o["padding"]], 0)
            b.PrependInt32Slot(1, o["stride"], 0)
            b.PrependInt32Slot(2, o["stride"], 0)
            b.PrependInt8Slot(3, _ACT[o["act"]], 0)
            b.PrependInt32Slot(4, 1, 1)
            b.PrependInt32Slot(5, 1, 1)
        elif op.kind == "DEPTHWISE_CONV_2D":
            b.StartObject(7)
            b.PrependInt8Slot(0, _PAD[o["padding"]], 0)
            b.PrependInt32Slot(1, o["stride"], 0)
            b.PrependInt32Slot(2, o["stride"], 0)
            b.PrependInt32Slot(3, o["depth_multiplier"], 0)
            b.PrependInt8Slot(4, _ACT[o["act"]], 0)
            b.PrependInt32Slot(5, 1, 1)
            b.PrependInt32Slot(6, 1, 1)
        elif op.kind in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
            b.StartObject(6)
            b.PrependInt8Slot(0, _PAD[o["padding"]], 0)
            b.PrependInt32Slot(1, o["stride"], 0)
            b.PrependInt32Slot(2, o["stride"], 0)
            b.PrependInt32Slot(3, o["filter"], 0)
            b.PrependInt32Slot(4, o["filter"], 0)
            b.PrependInt8Slot(5, _ACT[o["act"]], 0)
        elif op.kind == "ADD":
            b.StartObject(2)
            b.PrependInt8Slot(0, _ACT[o["act"]], 0)
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


_GENERATORS = {"micro_speech": micro_speech_tflite, "person_detect": person_detect_tflite,
               "ops_coverage": ops_coverage_tflite}


def validate(path: Path) -> None:
    """Run the model once in tflite-micro; an ArmlprofError if it does not load or run."""
    try:
        from tflite_micro.python.tflite_micro import runtime

        it = runtime.Interpreter.from_file(str(path))
        details = it.get_input_details(0)
        it.set_input(np.zeros(details["shape"], dtype=np.int8), 0)
        it.invoke()
        it.get_output(0)
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
