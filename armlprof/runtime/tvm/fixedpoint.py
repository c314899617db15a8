"""TFLite's integer arithmetic, bit for bit, in Python (for parameters and look-up tables) and as TIR.

TFLM's reference kernels requantize with `MultiplyByQuantizedMultiplier` (double rounding: gemmlowp's
SaturatingRoundingDoublingHighMul then RoundingDivideByPOT — TFLITE_SINGLE_ROUNDING is off by default) and
derive the (multiplier, shift) pairs with `QuantizeMultiplier` (frexp + round half away from zero). The int8
softmax runs gemmlowp's fixed-point exp/reciprocal. Everything here mirrors those functions exactly; the
`*_tir` variants build the same arithmetic as TIR expressions for the generated operators.
"""

from __future__ import annotations

import math

import numpy as np

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


def _wrap32(x: int) -> int:
    return ((x + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def tflite_round(x: float) -> int:
    """TfLiteRound / std::round: half away from zero."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def quantize_multiplier(real_multiplier: float) -> tuple[int, int]:
    """QuantizeMultiplier: (Q31 significand, power-of-two exponent) with real = q * 2^(shift-31)."""
    if real_multiplier == 0.0:
        return 0, 0
    q, shift = math.frexp(real_multiplier)
    q_fixed = tflite_round(q * (1 << 31))
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        shift, q_fixed = 0, 0
    return int(q_fixed), int(shift)


def srdhm(a: int, b: int) -> int:
    """gemmlowp SaturatingRoundingDoublingHighMul for int32."""
    if a == b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else (1 - (1 << 30))
    return _trunc_div(ab + nudge, 1 << 31)


def _trunc_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def rdbpot(x: int, exponent: int) -> int:
    """gemmlowp RoundingDivideByPOT for int32."""
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def saturating_shift_left(x: int, exponent: int) -> int:
    """gemmlowp SaturatingRoundingMultiplyByPOT with a positive exponent."""
    threshold = (1 << (31 - exponent)) - 1
    if x > threshold:
        return INT32_MAX
    if x < -threshold:
        return INT32_MIN
    return _wrap32(x << exponent)


def multiply_by_quantized_multiplier(x: int, multiplier: int, shift: int) -> int:
    left = max(shift, 0)
    right = max(-shift, 0)
    return rdbpot(srdhm(_wrap32(x * (1 << left)), multiplier), right)


def dtype_range(dtype: str) -> tuple[int, int]:
    """The (min, max) of an int8 or int16 activation."""
    info = np.iinfo(dtype)
    return int(info.min), int(info.max)


def activation_range(activation: str, scale: float, zero_point: int, dtype: str = "int8") -> tuple[int, int]:
    """CalculateActivationRangeQuantized for int8 or int16 (f / scale in float32, as TFLM computes it)."""
    def quantize(f: float) -> int:
        return zero_point + tflite_round(float(np.float32(f) / np.float32(scale)))

    qmin, qmax = dtype_range(dtype)
    if activation == "NONE":
        return qmin, qmax
    if activation == "RELU":
        return max(qmin, quantize(0.0)), qmax
    if activation == "RELU6":
        return max(qmin, quantize(0.0)), min(qmax, quantize(6.0))
    if activation == "RELU_N1_TO_1":
        return max(qmin, quantize(-1.0)), min(qmax, quantize(1.0))
    raise ValueError(activation)


# ---- int8 softmax (TFLM softmax_common.cc + reference/softmax.h, gemmlowp fixedpoint.h) ----
SOFTMAX_SCALED_DIFF_INTEGER_BITS = 5
SOFTMAX_ACCUMULATION_INTEGER_BITS = 12


def softmax_params(beta: float, input_scale: float) -> tuple[int, int, int]:
    """PreprocessSoftmaxScaling + CalculateInputRadius: (input_multiplier, input_left_shift, diff_min)."""
    bits = SOFTMAX_SCALED_DIFF_INTEGER_BITS
    max_real_multiplier = (1 << 31) - 1.0
    real = min(float(beta) * float(input_scale) * (1 << (31 - bits)), max_real_multiplier)
    multiplier, left_shift = quantize_multiplier(real)
    max_input_rescaled = 1.0 * ((1 << bits) - 1) * (1 << (31 - bits)) / (1 << left_shift)
    diff_min = -math.floor(max_input_rescaled)
    return multiplier, left_shift, int(diff_min)


def _exp_on_interval_between_negative_one_quarter_and_0_excl(a: int) -> int:
    constant_term = 1895147668
    constant_1_over_3 = 715827883
    x = _wrap32(a + (1 << 28))
    x2 = srdhm(x, x)
    x3 = srdhm(x2, x)
    x4 = srdhm(x2, x2)
    x4_over_4 = rdbpot(x4, 2)
    inner = _wrap32(srdhm(_wrap32(x4_over_4 + x3), constant_1_over_3) + x2)
    poly = rdbpot(inner, 1)
    return _wrap32(constant_term + srdhm(constant_term, _wrap32(x + poly)))


def exp_on_negative_values(a: int, integer_bits: int = SOFTMAX_SCALED_DIFF_INTEGER_BITS) -> int:
    """gemmlowp exp_on_negative_values: FixedPoint<int32, integer_bits> -> FixedPoint<int32, 0> raw."""
    fractional_bits = 31 - integer_bits
    one_quarter = 1 << (fractional_bits - 2)
    mask = one_quarter - 1
    a_mod_quarter_minus_one_quarter = _wrap32((a & mask) - one_quarter)
    result = _exp_on_interval_between_negative_one_quarter_and_0_excl(
        saturating_shift_left(a_mod_quarter_minus_one_quarter, integer_bits))
    remainder = _wrap32(a_mod_quarter_minus_one_quarter - a)
    for exponent, multiplier in ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308),
                                 (2, 39332535), (3, 720401), (4, 242)):
        if integer_bits > exponent and remainder & (1 << (fractional_bits + exponent)):
            result = srdhm(result, multiplier)
    if integer_bits > 5:
        raise ValueError("integer_bits > 5 is not used by TFLite's int8 softmax")
    return INT32_MAX if a == 0 else result


def softmax_exp_tables(beta: float, input_scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Per input difference d = x - max in [-255, 0] (index d + 255): exp as Q0.31 and its Q12 accumulation term.

    Differences below diff_min are skipped by TFLM; an exp of 0 reproduces that exactly (it adds nothing to
    the sum and yields an output of -128)."""
    multiplier, left_shift, diff_min = softmax_params(beta, input_scale)
    exp_q31 = np.zeros(256, dtype=np.int32)
    for d in range(-255, 1):
        if d >= diff_min:
            rescaled = srdhm(_wrap32(d * (1 << left_shift)), multiplier)
            exp_q31[d + 255] = exp_on_negative_values(rescaled)
    accum = np.array([rdbpot(int(v), SOFTMAX_ACCUMULATION_INTEGER_BITS) for v in exp_q31], dtype=np.int32)
    return exp_q31, accum


def one_over_one_plus_x_for_x_in_0_1(a: int) -> int:
    """gemmlowp one_over_one_plus_x_for_x_in_0_1 (Python twin of the TIR version, for tests)."""
    s = a + INT32_MAX
    half_denominator = _trunc_div(s + (1 if s >= 0 else -1), 2)
    x = _wrap32(1515870810 + srdhm(half_denominator, -1010580540))
    for _ in range(3):
        half_denominator_times_x = srdhm(half_denominator, x)
        one_minus = _wrap32((1 << 29) - half_denominator_times_x)
        x = _wrap32(x + saturating_shift_left(srdhm(x, one_minus), 2))
    return saturating_shift_left(x, 1)


def softmax_reference(row: np.ndarray, beta: float, input_scale: float) -> np.ndarray:
    """TFLM's int8 softmax of one row, in Python (tests compare the generated C against this and TFLM)."""
    exp_q31, accum = softmax_exp_tables(beta, input_scale)
    row = row.astype(np.int64)
    diffs = row - row.max()
    total = int(sum(int(accum[d + 255]) for d in diffs))
    headroom_plus_one = 32 - total.bit_length()
    num_bits_over_unit = SOFTMAX_ACCUMULATION_INTEGER_BITS - headroom_plus_one
    shifted_sum_minus_one = _wrap32(((total << headroom_plus_one) & 0xFFFFFFFF) - (1 << 31))
    shifted_scale = one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one)
    exponent = num_bits_over_unit + 31 - 8
    out = [rdbpot(srdhm(shifted_scale, int(exp_q31[d + 255])), exponent) - 128 for d in diffs]
    return np.clip(np.array(out), -128, 127).astype(np.int8)


# ---- int8 LOGISTIC and TANH (TFLM logistic_common.cc / tanh.cc Prepare, reference_integer_ops, gemmlowp) ----
def _one_over_one_plus_x_newton(a: int) -> int:
    """gemmlowp's shared Newton-Raphson iterate x ~ 1/(1+a) as FixedPoint<int32, 2> raw."""
    s = a + INT32_MAX
    half_denominator = _trunc_div(s + (1 if s >= 0 else -1), 2)
    x = _wrap32(1515870810 + srdhm(half_denominator, -1010580540))
    for _ in range(3):
        one_minus = _wrap32((1 << 29) - srdhm(half_denominator, x))
        x = _wrap32(x + saturating_shift_left(srdhm(x, one_minus), 2))
    return x


def one_minus_x_over_one_plus_x_for_x_in_0_1(a: int) -> int:
    return saturating_shift_left(_wrap32(_one_over_one_plus_x_newton(a) - (1 << 29)), 2)


def gemmlowp_logistic(a: int, integer_bits: int = 4) -> int:
    """gemmlowp logistic: FixedPoint<int32, integer_bits> raw -> FixedPoint<int32, 0> raw."""
    if a == 0:
        return 1 << 30
    magnitude = a if a > 0 else _wrap32(-a)
    positive = one_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(_wrap32(-magnitude), integer_bits))
    return positive if a > 0 else _wrap32(INT32_MAX - positive)


