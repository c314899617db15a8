/* armlprof int8 micro-kernels for Cortex-M4 (DSP extension), called by TVM-generated operators through
 * T.call_extern. NHWC activations; convolution / fully-connected weights pre-packed offline by
 * armlprof/runtime/tvm/kernels.py into the order the inner loop reads; per-channel requantization constants
 * (bias with the input offset folded in, multiplier, shift) interleaved in one int32 array.
 *
 * Arithmetic is TFLite's, bit for bit: int32 accumulation, MultiplyByQuantizedMultiplier with double rounding
 * (SaturatingRoundingDoublingHighMul then RoundingDivideByPOT), output offset, activation clamp.
 * With __ARM_FEATURE_DSP the inner loops use SXTB16 / SXTAB16 / SMLAD / SMLABB (arm_acle.h); otherwise a portable
 * C version of the same instructions runs (host tests), giving identical results.
 *
 * The prototypes match the declarations TVM's C codegen writes for the call_extern calls (non-const pointers,
 * int32_t scalars); each variant is its own function so the linker keeps only the ones a model uses. */
#ifndef ARMLPROF_KERNELS_H
#define ARMLPROF_KERNELS_H
#include <stdint.h>

#define ARMLPROF_CONV_ARGS                                                                                \
  int8_t *in, int8_t *w, int32_t *qp, int8_t *out, int32_t in_h, int32_t in_w, int32_t in_c, int32_t out_h, \
      int32_t out_w, int32_t out_c, int32_t k_h, int32_t k_w, int32_t s_h, int32_t s_w, int32_t d_h,         \
      int32_t d_w, int32_t pad_t, int32_t pad_l, int32_t in_zp, int32_t out_zp, int32_t act_lo, int32_t act_hi

/* Convolution / fully connected as a GEMM (im2col per pixel tile unless the input rows are already the
 * GEMM rows): tile of P output pixels x T output channels; U = 2 unrolls the 4-deep inner step twice. */
int32_t armlprof_conv_s8_t2p1u1(ARMLPROF_CONV_ARGS);
int32_t armlprof_conv_s8_t2p2u1(ARMLPROF_CONV_ARGS);
int32_t armlprof_conv_s8_t4p1u1(ARMLPROF_CONV_ARGS);
int32_t armlprof_conv_s8_t4p2u1(ARMLPROF_CONV_ARGS);
int32_t armlprof_conv_s8_t2p1u2(ARMLPROF_CONV_ARGS);
int32_t armlprof_conv_s8_t2p2u2(ARMLPROF_CONV_ARGS);
int32_t armlprof_conv_s8_t4p1u2(ARMLPROF_CONV_ARGS);
int32_t armlprof_conv_s8_t4p2u2(ARMLPROF_CONV_ARGS);
/* 1x1 stride 1 unpadded (and fully connected), in_c % 4 == 0: the direct kernel of conv1_s8_d4 over the input
 * pixels in place (4 output channels per pass, weights sign-extended in a stack stage, SSAT requantization runs). */
int32_t armlprof_conv_s8_d4(ARMLPROF_CONV_ARGS);
/* The same layers, 2 output pixels x 4 output channels per inner loop (both operands sign-extended ahead, the
 * inputs once per chunk of pixels); in_c <= 384. */
int32_t armlprof_conv_s8_d4p2(ARMLPROF_CONV_ARGS);
/* The same with each channel group's weights in FPU registers (s0-s31, blocks of 16 input channels) instead of a
 * stack stage: no data wait states on the weights. */
int32_t armlprof_conv_s8_f4p2(ARMLPROF_CONV_ARGS);
/* The same tiles for a one-channel input (conv1): input padded once into a stack buffer, kernel rows widened to
 * whole words (weights packed by kernels.pack_c1_weights), every pixel interior. Dilation 1. */
/* The direct one-channel kernel (d4): 4 output channels per pass with their weights sign-extended in a stack
 * stage, SMLAD on tap pairs straight from the padded buffer, requantization per channel run (SSAT). */
