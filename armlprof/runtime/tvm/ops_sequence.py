"""Sequence operators with state, bit for bit with TFLM: int8 SVDF (svdf_common.cc EvalIntegerSvdfReference) and
UNIDIRECTIONAL_SEQUENCE_LSTM (lstm_eval.h: the integer 8x8->16 LSTM, int16 cell state, int16 sigmoid/tanh).

SVDF's activation state is a variable tensor: TFLM shifts it left by one element, writes this invocation's
feature projection into each filter's newest slot, and keeps it for the next invocation. TE computes only pure
functions of its inputs, so this kernel is written in TVMScript instead: one PrimFunc that reads and writes the
state buffer in place (its parameter order is still ops.Kernel's: activations - input, state - then constants,
then the output). The compiler gives the state its own buffer, reset at model_init to TFLM's reset value (0, an
int8 state its zero point) and never shared (compiler.build_program, entry kind "state").

TFLM's int8 path ignores the fused activation (it only clamps to int8), and so does this kernel. TFLM's Prepare
reads the bias's scale unconditionally, so an SVDF without bias does not run on TFLM; it is refused here too.

The LSTM kernel runs every batch and time step in one PrimFunc (time_major either way: batches are independent, so
batch-outer order gives TFLM's results for both layouts); each unit's four gates are computed from the previous
hidden state, the new hidden value goes to this step's output slot and is copied into the state once the step's
units are done, so no gate scratch buffers are needed. Its sigmoid/tanh interpolate TFLM's 256-entry table, which
is read from the TFLM tree (sigmoid_table_uint16).
"""

from __future__ import annotations

import numpy as np

from armlprof.errors import ArmlprofError
from armlprof.runtime.tvm import fixedpoint as fp
from armlprof.runtime.tvm.importer import Graph, Operator

_STATE_RANGE = {"int16": (-32768, 32767), "int8": (-128, 127)}


def svdf_multipliers(input_scale: float, feature_scale: float, state_scale: float, time_scale: float,
                     output_scale: float) -> tuple[tuple[int, int], tuple[int, int]]:
    """PrepareSvdf's two (multiplier, shift) pairs: the scale products are float32 (TfLiteQuantizationParams
    floats multiplied in C++ float) before they widen to double."""
    f32 = np.float32
    scale_1 = float(f32(f32(input_scale) * f32(feature_scale)) / f32(state_scale))
    scale_2 = float(f32(f32(state_scale) * f32(time_scale)) / f32(output_scale))
    return fp.quantize_multiplier(scale_1), fp.quantize_multiplier(scale_2)


