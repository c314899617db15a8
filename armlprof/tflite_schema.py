"""The one table of TFLite schema constants (schema.fbs) armlprof uses, taken from the `tflite` package's generated
enums: builtin operator codes and names, option table types, activation and padding codes, tensor types.
Readers (model.py, the TVM importer) and the writer (modelgen.py) all go through here."""

from __future__ import annotations

from typing import Any

import tflite


def _enum(cls: type) -> dict[str, int]:
    return {k: v for k, v in vars(cls).items() if not k.startswith("_") and isinstance(v, int)}


OPCODES: dict[str, int] = _enum(tflite.BuiltinOperator)  # "CONV_2D" -> 3
OPERATOR_NAMES: dict[int, str] = {v: k for k, v in OPCODES.items()}
BUILTIN_OPTIONS: dict[str, int] = _enum(tflite.BuiltinOptions)  # "Conv2DOptions" -> 1
ACTIVATIONS: dict[str, int] = _enum(tflite.ActivationFunctionType)  # "RELU6" -> 3
PADDINGS: dict[str, int] = _enum(tflite.Padding)  # "SAME" -> 0
TENSOR_TYPES: dict[str, int] = _enum(tflite.TensorType)  # "INT8" -> 9

# The options table each builtin operator armlprof writes carries.
OPERATOR_OPTIONS: dict[str, str] = {
    "CONV_2D": "Conv2DOptions", "DEPTHWISE_CONV_2D": "DepthwiseConv2DOptions", "AVERAGE_POOL_2D": "Pool2DOptions",
    "MAX_POOL_2D": "Pool2DOptions", "FULLY_CONNECTED": "FullyConnectedOptions", "SOFTMAX": "SoftmaxOptions",
    "ADD": "AddOptions", "RESHAPE": "ReshapeOptions", "CONCATENATION": "ConcatenationOptions", "MUL": "MulOptions",
    "PAD": "PadOptions", "SUB": "SubOptions", "SQUEEZE": "SqueezeOptions", "STRIDED_SLICE": "StridedSliceOptions",
    "MEAN": "ReducerOptions", "TRANSPOSE_CONV": "TransposeConvOptions", "SVDF": "SVDFOptions",
    "UNIDIRECTIONAL_SEQUENCE_LSTM": "UnidirectionalSequenceLSTMOptions",
}


def operator_name(code: int) -> str:
    """The builtin operator's name, or CUSTOM_<code> for a code the schema does not know."""
    return OPERATOR_NAMES.get(code, f"CUSTOM_{code}")


def opcode_of(operator_code: Any) -> int:
    """The builtin code of a tflite.OperatorCode: schema v3a keeps codes > 127 in BuiltinCode, older files only
    in DeprecatedBuiltinCode, so the larger of the two is the real one."""
    return max(operator_code.BuiltinCode(), operator_code.DeprecatedBuiltinCode())


def model_operators(model: Any) -> list[str]:
    """The builtin operator names of a parsed tflite.Model, in its operator-code order."""
    return [operator_name(opcode_of(model.OperatorCodes(i))) for i in range(model.OperatorCodesLength())]
