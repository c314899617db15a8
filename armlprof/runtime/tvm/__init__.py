"""armlprof's TVM flow for int8 TFLite models: what upstream TVM 0.27 no longer ships for microcontrollers.

importer (own .tflite reader) -> ops (integer TE compute per operator, bit-exact with TFLM's reference
kernels) -> codegen (TVM lowers to TIR and emits C, target "c") -> planner (liveness memory plans) ->
compiler (Program, cached) -> emit (AOT entry function or graph JSON + on-device graph executor).
"""

from armlprof.runtime.tvm.compiler import Program, compile_model

__all__ = ["Program", "compile_model"]