def gemmlowp_tanh(a: int, integer_bits: int = 4) -> int:
    """gemmlowp tanh (its exp runs on ExactMulByPot<1>(x): the same raw with one more integer bit)."""
    if a == 0:
        return 0
    negative = a if a < 0 else _wrap32(-a)
    t = one_minus_x_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(negative, integer_bits + 1))
    return _wrap32(-t) if a < 0 else t


def _sigmoid_input_params(input_scale: float) -> tuple[int, int, int]:
    """(input_multiplier, input_left_shift, input_range_radius) as TFLM's int8 LOGISTIC/TANH Prepare derive them."""
    q, left_shift = math.frexp(float(np.float32(input_scale)) * (1 << (31 - 4)))
    multiplier = _wrap32(tflite_round(q * (1 << 31)))  # static_cast<int32_t>: 2^31 wraps as on the device
    radius = math.floor(1.0 * 15 * (1 << 27) / 2.0 ** left_shift)
    return multiplier, left_shift, radius


def sigmoid_table(kind: str, input_scale: float, input_zero_point: int) -> np.ndarray:
    """int8 output for each int8 input (index input + 128) of TFLM's int8 LOGISTIC or TANH kernel."""
    multiplier, left_shift, radius = _sigmoid_input_params(input_scale)
    table = np.zeros(256, dtype=np.int8)
    for q in range(-128, 128):
        x = q - input_zero_point
        if x <= -radius:
            out = -128
        elif x >= radius:
            out = 127
        else:
            q4 = multiply_by_quantized_multiplier(x, multiplier, left_shift)
            if kind == "LOGISTIC":
                out = rdbpot(gemmlowp_logistic(q4), 31 - 8) - 128
            else:
                out = rdbpot(gemmlowp_tanh(q4), 31 - 7)
            out = min(max(out, -128), 127)
        table[q + 128] = out
    return table