def build_svdf(graph: Graph, op: Operator):
    from tvm.script import tirx as T

    from armlprof.runtime.tvm.ops import Kernel

    if len(op.inputs) != 5:
        raise ArmlprofError(f"SVDF with {len(op.inputs)} inputs (TFLM needs 5); re-export the model")
    t_in, t_wf, t_wt = (graph.tensors[i] for i in op.inputs[:3])
    t_out = graph.tensors[op.outputs[0]]
    if op.inputs[3] < 0:
        raise ArmlprofError("SVDF without bias: TFLM's SVDF kernel needs the bias tensor (its Prepare reads the "
                            "bias's scale); re-export the model with a bias")
    t_bias, t_state = graph.tensors[op.inputs[3]], graph.tensors[op.inputs[4]]
    if not t_state.is_variable:
        raise ArmlprofError("SVDF activation state is not a variable tensor (TFLM requires is_variable); "
                            "re-export the model")
    if t_in.dtype != "int8" or t_wf.dtype != "int8" or t_wt.dtype not in _STATE_RANGE \
            or t_state.dtype != t_wt.dtype or t_bias.dtype != "int32":
        raise ArmlprofError(f"SVDF with {t_in.dtype} input, {t_wf.dtype} feature weights, {t_wt.dtype} time weights, "
                            f"{t_state.dtype} state, {t_bias.dtype} bias; the TVM runtimes take TFLM's int8 SVDF "
                            "(int8 input/feature weights, int16 or int8 time weights and state of the same type, "
                            "int32 bias); use --runtime tflm")
    if any(t.data is None for t in (t_wf, t_wt, t_bias)):
        raise ArmlprofError("SVDF with run-time weights or bias; use --runtime tflm")
    rank = int(op.options["rank"])
    if len(t_in.shape) != 2 or len(t_wf.shape) != 2 or len(t_wt.shape) != 2 or rank <= 0:
        raise ArmlprofError(f"SVDF shapes input {t_in.shape}, weights {t_wf.shape}/{t_wt.shape}, rank {rank} are not "
                            "TFLM's; re-export the model")
    batches, depth = t_in.shape
    filters, memory = t_wt.shape
    units = filters // rank
    if (filters % rank or t_wf.shape != (filters, depth) or t_state.shape != (batches, memory * filters)
            or t_out.shape != (batches, units) or t_bias.shape != (units,)):
        raise ArmlprofError(f"SVDF shapes input {t_in.shape}, feature weights {t_wf.shape}, time weights "
                            f"{t_wt.shape}, bias {t_bias.shape}, state {t_state.shape}, output {t_out.shape} with "
                            f"rank {rank} do not fit together (TFLM's Prepare rejects them); re-export the model")
    scale_in, scale_wf, scale_wt, scale_state, scale_out = (float(t.scale[0]) for t in
                                                            (t_in, t_wf, t_wt, t_state, t_out))
    if abs(float(t_bias.scale[0]) - float(np.float32(scale_state) * np.float32(scale_wt))) >= 1e-5:
        raise ArmlprofError("SVDF bias scale is not state scale x time-weights scale (TFLM's Prepare rejects it); "
                            "re-export the model")
    (m1, s1), (m2, s2) = svdf_multipliers(scale_in, scale_wf, scale_state, scale_wt, scale_out)
    in_zp, state_zp, out_zp = (int(t.zero_point[0]) for t in (t_in, t_state, t_out))
    state_type = t_state.dtype
    state_lo, state_hi = _STATE_RANGE[state_type]
    n_state = batches * filters * memory

    @T.prim_func
    def svdf(inp: T.Buffer((batches, depth), "int8"), state: T.Buffer((n_state,), state_type),
             weights_feature: T.Buffer((filters, depth), "int8"), weights_time: T.Buffer((filters, memory), state_type),
             bias: T.Buffer((units,), "int32"), out: T.Buffer((batches, units), "int8")):
        acc = T.alloc_buffer((1,), "int32")
        # Left shift of the whole state by one element (the newest slots are overwritten next).
        for k in range(n_state - 1):
            state[k] = state[k + 1]
        # Feature matmul -> requantize to the state's scale, clamp to its type, plus its zero point (wrapping
        # on the cast, as TFLM's `T` store does).
        for b, f in T.grid(batches, filters):
            acc[0] = 0
            for c in range(depth):
                acc[0] = acc[0] + T.Cast("int32", weights_feature[f, c]) * (T.Cast("int32", inp[b, c]) - in_zp)
            state[(b * filters + f) * memory + memory - 1] = T.Cast(state_type, T.max(T.min(
                T.call_pure_extern("int32", "armlprof_mbqm", acc[0], m1, s1), state_hi), state_lo) + state_zp)
        # Time weights, reduce over rank, bias, requantize to the output, clamp to int8.
        for b, u in T.grid(batches, units):
            acc[0] = bias[u]
            for r, t in T.grid(rank, memory):
                acc[0] = acc[0] + T.Cast("int32", weights_time[u * rank + r, t]) * (
                    T.Cast("int32", state[(b * filters + u * rank + r) * memory + t]) - state_zp)
            out[b, u] = T.Cast("int8", T.max(T.min(
                T.call_pure_extern("int32", "armlprof_mbqm", acc[0], m2, s2) + out_zp, 127), -128))

    consts = [("weights_feature", t_wf.data), ("weights_time", t_wt.data), ("bias", t_bias.data.astype(np.int32))]
    return Kernel(op.kind, svdf, [op.inputs[0], op.inputs[4]], consts, op.outputs[0],
                  batches * filters * (depth + memory))


# ---------------------------------------------------------------- UNIDIRECTIONAL_SEQUENCE_LSTM (integer 8x8->16)
# TFLM lstm_eval.h / lstm_eval_common.cc: gate pre-activations are int16 at scale 2^-12 (Q3.12), gate outputs int16
# at 2^-15, the cell state int16 at a power-of-two scale, the output (hidden) state int8.
_LSTM_GATES = ("input", "forget", "cell", "output")  # TFLM's order of the weight/bias inputs (1-4, 5-8, 12-15)
_GATE_INPUT_SCALE = 2.0 ** -12
_GATE_OUTPUT_SCALE = 2.0 ** -15
_TANH = 4  # ActivationFunctionType TANH: the cell gate's nonlinearity
SIGMOID_TABLE_HEADER = "tensorflow/lite/kernels/internal/common.h"