int32_t armlprof_conv1_s8_d4(ARMLPROF_CONV_ARGS);
int32_t armlprof_conv1_s8_t2p1u1(ARMLPROF_CONV_ARGS);
int32_t armlprof_conv1_s8_t2p2u1(ARMLPROF_CONV_ARGS);
int32_t armlprof_conv1_s8_t4p1u1(ARMLPROF_CONV_ARGS);
int32_t armlprof_conv1_s8_t4p2u1(ARMLPROF_CONV_ARGS);
int32_t armlprof_conv1_s8_t2p1u2(ARMLPROF_CONV_ARGS);
int32_t armlprof_conv1_s8_t2p2u2(ARMLPROF_CONV_ARGS);
int32_t armlprof_conv1_s8_t4p1u2(ARMLPROF_CONV_ARGS);
int32_t armlprof_conv1_s8_t4p2u2(ARMLPROF_CONV_ARGS);
/* Sliding pixel pairs (s4): stride 2 along the row, the input widened once into int16 column pairs, 2 pixels x 4
 * channels per pass sharing each loaded word (pixel ox + 1 reads pixel ox's words shifted by one); same packed
 * weights as d4, which runs the geometries it does not cover. */
int32_t armlprof_conv1_s8_s4(ARMLPROF_CONV_ARGS);
/* The same pairs for 3 kernel rows of up to 3 taps, requantized in registers (f4; s4 runs the other layers): the
 * group's weights and constants in the FPU, each pixel's 4 output bytes stored as one word. */
int32_t armlprof_conv1_s8_f4(ARMLPROF_CONV_ARGS);

/* Depthwise convolution, depth multiplier 1, weights in TFLite's [1, kh, kw, C] order: 4 channels per step
 * (P = 1) or 4 channels x 2 neighbouring output pixels sharing each weight load (P = 2). */
int32_t armlprof_dwconv_s8_p1(ARMLPROF_CONV_ARGS);
int32_t armlprof_dwconv_s8_p2(ARMLPROF_CONV_ARGS);
/* Staged (R = 1): channel group outer, its taps sign-extended in RAM and the input offset folded into the bias
 * once per group, a row's accumulators requantized one channel at a time; 3x3 taps unrolled in registers. */
int32_t armlprof_dwconv_s8_r1(ARMLPROF_CONV_ARGS);
/* 3x3, dilation 1, stride 1 or 2 (others run r1): a channel group's input converted once into int16 channel planes,
 * SMLAD on pairs of taps of one channel, weights and a channel's requantization in registers along its rows. */
int32_t armlprof_dwconv_s8_t3(ARMLPROF_CONV_ARGS);
/* t3 with a channel's stride-1 rows of even width taps-and-requantization in one block of assembly (4 outputs per
 * step, no accumulator buffer); t3's code for the rest. */
int32_t armlprof_dwconv_s8_f3(ARMLPROF_CONV_ARGS);
/* f3 with its own stride-2 path: planes of raw input bytes, a channel pair per word (no int16 conversion pass), taps
 * and requantization of 4 outputs x 2 channels per step; f3 for the rest. */
int32_t armlprof_dwconv_s8_q3(ARMLPROF_CONV_ARGS);

/* 3x3, dilation 1, few output pixels (n3; others run r1): the input padded into channel-group planes, per output
 * pixel 4 channels x 9 taps with weights and requantization constants in FPU registers, one word stored. */
int32_t armlprof_dwconv_s8_n3(ARMLPROF_CONV_ARGS);

/* AVERAGE_POOL_2D (pool a4): 4 channels per pass summed in int16 lanes (SXTAB16), windows of at most
 * AK_POOL_MAX_TAPS taps (kernels.POOL_MAX_TAPS), c % 4 == 0; TFLM's rounding division by the taps inside the input. */
#define AK_POOL_MAX_TAPS 255
#define ARMLPROF_POOL_ARGS                                                                                     \
  int8_t *in, int8_t *out, int32_t in_h, int32_t in_w, int32_t c, int32_t out_h, int32_t out_w, int32_t k_h,   \
      int32_t k_w, int32_t s_h, int32_t s_w, int32_t pad_t, int32_t pad_l, int32_t act_lo, int32_t act_hi
int32_t armlprof_avgpool_s8_a4(ARMLPROF_POOL_ARGS);

#endif
