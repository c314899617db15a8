"""Integer operator definitions in TVM TE, one builder per TFLite operator, reproducing TFLM's reference kernels.

Each builder returns a `Kernel`: a TE-derived TIR PrimFunc whose parameters are the activation inputs, then the
constant arrays (weights, int32 bias, per-channel multipliers/shifts, softmax tables), then the output. Scalar
quantization parameters (zero points, activation bounds) are baked into the code as TFLM would hold them in
its op data; per-channel arrays stay `const` data in flash. Accumulation is int32 (int64 inside the
requantization), activations and weights int8 — no floating point anywhere in the generated code. The int16x8
operators (importer.INT16X8_OPERATORS) take int16 activations along TFLM's int16 paths: the convolutions and
FULLY_CONNECTED with an int64 accumulator and requantization (an int32 one for an int32 bias), ADD/SUB with a left
shift of 15, QUANTIZE int8 <-> int16, PAD and STRIDED_SLICE moving int16 elements, int16 clamps.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from armlprof.errors import ArmlprofError
from armlprof.runtime.tvm import fixedpoint as fp
from armlprof.runtime.tvm.importer import Graph, Operator, Tensor


@dataclass
class Kernel:
    kind: str  # TFLite operator name (or COPY)
    func: object  # tvm.tirx.PrimFunc, scheduled
    inputs: list[int]  # activation tensor indices, in parameter order
    constants: list[tuple[str, np.ndarray]]  # (role, data) after the activations
    output: int
    macs: int = 0
    attrs: dict = field(default_factory=dict)


# ---------------------------------------------------------------- TIR fixed-point helpers
def _tir():
    from tvm import tirx

    return tirx


def _c32(v: int):
    return _tir().const(int(v), "int32")


def _c64(v: int):
    return _tir().const(int(v), "int64")


def _fixedpoint_call(name: str, *args):
    """A call of one of armlprof_tvm.h's static inline fixed-point functions (gemmlowp's, bit for bit).

    Opaque on purpose: TVM's arithmetic analysis both chokes on these expressions inlined (RewriteSimplifier
    entering a constraint per nested Select: minutes per ADD kernel) and gets their bounds wrong (it proves
    `x >> (35 - clz)` lies in [-1, 0] and then drops SOFTMAX's clamp to 127). An extern call has the full int32
    range, so every clamp after it stays; gcc inlines it and folds constant arguments as before."""
    t = _tir()
    return t.call_pure_extern("int32", name, *[a if not isinstance(a, int) else _c32(a) for a in args])


def srdhm(a, b):
    """SaturatingRoundingDoublingHighMul (saturating case included)."""
    return _fixedpoint_call("armlprof_srdhm", a, b)


def rdbpot(x, exponent):
    """RoundingDivideByPOT with a constant (int) or run-time (int32 expr) exponent in [0, 31]."""
    if isinstance(exponent, int) and exponent == 0:
        return x
    return _fixedpoint_call("armlprof_rdbpot", x, exponent)


def saturating_shift_left(x, exponent: int):
    """gemmlowp SaturatingRoundingMultiplyByPOT with a positive constant exponent."""
    return _fixedpoint_call("armlprof_saturating_shift_left", x, exponent)


def requantize(acc, multiplier, shift, *, any_left_shift: bool):
    """MultiplyByQuantizedMultiplier(acc, multiplier, shift) with run-time per-channel multiplier/shift."""
    if not any_left_shift:  # every shift <= 0: skip the left-shift multiply (as before; the result is the same)
        return _fixedpoint_call("armlprof_mbqm_right", acc, multiplier, shift)
    return _fixedpoint_call("armlprof_mbqm", acc, multiplier, shift)


def requantize_const(acc, multiplier: int, shift: int):
    return _fixedpoint_call("armlprof_mbqm", acc, multiplier, shift)


def requantize_accumulator(acc, multiplier, shift, acc_dtype: str, any_left_shift: bool):
    """`requantize` of an int32 accumulator, or MultiplyByQuantizedMultiplier(int64_t acc, ...) of an int16x8
    CONV_2D / FULLY_CONNECTED's int64 one."""
    if acc_dtype == "int64":
        return _fixedpoint_call("armlprof_mbqm64", acc, multiplier, shift)
    return requantize(acc, multiplier, shift, any_left_shift=any_left_shift)


def clamp_to(x, lo: int, hi: int, dtype: str):
    t = _tir()
    return t.max(t.min(x, _c32(hi)), _c32(lo)).astype(dtype)


def clamp_to_int8(x, lo: int, hi: int):
    return clamp_to(x, lo, hi, "int8")


def _accumulator_dtype(t_in: Tensor, t_b: Tensor | None) -> str:
    """int32 for int8 activations; int16x8: int32 for an int32 bias, else int64 (TFLM's int64 accumulator for an
    int64 bias, none, or TRANSPOSE_CONV's int16 bias widened to int64)."""
    if t_in.dtype == "int8":
        return "int32"
    return "int32" if t_b is not None and t_b.dtype == "int32" else "int64"


def _check_int64_shifts(kind: str, shifts: np.ndarray) -> None:
    if (shifts > 7).any():  # 15 - shift must stay a right shift (TFLM assumes shift < 8)
        raise ArmlprofError(f"int16x8 {kind} with an effective scale of 2^{int(shifts.max())} or more (TFLM's int64 "
                            "requantization assumes less than 2^8); re-export the model")


# ---------------------------------------------------------------- parameter derivation (TFLM *_common.cc)
def conv_multipliers(inp: Tensor, weights: Tensor, out: Tensor, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """PopulateConvolutionQuantizationParams: effective scale in double from float32 scales, per channel."""
    mults = np.zeros(channels, dtype=np.int32)
    shifts = np.zeros(channels, dtype=np.int32)
    per_channel = weights.scale.size > 1
    for ch in range(channels):
        filter_scale = float(weights.scale[ch if per_channel else 0])
        effective = float(inp.scale[0]) * filter_scale / float(out.scale[0])
        mults[ch], shifts[ch] = fp.quantize_multiplier(effective)
    return mults, shifts


def fc_multipliers(inp: Tensor, weights: Tensor, out: Tensor, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-tensor FC: GetQuantizedConvolutionMultipler multiplies the two float32 scales in float32 first."""
    if weights.scale.size > 1:
        return conv_multipliers(inp, weights, out, channels)
    product = float(np.float32(inp.scale[0]) * np.float32(weights.scale[0]))
    m, s = fp.quantize_multiplier(product / float(out.scale[0]))
    return np.full(channels, m, dtype=np.int32), np.full(channels, s, dtype=np.int32)


def _padding(padding: str, stride: int, dilation: int, in_size: int, filter_size: int, out_size: int) -> int:
    effective = (filter_size - 1) * dilation + 1
    expected = (in_size + stride - 1) // stride if padding == "SAME" else (in_size + stride - effective) // stride
    if expected != out_size:
        raise ArmlprofError(f"inconsistent {padding} output size {out_size} (expected {expected}); "
                            "re-export the model")
    return max(((out_size - 1) * stride + effective - in_size) // 2, 0)


def _schedule_fused(func, producer: str, consumer: str):
    """Compute the int32 accumulator per output element inside the requantizing loop nest (no big buffer)."""
    from tvm import s_tir

    sch = s_tir.Schedule(func)
    acc = sch.get_sblock(producer)
    out = sch.get_sblock(consumer)
    sch.compute_at(acc, sch.get_loops(out)[-1])
    loops = sch.get_loops(acc)
    n_outer = len(sch.get_loops(out))
    if len(loops) > n_outer:
        sch.decompose_reduction(acc, loops[n_outer])
    return sch.mod["main"]


def _window_index(pos, stride: int, pad: int, k, dilation: int, size: int):
    t = _tir()
    raw = pos * stride - pad + k * dilation
    valid = t.all(raw >= 0, raw < size)
    return raw, valid, t.max(t.min(raw, size - 1), 0)


# ---------------------------------------------------------------- builders
@dataclass
class _ConvQuantization:
    """What CONV_2D, DEPTHWISE_CONV_2D and TRANSPOSE_CONV share: TFLM's per-channel requantization set-up and the
    placeholders of the input, weights, bias, multiplier and shift (in the PrimFunc's parameter order)."""

    in_off: int
    out_zp: int
    lo: int
    hi: int
    acc_dtype: str  # "int32", or "int64" for int16x8 with an int64 bias
    out_dtype: str  # "int8" | "int16"
    mults: np.ndarray
    shifts: np.ndarray
    bias: np.ndarray
    inp: object
    wt: object
    b: object
    m: object
    s: object

    def widen(self, product):
        """A tap's int32 product as the accumulator sums it (int16 x int8 products fit int32; TFLM sums in int64)."""
        return product if self.acc_dtype == "int32" else product.astype(self.acc_dtype)


def _conv_quantization(t_in: Tensor, t_w: Tensor, t_b: Tensor | None, t_out: Tensor, activation: str,
                       oc: int) -> _ConvQuantization:
    from tvm import te

    lo, hi = fp.activation_range(activation, float(t_out.scale[0]), int(t_out.zero_point[0]), t_out.dtype)
    mults, shifts = conv_multipliers(t_in, t_w, t_out, oc)
    acc_dtype = _accumulator_dtype(t_in, t_b)
    if acc_dtype == "int64":
        _check_int64_shifts("convolution", shifts)
    bias = t_b.data.astype(acc_dtype) if t_b is not None else np.zeros(oc, dtype=acc_dtype)
    return _ConvQuantization(-int(t_in.zero_point[0]), int(t_out.zero_point[0]), lo, hi, acc_dtype, t_out.dtype,
                             mults, shifts, bias,
                             te.placeholder(t_in.shape, t_in.dtype, name="input"),
                             te.placeholder(t_w.shape, "int8", name="weights"),
                             te.placeholder((oc,), acc_dtype, name="bias"),
                             te.placeholder((oc,), "int32", name="multiplier"),
                             te.placeholder((oc,), "int32", name="shift"))


def _conv_kernel(op: Operator, q: _ConvQuantization, acc, t_w: Tensor, input_index: int, macs: int) -> Kernel:
    """The requantizing output stage over the int32 accumulator `acc` (NHWC), fused, and the Kernel around it."""
    from tvm import te

    any_left = bool((q.shifts > 0).any())
    out = te.compute(acc.shape, lambda nn, yy, xx, och: clamp_to(requantize_accumulator(
        acc[nn, yy, xx, och] + q.b[och], q.m[och], q.s[och], q.acc_dtype, any_left) + _c32(q.out_zp),
        q.lo, q.hi, q.out_dtype), name="out")
    func = _schedule_fused(te.create_prim_func([q.inp, q.wt, q.b, q.m, q.s, out]), "acc", "out")
    consts = [("weights", t_w.data), ("bias", q.bias), ("multiplier", q.mults), ("shift", q.shifts)]
    return Kernel(op.kind, func, [input_index], consts, op.outputs[0], macs)


def build_conv(graph: Graph, op: Operator, depthwise: bool) -> Kernel:
    from tvm import te, tirx

    t_in, t_w = graph.tensors[op.inputs[0]], graph.tensors[op.inputs[1]]
    t_b = graph.tensors[op.inputs[2]] if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
    t_out = graph.tensors[op.outputs[0]]
    o = op.options
    n, h, w, c = t_in.shape
    _, oh, ow, oc = t_out.shape
    if depthwise:
        _, kh, kw, _ = t_w.shape
        mult = oc // c
    else:
        _, kh, kw, _ = t_w.shape
    pad_t = _padding(o["padding"], o["stride_h"], o["dilation_h"], h, kh, oh)
    pad_l = _padding(o["padding"], o["stride_w"], o["dilation_w"], w, kw, ow)
    q = _conv_quantization(t_in, t_w, t_b, t_out, o["activation"], oc)
    inp, wt = q.inp, q.wt
    ky = te.reduce_axis((0, kh), "ky")
    kx = te.reduce_axis((0, kw), "kx")
    padded = pad_t > 0 or pad_l > 0 or (oh - 1) * o["stride_h"] + (kh - 1) * o["dilation_h"] >= h \
        or (ow - 1) * o["stride_w"] + (kw - 1) * o["dilation_w"] >= w

    def term(nn, yy, xx, ch, wval):
        _, vy, iy = _window_index(yy, o["stride_h"], pad_t, ky, o["dilation_h"], h)
        _, vx, ix = _window_index(xx, o["stride_w"], pad_l, kx, o["dilation_w"], w)
        if not padded:
            iy = yy * o["stride_h"] - pad_t + ky * o["dilation_h"]
            ix = xx * o["stride_w"] - pad_l + kx * o["dilation_w"]
        val = q.widen((inp[nn, iy, ix, ch].astype("int32") + _c32(q.in_off)) * wval.astype("int32"))
        return tirx.if_then_else(tirx.all(vy, vx), val, tirx.const(0, q.acc_dtype)) if padded else val

    if depthwise:
        acc = te.compute((n, oh, ow, oc), lambda nn, yy, xx, och: te.sum(
            term(nn, yy, xx, och // mult, wt[0, ky, kx, och]), axis=[ky, kx]), name="acc")
        macs = n * oh * ow * oc * kh * kw
    else:
        rc = te.reduce_axis((0, c), "rc")
        acc = te.compute((n, oh, ow, oc), lambda nn, yy, xx, och: te.sum(
            term(nn, yy, xx, rc, wt[och, ky, kx, rc]), axis=[ky, kx, rc]), name="acc")
        macs = n * oh * ow * oc * kh * kw * c
    return _conv_kernel(op, q, acc, t_w, op.inputs[0], macs)


def build_transpose_conv(graph: Graph, op: Operator) -> Kernel:
    """int8 TRANSPOSE_CONV (TFLM reference_integer_ops::TransposeConv), per-channel or per-tensor weights.

    TFLM scatters each input element into the outputs it touches; here each output gathers the inputs that touch
    it (out = in * stride - pad + k, so in = (out + pad - k) / stride where that divides), the same int32 sum.
    The padding is TFLM's: that of a forward convolution from the output size back to the input."""
    from tvm import te, tirx

    t_w, t_in = graph.tensors[op.inputs[1]], graph.tensors[op.inputs[2]]
    t_b = graph.tensors[op.inputs[3]] if len(op.inputs) > 3 and op.inputs[3] >= 0 else None
    t_out = graph.tensors[op.outputs[0]]
    o = op.options
    if t_w.data is None or o["padding"] not in ("SAME", "VALID"):
        raise ArmlprofError("TRANSPOSE_CONV with run-time weights or unknown padding; use --runtime tflm")
    if np.any(t_w.zero_point != 0):
        raise ArmlprofError("TRANSPOSE_CONV with asymmetric weights (TFLM ignores the weight zero point); "
                            "re-export the model")
    n, h, w, c = t_in.shape
    oc, kh, kw, _ = t_w.shape
    _, oh, ow, _ = t_out.shape
    sh, sw = o["stride_h"], o["stride_w"]

    def pad(out_size: int, k: int, stride: int) -> int:  # ComputePaddingHeightWidth on the output size
        conv_out = (out_size + stride - 1) // stride if o["padding"] == "SAME" else (out_size + stride - k) // stride
        return max((conv_out - 1) * stride + k - out_size, 0) // 2

    pad_h, pad_w = pad(oh, kh, sh), pad(ow, kw, sw)
    q = _conv_quantization(t_in, t_w, t_b, t_out, o["activation"], oc)
    inp, wt = q.inp, q.wt
    ky = te.reduce_axis((0, kh), "ky")
    kx = te.reduce_axis((0, kw), "kx")
    rc = te.reduce_axis((0, c), "rc")

    def source(pos, p: int, k, stride: int, size: int):
        t = pos + p - k
        valid = tirx.all(t >= 0, tirx.floormod(t, stride) == 0, tirx.floordiv(t, stride) < size)
        return valid, tirx.max(tirx.min(tirx.floordiv(t, stride), size - 1), 0)

    def term(nn, yy, xx, och):
        vy, iy = source(yy, pad_h, ky, sh, h)
        vx, ix = source(xx, pad_w, kx, sw, w)
        val = q.widen((inp[nn, iy, ix, rc].astype("int32") + _c32(q.in_off)) * wt[och, ky, kx, rc].astype("int32"))
        return tirx.if_then_else(tirx.all(vy, vx), val, tirx.const(0, q.acc_dtype))

    acc = te.compute((n, oh, ow, oc), lambda nn, yy, xx, och: te.sum(term(nn, yy, xx, och), axis=[ky, kx, rc]),
                     name="acc")
    return _conv_kernel(op, q, acc, t_w, op.inputs[2], n * h * w * c * kh * kw * oc)


def build_fully_connected(graph: Graph, op: Operator) -> Kernel:
    from tvm import te

    t_in, t_w = graph.tensors[op.inputs[0]], graph.tensors[op.inputs[1]]
    t_b = graph.tensors[op.inputs[2]] if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
    t_out = graph.tensors[op.outputs[0]]
    units, depth = t_w.shape
    batches = int(np.prod(t_in.shape)) // depth
    in_off = -int(t_in.zero_point[0])
    w_off = -int(t_w.zero_point[0])
    out_zp = int(t_out.zero_point[0])
    lo, hi = fp.activation_range(op.options["activation"], float(t_out.scale[0]), out_zp, t_out.dtype)
    mults, shifts = fc_multipliers(t_in, t_w, t_out, units)
    acc_dtype = _accumulator_dtype(t_in, t_b)
    if acc_dtype == "int64":
        _check_int64_shifts("FULLY_CONNECTED", shifts)
    bias = t_b.data.astype(acc_dtype) if t_b is not None else np.zeros(units, dtype=acc_dtype)

    inp = te.placeholder((batches, depth), t_in.dtype, name="input")
    wt = te.placeholder((units, depth), "int8", name="weights")
    b = te.placeholder((units,), acc_dtype, name="bias")
    m = te.placeholder((units,), "int32", name="multiplier")
    s = te.placeholder((units,), "int32", name="shift")
    k = te.reduce_axis((0, depth), "k")

    def product(i, j):
        val = (inp[i, k].astype("int32") + _c32(in_off)) * (wt[j, k].astype("int32") + _c32(w_off))
        return val if acc_dtype == "int32" else val.astype(acc_dtype)

    acc = te.compute((batches, units), lambda i, j: te.sum(product(i, j), axis=k), name="acc")
    any_left = bool((shifts > 0).any())
    out = te.compute((batches, units), lambda i, j: clamp_to(requantize_accumulator(
        acc[i, j] + b[j], m[j], s[j], acc_dtype, any_left) + _c32(out_zp), lo, hi, t_out.dtype), name="out")
    func = _schedule_fused(te.create_prim_func([inp, wt, b, m, s, out]), "acc", "out")
    consts = [("weights", t_w.data), ("bias", bias), ("multiplier", mults), ("shift", shifts)]
    return Kernel(op.kind, func, [op.inputs[0]], consts, op.outputs[0], batches * units * depth)


def build_pool(graph: Graph, op: Operator, average: bool) -> Kernel:
    from tvm import te, tirx

    t_in, t_out = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
    o = op.options
    n, h, w, c = t_in.shape
    _, oh, ow, _ = t_out.shape
    kh, kw = o["filter_h"], o["filter_w"]
    pad_t = _padding(o["padding"], o["stride_h"], 1, h, kh, oh)
    pad_l = _padding(o["padding"], o["stride_w"], 1, w, kw, ow)
    lo, hi = fp.activation_range(o["activation"], float(t_out.scale[0]), int(t_out.zero_point[0]))
    inp = te.placeholder(t_in.shape, "int8", name="input")
    ky = te.reduce_axis((0, kh), "ky")
    kx = te.reduce_axis((0, kw), "kx")

    def window(nn, yy, xx, ch, fill):
        _, vy, iy = _window_index(yy, o["stride_h"], pad_t, ky, 1, h)
        _, vx, ix = _window_index(xx, o["stride_w"], pad_l, kx, 1, w)
        return tirx.if_then_else(tirx.all(vy, vx), inp[nn, iy, ix, ch].astype("int32"), _c32(fill))

    if average:
        acc = te.compute((n, oh, ow, c), lambda nn, yy, xx, ch: te.sum(window(nn, yy, xx, ch, 0), axis=[ky, kx]),
                         name="acc")

        def extent(pos, stride, pad, k, size):
            origin = pos * stride - pad
            return tirx.min(_c32(k), size - origin) - tirx.max(_c32(0), _c32(0) - origin)

        def average_of(nn, yy, xx, ch):
            count = extent(yy, o["stride_h"], pad_t, kh, h) * extent(xx, o["stride_w"], pad_l, kw, w)
            a = acc[nn, yy, xx, ch]
            half = tirx.truncdiv(count, _c32(2))
            return tirx.Select(a > _c32(0), tirx.truncdiv(a + half, count), tirx.truncdiv(a - half, count))

        out = te.compute((n, oh, ow, c), lambda *i: clamp_to_int8(average_of(*i), lo, hi), name="out")
    else:
        acc = te.compute((n, oh, ow, c), lambda nn, yy, xx, ch: te.max(window(nn, yy, xx, ch, -128), axis=[ky, kx]),
                         name="acc")
        out = te.compute((n, oh, ow, c), lambda *i: clamp_to_int8(acc[i], lo, hi), name="out")
    func = _schedule_fused(te.create_prim_func([inp, out]), "acc", "out")
    return Kernel(op.kind, func, [op.inputs[0]], [], op.outputs[0], n * oh * ow * c * kh * kw)


@dataclass
class _Operands:
    """An operator's int8 (or int16x8) inputs as TE placeholders: activations become parameters, constant tensors
    `const` data."""

    placeholders: list  # one per input, in the operator's order
    params: list  # activations first, then constants (the PrimFunc order Kernel expects)
    activations: list[int]
    constants: list[tuple[str, np.ndarray]]


def _operands(graph: Graph, indices: list[int], shapes: list[tuple[int, ...]]) -> _Operands:
    from tvm import te

    placeholders, acts, consts, act_ids, const_data = [], [], [], [], []
    dtype = graph.tensors[indices[0]].dtype  # the operator's activation type (int16x8 ADD: int16)
    for k, (idx, shape) in enumerate(zip(indices, shapes, strict=True)):
        t = graph.tensors[idx]
        ph = te.placeholder(shape, dtype, name=f"input{k + 1}")
        placeholders.append(ph)
        if t.is_constant:
            if t.dtype != dtype:
                raise ArmlprofError(f"constant {t.dtype} input '{t.name}' of an {dtype} operator; use --runtime tflm")
            consts.append(ph)
            const_data.append((f"input{k + 1}", np.ascontiguousarray(t.data.reshape(shape))))
        else:
            acts.append(ph)
            act_ids.append(idx)
    if not act_ids:
        raise ArmlprofError("an operator with only constant inputs (fold it before export); use --runtime tflm")
    return _Operands(placeholders, acts + consts, act_ids, const_data)


def _broadcast(graph: Graph, op: Operator):
    """Both inputs of an elementwise op, each padded with leading 1s to the output's rank (TFLite broadcasting)."""
    t_out = graph.tensors[op.outputs[0]]
    rank = len(t_out.shape)
    shapes = [(1,) * (rank - len(graph.tensors[i].shape)) + graph.tensors[i].shape for i in op.inputs[:2]]
    operands = _operands(graph, op.inputs[:2], shapes)

    def pick(k: int, idx):
        return operands.placeholders[k][tuple(0 if d == 1 else i for d, i in zip(shapes[k], idx, strict=True))]

    return operands, pick


def build_add(graph: Graph, op: Operator) -> Kernel:
    """ADD and SUB (TFLM add_common.cc / sub_common.cc: both inputs rescaled to twice the larger scale << 20, or
    << 15 for int16x8, whose general-scale paths in reference_ops are the int8 ones)."""
    from tvm import te

    t1, t2, t_out = (graph.tensors[i] for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
    left_shift = 15 if t_out.dtype == "int16" else 20
    twice_max = 2 * float(max(np.float32(t1.scale[0]), np.float32(t2.scale[0])))
    m1, s1 = fp.quantize_multiplier(float(t1.scale[0]) / twice_max)
    m2, s2 = fp.quantize_multiplier(float(t2.scale[0]) / twice_max)
    mo, so = fp.quantize_multiplier(twice_max / ((1 << left_shift) * float(t_out.scale[0])))
    lo, hi = fp.activation_range(op.options["activation"], float(t_out.scale[0]), int(t_out.zero_point[0]),
                                 t_out.dtype)
    operands, pick = _broadcast(graph, op)
    z1, z2 = int(t1.zero_point[0]), int(t2.zero_point[0])
    sign = -1 if op.kind == "SUB" else 1

    def body(*idx):
        x1 = (pick(0, idx).astype("int32") - _c32(z1)) * _c32(1 << left_shift)
        x2 = (pick(1, idx).astype("int32") - _c32(z2)) * _c32(1 << left_shift)
        scaled2 = requantize_const(x2, m2, s2)
        raw = requantize_const(x1, m1, s1) + (scaled2 if sign > 0 else _c32(0) - scaled2)
        return clamp_to(requantize_const(raw, mo, so) + _c32(int(t_out.zero_point[0])), lo, hi, t_out.dtype)

    out = te.compute(t_out.shape, body, name="out")
    func = te.create_prim_func([*operands.params, out])
    return Kernel(op.kind, func, operands.activations, operands.constants, op.outputs[0], 0)


def build_mul(graph: Graph, op: Operator) -> Kernel:
    """MUL (TFLM mul_common.cc + reference_integer_ops::Mul): one requantization of the offset product."""
    from tvm import te

    t1, t2, t_out = (graph.tensors[i] for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
    m, shift = fp.quantize_multiplier(float(t1.scale[0]) * float(t2.scale[0]) / float(t_out.scale[0]))
    lo, hi = fp.activation_range(op.options["activation"], float(t_out.scale[0]), int(t_out.zero_point[0]))
    operands, pick = _broadcast(graph, op)
    z1, z2, zo = int(t1.zero_point[0]), int(t2.zero_point[0]), int(t_out.zero_point[0])

    def body(*idx):
        product = (pick(0, idx).astype("int32") - _c32(z1)) * (pick(1, idx).astype("int32") - _c32(z2))
        return clamp_to_int8(requantize_const(product, m, shift) + _c32(zo), lo, hi)

    out = te.compute(t_out.shape, body, name="out")
    func = te.create_prim_func([*operands.params, out])
    return Kernel(op.kind, func, operands.activations, operands.constants, op.outputs[0], 0)


def _same_quantization(graph: Graph, op: Operator, indices: list[int]) -> None:
    t_out = graph.tensors[op.outputs[0]]
    for i in indices:
        t = graph.tensors[i]
        if float(t.scale[0]) != float(t_out.scale[0]) or int(t.zero_point[0]) != int(t_out.zero_point[0]):
            raise ArmlprofError(f"{op.kind} input '{t.name}' and output '{t_out.name}' are quantized differently "
                                "(TFLM's int8 kernel requires the same scale and zero point); re-export the model")


def build_pad(graph: Graph, op: Operator) -> Kernel:
    """PAD/PADV2: the input placed in a border of the pad value (the output zero point, or PADV2's constant)."""
    from tvm import te, tirx

    t_in, t_out = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
    _same_quantization(graph, op, [op.inputs[0]])
    paddings = graph.tensors[op.inputs[1]]
    if paddings.data is None:
        raise ArmlprofError("PAD with run-time paddings; use --runtime tflm")
    before = [int(v) for v in paddings.data.reshape(-1, 2)[:, 0]]
    value = int(t_out.zero_point[0])
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        value = int(graph.tensors[op.inputs[2]].data.reshape(-1)[0])
    operands = _operands(graph, [op.inputs[0]], [t_in.shape])
    inp = operands.placeholders[0]

    def body(*idx):
        src = [i - b for i, b in zip(idx, before, strict=True)]
        inside = tirx.all(*[tirx.all(v >= 0, v < n) for v, n in zip(src, t_in.shape, strict=True)])
        clamped = [tirx.max(tirx.min(v, n - 1), 0) for v, n in zip(src, t_in.shape, strict=True)]
        return tirx.if_then_else(inside, inp[tuple(clamped)], tirx.const(value, t_in.dtype))

    out = te.compute(t_out.shape, body, name="out")
    return Kernel(op.kind, te.create_prim_func([*operands.params, out]), operands.activations, operands.constants,
                  op.outputs[0], 0)


def build_concatenation(graph: Graph, op: Operator) -> Kernel:
    """CONCATENATION of int8 tensors with the output's quantization (TFLM's int8 kernel only copies)."""
    from tvm import te, tirx

    t_out = graph.tensors[op.outputs[0]]
    if op.options.get("activation", "NONE") != "NONE":
        raise ArmlprofError("CONCATENATION with a fused activation; use --runtime tflm")
    _same_quantization(graph, op, op.inputs)
    rank = len(t_out.shape)
    axis = op.options["axis"] % rank
    shapes = [graph.tensors[i].shape for i in op.inputs]
    operands = _operands(graph, op.inputs, shapes)
    starts = np.cumsum([0] + [s[axis] for s in shapes]).tolist()

    def body(*idx):
        result = None
        for k in reversed(range(len(shapes))):  # nested selects, first input outermost
            local = list(idx)
            local[axis] = tirx.max(tirx.min(idx[axis] - starts[k], shapes[k][axis] - 1), 0)
            value = operands.placeholders[k][tuple(local)]
            result = value if result is None else tirx.if_then_else(idx[axis] < starts[k + 1], value, result)
        return result

    out = te.compute(t_out.shape, body, name="out")
    return Kernel(op.kind, te.create_prim_func([*operands.params, out]), operands.activations, operands.constants,
                  op.outputs[0], 0)


def build_softmax(graph: Graph, op: Operator) -> Kernel:
    from tvm import te, tirx

    t_in, t_out = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
    if int(t_out.zero_point[0]) != -128 or float(t_out.scale[0]) != 1.0 / 256:
        raise ArmlprofError("SOFTMAX output must be int8 with scale 1/256 and zero point -128 (TFLM's requirement)")
    depth = t_in.shape[-1]
    rows = int(np.prod(t_in.shape)) // depth
    exp_q31, accum = fp.softmax_exp_tables(op.options["beta"], float(t_in.scale[0]))
    x = te.placeholder((rows, depth), "int8", name="input")
    exp_lut = te.placeholder((256,), "int32", name="exp_lut")
    acc_lut = te.placeholder((256,), "int32", name="accum_lut")
    c1 = te.reduce_axis((0, depth), "c1")
    row_max = te.compute((rows,), lambda i: te.max(x[i, c1].astype("int32"), axis=c1), name="row_max")

    def diff_index(i, c):
        return x[i, c].astype("int32") - row_max[i] + _c32(255)

    c2 = te.reduce_axis((0, depth), "c2")
    sum_exps = te.compute((rows,), lambda i: te.sum(acc_lut[diff_index(i, c2)], axis=c2), name="sum_exps")
    k = te.reduce_axis((0, 32), "k")  # count leading zeros of a positive int32 without an intrinsic
    clz = te.compute((rows,), lambda i: te.sum(tirx.Select(
        sum_exps[i].astype("int64") < (_c64(1) << k.var.astype("int64")), _c32(1), _c32(0)), axis=k), name="clz")
    # GetReciprocal + gemmlowp one_over_one_plus_x_for_x_in_0_1, one stage per Newton step (shares subterms).
    half_den = te.compute((rows,), lambda i: tirx.truncdiv(
        ((sum_exps[i].astype("int64") << clz[i].astype("int64")) - _c64(1 << 31) + _c64(fp.INT32_MAX) + _c64(1)),
        _c64(2)).astype("int32"), name="half_denominator")
    xs = [te.compute((rows,), lambda i: _c32(1515870810) + srdhm(half_den[i], _c32(-1010580540)), name="nr0")]
    def newton_step(prev, step):
        return te.compute((rows,), lambda i: prev[i] + saturating_shift_left(
            srdhm(prev[i], _c32(1 << 29) - srdhm(half_den[i], prev[i])), 2), name=f"nr{step + 1}")

    for step in range(3):
        xs.append(newton_step(xs[-1], step))
    last = xs[-1]
    scale = te.compute((rows,), lambda i: saturating_shift_left(last[i], 1), name="reciprocal")

    def out_body(i, c):
        exponent = _c32(fp.SOFTMAX_ACCUMULATION_INTEGER_BITS + 31 - 8) - clz[i]
        raw = rdbpot(srdhm(scale[i], exp_lut[diff_index(i, c)]), exponent)
        return clamp_to_int8(raw + _c32(-128), -128, 127)

    out = te.compute((rows, depth), out_body, name="out")
    func = te.create_prim_func([x, exp_lut, acc_lut, out])
    consts = [("exp_lut", exp_q31), ("accum_lut", accum)]
    return Kernel(op.kind, func, [op.inputs[0]], consts, op.outputs[0], rows * depth)


def build_mean(graph: Graph, op: Operator) -> Kernel:
    """int8 MEAN over constant axes (TFLM reference_ops::QuantizedMeanOrSum): an int32 sum per output, less
    zero point x count, then one MultiplyByQuantizedMultiplier whose multiplier has 1/count folded in."""
    from tvm import te

    t_in, t_out = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
    axes_t = graph.tensors[op.inputs[1]]
    if axes_t.data is None:
        raise ArmlprofError("MEAN with run-time axes; use --runtime tflm")
    rank = len(t_in.shape)
    axes = sorted({int(a) % rank for a in axes_t.data.reshape(-1)})  # ResolveAxis: negative and repeated axes
    keep = op.options.get("keep_dims", False)
    shape = [1 if a in axes else n for a, n in enumerate(t_in.shape) if keep or a not in axes] or [1]
    if int(np.prod(shape)) != int(np.prod(t_out.shape, dtype=np.int64)):
        raise ArmlprofError(f"MEAN output shape {t_out.shape} does not match its axes {axes}; re-export the model")
    count = int(np.prod([t_in.shape[a] for a in axes], dtype=np.int64))
    if count == 0:
        raise ArmlprofError("MEAN over an empty axis; re-export the model")
    m, shift = fp.mean_multiplier(float(t_in.scale[0]), float(t_out.scale[0]), count)
    zp_times_count = int(t_in.zero_point[0]) * count
    inp = te.placeholder(t_in.shape, "int8", name="input")
    reduce_axes = {a: te.reduce_axis((0, t_in.shape[a]), f"r{a}") for a in axes}

    def source(out_idx):
        kept = iter(out_idx)
        idx = []
        for a in range(rank):
            if a in reduce_axes:
                if keep:
                    next(kept)
                idx.append(reduce_axes[a])
            else:
                idx.append(next(kept))
        return tuple(idx)

    acc = te.compute(shape, lambda *i: te.sum(inp[source(i)].astype("int32"), axis=list(reduce_axes.values())),
                     name="acc")
    out = te.compute(shape, lambda *i: clamp_to_int8(
        requantize_const(acc[i] - _c32(zp_times_count), m, shift) + _c32(int(t_out.zero_point[0])), -128, 127),
        name="out")
    func = _schedule_fused(te.create_prim_func([inp, out]), "acc", "out")
    return Kernel(op.kind, func, [op.inputs[0]], [], op.outputs[0], int(np.prod(t_in.shape)))


def requantize_table(input_scale: float, input_zero_point: int, output_scale: float,
                     output_zero_point: int, output_dtype: str = "int8") -> np.ndarray:
    """QUANTIZE of an int8 input (to int8 or int16) per input value: TFLM's reference_ops::Requantize with its
    Prepare's multiplier."""
    m, shift = fp.quantize_multiplier(float(input_scale) / float(output_scale))
    lo, hi = fp.dtype_range(output_dtype)
    return np.array([min(max(fp.multiply_by_quantized_multiplier(q - input_zero_point, m, shift)
                             + output_zero_point, lo), hi) for q in range(-128, 128)], dtype=output_dtype)


def build_requantize_int16(graph: Graph, op: Operator) -> Kernel:
    """QUANTIZE of an int16 input (to int8 or int16): reference_ops::Requantize element by element (65,536 inputs
    make a table too big for flash)."""
    from tvm import te

    t_in, t_out = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
    m, shift = fp.quantize_multiplier(float(t_in.scale[0]) / float(t_out.scale[0]))
    lo, hi = fp.dtype_range(t_out.dtype)
    size = int(np.prod(t_in.shape))
    inp = te.placeholder((size,), "int16", name="input")
    out = te.compute((size,), lambda i: clamp_to(requantize_const(
        inp[i].astype("int32") - _c32(int(t_in.zero_point[0])), m, shift) + _c32(int(t_out.zero_point[0])),
        lo, hi, t_out.dtype), name="out")
    return Kernel(op.kind, te.create_prim_func([inp, out]), [op.inputs[0]], [], op.outputs[0], 0)


def build_table(graph: Graph, op: Operator) -> Kernel:
    """Elementwise int8 -> int8 operators (LOGISTIC, TANH, QUANTIZE, HARD_SWISH): with 256 possible inputs TFLM's
    arithmetic becomes a 256-byte table computed bit-exactly at generation time, and the kernel one load per element."""
    from tvm import te

    t_in, t_out = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
    if op.kind == "QUANTIZE":
        if t_in.dtype == "int16" and t_out.dtype in ("int8", "int16"):
            return build_requantize_int16(graph, op)
        if t_in.dtype != "int8" or t_out.dtype not in ("int8", "int16"):
            raise ArmlprofError(f"QUANTIZE from {t_in.dtype} to {t_out.dtype}; the TVM runtimes convert between "
                                "int8 and int16 only (use --runtime tflm)")
        table = requantize_table(float(t_in.scale[0]), int(t_in.zero_point[0]), float(t_out.scale[0]),
                                 int(t_out.zero_point[0]), t_out.dtype)
    elif op.kind == "HARD_SWISH":
        if fp.hard_swish_params(float(t_in.scale[0]), float(t_out.scale[0]))[1] > 0:
            raise ArmlprofError("HARD_SWISH with an output scale below input scale / 128 (TFLM's kernel rejects "
                                "it); re-export the model")
        table = fp.hard_swish_table(float(t_in.scale[0]), int(t_in.zero_point[0]), float(t_out.scale[0]),
                                    int(t_out.zero_point[0]))
    else:
        if op.kind == "LOGISTIC" and int(t_out.zero_point[0]) != -128:
            raise ArmlprofError("LOGISTIC output must have zero point -128 (TFLM's requirement); re-export the model")
        table = fp.sigmoid_table(op.kind, float(t_in.scale[0]), int(t_in.zero_point[0]))
    size = int(np.prod(t_in.shape))
    inp = te.placeholder((size,), "int8", name="input")
    lut = te.placeholder((256,), str(table.dtype), name="table")  # int16: QUANTIZE int8 -> int16
    out = te.compute((size,), lambda i: lut[inp[i].astype("int32") + _c32(128)], name="out")
    return Kernel(op.kind, te.create_prim_func([inp, lut, out]), [op.inputs[0]], [("table", table)], op.outputs[0],
                  0)


def build_dequantize(graph: Graph, op: Operator) -> Kernel:
    """int8 -> float32 DEQUANTIZE at the model's output: reference_ops::Dequantize's float(scale * (q - zp)) for
    each of the 256 inputs, computed at generation time; the kernel copies each value's 4 little-endian bytes
    (byte stores only: the output buffer need not be word-aligned, and no float code runs on the device)."""
    from tvm import te, tirx

    t_in, t_out = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
    if t_out.dtype != "float32" or t_in.scale.size > 1:
        raise ArmlprofError(f"DEQUANTIZE to {t_out.dtype} or of a per-channel tensor; the TVM runtimes take int8 -> "
                            "float32 per-tensor only (use --runtime tflm)")
    values = np.float64(np.float32(t_in.scale[0])) * (np.arange(-128, 128) - int(t_in.zero_point[0]))
    table = np.ascontiguousarray(values.astype("<f4")).view(np.int8)  # 1024 bytes
    size = int(np.prod(t_in.shape))
    inp = te.placeholder((size,), "int8", name="input")
    lut = te.placeholder((1024,), "int8", name="table")
    out = te.compute((size * 4,), lambda i: lut[(inp[tirx.truncdiv(i, 4)].astype("int32") + _c32(128)) * _c32(4)
                                                 + tirx.truncmod(i, 4)], name="out")
    return Kernel(op.kind, te.create_prim_func([inp, lut, out]), [op.inputs[0]], [("table", table)], op.outputs[0],
                  0)


def build_transpose(graph: Graph, op: Operator) -> Kernel:
    """TRANSPOSE with a constant permutation: out[o] = in[j] with j[perm[i]] = o[i] (bytes only)."""
    from tvm import te

    t_in, t_out = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
    perm_t = graph.tensors[op.inputs[1]]
    if perm_t.data is None:
        raise ArmlprofError("TRANSPOSE with a run-time permutation; use --runtime tflm")
    perm = [int(p) % len(t_in.shape) for p in perm_t.data.reshape(-1)]
    inp = te.placeholder(t_in.shape, "int8", name="input")

    def body(*o):
        j = [None] * len(perm)
        for i, p in enumerate(perm):
            j[p] = o[i]
        return inp[tuple(j)]

    out = te.compute(t_out.shape, body, name="out")
    return Kernel(op.kind, te.create_prim_func([inp, out]), [op.inputs[0]], [], op.outputs[0], 0)


def _slice_start(begin: int, stride: int, size: int, masked: bool) -> int:
    """strided_slice::StartForAxis."""
    start = (-(1 << 31) if stride > 0 else (1 << 31) - 1) if masked else begin
    start = start + size if start < 0 else start
    return min(max(start, 0), size) if stride > 0 else min(max(start, -1), size - 1)


def _slice_stop(end: int, stride: int, size: int, masked: bool) -> int:
    """strided_slice::StopForAxis (shrunk axes are handled by the caller)."""
    stop = ((1 << 31) - 1 if stride > 0 else -(1 << 31)) if masked else end
    stop = stop + size if stop < 0 else stop
    return min(max(stop, 0), size) if stride > 0 else min(max(stop, -1), size - 1)


def build_strided_slice(graph: Graph, op: Operator) -> Kernel:
    """STRIDED_SLICE with constant begin/end/strides, begin/end/shrink masks (TFLM strided_slice_logic.h)."""
    from tvm import te

    t_in, t_out = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
    o = op.options
    if o["ellipsis_mask"] or o["new_axis_mask"] or o["offset"]:
        raise ArmlprofError("STRIDED_SLICE with an ellipsis/new-axis mask or offset; use --runtime tflm")
    if o["shrink_axis_mask"] & (o["begin_mask"] | o["end_mask"]):  # converters never emit it; TFLM's result differs
        raise ArmlprofError("STRIDED_SLICE shrinking an axis that also has a begin/end mask; use --runtime tflm")
    params = [graph.tensors[i].data for i in op.inputs[1:4]]
    if any(p is None for p in params):
        raise ArmlprofError("STRIDED_SLICE with run-time begin/end/strides; use --runtime tflm")
    begin, end, strides = ([int(v) for v in p.reshape(-1)] for p in params)
    if any(strides[a] < 0 for a in range(len(strides)) if o["shrink_axis_mask"] & (1 << a)):
        # TFLM then walks down from start and never meets its stop (start + 1): it reads out of bounds
        raise ArmlprofError("STRIDED_SLICE shrinking an axis with a negative stride; use --runtime tflm")
    starts, kept, shape = [], [], []
    for axis, size in enumerate(t_in.shape):
        stride = strides[axis]
        start = _slice_start(begin[axis], stride, size, bool(o["begin_mask"] & (1 << axis)))
        starts.append(start)
        if o["shrink_axis_mask"] & (1 << axis):
            continue
        stop = _slice_stop(end[axis], stride, size, bool(o["end_mask"] & (1 << axis)))
        kept.append(axis)
        shape.append(max(0, -(-(stop - start) // stride)))
    if tuple(shape) != tuple(t_out.shape):
        raise ArmlprofError(f"STRIDED_SLICE output shape {t_out.shape} does not match its parameters "
                            f"({tuple(shape)}); re-export the model")
    inp = te.placeholder(t_in.shape, t_in.dtype, name="input")  # int8, or int16 (int16x8 models)

    def body(*out_idx):
        idx = list(starts)
        for k, axis in enumerate(kept):
            idx[axis] = starts[axis] + out_idx[k] * strides[axis]
        return inp[tuple(idx)]

    out = te.compute(t_out.shape, body, name="out")
    return Kernel(op.kind, te.create_prim_func([inp, out]), [op.inputs[0]], [], op.outputs[0], 0)


def build_copy(graph: Graph, src: int, dst: int) -> Kernel:
    from tvm import te

    size = graph.tensors[dst].nbytes
    a = te.placeholder((size,), "int8", name="input")
    out = te.compute((size,), lambda i: a[i], name="out")
    return Kernel("COPY", te.create_prim_func([a, out]), [src], [], dst, 0)


def build_kernel(graph: Graph, op: Operator) -> Kernel:
    if op.kind == "CONV_2D":
        return build_conv(graph, op, depthwise=False)
    if op.kind == "DEPTHWISE_CONV_2D":
        return build_conv(graph, op, depthwise=True)
    if op.kind == "FULLY_CONNECTED":
        return build_fully_connected(graph, op)
    if op.kind in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        return build_pool(graph, op, average=op.kind == "AVERAGE_POOL_2D")
    if op.kind in ("ADD", "SUB"):
        return build_add(graph, op)
    if op.kind == "MUL":
        return build_mul(graph, op)
    if op.kind in ("PAD", "PADV2"):
        return build_pad(graph, op)
    if op.kind == "CONCATENATION":
        return build_concatenation(graph, op)
    if op.kind in ("LOGISTIC", "TANH", "QUANTIZE", "HARD_SWISH"):
        return build_table(graph, op)
    if op.kind == "MEAN":
        return build_mean(graph, op)
    if op.kind == "DEQUANTIZE":
        return build_dequantize(graph, op)
    if op.kind == "TRANSPOSE_CONV":
        return build_transpose_conv(graph, op)
    if op.kind == "TRANSPOSE":
        return build_transpose(graph, op)
    if op.kind == "STRIDED_SLICE":
        return build_strided_slice(graph, op)
    if op.kind == "SOFTMAX":
        return build_softmax(graph, op)
    if op.kind in ("SVDF", "UNIDIRECTIONAL_SEQUENCE_LSTM"):  # stateful: TVMScript, not TE
        from armlprof.runtime.tvm import ops_sequence

        return (ops_sequence.build_svdf if op.kind == "SVDF" else ops_sequence.build_lstm)(graph, op)
    raise ArmlprofError(f"no integer kernel for {op.kind}; use --runtime tflm")