def sigmoid_table_uint16() -> np.ndarray:
    """TFLM's 256-entry int16 sigmoid/tanh interpolation table (common.h `sigmoid_table_uint16`), read from the TFLM
    tree armlprof uses (it is no closed formula: rounded differently in 44 places, so it is taken, not rebuilt)."""
    import re

    from armlprof.runtime.tflm import tree as tflm

    tree = tflm.find_tree()
    header = tree.source_root / SIGMOID_TABLE_HEADER if tree is not None else None
    text = header.read_text(errors="replace") if header is not None and header.is_file() else ""
    match = re.search(r"sigmoid_table_uint16\[256\]\s*=\s*\{([^}]*)\}", text)
    values = [int(v) for v in re.findall(r"\d+", match.group(1))] if match else []
    if len(values) != 256:
        raise ArmlprofError("UNIDIRECTIONAL_SEQUENCE_LSTM needs TFLM's int16 sigmoid table (common.h) from a TFLM "
                            "tree: set ARMLPROF_TFLM_ROOT (or run `armlprof get tflm`), or use --runtime tflm")
    return np.asarray(values, dtype=np.int32)


def _checked_log2(scale: float) -> int:
    """tflite::CheckedLog2's rounded exponent, in float as TFLM computes it."""
    f32 = np.float32
    return int(np.round(f32(np.log(f32(scale))) * (f32(1.0) / f32(np.log(f32(2.0))))))


def lstm_parameters(t_in, t_h, t_c, w_in: list, w_rec: list) -> dict:
    """PrepareGateParametersInteger + CreateLstmCellStateInfo: the per-gate FC (multiplier, shift) pairs (float32
    scale products, as GetQuantizedConvolutionMultipler), the inter-gate Mul pairs (double products), the cell
    state's power of two and the tanh input scaling it implies."""
    from armlprof.runtime.tvm.ops import fc_multipliers

    class _Scale:  # the one field fc_multipliers reads of the gate's int16 output
        scale = np.asarray([_GATE_INPUT_SCALE], dtype=np.float32)

    fc_in = [fc_multipliers(t_in, w, _Scale, 1) for w in w_in]
    fc_rec = [fc_multipliers(t_h, w, _Scale, 1) for w in w_rec]
    cell_scale = float(t_c.scale[0])
    power = _checked_log2(cell_scale)
    left = 15 + power - 3  # lstm_internal::Tanh
    tanh_mult, tanh_shift = (3, -left) if left < 0 else (3 << left, 0)
    return {
        "fc_in": [(int(m[0]), int(s[0])) for m, s in fc_in], "fc_rec": [(int(m[0]), int(s[0])) for m, s in fc_rec],
        "forget_cell": fp.quantize_multiplier(_GATE_OUTPUT_SCALE * cell_scale / cell_scale),
        "input_cell": fp.quantize_multiplier(_GATE_OUTPUT_SCALE * _GATE_OUTPUT_SCALE / cell_scale),
        "hidden": fp.quantize_multiplier(_GATE_OUTPUT_SCALE * _GATE_OUTPUT_SCALE / float(t_h.scale[0])),
        "cell_tanh": (tanh_mult, tanh_shift),
    }


