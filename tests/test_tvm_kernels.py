"""armlprof's Cortex-M4 micro-kernels (runtime/tvm/c/armlprof_kernels.c) and their schedules.

Every variant against an independent numpy model of TFLM's reference convolution / depthwise / fully connected
(int32 accumulation, MultiplyByQuantizedMultiplier with double rounding) on the host (portable C path, UBSan),
over geometries that reach every code path (im2col with padding and dilation, interior row segments, direct 1x1,
channel and depth padding, staged and unstaged weights, depthwise pixel chunks); int8 extremes; the DSP path's
requantization shortcut against fixedpoint.py. The host runs the portable C of the DSP instructions and of the
depthwise 3x3 tap block (hand-allocated assembly on the M4). The DSP path of whole
models on the emulated boards: tests/test_onboard_exact.py and test_tvm_tuning.py.
"""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from armlprof.runtime.tvm import fixedpoint as fp
from armlprof.runtime.tvm import kernels

C_DIR = Path(kernels.__file__).resolve().parent / "c"

HARNESS = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "armlprof_kernels.h"
typedef int32_t (*fn_t)(ARMLPROF_CONV_ARGS);
static const struct { const char *name; fn_t fn; } table[] = {
#define F(n) {#n, n},
@TABLE@
};
static void *read_block(size_t n) {
  void *p = malloc(n ? n : 1);
  if (fread(p, 1, n, stdin) != n) exit(4);
  return p;
}
int main(int argc, char **argv) {
  fn_t fn = NULL;
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
    if (!strcmp(table[i].name, argv[1])) fn = table[i].fn;
  if (!fn) return 2;
  int32_t a[22];
  if (fread(a, 4, 22, stdin) != 22) return 3;
  int8_t *in = read_block((size_t)a[18]), *w = read_block((size_t)a[19]);
  int32_t *qp = read_block((size_t)a[20] * 4);
  int8_t *out = malloc((size_t)a[21]);
  if (fn(in, w, qp, out, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13],
         a[14], a[15], a[16], a[17]) != 0)
    return 5;
  fwrite(out, 1, (size_t)a[21], stdout);
  return 0;
}
"""


def _host_harness(tmp_path_factory, name: str, source: str) -> Path:
    """`source` built on the host with the kernel library's portable C (UBSan: any undefined behaviour aborts)."""
    if shutil.which("gcc") is None:
        pytest.skip("host gcc not installed")
    root = tmp_path_factory.mktemp(name)
    (root / f"{name}.c").write_text(source)
    exe = root / name
    subprocess.run(["gcc", "-std=c11", "-O1", "-Wall", "-Werror", "-fsanitize=undefined",
                    "-fno-sanitize-recover=undefined", "-I", str(C_DIR), "-o", str(exe), str(root / f"{name}.c"),
                    str(C_DIR / "armlprof_kernels.c")], check=True, capture_output=True, text=True)
    return exe


@pytest.fixture(scope="module")
def harness(tmp_path_factory) -> Path:
    every = dict.fromkeys(kernels.c_function(f, v) for f in ("gemm", "c1", "pw", "dw") for v in kernels.variants_for(f))
    return _host_harness(tmp_path_factory, "harness", HARNESS.replace("@TABLE@", " ".join(f"F({n})" for n in every)))


