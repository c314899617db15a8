"""Cortex-M4 DSP schedules: CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED and AVERAGE_POOL_2D as TIR that calls
armlprof's int8 micro-kernel library (c/armlprof_kernels.c) through `T.call_extern`.

Why a hand-written micro-kernel library and not TE schedules: TVM 0.27's C target has no tensorize intrinsics for
the M4's SIMD instructions and its generated loops keep every index computation; the micro-kernel is the part a
tensorize would insert (as microTVM's `cortex_m7` / CMSIS-NN strategies did), and the choice around it (tile over
output channels T, over output pixels P, unroll U, im2col or direct rows; depthwise: tap pairs over channel planes
t3, the staged channel-group kernel r1, or per-pixel row runs / pixel pairs p1 / p2) is the schedule.

What is decided offline, here, from the .tflite: weights packed into the order the inner loop reads them
(`[OC/T][K/4][T]` words, K = KH*KW*IC padded to a multiple of 4, OC padded to a multiple of T, all zero-filled),
the input zero point folded into the bias (sum_k (x+off)*w = sum_k x*w + off*sum_k w; im2col pads with the input
zero point so padding taps still contribute 0), and per-channel (bias, multiplier, left shift, right shift)
interleaved in one int32 array. Both arrays stay `const` (flash). Bit-exact with TFLM's reference kernels.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np

from armlprof.runtime.tvm import fixedpoint as fp
from armlprof.runtime.tvm.importer import Graph, Operator
from armlprof.runtime.tvm.ops import Kernel, _padding, conv_multipliers, fc_multipliers

KERNEL_SOURCES = ("armlprof_kernels.c", "armlprof_kernels.h")
SCHEDULED_OPERATORS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "AVERAGE_POOL_2D")

# The schedule space per operator class; the first entry of each is the default (best hand schedule without
# measurements: 2 pixels x 2 channels keeps the inner loop's 14 live values in registers).
GEMM_VARIANTS = ("t2p2u2", "t2p2u1", "t4p1u2", "t4p2u1", "t4p2u2", "t2p1u2", "t4p1u1", "t2p1u1")
# Depthwise: t3 (3x3 over int16 channel planes, SMLAD on tap pairs; faster than r1 on every person_detect layer on
# both boards) runs r1 for the layers it does not cover. f3 (the default at stride 1) is t3 with the plane
# conversion of a channel group's rows in one block of assembly and, for rows of even width, a channel's taps and
# requantization fused (no accumulator buffer): same planes, same constants, t3's code for the rest; faster than t3
# on every person_detect depthwise layer on both boards (README, per-operator table).
# n3 (few-pixel 3x3 layers: 4 channels of an output pixel per pass, weights and requantization constants in FPU
# registers, a channel group's pixels in one loop; r1 for the layers it does not cover) wins only where the output
# planes are small: the default on stride-1 layers of at most DW_FEW_PIXELS output pixels (_dw_default_first).
# q3 is f3 with its own stride-2 path (dw_q3_block): planes of raw input bytes, a channel pair per word (no int16
# conversion pass), 4 outputs x 2 channels per unit; f3's code for everything else. The fastest on all four stride-2
# layers of person_detect on both boards (README), so the default at stride 2; on stride-1 layers it is f3 plus
# its check (+276 cycles).
DW_VARIANTS = ("f3", "t3", "r1", "p1", "p2", "q3", "n3")
DW_FEW_PIXELS = 9  # person_detect's 3x3-pixel layer: n3 194K cycles, f3 339K on Spresense (111K, 179K nano33ble)
DW_PLANE_VARIANTS = ("t3", "f3", "q3")  # the variants that read dw_t3_block
# One-input-channel convolutions (the first layer of both study models) pad their input once into a stack buffer
# (c1 family, the GEMM tiles over it); larger buffers take the plain GEMM with im2col at the borders.
# 1x1 convolutions at stride 1 without padding and fully connected layers with whole words of input channels
# (pw family) read their GEMM rows in place. Both families have the direct kernel d4 (4 output channels, weights
# sign-extended in a stack stage of STAGE_WORDS, requantization per channel run) and keep it and the GEMM tiles in
# their tuning space. c1 defaults to f4 (3-row kernels at stride 2 along the row: s4's pixel pairs with the group's
# weights and requantization constants in FPU registers; person_detect's first layer 706,762 cycles against s4's
# 971,522 on Spresense, 365,821 / 499,076 on nano33ble), which `build` replaces by s4 where f4 does not run its own
# path (c1_f4_covers; micro_speech's 10x8 kernel): s4 (stride 2 along the row: sliding pixel pairs over an int16
# copy of the padded input, 2 pixels x 4 channels per pass; same packed weights as d4, which it runs for the
# geometries it does not cover).
C1_MAX_PAD_BYTES = 12288
DIRECT_VARIANTS = ("d4", *GEMM_VARIANTS)
C1_VARIANTS = ("f4", "s4", *DIRECT_VARIANTS)
# pw defaults to f4p2: d4p2 (d4's tile widened to 2 output pixels, every loaded word feeding 2 SMLADs, inputs
# sign-extended once per chunk of pixels) with each channel group's weights held in FPU registers per block of 16
# input channels instead of read from a stack stage; faster than d4p2 on every 1x1 layer of person_detect on both
# boards (README, per-operator table; the tuner takes it everywhere), d4p2 faster than d4 everywhere and than the
# GEMM tiles down to its 3x3-pixel layers.
PW_VARIANTS = ("f4p2", "d4p2", "d4", *GEMM_VARIANTS)
# int8 AVERAGE_POOL_2D of whole channel groups: a4 (4 channels per pass summed in int16 lanes with SXTAB16, TFLM's
# rounding division per output); its windows have at most POOL_MAX_TAPS taps (the lanes' exact range), the TE loop
# runs the others. One variant: nothing to tune, a scheduled family so the tuner and the profile name it.
POOL_VARIANTS = ("a4",)
POOL_MAX_TAPS = 255  # AK_POOL_MAX_TAPS in armlprof_kernels.h
STAGE_WORDS = 768  # AK_STAGE_WORDS in armlprof_kernels.c
PW_DIRECT_MIN_PIXELS = 9


@dataclass(frozen=True)
class Geometry:
    """A convolution as the C kernels see it (FULLY_CONNECTED: batches x 1 pixels, 1x1 kernel)."""

    in_h: int
    in_w: int
    in_c: int
    out_h: int
    out_w: int
    out_c: int
    k_h: int = 1
    k_w: int = 1
    s_h: int = 1
    s_w: int = 1
    d_h: int = 1
    d_w: int = 1
    pad_t: int = 0
    pad_l: int = 0

    def as_args(self) -> list[int]:
        return list(vars(self).values())


@dataclass
class Scheduled:
    """What `plan` decides for one operator before TVM sees it."""

    kind: str
    family: str  # "gemm" | "c1" | "pw" | "dw" | "pool"
    geometry: Geometry
    signature: str  # what the tuning records are keyed by (shapes and attributes, not the weights)
    variants: tuple[str, ...]


def fingerprint() -> str:
    """Changes whenever this module or the micro-kernel C changes (part of the Program cache key)."""
    from pathlib import Path

    here = Path(__file__).resolve()
    h = hashlib.sha256(here.read_bytes())
    for name in KERNEL_SOURCES:
        h.update((here.parent / "c" / name).read_bytes())
    return h.hexdigest()[:16]


def variants_for(family: str) -> tuple[str, ...]:
    return {"gemm": GEMM_VARIANTS, "c1": C1_VARIANTS, "pw": PW_VARIANTS, "dw": DW_VARIANTS,
            "pool": POOL_VARIANTS}[family]


def max_variants() -> int:
    """The size of the largest family's schedule space (a full tuning run measures that many candidates)."""
    return max(len(variants_for(f)) for f in ("gemm", "c1", "pw", "dw"))