def build_lstm(graph: Graph, op: Operator):
    from tvm.script import tirx as T

    from armlprof.runtime.tvm.ops import Kernel

    ins = op.inputs + [-1] * (24 - len(op.inputs))
    o = op.options

    def tensor(k: int):
        return graph.tensors[ins[k]] if ins[k] >= 0 else None

    if len(op.inputs) != 24 or any(tensor(k) is None for k in (0, *range(1, 9), *range(12, 16), 18, 19)):
        raise ArmlprofError("UNIDIRECTIONAL_SEQUENCE_LSTM without all four gates' weights and biases or its states "
                            "(TFLM's kernel needs them: no CIFG); use --runtime tflm")
    if any(tensor(k) is not None for k in (9, 10, 11, 16, 17, 20, 21, 22, 23)):
        raise ArmlprofError("UNIDIRECTIONAL_SEQUENCE_LSTM with peephole, projection or layer-norm tensors (TFLM's "
                            "kernel rejects them); use --runtime tflm")
    t_in, t_h, t_c = tensor(0), tensor(18), tensor(19)
    t_out = graph.tensors[op.outputs[0]]
    w_in, w_rec, biases = ([tensor(k) for k in r] for r in (range(1, 5), range(5, 9), range(12, 16)))
    if (t_in.dtype, t_h.dtype, t_c.dtype, t_out.dtype) != ("int8", "int8", "int16", "int8") \
            or any(w.dtype != "int8" for w in w_in + w_rec) or any(b.dtype != "int32" for b in biases):
        raise ArmlprofError("UNIDIRECTIONAL_SEQUENCE_LSTM that is not TFLM's integer 8x8->16 LSTM (int8 input, "
                            "weights and output state, int16 cell state, int32 biases); use --runtime tflm")
    if not (t_h.is_variable and t_c.is_variable):
        raise ArmlprofError("UNIDIRECTIONAL_SEQUENCE_LSTM states are not variable tensors (TFLM requires it); "
                            "re-export the model")
    if any(t.data is None for t in w_in + w_rec + biases):
        raise ArmlprofError("UNIDIRECTIONAL_SEQUENCE_LSTM with run-time weights; use --runtime tflm")
    if any(w.scale.size > 1 or np.any(w.zero_point != 0) for w in w_in + w_rec):
        raise ArmlprofError("UNIDIRECTIONAL_SEQUENCE_LSTM with per-channel or asymmetric weights (TFLM's LSTM "
                            "applies one multiplier per gate); use --runtime tflm")
    if o["cell_activation"] != _TANH:
        raise ArmlprofError("UNIDIRECTIONAL_SEQUENCE_LSTM whose cell gate is not TANH; use --runtime tflm")
    if len(t_in.shape) != 3:
        raise ArmlprofError(f"UNIDIRECTIONAL_SEQUENCE_LSTM input of shape {t_in.shape} (TFLM needs 3-D); "
                            "re-export the model")
    time_major = bool(o["time_major"])
    steps, batches, depth = t_in.shape if time_major else (t_in.shape[1], t_in.shape[0], t_in.shape[2])
    units = w_in[0].shape[0]
    if any(w.shape != (units, depth) for w in w_in) or any(w.shape != (units, units) for w in w_rec) \
            or any(b.shape != (units,) for b in biases) or int(np.prod(t_h.shape)) != batches * units \
            or int(np.prod(t_c.shape)) != batches * units or t_out.shape != (*t_in.shape[:2], units):
        raise ArmlprofError("UNIDIRECTIONAL_SEQUENCE_LSTM shapes that do not fit together (TFLM's Prepare rejects "
                            "them); re-export the model")
    p = lstm_parameters(t_in, t_h, t_c, w_in, w_rec)
    in_zp, h_zp = int(t_in.zero_point[0]), int(t_h.zero_point[0])
    clip = 0
    if o["cell_clip"] > 0:  # CreateLstmCellStateInfo: truncated to int16
        clip = int(min(max(float(np.float32(o["cell_clip"])) / float(t_c.scale[0]), -32768.0), 32767.0))
    fc_m = np.array([[m for m, _ in p["fc_in"]], [m for m, _ in p["fc_rec"]]], dtype=np.int32)
    fc_s = np.array([[s for _, s in p["fc_in"]], [s for _, s in p["fc_rec"]]], dtype=np.int32)
    (fcm, fcs), (icm, ics), (hm, hs) = p["forget_cell"], p["input_cell"], p["hidden"]
    tanh_mult, tanh_shift = p["cell_tanh"]
    tanh_round = (1 << (tanh_shift - 1)) if tanh_shift > 0 else 0
    n_in, n_out, n_state = int(np.prod(t_in.shape)), int(np.prod(t_out.shape)), batches * units

    @T.macro
    def sigmoid16(dst, x, table):  # reference_integer_ops::Logistic(0, 0, ...): x * 3, 9 fraction bits
        dst[0] = x * 3
        dst[1] = T.if_then_else(dst[0] < 0, -dst[0], dst[0])
        dst[2] = T.if_then_else(T.shift_right(dst[1], 9) >= 255, T.shift_left(32767, 10),
                                T.shift_left(table[T.min(T.shift_right(dst[1], 9), 254)], 9)
                                + T.bitwise_and(dst[1], 511) * (table[T.min(T.shift_right(dst[1], 9), 254) + 1]
                                                                - table[T.min(T.shift_right(dst[1], 9), 254)]))
        dst[3] = T.shift_right(T.if_then_else(dst[0] >= 0, dst[2] + 512, (1 << 25) - dst[2] + 511), 10)

    @T.macro
    def tanh16(dst, x, mult, shift, rounding, table):  # reference_integer_ops::Tanh: 8 fraction bits
        dst[0] = T.shift_right(x * mult + rounding, shift)
        dst[1] = T.if_then_else(dst[0] < 0, -dst[0], dst[0])
        dst[2] = T.if_then_else(T.shift_right(dst[1], 8) >= 255, T.shift_left(65535, 8),
                                T.shift_left(table[T.min(T.shift_right(dst[1], 8), 254)], 8)
                                + T.bitwise_and(dst[1], 255) * (table[T.min(T.shift_right(dst[1], 8), 254) + 1]
                                                                - table[T.min(T.shift_right(dst[1], 8), 254)]))
        dst[3] = T.shift_right(T.if_then_else(dst[0] >= 0, dst[2] - (1 << 23) + (1 << 7),
                                              (1 << 23) + (1 << 7) - 1 - dst[2]), 8)

    def mbqm(x, m, s):
        return T.call_pure_extern("int32", "armlprof_mbqm", x, m, s)

    @T.prim_func
    def lstm(inp: T.Buffer((n_in,), "int8"), hidden: T.Buffer((n_state,), "int8"), cell: T.Buffer((n_state,), "int16"),
             w_input: T.Buffer((4, units, depth), "int8"), w_recurrent: T.Buffer((4, units, units), "int8"),
             bias: T.Buffer((4, units), "int32"), fc_mult: T.Buffer((2, 4), "int32"),
             fc_shift: T.Buffer((2, 4), "int32"), table: T.Buffer((256,), "int32"), out: T.Buffer((n_out,), "int8")):
        acc = T.alloc_buffer((2,), "int32")
        gate = T.alloc_buffer((4,), "int32")
        tmp = T.alloc_buffer((4,), "int32")
        for b, t in T.grid(batches, steps):
            # time_major [time, batch, ...] or [batch, time, ...]; batches are independent, so one order serves both
            for s in range(units):
                for g in range(4):
                    acc[0] = bias[g, s]
                    for i in range(depth):
                        acc[0] = acc[0] + T.Cast("int32", w_input[g, s, i]) * (T.Cast("int32", inp[
                            T.if_then_else(time_major, t * batches + b, b * steps + t) * depth + i]) - in_zp)
                    acc[1] = 0
                    for j in range(units):
                        acc[1] = acc[1] + T.Cast("int32", w_recurrent[g, s, j]) * (
                            T.Cast("int32", hidden[b * units + j]) - h_zp)
                    # input FC + recurrent FC, each clamped to int16, then their saturating int16 sum
                    acc[0] = T.max(T.min(T.max(T.min(mbqm(acc[0], fc_mult[0, g], fc_shift[0, g]), 32767), -32768)
                                         + T.max(T.min(mbqm(acc[1], fc_mult[1, g], fc_shift[1, g]), 32767), -32768),
                                         32767), -32768)
                    if g == 2:
                        tanh16(tmp, acc[0], 3, 0, 0, table)
                    else:
                        sigmoid16(tmp, acc[0], table)
                    gate[g] = tmp[3]
                # cell = forget * cell + input * cell gate (each int16-clamped), clipped
                acc[0] = T.max(T.min(mbqm(gate[1] * T.Cast("int32", cell[b * units + s]), fcm, fcs), 32767), -32768)
                acc[1] = T.max(T.min(mbqm(gate[0] * gate[2], icm, ics), 32767), -32768)
                acc[0] = T.max(T.min(acc[0] + acc[1], 32767), -32768)
                if clip > 0:
                    acc[0] = T.max(T.min(acc[0], clip), -clip)
                cell[b * units + s] = T.Cast("int16", acc[0])
                # hidden = tanh(cell) * output gate -> int8; written to this step's output, copied to the state below
                # (the other units of this step still read the previous hidden state)
                tanh16(tmp, acc[0], tanh_mult, tanh_shift, tanh_round, table)
                out[T.if_then_else(time_major, t * batches + b, b * steps + t) * units + s] = T.Cast(
                    "int8", T.max(T.min(mbqm(tmp[3] * gate[3], hm, hs) + h_zp, 127), -128))
            for s in range(units):
                hidden[b * units + s] = out[T.if_then_else(time_major, t * batches + b, b * steps + t) * units + s]

    consts = [("input_weights", np.stack([w.data for w in w_in])),
              ("recurrent_weights", np.stack([w.data for w in w_rec])),
              ("bias", np.stack([b.data.astype(np.int32) for b in biases])), ("fc_multiplier", fc_m),
              ("fc_shift", fc_s), ("sigmoid_table", sigmoid_table_uint16())]
    return Kernel(op.kind, lstm, [ins[0], ins[18], ins[19]], consts, op.outputs[0],
                  batches * steps * 4 * units * (depth + units))