def _requantize(acc: np.ndarray, mults: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """MultiplyByQuantizedMultiplier per channel (last axis), vectorized, written from gemmlowp's definitions."""
    left = np.maximum(shifts, 0).astype(np.int64)
    right = np.maximum(-shifts, 0).astype(np.int64)
    x = acc.astype(np.int64) * (np.int64(1) << left)
    x = ((x + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)  # int32 wrap
    ab = x * mults.astype(np.int64)
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    num = ab + nudge
    high = np.where(num >= 0, num >> 31, -((-num) >> 31))  # truncating division by 2^31
    mask = (np.int64(1) << right) - 1
    remainder = high & mask
    threshold = (mask >> 1) + (high < 0)
    return (high >> right) + (remainder > threshold)


def _reference(x, w, bias, mults, shifts, g: kernels.Geometry, in_zp, out_zp, lo, hi, depthwise: bool):
    """TFLM's reference kernels: taps outside the input skipped, (x - in_zp) * w accumulated in int32."""
    xp = np.full((g.in_h + 2 * g.k_h * g.d_h + g.out_h * g.s_h, g.in_w + 2 * g.k_w * g.d_w + g.out_w * g.s_w,
                  g.in_c), in_zp, dtype=np.int64)  # padded with the zero point: padding taps contribute 0
    oy0, ox0 = g.k_h * g.d_h, g.k_w * g.d_w
    xp[oy0:oy0 + g.in_h, ox0:ox0 + g.in_w] = x
    acc = np.zeros((g.out_h, g.out_w, g.out_c), dtype=np.int64)
    for ky in range(g.k_h):
        for kx in range(g.k_w):
            y0 = oy0 - g.pad_t + ky * g.d_h
            x0 = ox0 - g.pad_l + kx * g.d_w
            win = xp[y0:y0 + (g.out_h - 1) * g.s_h + 1:g.s_h, x0:x0 + (g.out_w - 1) * g.s_w + 1:g.s_w] - in_zp
            if depthwise:
                acc += win * w[0, ky, kx, :].astype(np.int64)
            else:
                acc += win @ w[:, ky, kx, :].astype(np.int64).T
    out = _requantize(acc + bias, mults, shifts) + out_zp
    return np.clip(out, lo, hi).astype(np.int8)


CASES = {
    # name: (family, geometry, activation range)
    "conv3x3_s2_same_c1": ("gemm", kernels.Geometry(11, 10, 1, 6, 5, 8, 3, 3, 2, 2, 1, 1, 1, 1), (-128, 127)),
    "conv10x8_s2_c1_segments": ("gemm", kernels.Geometry(17, 14, 1, 9, 7, 8, 10, 8, 2, 2, 1, 1, 4, 3), (-30, 90)),
    "conv1x1_c8_oc6_direct": ("gemm", kernels.Geometry(5, 7, 8, 5, 7, 6), (-128, 127)),
    "conv3x3_c5_dilated": ("gemm", kernels.Geometry(9, 9, 5, 7, 7, 7, 3, 3, 1, 1, 2, 2, 1, 1), (-128, 100)),
    "conv2x3_c12_valid": ("gemm", kernels.Geometry(6, 8, 12, 5, 6, 4, 2, 3, 1, 1, 1, 1, 0, 0), (-128, 127)),
    "fc_depth37_units5": ("gemm", kernels.Geometry(2, 1, 37, 2, 1, 5), (-128, 127)),
    "dw3x3_s1_c8": ("dw", kernels.Geometry(7, 6, 8, 7, 6, 8, 3, 3, 1, 1, 1, 1, 1, 1), (-128, 127)),
    "dw3x3_s2_c16": ("dw", kernels.Geometry(9, 8, 16, 5, 4, 16, 3, 3, 2, 2, 1, 1, 1, 1), (-60, 127)),
    "dw5x5_dilated_c4": ("dw", kernels.Geometry(10, 9, 4, 10, 9, 4, 5, 5, 1, 1, 2, 1, 4, 2), (-128, 127)),
    # r1: pixel chunks (48) that end mid-row, valid padding at stride 2, dilation with stride, a kernel larger than
    # its tap stage (64 > 49 taps: the unstaged path); gemm: weights too large for the stack stage
    "dw3x3_s1_c4_chunks": ("dw", kernels.Geometry(10, 13, 4, 10, 13, 4, 3, 3, 1, 1, 1, 1, 1, 1), (-128, 127)),
    "dw3x3_s2_valid_c12": ("dw", kernels.Geometry(9, 9, 12, 4, 4, 12, 3, 3, 2, 2, 1, 1, 0, 0), (-128, 127)),
    "dw3x3_s2_dilated_c8": ("dw", kernels.Geometry(11, 10, 8, 6, 5, 8, 3, 3, 2, 2, 2, 2, 2, 2), (-100, 110)),
    "dw8x8_c4_unstaged": ("dw", kernels.Geometry(10, 10, 4, 3, 3, 4, 8, 8, 1, 1, 1, 1, 0, 0), (-128, 127)),
    # r1 pads small padded inputs into a stack buffer (every case above); one too large for it (42x42x12 > 16 KiB)
    # keeps the border path
    "dw3x3_s1_c12_border_path": ("dw", kernels.Geometry(40, 40, 12, 40, 40, 12, 3, 3, 1, 1, 1, 1, 1, 1), (-128, 127)),
    # t3 (3x3 channel planes): stride 1 and 2 with SAME padding, odd and even widths and heights (the odd last
    # output of a stride-1 row, odd pad_l: a plane word straddling the left border), VALID with unread input columns,
    # 4 and 64 channels, one pixel; wide layers split into bands of rows (rows past the 24 KiB plane buffer), rows
    # longer than a requantization chunk (192 pixels) split into pieces, a row too wide for the buffer (r1's path);
    # r1's path for strides that differ per axis
    "t3_s1_same_odd_c4": ("dw", kernels.Geometry(7, 9, 4, 7, 9, 4, 3, 3, 1, 1, 1, 1, 1, 1), (-128, 127)),
    "t3_s1_same_even_c8": ("dw", kernels.Geometry(6, 6, 8, 6, 6, 8, 3, 3, 1, 1, 1, 1, 1, 1), (-128, 127)),
    "t3_s2_same_even_c8": ("dw", kernels.Geometry(12, 12, 8, 6, 6, 8, 3, 3, 2, 2, 1, 1, 0, 0), (-100, 127)),
    "t3_s2_same_odd_c4": ("dw", kernels.Geometry(11, 13, 4, 6, 7, 4, 3, 3, 2, 2, 1, 1, 1, 1), (-128, 127)),
    "t3_s1_valid_c64": ("dw", kernels.Geometry(5, 8, 64, 3, 5, 64, 3, 3, 1, 1, 1, 1, 0, 0), (-128, 127)),
    "t3_s2_valid_c12_unread_column": ("dw", kernels.Geometry(8, 8, 12, 3, 3, 12, 3, 3, 2, 2, 1, 1, 0, 0), (-128, 127)),
    "t3_s1_pad2_c4": ("dw", kernels.Geometry(5, 7, 4, 5, 9, 4, 3, 3, 1, 1, 1, 1, 1, 2), (-128, 127)),
    "t3_s1_one_pixel_c4": ("dw", kernels.Geometry(1, 1, 4, 1, 1, 4, 3, 3, 1, 1, 1, 1, 1, 1), (-128, 127)),
    "t3_s1_bands_c4": ("dw", kernels.Geometry(90, 60, 4, 90, 60, 4, 3, 3, 1, 1, 1, 1, 1, 1), (-128, 127)),
    "t3_s2_bands_c4": ("dw", kernels.Geometry(120, 61, 4, 60, 31, 4, 3, 3, 2, 2, 1, 1, 0, 0), (-128, 127)),
    "t3_s1_row_pieces_c4": ("dw", kernels.Geometry(4, 200, 4, 4, 200, 4, 3, 3, 1, 1, 1, 1, 1, 1), (-128, 127)),
    "t3_s2_row_pieces_c4": ("dw", kernels.Geometry(8, 401, 4, 4, 201, 4, 3, 3, 2, 2, 1, 1, 1, 1), (-128, 127)),
    "t3_row_too_wide_c4": ("dw", kernels.Geometry(3, 1600, 4, 3, 1600, 4, 3, 3, 1, 1, 1, 1, 1, 1), (-128, 127)),
    "t3_strides_differ_c4": ("dw", kernels.Geometry(9, 9, 4, 9, 5, 4, 3, 3, 1, 2, 1, 1, 1, 1), (-128, 127)),
    # f3 (t3's planes and constants; the fused rows and the assembly plane conversion run only on the M4:
    # test_tvm_tuning.py): person_detect's 48x48x8 and 6x6x128 (stride 1), 48x48x16 -> 24x24 (stride 2) and the odd
    # 3x3x256 (t3's rows), rows of units and a pair, of a pair only (both strides), VALID at stride 2, the widest
    # rows of the fixed plane stride (52 outputs) and one past it (54: t3's portable rows)
    "f3_s1_48x48_c8": ("dw", kernels.Geometry(48, 48, 8, 48, 48, 8, 3, 3, 1, 1, 1, 1, 1, 1), (-128, 127)),
    "f3_s1_6x6_c128": ("dw", kernels.Geometry(6, 6, 128, 6, 6, 128, 3, 3, 1, 1, 1, 1, 1, 1), (-128, 127)),
    "f3_s2_48x48_c16": ("dw", kernels.Geometry(48, 48, 16, 24, 24, 16, 3, 3, 2, 2, 1, 1, 0, 0), (-128, 127)),
    "f3_s1_3x3_c256_odd": ("dw", kernels.Geometry(3, 3, 256, 3, 3, 256, 3, 3, 1, 1, 1, 1, 1, 1), (-128, 127)),
    "f3_s1_units_pair_c12": ("dw", kernels.Geometry(9, 10, 12, 9, 10, 12, 3, 3, 1, 1, 1, 1, 1, 1), (-128, 127)),
    "f3_s1_pair_only_c4": ("dw", kernels.Geometry(2, 2, 4, 2, 2, 4, 3, 3, 1, 1, 1, 1, 1, 1), (-128, 127)),
    "f3_s2_pair_only_c4": ("dw", kernels.Geometry(3, 3, 4, 2, 2, 4, 3, 3, 2, 2, 1, 1, 1, 1), (-128, 127)),
    "f3_s2_valid_c20": ("dw", kernels.Geometry(13, 13, 20, 6, 6, 20, 3, 3, 2, 2, 1, 1, 0, 0), (-128, 127)),
    "f3_s1_rows_52_c4": ("dw", kernels.Geometry(3, 52, 4, 3, 52, 4, 3, 3, 1, 1, 1, 1, 1, 1), (-128, 127)),
    "f3_s1_rows_54_c4": ("dw", kernels.Geometry(3, 54, 4, 3, 54, 4, 3, 3, 1, 1, 1, 1, 1, 1), (-128, 127)),
    "fc_depth600_units5_unstaged": ("gemm", kernels.Geometry(2, 1, 600, 2, 1, 5), (-128, 127)),
    # c1 (one input channel, padded stack buffer): the first layers of micro_speech (49x40, 10x8 stride 2 SAME)
    # and person_detect (96x96, 3x3 stride 2 SAME: no top/left padding), odd widths, VALID, stride 1 and mixed,
    # kernel rows of 5 taps widened to 8, output channels not a multiple of the tile, the same shapes as gemm
    "c1_micro_speech_first": ("c1", kernels.Geometry(49, 40, 1, 25, 20, 8, 10, 8, 2, 2, 1, 1, 4, 3), (-128, 127)),
    "c1_person_detect_first": ("c1", kernels.Geometry(96, 96, 1, 48, 48, 8, 3, 3, 2, 2, 1, 1, 0, 0), (-128, 127)),
    "c1_3x3_s2_same_odd": ("c1", kernels.Geometry(11, 13, 1, 6, 7, 8, 3, 3, 2, 2, 1, 1, 1, 1), (-128, 127)),
    "c1_10x8_s2_c1_segments": ("c1", kernels.Geometry(17, 14, 1, 9, 7, 8, 10, 8, 2, 2, 1, 1, 4, 3), (-30, 90)),
    "c1_5x5_s1_valid_oc6": ("c1", kernels.Geometry(9, 11, 1, 5, 7, 6, 5, 5, 1, 1, 1, 1, 0, 0), (-128, 127)),
    "c1_3x5_s1x2_same_oc3": ("c1", kernels.Geometry(7, 15, 1, 7, 8, 3, 3, 5, 1, 2, 1, 1, 1, 2), (-100, 127)),
    "c1_1x1_s1_oc4": ("c1", kernels.Geometry(3, 5, 1, 3, 5, 4), (-128, 127)),
    # s4 (sliding pixel pairs at stride 2): rows of 5 taps (4 pair steps), odd widths (a phantom pixel per row),
    # accumulator chunks ending mid-row, rows of 1 and 12 taps (the portable steps on the M4 too), an odd left pad,
    # even widths (runs of whole rows; the study layers) and one wider than the chunk (split rows);
    # then what it hands to d4: an int16 buffer over its limit (the int8 one still fits); a weight stage at its
    # limit (768 words, as d4's: kernels.py picks c1 only when that fits)
    "c1_5x5_s2_same_oc6": ("c1", kernels.Geometry(13, 15, 1, 7, 8, 6, 5, 5, 2, 2, 1, 1, 2, 2), (-128, 127)),
    "c1_4x8_s2_chunks_oc5": ("c1", kernels.Geometry(30, 29, 1, 13, 13, 5, 4, 8, 2, 2, 1, 1, 1, 3), (-128, 127)),
    "c1_3x1_s2_odd": ("c1", kernels.Geometry(9, 9, 1, 5, 5, 4, 3, 1, 2, 2, 1, 1, 1, 0), (-128, 127)),
    "c1_5x12_s2_oc7": ("c1", kernels.Geometry(12, 30, 1, 6, 15, 7, 5, 12, 2, 2, 1, 1, 2, 5), (-128, 127)),
    "c1_3x3_s2_rows_over_chunk": ("c1", kernels.Geometry(5, 341, 1, 2, 170, 4, 3, 3, 2, 2, 1, 1, 0, 0), (-128, 127)),
    "c1_104_3x3_s2_wide_buffer": ("c1", kernels.Geometry(104, 104, 1, 52, 52, 8, 3, 3, 2, 2, 1, 1, 0, 0),
                                  (-128, 127)),
    "c1_48x8_s2_large_stage": ("c1", kernels.Geometry(50, 20, 1, 2, 7, 4, 48, 8, 2, 2, 1, 1, 0, 0), (-128, 127)),
    # pw (1x1 stride 1 / fully connected, in_c % 4 == 0, GEMM rows in place): 1, 2, odd and even longer word
    # counts per row (the row loops), output channels not a multiple of 4, a pixel count past the 48-pixel chunk
    "pw_c4_oc5": ("pw", kernels.Geometry(7, 9, 4, 7, 9, 5), (-128, 127)),
    "pw_c8_oc16_chunks": ("pw", kernels.Geometry(10, 11, 8, 10, 11, 16), (-100, 120)),
    "pw_c12_oc3": ("pw", kernels.Geometry(3, 4, 12, 3, 4, 3), (-128, 127)),
    "pw_c32_oc8": ("pw", kernels.Geometry(5, 5, 32, 5, 5, 8), (-128, 127)),
    "pw_fc_depth44_units6": ("pw", kernels.Geometry(2, 1, 44, 2, 1, 6), (-128, 127)),
    # d4p2 (pixel pairs): k/2 pairs with 2 or 4 peeled before the 4-pair loop (k 20: 10 pairs, 24: 12), odd pixel
    # counts (the last pixel paired with itself), chunks of the extended-input buffer (k 128: 36 pixels, k 256:
    # 18, k 384 = the pw limit: 12, balanced: 49 -> 26 + 23), a one-pixel fully connected layer
    "pw_c20_oc7_odd_pixels": ("pw", kernels.Geometry(7, 7, 20, 7, 7, 7), (-128, 127)),
    "pw_c24_oc4": ("pw", kernels.Geometry(3, 6, 24, 3, 6, 4), (-128, 127)),
    "pw_c128_oc9_two_chunks": ("pw", kernels.Geometry(7, 7, 128, 7, 7, 9), (-128, 127)),
    "pw_c256_oc6_chunks": ("pw", kernels.Geometry(4, 5, 256, 4, 5, 6), (-128, 127)),
    "pw_c384_oc3_odd_chunk": ("pw", kernels.Geometry(3, 5, 384, 3, 5, 3), (-128, 127)),
    "pw_fc_depth64_units10_one_pixel": ("pw", kernels.Geometry(1, 1, 64, 1, 1, 10), (-128, 127)),
    # f4p2 (weights in FPU registers per block of 8 k pairs; the cases above too): one block of 8 k pairs (16), a first
    # block of 6 before an 8-pair one (28), a middle block over two chunks of the accumulator buffer (36, 117 pixels:
    # 60 + 57), odd multiples of 16 (48: 3 blocks, 272: 17), odd pixel counts, output channels not in fours
    "pw_c16_oc12_one_block": ("pw", kernels.Geometry(5, 7, 16, 5, 7, 12), (-128, 127)),
    "pw_c28_oc5_first_block_6": ("pw", kernels.Geometry(3, 5, 28, 3, 5, 5), (-128, 127)),
    "pw_c36_oc8_middle_block_chunks": ("pw", kernels.Geometry(13, 9, 36, 13, 9, 8), (-128, 127)),
    "pw_c48_oc6_three_blocks": ("pw", kernels.Geometry(4, 4, 48, 4, 4, 6), (-100, 127)),
    "pw_c272_oc5_seventeen_blocks": ("pw", kernels.Geometry(3, 3, 272, 3, 3, 5), (-128, 127)),
    # f4p2's odd last pixel computed alone (blocks of several) or paired with itself (one block): 1, 3, 9, 63
    # pixels over one block (8, 16), 2 (32), 8 (128, the last fused) and 16 blocks (256), accumulator-buffer paths
    "pw_c8_oc8_9_pixels": ("pw", kernels.Geometry(3, 3, 8, 3, 3, 8), (-128, 127)),
    "pw_c16_oc4_one_pixel": ("pw", kernels.Geometry(1, 1, 16, 1, 1, 4), (-128, 127)),
    "pw_c32_oc8_3_pixels": ("pw", kernels.Geometry(1, 3, 32, 1, 3, 8), (-128, 127)),
    "pw_c128_oc8_9_pixels": ("pw", kernels.Geometry(3, 3, 128, 3, 3, 8), (-128, 127)),
    "pw_c128_oc4_one_pixel": ("pw", kernels.Geometry(1, 1, 128, 1, 1, 4), (-128, 127)),
    "pw_c256_oc8_63_pixels": ("pw", kernels.Geometry(7, 9, 256, 7, 9, 8), (-128, 127)),
    "pw_c256_oc6_9_pixels_buffer": ("pw", kernels.Geometry(3, 3, 256, 3, 3, 6), (-100, 127)),
}


def _case_data(family: str, g: kernels.Geometry, seed: int):
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, (g.in_h, g.in_w, g.in_c), dtype=np.int64)
    if family == "dw":
        w = rng.integers(-127, 128, (1, g.k_h, g.k_w, g.out_c), dtype=np.int64).astype(np.int8)
    else:
        w = rng.integers(-127, 128, (g.out_c, g.k_h, g.k_w, g.in_c), dtype=np.int64).astype(np.int8)
    bias = rng.integers(-20000, 20000, g.out_c)
    taps = g.k_h * g.k_w * (1 if family == "dw" else g.in_c)
    scales = rng.uniform(0.5, 2.0, g.out_c) * 60.0 / (5500.0 * np.sqrt(taps))  # outputs mostly inside int8
    scales[0] = 1.7  # one channel with a left shift (the slow requantization path)
    qm = [fp.quantize_multiplier(float(s)) for s in scales]
    mults = np.array([m for m, _ in qm], dtype=np.int64)
    shifts = np.array([s for _, s in qm], dtype=np.int64)
    return x, w, bias, mults, shifts, int(rng.integers(-128, 128)), int(rng.integers(-20, 20))


def _call(harness: Path, function: str, g: kernels.Geometry, x, weights, qp, in_zp, out_zp, lo, hi):
    n_out = g.out_h * g.out_w * g.out_c
    header = np.array([*g.as_args(), in_zp, out_zp, lo, hi, x.size, weights.size, qp.size, n_out], dtype=np.int32)
    blob = header.tobytes() + x.astype(np.int8).tobytes() + weights.astype(np.int8).tobytes() + \
        qp.astype(np.int32).tobytes()
    return subprocess.run([str(harness), function], input=blob, capture_output=True, timeout=60)


def _run(harness: Path, function: str, g: kernels.Geometry, x, weights, qp, in_zp, out_zp, lo, hi) -> np.ndarray:
    run = _call(harness, function, g, x, weights, qp, in_zp, out_zp, lo, hi)
    assert run.returncode == 0, run.stderr.decode()[-2000:]  # 5: the kernel returned an error
    return np.frombuffer(run.stdout, dtype=np.int8).reshape(g.out_h, g.out_w, g.out_c)


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_variant_matches_reference(harness, case: str) -> None:
    family, g, (lo, hi) = CASES[case]
    for seed in range(3):
        x, w, bias, mults, shifts, in_zp, out_zp = _case_data(family, g, seed)
        want = _reference(x, w, bias, mults, shifts, g, in_zp, out_zp, lo, hi, family == "dw")
        assert len(np.unique(want)) > 3  # the outputs vary, so equality means something
        for variant in kernels.variants_for(family):
            if family in ("gemm", "c1", "pw"):
                tile = int(variant[1])
                packed = (kernels.pack_c1_weights if family == "c1" else kernels.pack_gemm_weights)(w, tile)
                folded = bias + (-in_zp) * w.reshape(g.out_c, -1).astype(np.int64).sum(axis=1)
                qp = kernels.requant_params(folded, mults, shifts, -(-g.out_c // tile) * tile)
                # the function build() calls: s4 where f4 does not run its own path
                planned = "s4" if variant == "f4" and not kernels.c1_f4_covers(g, qp, lo, hi) else variant
                function = kernels.c_function(family, planned)
            else:  # the function build() calls: r1 where the variant leaves the layer to it
                function, packed, qp = kernels.dw_kernel(variant, w, bias, mults, shifts, g, out_zp, lo, hi, in_zp)
            got = _run(harness, function, g, x, packed, qp, in_zp, out_zp, lo, hi)
            assert np.array_equal(got, want), f"{case} {variant} seed {seed}: " \
                f"{int((got != want).sum())} of {want.size} outputs differ"


# The fused variants (dw n3, c1 f4) take their own path only when every channel is on the folded fast path (a right
# shift, no left shift beyond 7, no clamp inside int8); the CASES above force a left-shift channel, so there they run
# their fallback (r1, s4), as for their other limits (n3: not 3x3, dilated, a clamp, the padded buffer over 16 KiB;
# f4: not 3 rows of up to 3 taps, stride along the row other than 2, an odd output width or one over 48, channels not
# in fours). Here their own paths. n3: stride 1 and 2, SAME and VALID, odd and even sizes, borders on every side
# (pad_l 2), strides that differ per axis, one pixel, in_c 4 to 256 (12 and 20: not multiples of 8), person_detect's
# 6x6 and 3x3 layers, the buffer at its limit (and just over it: r1). f4: person_detect's first layer, SAME with
# top/left padding, 2- and 1-tap rows, stride 1 down the columns, 4 and 12 channels, one output row, 50 outputs a row
# (s4's path).
FAST_CASES = {
    "n3_pd_12x12x64_s2": ("dw", "n3", kernels.Geometry(12, 12, 64, 6, 6, 64, 3, 3, 2, 2, 1, 1, 0, 0)),
    "n3_pd_6x6x128_s2": ("dw", "n3", kernels.Geometry(6, 6, 128, 3, 3, 128, 3, 3, 2, 2, 1, 1, 0, 0)),
    "n3_pd_3x3x256_s1": ("dw", "n3", kernels.Geometry(3, 3, 256, 3, 3, 256, 3, 3, 1, 1, 1, 1, 1, 1)),
    "n3_s1_same_odd_c4": ("dw", "n3", kernels.Geometry(7, 9, 4, 7, 9, 4, 3, 3, 1, 1, 1, 1, 1, 1)),
    "n3_s2_same_odd_c12": ("dw", "n3", kernels.Geometry(11, 13, 12, 6, 7, 12, 3, 3, 2, 2, 1, 1, 1, 1)),
    "n3_s1_valid_c20": ("dw", "n3", kernels.Geometry(5, 8, 20, 3, 6, 20, 3, 3, 1, 1, 1, 1, 0, 0)),
    "n3_s2_valid_c12_unread_column": ("dw", "n3", kernels.Geometry(8, 8, 12, 3, 3, 12, 3, 3, 2, 2, 1, 1, 0, 0)),
    "n3_s1_pad2_c8": ("dw", "n3", kernels.Geometry(5, 7, 8, 5, 9, 8, 3, 3, 1, 1, 1, 1, 1, 2)),
    "n3_strides_differ_c4": ("dw", "n3", kernels.Geometry(9, 9, 4, 9, 5, 4, 3, 3, 1, 2, 1, 1, 1, 1)),
    "n3_one_pixel_c4": ("dw", "n3", kernels.Geometry(1, 1, 4, 1, 1, 4, 3, 3, 1, 1, 1, 1, 1, 1)),
    "n3_buffer_at_limit_c256": ("dw", "n3", kernels.Geometry(8, 8, 256, 6, 6, 256, 3, 3, 1, 1, 1, 1, 0, 0)),
    "n3_buffer_over_limit_c260": ("dw", "n3", kernels.Geometry(8, 8, 260, 6, 6, 260, 3, 3, 1, 1, 1, 1, 0, 0)),
    # q3: person_detect's stride-2 layers (4-output units only; a unit and a pair; a pair and a single), a left pad
    # with an odd height and 7 outputs a row (unit, pair, single), VALID with an unread column, bands (80 output
    # rows), rows at the plane limit (27 outputs) and just over it (28: f3), stride 1 (f3)
    "q3_pd_48x48x16_s2": ("dw", "q3", kernels.Geometry(48, 48, 16, 24, 24, 16, 3, 3, 2, 2, 1, 1, 0, 0)),
    "q3_pd_12x12x64_s2": ("dw", "q3", kernels.Geometry(12, 12, 64, 6, 6, 64, 3, 3, 2, 2, 1, 1, 0, 0)),
    "q3_pd_6x6x128_s2": ("dw", "q3", kernels.Geometry(6, 6, 128, 3, 3, 128, 3, 3, 2, 2, 1, 1, 0, 0)),
    "q3_s2_same_odd_c12": ("dw", "q3", kernels.Geometry(11, 13, 12, 6, 7, 12, 3, 3, 2, 2, 1, 1, 1, 1)),
    "q3_s2_valid_c12_unread_column": ("dw", "q3", kernels.Geometry(8, 8, 12, 3, 3, 12, 3, 3, 2, 2, 1, 1, 0, 0)),
    "q3_s2_bands_c4": ("dw", "q3", kernels.Geometry(160, 9, 4, 80, 5, 4, 3, 3, 2, 2, 1, 1, 0, 1)),
    "q3_s2_rows_27_c4": ("dw", "q3", kernels.Geometry(3, 55, 4, 1, 27, 4, 3, 3, 2, 2, 1, 1, 0, 0)),
    "q3_s2_rows_28_c4": ("dw", "q3", kernels.Geometry(3, 57, 4, 1, 28, 4, 3, 3, 2, 2, 1, 1, 0, 0)),
    "q3_s1_c8": ("dw", "q3", kernels.Geometry(7, 6, 8, 7, 6, 8, 3, 3, 1, 1, 1, 1, 1, 1)),
    "f4_person_detect_first": ("c1", "f4", kernels.Geometry(96, 96, 1, 48, 48, 8, 3, 3, 2, 2, 1, 1, 0, 0)),
    "f4_3x3_s2_same_pad1_oc12": ("c1", "f4", kernels.Geometry(11, 12, 1, 6, 6, 12, 3, 3, 2, 2, 1, 1, 1, 1)),
    "f4_3x2_s2_oc4": ("c1", "f4", kernels.Geometry(9, 10, 1, 4, 4, 4, 3, 2, 2, 2, 1, 1, 0, 0)),
    "f4_3x1_s1x2_oc8": ("c1", "f4", kernels.Geometry(7, 8, 1, 7, 4, 8, 3, 1, 1, 2, 1, 1, 1, 0)),
    "f4_one_row_oc4": ("c1", "f4", kernels.Geometry(3, 4, 1, 1, 2, 4, 3, 3, 2, 2, 1, 1, 0, 0)),
    "f4_row_over_48_oc4": ("c1", "f4", kernels.Geometry(3, 101, 1, 1, 50, 4, 3, 3, 2, 2, 1, 1, 0, 0)),
}


@pytest.mark.parametrize("case", sorted(FAST_CASES))
def test_fused_variants_own_paths_match_reference(harness, case: str) -> None:
    family, variant, g = FAST_CASES[case]
    for seed in range(3):
        x, w, bias, _, _, in_zp, out_zp = _case_data(family, g, seed)
        taps = g.k_h * g.k_w * (1 if family == "dw" else g.in_c)
        scales = np.random.default_rng(seed + 100).uniform(0.3, 2.0, g.out_c) * 60.0 / (5500.0 * np.sqrt(taps))
        scales[:2] = [0.45, 1e-4]  # the smallest right shift (1: the fold needs one) and a large one
        qm = [fp.quantize_multiplier(float(s)) for s in scales]
        mults = np.array([m for m, _ in qm], dtype=np.int64)
        shifts = np.array([s for _, s in qm], dtype=np.int64)
        assert (shifts <= -1).all()  # every channel on the fast path
        want = _reference(x, w, bias, mults, shifts, g, in_zp, out_zp, -128, 127, family == "dw")
        assert len(np.unique(want)) > 3
        if family == "dw":
            qp = kernels.dw_qparams(variant, w, bias, mults, shifts, g.s_h, out_zp, -128, 127, in_zp)
            # the flag: n3's own path (r1 only past its buffer), q3's at stride 2 (f3 past its row limit)
            assert qp[{"n3": 4, "q3": 16}[variant] * g.out_c] == (variant == "n3" or g.s_h == 2)
            function, packed, qp = kernels.dw_kernel(variant, w, bias, mults, shifts, g, out_zp, -128, 127, in_zp)
            assert (function == "armlprof_dwconv_s8_r1") == (case == "n3_buffer_over_limit_c260")
        else:
            packed = kernels.pack_c1_weights(w, 4)
            folded = bias + (-in_zp) * w.reshape(g.out_c, -1).astype(np.int64).sum(axis=1)
            qp = kernels.requant_params(folded, mults, shifts, -(-g.out_c // 4) * 4)
            covered = kernels.c1_f4_covers(g, qp, -128, 127)  # else build() plans s4
            assert covered == (case != "f4_row_over_48_oc4"), case
            function = kernels.c_function(family, variant if covered else "s4")
        got = _run(harness, function, g, x, packed, qp, in_zp, out_zp, -128, 127)
        assert np.array_equal(got, want), f"{case} seed {seed}: {int((got != want).sum())} of {want.size} differ"


def test_dw_variants_refuse_exactly_what_kernels_plans_for_r1(harness) -> None:
    """kernels.dw_runs_r1 mirrors the C checks of t3 / f3 / q3 / n3, which return -1 (no call to r1 in the library,
    so r1's code is linked only where a layer runs it): over every dw geometry above, both ways."""
    dw_cases = [(g, lo, hi) for family, g, (lo, hi) in CASES.values() if family == "dw"]
    dw_cases += [(g, -128, 127) for family, _, g in FAST_CASES.values() if family == "dw"]
    refused = 0
    for g, lo, hi in dw_cases:
        x, w, bias, mults, shifts, in_zp, out_zp = _case_data("dw", g, 0)
        shifts = np.minimum(shifts, -1)  # every channel on the folded fast path: n3's own path where it fits
        for variant in (*kernels.DW_PLANE_VARIANTS, "n3"):
            qp = kernels.dw_qparams(variant, w, bias, mults, shifts, g.s_h, out_zp, lo, hi, in_zp)
            run = _call(harness, kernels.c_function("dw", variant), g, x, np.zeros(4, np.int8), qp, in_zp, out_zp,
                        lo, hi)
            runs_r1 = kernels.dw_runs_r1(variant, g, qp, lo, hi)
            assert run.returncode == (5 if runs_r1 else 0), (g, variant, run.stderr.decode()[-500:])
            refused += runs_r1
    assert refused >= 10  # the geometries reach the refusals


def test_f4_refuses_exactly_what_kernels_plans_for_s4(harness) -> None:
    """kernels.c1_f4_covers mirrors armlprof_conv1_s8_f4's checks, which return -1 where build() plans s4 (so s4's
    code is linked only where a layer runs it): over every c1 geometry above, on and off the fast path, both ways."""
    c1_cases = [(g, lo, hi) for family, g, (lo, hi) in CASES.values() if family == "c1"]
    c1_cases += [(g, -128, 127) for family, _, g in FAST_CASES.values() if family == "c1"]
    covered = refused = 0
    for g, lo, hi in c1_cases:
        x, w, bias, mults, shifts, in_zp, out_zp = _case_data("c1", g, 0)
        for fast, big_bias in ((False, False), (True, False), (True, True)):
            s = np.minimum(shifts, -1) if fast else shifts
            packed = kernels.pack_c1_weights(w, 4)
            folded = bias + (-in_zp) * w.reshape(g.out_c, -1).astype(np.int64).sum(axis=1)
            if big_bias:  # inside 2^30, but not with the bound's 3 x 4 x 16384 added: off the fast path
                folded[1] = (1 << 30) - 100000
            qp = kernels.requant_params(folded, mults, s, -(-g.out_c // 4) * 4)
            run = _call(harness, kernels.c_function("c1", "f4"), g, x, packed, qp, in_zp, out_zp, lo, hi)
            own = kernels.c1_f4_covers(g, qp, lo, hi)
            assert run.returncode == (0 if own else 5), (g, fast, big_bias, run.stderr.decode()[-500:])
            covered += own
            refused += not own
    assert covered >= 4 and refused >= 4  # the geometries reach both


@pytest.mark.parametrize("in_zp,out_zp", [(-128, -128), (127, 127), (-128, 127)])
def test_depthwise_int8_extremes_match_reference(harness, in_zp: int, out_zp: int) -> None:
    """Inputs and weights at the int8 limits, extreme zero points, per-channel multipliers from tiny to > 1 and
    biases near the int32 limits (the requantization's slow path and the wrapping folded bias)."""
    g = kernels.Geometry(7, 9, 8, 7, 9, 8, 3, 3, 1, 1, 1, 1, 1, 1)
    rng = np.random.default_rng(11)
    x = rng.integers(-128, 128, (g.in_h, g.in_w, g.in_c))
    x = np.where(rng.random(x.shape) < 0.4, rng.choice(np.array([-128, 127]), x.shape), x)
    w = rng.choice(np.array([-128, 127, -127]), (1, g.k_h, g.k_w, g.out_c)).astype(np.int8)
    bias = np.array([0, 1 << 30, -(1 << 30), 123456, -7, (1 << 31) - 1 - 300000, -(1 << 31) + 300000, 99])
    scales = np.array([1e-6, 3e-5, 1e-3, 2.5e-4, 1.3, 0.9, 6e-4, 1e-3])
    qm = [fp.quantize_multiplier(float(s)) for s in scales]
    mults = np.array([m for m, _ in qm], dtype=np.int64)
    shifts = np.array([s for _, s in qm], dtype=np.int64)
    for lo, hi in ((-128, 127), (-100, 90)):
        want = _reference(x, w, bias, mults, shifts, g, in_zp, out_zp, lo, hi, True)
        assert lo > -128 or len(np.unique(want)) > 3  # not all clamped
        for variant in kernels.DW_VARIANTS:
            function, packed, qp = kernels.dw_kernel(variant, w, bias, mults, shifts, g, out_zp, lo, hi, in_zp)
            got = _run(harness, function, g, x, packed, qp, in_zp, out_zp, lo, hi)
            assert np.array_equal(got, want), f"{variant} zp {in_zp}/{out_zp}: {int((got != want).sum())} differ"


@pytest.mark.parametrize("in_zp,out_zp", [(-128, -128), (127, 127), (-128, 127)])
def test_pointwise_int8_extremes_match_reference(harness, in_zp: int, out_zp: int) -> None:
    """The pw family (d4p2's sign-extended pairs, d4, the GEMM tiles) with inputs and weights at the int8 limits,
    extreme zero points (the folded input offset), multipliers from tiny to > 1 and large biases."""
    g = kernels.Geometry(5, 7, 24, 5, 7, 8)
    rng = np.random.default_rng(12)
    x = rng.integers(-128, 128, (g.in_h, g.in_w, g.in_c))
    x = np.where(rng.random(x.shape) < 0.5, rng.choice(np.array([-128, 127]), x.shape), x)
    w = rng.choice(np.array([-128, 127, -127]), (g.out_c, 1, 1, g.in_c)).astype(np.int8)
    bias = np.array([0, 1 << 28, -(1 << 28), 123456, -7, 3000000, -3000000, 99])
    scales = np.array([1e-4, 1e-7, 1e-7, 2e-4, 1.3, 1e-5, 1e-5, 5e-5])  # mostly inside int8; 1.3: a left shift
    qm = [fp.quantize_multiplier(float(s)) for s in scales]
    mults = np.array([m for m, _ in qm], dtype=np.int64)
    shifts = np.array([s for _, s in qm], dtype=np.int64)
    folded = bias + (-in_zp) * w.reshape(g.out_c, -1).astype(np.int64).sum(axis=1)
    for lo, hi in ((-128, 127), (-100, 90)):
        want = _reference(x, w, bias, mults, shifts, g, in_zp, out_zp, lo, hi, False)
        assert lo > -128 or len(np.unique(want)) > 3  # not all clamped
        for variant in kernels.PW_VARIANTS:
            tile = int(variant[1])
            qp = kernels.requant_params(folded, mults, shifts, -(-g.out_c // tile) * tile)
            got = _run(harness, kernels.c_function("pw", variant), g, x, kernels.pack_gemm_weights(w, tile), qp,
                       in_zp, out_zp, lo, hi)
            assert np.array_equal(got, want), f"{variant} zp {in_zp}/{out_zp}: {int((got != want).sum())} differ"


def test_dsp_requantization_shortcut_is_exact() -> None:
    """The DSP path's requantization (|x| < 2^30, right shift e >= 1): SMMULR(2x, m) = (2xm + 2^31) >> 32, then
    (y + 2^(e-1) - (y < 0)) >> e, equals MultiplyByQuantizedMultiplier, including the rounding ties."""
    rng = random.Random(7)
    samples = [(x, m, -e) for x in (0, 1, -1, (1 << 30) - 1, -(1 << 30)) for m in (1 << 30, (1 << 31) - 1)
               for e in (1, 2, 31)]
    for _ in range(20000):
        e = rng.randint(1, 31)
        m = rng.randint(1 << 30, (1 << 31) - 1)
        x = rng.randint(-(1 << 30), (1 << 30) - 1)
        if rng.random() < 0.3:  # rounding ties of both steps
            x = (rng.randint(-(1 << 12), 1 << 12) << 19) | (1 << 18)
            x = max(min(x, (1 << 30) - 1), -(1 << 30))
        samples.append((x, m, -e))
    for x, m, shift in samples:
        e = -shift
        y = (2 * x * m + (1 << 31)) >> 32  # SMMULR: rounded high word of the 64-bit product
        fast = (y + (1 << (e - 1)) + (-1 if y < 0 else 0)) >> e
        assert fast == fp.multiply_by_quantized_multiplier(x, m, shift), (x, m, shift)


def test_dsp_requantization_run_sign_shortcut_is_exact() -> None:
    """ak_requant_run's SMMLAR form: rz + SMMULR(x, m), plus -1 when the scaled input x (not the product y) is
    negative, then >> e, equals the rounding divide with y's sign (rz = 2^(e-1) + zp * 2^e): the signs differ
    only where y rounds to 0, and both give zp there."""
    rng = random.Random(8)
    for _ in range(30000):
        e = rng.randint(1, 22)
        m = rng.randint(1 << 30, (1 << 31) - 1)
        zp = rng.randint(-128, 127)
        x = rng.randint(-(1 << 31), (1 << 31) - 1) if rng.random() < 0.5 else rng.randint(-4, 4)
        y = (x * m + (1 << 31)) >> 32
        rz = (1 << (e - 1)) + zp * (1 << e)
        assert (rz + y + (-1 if x < 0 else 0)) >> e == (rz + y + (-1 if y < 0 else 0)) >> e, (x, m, e, zp)


def test_weight_packing_is_the_kernels_read_order() -> None:
    w = np.arange(6 * 2 * 3 * 5, dtype=np.int64).reshape(6, 2, 3, 5).astype(np.int8)  # OC=6, K=30 -> 32
    packed = kernels.pack_gemm_weights(w, 4)
    assert packed.size == 8 * 32  # OC padded to 8, K padded to 32, zero-filled
    words = packed.reshape(2, 8, 4, 4)  # [OC/T][K/4][T][4]
    flat = w.reshape(6, 30)
    assert list(words[0, 0, 1]) == list(flat[1, 0:4]) and list(words[1, 0, 2]) == [0, 0, 0, 0]  # oc 6: padding
    assert list(words[0, 7, 3]) == [*flat[3, 28:30], 0, 0]
    dw = np.arange(3 * 3 * 8, dtype=np.int64).reshape(1, 3, 3, 8).astype(np.int8)
    groups = kernels.pack_dw_weights(dw).reshape(2, 9, 4)  # [C/4][taps][4]
    assert list(groups[1, 4]) == list(dw[0, 1, 1, 4:8])


def test_family_choice_by_geometry() -> None:
    """One-channel convolutions get the padded-buffer kernels (c1) while the buffer fits, 1x1 stride-1 unpadded
    ones with whole words of channels the in-place direct kernel (pw); everything else the im2col GEMM."""
    g = kernels.Geometry
    assert kernels._gemm_family(g(49, 40, 1, 25, 20, 8, 10, 8, 2, 2, 1, 1, 4, 3)) == "c1"  # micro_speech
    assert kernels._gemm_family(g(96, 96, 1, 48, 48, 8, 3, 3, 2, 2, 1, 1, 0, 0)) == "c1"  # person_detect
    assert kernels.c1_padded_bytes(g(96, 96, 1, 48, 48, 8, 3, 3, 2, 2, 1, 1, 0, 0)) == 97 * 100
    assert kernels._gemm_family(g(200, 200, 1, 200, 200, 8, 3, 3, 1, 1, 1, 1, 1, 1)) == "gemm"  # buffer too large
    assert kernels._gemm_family(g(11, 10, 1, 7, 6, 8, 3, 3, 1, 1, 2, 2, 1, 1)) == "gemm"  # dilated
    assert kernels._gemm_family(g(5, 5, 8, 5, 5, 16)) == "pw"
    assert kernels._gemm_family(g(5, 5, 6, 5, 5, 16)) == "gemm"  # channels not in words
    assert kernels._gemm_family(g(5, 5, 8, 3, 3, 16, 1, 1, 2, 2)) == "gemm"  # strided 1x1
    assert kernels._gemm_family(g(1, 1, 4000, 1, 1, 4)) == "gemm"  # weight stage too small (micro_speech's FC)


def test_plan_of_the_study_models() -> None:
    """person_detect: the first layer c1/f4, 1x1 layers pw with f4p2 first except on few pixels, depthwise layers
    q3 / n3 / f3 first by stride and output size, signatures name their family (the tuner's schedule space), every
    plan's variants are its family's space."""
    path = Path(__file__).resolve().parents[1].parent / "shared" / "models" / "person_detect.tflite"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    from armlprof.runtime.tvm.importer import import_tflite

    graph = import_tflite(path)
    plans = [p for p in (kernels.plan(graph, op) for op in graph.operators) if p is not None]
    assert plans[0].family == "c1" and plans[0].variants[:2] == ("f4", "s4")
    pw = [p for p in plans if p.family == "pw"]
    assert len(pw) == 14
    assert all((p.variants[0] == "f4p2") == (p.geometry.out_h * p.geometry.out_w >= kernels.PW_DIRECT_MIN_PIXELS)
               for p in pw)
    assert {p.variants[0] for p in pw} == {"f4p2", "t2p2u2"}  # the fully connected layer (1 pixel): the GEMM
    dw = [p for p in plans if p.family == "dw"]
    assert len(dw) == 13
    for p in dw:  # q3 at stride 2, n3 on the 3x3-pixel stride-1 layer, f3 on the other stride-1 ones
        g = p.geometry
        assert p.variants[0] == ("q3" if g.s_h == 2 else "n3" if g.out_h * g.out_w <= 9 else "f3"), g
    assert sum(p.variants[0] == "q3" for p in dw) == 4 and sum(p.variants[0] == "n3" for p in dw) == 1
    for p in plans:
        assert kernels.family_of_signature(p.signature) == p.family
        assert set(p.variants) == set(kernels.variants_for(p.family))


@pytest.mark.parametrize("board_name", ["nano33ble", "spresense"])
@pytest.mark.parametrize("optimization", ["-O0", "-Og"])
def test_library_builds_for_the_boards_at_every_level(tmp_path, board_name: str, optimization: str) -> None:
    """The register-allocated assembly needs r7, GCC's Thumb frame pointer at -O0 (an 'impossible constraints'
    error there without the file's optimize pragma); -Os, the boards' default, is every other build."""
    from armlprof.board import load_board
    from armlprof.build import compile_flags
    from armlprof.errors import ArmlprofError
    from armlprof.toolchain import find_toolchain

    try:
        gcc = find_toolchain().gcc
    except ArmlprofError as exc:
        pytest.skip(str(exc))
    board = load_board(board_name)
    run = subprocess.run([gcc, *compile_flags(board, optimization), "-Werror", "-c", "-o", str(tmp_path / "k.o"),
                          str(C_DIR / "armlprof_kernels.c")], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]


def test_folded_bias_past_int32_falls_back_to_the_te_loop(tmp_path) -> None:
    """The GEMM families fold -in_zp * sum(w) into the bias; a bias that no longer fits int32 would wrap in the
    int32 qparams, so build() declines (None: the TE loop, which adds the input offset per tap, runs instead)."""
    from armlprof import modelgen
    from armlprof.runtime.tvm.importer import import_tflite

    b = modelgen._Builder(3, modelgen._calibration_inputs((1, 4, 4, 8), 3))
    b.input((1, 4, 4, 8))
    b.conv("conv", 8, (1, 1), 1, "NONE", depthwise=False)
    path = tmp_path / "pw.tflite"
    path.write_bytes(b.serialize("folded bias"))
    graph = import_tflite(path)
    op = next(o for o in graph.operators if o.kind == "CONV_2D")
    sched = kernels.plan(graph, op)
    assert sched is not None and sched.family == "pw"
    assert kernels.build(graph, op, sched) is not None
    t_in, t_w, t_b = (graph.tensors[i] for i in op.inputs[:3])
    in_zp = -100  # the input's zero point set here: the generated one is 0
    t_in.zero_point = np.array([in_zp], dtype=np.int64)
    weight_sums = t_w.data.reshape(t_w.data.shape[0], -1).astype(np.int64).sum(axis=1)
    channel = int(np.argmax(np.abs(weight_sums)))
    folded_term = -in_zp * int(weight_sums[channel])
    assert folded_term != 0
    # a bias inside int32 whose folded value is just outside +-(2^31 - 1), the bound build() keeps
    t_b.data = t_b.data.copy()
    t_b.data[channel] = (1 << 31) - 1 if folded_term > 0 else -((1 << 31) - 1)
    assert kernels.build(graph, op, sched) is None
    t_b.data[channel] -= folded_term  # folded exactly at +-(2^31 - 1): fits
    assert kernels.build(graph, op, sched) is not None


@pytest.mark.parametrize(("channels", "default"), [(8, "n3"), (660, "f3")])
def test_few_pixel_depthwise_default_is_n3_where_it_runs_its_own_path(tmp_path, channels: int, default: str) -> None:
    """A stride-1 3x3 depthwise layer of 3x3 output pixels plans n3 first; its default build runs n3 where n3 has
    its own path, f3 where n3 would leave the layer to r1 (here: 660 channels, a padded input over n3's 16 KiB
    buffer). A tuning choice of n3 is kept as asked."""
    from armlprof import modelgen
    from armlprof.runtime.tvm.importer import import_tflite

    b = modelgen._Builder(5, modelgen._calibration_inputs((1, 3, 3, channels), 5))
    b.input((1, 3, 3, channels))
    b.conv("dw", channels, (3, 3), 1, "NONE", depthwise=True)
    path = tmp_path / "dw.tflite"
    path.write_bytes(b.serialize("few-pixel depthwise"))
    graph = import_tflite(path)
    op = next(o for o in graph.operators if o.kind == "DEPTHWISE_CONV_2D")
    sched = kernels.plan(graph, op)
    assert sched is not None and sched.family == "dw" and sched.variants[0] == "n3"
    assert kernels.build(graph, op, sched).attrs["schedule"] == default
    assert kernels.build(graph, op, sched, "n3").attrs["schedule"] == "n3"


POOL_HARNESS = r"""
#include <stdio.h>
#include <stdlib.h>
#include "armlprof_kernels.h"
int main(void) {
  int32_t a[15];
  if (fread(a, 4, 15, stdin) != 15) return 3;
  size_t n_in = (size_t)a[0] * a[1] * a[2], n_out = (size_t)a[3] * a[4] * a[2];
  int8_t *in = malloc(n_in), *out = malloc(n_out);
  if (fread(in, 1, n_in, stdin) != n_in) return 4;
  if (armlprof_avgpool_s8_a4(in, out, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11],
                             a[12]) != 0)
    return 5;
  fwrite(out, 1, n_out, stdout);
  return 0;
}
"""


@pytest.fixture(scope="module")
def pool_harness(tmp_path_factory) -> Path:
    return _host_harness(tmp_path_factory, "pool", POOL_HARNESS)


def _average_pool_reference(x: np.ndarray, g: kernels.Geometry, lo: int, hi: int) -> np.ndarray:
    """TFLM's reference_integer_ops::AveragePool: the taps inside the input summed, divided by their count with C's
    truncating division after adding (or, for sums <= 0, subtracting) half the count, clamped."""
    out = np.empty((g.out_h, g.out_w, g.in_c), dtype=np.int64)
    for oy in range(g.out_h):
        for ox in range(g.out_w):
            y0, x0 = oy * g.s_h - g.pad_t, ox * g.s_w - g.pad_l
            win = x[max(y0, 0):min(y0 + g.k_h, g.in_h), max(x0, 0):min(x0 + g.k_w, g.in_w)].astype(np.int64)
            count = win.shape[0] * win.shape[1]
            s = win.sum(axis=(0, 1))
            out[oy, ox] = np.where(s > 0, (s + count // 2) // count, -((count // 2 - s) // count))
    return np.clip(out, lo, hi).astype(np.int8)


def _pool_geometry(h: int, w: int, c: int, k_h: int, k_w: int, stride: int, padding: str) -> kernels.Geometry:
    from armlprof.modelgen import _out_size
    from armlprof.runtime.tvm.ops import _padding

    oh, ow = _out_size(padding, h, k_h, stride, 1), _out_size(padding, w, k_w, stride, 1)
    return kernels.Geometry(h, w, c, oh, ow, c, k_h, k_w, stride, stride, 1, 1,
                            _padding(padding, stride, 1, h, k_h, oh), _padding(padding, stride, 1, w, k_w, ow))


POOL_CASES = {
    # name: (geometry, activation range)
    "same3x3_s2_odd": (_pool_geometry(9, 11, 8, 3, 3, 2, "SAME"), (-128, 127)),
    "valid2x3_s1": (_pool_geometry(5, 7, 4, 2, 3, 1, "VALID"), (-20, 90)),
    "same5x5_window_past_the_input": (_pool_geometry(4, 6, 12, 5, 5, 1, "SAME"), (-128, 127)),
    "valid3x3_s2_256ch_person_detect": (_pool_geometry(3, 3, 256, 3, 3, 2, "VALID"), (-128, 127)),
    "valid15x17_255_taps": (_pool_geometry(15, 17, 4, 15, 17, 1, "VALID"), (-128, 127)),
}


@pytest.mark.parametrize("case", sorted(POOL_CASES))
def test_average_pool_kernel_matches_reference(pool_harness, case: str) -> None:
    """pool a4's portable C (the SXTAB16 lanes in C) against TFLM's reference: random inputs, then the int8
    extremes, which at 255 taps fill the int16 lanes to +-32,640 (the largest exact window)."""
    g, (lo, hi) = POOL_CASES[case]
    rng = np.random.default_rng(sum(map(ord, case)))
    shape = (g.in_h, g.in_w, g.in_c)
    inputs = [rng.integers(-128, 128, shape), np.full(shape, -128), np.full(shape, 127),
              np.resize([-128, 127, 127, -128, 3], shape), rng.choice([-128, 127], shape)]
    for i, x in enumerate(inputs):
        x = x.astype(np.int8)
        args = np.array([g.in_h, g.in_w, g.in_c, g.out_h, g.out_w, g.k_h, g.k_w, g.s_h, g.s_w, g.pad_t, g.pad_l, lo,
                         hi, 0, 0], dtype="<i4")
        run = subprocess.run([str(pool_harness)], input=args.tobytes() + x.tobytes(), capture_output=True)
        assert run.returncode == 0, run.stderr.decode()[-2000:]
        got = np.frombuffer(run.stdout, dtype=np.int8).reshape(g.out_h, g.out_w, g.in_c)
        want = _average_pool_reference(x, g, lo, hi)
        if i == 0 and want.size > 4:
            assert len(np.unique(want)) > 3  # the outputs vary, so equality means something
        assert np.array_equal(got, want), f"{case} input {i}: {np.argwhere(got != want)[:5].tolist()}"


@pytest.mark.parametrize(("shape", "k", "planned"), [((1, 4, 4, 8), 2, True), ((1, 15, 15, 4), 15, True),
                                                     ((1, 16, 16, 4), 16, False), ((1, 4, 4, 6), 2, False)])
def test_average_pool_plans_a4_only_within_its_exact_range(tmp_path, shape, k: int, planned: bool) -> None:
    """a4 takes int8 average pools of whole channel groups and windows of at most POOL_MAX_TAPS taps (its int16
    lanes' exact range); a 16x16 window or 6 channels keep the TE loop."""
    from armlprof import modelgen
    from armlprof.runtime.tvm.importer import import_tflite

    b = modelgen._Builder(3, modelgen._calibration_inputs(shape, 3))
    b.input(shape)
    b.avgpool("pool", k)
    path = tmp_path / "pool.tflite"
    path.write_bytes(b.serialize("average pool"))
    graph = import_tflite(path)
    op = next(o for o in graph.operators if o.kind == "AVERAGE_POOL_2D")
    sched = kernels.plan(graph, op)
    if not planned:
        assert sched is None
        return
    assert sched.family == "pool" and sched.variants == kernels.POOL_VARIANTS
    kernel = kernels.build(graph, op, sched)
    assert kernel.attrs["schedule"] == "a4" and kernel.constants == []
    assert kernel.macs == (shape[1] // k) * (shape[2] // k) * shape[3] * k * k