# ---- int8 MEAN (TFLM reduce_common.cc PrepareMeanOrSumHelper + reference_ops::QuantizedMeanOrSum) ----
def mean_multiplier(input_scale: float, output_scale: float, num_elements: int) -> tuple[int, int]:
    """(multiplier, shift) that QuantizedMeanOrSum applies to sum(x) - zp*n: the input/output rescale with the
    1/n folded into the multiplier (floor(log2 n) bits of extra precision, capped at 32 and at 31 + shift)."""
    multiplier, shift = quantize_multiplier(float(np.float32(input_scale)) / float(np.float32(output_scale)))
    extra = min(num_elements.bit_length() - 1, 32, 31 + shift)
    return _wrap32((multiplier << extra) // num_elements), shift - extra


# ---- int8 HARD_SWISH (TFLM hard_swish_common.cc Prepare + reference_ops::HardSwish, 16-bit gemmlowp) ----
def _wrap16(x: int) -> int:
    return ((x + (1 << 15)) & 0xFFFF) - (1 << 15)


def _srdhm16(a: int, b: int) -> int:
    """gemmlowp SaturatingRoundingDoublingHighMul for int16."""
    if a == b == -(1 << 15):
        return (1 << 15) - 1
    ab = a * b
    return _wrap16(_trunc_div(ab + ((1 << 14) if ab >= 0 else 1 - (1 << 14)), 1 << 15))


def _sdhm16(a: int, b: int) -> int:
    """reference_ops::SaturatingDoublingHighMul: as above but rounding toward zero."""
    if a == b == -(1 << 15):
        return (1 << 15) - 1
    return _wrap16(_trunc_div(a * b, 1 << 15))


def _rdbpot16(x: int, exponent: int) -> int:
    """gemmlowp RoundingDivideByPOT<int16_t>: its mask is (1ll << exponent) - 1 cut to 16 bits, so exponents of
    16 and more behave as the device code does (mask -1), not as an exact division."""
    mask = _wrap16((1 << exponent) - 1)
    remainder = _wrap16(x & mask)
    threshold = _wrap16((mask >> 1) + (1 if x < 0 else 0))
    return _wrap16((x >> exponent) + (1 if remainder > threshold else 0))


def _saturating_left_shift16(x: int, amount: int) -> int:
    return min(max(x * (1 << amount), -(1 << 15)), (1 << 15) - 1)


def _downscale_to_int16(multiplier: int) -> int:
    """DownScaleInt32ToInt16Multiplier."""
    if multiplier >= INT32_MAX - (1 << 15):
        return (1 << 15) - 1
    return (multiplier + (1 << 15)) >> 16


def hard_swish_params(input_scale: float, output_scale: float) -> tuple[int, int, int, int]:
    """(output multiplier int16, output exponent, reluish multiplier int16, reluish exponent), with TFLM's float32
    scale arithmetic; the output exponent must be <= 0 (TFLM's Prepare fails otherwise)."""
    hires = np.float32(1.0 / 128.0) * np.float32(input_scale)
    out_m, out_e = quantize_multiplier(float(np.float32(hires / np.float32(output_scale))))
    relu_m, relu_e = quantize_multiplier(float(np.float32(hires / np.float32(3.0 / 32768.0))))
    return _downscale_to_int16(out_m), out_e, _downscale_to_int16(relu_m), relu_e


def hard_swish_table(input_scale: float, input_zero_point: int, output_scale: float,
                     output_zero_point: int) -> np.ndarray:
    """int8 output for each int8 input (index input + 128) of reference_ops::HardSwish, step by step in int16."""
    out_m, out_e, relu_m, relu_e = hard_swish_params(input_scale, output_scale)
    table = np.zeros(256, dtype=np.int8)
    for q in range(-128, 128):
        hires = _wrap16(_wrap16(q - input_zero_point) * (1 << 7))
        preshift_output = _srdhm16(hires, out_m)
        reluish = hires
        if relu_e > 0:
            reluish = _saturating_left_shift16(reluish, relu_e - 1)
        reluish = _srdhm16(reluish, relu_m)
        if relu_e > 0:
            reluish = _saturating_left_shift16(reluish, 1)
        if relu_e < 0:
            reluish = _rdbpot16(reluish, -relu_e)
        reluish = _wrap16((reluish + (1 << 15)) >> 1)
        out = _wrap16(_rdbpot16(_sdhm16(reluish, preshift_output), -out_e) + output_zero_point)
        table[q + 128] = min(max(out, -128), 127)
    return table