def family_of_signature(signature: str) -> str:
    """The schedule family of an operator from its signature (kind_family_hash, see `_signature`)."""
    return signature.rsplit("_", 2)[-2]


def c_function(family: str, variant: str) -> str:
    if variant not in variants_for(family):
        raise ValueError(f"unknown {family} variant {variant!r}")
    prefix = {"gemm": "armlprof_conv_s8_", "pw": "armlprof_conv_s8_", "c1": "armlprof_conv1_s8_",
              "dw": "armlprof_dwconv_s8_", "pool": "armlprof_avgpool_s8_"}[family]
    return prefix + variant


def c1_padded_bytes(g: Geometry) -> int:
    """The stack buffer of the c1 kernel: the rows and (word-rounded) columns the output pixels read, kernel rows
    widened to whole words (ak_conv1 in armlprof_kernels.c computes the same)."""
    kw4 = -(-g.k_w // 4) * 4
    return ((g.out_h - 1) * g.s_h + g.k_h) * (-(-((g.out_w - 1) * g.s_w + kw4) // 4) * 4)


def _gemm_family(geom: Geometry) -> str:
    one_channel = geom.in_c == 1 and geom.d_h == 1 and geom.d_w == 1
    k4 = geom.k_h * (-(-geom.k_w // 4))
    fits = c1_padded_bytes(geom) <= C1_MAX_PAD_BYTES and 8 * k4 <= STAGE_WORDS
    if one_channel and fits:
        return "c1"
    in_place = geom.k_h == geom.k_w == 1 and geom.s_h == geom.s_w == 1 and geom.pad_t == geom.pad_l == 0
    return "pw" if in_place and geom.in_c % 4 == 0 and 2 * geom.in_c <= STAGE_WORDS else "gemm"


def _default_first(family: str, geom: Geometry) -> tuple[str, ...]:
    """The family's variants, the default first: on pointwise layers of fewer pixels than person_detect's 3x3
    ones the GEMM tile (the direct kernels' weight staging per 4 channels is then not paid back: its fully
    connected layer, 1 pixel, Spresense 25.1 vs 12.3 cycles per MAC)."""
    variants = variants_for(family)
    if family == "pw" and geom.out_h * geom.out_w < PW_DIRECT_MIN_PIXELS:
        return (*GEMM_VARIANTS, *(v for v in variants if v not in GEMM_VARIANTS))
    return variants


def _dw_default_first(g: Geometry) -> tuple[str, ...]:
    """dw's variants, the default first (benchmarks/schedule_variants.py BOARD person_detect.tflite dw f3,q3,n3):
    q3 at stride 2 (every stride-2 layer faster, both boards; past its own checks it runs f3's code), n3 on
    stride-1 layers of at most DW_FEW_PIXELS output pixels (`build` takes f3 where n3 would leave the layer to r1),
    f3 otherwise."""
    first = "f3"
    if (g.k_h, g.k_w, g.d_h, g.d_w) == (3, 3, 1, 1):
        if g.s_h == g.s_w == 2:
            first = "q3"
        elif g.s_h == g.s_w == 1 and g.out_h * g.out_w <= DW_FEW_PIXELS:
            first = "n3"
    return (first, *(v for v in DW_VARIANTS if v != first))


def _signature(kind: str, family: str, geometry: Geometry, extra: dict) -> str:
    text = json.dumps({"kind": kind, "family": family, **vars(geometry), **extra}, sort_keys=True)
    return f"{kind.lower()}_{family}_{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def plan(graph: Graph, op: Operator) -> Scheduled | None:
    """The schedule family of `op`, or None when the micro-kernels do not cover it (the TE loops run then)."""
    if op.kind not in SCHEDULED_OPERATORS:
        return None
    if op.kind == "AVERAGE_POOL_2D":
        return _plan_pool(graph, op)
    t_in, t_w, t_out = graph.tensors[op.inputs[0]], graph.tensors[op.inputs[1]], graph.tensors[op.outputs[0]]
    if t_w.data is None or t_w.dtype != "int8":
        return None
    if op.kind == "FULLY_CONNECTED":
        if np.any(t_w.zero_point != 0):
            return None  # TFLM's FC applies a weight offset; the micro-kernels assume symmetric weights
        units, depth = t_w.shape
        batches = int(np.prod(t_in.shape)) // depth
        geom = Geometry(batches, 1, depth, batches, 1, units)
        family = _gemm_family(geom)
        return Scheduled(op.kind, family, geom, _signature(op.kind, family, geom, {}), _default_first(family, geom))
    o = op.options
    n, h, w, c = t_in.shape
    _, oh, ow, oc = t_out.shape
    _, kh, kw, _ = t_w.shape
    if n != 1:
        return None
    pad_t = _padding(o["padding"], o["stride_h"], o["dilation_h"], h, kh, oh)
    pad_l = _padding(o["padding"], o["stride_w"], o["dilation_w"], w, kw, ow)
    geom = Geometry(h, w, c, oh, ow, oc, kh, kw, o["stride_h"], o["stride_w"], o["dilation_h"], o["dilation_w"],
                    pad_t, pad_l)
    if op.kind == "DEPTHWISE_CONV_2D":
        if c != 1 and (oc != c or c % 4):
            return None  # depth multiplier > 1 on several channels, or channels not in fours: TE loop
        if c != 1:
            return Scheduled(op.kind, "dw", geom, _signature(op.kind, "dw", geom, {}), _dw_default_first(geom))
        # one input channel (the first layer of both study models): a CONV_2D with the weights transposed
    family = _gemm_family(geom)
    return Scheduled(op.kind, family, geom, _signature(op.kind, family, geom, {}), _default_first(family, geom))


def _plan_pool(graph: Graph, op: Operator) -> Scheduled | None:
    """pool a4 for an int8 average pool of one image, channels in fours, windows within POOL_MAX_TAPS."""
    t_in, t_out = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
    o = op.options
    n, h, w, c = t_in.shape
    _, oh, ow, _ = t_out.shape
    kh, kw = o["filter_h"], o["filter_w"]
    if t_in.dtype != "int8" or n != 1 or c % 4 or kh * kw > POOL_MAX_TAPS:
        return None
    pad_t = _padding(o["padding"], o["stride_h"], 1, h, kh, oh)
    pad_l = _padding(o["padding"], o["stride_w"], 1, w, kw, ow)
    geom = Geometry(h, w, c, oh, ow, c, kh, kw, o["stride_h"], o["stride_w"], 1, 1, pad_t, pad_l)
    return Scheduled(op.kind, "pool", geom, _signature(op.kind, "pool", geom, {}), POOL_VARIANTS)


def _build_pool(graph: Graph, op: Operator, sched: Scheduled, variant: str) -> Kernel:
    """The a4 call: no constants, the geometry and the activation clamp as scalars (the output keeps the input's
    quantization, as TFLM requires)."""
    g = sched.geometry
    t_out = graph.tensors[op.outputs[0]]
    lo, hi = fp.activation_range(op.options["activation"], float(t_out.scale[0]), int(t_out.zero_point[0]))
    scalars = [g.in_h, g.in_w, g.in_c, g.out_h, g.out_w, g.k_h, g.k_w, g.s_h, g.s_w, g.pad_t, g.pad_l, lo, hi]
    func = _extern_func(c_function("pool", variant), tuple(graph.tensors[op.inputs[0]].shape), [],
                        tuple(t_out.shape), [], scalars)
    return Kernel(op.kind, func, [op.inputs[0]], [], op.outputs[0], g.out_h * g.out_w * g.out_c * g.k_h * g.k_w,
                  {"schedule": variant, "signature": sched.signature, "family": sched.family})


def _tile_of(variant: str) -> int:
    return int(variant[1])


def pack_gemm_weights(weights: np.ndarray, tile: int) -> np.ndarray:
    """[OC, ...] int8 -> the micro-kernel's order [OC/T][K/4][T][4] (zero padded), flattened."""
    oc = weights.shape[0]
    mat = weights.reshape(oc, -1).astype(np.int8)
    k = mat.shape[1]
    k_pad, oc_pad = -(-k // 4) * 4, -(-oc // tile) * tile
    padded = np.zeros((oc_pad, k_pad), dtype=np.int8)
    padded[:oc, :k] = mat
    return np.ascontiguousarray(padded.reshape(oc_pad // tile, tile, k_pad // 4, 4).transpose(0, 2, 1, 3)).ravel()


def pack_c1_weights(weights: np.ndarray, tile: int) -> np.ndarray:
    """[OC, KH, KW, 1] int8 -> the c1 kernel's order: kernel rows widened to whole words with zero taps, then
    the GEMM order of `pack_gemm_weights` (K = KH x KW rounded up to 4)."""
    oc, kh, kw, _ = weights.shape
    rows = np.zeros((oc, kh, -(-kw // 4) * 4), dtype=np.int8)
    rows[:, :, :kw] = weights[..., 0]
    return pack_gemm_weights(rows, tile)


def pack_dw_weights(weights: np.ndarray) -> np.ndarray:
    """[1, KH, KW, C] int8 -> [C/4][KH][KW][4]: each group of 4 channels' taps contiguous, flattened."""
    _, kh, kw, c = weights.shape
    return np.ascontiguousarray(weights.reshape(kh, kw, c // 4, 4).transpose(2, 0, 1, 3)).ravel()


DW_T3_WORDS = 12  # per channel: 6 weight words, shifted bias, multiplier, rounding constant, right shift, fold, 0


def dw_t3_block(weights: np.ndarray, qp: np.ndarray, stride: int, out_zp: int, lo: int, hi: int) -> np.ndarray:
    """The dw variant t3's per-channel constants, appended to the requantization rows `qp` (its fallback r1 reads
    only those): the channel's 3x3 weights as the int16 pair words its tap loops hold in registers (stride 1:
    (w0, w1), (w1, w2) per kernel row; stride 2: (w0, w1) per kernel row, (w2 row 0, w2 row 1), (w2 row 2, 0)) and
    what ak_rq_prepare decides in armlprof_kernels.c, computed the same way here: whether the requantization takes
    its fast path 1 for every output (bound |bias| + 255 sum |w|: the planes hold x - in_zp) with no clamp inside
    int8 and a left shift s1 = left + 1 <= 8 ("fold": then the weights and the bias are pre-shifted by s1), the
    rounding constant rz = 2^(e-1) + out_zp 2^e and e. Other kernel sizes get zeros (t3 runs r1 for them)."""
    _, kh, kw, c = weights.shape
    block = np.zeros((c, DW_T3_WORDS), dtype=np.int64)
    if (kh, kw) != (3, 3):
        return block.astype(np.int32)
    w = weights[0].reshape(9, c).astype(np.int64).T  # [C, 9]
    bias, mult, left, right = (qp[:c, i].astype(np.int64) for i in range(4))
    bound = np.abs(bias) + 255 * np.abs(w).sum(axis=1)
    fast = (right <= 22) & (left <= 29) & (bound < (np.int64(1) << (30 - np.minimum(left, 29))))
    s1 = left + 1
    fold = fast & (right >= 1) & (s1 <= 8) & (lo == -128) & (hi == 127)
    t = w * np.where(fold, np.int64(1) << s1, 1)[:, None]

    def pair(lo_half: np.ndarray, hi_half: np.ndarray) -> np.ndarray:
        return (lo_half & 0xFFFF) | ((hi_half & 0xFFFF) << 16)

    if stride == 2:
        words = [pair(t[:, 0], t[:, 1]), pair(t[:, 3], t[:, 4]), pair(t[:, 6], t[:, 7]), pair(t[:, 2], t[:, 5]),
                 pair(t[:, 8], 0 * t[:, 8]), 0 * t[:, 8]]
    else:
        words = [pair(t[:, 3 * k + j], t[:, 3 * k + j + 1]) for k in range(3) for j in range(2)]
    block[:, :6] = np.stack(words, axis=1)
    block[:, 6] = np.where(fold, (bias << s1) & 0xFFFFFFFF, 0)
    block[:, 7] = mult
    block[:, 8] = np.where(fold, (np.int64(1) << np.maximum(right - 1, 0)) + out_zp * (np.int64(1) << right), 0)
    block[:, 9] = right
    block[:, 10] = fold
    return ((block + (1 << 31)) % (1 << 32) - (1 << 31)).astype(np.int32)  # the words as int32


DW_N3_WORDS = 36  # per group of 4 channels (armlprof_kernels.c, AK_DWN_GROUP)


def dw_n3_block(weights: np.ndarray, qp: np.ndarray, out_zp: int, lo: int, hi: int) -> np.ndarray:
    """The dw variant n3's constants, appended to the requantization rows `qp` (its fallback r1 reads only those):
    a flag word (1: every channel takes t3's folded fast path, the same decision as `dw_t3_block`; 0: n3 runs r1 and
    nothing follows), then per group of 4 channels 36 words: per tap t the int16 weight pairs (w c0, w c2),
    (w c1, w c3) pre-shifted by s1 = left + 1 (18 words), (multiplier, rounding constant) per channel (8), the 4
    right shifts as the bytes of one word, the biases << s1 (4) and the sums of the shifted weights (4: the kernel
    folds its input offset, in_zp x sum, into the bias; its buffer holds the raw input)."""
    _, kh, kw, c = weights.shape
    t3 = dw_t3_block(weights, qp, 1, out_zp, lo, hi).astype(np.int64)
    if (kh, kw) != (3, 3) or c % 4 or not t3[:, 10].all():
        return np.zeros(1, dtype=np.int32)
    s1 = qp[:c, 2].astype(np.int64) + 1
    w = weights[0].reshape(9, c).astype(np.int64) * (np.int64(1) << s1)  # [taps, C]
    g = w.reshape(9, c // 4, 4).transpose(1, 0, 2)  # [group, tap, channel]
    words = np.zeros((c // 4, DW_N3_WORDS), dtype=np.int64)
    words[:, 0:18:2] = (g[..., 0] & 0xFFFF) | ((g[..., 2] & 0xFFFF) << 16)
    words[:, 1:18:2] = (g[..., 1] & 0xFFFF) | ((g[..., 3] & 0xFFFF) << 16)
    words[:, 18:26:2] = t3[:, 7].reshape(-1, 4)
    words[:, 19:26:2] = t3[:, 8].reshape(-1, 4)
    words[:, 26] = (t3[:, 9].reshape(-1, 4) << np.array([0, 8, 16, 24])).sum(axis=1)
    words[:, 27:31] = t3[:, 6].reshape(-1, 4) & 0xFFFFFFFF
    words[:, 31:35] = w.sum(axis=0).reshape(-1, 4)
    block = np.concatenate([[1], words.ravel()])
    return ((block + (1 << 31)) % (1 << 32) - (1 << 31)).astype(np.int32)


DW_Q3_WORDS = 16  # per channel pair (armlprof_kernels.c, AK_DWQ_PAIR)


def dw_q3_block(weights: np.ndarray, qp: np.ndarray, t3: np.ndarray, stride: int, in_zp: int) -> np.ndarray:
    """The dw variant q3's stride-2 constants, after t3's block `t3` (what its fallback f3 reads; `qp` the
    requantization rows): a flag word (1:
    a 3x3 stride-2 layer whose every channel takes t3's folded fast path; 0: q3 runs f3 and nothing follows), then
    per channel pair (a, b) 16 words: per kernel row r the int16 pairs (w a r0, w a r1), (w b r0, w b r1),
    (w a r2, w b r2) pre-shifted by s1 (t3's), the accumulator starts (t3's shifted bias minus in_zp x the sum of
    the shifted weights: q3's planes hold the raw input), (multiplier, rounding constant) of a then b, and the two
    right shifts as the low bytes of one word."""
    _, kh, kw, c = weights.shape
    if (kh, kw) != (3, 3) or stride != 2 or c % 4 or not t3[:, 10].all():
        return np.zeros(1, dtype=np.int32)
    t = t3.astype(np.int64)
    s1 = qp[:c, 2].astype(np.int64) + 1
    w = weights[0].astype(np.int64).transpose(2, 0, 1) * (np.int64(1) << s1)[:, None, None]  # [C, 3, 3]
    a, b = w[0::2], w[1::2]  # [pairs, 3, 3]

    def pair(lo_half: np.ndarray, hi_half: np.ndarray) -> np.ndarray:
        return (lo_half & 0xFFFF) | ((hi_half & 0xFFFF) << 16)

    words = np.zeros((c // 2, DW_Q3_WORDS), dtype=np.int64)
    for r in range(3):
        words[:, 3 * r] = pair(a[:, r, 0], a[:, r, 1])
        words[:, 3 * r + 1] = pair(b[:, r, 0], b[:, r, 1])
        words[:, 3 * r + 2] = pair(a[:, r, 2], b[:, r, 2])
    start = t[:, 6] - in_zp * w.reshape(c, 9).sum(axis=1)
    words[:, 9], words[:, 10] = start[0::2], start[1::2]
    words[:, 11], words[:, 12] = t[0::2, 7], t[0::2, 8]
    words[:, 13], words[:, 14] = t[1::2, 7], t[1::2, 8]
    words[:, 15] = t[0::2, 9] | (t[1::2, 9] << 8)
    block = np.concatenate([[1], words.ravel()])
    return ((block + (1 << 31)) % (1 << 32) - (1 << 31)).astype(np.int32)


DWP_BYTES = 24576  # AK_DWP_BYTES: t3's planes of one channel group
DWN_BYTES = 16384  # AK_DWN_BYTES: n3's padded input


def dw_runs_r1(variant: str, g: Geometry, qp: np.ndarray, lo: int, hi: int) -> bool:
    """Whether the dw `variant` (its constants `qp`, from `dw_qparams`) leaves geometry `g` to r1: the checks of
    ak_dwp_layer (t3, f3; q3 runs f3 past its own) and armlprof_dwconv_s8_n3, which return -1 there. The layer then
    calls r1 itself, so r1's code (~4.4 KB) is linked only into models with a layer that runs it."""
    if variant not in (*DW_PLANE_VARIANTS, "n3"):
        return False
    if (g.k_h, g.k_w, g.d_h, g.d_w) != (3, 3, 1, 1) or g.out_c != g.in_c:
        return True
    if variant == "n3":  # any strides
        padded_bytes = ((g.out_h - 1) * g.s_h + 3) * ((g.out_w - 1) * g.s_w + 3) * g.in_c
        return g.in_c % 4 != 0 or qp[4 * g.out_c] != 1 or (lo, hi) != (-128, 127) or padded_bytes > DWN_BYTES
    if g.s_h != g.s_w or g.s_h not in (1, 2):
        return True
    row_words = (g.out_w + 4) >> 1 if g.s_h == 1 else g.out_w + 2
    return DWP_BYTES // (16 * max(row_words, 28)) < 3  # 28: AK_DWP_RS


C1F_ROW_WORDS = 50  # AK_C1F_RS: f4's widened rows (out_w + 2 words at most)
C1S_BUF_BYTES = 20480  # AK_C1S_BUF_BYTES: the widened input's stack buffer


def c1_f4_covers(g: Geometry, qp: np.ndarray, lo: int, hi: int) -> bool:
    """Whether c1's f4 runs its own path on `g` with the requantization rows `qp` (requant_params: bias, multiplier,
    left, right per channel): armlprof_conv1_s8_f4's checks, which return -1 elsewhere, where `build` plans s4
    (the same packed weights) instead, so s4's code is linked only where a layer runs it. Per channel, what
    ak_rq_prepare decides with the bound |bias| + 3 x 4 x 16384: its fast path 1 and a left shift s1 <= 8."""
    hp = (g.out_h - 1) * g.s_h + g.k_h
    if not (g.k_h == 3 and g.k_w <= 3 and g.s_w == 2 and g.d_h == g.d_w == 1 and g.out_w % 2 == 0
            and g.out_w + 2 <= C1F_ROW_WORDS and g.out_c % 4 == 0 and (lo, hi) == (-128, 127)
            and hp * C1F_ROW_WORDS * 4 <= C1S_BUF_BYTES):
        return False
    bias, _, left, right = (qp[:g.out_c, i].astype(np.int64) for i in range(4))
    bound = np.abs(bias) + 3 * 4 * 16384
    fast = (right <= 22) & (left <= 29) & (bound < (np.int64(1) << (30 - np.minimum(left, 29))))
    return bool(np.all(fast & (right >= 1) & (left + 1 <= 8)))


def dw_kernel(variant: str, weights: np.ndarray, bias: np.ndarray, mults: np.ndarray, shifts: np.ndarray,
              g: Geometry, out_zp: int, lo: int, hi: int, in_zp: int) -> tuple[str, np.ndarray, np.ndarray]:
    """(C function, packed weights, int32 constants) of a dw layer on `variant`: r1's where the variant leaves the
    layer to it (`dw_runs_r1`); the plane variants and n3 read their weights from their blocks only, so their
    int8 weights are not stored (one zero word instead: ~9 bytes per channel less flash)."""
    qp = dw_qparams(variant, weights, bias, mults, shifts, g.s_h, out_zp, lo, hi, in_zp)
    if dw_runs_r1(variant, g, qp, lo, hi):
        return c_function("dw", "r1"), pack_dw_weights(weights), dw_qparams("r1", weights, bias, mults, shifts,
                                                                            g.s_h, out_zp, lo, hi, in_zp)
    if variant in (*DW_PLANE_VARIANTS, "n3"):
        return c_function("dw", variant), np.zeros(4, dtype=np.int8), qp
    return c_function("dw", variant), pack_dw_weights(weights), qp


def dw_qparams(variant: str, weights: np.ndarray, bias: np.ndarray, mults: np.ndarray, shifts: np.ndarray,
               stride: int, out_zp: int, lo: int, hi: int, in_zp: int = 0) -> np.ndarray:
    """The int32 constants a dw variant reads: the requantization rows, plus t3's block (t3, f3, q3; flattened),
    plus q3's (it folds the input zero point `in_zp` into its accumulator starts)."""
    qp = requant_params(bias, mults, shifts, weights.shape[-1])
    if variant == "n3":
        return np.concatenate([qp.ravel(), dw_n3_block(weights, qp, out_zp, lo, hi)])
    if variant not in DW_PLANE_VARIANTS:
        return qp
    t3 = dw_t3_block(weights, qp, stride, out_zp, lo, hi)
    if variant == "q3":
        return np.concatenate([qp.ravel(), t3.ravel(), dw_q3_block(weights, qp, t3, stride, in_zp)])
    return np.concatenate([qp.ravel(), t3.ravel()])


def requant_params(bias: np.ndarray, mults: np.ndarray, shifts: np.ndarray, rows: int) -> np.ndarray:
    """Per channel (bias, multiplier, left shift, right shift), zero rows up to `rows` channels."""
    qp = np.zeros((rows, 4), dtype=np.int64)
    n = len(bias)
    qp[:n, 0] = bias
    qp[:n, 1] = mults
    qp[:n, 2] = np.maximum(shifts, 0)
    qp[:n, 3] = np.maximum(-shifts, 0)
    return qp.astype(np.int32)


def _extern_func(function: str, in_shape: tuple[int, ...], const_shapes: list[tuple[int, ...]],
                 out_shape: tuple[int, ...], const_dtypes: list[str], scalars: list[int]):
    from tvm import te, tirx

    inp = te.placeholder(in_shape, "int8", name="input")
    names = ("weights", "qparams")[:len(const_shapes)]
    consts = [te.placeholder(s, d, name=n) for s, d, n in zip(const_shapes, const_dtypes, names, strict=True)]
    out = te.extern(out_shape, [inp, *consts], lambda ins, outs: tirx.call_extern(
        "int32", function, *(b.data for b in ins), outs[0].data, *(tirx.const(int(v), "int32") for v in scalars)),
        dtype="int8", name="out")
    return te.create_prim_func([inp, *consts, out])


def build(graph: Graph, op: Operator, sched: Scheduled, variant: str | None = None) -> Kernel | None:
    """The Kernel (call_extern PrimFunc + packed constants) for `op` with one schedule `variant`; None when the
    GEMM families' folded bias (bias - in_zp * sum of the weights) would not fit int32: the TE loop runs then, as
    TFLM adds the input offset per tap. (Depthwise keeps the raw int32 bias.)"""
    default = variant is None
    variant = variant or sched.variants[0]
    if sched.family == "pool":
        return _build_pool(graph, op, sched, variant)
    function = c_function(sched.family, variant)
    t_in, t_w, t_out = graph.tensors[op.inputs[0]], graph.tensors[op.inputs[1]], graph.tensors[op.outputs[0]]
    t_b = graph.tensors[op.inputs[2]] if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
    g = sched.geometry
    oc = g.out_c
    bias = t_b.data.astype(np.int64) if t_b is not None else np.zeros(oc, dtype=np.int64)
    in_zp, out_zp = int(t_in.zero_point[0]), int(t_out.zero_point[0])
    activation = op.options.get("activation", "NONE")
    lo, hi = fp.activation_range(activation, float(t_out.scale[0]), out_zp)
    if op.kind == "FULLY_CONNECTED":
        mults, shifts = fc_multipliers(t_in, t_w, t_out, oc)
    else:
        mults, shifts = conv_multipliers(t_in, t_w, t_out, oc)
    if sched.family in ("gemm", "c1", "pw"):
        tile = _tile_of(variant)
        # [OC, KH, KW, IC]; a one-channel depthwise [1, KH, KW, OC] is the same convolution transposed
        w_ohwi = t_w.data[0].transpose(2, 0, 1)[..., None] if op.kind == "DEPTHWISE_CONV_2D" else t_w.data
        weights = (pack_c1_weights if sched.family == "c1" else pack_gemm_weights)(w_ohwi, tile)
        folded = bias + (-in_zp) * w_ohwi.reshape(oc, -1).astype(np.int64).sum(axis=1)
        if np.abs(folded).max(initial=0) >= 1 << 31:  # checked before requant_params's int32 cast wraps it
            return None
        qp = requant_params(folded, mults, shifts, -(-oc // tile) * tile)
        if variant == "f4" and not c1_f4_covers(g, qp, lo, hi):
            function = c_function("c1", "s4")
        macs = g.out_h * g.out_w * oc * g.k_h * g.k_w * g.in_c
    else:
        function, weights, qp = dw_kernel(variant, t_w.data, bias, mults, shifts, g, out_zp, lo, hi, in_zp)
        if default and variant == "n3" and function == c_function("dw", "r1"):
            # the default is n3's own path, never r1 (slower than f3 on every person_detect layer)
            variant = "f3"
            function, weights, qp = dw_kernel(variant, t_w.data, bias, mults, shifts, g, out_zp, lo, hi, in_zp)
        macs = g.out_h * g.out_w * oc * g.k_h * g.k_w
    scalars = [*g.as_args(), in_zp, out_zp, lo, hi]
    in_shape = tuple(t_in.shape) if op.kind != "FULLY_CONNECTED" else (g.in_h, g.in_c)
    out_shape = tuple(t_out.shape) if op.kind != "FULLY_CONNECTED" else (g.out_h, g.out_c)
    func = _extern_func(function, in_shape, [weights.shape, qp.shape], out_shape, ["int8", "int32"], scalars)
    return Kernel(op.kind, func, [op.inputs[0]], [("weights", weights), ("qparams", qp)], op.outputs[0], macs,
                  {"schedule": variant, "signature": sched.signature, "family": sched.family})
