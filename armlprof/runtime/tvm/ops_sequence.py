"""Sequence operators with state: int8 SVDF as TFLM's EvalIntegerSvdfReference (svdf_common.cc), bit for bit.

SVDF's activation state is a variable tensor: TFLM shifts it left by one element, writes this invocation's
feature projection into each filter's newest slot, and keeps it for the next invocation. TE computes only pure
functions of its inputs, so this kernel is written in TVMScript instead: one PrimFunc that reads and writes the
state buffer in place (its parameter order is still ops.Kernel's: activations - input, state - then constants,
then the output). The compiler gives the state its own buffer, zeroed at model_init and never shared
(compiler.build_program, entry kind "state").

TFLM's int8 path ignores the fused activation (it only clamps to int8), and so does this kernel. TFLM's Prepare
reads the bias's scale unconditionally, so an SVDF without bias does not run on TFLM; it is refused here too.
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
