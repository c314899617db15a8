/* armlprof int8 micro-kernels (see armlprof_kernels.h). */
/* The register-allocated assembly below needs r7, which GCC keeps as the Thumb frame pointer at -O0: a sketch built
 * with --optimization -O0 compiles this library (only) at -Og, everything else at -O0. Other levels: unchanged. */
#ifndef __OPTIMIZE__
#pragma GCC optimize("Og", "omit-frame-pointer")
#endif
#include "armlprof_kernels.h"

#include <string.h>

#define AK_INLINE static inline __attribute__((always_inline))

/* (lo, hi) as the two halfwords of one word, in plain C (the compiler picks the instructions) */
AK_INLINE int32_t ak_pack16(int32_t lo, int32_t hi) {
  return (int32_t)(((uint32_t)lo & 0xFFFFu) | ((uint32_t)hi << 16));
}

/* an int32's two int16 halves, sign-extended */
AK_INLINE int32_t ak_lo16(int32_t x) { return (int16_t)(uint16_t)((uint32_t)x & 0xFFFFu); }
AK_INLINE int32_t ak_hi16(int32_t x) { return x >> 16; }

/* ---------------------------------------------------------------- the DSP instructions, or C that computes the same */
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#include <arm_acle.h>
AK_INLINE int32_t ak_sxtb16(int32_t x) { return __sxtb16(x); }
AK_INLINE int32_t ak_sxtb16_ror8(int32_t x) {
  int32_t r;
  __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
  return r;
}
AK_INLINE int32_t ak_sxtab16(int32_t a, int32_t x) { return __sxtab16(a, x); }
AK_INLINE int32_t ak_sxtab16_ror8(int32_t a, int32_t x) {
  int32_t r;
  __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(a), "r"(x));
  return r;
}
AK_INLINE int32_t ak_smlad(int32_t x, int32_t y, int32_t acc) { return __smlad(x, y, acc); }
AK_INLINE int32_t ak_smlabb(int32_t x, int32_t y, int32_t acc) { return __smlabb(x, y, acc); }
AK_INLINE int32_t ak_smlatt(int32_t x, int32_t y, int32_t acc) { return __smlatt(x, y, acc); }
#else
AK_INLINE int32_t ak_byte(int32_t x, int i) { return (int8_t)(uint8_t)((uint32_t)x >> (8 * i)); }
AK_INLINE int32_t ak_sxtb16(int32_t x) { return ak_pack16(ak_byte(x, 0), ak_byte(x, 2)); }
AK_INLINE int32_t ak_sxtb16_ror8(int32_t x) { return ak_pack16(ak_byte(x, 1), ak_byte(x, 3)); }
AK_INLINE int32_t ak_sxtab16(int32_t a, int32_t x) {
  return ak_pack16(ak_lo16(a) + ak_byte(x, 0), ak_hi16(a) + ak_byte(x, 2));
}
AK_INLINE int32_t ak_sxtab16_ror8(int32_t a, int32_t x) {
  return ak_pack16(ak_lo16(a) + ak_byte(x, 1), ak_hi16(a) + ak_byte(x, 3));
}
AK_INLINE int32_t ak_smlad(int32_t x, int32_t y, int32_t acc) {  /* wraps like the instruction */
  return (int32_t)((uint32_t)acc + (uint32_t)(ak_lo16(x) * ak_lo16(y)) + (uint32_t)(ak_hi16(x) * ak_hi16(y)));
}
AK_INLINE int32_t ak_smlabb(int32_t x, int32_t y, int32_t acc) {
  return (int32_t)((uint32_t)acc + (uint32_t)(ak_lo16(x) * ak_lo16(y)));
}
AK_INLINE int32_t ak_smlatt(int32_t x, int32_t y, int32_t acc) {
  return (int32_t)((uint32_t)acc + (uint32_t)(ak_hi16(x) * ak_hi16(y)));
}
#endif

/* (lo half of a, lo half of b) and (hi half of a, hi half of b): PKHBT / PKHTB */
AK_INLINE int32_t ak_pack_lo(int32_t a, int32_t b) {
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
  int32_t r;
  __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(a), "r"(b));
  return r;
#else
  return ak_pack16(a, b);
#endif
}

AK_INLINE int32_t ak_pack_hi(int32_t a, int32_t b) {
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
  int32_t r;
  __asm__("pkhtb %0, %1, %2, asr #16" : "=r"(r) : "r"(b), "r"(a));
  return r;
#else
  return (int32_t)(((uint32_t)a >> 16) | ((uint32_t)b & 0xFFFF0000u));
#endif
}

AK_INLINE int32_t ak_read32(const int8_t *p) {  /* unaligned-safe; one LDR on the M4 */
  int32_t v;
  __builtin_memcpy(&v, p, 4);  /* builtin: the cores build with -fno-builtin, where memcpy is a call */
  return v;
}

/* ---------------------------------------------------------------- requantization (TFLite, bit for bit) */
/* Per output channel, 4 int32 (prepared offline): bias (+ input offset x sum of weights when folded),
 * Q31 multiplier, left shift, right shift. */
#define AK_QP_STRIDE 4

/* MultiplyByQuantizedMultiplier(acc + bias, multiplier, shift), then output offset and activation clamp.
 * SaturatingRoundingDoublingHighMul(x, m) = trunc((xm + (xm >= 0 ? 2^30 : 1 - 2^30)) / 2^31) == (xm + 2^30) >> 31
 * (m is never INT32_MIN, so it never saturates); RoundingDivideByPOT(y, e) rounds half away from zero:
 * y >> e, plus one when the remainder exceeds (2^e - 1) / 2 (+1 for negative y). */
/* One channel's constants, loaded before any output byte is stored (an int8 store may alias them, so the
 * compiler would otherwise reload them for every output). */
typedef struct {
  int32_t bias, mult, left, right;
} ak_qp;

AK_INLINE ak_qp ak_qp_load(const int32_t *qp) {
  ak_qp q = {qp[0], qp[1], qp[2], qp[3]};
  return q;
}

/* Layer-wide output parameters, likewise held in locals. */
typedef struct {
  int32_t zp, lo, hi;
} ak_outq;

AK_INLINE int8_t ak_requant(int32_t acc, ak_qp q, ak_outq o) {
  int32_t x = (int32_t)((uint32_t)(acc + q.bias) << q.left);  /* x * (1 << left), wrapping as TFLM's int32 */
  int32_t e = q.right;
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
  if ((uint32_t)x + 0x40000000u < 0x80000000u && e > 0) {
    /* |x| < 2^30: the high mul is SMMULR(2x, m) = (2xm + 2^31) >> 32, |y| < 2^30, and the rounding divide is
     * (y + 2^(e-1) - (y < 0)) >> e without overflow. */
    int32_t y;
    __asm__("smmulr %0, %1, %2" : "=r"(y) : "r"(x * 2), "r"(q.mult));
    x = (y + (1 << (e - 1)) + (y >> 31)) >> e;
  } else
#endif
  {
    x = (int32_t)(((int64_t)x * q.mult + (1LL << 30)) >> 31);
    int32_t mask = (int32_t)((1u << e) - 1u);
    int32_t threshold = (mask >> 1) + (x < 0);
    x = (x >> e) + ((x & mask) > threshold);
  }
  x = (int32_t)((uint32_t)x + (uint32_t)o.zp);
  x = x < o.lo ? o.lo : x;
  x = x > o.hi ? o.hi : x;
  return (int8_t)x;
}

/* ---------------------------------------------------------------- GEMM micro-kernel */
/* acc[p][t] = sum_k row_p[k] * w_t[k] over k4 steps of 4; weights packed [k4][T] words (4 int8 of one
 * output channel each). SMLAD of SXTB16(x) with SXTB16(w) pairs k0*k0+k2*k2, the ROR 8 forms k1, k3: both
 * sides use the same pairing, so neither needs reordering. Zero points are folded into the bias. */
#define AK_MAC2(acc, xl, xh, wl, wh) acc = ak_smlad(xh, wh, ak_smlad(xl, wl, acc))

AK_INLINE void ak_gemm_tile(const int8_t *r0, const int8_t *r1, const int32_t *pw, int32_t seg_k4, int32_t segs,
                            int32_t seg_skip, int32_t *acc, const int T, const int P, const int U) {
  int32_t c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
#define AK_STEP                                                          \
  do {                                                                   \
    int32_t x0 = ak_read32(r0), x0l = ak_sxtb16(x0), x0h = ak_sxtb16_ror8(x0); \
    int32_t x1l = 0, x1h = 0;                                            \
    r0 += 4;                                                             \
    if (P == 2) {                                                        \
      int32_t x1 = ak_read32(r1);                                        \
      x1l = ak_sxtb16(x1), x1h = ak_sxtb16_ror8(x1);                     \
      r1 += 4;                                                           \
    }                                                                    \
    int32_t w = pw[0], wl = ak_sxtb16(w), wh = ak_sxtb16_ror8(w);        \
    AK_MAC2(c00, x0l, x0h, wl, wh);                                      \
    if (P == 2) AK_MAC2(c10, x1l, x1h, wl, wh);                          \
    w = pw[1], wl = ak_sxtb16(w), wh = ak_sxtb16_ror8(w);                \
    AK_MAC2(c01, x0l, x0h, wl, wh);                                      \
    if (P == 2) AK_MAC2(c11, x1l, x1h, wl, wh);                          \
    if (T == 4) {                                                        \
      w = pw[2], wl = ak_sxtb16(w), wh = ak_sxtb16_ror8(w);              \
      AK_MAC2(c02, x0l, x0h, wl, wh);                                    \
      if (P == 2) AK_MAC2(c12, x1l, x1h, wl, wh);                        \
      w = pw[3], wl = ak_sxtb16(w), wh = ak_sxtb16_ror8(w);              \
      AK_MAC2(c03, x0l, x0h, wl, wh);                                    \
      if (P == 2) AK_MAC2(c13, x1l, x1h, wl, wh);                        \
    }                                                                    \
    pw += T;                                                             \
  } while (0)
  /* segs rows of seg_k4 words each; seg_skip bytes from the end of one input row segment to the next */
  for (; segs > 0; segs--) {
    const int32_t *end = pw + seg_k4 * T;
    if (U == 2) {
      for (const int32_t *end2 = pw + (seg_k4 & ~1) * T; pw != end2;) {
        AK_STEP;
        AK_STEP;
      }
    }
    while (pw != end) AK_STEP;
    r0 += seg_skip;
    if (P == 2) r1 += seg_skip;
  }
#undef AK_STEP
  acc[0] = c00, acc[1] = c01;
  if (T == 4) acc[2] = c02, acc[3] = c03;
  if (P == 2) {
    acc[T] = c10, acc[T + 1] = c11;
    if (T == 4) acc[T + 2] = c12, acc[T + 3] = c13;
  }
}

/* What stays fixed over a layer's pixel rows. */
typedef struct {
  const int32_t *w, *qp;
  int32_t out_c, out_zp, act_lo, act_hi, k4;
} ak_gemm_layer;

/* One out-of-line function per (T, P, U): all output-channel tiles of P pixels, requantized and stored. */
#define AK_PIXELS_FN(T, P, U)                                                                              \
  static __attribute__((noinline)) void ak_px_t##T##p##P##u##U(                                          \
      const ak_gemm_layer *L, const int8_t *r0, const int8_t *r1, int32_t seg_k4, int32_t segs,             \
      int32_t seg_skip, int8_t *o0, int8_t *o1) {                                                         \
    const int32_t *pw = L->w, *qp = L->qp;                                                                \
    const int32_t out_c = L->out_c, step = L->k4 * T;                                                     \
    const ak_outq oq = {L->out_zp, L->act_lo, L->act_hi};                                                \
    for (int32_t oc = 0; oc < out_c; oc += T, pw += step) {                                              \
      int32_t acc[8];                                                                                     \
      ak_gemm_tile(r0, r1, pw, seg_k4, segs, seg_skip, acc, T, P, U);                                     \
      int32_t n = out_c - oc < T ? out_c - oc : T;                                                        \
      for (int32_t t = 0; t < n; t++, qp += AK_QP_STRIDE) {                                               \
        ak_qp q = ak_qp_load(qp);                                                                         \
        int8_t v0 = ak_requant(acc[t], q, oq), v1 = P == 2 ? ak_requant(acc[T + t], q, oq) : 0;          \
        o0[oc + t] = v0;                                                                                  \
        if (P == 2) o1[oc + t] = v1;                                                                      \
      }                                                                                                   \
      qp += (T - n) * AK_QP_STRIDE;                                                                       \
    }                                                                                                     \
  }
#define AK_PIXELS_FNS(T, U) AK_PIXELS_FN(T, 1, U) AK_PIXELS_FN(T, 2, U)
AK_PIXELS_FNS(2, 1)
AK_PIXELS_FNS(4, 1)
AK_PIXELS_FNS(2, 2)
AK_PIXELS_FNS(4, 2)

/* ---------------------------------------------------------------- convolution driver */
typedef struct {
  int32_t in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w, s_h, s_w, d_h, d_w, pad_t, pad_l;
  int32_t in_zp, out_zp, act_lo, act_hi;
} ak_geom;

#define AK_GEOM                                                                                          \
  const ak_geom g = {in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w, s_h, s_w, d_h, d_w, pad_t, pad_l, \
                     in_zp, out_zp, act_lo, act_hi}

/* Byte copy / fill for the im2col rows: inline (no library calls for the few bytes of a kernel row), words first. */
AK_INLINE void ak_copy(int8_t *dst, const int8_t *src, int32_t n) {
  for (; n >= 4; n -= 4, dst += 4, src += 4) __builtin_memcpy(dst, src, 4);
  for (; n > 0; n--) *dst++ = *src++;
}

AK_INLINE void ak_fill(int8_t *dst, int8_t value, int32_t n) {
  for (; n > 0; n--) *dst++ = value;
}

/* The GEMM row of the output pixel (oy, ox): the input pixel itself (1x1, depth a multiple of 4) or its im2col
 * copy (padding taps = the input zero point, which the folded offset turns into 0; depth padded with zeros). */
/* (no loop-to-memset/memcpy rewriting: the runs are a few bytes, a library call costs more than the loop) */
static __attribute__((optimize("no-tree-loop-distribute-patterns"))) int8_t *ak_im2col(const ak_geom *g, const int8_t *in, int32_t oy, int32_t ox, int8_t *col, int32_t k_pad) {
  int32_t iy0 = oy * g->s_h - g->pad_t, ix0 = ox * g->s_w - g->pad_l;
  int32_t c = g->in_c, run = g->k_w * c;
  int8_t zp = (int8_t)g->in_zp;
  /* valid kx range [kx0, kx1) of this pixel (taps inside the input row) */
  int32_t kx0 = 0, kx1 = g->k_w;
  while (kx0 < kx1 && ix0 + kx0 * g->d_w < 0) kx0++;
  while (kx1 > kx0 && ix0 + (kx1 - 1) * g->d_w >= g->in_w) kx1--;
  int8_t *dst = col;
  for (int32_t ky = 0; ky < g->k_h; ky++, dst += run) {
    int32_t iy = iy0 + ky * g->d_h;
    if (iy < 0 || iy >= g->in_h) {
      ak_fill(dst, zp, run);
      continue;
    }
    ak_fill(dst, zp, kx0 * c);
    const int8_t *src = in + (iy * g->in_w + ix0) * c;
    if (g->d_w == 1) {
      ak_copy(dst + kx0 * c, src + kx0 * c, (kx1 - kx0) * c);
    } else {
      for (int32_t kx = kx0; kx < kx1; kx++) ak_copy(dst + kx * c, src + kx * g->d_w * c, c);
    }
    ak_fill(dst + kx1 * c, zp, (g->k_w - kx1) * c);
  }
  ak_fill(dst, 0, k_pad - g->k_h * run);
  return col;
}

typedef void (*ak_pixels_fn)(const ak_gemm_layer *, const int8_t *, const int8_t *, int32_t, int32_t, int32_t,
                             int8_t *, int8_t *);

/* Words of stack that the packed weights and requantization constants of a chunk of output-channel tiles are
 * copied to: the chunk's pixel loop re-reads them for every pixel tile, and from RAM they load without flash wait
 * states (nano33ble: 5 per load). Output channels are walked chunk by chunk, each over all pixels; a layer whose
 * single tile does not fit reads flash directly. */
#define AK_STAGE_WORDS 768

AK_INLINE void ak_copy_words(int32_t *dst, const int32_t *src, int32_t words) {
  for (int32_t i = 0; i < words; i++) dst[i] = src[i];
}

/* The input a layer's output pixels read, as hp x wp pixels of c bytes (hp * wp * c a multiple of 4) with the
 * input's origin at (pad_t, pad_l): the padding, and columns past the input, are the input zero point, which the
 * folded bias turns into 0 (TFLM skips those taps). Then every output pixel is interior: no border path. */
static __attribute__((noinline)) void ak_pad_input(int32_t *buf32, const int8_t *in, int32_t in_h, int32_t in_w,
                                                   int32_t c, int32_t hp, int32_t wp, int32_t pad_t, int32_t pad_l,
                                                   int32_t in_zp) {
  const int32_t zp4 = (int32_t)((uint32_t)(uint8_t)in_zp * 0x01010101u);
  for (int32_t i = 0, n = (hp * wp * c) >> 2; i < n; i++) buf32[i] = zp4;
  int8_t *buf = (int8_t *)buf32;
  const int32_t ix0 = pad_l < 0 ? -pad_l : 0, ix1 = wp - pad_l < in_w ? wp - pad_l : in_w;  /* columns inside */
  for (int32_t py = 0; py < hp; py++) {
    int32_t iy = py - pad_t;
    if (iy >= 0 && iy < in_h && ix1 > ix0)
      ak_copy(buf + (py * wp + ix0 + pad_l) * c, in + (iy * in_w + ix0) * c, (ix1 - ix0) * c);
  }
}

AK_INLINE int32_t ak_conv(const ak_geom *g, const int8_t *in, const int8_t *w, const int32_t *qp, int8_t *out,
                          const int T, const int P, ak_pixels_fn px1, ak_pixels_fn px2) {
  int32_t k = g->k_h * g->k_w * g->in_c;
  int32_t k_pad = (k + 3) & ~3;
  int32_t k4 = k_pad >> 2;
  int32_t tiles = (g->out_c + T - 1) / T, tile_words = T * (k4 + AK_QP_STRIDE);
  int32_t chunk = AK_STAGE_WORDS / tile_words;  /* tiles per chunk; 0: unstaged */
  int32_t stage[AK_STAGE_WORDS];
  /* Interior pixels read their GEMM row straight from the input as k_h segments of k_w * in_c bytes (when
   * that is a whole number of words); border pixels (and every pixel otherwise) get an im2col copy. */
  int32_t run = g->k_w * g->in_c;
  int segmented = (run & 3) == 0 && g->d_w == 1;
  int32_t row_bytes = g->in_w * g->in_c;
  int32_t seg_skip = g->d_h * row_bytes - run;
  int32_t pixels = g->out_h * g->out_w;
  int32_t col32[2 * k4];  /* two im2col rows, word aligned */
  int8_t *col0 = (int8_t *)col32, *col1 = col0 + k_pad;
  for (int32_t t0 = 0; t0 < tiles; t0 += chunk ? chunk : tiles) {
    int32_t n_tiles = chunk == 0 || tiles - t0 < chunk ? tiles - t0 : chunk;
    const int32_t *wc = (const int32_t *)(const void *)w + t0 * T * k4, *qc = qp + t0 * T * AK_QP_STRIDE;
    if (chunk) {
      ak_copy_words(stage, qc, n_tiles * T * AK_QP_STRIDE);
      ak_copy_words(stage + n_tiles * T * AK_QP_STRIDE, wc, n_tiles * T * k4);
      qc = stage, wc = stage + n_tiles * T * AK_QP_STRIDE;
    }
    int32_t oc0 = t0 * T, oc_n = g->out_c - oc0 < n_tiles * T ? g->out_c - oc0 : n_tiles * T;
    const ak_gemm_layer L = {wc, qc, oc_n, g->out_zp, g->act_lo, g->act_hi, k4};
    int32_t oy = 0, ox = 0;  /* of pixel `pix` */
    for (int32_t pix = 0; pix < pixels; pix += P) {
      int pair = P == 2 && pix + 1 < pixels;
      int32_t oy1 = oy, ox1 = ox + 1;
      if (ox1 == g->out_w) oy1++, ox1 = 0;
      int32_t iy0 = oy * g->s_h - g->pad_t, ix0 = ox * g->s_w - g->pad_l;
      int32_t jy0 = oy1 * g->s_h - g->pad_t, jx0 = ox1 * g->s_w - g->pad_l;
      int32_t y_end = (g->k_h - 1) * g->d_h, x_end = g->k_w - 1;
      int inside = segmented && iy0 >= 0 && iy0 + y_end < g->in_h && ix0 >= 0 && ix0 + x_end < g->in_w;
      if (pair) inside = inside && jy0 >= 0 && jy0 + y_end < g->in_h && jx0 >= 0 && jx0 + x_end < g->in_w;
      const int8_t *r0, *r1;
      int32_t seg_k4 = k4, segs = 1, skip = 0;
      if (inside) {
        r0 = in + iy0 * row_bytes + ix0 * g->in_c;
        r1 = in + jy0 * row_bytes + jx0 * g->in_c;
        seg_k4 = run >> 2, segs = g->k_h, skip = seg_skip;
      } else {
        r0 = ak_im2col(g, in, oy, ox, col0, k_pad);
        r1 = pair ? ak_im2col(g, in, oy1, ox1, col1, k_pad) : r0;
      }
      int8_t *o0 = out + pix * g->out_c + oc0;
      if (pair)
        px2(&L, r0, r1, seg_k4, segs, skip, o0, o0 + g->out_c);
      else
        px1(&L, r0, r0, seg_k4, segs, skip, o0, o0);
      oy = oy1, ox = ox1;
      if (P == 2) {
        if (++ox == g->out_w) oy++, ox = 0;
      }
    }
  }
  return 0;
}

#define AK_CONV_VARIANT(T, P, U)                                                                              \
  int32_t armlprof_conv_s8_t##T##p##P##u##U(ARMLPROF_CONV_ARGS) {                                         \
    AK_GEOM;                                                                                                  \
    return ak_conv(&g, in, w, qp, out, T, P, ak_px_t##T##p1u##U, ak_px_t##T##p2u##U);                                                              \
  }

AK_CONV_VARIANT(2, 1, 1)
AK_CONV_VARIANT(2, 2, 1)
AK_CONV_VARIANT(4, 1, 1)
AK_CONV_VARIANT(4, 2, 1)
AK_CONV_VARIANT(2, 1, 2)
AK_CONV_VARIANT(2, 2, 2)
AK_CONV_VARIANT(4, 1, 2)
AK_CONV_VARIANT(4, 2, 2)
/* ---------------------------------------------------------------- depthwise convolution */
/* Weights pre-packed offline as [C/4][KH][KW] words (4 channels of one tap each), so the tap loop walks them
 * with a post-incremented pointer. Channels c..c+3 of one output pixel (P = 1), or of two neighbouring pixels
 * sharing every weight word (P = 2): the input offset is added while sign-extending (SXTAB16), one
 * SMLABB/SMLATT per MAC. Interior pixels run the taps without bounds checks (x: their top-left tap); border
 * pixels skip the taps outside the input, as TFLM does. in_c % 4 == 0 (the Python side checks). */
#define AK_DW_MAC(a0, a1, a2, a3, xv, wl, wh)                             \
  do {                                                                  \
    int32_t xl_ = ak_sxtab16(off2, xv), xh_ = ak_sxtab16_ror8(off2, xv); \
    a0 = ak_smlabb(xl_, wl, a0);                                        \
    a2 = ak_smlatt(xl_, wl, a2);                                        \
    a1 = ak_smlabb(xh_, wh, a1);                                        \
    a3 = ak_smlatt(xh_, wh, a3);                                        \
  } while (0)

typedef struct {
  int32_t row_skip, tap_step, pix_step, k_h, k_w, off2;
} ak_dw_steps;

AK_INLINE void ak_dw_interior(const int8_t *x, const int32_t *w, const ak_dw_steps *s, int32_t *acc, const int P) {
  int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0;
  const int32_t tap_step = s->tap_step, off2 = s->off2;
  for (int32_t ky = s->k_h; ky > 0; ky--, x += s->row_skip) {
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
    if (P == 1) {
      /* GCC at -Os spills this loop's accumulators; the same instructions, register-allocated by hand. */
      int32_t kx = s->k_w, wv, xv, t0, t1;
      __asm__ volatile(
          "1:\n\t"
          "ldr %[wv], [%[w]], #4\n\t"
          "ldr %[xv], [%[x]]\n\t"
          "add %[x], %[x], %[tap]\n\t"
          "sxtb16 %[t0], %[wv]\n\t"
          "sxtab16 %[t1], %[off], %[xv]\n\t"
          "smlabb %[a0], %[t1], %[t0], %[a0]\n\t"
          "smlatt %[a2], %[t1], %[t0], %[a2]\n\t"
          "sxtb16 %[t0], %[wv], ror #8\n\t"
          "sxtab16 %[t1], %[off], %[xv], ror #8\n\t"
          "smlabb %[a1], %[t1], %[t0], %[a1]\n\t"
          "smlatt %[a3], %[t1], %[t0], %[a3]\n\t"
          "subs %[kx], %[kx], #1\n\t"
          "bne 1b"
          : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [x] "+r"(x), [w] "+r"(w), [kx] "+r"(kx),
            [wv] "=&r"(wv), [xv] "=&r"(xv), [t0] "=&r"(t0), [t1] "=&r"(t1)
          : [off] "r"(off2), [tap] "r"(tap_step)
          : "cc", "memory");
      continue;
    }
#endif
    for (int32_t kx = s->k_w; kx > 0; kx--, x += tap_step, w++) {
      int32_t wv = *w, wl = ak_sxtb16(wv), wh = ak_sxtb16_ror8(wv);
      AK_DW_MAC(a0, a1, a2, a3, ak_read32(x), wl, wh);
      if (P == 2) AK_DW_MAC(b0, b1, b2, b3, ak_read32(x + s->pix_step), wl, wh);
    }
  }
  acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
  if (P == 2) acc[4] = b0, acc[5] = b1, acc[6] = b2, acc[7] = b3;
}

static __attribute__((noinline)) void ak_dw_taps1(const int8_t *x, const int32_t *w, const ak_dw_steps *s,
                                                  int32_t *acc) {
  ak_dw_interior(x, w, s, acc, 1);
}

static __attribute__((noinline)) void ak_dw_taps2(const int8_t *x, const int32_t *w, const ak_dw_steps *s,
                                                  int32_t *acc) {
  ak_dw_interior(x, w, s, acc, 2);
}

/* A border pixel's channel group `grp` (w: that group's packed taps). */
static void ak_dw_border(const ak_geom *g, const int8_t *in, const int32_t *w, int32_t c, int32_t oy, int32_t ox,
                         int32_t off2, int32_t *acc) {
  int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  for (int32_t ky = 0; ky < g->k_h; ky++) {
    int32_t iy = oy * g->s_h - g->pad_t + ky * g->d_h;
    if (iy < 0 || iy >= g->in_h) continue;
    for (int32_t kx = 0; kx < g->k_w; kx++) {
      int32_t ix = ox * g->s_w - g->pad_l + kx * g->d_w;
      if (ix < 0 || ix >= g->in_w) continue;
      int32_t wv = w[ky * g->k_w + kx], wl = ak_sxtb16(wv), wh = ak_sxtb16_ror8(wv);
      AK_DW_MAC(a0, a1, a2, a3, ak_read32(in + (iy * g->in_w + ix) * g->in_c + c), wl, wh);
    }
  }
  acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
}

AK_INLINE void ak_dw_store4(const ak_geom *g, int8_t *o, const int32_t *acc, const int32_t *qp) {
  const ak_outq oq = {g->out_zp, g->act_lo, g->act_hi};
  int8_t v[4];
  for (int t = 0; t < 4; t++) v[t] = ak_requant(acc[t], ak_qp_load(qp + t * AK_QP_STRIDE), oq);
  __builtin_memcpy(o, v, 4);  /* one word store: the channels of a group are contiguous */
}

/* All channel groups of output pixel (oy, ox) [and (oy, ox + 1) when P = 2, both interior]. */
AK_INLINE void ak_dw_pixels(const ak_geom *g, const int8_t *in, const int32_t *w, const int32_t *qp, int8_t *o,
                            int32_t oy, int32_t ox, int interior, const int P) {
  int32_t off2 = ak_pack16(-g->in_zp, -g->in_zp);
  int32_t taps = g->k_h * g->k_w, tap_step = g->d_w * g->in_c;
  const ak_dw_steps steps = {g->d_h * g->in_w * g->in_c - g->k_w * tap_step, tap_step, g->s_w * g->in_c,
                             g->k_h, g->k_w, off2};
  const int8_t *x = in + ((oy * g->s_h - g->pad_t) * g->in_w + (ox * g->s_w - g->pad_l)) * g->in_c;
  for (int32_t c = 0; c < g->in_c; c += 4, w += taps, qp += 4 * AK_QP_STRIDE) {
    int32_t acc[8];
    if (interior) {
      (P == 2 ? ak_dw_taps2 : ak_dw_taps1)(x + c, w, &steps, acc);
      ak_dw_store4(g, o + c, acc, qp);
      if (P == 2) ak_dw_store4(g, o + g->out_c + c, acc + 4, qp);
    } else {
      ak_dw_border(g, in, w, c, oy, ox, off2, acc);
      ak_dw_store4(g, o + c, acc, qp);
    }
  }
}

static __attribute__((noinline)) void ak_dw_pixel1(const ak_geom *g, const int8_t *in, const int32_t *w,
                                                   const int32_t *qp, int8_t *o, int32_t oy, int32_t ox, int interior) {
  ak_dw_pixels(g, in, w, qp, o, oy, ox, interior, 1);
}

static __attribute__((noinline)) void ak_dw_pixel2(const ak_geom *g, const int8_t *in, const int32_t *w,
                                                   const int32_t *qp, int8_t *o, int32_t oy, int32_t ox) {
  ak_dw_pixels(g, in, w, qp, o, oy, ox, 1, 2);
}

/* A run of n interior pixels of one output row, P = 1: the whole loop nest in one function (no call per pixel
 * or channel group). x: the first pixel's top-left tap. */
static __attribute__((noinline)) void ak_dw_row(const ak_geom *g, const int8_t *x, const int32_t *w,
                                                const int32_t *qp, int8_t *o, int32_t n) {
  int32_t off2 = ak_pack16(-g->in_zp, -g->in_zp);
  int32_t taps = g->k_h * g->k_w, tap_step = g->d_w * g->in_c, c_all = g->in_c;
  const ak_dw_steps steps = {g->d_h * g->in_w * g->in_c - g->k_w * tap_step, tap_step, g->s_w * g->in_c,
                             g->k_h, g->k_w, off2};
  for (; n > 0; n--, x += steps.pix_step, o += c_all) {
    const int32_t *wg = w, *q = qp;
    for (int32_t c = 0; c < c_all; c += 4, wg += taps, q += 4 * AK_QP_STRIDE) {
      int32_t acc[8];
      ak_dw_taps1(x + c, wg, &steps, acc);
      ak_dw_store4(g, o + c, acc, q);
    }
  }
}

AK_INLINE int32_t ak_dwconv(const ak_geom *g, const int8_t *in, const int8_t *w8, const int32_t *qp, int8_t *out,
                            const int P) {
  const int32_t *w = (const int32_t *)(const void *)w8;
  /* interior output range: every tap inside the input */
  int32_t y_span = (g->k_h - 1) * g->d_h, x_span = (g->k_w - 1) * g->d_w;
  for (int32_t oy = 0; oy < g->out_h; oy++) {
    int32_t iy0 = oy * g->s_h - g->pad_t;
    int row_inside = iy0 >= 0 && iy0 + y_span < g->in_h;
    for (int32_t ox = 0; ox < g->out_w;) {
      int32_t ix0 = ox * g->s_w - g->pad_l;
      int inside = row_inside && ix0 >= 0 && ix0 + x_span < g->in_w;
      int8_t *o = out + (oy * g->out_w + ox) * g->out_c;
      if (P == 1 && inside) {  /* the interior run of this row */
        int32_t n = 1;
        while (ox + n < g->out_w && ix0 + n * g->s_w + x_span < g->in_w) n++;
        ak_dw_row(g, in + (iy0 * g->in_w + ix0) * g->in_c, w, qp, o, n);
        ox += n;
      } else if (P == 2 && inside && ox + 1 < g->out_w && ix0 + g->s_w + x_span < g->in_w) {
        ak_dw_pixel2(g, in, w, qp, o, oy, ox);
        ox += 2;
      } else {
        ak_dw_pixel1(g, in, w, qp, o, oy, ox, inside);
        ox += 1;
      }
    }
  }
  return 0;
}

#define AK_DW_VARIANT(P)                                \
  int32_t armlprof_dwconv_s8_p##P(ARMLPROF_CONV_ARGS) { \
    AK_GEOM;                                            \
    return ak_dwconv(&g, in, w, qp, out, P);            \
  }
AK_DW_VARIANT(1)
AK_DW_VARIANT(2)

/* ---------------------------------------------------------------- depthwise convolution, staged (variant r1) */
/* Channel group (4 channels) outer, output pixels inner, so everything per group is prepared once: the group's
 * taps sign-extended into a stack array (wl = channels 0, 2 and wh = 1, 3 of each tap; RAM loads, where the
 * packed weights sit in flash behind wait states), the input offset folded into the bias (interior pixels then
 * accumulate x * w with plain SXTB16; border pixels add zp * sum(w) back and accumulate (x - zp) * w over their
 * valid taps, as TFLM skips the others). The accumulators of up to AK_DW_CHUNK pixels of a row go to a stack
 * buffer and are requantized one channel at a time, with that channel's constants in registers. 3x3 kernels
 * (any stride, dilation) run a fully unrolled, register-allocated tap block. */
#define AK_DW_MAX_TAPS 49
#define AK_DW_CHUNK 48

typedef struct {
  int32_t tap_step, row_step, k_h, k_w;  /* bytes between taps of a row / from the end of a row to the next */
} ak_dw_walk;

/* Interior pixel: sum over all taps of x * w (the input offset is in the bias). x: its top-left tap. */
AK_INLINE void ak_dw_sum(const int8_t *x, const int32_t *wst, const ak_dw_walk *s, int32_t *acc) {
  int32_t a0, a1, a2, a3;
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
  if (s->k_h == 3 && s->k_w == 3) {
    int32_t xv, t, wl, wh;
    const int8_t *xp = x;
#define AK_DW3_FIRST(xaddr)                   \
  "ldr %[xv], " xaddr "\n\t"                  \
  "ldrd %[wl], %[wh], [%[w], #0]\n\t"         \
  "sxtb16 %[t], %[xv]\n\t"                    \
  "smulbb %[a0], %[t], %[wl]\n\t"             \
  "smultt %[a2], %[t], %[wl]\n\t"             \
  "sxtb16 %[t], %[xv], ror #8\n\t"            \
  "smulbb %[a1], %[t], %[wh]\n\t"             \
  "smultt %[a3], %[t], %[wh]\n\t"
#define AK_DW3_TAP(xaddr, woff)                         \
  "ldr %[xv], " xaddr "\n\t"                            \
  "ldrd %[wl], %[wh], [%[w], #" woff "]\n\t"            \
  "sxtb16 %[t], %[xv]\n\t"                              \
  "smlabb %[a0], %[t], %[wl], %[a0]\n\t"                \
  "smlatt %[a2], %[t], %[wl], %[a2]\n\t"                \
  "sxtb16 %[t], %[xv], ror #8\n\t"                      \
  "smlabb %[a1], %[t], %[wh], %[a1]\n\t"                \
  "smlatt %[a3], %[t], %[wh], %[a3]\n\t"
#define AK_X0 "[%[x]]"
#define AK_X1 "[%[x], %[cs]]"
#define AK_X2 "[%[x], %[cs], lsl #1]"
    __asm__(AK_DW3_FIRST(AK_X0) AK_DW3_TAP(AK_X1, "8") AK_DW3_TAP(AK_X2, "16")
            "add %[x], %[x], %[row]\n\t"
            AK_DW3_TAP(AK_X0, "24") AK_DW3_TAP(AK_X1, "32") AK_DW3_TAP(AK_X2, "40")
            "add %[x], %[x], %[row]\n\t"
            AK_DW3_TAP(AK_X0, "48") AK_DW3_TAP(AK_X1, "56") AK_DW3_TAP(AK_X2, "64")
            : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [x] "+&r"(xp), [xv] "=&r"(xv),
              [t] "=&r"(t), [wl] "=&r"(wl), [wh] "=&r"(wh)
            : [w] "r"(wst), [cs] "r"(s->tap_step), [row] "r"(s->row_step + s->tap_step * 3)
            : "memory");
#undef AK_X0
#undef AK_X1
#undef AK_X2
#undef AK_DW3_FIRST
#undef AK_DW3_TAP
    acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
    return;
  }
#endif
  a0 = a1 = a2 = a3 = 0;
  for (int32_t ky = s->k_h; ky > 0; ky--, x += s->row_step) {
    for (int32_t kx = s->k_w; kx > 0; kx--, x += s->tap_step, wst += 2) {
      int32_t xv = ak_read32(x), xl = ak_sxtb16(xv), xh = ak_sxtb16_ror8(xv);
      a0 = ak_smlabb(xl, wst[0], a0);
      a2 = ak_smlatt(xl, wst[0], a2);
      a1 = ak_smlabb(xh, wst[1], a1);
      a3 = ak_smlatt(xh, wst[1], a3);
    }
  }
  acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
}

/* n interior pixels pix_step bytes apart (x: the first one's top-left tap), out of line with the walk in
 * registers and the 3x3 test hoisted out of the pixel loop. */
static __attribute__((noinline)) void ak_dw_run(const int8_t *x, const int32_t *wst, const ak_dw_walk *walk,
                                                int32_t n, int32_t pix_step, int32_t *acc) {
  const ak_dw_walk s = *walk;
  if (s.k_h == 3 && s.k_w == 3) {
    const ak_dw_walk s3 = {s.tap_step, s.row_step, 3, 3};
    for (; n > 0; n--, x += pix_step, acc += 4) ak_dw_sum(x, wst, &s3, acc);
  } else {
    for (; n > 0; n--, x += pix_step, acc += 4) ak_dw_sum(x, wst, &s, acc);
  }
}

/* Border pixel, channels c..c+3 (x: its top-left tap, maybe outside the input; iy0, ix0: that tap's input row
 * and column): its taps copied into a patch, the ones outside the input as the input zero point (which the folded
 * bias turns into 0, as TFLM skips them), then the interior sum over the patch. The geometry is read into locals
 * first (the patch stores may alias it), and the valid taps are a rectangle [ky0, ky1) x [kx0, kx1). */
static __attribute__((noinline)) void ak_dw_border_sum(const ak_geom *g, const int8_t *x, const int32_t *wst,
                                                       int32_t iy0, int32_t ix0, int32_t *acc) {
  int32_t patch[AK_DW_MAX_TAPS];
  const int32_t zp4 = (int32_t)((uint32_t)(uint8_t)g->in_zp * 0x01010101u);
  const int32_t k_h = g->k_h, k_w = g->k_w, d_h = g->d_h, d_w = g->d_w, in_h = g->in_h, in_w = g->in_w;
  const int32_t tap = d_w * g->in_c, row = d_h * in_w * g->in_c;
  int32_t ky0 = 0, ky1 = k_h, kx0 = 0, kx1 = k_w;
  while (ky0 < ky1 && iy0 + ky0 * d_h < 0) ky0++;
  while (ky1 > ky0 && iy0 + (ky1 - 1) * d_h >= in_h) ky1--;
  while (kx0 < kx1 && ix0 + kx0 * d_w < 0) kx0++;
  while (kx1 > kx0 && ix0 + (kx1 - 1) * d_w >= in_w) kx1--;
  for (int32_t t = 0; t < k_h * k_w; t++) patch[t] = zp4;
  for (int32_t ky = ky0; ky < ky1; ky++) {
    const int8_t *xt = x + ky * row + kx0 * tap;
    for (int32_t kx = kx0; kx < kx1; kx++, xt += tap) patch[ky * k_w + kx] = ak_read32(xt);
  }
  const ak_dw_walk walk = {4, 0, k_h, k_w};
  ak_dw_sum((const int8_t *)patch, wst, &walk, acc);
}

AK_INLINE int32_t ak_smmulr(int32_t a, int32_t b) {  /* (a * b + 2^31) >> 32 */
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
  int32_t r;
  __asm__("smmulr %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
  return r;
#else
  return (int32_t)(((int64_t)a * b + 0x80000000LL) >> 32);
#endif
}

/* One channel's requantization, prepared once per layer and channel group. `fast`: for every output of the
 * channel, (acc + bias) << left stays below 2^30 (from a bound on |acc + bias|) and the right shift e is 1..22, so
 * ak_requant's fast path always holds and the output offset can join the rounding constant:
 * (v + zp * 2^e) >> e = (v >> e) + zp, without overflow (|v| <= 2^30 + 2^21, |zp * 2^e| <= 2^29). */
typedef struct {
  ak_qp q;
  int32_t fast, s1, rz;
} ak_rq;

AK_INLINE ak_rq ak_rq_prepare(ak_qp q, int32_t out_zp, int64_t bound) {
  ak_rq r = {q, 0, q.left + 1, 0};
  if (q.right <= 22 && q.left <= 29 && bound < (1LL << (30 - q.left))) {
    /* fast 2: no right shift (a multiplier >= 0.5: left shifts, common on depthwise layers), the output is the
     * rounded high product plus the output offset */
    r.fast = q.right >= 1 ? 1 : 2;
    r.rz = q.right >= 1 ? (1 << (q.right - 1)) + out_zp * (1 << q.right) : out_zp;
  }
  return r;
}

/* n outputs of one channel: acc every 4th word, outputs every `o_step` bytes. */
static __attribute__((noinline)) void ak_requant_run(const int32_t *acc, int8_t *o, int32_t n, int32_t o_step,
                                                     const ak_rq *rq, const ak_outq *oq) {
  const ak_outq oo = *oq;
  if (rq->fast) {
    const int32_t bias = rq->q.bias, s1 = rq->s1, m = rq->q.mult, e = rq->q.right, rz = rq->rz;
    const int32_t lo = oo.lo, hi = oo.hi;
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
    if (rq->fast == 1 && lo == -128 && hi == 127 && n > 0) {  /* no clamp inside int8: SSAT (GCC spills this) */
      int32_t x, y;
#define AK_RQ_ONE(scale)                   \
  "ldr %[x], [%[acc]], #16\n\t" scale      \
  "smmlar %[y], %[x], %[m], %[rz]\n\t"     \
  "add %[x], %[y], %[x], asr #31\n\t"      \
  "asr %[x], %[x], %[e]\n\t"               \
  "ssat %[x], #8, %[x]\n\t"                \
  "strb %[x], [%[o]]\n\t"                  \
  "add %[o], %[o], %[step]\n\t"
      /* SMMLAR adds rz to the rounded high product; the rounding's -1 for negative values takes the sign of the
       * scaled input instead of the product's: they differ only where the product rounds to 0, and there both
       * give the output offset (test_tvm_kernels.py). Two outputs per iteration (the loop's branch is a fifth
       * of the cost of one), then the odd one. */
#define AK_RQ_LOOP(scale, bias_value)                                                                          \
  __asm__ volatile("subs %[n], %[n], #2\n\t"                                                                   \
                   "blt 2f\n\t"                                                                                \
                   "1:\n\t" AK_RQ_ONE(scale) AK_RQ_ONE(scale)                                                  \
                   "subs %[n], %[n], #2\n\t"                                                                   \
                   "bge 1b\n\t"                                                                                \
                   "2:\n\t"                                                                                    \
                   "adds %[n], %[n], #2\n\t"                                                                   \
                   "beq 3f\n\t" AK_RQ_ONE(scale) "3:"                                                           \
                   : [acc] "+r"(acc), [o] "+r"(o), [n] "+r"(n), [x] "=&r"(x), [y] "=&r"(y)                   \
                   : [bias] "r"(bias_value), [s1] "r"(s1), [m] "r"(m), [rz] "r"(rz), [e] "r"(e), [step] "r"(o_step) \
                   : "cc", "memory")
      if (s1 == 1)  /* no left shift: (acc + bias) * 2 = 2 bias + (acc << 1), one instruction */
        AK_RQ_LOOP("add %[x], %[bias], %[x], lsl #1\n\t", (int32_t)((uint32_t)bias << 1));
      else
        AK_RQ_LOOP("add %[x], %[x], %[bias]\n\tlsl %[x], %[x], %[s1]\n\t", bias);
#undef AK_RQ_LOOP
#undef AK_RQ_ONE
      return;
    }
#endif
    if (rq->fast == 2) {
      for (; n > 0; n--, acc += 4, o += o_step) {
        int32_t x = ak_smmulr((int32_t)((uint32_t)(*acc + bias) << s1), m) + rz;
        x = x < lo ? lo : x;
        *o = (int8_t)(x > hi ? hi : x);
      }
      return;
    }
    for (; n > 0; n--, acc += 4, o += o_step) {
      int32_t y = ak_smmulr((int32_t)((uint32_t)(*acc + bias) << s1), m);
      int32_t x = (y + rz + (y >> 31)) >> e;
      x = x < lo ? lo : x;
      *o = (int8_t)(x > hi ? hi : x);
    }
    return;
  }
  const ak_qp q = rq->q;
  for (; n > 0; n--, acc += 4, o += o_step) *o = ak_requant(*acc, q, oo);
}

static __attribute__((noinline)) int32_t ak_dwconv_staged(const ak_geom *g, const int8_t *in, const int32_t *w,
                                                          const int32_t *qp, int8_t *out) {
  const int32_t taps = g->k_h * g->k_w, pix_step = g->s_w * g->in_c;
  const int32_t y_span = (g->k_h - 1) * g->d_h, x_span = (g->k_w - 1) * g->d_w;
  /* interior columns [ox_lo, ox_hi): every tap inside the input row */
  int32_t ox_lo = 0, ox_hi = g->out_w;
  while (ox_lo < g->out_w && ox_lo * g->s_w - g->pad_l < 0) ox_lo++;
  while (ox_hi > ox_lo && (ox_hi - 1) * g->s_w - g->pad_l + x_span >= g->in_w) ox_hi--;
  const ak_dw_walk walk = {g->d_w * g->in_c, g->d_h * g->in_w * g->in_c - g->k_w * g->d_w * g->in_c, g->k_h,
                           g->k_w};
  const ak_outq oq = {g->out_zp, g->act_lo, g->act_hi};
  int32_t wst[2 * AK_DW_MAX_TAPS];
  int32_t acc[4 * AK_DW_CHUNK];
  for (int32_t c = 0; c < g->in_c; c += 4, w += taps, qp += 4 * AK_QP_STRIDE) {
    int32_t sum[4] = {0, 0, 0, 0}, abs_sum[4] = {0, 0, 0, 0};
    for (int32_t t = 0; t < taps; t++) {
      int32_t wv = w[t];
      wst[2 * t] = ak_sxtb16(wv), wst[2 * t + 1] = ak_sxtb16_ror8(wv);
      for (int j = 0; j < 4; j++) {
        int32_t wj = (int8_t)(uint8_t)((uint32_t)wv >> (8 * j));
        sum[j] += wj, abs_sum[j] += wj < 0 ? -wj : wj;
      }
    }
    ak_rq rq[4];
    for (int j = 0; j < 4; j++) {
      ak_qp q = ak_qp_load(qp + j * AK_QP_STRIDE);
      /* |zp * sum| < 2^7 * 2^7 * 49: no overflow; the bias wraps as TFLM's int32 sums */
      q.bias = (int32_t)((uint32_t)q.bias - (uint32_t)(g->in_zp * sum[j]));
      int64_t b = q.bias;
      rq[j] = ak_rq_prepare(q, g->out_zp, (b < 0 ? -b : b) + 128LL * abs_sum[j]);  /* |sum x*w| <= 128 sum|w| */
    }
    /* Output pixels in chunks of up to AK_DW_CHUNK consecutive ones (whole rows where they fit: NHWC keeps a
     * chunk's outputs out_c bytes apart); each row splits into border / interior / border runs. */
    int32_t n = 0, p0 = 0;  /* pixels in the chunk, index of its first */
    for (int32_t oy = 0; oy < g->out_h; oy++) {
      int32_t iy0 = oy * g->s_h - g->pad_t;
      int row_inside = iy0 >= 0 && iy0 + y_span < g->in_h;
      int32_t lo = row_inside ? ox_lo : g->out_w, hi = row_inside ? ox_hi : g->out_w;
      const int8_t *x_row = in + (iy0 * g->in_w - g->pad_l) * g->in_c + c;
      for (int32_t ox = 0; ox < g->out_w;) {
        int32_t end = ox + (AK_DW_CHUNK - n) < g->out_w ? ox + (AK_DW_CHUNK - n) : g->out_w;
        int32_t *a = acc + 4 * n;
        n += end - ox;
        int32_t stop = lo < end ? lo : end;
        for (; ox < stop; ox++, a += 4)
          ak_dw_border_sum(g, x_row + ox * pix_step, wst, iy0, ox * g->s_w - g->pad_l, a);
        stop = hi < end ? hi : end;
        if (stop > ox) {
          ak_dw_run(x_row + ox * pix_step, wst, &walk, stop - ox, pix_step, a);
          a += 4 * (stop - ox), ox = stop;
        }
        for (; ox < end; ox++, a += 4)
          ak_dw_border_sum(g, x_row + ox * pix_step, wst, iy0, ox * g->s_w - g->pad_l, a);
        if (n == AK_DW_CHUNK || (oy == g->out_h - 1 && ox == g->out_w)) {
          int8_t *o = out + p0 * g->out_c + c;
          for (int j = 0; j < 4; j++) ak_requant_run(acc + j, o + j, n, g->out_c, &rq[j], &oq);
          p0 += n, n = 0;
        }
      }
    }
  }
  return 0;
}

/* Padded layers with many border pixels (person_detect's 6x6 and 3x3 ones: most of them) first copy their input
 * into a padded stack buffer of up to AK_DW_PAD_BYTES, so every pixel takes the interior path: when the copy
 * (~5 cycles per buffer pixel and channel group) costs less than the border path's surplus (~100 per border pixel
 * and group), i.e. when the buffer has fewer than 20 pixels per border pixel. */
#define AK_DW_PAD_BYTES 24576

static int32_t ak_interior(int32_t out_n, int32_t s, int32_t pad, int32_t span, int32_t in_n) {  /* per axis */
  int32_t n = 0;
  for (int32_t o = 0; o < out_n; o++) n += o * s - pad >= 0 && o * s - pad + span < in_n;
  return n;
}

int32_t armlprof_dwconv_s8_r1(ARMLPROF_CONV_ARGS) {
  AK_GEOM;
  if (k_h * k_w > AK_DW_MAX_TAPS) return ak_dwconv(&g, in, w, qp, out, 1);  /* stage too small: unstaged */
  const int32_t hp = (out_h - 1) * s_h + (k_h - 1) * d_h + 1, wp = (out_w - 1) * s_w + (k_w - 1) * d_w + 1;
  const int padded = pad_t > 0 || pad_l > 0 || hp - pad_t > in_h || wp - pad_l > in_w;
  const int32_t border = out_h * out_w - ak_interior(out_h, s_h, pad_t, (k_h - 1) * d_h, in_h) *
                                             ak_interior(out_w, s_w, pad_l, (k_w - 1) * d_w, in_w);
  if (padded && hp * wp * in_c <= AK_DW_PAD_BYTES && hp * wp < 20 * border) {
    int32_t buf32[(hp * wp * in_c) >> 2];
    ak_pad_input(buf32, in, in_h, in_w, in_c, hp, wp, pad_t, pad_l, in_zp);
    const ak_geom gp = {hp, wp, in_c, out_h, out_w, out_c, k_h, k_w, s_h, s_w, d_h, d_w, 0, 0,
                        in_zp, out_zp, act_lo, act_hi};
    return ak_dwconv_staged(&gp, (const int8_t *)buf32, (const int32_t *)(const void *)w, qp, out);
  }
  return ak_dwconv_staged(&g, in, (const int32_t *)(const void *)w, qp, out);
}

/* ---------------------------------------------------------------- depthwise 3x3, channel-planar (variant t3) */
/* 3x3, dilation 1, the same stride 1 or 2 on both axes, depth multiplier 1 (other layers run r1): SMLAD pairs two
 * taps of one channel instead of one SMLABB/SMLATT per MAC. The input a band of output rows reads is converted,
 * one channel group (4 channels, one input word) at a time, into 4 channel planes of int16 x - in_zp (padding 0,
 * as TFLM skips those taps; so the bias needs no input offset), each input byte once: plane rows of rs words
 * P[i] = (x[2i], x[2i+1]). A channel's 3x3 weights are 6 words in registers for all its outputs. Stride 1, an
 * output pair (2i, 2i+1), per kernel row with W01 = (w0, w1), W12 = (w1, w2): SMLAD(P[i], W01) +
 * SMLABT(P[i+1], W12) and SMLATB(P[i], W01) + SMLAD(P[i+1], W12), 6 MACs from 2 loaded words in 4 instructions.
 * Stride 2, outputs i, i + 1: SMLAD(P[i], W01) + SMLABB(P[i+1], w2) and SMLAD(P[i+1], W01) + SMLABB(P[i+2], w2),
 * 6 MACs from 3 words (the w2 of kernel rows 0 and 1 share a word, read with SMLABB / SMLABT). One channel's
 * accumulators of a chunk of output pixels go to a stack buffer and are requantized together (ak_dwp_requant).
 * On the M4 (plane rows of AK_DWP_RS words: immediate offsets) the pair loops are register-allocated assembly;
 * rows wider than that, and the host, run the same arithmetic in C. */
#define AK_DWP_BYTES 24576 /* the planes of one channel group */
#define AK_DWP_RS 28       /* words per plane row on the M4 path: outputs per row <= 52 (stride 1), 26 (stride 2) */
#define AK_DWP_CHUNK 192   /* output pixels per requantization run (even: a long row splits at even columns) */
#define AK_DWP_BLOCK 12    /* int32 per channel after the requantization rows (kernels.dw_t3_block) */
#define AK_DWP_XSTR(x) #x
#define AK_DWP_STR(x) AK_DWP_XSTR(x)

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
AK_INLINE int32_t ak_dwp_mla(int32_t x, int xt, int32_t y, int yt, int32_t acc) {  /* SMLA<x><y> */
  return xt ? (yt ? __smlatt(x, y, acc) : __smlatb(x, y, acc)) : (yt ? __smlabt(x, y, acc) : __smlabb(x, y, acc));
}
#else
AK_INLINE int32_t ak_dwp_half(int32_t x, int top) { return top ? ak_hi16(x) : ak_lo16(x); }
AK_INLINE int32_t ak_dwp_mla(int32_t x, int xt, int32_t y, int yt, int32_t acc) {  /* SMLA<x><y> */
  return (int32_t)((uint32_t)acc + (uint32_t)(ak_dwp_half(x, xt) * ak_dwp_half(y, yt)));
}
#endif

/* Input pixels v0, v1 (4 channels each) -> their word in each of the 4 planes (d: plane 0, `plane` words apart). */
AK_INLINE void ak_dwp_split(int32_t *d, int32_t plane, int32_t v0, int32_t v1, int32_t off2) {
  const int32_t a0 = ak_sxtab16(off2, v0), b0 = ak_sxtab16_ror8(off2, v0);  /* channels 0, 2 / 1, 3 */
  const int32_t a1 = ak_sxtab16(off2, v1), b1 = ak_sxtab16_ror8(off2, v1);
  d[0] = ak_pack_lo(a0, a1);
  d[plane] = ak_pack_lo(b0, b1);
  d[2 * plane] = ak_pack_hi(a0, a1);
  d[3 * plane] = ak_pack_hi(b0, b1);
}

/* n words of the 4 planes from 2n consecutive input pixels p (in_c bytes apart), all inside the input. */
static __attribute__((noinline)) void ak_dwp_split_run(int32_t *d, int32_t plane, const int8_t *p, int32_t in_c,
                                                       int32_t n, int32_t off2) {
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
  /* GCC keeps re-deriving the four plane addresses; by hand: one pointer per plane, post-indexed stores */
  int32_t *d1 = d + plane, *d2 = d + 2 * plane, *d3 = d + 3 * plane;
  int32_t v0, v1, a0, a1, t;
#define AK_DWP_SPLIT                                   \
  "ldr %[v0], [%[p]]\n\t"                             \
  "ldr %[v1], [%[p], %[c]]\n\t"                       \
  "add %[p], %[p], %[c], lsl #1\n\t" AK_DWP_PACK
/* the 4 plane words of input words v0, v1 (f3 also packs a padding pixel, v0 or v1 = the zero point) */
#define AK_DWP_PACK                                    \
  "sxtab16 %[a0], %[off], %[v0]\n\t"                  \
  "sxtab16 %[a1], %[off], %[v1]\n\t"                  \
  "sxtab16 %[v0], %[off], %[v0], ror #8\n\t"          \
  "sxtab16 %[v1], %[off], %[v1], ror #8\n\t"          \
  "pkhbt %[t], %[a0], %[a1], lsl #16\n\t"             \
  "str %[t], [%[d]], #4\n\t"                          \
  "pkhtb %[t], %[a1], %[a0], asr #16\n\t"             \
  "str %[t], [%[d2]], #4\n\t"                         \
  "pkhbt %[t], %[v0], %[v1], lsl #16\n\t"             \
  "str %[t], [%[d1]], #4\n\t"                         \
  "pkhtb %[t], %[v1], %[v0], asr #16\n\t"             \
  "str %[t], [%[d3]], #4\n\t"
  /* two words per iteration, then the odd one */
  __asm__ volatile("subs %[n], #2\n\t"
                   "blt 2f\n\t"
                   "1:\n\t" AK_DWP_SPLIT AK_DWP_SPLIT
                   "subs %[n], #2\n\t"
                   "bge 1b\n\t"
                   "2:\n\t"
                   "adds %[n], #2\n\t"
                   "beq 3f\n\t" AK_DWP_SPLIT
                   "3:"
                   : [d] "+r"(d), [d1] "+r"(d1), [d2] "+r"(d2), [d3] "+r"(d3), [p] "+l"(p), [n] "+l"(n),
                     [v0] "=&r"(v0), [v1] "=&r"(v1), [a0] "=&r"(a0), [a1] "=&r"(a1), [t] "=&r"(t)
                   : [c] "l"(in_c), [off] "r"(off2)
                   : "cc", "memory");
#else
  for (; n > 0; n--, d++, p += 2 * in_c) ak_dwp_split(d, plane, ak_read32(p), ak_read32(p + in_c), off2);
#endif
}

/* Padded rows y0 .. y0 + rows - 1 (padded coordinates: input row = y - pad_t, column = x - pad_l) of channels
 * c..c+3 into the 4 planes (`plane` words apart) of rows of rs words, rw of them read. Word k holds the pixels
 * 2k - pad_l and 2k + 1 - pad_l: words with both outside are 0 (the caller zeroes the planes once per layer: these
 * words are the same for every channel group and band, and no other write reaches them; rows outside the input
 * are zeroed here), with one inside (an odd pad_l on the left, an odd in_w + pad_l on the right) that pixel's
 * half, the others (both inside) come from ak_dwp_split_run. */
static __attribute__((noinline)) void ak_dwp_planes(int32_t *buf, const ak_geom *g, const int8_t *in, int32_t c,
                                                    int32_t y0, int32_t rows, int32_t rw, int32_t rs,
                                                    int32_t plane) {
  const int32_t off2 = ak_pack16(-g->in_zp, -g->in_zp);
  const int32_t in_w = g->in_w, in_c = g->in_c, pad_l = g->pad_l;
  const int32_t k_zero = (pad_l >> 1) < rw ? pad_l >> 1 : rw;              /* [0, k_zero): both outside */
  const int left_half = (pad_l & 1) && k_zero < rw;                         /* word k_zero: pixel 0 on top */
  const int32_t k_a = k_zero + left_half, k_in = (in_w + pad_l) >> 1;
  const int32_t k_b = k_in < rw ? (k_in > k_a ? k_in : k_a) : rw;          /* [k_a, k_b): both inside */
  const int right_half = ((in_w + pad_l) & 1) && k_b < rw && k_b == k_in;  /* word k_b: pixel in_w - 1 at the bottom */
  for (int32_t y = 0; y < rows; y++) {
    int32_t *d = buf + y * rs;
    const int32_t iy = y0 + y - g->pad_t;
    if (iy < 0 || iy >= g->in_h) {
      for (int32_t k = 0; k < rw; k++) d[k] = d[k + plane] = d[k + 2 * plane] = d[k + 3 * plane] = 0;
      continue;
    }
    const int8_t *src = in + iy * in_w * in_c + c;
    if (left_half) {
      const int32_t v = ak_read32(src), a = ak_sxtab16(off2, v), b = ak_sxtab16_ror8(off2, v);
      int32_t *e = d + k_zero;
      e[0] = (int32_t)((uint32_t)a << 16), e[plane] = (int32_t)((uint32_t)b << 16);
      e[2 * plane] = (int32_t)((uint32_t)a & 0xFFFF0000u), e[3 * plane] = (int32_t)((uint32_t)b & 0xFFFF0000u);
    }
    if (k_b > k_a) ak_dwp_split_run(d + k_a, plane, src + (2 * k_a - pad_l) * in_c, in_c, k_b - k_a, off2);
    if (right_half) {
      const int32_t v = ak_read32(src + (in_w - 1) * in_c), a = ak_sxtab16(off2, v), b = ak_sxtab16_ror8(off2, v);
      int32_t *e = d + k_b;
      e[0] = (int32_t)((uint32_t)a & 0xFFFFu), e[plane] = (int32_t)((uint32_t)b & 0xFFFFu);
      e[2 * plane] = (int32_t)((uint32_t)a >> 16), e[3 * plane] = (int32_t)((uint32_t)b >> 16);
    }
  }
}

/* The accumulators (from init) of n consecutive outputs of one output row into acc[0..n) (stride 1 with n odd
 * also writes acc[n]); x: plane row 0 at the first output's first word, rs words per plane row. */
AK_INLINE void ak_dwp_taps_c(const int32_t *x, int32_t rs, int32_t *acc, int32_t n, const int32_t *wv,
                             int32_t init, const int S) {
  const int32_t *r1 = x + rs, *r2 = x + 2 * rs;
  if (S == 1) {
    for (int32_t i = 0; i < (n + 1) >> 1; i++, acc += 2) {
      int32_t a = init, b = init;
      const int32_t *rows[3] = {x + i, r1 + i, r2 + i};
      for (int32_t k = 0; k < 3; k++) {
        const int32_t p0 = rows[k][0], p1 = rows[k][1], w01 = wv[2 * k], w12 = wv[2 * k + 1];
        a = ak_smlad(p0, w01, a), a = ak_dwp_mla(p1, 0, w12, 1, a);
        b = ak_dwp_mla(p0, 1, w01, 0, b), b = ak_smlad(p1, w12, b);
      }
      acc[0] = a, acc[1] = b;
    }
  } else {
    for (int32_t i = 0; i < n; i++) {
      int32_t a = init;
      a = ak_smlad(x[i], wv[0], a), a = ak_dwp_mla(x[i + 1], 0, wv[3], 0, a);
      a = ak_smlad(r1[i], wv[1], a), a = ak_dwp_mla(r1[i + 1], 0, wv[3], 1, a);
      a = ak_smlad(r2[i], wv[2], a), a = ak_dwp_mla(r2[i + 1], 0, wv[4], 0, a);
      acc[i] = a;
    }
  }
}

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
/* The same over `rows` output rows of out_w outputs (acc: out_w words per row), rs == AK_DWP_RS, registers
 * pinned so the pointers, loaded words and accumulators are low registers (16-bit encodings, STM) and the weights
 * stay in r7-r12 over all rows, the accumulators' start in lr. */
#define AK_DWP_ROW1 AK_DWP_STR(AK_DWP_RS) "*4"
#define AK_DWP_ROW2 AK_DWP_STR(AK_DWP_RS) "*8"
static __attribute__((noinline)) void ak_dwp_rows_s1(const int32_t *x0, int32_t *acc0, int32_t rows,
                                                     int32_t out_w, const int32_t *wv, int32_t init) {
  register int32_t w0 __asm__("r7") = wv[0], w1 __asm__("r8") = wv[1], w2 __asm__("r9") = wv[2];
  register int32_t w3 __asm__("r10") = wv[3], w4 __asm__("r11") = wv[4], w5 __asm__("r12") = wv[5];
  register int32_t start __asm__("lr") = init;
  for (int32_t row = 0; row < rows; row++, x0 += AK_DWP_RS, acc0 += out_w) {
    register const int32_t *x __asm__("r0") = x0;
    register int32_t *acc __asm__("r5") = acc0;
    register int32_t n __asm__("r6") = (out_w + 1) >> 1;
    register int32_t p0 __asm__("r1"), p1 __asm__("r2"), a __asm__("r3"), b __asm__("r4");
#define AK_DWP_S1_ROW(off, wa, wb, first)                        \
  "ldr %[p0], [%[x], #" off "]\n\t"                              \
  "ldr %[p1], [%[x], #" off "+4]\n\t"                            \
  first                                                          \
  "smlabt %[a], %[p1], %[" wb "], %[a]\n\t"                      \
  "smlad %[b], %[p1], %[" wb "], %[b]\n\t"
#define AK_DWP_S1_FIRST "smlad %[a], %[p0], %[w0], %[init]\n\tsmlatb %[b], %[p0], %[w0], %[init]\n\t"
#define AK_DWP_S1_NEXT(wa) "smlad %[a], %[p0], %[" wa "], %[a]\n\tsmlatb %[b], %[p0], %[" wa "], %[b]\n\t"
#define AK_DWP_S1_PAIR(d)                                                     \
  AK_DWP_S1_ROW(d, "w0", "w1", AK_DWP_S1_FIRST)                               \
  AK_DWP_S1_ROW(d "+" AK_DWP_ROW1, "w2", "w3", AK_DWP_S1_NEXT("w2"))          \
  AK_DWP_S1_ROW(d "+" AK_DWP_ROW2, "w4", "w5", AK_DWP_S1_NEXT("w4"))          \
  "stmia %[acc]!, {%[a], %[b]}\n\t"
    /* two pairs per iteration (the loop's adds and branch are a tenth of a pair), then the odd one */
    __asm__ volatile("subs %[n], #2\n\t"
                     "blt 2f\n\t"
                     "1:\n\t"
                     AK_DWP_S1_PAIR("0") AK_DWP_S1_PAIR("4")
                     "adds %[x], #8\n\t"
                     "subs %[n], #2\n\t"
                     "bge 1b\n\t"
                     "2:\n\t"
                     "adds %[n], #2\n\t"
                     "beq 3f\n\t"
                     AK_DWP_S1_PAIR("0")
                     "3:"
                     : [x] "+l"(x), [acc] "+l"(acc), [n] "+l"(n), [p0] "=&l"(p0), [p1] "=&l"(p1), [a] "=&l"(a),
                       [b] "=&l"(b)
                     : [w0] "r"(w0), [w1] "r"(w1), [w2] "r"(w2), [w3] "r"(w3), [w4] "r"(w4), [w5] "r"(w5),
                       [init] "r"(start)
                     : "cc", "memory");
#undef AK_DWP_S1_PAIR
#undef AK_DWP_S1_ROW
#undef AK_DWP_S1_FIRST
#undef AK_DWP_S1_NEXT
  }
}

static __attribute__((noinline)) void ak_dwp_rows_s2(const int32_t *x0, int32_t *acc0, int32_t rows,
                                                     int32_t out_w, const int32_t *wv, int32_t init) {
  register int32_t w0 __asm__("r8") = wv[0], w1 __asm__("r9") = wv[1], w2 __asm__("r10") = wv[2];
  register int32_t w3 __asm__("r11") = wv[3], w4 __asm__("r12") = wv[4];
  register int32_t start __asm__("lr") = init;
  for (int32_t row = 0; row < rows; row++, x0 += 2 * AK_DWP_RS, acc0 += out_w) {
    register const int32_t *x __asm__("r0") = x0;
    register int32_t *acc __asm__("r6") = acc0;
    register int32_t n __asm__("r7") = (out_w + 1) >> 1;
    register int32_t p0 __asm__("r1"), p1 __asm__("r2"), p2 __asm__("r3"), a __asm__("r4"), b __asm__("r5");
#define AK_DWP_S2_ROW(off, wa, w2op, first)                      \
  "ldr %[p0], [%[x], #" off "]\n\t"                              \
  "ldr %[p1], [%[x], #" off "+4]\n\t"                            \
  "ldr %[p2], [%[x], #" off "+8]\n\t"                            \
  first                                                          \
  w2op " %[a], %[p1], %[" wa "], %[a]\n\t"                       \
  w2op " %[b], %[p2], %[" wa "], %[b]\n\t"
#define AK_DWP_S2_PAIR(d)                                                                     \
  AK_DWP_S2_ROW(d, "w3", "smlabb", "smlad %[a], %[p0], %[w0], %[init]\n\tsmlad %[b], %[p1], %[w0], %[init]\n\t")    \
  AK_DWP_S2_ROW(d "+" AK_DWP_ROW1, "w3", "smlabt",                                             \
                "smlad %[a], %[p0], %[w1], %[a]\n\tsmlad %[b], %[p1], %[w1], %[b]\n\t")             \
  AK_DWP_S2_ROW(d "+" AK_DWP_ROW2, "w4", "smlabb",                                             \
                "smlad %[a], %[p0], %[w2], %[a]\n\tsmlad %[b], %[p1], %[w2], %[b]\n\t")             \
  "stmia %[acc]!, {%[a], %[b]}\n\t"
    __asm__ volatile("subs %[n], #2\n\t"
                     "blt 2f\n\t"
                     "1:\n\t"
                     AK_DWP_S2_PAIR("0") AK_DWP_S2_PAIR("8")
                     "adds %[x], #16\n\t"
                     "subs %[n], #2\n\t"
                     "bge 1b\n\t"
                     "2:\n\t"
                     "adds %[n], #2\n\t"
                     "beq 3f\n\t"
                     AK_DWP_S2_PAIR("0")
                     "3:"
                     : [x] "+l"(x), [acc] "+l"(acc), [n] "+l"(n), [p0] "=&l"(p0), [p1] "=&l"(p1), [p2] "=&l"(p2),
                       [a] "=&l"(a), [b] "=&l"(b)
                     : [w0] "r"(w0), [w1] "r"(w1), [w2] "r"(w2), [w3] "r"(w3), [w4] "r"(w4), [init] "r"(start)
                     : "cc", "memory");
#undef AK_DWP_S2_PAIR
#undef AK_DWP_S2_ROW
  }
}
#endif

AK_INLINE int32_t ak_dwp_smmlar(int32_t a, int32_t b, int32_t c) {  /* c + (a * b + 2^31) >> 32 */
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
  int32_t r;
  __asm__("smmlar %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(c));
  return r;
#else
  return (int32_t)((uint32_t)c + (uint32_t)(int32_t)(((int64_t)a * b + 0x80000000LL) >> 32));
#endif
}

/* n outputs of one channel (o every out_c bytes) from accumulators (acc + bias) << s1
 * (ak_rq_prepare's fast path 1, no clamp inside int8): ak_requant_run's arithmetic with the rounding constant
 * added by SMMLAR, and the sign of the accumulator for the sign of the high product (they differ only when that is
 * 0, where (rz - 1) >> e == rz >> e == zp as rz = 2^(e-1) + zp 2^e). */
static __attribute__((noinline)) void ak_dwp_requant(const int32_t *acc, int8_t *o, int32_t n, int32_t out_c,
                                                     const int32_t *k) {
  const int32_t m = k[0], rz = k[1], e = k[2];  /* the channel's block words 7..9 */
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
  register int32_t x0 __asm__("r0"), x1 __asm__("r1"), x2 __asm__("r2"), x3 __asm__("r3");
  register const int32_t *pa __asm__("r4") = acc;
  register int8_t *po __asm__("r5") = o;
  register int32_t pe __asm__("r6") = e, pc __asm__("r7") = out_c;
  int32_t y;
#define AK_DWP_RQ(xr)                            \
  "smmlar %[y], %[" xr "], %[m], %[rz]\n\t"      \
  "add %[y], %[y], %[" xr "], asr #31\n\t"       \
  "asr %[y], %[y], %[e]\n\t"                     \
  "ssat %[y], #8, %[y]\n\t"                      \
  "strb %[y], [%[o]]\n\t"                        \
  "add %[o], %[c]\n\t"
  /* four per LDM, then one at a time */
  __asm__ volatile("subs %[n], %[n], #4\n\t"
                   "blt 2f\n\t"
                   "1:\n\t"
                   "ldmia %[acc]!, {%[x0], %[x1], %[x2], %[x3]}\n\t"
                   AK_DWP_RQ("x0") AK_DWP_RQ("x1") AK_DWP_RQ("x2") AK_DWP_RQ("x3")
                   "subs %[n], %[n], #4\n\t"
                   "bge 1b\n\t"
                   "2:\n\t"
                   "adds %[n], %[n], #4\n\t"
                   "beq 4f\n\t"
                   "3:\n\t"
                   "ldmia %[acc]!, {%[x0]}\n\t"
                   AK_DWP_RQ("x0")
                   "subs %[n], %[n], #1\n\t"
                   "bne 3b\n\t"
                   "4:"
                   : [acc] "+l"(pa), [o] "+l"(po), [n] "+r"(n), [x0] "=&l"(x0), [x1] "=&l"(x1), [x2] "=&l"(x2),
                     [x3] "=&l"(x3), [y] "=&r"(y)
                   : [m] "r"(m), [rz] "r"(rz), [e] "r"(pe), [c] "l"(pc)
                   : "cc", "memory");
#undef AK_DWP_RQ
#else
  for (; n > 0; n--, acc++, o += out_c) {
    const int32_t v = *acc;
    int32_t x = (ak_dwp_smmlar(v, m, rz) + (v >> 31)) >> e;
    *o = (int8_t)(x < -128 ? -128 : x > 127 ? 127 : x);
  }
#endif
}

/* Bands of `band` output rows (the input rows they read fit the buffer), channel groups inside a band, chunks of
 * whole output rows (or AK_DWP_CHUNK-pixel pieces of a longer row) inside a group. Per channel, prepared offline
 * (kernels.dw_t3_block, after the requantization rows): its weight words and whether its requantization takes
 * ak_rq's fast path 1 without an activation clamp inside int8 (all of person_detect's channels); those accumulate
 * (acc + bias) << s1 directly (the left shift with SMMULR's doubling, s1 <= 8, is in the int16 weights, the
 * shifted bias is the accumulators' start) for ak_dwp_requant, the others the plain sum for ak_requant. */
/* fused (a later variant's, NULL for t3): the taps and requantization of whole even-width rows at once, on the M4
 * path for the fast-path channels (block word 10), of one channel or of a whole group of 4 (then all the band's rows
 * at once when every channel of the layer takes it: no accumulator buffer, so no chunks) */
typedef void (*ak_dwp_fused_fn)(const int32_t *x, int8_t *o, int32_t rows, int32_t out_w, const int32_t *blk,
                                int32_t out_c, int32_t channels, int32_t plane);
typedef void (*ak_dwp_planes_fn)(int32_t *, const ak_geom *, const int8_t *, int32_t, int32_t, int32_t, int32_t,
                                 int32_t, int32_t);

AK_INLINE void ak_dwp_conv_with(const ak_geom *g, const int8_t *in, const int32_t *qp, int8_t *out, int32_t rw,
                                int32_t rs, int32_t band, ak_dwp_fused_fn fused_s1, ak_dwp_fused_fn fused_s2,
                                ak_dwp_planes_fn planes) {
  int32_t buf[AK_DWP_BYTES / 4];
  int32_t acc[AK_DWP_CHUNK + 1];  /* + 1: the odd last output's pair partner */
  const int32_t s = g->s_h, out_w = g->out_w, out_c = g->out_c;
  int32_t chunk_rows = out_w <= AK_DWP_CHUNK ? AK_DWP_CHUNK / out_w : 1;
  const int32_t piece = out_w <= AK_DWP_CHUNK ? out_w : AK_DWP_CHUNK;
  const ak_outq oq = {g->out_zp, g->act_lo, g->act_hi};
  const int32_t max_rows = ((band < g->out_h ? band : g->out_h) - 1) * s + 3, plane = max_rows * rs;
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
  const ak_dwp_fused_fn fused = s == 1 ? fused_s1 : fused_s2;
  const int use_fused = fused && rs == AK_DWP_RS && (out_w & 1) == 0;  /* then n == out_w */
  int all_fused = use_fused;
  for (int32_t c = 0; all_fused && c < out_c; c++) all_fused = qp[out_c * AK_QP_STRIDE + c * AK_DWP_BLOCK + 10];
  if (all_fused) chunk_rows = band;
#endif
  for (int32_t *z = buf, *end = buf + (4 * plane & ~3); z != end; z += 4) z[0] = z[1] = z[2] = z[3] = 0;
  for (int32_t i = 4 * plane & ~3; i < 4 * plane; i++) buf[i] = 0;
  for (int32_t oy0 = 0; oy0 < g->out_h; oy0 += band) {
    const int32_t n_rows = g->out_h - oy0 < band ? g->out_h - oy0 : band, rows = (n_rows - 1) * s + 3;
    for (int32_t c = 0; c < g->in_c; c += 4) {
      planes(buf, g, in, c, oy0 * s, rows, rw, rs, plane);
      const int32_t *blk = qp + out_c * AK_QP_STRIDE + c * AK_DWP_BLOCK;
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
      if (all_fused) {  /* the group's 4 channels, all the band's rows: one call, none of the loops below */
        fused(buf, out + oy0 * out_w * out_c + c, n_rows, out_w, blk, out_c, 4, plane);
        continue;
      }
#endif
      for (int32_t r = 0; r < n_rows; r += chunk_rows) {
        const int32_t nr = n_rows - r < chunk_rows ? n_rows - r : chunk_rows;
        for (int32_t ox = 0; ox < out_w; ox += piece) {
          const int32_t n = out_w - ox < piece ? out_w - ox : piece, pixels = nr * n;
          const int32_t *x = buf + r * s * rs + (s == 1 ? ox >> 1 : ox);
          int8_t *o = out + ((oy0 + r) * out_w + ox) * out_c + c;
          for (int32_t j = 0; j < 4; j++) {
            const int32_t *xj = x + j * plane, *bj = blk + j * AK_DWP_BLOCK;
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
            if (use_fused && bj[10]) {
              const int32_t group = j == 0 && bj[10 + AK_DWP_BLOCK] && bj[10 + 2 * AK_DWP_BLOCK] &&
                                    bj[10 + 3 * AK_DWP_BLOCK] ? 4 : 1;
              fused(xj, o + j, nr, n, bj, out_c, group, plane);
              j += group - 1;
              continue;
            }
            if (rs == AK_DWP_RS)
              (s == 1 ? ak_dwp_rows_s1 : ak_dwp_rows_s2)(xj, acc, nr, n, bj, bj[6]);
            else
#endif
              for (int32_t k = 0; k < nr; k++) ak_dwp_taps_c(xj + k * s * rs, rs, acc + k * n, n, bj, bj[6], s);
            if (bj[10]) {
              ak_dwp_requant(acc, o + j, pixels, out_c, bj + 7);
            } else {
              const ak_qp q = ak_qp_load(qp + (c + j) * AK_QP_STRIDE);
              for (int32_t k = 0; k < pixels; k++) o[j + k * out_c] = ak_requant(acc[k], q, oq);
            }
          }
        }
      }
    }
  }
}

static __attribute__((noinline)) void ak_dwp_conv(const ak_geom *g, const int8_t *in, const int32_t *qp,
                                                  int8_t *out, int32_t rw, int32_t rs, int32_t band) {
  ak_dwp_conv_with(g, in, qp, out, rw, rs, band, 0, 0, ak_dwp_planes);
}

typedef void (*ak_dwp_conv_fn)(const ak_geom *, const int8_t *, const int32_t *, int8_t *, int32_t, int32_t, int32_t);

/* t3's geometry checks and plane sizes, then conv. kernels.py plans r1 itself for what this does not cover
 * (kernels.dw_runs_r1): no call to r1 here, so its code is linked only where a layer runs it. */
AK_INLINE int32_t ak_dwp_layer(ARMLPROF_CONV_ARGS, ak_dwp_conv_fn conv) {
  /* words per plane row: stride 1 up to the last pair's P[i + 1], (out_w + 3) halfwords rounded up; stride 2 up
   * to P[out_w + 1] (the odd last output's partner) */
  const int32_t rw = s_h == 1 ? (out_w + 4) >> 1 : out_w + 2, rs = rw <= AK_DWP_RS ? AK_DWP_RS : rw;
  const int32_t buf_rows = AK_DWP_BYTES / (16 * rs);
  if (k_h != 3 || k_w != 3 || d_h != 1 || d_w != 1 || s_h != s_w || (s_h != 1 && s_h != 2) || out_c != in_c ||
      buf_rows < 3)
    return -1;
  AK_GEOM;
  (void)w;  /* t3 reads its weights from the block after the requantization rows (kernels.py passes none) */
  conv(&g, in, qp, out, rw, rs, (buf_rows - 3) / s_h + 1);
  return 0;
}

int32_t armlprof_dwconv_s8_t3(ARMLPROF_CONV_ARGS) {
  return ak_dwp_layer(in, w, qp, out, in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w, s_h, s_w, d_h, d_w, pad_t,
                      pad_l, in_zp, out_zp, act_lo, act_hi, ak_dwp_conv);
}

/* ---------------------------------------------------------------- depthwise 3x3, fused rows (f3) */
/* t3 (same planes, same per-channel block) with each fast-path channel's stride-1 rows of even width in one block
 * of assembly: per unit of 4 outputs of a row (the pair words P[2i], P[2i+1], P[2i+2] of each kernel row, loaded
 * once for both pairs: 9 loads per 4 outputs instead of 12) the 24 SMLA of t3's tap pairs, then requantized in
 * registers (ak_dwp_requant's SMMLAR sequence) and stored as bytes: no accumulator buffer, no second pass. The
 * channel's weight words, start value and requantization constants (block words 0..9) live in s0-s9 (one VLDM per
 * channel), where VMOV brings two words back in 2 cycles without wait states; registers: r0 x, r1 o, r2-r4 the
 * loaded words, r5-r8 the 4 accumulators, r9/r10 a kernel row's weight pair (then the multiplier and rounding
 * constant), r11 out_c, r12 the unit count, lr the start value. A row of 4u + 2 outputs ends with one pair; rows of
 * 6u outputs take ak_dwf_rows6_s1's units of 6 instead (ak_dwf_row6_s1 for 6-wide ones). Other
 * rows (odd widths, stride 2, wider planes, channels off the fast path) and the host run t3's code. */
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#define AK_DWF_MACS(a, b, pl, pr, sa, sb)  \
  "smlad " a ", " pl ", r9, " sa "\n\t"    \
  "smlatb " b ", " pl ", r9, " sb "\n\t"   \
  "smlabt " a ", " pr ", r10, " a "\n\t"   \
  "smlad " b ", " pr ", r10, " b "\n\t"
/* kernel row k (plane row offset `off` bytes, weight pair q) of a unit: outputs a0 b0 (r5 r6), a1 b1 (r7 r8) */
#define AK_DWF_UNIT_ROW(off, q, s5, s6, s7, s8)                                               \
  "vmov r9, r10, " q "\n\t"                                                                  \
  "ldr r2, [r0, #" off "]\n\t"                                                               \
  "ldr r3, [r0, #" off "+4]\n\t"                                                             \
  "ldr r4, [r0, #" off "+8]\n\t"                                                             \
  AK_DWF_MACS("r5", "r6", "r2", "r3", s5, s6) AK_DWF_MACS("r7", "r8", "r3", "r4", s7, s8)
#define AK_DWF_PAIR_ROW(off, q, s5, s6) \
  "vmov r9, r10, " q "\n\t"            \
  "ldr r2, [r0, #" off "]\n\t"         \
  "ldr r3, [r0, #" off "+4]\n\t"       \
  AK_DWF_MACS("r5", "r6", "r2", "r3", s5, s6)
/* ((acc + bias) << s1) -> output byte in place (r9 m, r10 rz, r4 e, r2 scratch) */
#define AK_DWF_RQ(a, shift)                 \
  "smmlar r2, " a ", r9, r10\n\t"           \
  "add " a ", r2, " a ", asr #31\n\t"       \
  shift " " a ", " a ", r4\n\t"             \
  "ssat " a ", #8, " a "\n\t"
#define AK_DWF_RQ_SETUP "vmov r9, r10, s7, s8\n\tvmov r4, s9\n\t"
#define AK_DWF_STORE2C(a, b, c) "strb " a ", [r1]\n\tstrb " b ", [r1, " c "]\n\tadd r1, r1, " c ", lsl #1\n\t"
#define AK_DWF_STORE2(a, b) AK_DWF_STORE2C(a, b, "r11")
#define AK_DWF_ROW1 AK_DWP_STR(AK_DWP_RS) "*4"
#define AK_DWF_ROW2 AK_DWP_STR(AK_DWP_RS) "*8"

/* The channel loop around a fused row loop: per channel its block (words 0..9) into s0-s9, the row count reset, after
 * its rows x to the next channel's plane (`plane` words on; S: plane rows per output row) and o to its byte. */
#define AK_DWF_CHANNELS(S)                                                                                     \
  int32_t count = 0, chans = channels;                                                                         \
  const int32_t *bp = blk;                                                                                     \
  const int32_t cjx = 4 * plane - rows * (S) * 4 * AK_DWP_RS, cjo = 1 - rows * out_w * out_c
#define AK_DWF_CHANNEL_START                                                                                   \
  "0:\n\t"                                                                                                     \
  "ldr r2, %[blk]\n\t"                                                                                         \
  "vldmia r2!, {s0-s9}\n\t"                                                                                    \
  "adds r2, #8\n\t"                                                                                            \
  "str r2, %[blk]\n\t"                                                                                         \
  "ldr r2, %[rows]\n\t"                                                                                        \
  "str r2, %[count]\n\t"
#define AK_DWF_NEXT_ROW_CHANNEL                                                                                \
  "ldr r3, %[count]\n\t"                                                                                       \
  "subs r3, #1\n\t"                                                                                            \
  "str r3, %[count]\n\t"                                                                                       \
  "bne.w 1b\n\t"                                                                                               \
  "ldr r3, %[cjx]\n\t"                                                                                         \
  "add r0, r3\n\t"                                                                                             \
  "ldr r3, %[cjo]\n\t"                                                                                         \
  "add r1, r3\n\t"                                                                                             \
  "ldr r3, %[chans]\n\t"                                                                                       \
  "subs r3, #1\n\t"                                                                                            \
  "str r3, %[chans]\n\t"                                                                                       \
  "bne.w 0b"

/* rows output rows of out_w (even) outputs of one channel from its planes (x: plane row 0, rs == AK_DWP_RS) */
static __attribute__((noinline)) void ak_dwf_rows_s1(const int32_t *x0, int8_t *o0, int32_t rows, int32_t out_w,
                                                    const int32_t *blk, int32_t out_c, int32_t channels,
                                                    int32_t plane) {
  register const int32_t *x __asm__("r0") = x0;
  register int8_t *o __asm__("r1") = o0;
  register int32_t c __asm__("r11") = out_c;
  const int32_t units = out_w >> 2, tail = out_w & 2, jump = 4 * AK_DWP_RS - 2 * out_w;  /* bytes to the next row */
  AK_DWF_CHANNELS(1);
  __asm__ volatile(
      AK_DWF_CHANNEL_START
      "vmov lr, s6\n\t"
      "1:\n\t"
      "ldr r12, %[units]\n\t"
      "cmp r12, #0\n\t"
      "beq 3f\n\t"
      "2:\n\t"
      AK_DWF_UNIT_ROW("0", "s0, s1", "lr", "lr", "lr", "lr")
      AK_DWF_UNIT_ROW(AK_DWF_ROW1, "s2, s3", "r5", "r6", "r7", "r8")
      AK_DWF_UNIT_ROW(AK_DWF_ROW2, "s4, s5", "r5", "r6", "r7", "r8")
      AK_DWF_RQ_SETUP
      AK_DWF_RQ("r5", "asrs") AK_DWF_RQ("r6", "asrs") AK_DWF_RQ("r7", "asrs") AK_DWF_RQ("r8", "asr")
      AK_DWF_STORE2("r5", "r6") AK_DWF_STORE2("r7", "r8")
      "adds r0, #8\n\t"
      "subs r12, r12, #1\n\t"
      "bne 2b\n\t"
      "3:\n\t"
      "ldr r3, %[tail]\n\t"
      "cbz r3, 4f\n\t"
      AK_DWF_PAIR_ROW("0", "s0, s1", "lr", "lr")
      AK_DWF_PAIR_ROW(AK_DWF_ROW1, "s2, s3", "r5", "r6")
      AK_DWF_PAIR_ROW(AK_DWF_ROW2, "s4, s5", "r5", "r6")
      AK_DWF_RQ_SETUP
      AK_DWF_RQ("r5", "asrs") AK_DWF_RQ("r6", "asrs")
      AK_DWF_STORE2("r5", "r6")
      "adds r0, #4\n\t"
      "4:\n\t"
      "ldr r3, %[jump]\n\t"
      "add r0, r3\n\t"
      AK_DWF_NEXT_ROW_CHANNEL
      : [count] "+m"(count), [chans] "+m"(chans), [blk] "+m"(bp), "+r"(x), "+r"(o)
      : [units] "m"(units), [tail] "m"(tail), [jump] "m"(jump), [rows] "m"(rows), [cjx] "m"(cjx), [cjo] "m"(cjo),
        "r"(c)
      : "cc", "memory", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r12", "lr", "s0", "s1", "s2", "s3",
        "s4", "s5", "s6", "s7", "s8", "s9");
}

/* Rows of 6u outputs (every stride-1 layer of person_detect): units of 6 outputs, per kernel row the words
 * P[3i..3i+3] (12 loads per 6 outputs, f3's unit 9 per 4) and one weight VMOV per 6 outputs, no closing pair (a
 * 6-wide row: one unit, where ak_dwf_rows_s1 runs a unit, a pair and their loop control). Registers as
 * ak_dwf_rows_s1 with two more accumulators (r11 r12; then P[3i+3] reuses r2), out_c in s10 (brought to r3 for
 * the stores). ak_dwf_rows6_s1 loops over a row's units (x's end of the row in s11); ak_dwf_row6_s1, for 6-wide
 * rows, has no unit loop: x steps a plane row per unit. */
#define AK_DWF_UNIT6_ROW(off, q, s5, s6, s7, s8, s11, s12) \
  AK_DWF_UNIT_ROW(off, q, s5, s6, s7, s8)                  \
  "ldr r2, [r0, #" off "+12]\n\t" AK_DWF_MACS("r11", "r12", "r4", "r2", s11, s12)
#define AK_DWF_ROWS6(name, HEAD, UNITS_START, UNITS_END)                                                         \
  static __attribute__((noinline)) void name(const int32_t *x0, int8_t *o0, int32_t rows, int32_t out_w,        \
                                             const int32_t *blk, int32_t out_c, int32_t channels, int32_t plane) { \
    register const int32_t *x __asm__("r0") = x0;                                                                \
    register int8_t *o __asm__("r1") = o0;                                                                       \
    const int32_t units = 2 * out_w, jump = 4 * AK_DWP_RS - 2 * out_w; /* units: a row's plane bytes */            \
    AK_DWF_CHANNELS(1);                                                                                          \
    __asm__ volatile(                                                                                            \
        "ldr r2, %[c]\n\t"                                                                                       \
        "vmov s10, r2\n\t" AK_DWF_CHANNEL_START                                                                  \
        "vmov lr, s6\n\t" HEAD                                                                                   \
        "1:\n\t" UNITS_START                                                                                     \
        AK_DWF_UNIT6_ROW("0", "s0, s1", "lr", "lr", "lr", "lr", "lr", "lr")                                      \
        AK_DWF_UNIT6_ROW(AK_DWF_ROW1, "s2, s3", "r5", "r6", "r7", "r8", "r11", "r12")                            \
        AK_DWF_UNIT6_ROW(AK_DWF_ROW2, "s4, s5", "r5", "r6", "r7", "r8", "r11", "r12")                            \
        AK_DWF_RQ_SETUP                                                                                          \
        "vmov r3, s10\n\t"                                                                                       \
        AK_DWF_RQ("r5", "asrs") AK_DWF_RQ("r6", "asrs") AK_DWF_RQ("r7", "asrs") AK_DWF_RQ("r8", "asr")          \
        AK_DWF_RQ("r11", "asr") AK_DWF_RQ("r12", "asr")                                                          \
        AK_DWF_STORE2C("r5", "r6", "r3") AK_DWF_STORE2C("r7", "r8", "r3") AK_DWF_STORE2C("r11", "r12", "r3")    \
        UNITS_END                                                                                                \
        AK_DWF_NEXT_ROW_CHANNEL                                                                                  \
        : [count] "+m"(count), [chans] "+m"(chans), [blk] "+m"(bp), "+r"(x), "+r"(o)                            \
        : [units] "m"(units), [jump] "m"(jump), [rows] "m"(rows), [cjx] "m"(cjx), [cjo] "m"(cjo), [c] "m"(out_c) \
        : "cc", "memory", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12", "lr", "s0", "s1", \
          "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11");                                         \
  }
AK_DWF_ROWS6(ak_dwf_rows6_s1, "", "ldr r2, %[units]\n\tadd r2, r0\n\tvmov s11, r2\n\t2:\n\t",
             "adds r0, #12\n\tvmov r2, s11\n\tcmp r0, r2\n\tbne.w 2b\n\t"
             "ldr r3, %[jump]\n\tadd r0, r3\n\t")
/* (6-wide: the row loop's head word-aligned, at most one 16-bit NOP per channel; Spresense fetches code by words) */
AK_DWF_ROWS6(ak_dwf_row6_s1, ".p2align 2\n\t", "", "adds r0, #" AK_DWF_ROW1 "\n\t")
#undef AK_DWF_ROWS6
#undef AK_DWF_UNIT6_ROW

/* Stride 2: outputs i..i+3 of a row read P[i]..P[i+4] of each kernel row (5 loads per 4 outputs, t3: 6), output i
 * SMLAD(P[i], (w0, w1)) + SMLABB / SMLABT(P[i+1], the w2 word) as t3. Registers: r0 x, r1 o, r2-r6 the loaded
 * words, r7-r10 the accumulators (from SMUAD: the start value is added before the requantization), r11 / r12 the
 * kernel row's (w0, w1) and w2 words (then the start value's scratch), lr the unit count; for the requantization
 * r2 m, r3 rz, r4 e, r5 out_c (s10), r6 the start value. */
#define AK_DWF_S2_MAC(a, pl, pr, w2op, first) \
  first(a, pl)                                \
  w2op " " a ", " pr ", r12, " a "\n\t"
#define AK_DWF_S2_FIRST(a, pl) "smuad " a ", " pl ", r11\n\t"
#define AK_DWF_S2_NEXT(a, pl) "smlad " a ", " pl ", r11, " a "\n\t"
#define AK_DWF_S2_UNIT_ROW(off, qa, qb, w2op, first)                                                      \
  "vmov r11, " qa "\n\t" qb                                                                              \
  "ldr r2, [r0, #" off "]\n\t"                                                                           \
  "ldr r3, [r0, #" off "+4]\n\t"                                                                         \
  "ldr r4, [r0, #" off "+8]\n\t"                                                                         \
  "ldr r5, [r0, #" off "+12]\n\t"                                                                        \
  "ldr r6, [r0, #" off "+16]\n\t"                                                                        \
  AK_DWF_S2_MAC("r7", "r2", "r3", w2op, first) AK_DWF_S2_MAC("r8", "r3", "r4", w2op, first)              \
  AK_DWF_S2_MAC("r9", "r4", "r5", w2op, first) AK_DWF_S2_MAC("r10", "r5", "r6", w2op, first)
#define AK_DWF_S2_PAIR_ROW(off, qa, qb, w2op, first)                                                      \
  "vmov r11, " qa "\n\t" qb                                                                              \
  "ldr r2, [r0, #" off "]\n\t"                                                                           \
  "ldr r3, [r0, #" off "+4]\n\t"                                                                         \
  "ldr r4, [r0, #" off "+8]\n\t"                                                                         \
  AK_DWF_S2_MAC("r7", "r2", "r3", w2op, first) AK_DWF_S2_MAC("r8", "r3", "r4", w2op, first)
#define AK_DWF_S2_TAPS(ROW)                                                   \
  ROW("0", "s0", "vmov r12, s3\n\t", "smlabb", AK_DWF_S2_FIRST)             \
  ROW(AK_DWF_ROW1, "s1", "", "smlabt", AK_DWF_S2_NEXT)                      \
  ROW(AK_DWF_ROW2, "s2", "vmov r12, s4\n\t", "smlabb", AK_DWF_S2_NEXT)
#define AK_DWF_S2_RQ(a, shift)              \
  "add " a ", r6\n\t"                       \
  "smmlar r11, " a ", r2, r3\n\t"           \
  "add " a ", r11, " a ", asr #31\n\t"      \
  shift " " a ", " a ", r4\n\t"             \
  "ssat " a ", #8, " a "\n\t"
#define AK_DWF_S2_RQ_SETUP "vmov r2, r3, s7, s8\n\tvmov r4, s9\n\tvmov r5, s10\n\tvmov r6, s6\n\t"
#define AK_DWF_S2_STORE2(a, b) "strb " a ", [r1]\n\tstrb " b ", [r1, r5]\n\tadd r1, r1, r5, lsl #1\n\t"

static __attribute__((noinline)) void ak_dwf_rows_s2(const int32_t *x0, int8_t *o0, int32_t rows, int32_t out_w,
                                                    const int32_t *blk, int32_t out_c, int32_t channels,
                                                    int32_t plane) {
  register const int32_t *x __asm__("r0") = x0;
  register int8_t *o __asm__("r1") = o0;
  register int32_t c __asm__("r3") = out_c;
  const int32_t units = out_w >> 2, tail = out_w & 2, jump = 8 * AK_DWP_RS - 4 * out_w;  /* 2 plane rows down */
  AK_DWF_CHANNELS(2);
  __asm__ volatile(
      "vmov s10, r3\n\t" AK_DWF_CHANNEL_START
      "1:\n\t"
      "ldr lr, %[units]\n\t"
      "cmp lr, #0\n\t"
      "beq.w 3f\n\t" /* (the unit is past the 16-bit branches' reach) */
      "2:\n\t"
      AK_DWF_S2_TAPS(AK_DWF_S2_UNIT_ROW)
      AK_DWF_S2_RQ_SETUP
      AK_DWF_S2_RQ("r7", "asrs") AK_DWF_S2_RQ("r8", "asr") AK_DWF_S2_RQ("r9", "asr") AK_DWF_S2_RQ("r10", "asr")
      AK_DWF_S2_STORE2("r7", "r8") AK_DWF_S2_STORE2("r9", "r10")
      "adds r0, #16\n\t"
      "subs lr, lr, #1\n\t"
      "bne.w 2b\n\t"
      "3:\n\t"
      "ldr r3, %[tail]\n\t"
      "cmp r3, #0\n\t"
      "beq 4f\n\t"
      AK_DWF_S2_TAPS(AK_DWF_S2_PAIR_ROW)
      AK_DWF_S2_RQ_SETUP
      AK_DWF_S2_RQ("r7", "asrs") AK_DWF_S2_RQ("r8", "asr")
      AK_DWF_S2_STORE2("r7", "r8")
      "adds r0, #8\n\t"
      "4:\n\t"
      "ldr r3, %[jump]\n\t"
      "add r0, r3\n\t"
      AK_DWF_NEXT_ROW_CHANNEL
      : [count] "+m"(count), [chans] "+m"(chans), [blk] "+m"(bp), "+r"(x), "+r"(o), "+r"(c)
      : [units] "m"(units), [tail] "m"(tail), [jump] "m"(jump), [rows] "m"(rows), [cjx] "m"(cjx), [cjo] "m"(cjo)
      : "cc", "memory", "r2", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12", "lr", "s0", "s1", "s2", "s3",
        "s4", "s5", "s6", "s7", "s8", "s9", "s10");
}
#undef AK_DWF_NEXT_ROW_CHANNEL
#undef AK_DWF_CHANNEL_START
#undef AK_DWF_CHANNELS
#undef AK_DWF_S2_STORE2
#undef AK_DWF_S2_RQ_SETUP
#undef AK_DWF_S2_RQ
#undef AK_DWF_S2_TAPS
#undef AK_DWF_S2_PAIR_ROW
#undef AK_DWF_S2_UNIT_ROW
#undef AK_DWF_S2_NEXT
#undef AK_DWF_S2_FIRST
#undef AK_DWF_S2_MAC
#undef AK_DWF_ROW2
#undef AK_DWF_ROW1
#undef AK_DWF_STORE2
#undef AK_DWF_STORE2C
#undef AK_DWF_RQ_SETUP
#undef AK_DWF_RQ
#undef AK_DWF_PAIR_ROW
#undef AK_DWF_UNIT_ROW
#undef AK_DWF_MACS

/* The plane conversion's registers: d..d3 one pointer per plane from d0, pp the input from p0 (in_c apart) */
#define AK_DWF_PLANE_REGS(d0, p0)                                                                            \
  register int32_t *d __asm__("r0") = d0;                                                                  \
  register int32_t *d1 __asm__("r1") = d + plane;                                                          \
  register int32_t *d2 __asm__("r2") = d + 2 * plane;                                                      \
  register int32_t *d3 __asm__("r3") = d + 3 * plane;                                                      \
  register const int8_t *pp __asm__("r4") = p0;                                                            \
  register int32_t cc __asm__("r5") = in_c;                                                                \
  register int32_t off __asm__("r12") = ak_pack16(-g->in_zp, -g->in_zp);                                   \
  register int32_t zp __asm__("lr") = (int32_t)((uint32_t)(uint8_t)g->in_zp * 0x01010101u);                \
  register int32_t t __asm__("r6"), n __asm__("r7"), v0 __asm__("r8"), v1 __asm__("r9"), a0 __asm__("r10"), \
      a1 __asm__("r11")

/* n pixel pairs (AK_DWP_SPLIT), two per iteration, then the odd one (labels 3-5) */
#define AK_DWF_PAIR_LOOP                      \
  "subs %[n], #2\n\t"                         \
  "blt 4f\n\t"                                \
  "3:\n\t" AK_DWP_SPLIT AK_DWP_SPLIT           \
  "subs %[n], #2\n\t"                         \
  "bge 3b\n\t"                                \
  "4:\n\t"                                    \
  "adds %[n], #2\n\t"                         \
  "beq 5f\n\t" AK_DWP_SPLIT                   \
  "5:\n\t"

/* Declares [y_in, y_end), the rows of a band inside the input, and zeroes the others for the band's first channel
 * group only (the later groups write only inside rows); a macro: ak_dwf_planes's code stays what GCC made of it. */
#define AK_DWF_BAND_ROWS                                                                          \
  int32_t y_in = 0, y_end = rows;                                                                 \
  while (y_in < rows && y0 + y_in - g->pad_t < 0) y_in++;                                         \
  while (y_end > y_in && y0 + y_end - 1 - g->pad_t >= g->in_h) y_end--;                           \
  if (c == 0) {                                                                                   \
    for (int32_t y = 0; y < rows; y++) {                                                          \
      if (y >= y_in && y < y_end) continue;                                                       \
      int32_t *d = buf + y * rs;                                                                  \
      for (int32_t k = 0; k < rw; k++) d[k] = d[k + plane] = d[k + 2 * plane] = d[k + 3 * plane] = 0; \
    }                                                                                             \
  }

/* ak_dwp_planes (same words, same arguments) with all inside rows of the channel group in one block of assembly:
 * per row the left padding half (the pad pixel as the zero point, which converts to 0), the pixel pairs
 * (ak_dwp_split_run's AK_DWP_SPLIT), the right half, with one pointer per plane walking linearly; t3 pays a call
 * of ak_dwp_split_run and C for the halves per row, ~290 cycles on Spresense, most of a 6-pixel row's cost. Rows
 * outside the input are zeroed for the band's first channel group only: the later groups write only inside rows. */
static __attribute__((noinline)) void ak_dwf_planes(int32_t *buf, const ak_geom *g, const int8_t *in, int32_t c,
                                                    int32_t y0, int32_t rows, int32_t rw, int32_t rs,
                                                    int32_t plane) {
  const int32_t in_w = g->in_w, in_c = g->in_c, pad_l = g->pad_l;
  const int32_t k_zero = (pad_l >> 1) < rw ? pad_l >> 1 : rw;
  const int32_t left_half = (pad_l & 1) && k_zero < rw;
  const int32_t k_a = k_zero + left_half, k_in = (in_w + pad_l) >> 1;
  const int32_t k_b = k_in < rw ? (k_in > k_a ? k_in : k_a) : rw;
  const int32_t right_half = ((in_w + pad_l) & 1) && k_b < rw && k_b == k_in;
  AK_DWF_BAND_ROWS
  const int32_t pairs = k_b - k_a, words = left_half + pairs + right_half;
  if (words == 0 || y_end == y_in) return;
  /* per row: the first pixel read (the left half's, else the first pair's), the jumps past what a row consumed */
  int32_t lh = left_half, rh = right_half, np = pairs, n_rows = y_end - y_in;
  int32_t d_jump = 4 * (rs - words), p_jump = (in_w - left_half - 2 * pairs) * in_c;
  AK_DWF_PLANE_REGS(buf + y_in * rs + k_zero,
                    in + (y0 + y_in - g->pad_t) * in_w * in_c + c + (left_half ? 0 : (2 * k_a - pad_l) * in_c));
  __asm__ volatile("1:\n\t"
                   "ldr %[t], %[lh]\n\t"
                   "cbz %[t], 2f\n\t"
                   "mov %[v0], %[zp]\n\t"
                   "ldr %[v1], [%[p]]\n\t"
                   "add %[p], %[c]\n\t" AK_DWP_PACK
                   "2:\n\t"
                   "ldr %[n], %[np]\n\t"
                   AK_DWF_PAIR_LOOP
                   "ldr %[t], %[rh]\n\t"
                   "cbz %[t], 6f\n\t"
                   "ldr %[v0], [%[p]]\n\t"
                   "mov %[v1], %[zp]\n\t" AK_DWP_PACK
                   "6:\n\t"
                   "ldr %[t], %[dj]\n\t"
                   "add %[d], %[t]\n\t"
                   "add %[d1], %[t]\n\t"
                   "add %[d2], %[t]\n\t"
                   "add %[d3], %[t]\n\t"
                   "ldr %[t], %[pj]\n\t"
                   "add %[p], %[t]\n\t"
                   "ldr %[t], %[rows]\n\t"
                   "subs %[t], #1\n\t"
                   "str %[t], %[rows]\n\t"
                   "bne 1b"
                   : [d] "+r"(d), [d1] "+r"(d1), [d2] "+r"(d2), [d3] "+r"(d3), [p] "+r"(pp), [rows] "+m"(n_rows),
                     [t] "=&r"(t), [n] "=&r"(n), [v0] "=&r"(v0), [v1] "=&r"(v1), [a0] "=&r"(a0), [a1] "=&r"(a1)
                   : [c] "r"(cc), [off] "r"(off), [zp] "r"(zp), [lh] "m"(lh), [rh] "m"(rh), [np] "m"(np),
                     [dj] "m"(d_jump), [pj] "m"(p_jump)
                   : "cc", "memory");
}
/* ak_dwf_planes for rows of a left pad of 1 and an even width (stride-1 SAME rows: every stride-1 layer of
 * person_detect): per row the left half, in_w / 2 - 1 pairs, the right half, no flags to test, p walking on to the
 * next row's first pixel, the row count, pairs and word jump in s12-s14 (a VMOV, not a stack load, per use). */
static __attribute__((noinline)) void ak_dwf_planes_s1(int32_t *buf, const ak_geom *g, const int8_t *in, int32_t c,
                                                       int32_t y0, int32_t rows, int32_t rw, int32_t rs,
                                                       int32_t plane) {
  const int32_t in_w = g->in_w, in_c = g->in_c;
  AK_DWF_BAND_ROWS
  if (y_end == y_in) return;
  int32_t np = (in_w >> 1) - 1, n_rows = y_end - y_in, d_jump = 4 * (rs - (in_w >> 1) - 1);
  AK_DWF_PLANE_REGS(buf + y_in * rs, in + (y0 + y_in - g->pad_t) * in_w * in_c + c);
  __asm__ volatile("ldr %[t], %[rows]\n\t"
                   "vmov s12, %[t]\n\t"
                   "ldr %[t], %[np]\n\t"
                   "vmov s13, %[t]\n\t"
                   "ldr %[t], %[dj]\n\t"
                   "vmov s14, %[t]\n\t"
                   "1:\n\t"
                   "mov %[v0], %[zp]\n\t"
                   "ldr %[v1], [%[p]]\n\t"
                   "add %[p], %[c]\n\t" AK_DWP_PACK
                   "vmov %[n], s13\n\t"
                   AK_DWF_PAIR_LOOP
                   "ldr %[v0], [%[p]]\n\t"
                   "mov %[v1], %[zp]\n\t"
                   "add %[p], %[c]\n\t" AK_DWP_PACK
                   "vmov %[t], s14\n\t"
                   "add %[d], %[t]\n\t"
                   "add %[d1], %[t]\n\t"
                   "add %[d2], %[t]\n\t"
                   "add %[d3], %[t]\n\t"
                   "vmov %[t], s12\n\t"
                   "subs %[t], #1\n\t"
                   "vmov s12, %[t]\n\t"
                   "bne 1b"
                   : [d] "+r"(d), [d1] "+r"(d1), [d2] "+r"(d2), [d3] "+r"(d3), [p] "+r"(pp), [t] "=&r"(t),
                     [n] "=&r"(n), [v0] "=&r"(v0), [v1] "=&r"(v1), [a0] "=&r"(a0), [a1] "=&r"(a1)
                   : [c] "r"(cc), [off] "r"(off), [zp] "r"(zp), [rows] "m"(n_rows), [np] "m"(np), [dj] "m"(d_jump)
                   : "cc", "memory", "s12", "s13", "s14");
}
/* stride-1 SAME rows take ak_dwf_planes_s1 */
#define AK_DWF_PLANES_FOR(g)                                                      \
  ((g)->s_h == 1 && (g)->pad_l == 1 && ((g)->in_w & 1) == 0 && (g)->out_w == (g)->in_w \
       ? ak_dwf_planes_s1                                                         \
       : ak_dwf_planes)
#define AK_DWF_FUSED_S1(out_w) ((out_w) % 6 ? ak_dwf_rows_s1 : (out_w) == 6 ? ak_dwf_row6_s1 : ak_dwf_rows6_s1)
#define AK_DWF_FUSED_S2 ak_dwf_rows_s2
#else
#define AK_DWF_FUSED_S1(out_w) 0 /* the host: t3's C */
#define AK_DWF_FUSED_S2 0
#define AK_DWF_PLANES_FOR(g) ak_dwp_planes
#endif
#undef AK_DWF_BAND_ROWS
#undef AK_DWF_PAIR_LOOP
#undef AK_DWF_PLANE_REGS
#undef AK_DWP_PACK
#undef AK_DWP_SPLIT

static __attribute__((noinline)) void ak_dwf_conv(const ak_geom *g, const int8_t *in, const int32_t *qp,
                                                  int8_t *out, int32_t rw, int32_t rs, int32_t band) {
  ak_dwp_conv_with(g, in, qp, out, rw, rs, band, AK_DWF_FUSED_S1(g->out_w), AK_DWF_FUSED_S2,
                   AK_DWF_PLANES_FOR(g));
}

int32_t armlprof_dwconv_s8_f3(ARMLPROF_CONV_ARGS) {
  return ak_dwp_layer(in, w, qp, out, in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w, s_h, s_w, d_h, d_w, pad_t,
                      pad_l, in_zp, out_zp, act_lo, act_hi, ak_dwf_conv);
}

/* ---------------------------------------------------------------- depthwise 3x3 stride 2, raw pair planes (q3) */
/* f3's stride-2 path spends ~21 of its ~75 cycles per output (Spresense, person_detect's 48x48x16 layer) converting
 * the input into int16 planes (4 SXTAB16, 4 PKH and 4 stores per 2 pixels x 4 channels) that its row loop then
 * loads ~1.9 times per word. q3 keeps the raw bytes: per channel group 2 planes whose word k holds padded columns
 * 2k and 2k + 1 of a channel pair, (a@2k, b@2k, a@2k+1, b@2k+1) = PKHBT / PKHTB of the two pixels' input words (2
 * loads, 2 PKH, 2 stores per 2 pixels x 4 channels; padding is the input zero point, folded into the accumulator
 * starts offline as in n3). SXTB16 then gives channel a's tap pair (x[2i], x[2i+1]) of output i, SXTB16 ROR 8
 * channel b's: SMLAD with the row's (w0, w1) of each, SMLABB / SMLABT of the next word's forms with (w2 a, w2 b).
 * Per unit of 4 outputs x 2 channels (8 accumulators r3-r10) each kernel row loads 5 words and brings its 3 weight
 * words from s0-s8 once; the 8 sums are requantized in registers (ak_dwp_requant's sequence) and each pixel's 2
 * bytes stored as one halfword; a row's last out_w % 4 outputs are one unit of 1 to 3 (n3 loses to that on the 3x3
 * output layers). Spresense per unit of 4: 366 cycles (8 outputs: 45.75 each), the conversion 12.8 per output on the
 * 48x48x16 layer; f3: 47 + 21. Constants per channel pair: kernels.dw_q3_block (16 words, one VLDM). Other layers
 * (stride 1, a channel off the fold, rows over AK_DWQ_RS words) run f3. */
#define AK_DWQ_PAIR 16     /* int32 per channel pair after the flag word (kernels.DW_Q3_WORDS) */
#define AK_DWQ_RS 28       /* words per plane row: out_w <= 27 */
#define AK_DWQ_BYTES 16384 /* the 2 planes of one channel group */

/* The plane words of the rows [y0, y0 + rows) (padded coordinates, all inside the input) of channels c..c+3: per row
 * the word with the left padding pixel (an odd pad_l; the pad pixel is the zero point zp4), the pairs of inside
 * pixels, the word with the right padding pixel; the words with both pixels outside are the caller's (the same for
 * every row and group). qa: plane a's first row, plane b `plane` words on. One block of assembly on the M4 (a C
 * call per row costs more than its words at person_detect's widths). */
typedef struct {
  int32_t k_zero, lh, np, rh;  /* words of two padding pixels, then of a left one, of none, of a right one */
} ak_dwq_cols;

AK_INLINE ak_dwq_cols ak_dwq_columns(const ak_geom *g, int32_t rw) {  /* t3's word classes (ak_dwp_planes) */
  const int32_t in_w = g->in_w, pad_l = g->pad_l;
  const int32_t k_zero = (pad_l >> 1) < rw ? pad_l >> 1 : rw;
  const int32_t lh = (pad_l & 1) && k_zero < rw, k_a = k_zero + lh, k_in = (in_w + pad_l) >> 1;
  const int32_t k_b = k_in < rw ? (k_in > k_a ? k_in : k_a) : rw;
  const ak_dwq_cols k = {k_zero, lh, k_b - k_a, ((in_w + pad_l) & 1) && k_b < rw && k_b == k_in};
  return k;
}

static __attribute__((noinline)) void ak_dwq_planes(int32_t *qa, const ak_geom *g, const int8_t *in, int32_t c,
                                                    int32_t y0, int32_t rows, const ak_dwq_cols *kc,
                                                    int32_t plane, int32_t zp4) {
  const int32_t in_w = g->in_w, in_c = g->in_c, pad_l = g->pad_l, k_zero = kc->k_zero, k_a = k_zero + kc->lh;
  const int32_t lh = kc->lh, np = kc->np, rh = kc->rh, words = lh + np + rh;
  if (words == 0 || rows <= 0) return;
  const int8_t *p0 = in + (y0 - g->pad_t) * in_w * in_c + c + (lh ? 0 : (2 * k_a - pad_l) * in_c);
  int32_t *qb = qa + plane + k_zero;
  qa += k_zero;
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
  int32_t n_rows = rows, d_jump = 4 * (AK_DWQ_RS - words), p_jump = (in_w - lh - 2 * np) * in_c;
  int32_t a, b, t, n;
  /* the two plane words of input words a (column 2k) and b (2k + 1) */
#define AK_DWQ_PACK                     \
  "pkhbt %[t], %[a], %[b], lsl #16\n\t" \
  "pkhtb %[b], %[b], %[a], asr #16\n\t" \
  "str %[t], [%[qa]], #4\n\t"           \
  "str %[b], [%[qb]], #4\n\t"
#define AK_DWQ_SPLIT                    \
  "ldr %[a], [%[p]]\n\t"               \
  "ldr %[b], [%[p], %[c]]\n\t"         \
  "add %[p], %[p], %[c], lsl #1\n\t" AK_DWQ_PACK
  __asm__ volatile("1:\n\t"
                   "ldr %[t], %[lh]\n\t"
                   "cmp %[t], #0\n\t"
                   "beq 2f\n\t"
                   "mov %[a], %[zp]\n\t"
                   "ldr %[b], [%[p]]\n\t"
                   "add %[p], %[c]\n\t" AK_DWQ_PACK
                   "2:\n\t"
                   "ldr %[n], %[np]\n\t"
                   "subs %[n], #2\n\t"
                   "blt 4f\n\t"
                   "3:\n\t" AK_DWQ_SPLIT AK_DWQ_SPLIT
                   "subs %[n], #2\n\t"
                   "bge 3b\n\t"
                   "4:\n\t"
                   "adds %[n], #2\n\t"
                   "beq 5f\n\t" AK_DWQ_SPLIT
                   "5:\n\t"
                   "ldr %[t], %[rh]\n\t"
                   "cmp %[t], #0\n\t"
                   "beq 6f\n\t"
                   "ldr %[a], [%[p]]\n\t"
                   "mov %[b], %[zp]\n\t" AK_DWQ_PACK
                   "6:\n\t"  /* the row count and jumps in registers (f3's planes keep them on the stack) */
                   "add %[qa], %[dj]\n\t"
                   "add %[qb], %[dj]\n\t"
                   "add %[p], %[pj]\n\t"
                   "subs %[rows], #1\n\t"
                   "bne 1b"
                   : [qa] "+r"(qa), [qb] "+r"(qb), [p] "+l"(p0), [rows] "+r"(n_rows), [t] "=&r"(t), [n] "=&l"(n),
                     [a] "=&l"(a), [b] "=&l"(b)  /* low: 16-bit loads and SUBS */
                   : [c] "l"(in_c), [zp] "r"(zp4), [lh] "m"(lh), [rh] "m"(rh), [np] "m"(np), [dj] "r"(d_jump),
                     [pj] "r"(p_jump)
                   : "cc", "memory");
#undef AK_DWQ_SPLIT
#undef AK_DWQ_PACK
#else
  for (int32_t y = 0; y < rows; y++, qa += AK_DWQ_RS, qb += AK_DWQ_RS, p0 += in_w * in_c) {
    const int8_t *p = p0;
    for (int32_t k = 0; k < words; k++) {
      const int left = lh && k == 0, right = rh && k == words - 1;
      const int32_t a = left ? zp4 : ak_read32(p), b = right ? zp4 : ak_read32(p + (left ? 0 : in_c));
      p += (left || right ? 1 : 2) * in_c;
      qa[k] = ak_pack_lo(a, b), qb[k] = ak_pack_hi(a, b);
    }
  }
#endif
}

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
/* Registers: r0 x, r1 the loaded word (then its channel-b form), r2 its channel-a form, r3-r10 the accumulators
 * (pixel k: a in r3 + 2k, b in r4 + 2k), r11 / r12 the row's (w0, w1) of a / b, lr (w2 a, w2 b); for the
 * requantization r11 / r12 (multiplier, rounding constant), r2 the shifts (a low register: 16-bit ASRS), lr
 * scratch, then r1 o and r2 out_c. FPU: s0-s15 the pair's block, s16 o, s17 out_c, s18 the units left in the row. */
#define AK_DWQ_LD(off) "ldr r1, [r0, #" off "]\n\tsxtb16 r2, r1\n\tsxtb16 r1, r1, ror #8\n\t"
#define AK_DWQ_MAC2(a, b) "smlad " a ", r2, r11, " a "\n\tsmlad " b ", r1, r12, " b "\n\t"
#define AK_DWQ_MAC1(a, b) "smlabb " a ", r2, lr, " a "\n\tsmlabt " b ", r1, lr, " b "\n\t"
#define AK_DWQ_W(wab, w2) "vmov r11, r12, " wab "\n\tvmov lr, " w2 "\n\t"
#define AK_DWQ_ROW1(off, wab, w2) AK_DWQ_W(wab, w2) AK_DWQ_LD(off) AK_DWQ_MAC2("r3", "r4") AK_DWQ_LD(off "+4") \
  AK_DWQ_MAC1("r3", "r4")
#define AK_DWQ_ROW2(off, wab, w2) AK_DWQ_W(wab, w2) AK_DWQ_LD(off) AK_DWQ_MAC2("r3", "r4") AK_DWQ_LD(off "+4") \
  AK_DWQ_MAC1("r3", "r4") AK_DWQ_MAC2("r5", "r6") AK_DWQ_LD(off "+8") AK_DWQ_MAC1("r5", "r6")
#define AK_DWQ_ROW3(off, wab, w2) AK_DWQ_ROW2(off, wab, w2) AK_DWQ_MAC2("r7", "r8") AK_DWQ_LD(off "+12") \
  AK_DWQ_MAC1("r7", "r8")
#define AK_DWQ_ROW4(off, wab, w2) AK_DWQ_W(wab, w2) AK_DWQ_LD(off) AK_DWQ_MAC2("r3", "r4") AK_DWQ_LD(off "+4") \
  AK_DWQ_MAC1("r3", "r4") AK_DWQ_MAC2("r5", "r6") AK_DWQ_LD(off "+8") AK_DWQ_MAC1("r5", "r6")               \
  AK_DWQ_MAC2("r7", "r8") AK_DWQ_LD(off "+12") AK_DWQ_MAC1("r7", "r8") AK_DWQ_MAC2("r9", "r10")              \
  AK_DWQ_LD(off "+16") AK_DWQ_MAC1("r9", "r10")
#define AK_DWQ_TAPS(ROW)                                                                                    \
  ROW("0", "s0, s1", "s2") ROW(AK_DWP_STR(AK_DWQ_RS) "*4", "s3, s4", "s5")                                \
  ROW(AK_DWP_STR(AK_DWQ_RS) "*8", "s6, s7", "s8")
#define AK_DWQ_START(a, b) "vmov " a ", " b ", s9, s10\n\t"
#define AK_DWQ_RQ(a)                 \
  "smmlar lr, " a ", r11, r12\n\t"   \
  "add " a ", lr, " a ", asr #31\n\t" \
  "asrs " a ", " a ", r2\n\t"         \
  "ssat " a ", #8, " a "\n\t"
#define AK_DWQ_RQ_A "vmov r11, r12, s11, s12\n\tvmov r2, s15\n\t"
#define AK_DWQ_RQ_B "vmov r11, r12, s13, s14\n\tlsrs r2, r2, #8\n\t"
#define AK_DWQ_ST(a, b) "bfi " a ", " b ", #8, #8\n\tstrh " a ", [r1]\n\tadd r1, r2\n\t"
#define AK_DWQ_ST_BEGIN "vmov r1, s16\n\tvmov r2, s17\n\t"
#define AK_DWQ_ST_END "vmov s16, r1\n\t"
#define AK_DWQ_UNIT1                                                                                        \
  AK_DWQ_START("r3", "r4") AK_DWQ_TAPS(AK_DWQ_ROW1) AK_DWQ_RQ_A AK_DWQ_RQ("r3") AK_DWQ_RQ_B AK_DWQ_RQ("r4") \
  AK_DWQ_ST_BEGIN AK_DWQ_ST("r3", "r4") AK_DWQ_ST_END
#define AK_DWQ_UNIT2                                                                                        \
  AK_DWQ_START("r3", "r4") AK_DWQ_START("r5", "r6") AK_DWQ_TAPS(AK_DWQ_ROW2)                                \
  AK_DWQ_RQ_A AK_DWQ_RQ("r3") AK_DWQ_RQ("r5") AK_DWQ_RQ_B AK_DWQ_RQ("r4") AK_DWQ_RQ("r6")                   \
  AK_DWQ_ST_BEGIN AK_DWQ_ST("r3", "r4") AK_DWQ_ST("r5", "r6") AK_DWQ_ST_END
#define AK_DWQ_UNIT3                                                                                        \
  AK_DWQ_START("r3", "r4") AK_DWQ_START("r5", "r6") AK_DWQ_START("r7", "r8") AK_DWQ_TAPS(AK_DWQ_ROW3)      \
  AK_DWQ_RQ_A AK_DWQ_RQ("r3") AK_DWQ_RQ("r5") AK_DWQ_RQ("r7") AK_DWQ_RQ_B AK_DWQ_RQ("r4") AK_DWQ_RQ("r6")   \
  AK_DWQ_RQ("r8") AK_DWQ_ST_BEGIN AK_DWQ_ST("r3", "r4") AK_DWQ_ST("r5", "r6") AK_DWQ_ST("r7", "r8") AK_DWQ_ST_END
#define AK_DWQ_UNIT4                                                                                        \
  AK_DWQ_START("r3", "r4") AK_DWQ_START("r5", "r6") AK_DWQ_START("r7", "r8") AK_DWQ_START("r9", "r10")      \
  AK_DWQ_TAPS(AK_DWQ_ROW4)                                                                                  \
  AK_DWQ_RQ_A AK_DWQ_RQ("r3") AK_DWQ_RQ("r5") AK_DWQ_RQ("r7") AK_DWQ_RQ("r9")                               \
  AK_DWQ_RQ_B AK_DWQ_RQ("r4") AK_DWQ_RQ("r6") AK_DWQ_RQ("r8") AK_DWQ_RQ("r10")                              \
  AK_DWQ_ST_BEGIN AK_DWQ_ST("r3", "r4") AK_DWQ_ST("r5", "r6") AK_DWQ_ST("r7", "r8") AK_DWQ_ST("r9", "r10")  \
  AK_DWQ_ST_END
#endif

/* rows output rows of both channel pairs of a group: x plane a's row 0 (plane b `plane` words on), o the output
 * of channel a of the first pixel, blk the first pair's constants */
static __attribute__((noinline)) void ak_dwq_rows(const int32_t *x0, int8_t *o0, int32_t rows, int32_t out_w,
                                                  const int32_t *blk, int32_t out_c, int32_t plane) {
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
  register const int32_t *x __asm__("r0") = x0;
  register int8_t *o __asm__("r1") = o0;
  register int32_t c __asm__("r2") = out_c;
  const int32_t units = out_w >> 2, tail = out_w & 3;
  const int32_t jump = 8 * AK_DWQ_RS - 4 * out_w;  /* bytes from past a row's last output to the next row */
  const int32_t cjx = 4 * plane - rows * 8 * AK_DWQ_RS, cjo = 2 - rows * out_w * out_c;
  int32_t count = 0, chans = 2;
  const int32_t *bp = blk;
  __asm__ volatile(
      "vmov s16, r1\n\t"
      "vmov s17, r2\n\t"
      "0:\n\t"
      "ldr r2, %[blk]\n\t"
      "vldmia r2!, {s0-s15}\n\t"
      "str r2, %[blk]\n\t"
      "ldr r2, %[rows]\n\t"
      "str r2, %[count]\n\t"
      "1:\n\t"
      "ldr r2, %[units]\n\t"
      "cmp r2, #0\n\t"
      "beq.w 3f\n\t"
      "vmov s18, r2\n\t"
      "2:\n\t" AK_DWQ_UNIT4
      "adds r0, #16\n\t"
      "vmov r2, s18\n\t"
      "subs r2, #1\n\t"
      "vmov s18, r2\n\t"
      "bne.w 2b\n\t"
      "3:\n\t"  /* the row's last out_w % 4 outputs in one unit */
      "ldr r2, %[tail]\n\t"
      "cmp r2, #2\n\t"
      "blt.w 4f\n\t"
      "beq.w 6f\n\t" AK_DWQ_UNIT3
      "adds r0, #12\n\t"
      "b.w 5f\n\t"
      "6:\n\t" AK_DWQ_UNIT2
      "adds r0, #8\n\t"
      "b.w 5f\n\t"
      "4:\n\t"
      "cmp r2, #0\n\t"
      "beq.w 5f\n\t" AK_DWQ_UNIT1
      "adds r0, #4\n\t"
      "5:\n\t"
      "ldr r2, %[jump]\n\t"
      "add r0, r2\n\t"
      "ldr r2, %[count]\n\t"
      "subs r2, #1\n\t"
      "str r2, %[count]\n\t"
      "bne.w 1b\n\t"
      "ldr r2, %[cjx]\n\t"
      "add r0, r2\n\t"
      "vmov r1, s16\n\t"
      "ldr r2, %[cjo]\n\t"
      "add r1, r2\n\t"
      "vmov s16, r1\n\t"
      "ldr r2, %[chans]\n\t"
      "subs r2, #1\n\t"
      "str r2, %[chans]\n\t"
      "bne.w 0b"
      : [count] "+m"(count), [chans] "+m"(chans), [blk] "+m"(bp), "+r"(x), "+r"(o), "+r"(c)
      : [units] "m"(units), [tail] "m"(tail), [jump] "m"(jump), [rows] "m"(rows),
        [cjx] "m"(cjx), [cjo] "m"(cjo)
      : "cc", "memory", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12", "lr", "s0", "s1", "s2", "s3",
        "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "s12", "s13", "s14", "s15", "s16", "s17", "s18");
#else
  for (int32_t p = 0; p < 2; p++) {
    const int32_t *k = blk + p * AK_DWQ_PAIR, *xp = x0 + p * plane;
    for (int32_t oy = 0; oy < rows; oy++) {
      for (int32_t ox = 0; ox < out_w; ox++) {
        int32_t a = k[9], b = k[10];
        for (int32_t r = 0; r < 3; r++) {
          const int32_t *q = xp + (2 * oy + r) * AK_DWQ_RS + ox;
          a = ak_smlad(ak_sxtb16(q[0]), k[3 * r], a), b = ak_smlad(ak_sxtb16_ror8(q[0]), k[3 * r + 1], b);
          a = ak_dwp_mla(ak_sxtb16(q[1]), 0, k[3 * r + 2], 0, a);
          b = ak_dwp_mla(ak_sxtb16_ror8(q[1]), 0, k[3 * r + 2], 1, b);
        }
        int8_t *o = o0 + (oy * out_w + ox) * out_c + 2 * p;
        const int32_t ka[3] = {k[11], k[12], k[15] & 0xFF}, kb[3] = {k[13], k[14], (k[15] >> 8) & 0xFF};
        ak_dwp_requant(&a, o, 1, 1, ka);
        ak_dwp_requant(&b, o + 1, 1, 1, kb);
      }
    }
  }
#endif
}
#undef AK_DWQ_UNIT4
#undef AK_DWQ_UNIT3
#undef AK_DWQ_UNIT2
#undef AK_DWQ_UNIT1
#undef AK_DWQ_ST_END
#undef AK_DWQ_ST_BEGIN
#undef AK_DWQ_ST
#undef AK_DWQ_RQ_B
#undef AK_DWQ_RQ_A
#undef AK_DWQ_RQ
#undef AK_DWQ_START
#undef AK_DWQ_TAPS
#undef AK_DWQ_ROW4
#undef AK_DWQ_ROW3
#undef AK_DWQ_ROW2
#undef AK_DWQ_ROW1
#undef AK_DWQ_W
#undef AK_DWQ_MAC1
#undef AK_DWQ_MAC2
#undef AK_DWQ_LD

/* q3's layer (its checks passed): bands of output rows whose input rows fit the 2 planes, channel groups inside */
static __attribute__((noinline)) void ak_dwq_conv(const ak_geom *g, const int8_t *in, const int32_t *blk,
                                                  int8_t *out) {
  const int32_t in_h = g->in_h, in_c = g->in_c, out_h = g->out_h, out_w = g->out_w;
  const int32_t out_c = g->out_c, pad_t = g->pad_t, rw = out_w + 1, max_rows = AK_DWQ_BYTES / (8 * AK_DWQ_RS);
  int32_t buf[AK_DWQ_BYTES / 4];
  const int32_t band = (max_rows - 3) / 2 + 1 < out_h ? (max_rows - 3) / 2 + 1 : out_h;
  const int32_t plane = ((band - 1) * 2 + 3) * AK_DWQ_RS;
  const int32_t zp4 = (int32_t)((uint32_t)(uint8_t)g->in_zp * 0x01010101u);
  const ak_dwq_cols kc = ak_dwq_columns(g, rw);
  const int32_t k_end = kc.k_zero + kc.lh + kc.np + kc.rh;
  /* the words the conversion leaves alone hold zp4: those of two padding pixels (the same in every row), the rows
   * outside the input (below: the bottom ones of the later bands) */
  for (int32_t y = 0, *d = buf; d < buf + plane; y++, d += AK_DWQ_RS) {
    const int inside = y >= pad_t && y - pad_t < in_h;
    for (int32_t k = 0; k < (inside ? kc.k_zero : rw); k++) d[k] = d[plane + k] = zp4;
    for (int32_t k = inside ? k_end : rw; k < rw; k++) d[k] = d[plane + k] = zp4;
  }
  for (int32_t oy0 = 0; oy0 < out_h; oy0 += band) {
    const int32_t n_rows = out_h - oy0 < band ? out_h - oy0 : band, rows = (n_rows - 1) * 2 + 3;
    int32_t y_in = 0, y_end = rows;  /* [y_in, y_end): the rows inside the input */
    while (y_in < rows && 2 * oy0 + y_in - pad_t < 0) y_in++;
    while (y_end > y_in && 2 * oy0 + y_end - 1 - pad_t >= in_h) y_end--;
    for (int32_t i = y_end * AK_DWQ_RS; oy0 > 0 && i < rows * AK_DWQ_RS; i++) buf[i] = buf[plane + i] = zp4;
    for (int32_t c = 0; c < in_c; c += 4) {
      ak_dwq_planes(buf + y_in * AK_DWQ_RS, g, in, c, 2 * oy0 + y_in, y_end - y_in, &kc, plane, zp4);
      ak_dwq_rows(buf, out + oy0 * out_w * out_c + c, n_rows, out_w, blk + (c >> 1) * AK_DWQ_PAIR, out_c,
                  plane);
    }
  }
}

int32_t armlprof_dwconv_s8_q3(ARMLPROF_CONV_ARGS) {
  const int32_t *blk = qp + (AK_QP_STRIDE + AK_DWP_BLOCK) * out_c;  /* after t3's block: the flag, the pairs */
  if (blk[0] != 1 || s_w != 2 || d_h != 1 || d_w != 1 || out_c != in_c || out_w + 1 > AK_DWQ_RS)
    return armlprof_dwconv_s8_f3(in, w, qp, out, in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w, s_h, s_w, d_h,
                                 d_w, pad_t, pad_l, in_zp, out_zp, act_lo, act_hi);
  AK_GEOM;
  (void)w;
  ak_dwq_conv(&g, in, blk + 1, out);
  return 0;
}

/* ---------------------------------------------------------------- one-input-channel convolution (conv1) */
/* A convolution (or depthwise, depth multiplier = out_c) of a one-channel input, dilation 1: the input is first
 * copied into a stack buffer padded with the input zero point (which the folded bias turns into 0, as TFLM skips
 * the taps outside) to exactly the rows and columns the output pixels read, each kernel row widened to kw4 = k_w
 * rounded up to 4 taps (the packed weights of the extra taps are 0), rows a whole number of words. Every pixel
 * is then interior: its GEMM row is k_h segments of kw4 / 4 words read straight from the buffer, no im2col and
 * no border path. kernels.py checks that the buffer fits (C1_MAX_PAD_BYTES) before it picks this kernel. */
/* The direct kernel over the padded buffer (variant d4): 4 output channels per pass, their packed weights
 * ([K/4][4] words, kernels.pack_c1_weights with tile 4) sign-extended once into a stack stage as SMLAD pairs
 * (taps 0, 2 and 1, 3 of each word: the pairing SXTB16 gives the input word), so the inner step per input word
 * is one LDR, two SXTB16 and per channel one LDRD and two SMLAD, all in registers. The accumulators of up to
 * AK_C1_CHUNK pixels go to a stack buffer and are requantized one channel at a time (ak_requant_run: the
 * channel's constants in registers, SSAT). gp: the padded geometry (in_c 1, k_w a multiple of 4, no padding). */
#define AK_C1_CHUNK 48

AK_INLINE void ak_c1_sum(const int8_t *x, const int32_t *wst, int32_t k_h, int32_t words, int32_t row_skip,
                         int32_t *acc) {
  int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
  /* One input word (4 taps of a kernel row) against the 4 channels' tap pairs. */
#define AK_C1_CH(a)                            \
  "ldrd %[wa], %[wb], [%[w]], #8\n\t"          \
  "smlad %[" a "], %[xv], %[wa], %[" a "]\n\t" \
  "smlad %[" a "], %[xh], %[wb], %[" a "]\n\t"
#define AK_C1_WORD                  \
  "ldr %[xv], [%[x]], #4\n\t"       \
  "sxtb16 %[xh], %[xv], ror #8\n\t" \
  "sxtb16 %[xv], %[xv]\n\t"         \
  AK_C1_CH("a0") AK_C1_CH("a1") AK_C1_CH("a2") AK_C1_CH("a3")
  /* Rows of 1 or 2 words (the study models' 3x3 and 10x8 kernels): the whole kernel in one loop over its rows. */
#define AK_C1_ROWS(row)                                                                                       \
  do {                                                                                                      \
    int32_t ky = k_h, xv, xh, wa, wb;                                                                       \
    __asm__ volatile("1:\n\t" row                                                                           \
                     "add %[x], %[x], %[skip]\n\t"                                                          \
                     "subs %[ky], %[ky], #1\n\t"                                                            \
                     "bne 1b"                                                                               \
                     : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [x] "+r"(x), [w] "+r"(wst), \
                       [ky] "+r"(ky), [xv] "=&r"(xv), [xh] "=&r"(xh), [wa] "=&r"(wa), [wb] "=&r"(wb)         \
                     : [skip] "r"(row_skip)                                                                 \
                     : "cc", "memory");                                                                     \
  } while (0)
  if (words == 1 && k_h == 3) {  /* person_detect's 3x3: the three rows unrolled (no loop branch) */
    int32_t xv, xh, wa, wb;
    __asm__ volatile(AK_C1_WORD "add %[x], %[x], %[skip]\n\t" AK_C1_WORD "add %[x], %[x], %[skip]\n\t" AK_C1_WORD
                     : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [x] "+r"(x), [w] "+r"(wst),
                       [xv] "=&r"(xv), [xh] "=&r"(xh), [wa] "=&r"(wa), [wb] "=&r"(wb)
                     : [skip] "r"(row_skip)
                     : "memory");
  } else if (words == 1) {
    AK_C1_ROWS(AK_C1_WORD);
  } else if (words == 2) {
    AK_C1_ROWS(AK_C1_WORD AK_C1_WORD);
  } else {
    /* longer rows (1x1 convolutions: one row of in_c / 4 words): a loop over word pairs, then the odd word */
#define AK_C1_LONG_ROW                                                                                       \
  do {                                                                                                     \
    int32_t n = words >> 1, xv, xh, wa, wb;                                                                \
    __asm__ volatile("1:\n\t" AK_C1_WORD AK_C1_WORD                                                           \
                     "subs %[n], %[n], #1\n\t"                                                             \
                     "bne 1b\n\t"                                                                          \
                     "tst %[odd], #1\n\t"                                                                  \
                     "beq 2f\n\t" AK_C1_WORD "2:"                                                            \
                     : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [x] "+r"(x), [w] "+r"(wst), \
                       [n] "+r"(n), [xv] "=&r"(xv), [xh] "=&r"(xh), [wa] "=&r"(wa), [wb] "=&r"(wb)         \
                     : [odd] "r"(words)                                                                    \
                     : "cc", "memory");                                                                    \
  } while (0)
    if (k_h == 1) {
      AK_C1_LONG_ROW;
    } else {
      for (int32_t ky = k_h; ky > 0; ky--, x += row_skip) AK_C1_LONG_ROW;
    }
#undef AK_C1_LONG_ROW
  }
#undef AK_C1_ROWS
#undef AK_C1_WORD
#undef AK_C1_CH
#else
  for (int32_t ky = k_h; ky > 0; ky--, x += row_skip) {
    for (int32_t j = 0; j < words; j++, x += 4, wst += 8) {
      int32_t xv = ak_read32(x), xl = ak_sxtb16(xv), xh = ak_sxtb16_ror8(xv);
      a0 = ak_smlad(xh, wst[1], ak_smlad(xl, wst[0], a0));
      a1 = ak_smlad(xh, wst[3], ak_smlad(xl, wst[2], a1));
      a2 = ak_smlad(xh, wst[5], ak_smlad(xl, wst[4], a2));
      a3 = ak_smlad(xh, wst[7], ak_smlad(xl, wst[6], a3));
    }
  }
#endif
  acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
}

static __attribute__((noinline)) void ak_conv1_direct(const ak_geom *gp, const int8_t *buf, const int32_t *w,
                                                      const int32_t *qp, int8_t *out) {
  const int32_t k_h = gp->k_h, words = gp->k_w >> 2, k4 = k_h * words, wp = gp->in_w, out_c = gp->out_c;
  const int32_t row_skip = wp - gp->k_w, pix_step = gp->s_w, out_w = gp->out_w, pixels = gp->out_h * out_w;
  const int32_t row_wrap = gp->s_h * wp - out_w * pix_step;  /* from past a row's last pixel to the next row's first */
  const ak_outq oq = {gp->out_zp, gp->act_lo, gp->act_hi};
  int32_t wst[AK_STAGE_WORDS];
  int32_t acc[4 * AK_C1_CHUNK];
  for (int32_t c = 0; c < out_c; c += 4, w += 4 * k4, qp += 4 * AK_QP_STRIDE) {
    for (int32_t i = 0; i < 4 * k4; i++) {
      int32_t wv = w[i];
      wst[2 * i] = ak_sxtb16(wv), wst[2 * i + 1] = ak_sxtb16_ror8(wv);
    }
    ak_rq rq[4];
    for (int j = 0; j < 4; j++) {
      ak_qp q = ak_qp_load(qp + j * AK_QP_STRIDE);
      int64_t b = q.bias;
      /* |sum x*w| <= 2^14 per tap: a bound without a pass over the weights (a few pixels reuse each group) */
      rq[j] = ak_rq_prepare(q, gp->out_zp, (b < 0 ? -b : b) + (int64_t)k4 * 4 * 16384);
    }
    const int32_t nc = out_c - c < 4 ? out_c - c : 4;
    /* chunks of up to AK_C1_CHUNK pixels, walked in output order; the pixel loop keeps only x and ox live */
    const int8_t *x = buf;
    int32_t ox = 0;
    for (int32_t p0 = 0, n; p0 < pixels; p0 += n) {
      n = pixels - p0 < AK_C1_CHUNK ? pixels - p0 : AK_C1_CHUNK;
      if (row_wrap == 0) {  /* 1x1: the pixels' rows are contiguous */
        for (int32_t *a = acc, *end = acc + 4 * n; a != end; a += 4, x += pix_step)
          ak_c1_sum(x, wst, k_h, words, row_skip, a);
      } else {
        for (int32_t *a = acc, *end = acc + 4 * n; a != end; a += 4) {
          ak_c1_sum(x, wst, k_h, words, row_skip, a);
          x += pix_step;
          if (++ox == out_w) ox = 0, x += row_wrap;
        }
      }
      for (int j = 0; j < nc; j++) ak_requant_run(acc + j, out + p0 * out_c + c + j, n, out_c, &rq[j], &oq);
    }
  }
}

AK_INLINE int32_t ak_conv1(const ak_geom *g, const int8_t *in, const int8_t *w, const int32_t *qp, int8_t *out,
                           const int T, const int P, ak_pixels_fn px1, ak_pixels_fn px2, const int direct) {
  const int32_t kw4 = (g->k_w + 3) & ~3;
  const int32_t hp = (g->out_h - 1) * g->s_h + g->k_h, wp = ((g->out_w - 1) * g->s_w + kw4 + 3) & ~3;
  int32_t buf32[(hp * wp) >> 2];
  const int8_t *buf = (const int8_t *)buf32;
  ak_pad_input(buf32, in, g->in_h, g->in_w, 1, hp, wp, g->pad_t, g->pad_l, g->in_zp);
  const ak_geom gp = {hp, wp, 1, g->out_h, g->out_w, g->out_c, g->k_h, kw4, g->s_h, g->s_w, 1, 1, 0, 0,
                      g->in_zp, g->out_zp, g->act_lo, g->act_hi};
  if (direct) {
    ak_conv1_direct(&gp, buf, (const int32_t *)(const void *)w, qp, out);
    return 0;
  }
  return ak_conv(&gp, buf, w, qp, out, T, P, px1, px2);
}

#define AK_CONV1_VARIANT(T, P, U)                                                                      \
  int32_t armlprof_conv1_s8_t##T##p##P##u##U(ARMLPROF_CONV_ARGS) {                                   \
    AK_GEOM;                                                                                          \
    return ak_conv1(&g, in, w, qp, out, T, P, ak_px_t##T##p1u##U, ak_px_t##T##p2u##U, 0);              \
  }
AK_CONV1_VARIANT(2, 1, 1)
AK_CONV1_VARIANT(2, 2, 1)
AK_CONV1_VARIANT(4, 1, 1)
AK_CONV1_VARIANT(4, 2, 1)
AK_CONV1_VARIANT(2, 1, 2)
AK_CONV1_VARIANT(2, 2, 2)
AK_CONV1_VARIANT(4, 1, 2)
AK_CONV1_VARIANT(4, 2, 2)

/* ---------------------------------------------------------------- 1x1 / fully connected: 2 pixels x 4 channels (pw d4p2) */
/* The register tile of d4 widened to two output pixels, so each loaded word feeds two SMLADs (d4: one). Both
 * operands are sign-extended ahead of the inner loop into SMLAD pairs (k 4i, 4i+2 and 4i+1, 4i+3, SXTB16's
 * pairing on both sides): the inputs of a chunk of pixels once (as many as AK_PW2_XWORDS holds; at most
 * AK_PW2_CHUNK when the accumulators go through the stack buffer), interleaved per pixel pair as
 * [k/2][pixel 0, pixel 1] words closed by a tail (AK_PW2_TAIL words: the sentinel AK_PW2_END, where the pair's
 * accumulators go, whether another pair follows, the stage's address), and each group of 4 output channels'
 * weights into a stage [k/2][channel] (packed tile 4, kernels.pack_gemm_weights). Chunk outer, channel group
 * inner: the extension is paid once per chunk, the stage once per chunk and group (chunks as even as the buffer
 * allows, so a layer of up to 36 pixels of 128 channels stages its weights once). Per k pair the inner step is
 * LDM {x0, x1}, twice LDM {w, w'} + 4 SMLAD: 6 words loaded for 8 SMLAD, with all 8 accumulators, the 4 operands
 * and both pointers in the 14 registers (the loop ends on the sentinel, the next pair's state comes from the
 * tail: no counter). When every channel of the layer takes ak_requant_run's SSAT path (and out_c % 4 == 0), the
 * pair's 8 accumulators are requantized right there, in their registers, with the group's constants staged after
 * its weights, and each pixel's 4 output bytes stored as one word; otherwise they go to a stack buffer [pixel][4]
 * and are requantized one channel at a time (ak_requant_run), as d4 does. An odd last pixel is paired with itself
 * (its duplicate's outputs are the same bytes, stored to the same place or not at all). */
#define AK_PW2_CHUNK 96       /* pixels per chunk (even) with the accumulator buffer */
#define AK_PW2_XWORDS 2448    /* extended inputs of a chunk: k + AK_PW2_TAIL words per pixel pair */
#define AK_PW2_TAIL 6
#define AK_PW2_MAX_K 384      /* kernels.py's pw limit (2 * in_c <= STAGE_WORDS) */
#define AK_PW2_END 0x40000000 /* no SMLAD pair of int8 values has 0x4000 in its top half */

/* xe: n pixels of k bytes (k % 4 == 0) from `in`, extended and interleaved per pair, each pair closed by its tail:
 * sentinel, accumulators' address, both pixels' output addresses (the duplicate of an odd last pixel: the same
 * one), another pair follows (1; 2: the odd last pixel's, which f4p2 computes alone), the stage's address.
 * Addresses as 32-bit words: only the M4's assembly reads them.
 * The portable code, and on the M4 an odd last pixel's pair (n = 1). */
AK_INLINE void ak_pw2_extend_c(const int8_t *in, int32_t k, int32_t span, int32_t n, int32_t *xe,
                               const int32_t *acc, const int32_t *wst, int8_t *out, int32_t out_c, int tails) {
  for (int32_t p = 0; p < n; p += 2, in += 2 * k, acc += 8, out += 2 * out_c) {
    const int8_t *r0 = in, *r1 = p + 1 < n ? in + k : in;
    for (int32_t i = 0; i < span; i += 4, xe += 4) {
      int32_t v0 = ak_read32(r0 + i), v1 = ak_read32(r1 + i);
      xe[0] = ak_sxtb16(v0), xe[1] = ak_sxtb16(v1), xe[2] = ak_sxtb16_ror8(v0), xe[3] = ak_sxtb16_ror8(v1);
    }
    if (!tails) continue;
    xe[0] = AK_PW2_END, xe[1] = (int32_t)(uintptr_t)acc, xe[2] = (int32_t)(uintptr_t)out;
    xe[3] = (int32_t)(uintptr_t)(p + 1 < n ? out + out_c : out), xe[4] = n - p > 3 ? 1 : n - p == 3 ? 2 : 0;
    xe[5] = (int32_t)(uintptr_t)wst;
    xe += AK_PW2_TAIL;
  }
}

/* (span: the channels [0, span) of each pixel, k apart; tails: each pair closed by its tail. d4p2 and f4p2's
 * one-block layers: span k, with tails; f4p2's layers of several blocks: ak_pwf_extend_blocks) */
AK_INLINE void ak_pw2_extend(const int8_t *in, int32_t k, int32_t span, int32_t n, int32_t *xe, const int32_t *acc,
                             const int32_t *wst, int8_t *out, int32_t out_c, int tails) {
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
  /* The whole pairs in one asm loop (GCC's: ~2x the cycles, most of a shallow layer's extension): per 4 input
   * channels 2 LDR (unaligned-safe on the M4), 4 SXTB16, one STM of the 4 words, 8 channels per iteration (one
   * end test per 8; an odd number of words enters at the second 4); per pair the tail in 2 STM with "another
   * pair follows" = 1, which the last whole pair's gets back as 0 when no odd pixel follows. A span below k
   * (lr) ends pixel 0's channels span on and moves on by 2k - span to the next pair. */
  const int32_t pairs = n >> 1;
  if (pairs > 0) {
    register const int8_t *r4 __asm__("r4") = in;
    register int32_t *r6 __asm__("r6") = xe;
    register int32_t r7 __asm__("r7") = k;
    register const int32_t *r8 __asm__("r8") = acc;
    register int8_t *r9 __asm__("r9") = out;
    register int32_t r10 __asm__("r10") = out_c;
    register int32_t r11 __asm__("r11") = pairs;
    register const int32_t *r12 __asm__("r12") = wst;
#define AK_PW2_EXTEND4             \
  "ldr r3, [r4, r7]\n\t"           \
  "ldr r2, [r4], #4\n\t"           \
  "sxtb16 r0, r2\n\t"              \
  "sxtb16 r1, r3\n\t"              \
  "sxtb16 r2, r2, ror #8\n\t"      \
  "sxtb16 r3, r3, ror #8\n\t"      \
  "stm r6!, {r0, r1, r2, r3}\n\t"
/* (end: r5 past pixel 0's channels; odd: flags ne when span / 4 is odd; next: r4 to the next pair's pixel 0) */
#define AK_PW2_EXTEND_PAIRS(end, odd, next, tail) \
  "0:\n\t" end odd                                \
  "bne 2f\n\t"                                    \
  "1:\n\t" AK_PW2_EXTEND4                         \
  "2:\n\t" AK_PW2_EXTEND4                         \
  "cmp r4, r5\n\t"                                \
  "bne 1b\n\t" next tail                          \
  "subs r11, r11, #1\n\t"                         \
  "bne 0b"
#define AK_PW2_EXTEND_NEXT_SPAN "add r4, r7\n\tadd r4, r7\n\tsub r4, lr\n\t"
#define AK_PW2_EXTEND_TAIL        \
  "mov r0, #0x40000000\n\t"       \
  "mov r1, r8\n\t"                \
  "mov r2, r9\n\t"                \
  "add r9, r10\n\t"               \
  "mov r3, r9\n\t"                \
  "add r9, r10\n\t"               \
  "stm r6!, {r0, r1, r2, r3}\n\t" \
  "movs r0, #1\n\t"               \
  "mov r1, r12\n\t"               \
  "stm r6!, {r0, r1}\n\t"         \
  "add r8, r8, #32\n\t"
    if (span == k && tails) {
      __asm__ volatile(AK_PW2_EXTEND_PAIRS("adds r5, r4, r7\n\t" /* past pixel 0's channels */, "tst r7, #4\n\t",
                                           "add r4, r7\n\t" /* past pixel 1 */, AK_PW2_EXTEND_TAIL)
                       : "+r"(r4), "+r"(r6), "+r"(r8), "+r"(r9), "+r"(r11)
                       : "r"(r7), "r"(r10), "r"(r12)
                       : "r0", "r1", "r2", "r3", "r5", "cc", "memory");
    } else if (tails) {
      register int32_t lr __asm__("lr") = span;
      __asm__ volatile(AK_PW2_EXTEND_PAIRS("add r5, r4, lr\n\t", "tst lr, #4\n\t", AK_PW2_EXTEND_NEXT_SPAN,
                                           AK_PW2_EXTEND_TAIL)
                       : "+r"(r4), "+r"(r6), "+r"(r8), "+r"(r9), "+r"(r11)
                       : "r"(r7), "r"(r10), "r"(r12), "r"(lr)
                       : "r0", "r1", "r2", "r3", "r5", "cc", "memory");
    } else {
      register int32_t lr __asm__("lr") = span;
      __asm__ volatile(AK_PW2_EXTEND_PAIRS("add r5, r4, lr\n\t", "tst lr, #4\n\t", AK_PW2_EXTEND_NEXT_SPAN, "")
                       : "+r"(r4), "+r"(r6), "+r"(r11)
                       : "r"(r7), "r"(lr)
                       : "r0", "r1", "r2", "r3", "r5", "cc", "memory");
    }
    xe = r6;
  }
#undef AK_PW2_EXTEND_PAIRS
#undef AK_PW2_EXTEND_NEXT_SPAN
#undef AK_PW2_EXTEND_TAIL
#undef AK_PW2_EXTEND4
  if (pairs > 0 && tails) xe[-2] = n & 1 ? 2 : 0;  /* a lone last pixel follows, or nothing */
  if (!(n & 1)) return;
  const int32_t p = 2 * pairs;
  ak_pw2_extend_c(in + p * k, k, span, 1, xe, acc + 4 * p, wst, out + p * out_c, out_c, tails);
#else
  ak_pw2_extend_c(in, k, span, n, xe, acc, wst, out, out_c, tails);
#endif
}

/* f4p2's layers of several blocks: the chunk's inputs block by block, as ak_pwf_sums reads them (each block's
 * steps over all pairs in a row, no skip between pairs): per block a region of the pairs' slots, the first block's
 * 2r words a slot, the middle ones' 16, the last one's 16 and (fused: its requantization reads them) the tail. */
AK_INLINE int32_t ak_pwf_first_steps(int32_t k);
AK_INLINE void ak_pwf_extend_blocks(const int8_t *in, int32_t k, int32_t n, int32_t *xe, const int32_t *acc,
                                    const int32_t *wst, int8_t *out, int32_t out_c, int fused) {
  const int32_t slots = (n + 1) >> 1;
  int32_t c = 0;
  for (int32_t span = 2 * ak_pwf_first_steps(k); c + span < k; c += span, xe += slots * span, span = 16)
    ak_pw2_extend(in + c, k, span, n, xe, acc, wst, out, out_c, 0);
  ak_pw2_extend(in + c, k, k - c, n, xe, acc, wst, out, out_c, fused);
}

/* The stage of one channel group: its k4 packed words [k4][4 channels] as [k/2][4 channels] SMLAD pairs. */
static __attribute__((noinline)) void ak_pw2_stage(const int32_t *w, int32_t k4, int32_t *wst) {
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
  /* one word of 4 channels per iteration: LDM 4, 8 SXTB16, 2 STM 4 (GCC's loop: ~1.6x the cycles) */
  register const int32_t *src __asm__("r8") = w;
  register int32_t *dst __asm__("r9") = wst;
  register const int32_t *end __asm__("r10") = w + 4 * k4;
  __asm__ volatile(
      "1:\n\t"
      "ldm %[src]!, {r0, r1, r2, r3}\n\t"
      "sxtb16 r4, r0\n\t"
      "sxtb16 r5, r1\n\t"
      "sxtb16 r6, r2\n\t"
      "sxtb16 r12, r3\n\t"
      "sxtb16 r0, r0, ror #8\n\t"
      "sxtb16 r1, r1, ror #8\n\t"
      "sxtb16 r2, r2, ror #8\n\t"
      "sxtb16 r3, r3, ror #8\n\t"
      "stm %[dst]!, {r4, r5, r6, r12}\n\t"
      "stm %[dst]!, {r0, r1, r2, r3}\n\t"
      "cmp %[src], %[end]\n\t"
      "bne 1b"
      : [src] "+r"(src), [dst] "+r"(dst)
      : [end] "r"(end)
      : "r0", "r1", "r2", "r3", "r4", "r5", "r6", "r12", "cc", "memory");
#else
  for (int32_t i = 0; i < k4; i++, w += 4, wst += 8) {
    for (int j = 0; j < 4; j++) wst[j] = ak_sxtb16(w[j]), wst[4 + j] = ak_sxtb16_ror8(w[j]);
  }
#endif
}

/* The sums of every pixel pair of xe (at least one; k >= 4) against the stage wst, to the accumulators its
 * tails name: pixel 0's 4 channels, then pixel 1's. `fused` (the M4 only): requantized in registers instead, with
 * the 4 channels' (2 bias, multiplier, rounding constant with the output offset, right shift) after the stage's
 * 2k words: ak_requant_run's SSAT path (fast, no left shift, no clamp inside int8), each pixel's 4 output bytes
 * stored as one word at the tail's output address, which then moves on to the next channel group's. */
static __attribute__((noinline)) void ak_pw2_sums(const int32_t *xe, const int32_t *wst, int32_t k, int fused,
                                                  int32_t *acc) {
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
  (void)acc;
  /* r0, r1: the pair's inputs; r2, r3: two channels' weights; r4, r5: input and stage pointers; r6-r9, r10-r12
   * and lr: pixel 0's and pixel 1's 4 accumulators (STM order = the buffer's). Low registers for the loads:
   * 16-bit LDM. */
  register const int32_t *px __asm__("r4") = xe;
  register const int32_t *pw __asm__("r5") = wst;
  /* (w01, w23: what brings channels 0, 1 and 2, 3's weights into r2, r3; f4p2 takes them from FPU registers) */
#define AK_PW2_MACS_FROM(op, acc, w01, w23)     \
  w01                                           \
  op " r6, r0, r2" acc("r6") "\n\t"             \
  op " r10, r1, r2" acc("r10") "\n\t"           \
  op " r7, r0, r3" acc("r7") "\n\t"             \
  op " r11, r1, r3" acc("r11") "\n\t"           \
  w23                                           \
  op " r8, r0, r2" acc("r8") "\n\t"             \
  op " r12, r1, r2" acc("r12") "\n\t"           \
  op " r9, r0, r3" acc("r9") "\n\t"             \
  op " lr, r1, r3" acc("lr") "\n\t"
#define AK_PW2_MACS(op, acc) AK_PW2_MACS_FROM(op, acc, "ldm r5!, {r2, r3}\n\t", "ldm r5!, {r2, r3}\n\t")
#define AK_PW2_NOACC(r) ""
#define AK_PW2_ACC(r) ", " r
  /* r1 (from the tail): where the accumulators go; skip the output addresses */
#define AK_PW2_STORE                \
  "stm r1, {r6-r12, lr}\n\t"        \
  "adds r4, #8\n\t"
  /* one channel: both pixels' accumulators a, b requantized in place (r5: past the stage, at its constants) */
  /* (cst: what brings the channel's constants into r0-r3; f4p2's from FPU registers when they fit) */
#define AK_PW2_RQ_X2(a) "add " a ", r0, " a ", lsl #1\n\t"  /* 2 (acc + bias) */
#define AK_PW2_RQ_ONE(a)               \
  "smmlar r0, " a ", r1, r2\n\t"       \
  "add " a ", r0, " a ", asr #31\n\t"  \
  "asr " a ", " a ", r3\n\t"           \
  "ssat " a ", #8, " a "\n\t"
#define AK_PW2_RQ_FROM(a, b, cst) cst AK_PW2_RQ_X2(a) AK_PW2_RQ_X2(b) AK_PW2_RQ_ONE(a) AK_PW2_RQ_ONE(b)
/* (RQ: AK_PW2_RQ_FROM, or f4p2's AK_PWF_RQ_DOUBLED for accumulators that already hold 2 (acc + bias)) */
#define AK_PW2_FUSED_RQ(RQ, c0, c1, c2, c3)                                                                  \
  RQ("r6", "r10", c0) RQ("r7", "r11", c1) RQ("r8", "r12", c2) RQ("r9", "lr", c3)                            \
  "bfi r6, r7, #8, #8\n\t"                                                                                  \
  "bfi r6, r8, #16, #8\n\t"                                                                                 \
  "bfi r6, r9, #24, #8\n\t"                                                                                 \
  "bfi r10, r11, #8, #8\n\t"                                                                                \
  "bfi r10, r12, #16, #8\n\t"                                                                               \
  "bfi r10, lr, #24, #8\n\t"
#define AK_PW2_FUSED_WITH(RQ, c0, c1, c2, c3)                                                                \
  AK_PW2_FUSED_RQ(RQ, c0, c1, c2, c3)                                                                        \
  "ldm r4, {r1, r2}\n\t"  /* the pixels' output addresses */                                                 \
  "str r6, [r1], #4\n\t"                                                                                    \
  "str r10, [r2], #4\n\t"                                                                                   \
  "stm r4!, {r1, r2}\n\t"
#define AK_PW2_FUSED_FROM(c0, c1, c2, c3) AK_PW2_FUSED_WITH(AK_PW2_RQ_FROM, c0, c1, c2, c3)
#define AK_PW2_FUSED AK_PW2_FUSED_FROM("ldm r5!, {r0, r1, r2, r3}\n\t", "ldm r5!, {r0, r1, r2, r3}\n\t", \
                                       "ldm r5!, {r0, r1, r2, r3}\n\t", "ldm r5!, {r0, r1, r2, r3}\n\t")
  /* Pairs 4 per loop iteration (one sentinel test per 4), after 2 or 4 peeled ones (the first with SMUAD, no
   * clearing): k/2 is even, so one of the two leaves a multiple of 4. */
#define AK_PW2_PAIR "ldm r4!, {r0, r1}\n\t" AK_PW2_MACS("smlad", AK_PW2_ACC)
#define AK_PW2_RUN(peeled, epilogue)                                                                         \
  __asm__ volatile(                                                                                         \
      "0:\n\t"                                                                                              \
      "ldm r4!, {r0, r1}\n\t" AK_PW2_MACS("smuad", AK_PW2_NOACC) peeled                                       \
      "ldm r4!, {r0, r1}\n\t"                                                                               \
      "cmp r0, #0x40000000\n\t"                                                                             \
      "beq 2f\n\t"                                                                                          \
      "1:\n\t" AK_PW2_MACS("smlad", AK_PW2_ACC) AK_PW2_PAIR AK_PW2_PAIR AK_PW2_PAIR                            \
      "ldm r4!, {r0, r1}\n\t"                                                                               \
      "cmp r0, #0x40000000\n\t"                                                                             \
      "bne 1b\n\t"                                                                                          \
      "2:\n\t" epilogue                                                                                     \
      "ldm r4!, {r3, r5}\n\t"  /* another pair follows, the stage's start */                                 \
      "cmp r3, #0\n\t"  /* 1 or 2: a pair or the odd last pixel's pair follows */                            \
      "bne 0b"                                                                                              \
      : "+r"(px), "+r"(pw)                                                                                  \
      :                                                                                                     \
      : "r0", "r1", "r2", "r3", "r6", "r7", "r8", "r9", "r10", "r11", "r12", "lr", "cc", "memory")
  if ((k >> 1) & 2) {
    if (fused)
      AK_PW2_RUN(AK_PW2_PAIR, AK_PW2_FUSED);
    else
      AK_PW2_RUN(AK_PW2_PAIR, AK_PW2_STORE);
  } else {
    if (fused)
      AK_PW2_RUN(AK_PW2_PAIR AK_PW2_PAIR AK_PW2_PAIR, AK_PW2_FUSED);
    else
      AK_PW2_RUN(AK_PW2_PAIR AK_PW2_PAIR AK_PW2_PAIR, AK_PW2_STORE);
  }
#undef AK_PW2_RUN
#undef AK_PW2_PAIR
#undef AK_PW2_MACS
  /* AK_PW2_MACS_FROM, AK_PW2_ACC, AK_PW2_NOACC, AK_PW2_STORE, AK_PW2_RQ_FROM and AK_PW2_FUSED(_FROM): f4p2's
   * too (below) */
#else
  (void)k, (void)fused;  /* the portable build never fuses */
  for (int more = 1; more; acc += 8) {
    int32_t a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    const int32_t *wp = wst;
    for (; xe[0] != AK_PW2_END; xe += 2, wp += 4) {
      for (int c = 0; c < 4; c++) a[c] = ak_smlad(xe[0], wp[c], a[c]), a[4 + c] = ak_smlad(xe[1], wp[c], a[4 + c]);
    }
    more = xe[4];
    xe += AK_PW2_TAIL;
    for (int i = 0; i < 8; i++) acc[i] = a[i];
  }
#endif
}

/* |sum x*w| <= 2^14 per tap, as d4 bounds it */
#define AK_PW2_RQ_PREPARE(qj) \
  ak_rq_prepare(qj, out_zp, ((qj).bias < 0 ? -(int64_t)(qj).bias : (qj).bias) + (int64_t)k * 16384)

/* The channel groups of one chunk of n pixels (xe: extended, its tails' outputs at `out`; d4p2's stage or f4p2's
 * constants in wst), each requantized in the sums' registers (fused) or from the accumulator buffer acc. */
AK_INLINE void ak_pw2_groups(const int32_t *xe, const int8_t *w, const int32_t *qp, int32_t k, int32_t out_c,
                             const ak_outq *oq, int fused, int32_t *wst, int32_t *acc, int32_t n, int8_t *out,
                             int fpu, const int32_t *cst_table);
static void ak_pwf_groups(const int32_t *xe, const int8_t *w, const int32_t *qp, int32_t k, int32_t out_c,
                          const ak_outq *oq, int fused, int32_t *wst, int32_t *acc, int32_t n, int8_t *out,
                          const int32_t *cst_table);
AK_INLINE void ak_pwf_sums(const int32_t *xe, const int32_t *w, const int32_t *cst, int32_t k, int fused,
                           int32_t *acc, int32_t n);

/* f4p2's one-block layers (doubled weights, sums from the doubled bias): the fused constants of a group of 4
 * channels (q: their qparam rows; c: the group's first channel) as AK_PWF_FUSED_FPU and _MEM read them: the 4
 * doubled biases, each channel's multiplier and rounding constant with the output offset (channel 0's followed by
 * the 4 right shifts as the bytes of one word: ASR by register takes the low byte), c. Out of the driver: in its
 * loop GCC spills, and the layers of several blocks got up to 0.5 % slower. */
static __attribute__((noinline)) void ak_pwf_one_block_cst(const int32_t *q, int32_t out_zp, int32_t c, int32_t *cst) {
  uint32_t shifts = 0;
  for (int j = 0; j < 4; j++, q += AK_QP_STRIDE) {
    int32_t *mr = cst + (j ? 5 + 2 * j : 4);
    shifts |= (uint32_t)q[3] << (8 * j);
    cst[j] = (int32_t)((uint32_t)q[0] << 1);
    mr[0] = q[1], mr[1] = (1 << (q[3] - 1)) + out_zp * (1 << q[3]);
  }
  cst[6] = (int32_t)shifts, cst[13] = c;
}

#define AK_PWF_CST_WORDS 13   /* ak_pwf_fused_cst's words per channel group */
#define AK_PWF_CST_GROUPS 64  /* channel groups of the driver's table of them (3.3 KiB of stack) */
/* f4p2's last block of several (AK_PWF_CST_FIRST / _NEXT), for `groups` channel groups from q: per channel 2 bias,
 * the multiplier and the rounding constant with the output offset (d4p2's first 3 words), channel 0's followed by the
 * 4 right shifts as the bytes of one word (13 words, where d4p2 reads 16) */
static __attribute__((noinline)) void ak_pwf_fused_cst(const int32_t *q, int32_t out_zp, int32_t *cst,
                                                       int32_t groups) {
  for (; groups > 0; groups--, cst += AK_PWF_CST_WORDS) {
    uint32_t shifts = 0;
    int32_t *c = cst;
    for (int j = 0; j < 4; j++, q += AK_QP_STRIDE) {
      const int32_t bias = q[0], m = q[1], e = q[3];
      shifts |= (uint32_t)e << (8 * j);
      c[0] = (int32_t)((uint32_t)bias << 1), c[1] = m, c[2] = (1 << (e - 1)) + out_zp * (1 << e);
      c += j ? 3 : 4;
    }
    cst[3] = (int32_t)shifts;
  }
}

/* d4p2's layer driver, f4p2's too (fpu: its sums, ak_pwf_sums below, which reads the packed weights itself; a
 * constant, so each variant gets its own copy of this code). */
AK_INLINE int32_t ak_pw2_conv(ARMLPROF_CONV_ARGS, int fpu) {
  if (in_c > AK_PW2_MAX_K || in_c <= 0 || in_c % 4) return -1;  /* kernels.py plans pw only within these */
  (void)in_h, (void)in_w, (void)k_h, (void)k_w, (void)s_h, (void)s_w, (void)d_h, (void)d_w, (void)pad_t, (void)pad_l;
  const int32_t k = in_c, pixels = out_h * out_w;
  const ak_outq oq = {out_zp, act_lo, act_hi};
  /* requantization in the inner kernel's registers when every channel takes ak_requant_run's SSAT path without a
   * left shift: AK_PW2_RQ_PREPARE's fast == 1 and s1 == 1, spelled out for left == 0 (its 64-bit bound test is
   * inline but not free: with ak_rq_prepare here and per chunk and channel group for the constants, person_detect's
   * 1x1 layers took 0.9 % more cycles on Spresense) */
  int fused = 0;
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
  fused = act_lo == -128 && act_hi == 127 && out_c % 4 == 0;
  for (int32_t c = 0; fused && c < out_c; c++) {
    const int32_t *qc = qp + c * AK_QP_STRIDE;
    const int64_t bias = qc[0];
    fused = qc[2] == 0 && qc[3] >= 1 && qc[3] <= 22 && (bias < 0 ? -bias : bias) + (int64_t)k * 16384 < (1LL << 30);
  }
#endif
  /* chunks as large as the buffers allow (fused: no accumulator buffer), all of the same size as far as it goes */
  int32_t chunk = AK_PW2_XWORDS / (k + AK_PW2_TAIL) * 2;
  chunk = (fused && !(fpu && k > 16)) || chunk < AK_PW2_CHUNK ? chunk : AK_PW2_CHUNK;  /* f4p2: see ak_pwf_sums */
  const int32_t chunks = (pixels + chunk - 1) / chunk;
  chunk = ((pixels + chunks - 1) / chunks + 1) & ~1;
  int32_t xe[AK_PW2_XWORDS], wst[2 * AK_PW2_MAX_K + 16], acc[4 * AK_PW2_CHUNK];
  /* f4p2's fused layers of several blocks: every group's last-block constants once per layer, not per chunk and
   * group (person_detect's conv_2d_6: 16 chunks), for up to AK_PWF_CST_GROUPS groups */
  int32_t cst_table[AK_PWF_CST_GROUPS * AK_PWF_CST_WORDS];
  const int32_t *table = NULL;
  if (fpu && fused && k > 16 && out_c <= 4 * AK_PWF_CST_GROUPS) {
    ak_pwf_fused_cst(qp, out_zp, cst_table, out_c >> 2);
    table = cst_table;
  }
  for (int32_t p0 = 0, n; p0 < pixels; p0 += n) {
    n = pixels - p0 < chunk ? pixels - p0 : chunk;
    if (fpu && k > 16)
      ak_pwf_extend_blocks(in + p0 * k, k, n, xe, acc, wst + 2 * k, out + p0 * out_c, out_c, fused);
    else
      ak_pw2_extend(in + p0 * k, k, k, n, xe, acc, fpu ? wst + 2 * k : wst, out + p0 * out_c, out_c, 1);
    if (fpu)
      ak_pwf_groups(xe, w, qp, k, out_c, &oq, fused, wst, acc, n, out + p0 * out_c, table);
    else
      ak_pw2_groups(xe, w, qp, k, out_c, &oq, fused, wst, acc, n, out + p0 * out_c, 0, NULL);
  }
  return 0;
}

AK_INLINE void ak_pw2_groups(const int32_t *xe, const int8_t *w, const int32_t *qp, int32_t k, int32_t out_c,
                             const ak_outq *oq, int fused, int32_t *wst, int32_t *acc, int32_t n, int8_t *out,
                             int fpu, const int32_t *cst_table) {
  const int32_t k4 = k >> 2, out_zp = oq->zp;
  const int one_block = fpu && fused && k <= 16;  /* f4p2's requantizing one-block layers: ak_pwf_one_block_cst */
  const int32_t *wg = (const int32_t *)(const void *)w, *q = qp;
  for (int32_t c = 0; c < out_c; c += 4, wg += 4 * k4, q += 4 * AK_QP_STRIDE) {
    if (!fpu) ak_pw2_stage(wg, k4, wst);
    const int32_t nc = out_c - c < 4 ? out_c - c : 4;
    ak_rq rq[4];
    const int fpu_cst = fpu && fused;  /* f4p2's constants (out of line, as GCC spills in this loop) */
    if (one_block)
      ak_pwf_one_block_cst(q, out_zp, c, wst + 2 * k);
    else if (fpu_cst && !cst_table)
      ak_pwf_fused_cst(q, out_zp, wst + 2 * k, 1);
    for (int j = 0; j < nc && !fpu_cst; j++) {
      const int32_t *qj = q + j * AK_QP_STRIDE;
      if (!fused) {
        rq[j] = AK_PW2_RQ_PREPARE(ak_qp_load(qj));
        continue;
      }
      /* the fused path's (2 bias, multiplier, rounding constant with the output offset, right shift): ak_rq's
       * for fast == 1 */
      int32_t *cst = wst + 2 * k + 4 * j;
      cst[0] = (int32_t)((uint32_t)qj[0] << 1), cst[1] = qj[1], cst[2] = (1 << (qj[3] - 1)) + out_zp * (1 << qj[3]);
      cst[3] = qj[3];
    }
    if (fpu)
      ak_pwf_sums(xe, wg, cst_table && !one_block ? cst_table + (c >> 2) * AK_PWF_CST_WORDS : wst + 2 * k, k,
                  fused, acc, n);
    else
      ak_pw2_sums(xe, wst, k, fused, acc);
    if (!fused) {
      for (int j = 0; j < nc; j++) ak_requant_run(acc + j, out + c + j, n, out_c, &rq[j], oq);
    }
  }
}

int32_t armlprof_conv_s8_d4p2(ARMLPROF_CONV_ARGS) {
  return ak_pw2_conv(in, w, qp, out, in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w, s_h, s_w, d_h, d_w, pad_t,
                     pad_l, in_zp, out_zp, act_lo, act_hi, 0);
}

/* -------------------------------------------------------- 1x1 / fully connected: weights in FPU registers (pw f4p2) */
/* d4p2 (the same driver, extended inputs, tails and fused requantization) with the weights of each group of 4
 * output channels held in the FPU's s0-s31 instead of a stack stage: per block of up to 8 k pairs (4 channels x 8
 * pair words = 32 words) the block's packed words are sign-extended straight into them once per chunk of pixels
 * (LDM 4, 8 SXTB16, 4 VMOV sN, sN+1 per 4 input channels: no stage written and read back), then per k pair
 * VMOV r2, r3, sN, sN+1 brings two weight words in 2 cycles without the data wait states of an LDM (Spresense: +2
 * per word read): LDM x, 2 VMOV, 8 SMLAD where d4p2 has LDM x, 2 LDM w, 8 SMLAD. Blocks outer, pixel pairs inner:
 * a layer of more than 16 input channels keeps each pair's 8 partial sums in the accumulator buffer between
 * blocks (LDM/STM of 8 words per pair and block; so chunks of at most AK_PW2_CHUNK pixels). The first block has
 * r = 2, 4, 6 or 8 k pairs (k/2 is even) and starts from SMUAD; the others have 8, and the last one requantizes
 * in registers (d4p2's AK_PW2_FUSED sequence on ak_pwf_fused_cst's packed constants; the pair's accumulators',
 * constants' and output addresses from its tail) or stores
 * the sums for ak_requant_run. A layer of at most 16 input channels is one block, d4p2's loop with the weights
 * in registers; requantized there, its weights are doubled at staging and each pair's sums start from the 4
 * doubled biases (2 (acc + bias), SMMULR's operand, with no SMUAD and no adds after the sums), and with at most 8
 * input channels the constants fit in s16-s29 too (ak_pw2_conv's shallow layers: there the requantization,
 * per 8 MACs of an output, weighs most). s16-s31 are callee-saved: listed as clobbered, GCC saves them once per
 * chunk (ak_pwf_groups). With several blocks an odd last pixel of a chunk (person_detect's 3x3-pixel layers) is
 * computed alone, not paired with its duplicate: per k pair LDR x, 2 VMOV, 4 SMLAD into 4 accumulators, and one
 * pixel's fused requantization (one block: still paired with itself, as in a chunk of one pixel). */
AK_INLINE int32_t ak_pwf_first_steps(int32_t k) { return (((k >> 1) - 1) & 7) + 1; }

/* The sums of the chunk's pixel pairs (xe: n pixels, from ak_pw2_extend with cst as its stage address) for one
 * channel group: w its packed words [k/4][4 channels], cst its constants (fused: as d4p2's, after its stage). */
AK_INLINE void ak_pwf_sums(const int32_t *xe, const int32_t *w, const int32_t *cst, int32_t k, int fused,
                           int32_t *acc, int32_t n) {
  const int32_t r = ak_pwf_first_steps(k), blocks = ((k >> 1) - r) / 8 + 1;
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
  /* d4p2's registers (r0, r1 the pair's inputs, r2, r3 two channels' weights, r4 the input pointer, r6-r9 and
   * r10-r12, lr the accumulators), r5 the accumulators' (or the constants') address, r2 first the block's packed
   * words. Several blocks: each block's slots in a row (ak_pwf_extend_blocks), so a pair's block follows the
   * previous pair's. */
  register const int32_t *px __asm__("r4") = xe;
  register int32_t *pa __asm__("r5") = acc;
  register const int32_t *pw __asm__("r2") = w;
  register int32_t r3 __asm__("r3");
  /* 4 input channels of the 4 channels (one packed word each) -> the SMLAD pair words of 2 k pairs */
#define AK_PWF_ROW_D(d, q0, q1, q2, q3)                                                         \
  "ldm r2!, {r0, r1, r3, r6}\n\t"                                                               \
  "sxtb16 r7, r0\n\tsxtb16 r8, r1\n\t" d "vmov " q0 ", r7, r8\n\t"                                \
  "sxtb16 r7, r3\n\tsxtb16 r8, r6\n\t" d "vmov " q1 ", r7, r8\n\t"                                \
  "sxtb16 r7, r0, ror #8\n\tsxtb16 r8, r1, ror #8\n\t" d "vmov " q2 ", r7, r8\n\t"                \
  "sxtb16 r7, r3, ror #8\n\tsxtb16 r8, r6, ror #8\n\t" d "vmov " q3 ", r7, r8\n\t"
/* (d: AK_PWF_DBL doubles the weights, for sums that start from the doubled bias: 2 (acc + bias), SMMULR's operand) */
#define AK_PWF_DBL "sadd16 r7, r7, r7\n\tsadd16 r8, r8, r8\n\t"
#define AK_PWF_WX1(d) AK_PWF_ROW_D(d, "s0, s1", "s2, s3", "s4, s5", "s6, s7")
#define AK_PWF_WX2(d) AK_PWF_WX1(d) AK_PWF_ROW_D(d, "s8, s9", "s10, s11", "s12, s13", "s14, s15")
#define AK_PWF_WX3(d) AK_PWF_WX2(d) AK_PWF_ROW_D(d, "s16, s17", "s18, s19", "s20, s21", "s22, s23")
#define AK_PWF_WX4(d) AK_PWF_WX3(d) AK_PWF_ROW_D(d, "s24, s25", "s26, s27", "s28, s29", "s30, s31")
#define AK_PWF_W1 AK_PWF_WX1("")
#define AK_PWF_W2 AK_PWF_WX2("")
#define AK_PWF_W3 AK_PWF_WX3("")
#define AK_PWF_W4 AK_PWF_WX4("")
#define AK_PWF_STEP(op, acc, q01, q23) \
  "ldm r4!, {r0, r1}\n\t" AK_PW2_MACS_FROM(op, acc, "vmov r2, r3, " q01 "\n\t", "vmov r2, r3, " q23 "\n\t")
/* the odd last pixel alone (blocks of several): its word of each k pair (its duplicate's skipped), 4 SMLAD into
 * r6-r9; about half a pair step */
#define AK_PWF_STEP1(op, acc, q01, q23)                                                          \
  "ldr r0, [r4], #8\n\tvmov r2, r3, " q01 "\n\t" op " r6, r0, r2" acc("r6") "\n\t" op " r7, r0, r3" acc("r7") \
  "\n\tvmov r2, r3, " q23 "\n\t" op " r8, r0, r2" acc("r8") "\n\t" op " r9, r0, r3" acc("r9") "\n\t"
/* r steps of a block with step S (AK_PWF_STEP: a pair, AK_PWF_STEP1: the lone pixel), the first from `op`: the
 * first, then AK_PWF_MOREr's r - 1 */
#define AK_PWF_MORE2(S) S("smlad", AK_PW2_ACC, "s4, s5", "s6, s7")
#define AK_PWF_MORE4(S) AK_PWF_MORE2(S) S("smlad", AK_PW2_ACC, "s8, s9", "s10, s11") \
  S("smlad", AK_PW2_ACC, "s12, s13", "s14, s15")
#define AK_PWF_MORE6(S) AK_PWF_MORE4(S) S("smlad", AK_PW2_ACC, "s16, s17", "s18, s19") \
  S("smlad", AK_PW2_ACC, "s20, s21", "s22, s23")
#define AK_PWF_MORE8(S) AK_PWF_MORE6(S) S("smlad", AK_PW2_ACC, "s24, s25", "s26, s27") \
  S("smlad", AK_PW2_ACC, "s28, s29", "s30, s31")
#define AK_PWF_STEPS2(S, op, acc) S(op, acc, "s0, s1", "s2, s3") AK_PWF_MORE2(S)
#define AK_PWF_STEPS4(S, op, acc) S(op, acc, "s0, s1", "s2, s3") AK_PWF_MORE4(S)
#define AK_PWF_STEPS6(S, op, acc) S(op, acc, "s0, s1", "s2, s3") AK_PWF_MORE6(S)
#define AK_PWF_STEPS8(S, op, acc) S(op, acc, "s0, s1", "s2, s3") AK_PWF_MORE8(S)
/* One block of r steps that requantizes (doubled weights): the pair's 8 sums start from the 4 channels' doubled
 * biases, which `bias` brings into r6-r9 (each pixel 1 accumulator from its pixel 0 one before that one is
 * written): no SMUAD and no 8 adds of 2 bias after the sums (per pair: 2 VMOV or one LDM of 4 instead). */
#define AK_PWF_STEPS_BIAS(bias, r)                                                  \
  bias "ldm r4!, {r0, r1}\n\tvmov r2, r3, s0, s1\n\t"                              \
  "smlad r10, r1, r2, r6\n\tsmlad r6, r0, r2, r6\n\t"                               \
  "smlad r11, r1, r3, r7\n\tsmlad r7, r0, r3, r7\n\tvmov r2, r3, s2, s3\n\t"         \
  "smlad r12, r1, r2, r8\n\tsmlad r8, r0, r2, r8\n\t"                               \
  "smlad lr, r1, r3, r9\n\tsmlad r9, r0, r3, r9\n\t" AK_PWF_MORE##r(AK_PWF_STEP)
/* its requantization: the channel's multiplier and rounding constant (`cst`: into r1, r2; r3 the right shifts, one
 * per byte, the next one moved down before channels 1-3) applied to both pixels' sums a, b. Constants (the
 * driver's, for one-block layers): shifts, 4 doubled biases, (multiplier, rounding constant) per channel, the
 * group's first channel; in s16-s29 with at most 8 input channels, else read at r5 */
#define AK_PWF_RQ_DOUBLED(a, b, cst) cst AK_PW2_RQ_ONE(a) AK_PW2_RQ_ONE(b)
#define AK_PWF_NEXT_SHIFT "lsrs r3, r3, #8\n\t"
#define AK_PWF_CST2(q01) "vmov r1, r2, " q01 "\n\t"
#define AK_PWF_BIAS_FPU "vmov r6, r7, s16, s17\n\tvmov r8, r9, s18, s19\n\t"
/* both pixels' output words stored at the group's first channel (register c: its bytes' offset from the tail's
 * output addresses, which stay those of channel 0: no store back per pair); r3: another pair follows */
#define AK_PWF_STORE_AT(c)                                                   \
  "ldm r4!, {r1, r2, r3}\n\t"                                                \
  "str r6, [r1, " c "]\n\t"                                                  \
  "str r10, [r2, " c "]\n\t"                                                 \
  "adds r4, #4\n\t"
/* (r5: the group's first channel, from AK_PWF_VLDM_CST) */
#define AK_PWF_FUSED_FPU                                                                                   \
  AK_PW2_FUSED_RQ(AK_PWF_RQ_DOUBLED, "vmov r3, s22\n\t" AK_PWF_CST2("s20, s21"),                            \
                  AK_PWF_NEXT_SHIFT AK_PWF_CST2("s23, s24"), AK_PWF_NEXT_SHIFT AK_PWF_CST2("s25, s26"),      \
                  AK_PWF_NEXT_SHIFT AK_PWF_CST2("s27, s28"))                                               \
  AK_PWF_STORE_AT("r5")
#define AK_PWF_BIAS_MEM "ldm r5!, {r6, r7, r8, r9}\n\t"
#define AK_PWF_CST2_MEM AK_PWF_NEXT_SHIFT "ldm r5!, {r1, r2}\n\t"
/* (then r5 at the group's first channel, after the constants: read into r0 and r5 back to their start) */
#define AK_PWF_FUSED_MEM                                                                                    \
  AK_PW2_FUSED_RQ(AK_PWF_RQ_DOUBLED, "ldm r5!, {r1, r2, r3}\n\t", AK_PWF_CST2_MEM, AK_PWF_CST2_MEM,        \
                  AK_PWF_CST2_MEM)                                                                         \
  "ldr r0, [r5], #-52\n\t" AK_PWF_STORE_AT("r0")
#define AK_PWF_CLOBBERS                                                                                        \
  "r0", "r1", "r6", "r7", "r8", "r9", "r10", "r11", "r12", "lr", "cc", "memory", "s0", "s1", "s2", "s3", "s4",  \
      "s5", "s6", "s7", "s8", "s9", "s10", "s11", "s12", "s13", "s14", "s15", "s16", "s17", "s18", "s19", "s20", \
      "s21", "s22", "s23", "s24", "s25", "s26", "s27", "s28", "s29", "s30", "s31"
  /* One block: every pair of the chunk, the state from its tail as in d4p2's loop (r3 in: the constants, which
   * `cst_fpu` loads into s16-s31); `head`: to the tail's output addresses (and r1: where the accumulators go),
   * `next`: r3 another pair follows (and r5: the constants). */
#define AK_PWF_ONE(weights, cst_fpu, steps, head, epilogue, next)          \
  __asm__ volatile("mov r5, r3\n\t" cst_fpu weights                      \
                   "0:\n\t" steps head epilogue next                      \
                   "cmp r3, #0\n\t"                                       \
                   "bne 0b"                                               \
                   : "+r"(px), "+r"(pw), "+r"(r3), "+r"(pa)               \
                   :                                                      \
                   : AK_PWF_CLOBBERS)
#define AK_PWF_TAIL_ACC "ldm r4!, {r0, r1}\n\t" /* the sentinel, where the accumulators go */
#define AK_PWF_TAIL_OUT "adds r4, #8\n\t"
#define AK_PWF_NEXT_CST "ldm r4!, {r3, r5}\n\t"
#define AK_PWF_NEXT_ONLY "ldr r3, [r4], #8\n\t"
  /* The first or a middle block of several: partial sums to the buffer, whole pair after pair up to `end`, 2 pairs
   * per loop iteration (one end test per 2; an odd number of pairs enters at the second), then an odd last pixel
   * alone (AK_PWF_LONE_RUN: its 4 sums right after the pairs', where the loop leaves r4 and r5), out of line
   * (.subsection 1). The loop runs while r5 < `end_cmp`, which is `end` - 1 when a lone pixel follows: the exit
   * compare's flags tell it (one untaken branch more for the even path). */
#define AK_PWF_LONE_RUN(sums1, steps1) \
  ".subsection 1\n\t"                  \
  "5:\n\t" sums1 steps1                \
  "stm r5, {r6-r9}\n\t"                \
  "b 4f\n\t"                           \
  ".subsection 0\n\t"
#define AK_PWF_RUN(weights, sums, steps, lone)                 \
  __asm__ volatile(weights                                     \
                   "ldr r3, %[odd]\n\t"                        \
                   "cmp r3, #0\n\t"                            \
                   "bne 2f\n\t"                                \
                   "1:\n\t" sums steps                         \
                   "stm r5!, {r6-r12, lr}\n\t"                 \
                   "2:\n\t" sums steps                         \
                   "stm r5!, {r6-r12, lr}\n\t"                 \
                   "ldr r3, %[end]\n\t"                        \
                   "cmp r5, r3\n\t"                            \
                   "blo 1b\n\t"                                \
                   "bhi 5f\n\t" lone                           \
                   "4:"                                        \
                   : "+r"(px), "+r"(pa), "+r"(pw), "=&r"(r3)   \
                   : [end] "m"(end_cmp), [odd] "m"(odd)         \
                   : AK_PWF_CLOBBERS)
#define AK_PWF_SUMS "ldm r5, {r6-r12, lr}\n\t"
#define AK_PWF_SUMS1 "ldm r5, {r6-r9}\n\t"
/* one channel, one pixel (c: its constants, AK_PWF_CST_FIRST or _NEXT) */
#define AK_PWF_RQ1(a, c) c AK_PW2_RQ_X2(a) AK_PW2_RQ_ONE(a)
/* the last block's constants (ak_pwf_fused_cst): channel 0's (2 bias, multiplier, rounding constant) and the 4
 * right shifts as the bytes of one word, then the other channels' 3 words each, the next shift moved down first
 * (ASR by register takes the low byte) */
#define AK_PWF_CST_FIRST "ldm r5!, {r0, r1, r2, r3}\n\t"
#define AK_PWF_CST_NEXT AK_PWF_NEXT_SHIFT "ldm r5!, {r0, r1, r2}\n\t"
#define AK_PWF_VLDM_CST "vldmia r5, {s16-s29}\n\tvmov r5, s29\n\t"
  if (blocks == 1) {
    r3 = (int32_t)(uintptr_t)cst;
    switch (2 * r + !fused) {
#define AK_PWF_ONE_FPU(w, r) \
  AK_PWF_ONE(w, AK_PWF_VLDM_CST, AK_PWF_STEPS_BIAS(AK_PWF_BIAS_FPU, r), AK_PWF_TAIL_OUT, AK_PWF_FUSED_FPU, "")
#define AK_PWF_ONE_FUSED(w, r) \
  AK_PWF_ONE(w, "", AK_PWF_STEPS_BIAS(AK_PWF_BIAS_MEM, r), AK_PWF_TAIL_OUT, AK_PWF_FUSED_MEM, "")
#define AK_PWF_ONE_STORE(w, steps) AK_PWF_ONE(w, "", steps, AK_PWF_TAIL_ACC, AK_PW2_STORE, AK_PWF_NEXT_CST)
      case 4: AK_PWF_ONE_FPU(AK_PWF_WX1(AK_PWF_DBL), 2); break;
      case 5: AK_PWF_ONE_STORE(AK_PWF_W1, AK_PWF_STEPS2(AK_PWF_STEP, "smuad", AK_PW2_NOACC)); break;
      case 8: AK_PWF_ONE_FPU(AK_PWF_WX2(AK_PWF_DBL), 4); break;
      case 9: AK_PWF_ONE_STORE(AK_PWF_W2, AK_PWF_STEPS4(AK_PWF_STEP, "smuad", AK_PW2_NOACC)); break;
      case 12: AK_PWF_ONE_FUSED(AK_PWF_WX3(AK_PWF_DBL), 6); break;
      case 13: AK_PWF_ONE_STORE(AK_PWF_W3, AK_PWF_STEPS6(AK_PWF_STEP, "smuad", AK_PW2_NOACC)); break;
      case 16: AK_PWF_ONE_FUSED(AK_PWF_WX4(AK_PWF_DBL), 8); break;
      default: AK_PWF_ONE_STORE(AK_PWF_W4, AK_PWF_STEPS8(AK_PWF_STEP, "smuad", AK_PW2_NOACC)); break;
#undef AK_PWF_ONE_STORE
#undef AK_PWF_ONE_FUSED
#undef AK_PWF_ONE_FPU
    }
    return;
  }
  /* whole pairs and the odd last pixel (a chunk of one pixel: paired with itself, as its tail says) */
  const int32_t lone = n > 1 && (n & 1), whole = n > 1 ? n >> 1 : 1, odd = whole & 1;
  const uintptr_t end_cmp = (uintptr_t)(acc + 8 * whole) - (uintptr_t)lone;
  const int32_t slots = (n + 1) >> 1;
#define AK_PWF_FIRST(w, steps) \
  AK_PWF_RUN(w, "", steps(AK_PWF_STEP, "smuad", AK_PW2_NOACC), \
             AK_PWF_LONE_RUN("", steps(AK_PWF_STEP1, "smuad", AK_PW2_NOACC)))
  switch (r) {
    case 2: AK_PWF_FIRST(AK_PWF_W1, AK_PWF_STEPS2); break;
    case 4: AK_PWF_FIRST(AK_PWF_W2, AK_PWF_STEPS4); break;
    case 6: AK_PWF_FIRST(AK_PWF_W3, AK_PWF_STEPS6); break;
    default: AK_PWF_FIRST(AK_PWF_W4, AK_PWF_STEPS8); break;
  }
#undef AK_PWF_FIRST
  for (int32_t b = 1; b < blocks; b++) {
    const int32_t off = 2 * r + 16 * (b - 1);  /* the block's first word of w; its region: slots * off on */
    px = xe + slots * off, pw = w + off, pa = acc;
    if (b < blocks - 1 || !fused) {
      AK_PWF_RUN(AK_PWF_W4, AK_PWF_SUMS, AK_PWF_STEPS8(AK_PWF_STEP, "smlad", AK_PW2_ACC),
                 AK_PWF_LONE_RUN(AK_PWF_SUMS1, AK_PWF_STEPS8(AK_PWF_STEP1, "smlad", AK_PW2_ACC)));
      continue;
    }
    /* the last block, requantized: the pair's accumulators (its tail's second word, 16 words on), constants
     * (the tail's last word) and output addresses from its tail, as d4p2's, the next pair's block right after the
     * tail; the whole pairs while their tails say another one follows (1), then (2) an odd last pixel
     * alone, out of line as in AK_PWF_RUN: its 4 channels requantized, its output word stored at its tail's
     * output address (which moves on by 4) */
    __asm__ volatile(AK_PWF_W4
                     "1:\n\t"
                     "ldr r5, [r4, #68]\n\t"
                     AK_PWF_SUMS AK_PWF_STEPS8(AK_PWF_STEP, "smlad", AK_PW2_ACC)
                     "ldr r5, %[cst]\n\t"
                     AK_PWF_TAIL_OUT
                     AK_PW2_FUSED_FROM(AK_PWF_CST_FIRST, AK_PWF_CST_NEXT, AK_PWF_CST_NEXT, AK_PWF_CST_NEXT)
                     AK_PWF_NEXT_ONLY
                     "cmp r3, #1\n\t"
                     "beq 1b\n\t"
                     "bhi 5f\n\t"
                     ".subsection 1\n\t"
                     "5:\n\t"
                     "ldr r5, [r4, #68]\n\t"
                     AK_PWF_SUMS1 AK_PWF_STEPS8(AK_PWF_STEP1, "smlad", AK_PW2_ACC)
                     "ldr r5, %[cst]\n\t"
                     AK_PWF_RQ1("r6", AK_PWF_CST_FIRST) AK_PWF_RQ1("r7", AK_PWF_CST_NEXT)
                     AK_PWF_RQ1("r8", AK_PWF_CST_NEXT) AK_PWF_RQ1("r9", AK_PWF_CST_NEXT)
                     "bfi r6, r7, #8, #8\n\t"
                     "bfi r6, r8, #16, #8\n\t"
                     "bfi r6, r9, #24, #8\n\t"
                     "ldr r1, [r4, #8]\n\t"
                     "str r6, [r1], #4\n\t"
                     "str r1, [r4, #8]\n\t"
                     "b 4f\n\t"
                     ".subsection 0\n\t"
                     "4:"
                     : "+r"(px), "+r"(pa), "+r"(pw), "=&r"(r3)
                     : [cst] "m"(cst)
                     : AK_PWF_CLOBBERS);
  }
#undef AK_PWF_NEXT_ONLY
#undef AK_PWF_NEXT_CST
#undef AK_PWF_TAIL_OUT
#undef AK_PWF_TAIL_ACC
#undef AK_PWF_VLDM_CST
#undef AK_PWF_SUMS
#undef AK_PWF_SUMS1
#undef AK_PWF_RQ1
#undef AK_PWF_CST_NEXT
#undef AK_PWF_CST_FIRST
#undef AK_PWF_RUN
#undef AK_PWF_LONE_RUN
#undef AK_PWF_ONE
#undef AK_PWF_CLOBBERS
#undef AK_PWF_FUSED_MEM
#undef AK_PWF_CST2_MEM
#undef AK_PWF_BIAS_MEM
#undef AK_PWF_FUSED_FPU
#undef AK_PWF_STORE_AT
#undef AK_PWF_BIAS_FPU
#undef AK_PWF_CST2
#undef AK_PWF_NEXT_SHIFT
#undef AK_PWF_RQ_DOUBLED
#undef AK_PWF_STEPS_BIAS
#undef AK_PWF_STEPS8
#undef AK_PWF_STEPS6
#undef AK_PWF_STEPS4
#undef AK_PWF_STEPS2
#undef AK_PWF_MORE8
#undef AK_PWF_MORE6
#undef AK_PWF_MORE4
#undef AK_PWF_MORE2
#undef AK_PWF_STEP1
#undef AK_PWF_STEP
#undef AK_PWF_W4
#undef AK_PWF_W3
#undef AK_PWF_W2
#undef AK_PWF_W1
#undef AK_PWF_WX4
#undef AK_PWF_WX3
#undef AK_PWF_WX2
#undef AK_PWF_WX1
#undef AK_PWF_DBL
#undef AK_PWF_ROW_D
#else
  /* The same blocks in the same order (pair p's sums at acc + 8p, the address its tail names), in C; the block's
   * weights extended as ak_pw2_stage does. */
  (void)cst;
  const int32_t pairs = (n + 1) >> 1, last_tail = blocks == 1 || fused ? AK_PW2_TAIL : 0;
  int32_t wb[32];
  for (int32_t b = 0; b < blocks; b++) {
    const int32_t steps = b ? 8 : r, off = b ? 2 * r + 16 * (b - 1) : 0;
    ak_pw2_stage(w + off, steps / 2, wb);
    for (int32_t p = 0; p < pairs; p++) {
      /* block b's region (ak_pwf_extend_blocks), its slots of 2 steps words, the last block's with any tail */
      const int32_t *x = xe + pairs * off + p * (2 * steps + (b == blocks - 1 ? last_tail : 0));
      int32_t *a = acc + 8 * p, s[8];
      for (int i = 0; i < 8; i++) s[i] = b ? a[i] : 0;
      for (int32_t j = 0; j < steps; j++) {
        for (int c = 0; c < 4; c++) {
          s[c] = ak_smlad(x[2 * j], wb[4 * j + c], s[c]), s[4 + c] = ak_smlad(x[2 * j + 1], wb[4 * j + c], s[4 + c]);
        }
      }
      for (int i = 0; i < 8; i++) a[i] = s[i];
    }
  }
#endif
}
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#undef AK_PW2_FUSED
#undef AK_PW2_FUSED_FROM
#undef AK_PW2_FUSED_WITH
#undef AK_PW2_FUSED_RQ
#undef AK_PW2_RQ_FROM
#undef AK_PW2_RQ_ONE
#undef AK_PW2_RQ_X2
#undef AK_PW2_STORE
#undef AK_PW2_ACC
#undef AK_PW2_NOACC
#undef AK_PW2_MACS_FROM
#endif
#undef AK_PW2_RQ_PREPARE

/* f4p2's channel groups out of line, with its sums inline: s16-s31 saved once per chunk, not per group */
static __attribute__((noinline)) void ak_pwf_groups(const int32_t *xe, const int8_t *w, const int32_t *qp, int32_t k,
                                                    int32_t out_c, const ak_outq *oq, int fused, int32_t *wst,
                                                    int32_t *acc, int32_t n, int8_t *out, const int32_t *cst_table) {
  ak_pw2_groups(xe, w, qp, k, out_c, oq, fused, wst, acc, n, out, 1, cst_table);
}

int32_t armlprof_conv_s8_f4p2(ARMLPROF_CONV_ARGS) {
  return ak_pw2_conv(in, w, qp, out, in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w, s_h, s_w, d_h, d_w, pad_t,
                     pad_l, in_zp, out_zp, act_lo, act_hi, 1);
}

/* The direct kernel for 1x1 convolutions at stride 1 without padding (and fully connected layers): each pixel's
 * input channels are its GEMM row, read in place (one kernel "row" of in_c bytes, in_c % 4 == 0). */
int32_t armlprof_conv_s8_d4(ARMLPROF_CONV_ARGS) {
  const ak_geom gp = {in_h, in_w * in_c, 1, out_h, out_w, out_c, 1, in_c, 1, in_c, 1, 1, 0, 0,
                      in_zp, out_zp, act_lo, act_hi};
  (void)k_h, (void)k_w, (void)s_h, (void)s_w, (void)d_h, (void)d_w, (void)pad_t, (void)pad_l;
  ak_conv1_direct(&gp, in, (const int32_t *)(const void *)w, qp, out);
  return 0;
}

int32_t armlprof_conv1_s8_d4(ARMLPROF_CONV_ARGS) {
  AK_GEOM;
  return ak_conv1(&g, in, w, qp, out, 4, 1, ak_px_t4p1u1, ak_px_t4p2u1, 1);
}

/* ---------------------------------------------------------------- one-input-channel convolution, sliding pairs (s4) */
/* Stride 2 along the row: the input is widened once into an int16 stack buffer of (column 2i, column 2i + 1)
 * pairs, so every output pixel's kernel row starts on a word and pixel ox + 1's tap-pair words are pixel ox's
 * shifted by one word. Two neighbouring pixels x 4 output channels per pass: per tap-pair step one input word is
 * loaded (the other one is the previous step's) and the 4 channels' weight pairs (the group's taps as int16 pairs,
 * staged on the stack once per group and, on the M4, held in FPU registers per block of kernel rows: see
 * ak_c1s_block), each feeding 2 SMLADs into 8 accumulators kept in registers. Kernel rows are widened to kw4
 * taps as for d4 (same packed weights: kernels.pack_c1_weights, tile 4; the extra taps are 0), so a geometry this
 * kernel does not cover (stride along the row other than 2, a stage or buffer too large) runs d4. The buffer has
 * out_w + kw4 / 2 words per row: a row of odd width ends in a phantom pixel whose sums are dropped. Requantization
 * per accumulator chunk, two channels at a time where both take the SSAT path (ak_c1s_requant2). */
#define AK_C1S_BUF_BYTES 20480
#define AK_C1S_CHUNK 160 /* pixels whose sums wait for requantization (whole output rows where they fit) */

/* Stage words per kernel row: kwp = kw4 / 2 steps of 4 channels' pair words. */
AK_INLINE int32_t ak_c1s_row_words(int32_t kwp) { return 4 * kwp; }

/* Portable: one pixel pair (x: pixel 0's first pair word) into acc[0..7] = pixel 0 channels 0-3, pixel 1's. */
AK_INLINE void ak_c1s_pair(const int32_t *x, const int32_t *wst, int32_t k_h, int32_t kwp, int32_t wq,
                           int32_t *acc) {
  int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0;
  for (int32_t ky = 0; ky < k_h; ky++, x += wq, wst += ak_c1s_row_words(kwp)) {
    for (int32_t j = 0; j < kwp; j++) {
      const int32_t xl = x[j], xr = x[j + 1], *w = wst + 4 * j;
      a0 = ak_smlad(xl, w[0], a0), b0 = ak_smlad(xr, w[0], b0);
      a1 = ak_smlad(xl, w[1], a1), b1 = ak_smlad(xr, w[1], b1);
      a2 = ak_smlad(xl, w[2], a2), b2 = ak_smlad(xr, w[2], b2);
      a3 = ak_smlad(xl, w[3], a3), b3 = ak_smlad(xr, w[3], b3);
    }
  }
  acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3, acc[4] = b0, acc[5] = b1, acc[6] = b2, acc[7] = b3;
}

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
/* A block of up to 32 weight words (2 kernel rows of 4 pair words x 4 channels, or up to 4 rows of 2) is loaded
 * into the FPU's s0-s31 once per run (VLDM), where VMOV brings two words back in 2 cycles, no wait states. Then per
 * pixel pair of the run, all in one block of assembly with every register fixed (r0 x, r1 the buffer row stride,
 * r2/r3 input words, r4/r5 weights, r6-r9 pixel 0's channels, r10-r12/lr pixel 1's, so STM/LDM move them in acc
 * order; the acc pointer and its end on the stack): the block's rows, per step the next input word (16-bit LDR),
 * two VMOVs and 8 SMLADs; the first block starts from SMUAD (no zeroing), later ones from the stored sums. */
#define AK_C1S_MLA(a, x, w) "smlad " a ", " x ", " w ", " a "\n\t"
#define AK_C1S_MUL(a, x, w) "smuad " a ", " x ", " w "\n\t"
#define AK_C1S_STEP(M, xl, xr, xo, q0, q1)          \
  "ldr " xr ", [r0, #" xo "]\n\t"                  \
  "vmov r4, r5, " q0 "\n\t"                        \
  M("r6", xl, "r4") M("r10", xr, "r4")             \
  M("r7", xl, "r5") M("r11", xr, "r5")             \
  "vmov r4, r5, " q1 "\n\t"                        \
  M("r8", xl, "r4") M("r12", xr, "r4")             \
  M("r9", xl, "r5") M("lr", xr, "r5")
#define AK_C1S_ROW4(M0, q0, q1, q2, q3, q4, q5, q6, q7)                                                    \
  "ldr r2, [r0]\n\t" AK_C1S_STEP(M0, "r2", "r3", "4", q0, q1) AK_C1S_STEP(AK_C1S_MLA, "r3", "r2", "8", q2, q3) \
      AK_C1S_STEP(AK_C1S_MLA, "r2", "r3", "12", q4, q5) AK_C1S_STEP(AK_C1S_MLA, "r3", "r2", "16", q6, q7)
#define AK_C1S_ROW2(M0, q0, q1, q2, q3) \
  "ldr r2, [r0]\n\t" AK_C1S_STEP(M0, "r2", "r3", "4", q0, q1) AK_C1S_STEP(AK_C1S_MLA, "r3", "r2", "8", q2, q3)
#define AK_C1S_R4A(M0) \
  AK_C1S_ROW4(M0, "s0, s1", "s2, s3", "s4, s5", "s6, s7", "s8, s9", "s10, s11", "s12, s13", "s14, s15")
#define AK_C1S_R4B \
  AK_C1S_ROW4(AK_C1S_MLA, "s16, s17", "s18, s19", "s20, s21", "s22, s23", "s24, s25", "s26, s27", "s28, s29", "s30, s31")
#define AK_C1S_R2A(M0) AK_C1S_ROW2(M0, "s0, s1", "s2, s3", "s4, s5", "s6, s7")
#define AK_C1S_R2B AK_C1S_ROW2(AK_C1S_MLA, "s8, s9", "s10, s11", "s12, s13", "s14, s15")
#define AK_C1S_R2C AK_C1S_ROW2(AK_C1S_MLA, "s16, s17", "s18, s19", "s20, s21", "s22, s23")
#define AK_C1S_R2D AK_C1S_ROW2(AK_C1S_MLA, "s24, s25", "s26, s27", "s28, s29", "s30, s31")
#define AK_C1S_NEXT "add r0, r1\n\t"
#define AK_C1S_BACK "subs r0, r0, r1\n\t"
#define AK_C1S_SUMS "ldr r4, %[accp]\n\tldm r4, {r6-r12, lr}\n\t"  /* a later block: the sums so far */
#define AK_C1S_BLOCK(regs, sums, rows, back)                                                                  \
  __asm__ volatile("vldmia r4, {" regs "}\n\t"                                                              \
                   "2:\n\t" sums rows back                                                                  \
                   "adds r0, #8\n\t"                                                                        \
                   "ldr r4, %[accp]\n\t"                                                                    \
                   "stmia r4!, {r6-r12, lr}\n\t"                                                            \
                   "str r4, %[accp]\n\t"                                                                    \
                   "ldr r5, %[rowend]\n\t" /* not the row's last pair: the next pair */                      \
                   "cmp r4, r5\n\t"                                                                         \
                   "bne 2b\n\t"                                                                             \
                   "ldr r2, %[jump]\n\t" /* x to the next row's first pair, unless the run ends */           \
                   "add r0, r2\n\t"                                                                         \
                   "ldr r2, %[rowacc]\n\t"                                                                  \
                   "add r5, r2\n\t"                                                                         \
                   "str r5, %[rowend]\n\t"                                                                  \
                   "ldr r5, %[end]\n\t"                                                                     \
                   "cmp r4, r5\n\t"                                                                         \
                   "bne 2b"                                                                                 \
                   : [accp] "+m"(accp), [rowend] "+m"(rowend), "+r"(px), "+r"(r4), "=&r"(r2), "=&r"(r3),     \
                     "=&r"(r5), "=&r"(r6), "=&r"(r7), "=&r"(r8), "=&r"(r9), "=&r"(r10), "=&r"(r11),          \
                     "=&r"(r12), "=&r"(lr)                                                                  \
                   : [end] "m"(end), [jump] "m"(jump), [rowacc] "m"(rowacc), "r"(st)                       \
                   : "cc", "memory", "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11",  \
                     "s12", "s13", "s14", "s15", "s16", "s17", "s18", "s19", "s20", "s21", "s22", "s23", "s24", \
                     "s25", "s26", "s27", "s28", "s29", "s30", "s31")

/* One block of `rows` kernel rows (w: their stage words, x: the run's first pair at the block's first row); the
 * run's pairs are output rows of pairs_row pairs, jump words from past a row's last pair to the next row's first. */
static __attribute__((noinline)) void ak_c1s_block(const int32_t *x, const int32_t *w, int32_t pairs,
                                                   int32_t pairs_row, int32_t jump_words, int32_t *acc,
                                                   int32_t stride_bytes, int32_t kwp, int32_t rows, int first) {
  register const int32_t *px __asm__("r0") = x;
  register int32_t st __asm__("r1") = stride_bytes;
  register const int32_t *r4 __asm__("r4") = w;
  register int32_t r2 __asm__("r2"), r3 __asm__("r3"), r5 __asm__("r5");
  register int32_t r6 __asm__("r6"), r7 __asm__("r7"), r8 __asm__("r8"), r9 __asm__("r9");
  register int32_t r10 __asm__("r10"), r11 __asm__("r11"), r12 __asm__("r12"), lr __asm__("lr");
  int32_t *accp = acc, *const end = acc + 8 * pairs, *rowend = acc + 8 * pairs_row;
  const int32_t jump = jump_words * 4, rowacc = 32 * pairs_row;
  switch ((kwp == 4 ? 0 : 8) + 2 * (rows - 1) + !first) {
    case 0: AK_C1S_BLOCK("s0-s15", "", AK_C1S_R4A(AK_C1S_MUL), ""); break;
    case 1: AK_C1S_BLOCK("s0-s15", AK_C1S_SUMS, AK_C1S_R4A(AK_C1S_MLA), ""); break;
    case 2: AK_C1S_BLOCK("s0-s31", "", AK_C1S_R4A(AK_C1S_MUL) AK_C1S_NEXT AK_C1S_R4B, AK_C1S_BACK); break;
    case 3: AK_C1S_BLOCK("s0-s31", AK_C1S_SUMS, AK_C1S_R4A(AK_C1S_MLA) AK_C1S_NEXT AK_C1S_R4B, AK_C1S_BACK); break;
    case 8: AK_C1S_BLOCK("s0-s7", "", AK_C1S_R2A(AK_C1S_MUL), ""); break;
    case 9: AK_C1S_BLOCK("s0-s7", AK_C1S_SUMS, AK_C1S_R2A(AK_C1S_MLA), ""); break;
    case 10: AK_C1S_BLOCK("s0-s15", "", AK_C1S_R2A(AK_C1S_MUL) AK_C1S_NEXT AK_C1S_R2B, AK_C1S_BACK); break;
    case 11: AK_C1S_BLOCK("s0-s15", AK_C1S_SUMS, AK_C1S_R2A(AK_C1S_MLA) AK_C1S_NEXT AK_C1S_R2B, AK_C1S_BACK); break;
    case 12:
      AK_C1S_BLOCK("s0-s23", "", AK_C1S_R2A(AK_C1S_MUL) AK_C1S_NEXT AK_C1S_R2B AK_C1S_NEXT AK_C1S_R2C,
                   AK_C1S_BACK AK_C1S_BACK);
      break;
    case 13:
      AK_C1S_BLOCK("s0-s23", AK_C1S_SUMS, AK_C1S_R2A(AK_C1S_MLA) AK_C1S_NEXT AK_C1S_R2B AK_C1S_NEXT AK_C1S_R2C,
                   AK_C1S_BACK AK_C1S_BACK);
      break;
    case 14:
      AK_C1S_BLOCK("s0-s31", "",
                   AK_C1S_R2A(AK_C1S_MUL) AK_C1S_NEXT AK_C1S_R2B AK_C1S_NEXT AK_C1S_R2C AK_C1S_NEXT AK_C1S_R2D,
                   AK_C1S_BACK AK_C1S_BACK AK_C1S_BACK);
      break;
    default:
      AK_C1S_BLOCK("s0-s31", AK_C1S_SUMS,
                   AK_C1S_R2A(AK_C1S_MLA) AK_C1S_NEXT AK_C1S_R2B AK_C1S_NEXT AK_C1S_R2C AK_C1S_NEXT AK_C1S_R2D,
                   AK_C1S_BACK AK_C1S_BACK AK_C1S_BACK);
      break;
  }
}
#undef AK_C1S_BLOCK
#undef AK_C1S_SUMS
#undef AK_C1S_BACK
#undef AK_C1S_NEXT
#undef AK_C1S_R2D
#undef AK_C1S_R2C
#undef AK_C1S_R2B
#undef AK_C1S_R2A
#undef AK_C1S_R4B
#undef AK_C1S_R4A
#undef AK_C1S_ROW2
#undef AK_C1S_ROW4
#undef AK_C1S_STEP
#undef AK_C1S_MUL
#undef AK_C1S_MLA
#endif

/* `pairs` neighbouring pixel pairs into acc, 8 words a pair: output rows of pairs_row pairs (x: the first pair's
 * first word; jump: words from past a row's last pair to the next row's first). */
static __attribute__((noinline)) void ak_c1s_run(const int32_t *x, const int32_t *wst, int32_t pairs,
                                                 int32_t pairs_row, int32_t jump, int32_t *acc, int32_t k_h,
                                                 int32_t kwp, int32_t wq) {
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
  if (kwp == 2 || kwp == 4) {
    const int32_t rows_max = 8 / kwp;  /* rows per block of 32 weight words */
    for (int32_t ky = 0; ky < k_h; ky += rows_max) {
      const int32_t rows = k_h - ky < rows_max ? k_h - ky : rows_max;
      ak_c1s_block(x + ky * wq, wst + ky * 4 * kwp, pairs, pairs_row, jump, acc, wq * 4, kwp, rows, ky == 0);
    }
    return;
  }
#endif
  for (int32_t k = 1; k <= pairs; k++, acc += 8) {
    ak_c1s_pair(x, wst, k_h, kwp, wq, acc);
    x += 2 + (k % pairs_row == 0 ? jump : 0);
  }
}

/* The int16 pair buffer: hp rows of wq words, the input at (pad_t, pad_l), everything else the input zero point
 * (only the padding is filled). 4 input bytes at a time where the row allows: one load, SXTB16 into (b0, b2) and
 * (b1, b3), two pair words. */
static __attribute__((noinline)) void ak_c1s_widen(int32_t *buf, const ak_geom *g, const int8_t *in, int32_t hp,
                                                   int32_t wq) {
  const int32_t zp2 = (int32_t)(((uint32_t)g->in_zp & 0xFFFFu) * 0x00010001u);
  const int16_t zp = (int16_t)g->in_zp;
  const int32_t cols = 2 * wq, in_w = g->in_w, pad_l = g->pad_l;
  const int32_t ix0 = pad_l < 0 ? -pad_l : 0, ix1 = cols - pad_l < in_w ? cols - pad_l : in_w;
  const int32_t c0 = pad_l + ix0, c1 = ix1 > ix0 ? pad_l + ix1 : c0;  /* the input's columns [c0, c1) */
  for (int32_t py = 0; py < hp; py++) {
    int32_t *row = buf + py * wq;
    const int32_t iy = py - g->pad_t;
    if (iy < 0 || iy >= g->in_h || c1 == c0) {
      for (int32_t i = 0; i < wq; i++) row[i] = zp2;
      continue;
    }
    int16_t *d = (int16_t *)(void *)row;
    for (int32_t c = 0; c < c0; c++) d[c] = zp;
    for (int32_t c = c1; c < cols; c++) d[c] = zp;
    const int8_t *src = in + iy * in_w - pad_l;  /* src[c]: the input of buffer column c */
    int32_t c = c0;
    if (c & 1) d[c] = src[c], c++;  /* to a pair boundary */
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
    if (c + 8 <= c1) {  /* 8 columns per iteration: two loads, four pair words stored by one STM */
      register const int8_t *sp8 __asm__("r0") = src + c;
      register int32_t *dw __asm__("r1") = row + (c >> 1);
      register const int8_t *send __asm__("r2") = sp8 + (((c1 - c) >> 3) << 3);
#define AK_C1S_WIDEN8(load)                                                                       \
  __asm__ volatile("1:\n\t" load                                                                  \
                   "sxtb16 r5, r3\n\t"                                                            \
                   "sxtb16 r6, r3, ror #8\n\t"                                                    \
                   "sxtb16 r7, r4\n\t"                                                            \
                   "sxtb16 r4, r4, ror #8\n\t"                                                    \
                   "pkhbt r3, r5, r6, lsl #16\n\t"                                                \
                   "pkhtb r5, r6, r5, asr #16\n\t"                                                \
                   "pkhbt r6, r7, r4, lsl #16\n\t"                                                \
                   "pkhtb r7, r4, r7, asr #16\n\t"                                                \
                   "stmia r1!, {r3, r5, r6, r7}\n\t"                                              \
                   "cmp r0, r2\n\t"                                                               \
                   "bne 1b"                                                                       \
                   : "+r"(sp8), "+r"(dw)                                                          \
                   : "r"(send)                                                                    \
                   : "r3", "r4", "r5", "r6", "r7", "cc", "memory")
      if (((uintptr_t)sp8 & 3) == 0)  /* LDM needs a word-aligned address */
        AK_C1S_WIDEN8("ldmia r0!, {r3, r4}\n\t");
      else
        AK_C1S_WIDEN8("ldr r3, [r0]\n\tldr r4, [r0, #4]\n\tadds r0, #8\n\t");
#undef AK_C1S_WIDEN8
      c += ((c1 - c) >> 3) << 3;
    }
#endif
    for (; c + 4 <= c1; c += 4) {
      const int32_t v = ak_read32(src + c), e = ak_sxtb16(v), o = ak_sxtb16_ror8(v);
      row[c >> 1] = ak_pack_lo(e, o), row[(c >> 1) + 1] = ak_pack_hi(e, o);
    }
    for (; c < c1; c++) d[c] = src[c];
  }
}

/* Requantization of two neighbouring channels' runs at once (acc: channel j of the first pixel, 4 words a pixel;
 * o: its output byte), for channels ak_requant_run takes its SSAT path on without a left shift: the same
 * arithmetic, but one LDRD brings both channels' accumulators and the loop is shared, with the 8 constants in
 * fixed registers. 0: not applicable (the caller runs ak_requant_run per channel). */
static __attribute__((noinline)) int ak_c1s_requant2(const int32_t *acc, int8_t *o, int32_t n, int32_t o_step,
                                                     const ak_rq *ra, const ak_rq *rb, const ak_outq *oq) {
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
  if (ra->fast != 1 || rb->fast != 1 || ra->s1 != 1 || rb->s1 != 1 || oq->lo != -128 || oq->hi != 127 || n < 1)
    return 0;
  register const int32_t *pa __asm__("r0") = acc;
  register int8_t *po __asm__("r1") = o;
  register int32_t cnt __asm__("r2") = n;
  register int32_t step __asm__("r3") = o_step;
  register int32_t x0 __asm__("r4"), x1 __asm__("r5");
  register int32_t ba __asm__("r6") = (int32_t)((uint32_t)ra->q.bias << 1), ma __asm__("r7") = ra->q.mult;
  register int32_t za __asm__("r8") = ra->rz, ea __asm__("r9") = ra->q.right;
  register int32_t bb __asm__("r10") = (int32_t)((uint32_t)rb->q.bias << 1), mb __asm__("r11") = rb->q.mult;
  register int32_t zb __asm__("r12") = rb->rz, eb __asm__("lr") = rb->q.right;
#define AK_RQ2_ONE                   \
  "ldrd r4, r5, [r0], #16\n\t"       \
  "add r4, r6, r4, lsl #1\n\t"       \
  "smmulr r4, r4, r7\n\t"            \
  "add r4, r4, r4, asr #31\n\t"      \
  "add r4, r8\n\t"                   \
  "asr r4, r4, r9\n\t"               \
  "ssat r4, #8, r4\n\t"              \
  "strb r4, [r1]\n\t"                \
  "add r5, r10, r5, lsl #1\n\t"      \
  "smmulr r5, r5, r11\n\t"           \
  "add r5, r5, r5, asr #31\n\t"      \
  "add r5, r12\n\t"                  \
  "asr r5, r5, lr\n\t"               \
  "ssat r5, #8, r5\n\t"              \
  "strb r5, [r1, #1]\n\t"            \
  "add r1, r3\n\t"
  __asm__ volatile("subs r2, #2\n\t"
                   "blt 2f\n\t"
                   "1:\n\t" AK_RQ2_ONE AK_RQ2_ONE
                   "subs r2, #2\n\t"
                   "bge 1b\n\t"
                   "2:\n\t"
                   "adds r2, #2\n\t"
                   "beq 3f\n\t" AK_RQ2_ONE "3:"
                   : "+r"(pa), "+r"(po), "+r"(cnt), "=&r"(x0), "=&r"(x1)
                   : "r"(step), "r"(ba), "r"(ma), "r"(za), "r"(ea), "r"(bb), "r"(mb), "r"(zb), "r"(eb)
                   : "cc", "memory");
#undef AK_RQ2_ONE
  return 1;
#else
  (void)acc, (void)o, (void)n, (void)o_step, (void)ra, (void)rb, (void)oq;
  return 0;
#endif
}

/* The chunk's n pixels of the group's nc channels (acc: [pixel][4], o: the first pixel's channel c). */
AK_INLINE void ak_c1s_requant(const int32_t *acc, int8_t *o, int32_t n, int32_t nc, int32_t out_c, const ak_rq *rq,
                              const ak_outq *oq) {
  for (int32_t j = 0; j < nc; j++) {
    if (j + 1 < nc && ak_c1s_requant2(acc + j, o + j, n, out_c, &rq[j], &rq[j + 1], oq)) {
      j++;
      continue;
    }
    ak_requant_run(acc + j, o + j, n, out_c, &rq[j], oq);
  }
}

/* (buf: the caller's, so this function has no variable-length frame) */
static __attribute__((noinline)) void ak_conv1_slide(const ak_geom *g, const int8_t *in, const int32_t *w,
                                                     const int32_t *qp, int8_t *out, int32_t *buf, int32_t hp,
                                                     int32_t wq) {
  const int32_t k_h = g->k_h, kw4 = (g->k_w + 3) & ~3, kwp = kw4 >> 1, k4 = k_h * (kw4 >> 2);
  const int32_t out_w = g->out_w, out_c = g->out_c, row_step = g->s_h * wq;
  const int32_t row_words = ak_c1s_row_words(kwp);
  const ak_outq oq = {g->out_zp, g->act_lo, g->act_hi};
  ak_c1s_widen(buf, g, in, hp, wq);
  int32_t wst[AK_STAGE_WORDS];
  int32_t acc[4 * AK_C1S_CHUNK + 4];  /* + the phantom pixel of an odd row */
  const int32_t pairs_row = (out_w + 1) >> 1, jump = row_step - 2 * pairs_row;
  /* even widths: runs of whole output rows (no phantom), as many as the chunk holds; odd ones: one row at most */
  const int32_t run_rows = (out_w & 1) == 0 && out_w <= AK_C1S_CHUNK ? AK_C1S_CHUNK / out_w : 0;
  for (int32_t c = 0; c < out_c; c += 4, w += 4 * k4, qp += 4 * AK_QP_STRIDE) {
    /* the group's taps as int16 pairs, [ky][pair][channel] */
    const int8_t *w8 = (const int8_t *)(const void *)w;
    for (int32_t ky = 0; ky < k_h; ky++) {
      int32_t *row = wst + ky * row_words;
      for (int32_t j = 0; j < kwp; j++) {
        for (int32_t t = 0; t < 4; t++) {
          const int32_t kx = 2 * j, word = ky * (kw4 >> 2) + (kx >> 2);
          const int8_t *tap = w8 + (word * 4 + t) * 4 + (kx & 3);
          row[4 * j + t] = ak_pack16(tap[0], tap[1]);
        }
      }
    }
    ak_rq rq[4];
    for (int j = 0; j < 4; j++) {
      ak_qp q = ak_qp_load(qp + j * AK_QP_STRIDE);
      int64_t b = q.bias;
      rq[j] = ak_rq_prepare(q, g->out_zp, (b < 0 ? -b : b) + (int64_t)k4 * 4 * 16384);  /* as d4 */
    }
    const int32_t nc = out_c - c < 4 ? out_c - c : 4;
    int32_t n = 0, p0 = 0;  /* pixels in the accumulator chunk, index of its first */
#define AK_C1S_ROOM(px)                                                  \
  do {                                                                   \
    if (n + (px) > AK_C1S_CHUNK) {                                       \
      ak_c1s_requant(acc, out + p0 * out_c + c, n, nc, out_c, rq, &oq); \
      p0 += n, n = 0;                                                    \
    }                                                                    \
  } while (0)
    for (int32_t oy = 0; oy < g->out_h;) {
      if (run_rows) {
        const int32_t rows = g->out_h - oy < run_rows ? g->out_h - oy : run_rows;
        AK_C1S_ROOM(rows * out_w);
        ak_c1s_run(buf + oy * row_step, wst, rows * pairs_row, pairs_row, jump, acc + 4 * n, k_h, kwp, wq);
        n += rows * out_w, oy += rows;
        continue;
      }
      for (int32_t ox = 0; ox < out_w;) {
        int32_t pairs = (out_w - ox + 1) >> 1;
        pairs = pairs < AK_C1S_CHUNK / 2 ? pairs : AK_C1S_CHUNK / 2;
        AK_C1S_ROOM(2 * pairs);
        ak_c1s_run(buf + oy * row_step + ox, wst, pairs, pairs, 0, acc + 4 * n, k_h, kwp, wq);
        const int32_t px = out_w - ox < 2 * pairs ? out_w - ox : 2 * pairs;  /* a phantom's sums are dropped */
        n += px, ox += px;
      }
      oy++;
    }
#undef AK_C1S_ROOM
    ak_c1s_requant(acc, out + p0 * out_c + c, n, nc, out_c, rq, &oq);
  }
}

int32_t armlprof_conv1_s8_s4(ARMLPROF_CONV_ARGS) {
  AK_GEOM;
  const int32_t kw4 = (k_w + 3) & ~3, hp = (out_h - 1) * s_h + k_h, wq = out_w + kw4 / 2;
  const int covered = s_w == 2 && d_h == 1 && d_w == 1 && k_h * ak_c1s_row_words(kw4 / 2) <= AK_STAGE_WORDS &&
                      hp * wq * 4 <= AK_C1S_BUF_BYTES;
  if (!covered) return ak_conv1(&g, in, w, qp, out, 4, 1, ak_px_t4p1u1, ak_px_t4p2u1, 1);
  int32_t buf[hp * wq];
  ak_conv1_slide(&g, in, (const int32_t *)(const void *)w, qp, out, buf, hp, wq);
  return 0;
}

/* ---------------------------------------------------------------- one-input-channel convolution, fused pairs (f4) */
/* s4's sliding pixel pairs for kernels of 3 rows of up to 3 taps (person_detect's first layer), requantized in
 * registers. In s4 the third tap of a kernel row is a pair word (w2, 0) per channel; here two channels share one
 * (w2 c0, w2 c1), read with SMLABB / SMLABT (the input word's bottom half is that tap), so a group's weights are 18
 * words instead of 24 and the FPU's s0-s30 hold them and the group's requantization constants: the accumulators
 * start at the bias << s1 (the left shift with SMMLAR's doubling, s1 <= 8, is in the int16 weights, as t3 folds
 * it), each pixel pair's 8 sums are requantized in their registers (ak_dwp_requant's sequence) and each pixel's 4
 * output bytes stored as one word: no accumulator buffer, no requantization pass. One assembly loop over all pixel
 * pairs of a channel group. Needs every channel on ak_rq's fast path 1 without a clamp inside int8 (s1 <= 8),
 * whole groups of 4 channels and an even output width (no phantom pixel) of at most AK_C1F_RS - 2; other layers
 * run s4. */
/* Fused requantization of accumulators x = (acc + bias) << s1 held in registers (f4, n3), ak_dwp_requant's
 * sequence: r2 the temporary, r3's low byte the channel's right shift, r4/r5 its (multiplier, rounding constant)
 * brought from the FPU pair `mrz`; a and b: one channel of two pixels. Then 4 channels' bytes packed into a. */
#define AK_FRQ_ONE(a)              \
  "smmlar r2, " a ", r4, r5\n\t"   \
  "add r2, r2, " a ", asr #31\n\t" \
  "asr " a ", r2, r3\n\t"          \
  "ssat " a ", #8, " a "\n\t"
#define AK_FRQ1(a, mrz) "vmov r4, r5, " mrz "\n\t" AK_FRQ_ONE(a)
#define AK_FRQ2(a, b, mrz) "vmov r4, r5, " mrz "\n\t" AK_FRQ_ONE(a) AK_FRQ_ONE(b)
#define AK_FRQ_PACK(a, b, c, d) \
  "bfi " a ", " b ", #8, #8\n\t"  \
  "bfi " a ", " c ", #16, #8\n\t" \
  "bfi " a ", " d ", #24, #8\n\t"
/* A pixel pair's 8 accumulators (pixel 0: r6-r9, pixel 1: r10-r12, lr; channel j's in r6+j and r10+j) requantized
 * and packed into r6 and r10: `shifts` the FPU register with the 4 right shifts as bytes, mrz0..3 the channels'
 * (multiplier, rounding constant) pairs. */
#define AK_FRQ_PAIR8(shifts, mrz0, mrz1, mrz2, mrz3)                                                     \
  "vmov r3, " shifts "\n\t"                                                                             \
  AK_FRQ2("r6", "r10", mrz0) "lsrs r3, r3, #8\n\t"                                                    \
  AK_FRQ2("r7", "r11", mrz1) "lsrs r3, r3, #8\n\t"                                                    \
  AK_FRQ2("r8", "r12", mrz2) "lsrs r3, r3, #8\n\t"                                                    \
  AK_FRQ2("r9", "lr", mrz3)                                                                            \
  AK_FRQ_PACK("r6", "r7", "r8", "r9")                                                                  \
  AK_FRQ_PACK("r10", "r11", "r12", "lr")
#define AK_C1F_BLOCK 32 /* FPU words per group: 18 weights, 4 biases, 4 (multiplier, rounding constant), shifts */
#define AK_C1F_RS 50    /* words per row of the widened buffer (out_w <= 48): the kernel rows at immediate offsets */

typedef struct {
  int32_t stride_bytes, jump_bytes, out_c, row_out, out_h;
} ak_c1f_walk;

/* Every pixel pair of one channel group (x: the widened buffer's first pair word, o: output channel c of pixel 0). */
static __attribute__((noinline)) void ak_c1f_group(const int32_t *x, const int32_t *blk, int8_t *o,
                                                   const ak_c1f_walk *wk) {
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
  /* r0 x, r1 the output pointer, r2/r3 input words (then the requantization's temporary / right shifts),
   * r4/r5 weights (then multiplier, rounding constant), r6-r9 pixel 0's channels, r10-r12 and lr pixel 1's; s31
   * the row's output end (a VMOV away, not a stack load), the other loop bounds on the stack. */
  register const int32_t *px __asm__("r0") = x;
  register int8_t *op __asm__("r1") = o;
  register const int32_t *kb __asm__("r2") = blk;
  int8_t *rowend = o + wk->row_out, *const end = o + wk->out_h * wk->row_out;
  const int32_t oc = wk->out_c, jump = wk->jump_bytes, rowout = wk->row_out;
  /* Two SMLADs of one channel: pixel 0's accumulator a, pixel 1's b. In the first kernel row b has not been
   * set yet: pixel 1 first, from a's bias (so b needs no VMOV of its own). */
#define AK_C1F_MLA(a, b, w) "smlad " a ", r2, " w ", " a "\n\tsmlad " b ", r3, " w ", " b "\n\t"
#define AK_C1F_MLA0(a, b, w) "smlad " b ", r3, " w ", " a "\n\tsmlad " a ", r2, " w ", " a "\n\t"
  /* one kernel row: words 0, 1 (pixel 0's taps 0-1 / 2-3, pixel 1's 0-1; one LDRD: a fetch word less than two
   * 32-bit LDRs) and 2 (pixel 1's 2-3) */
#define AK_C1F_ROW(M, off, q0, q1, q2) \
  "ldrd r2, r3, [r0, #" off "]\n\t"    \
  "vmov r4, r5, " q0 "\n\t"            \
  M("r6", "r10", "r4")                 \
  M("r7", "r11", "r5")                 \
  "vmov r4, r5, " q1 "\n\t"            \
  M("r8", "r12", "r4")                 \
  M("r9", "lr", "r5")                  \
  "ldr r2, [r0, #" off "+8]\n\t"       \
  "vmov r4, r5, " q2 "\n\t"            \
  "smlabb r6, r3, r4, r6\n\t"          \
  "smlabt r7, r3, r4, r7\n\t"          \
  "smlabb r8, r3, r5, r8\n\t"          \
  "smlabt r9, r3, r5, r9\n\t"          \
  "smlabb r10, r2, r4, r10\n\t"        \
  "smlabt r11, r2, r4, r11\n\t"        \
  "smlabb r12, r2, r5, r12\n\t"        \
  "smlabt lr, r2, r5, lr\n\t"
  /* the two pixels' output words, then r1 past them: out_c from the stack, or 8 (person_detect) as immediates */
#define AK_C1F_STORE_N "ldr r3, %[oc]\n\tstr r6, [r1]\n\tstr r10, [r1, r3]\n\tadd r1, r1, r3, lsl #1\n\t"
#define AK_C1F_STORE_8 "str r6, [r1]\n\tstr r10, [r1, #8]\n\tadds r1, #16\n\t"
/* one pixel pair: sums from the biases, 3 kernel rows, requantization, the output words */
#define AK_C1F_PAIR(store)                                                                                     \
  "vmov r6, r7, s18, s19\n\t"                                                                                  \
  "vmov r8, r9, s20, s21\n\t"                                                                                  \
  AK_C1F_ROW(AK_C1F_MLA0, "0", "s0, s1", "s2, s3", "s4, s5")                                                   \
  AK_C1F_ROW(AK_C1F_MLA, AK_DWP_STR(AK_C1F_RS) "*4", "s6, s7", "s8, s9", "s10, s11")                           \
  AK_C1F_ROW(AK_C1F_MLA, AK_DWP_STR(AK_C1F_RS) "*8", "s12, s13", "s14, s15", "s16, s17")                       \
  "adds r0, #8\n\t"                                                                                            \
  AK_FRQ_PAIR8("s30", "s22, s23", "s24, s25", "s26, s27", "s28, s29")                                          \
  store
  /* `pairs`: the pairs per turn of the loop (1, or 2 where a row has an even number of pairs: half the checks) */
#define AK_C1F_LOOP(pairs)                                                                                     \
  __asm__ volatile(                                                                                            \
      "vldmia r2, {s0-s30}\n\t"                                                                                \
      "ldr r3, %[rowend]\n\t"                                                                                  \
      "vmov s31, r3\n\t"                                                                                       \
      "1:\n\t"                                                                                                 \
      pairs                                                                                                    \
      "vmov r3, s31\n\t"  /* not the row's last pair: the next pair */                                         \
      "cmp r1, r3\n\t"                                                                                         \
      "bne 1b\n\t"                                                                                             \
      "ldr r3, %[end]\n\t"                                                                                     \
      "cmp r1, r3\n\t"                                                                                         \
      "beq 2f\n\t"                                                                                             \
      "ldr r3, %[jump]\n\t"  /* x to the next output row's first pair */                                       \
      "add r0, r3\n\t"                                                                                         \
      "ldr r3, %[rowout]\n\t"                                                                                  \
      "vmov r2, s31\n\t"                                                                                       \
      "add r2, r3\n\t"                                                                                         \
      "vmov s31, r2\n\t"                                                                                       \
      "b 1b\n\t"                                                                                               \
      "2:"                                                                                                     \
      : "+r"(px), "+r"(op), "+r"(kb)                                                                           \
      : [oc] "m"(oc), [jump] "m"(jump), [rowout] "m"(rowout), [end] "m"(end), [rowend] "m"(rowend)             \
      : "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12", "lr", "cc", "memory", "s0", "s1", "s2", \
        "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "s12", "s13", "s14", "s15", "s16", "s17", "s18", \
        "s19", "s20", "s21", "s22", "s23", "s24", "s25", "s26", "s27", "s28", "s29", "s30", "s31")
  if (oc == 8 && rowout % 32 == 0)  /* 8 channels, an even number of pairs a row (person_detect's 24) */
    AK_C1F_LOOP(AK_C1F_PAIR(AK_C1F_STORE_8) AK_C1F_PAIR(AK_C1F_STORE_8));
  else
    AK_C1F_LOOP(AK_C1F_PAIR(AK_C1F_STORE_N));
#undef AK_C1F_LOOP
#undef AK_C1F_PAIR
#undef AK_C1F_STORE_8
#undef AK_C1F_STORE_N
#undef AK_C1F_MLA0
#undef AK_C1F_MLA
#undef AK_C1F_ROW
#else
  const int32_t wq = wk->stride_bytes >> 2, pairs_row = wk->row_out / (2 * wk->out_c);
  const int32_t jump = wk->jump_bytes >> 2;
  for (int32_t oy = 0; oy < wk->out_h; oy++, x += jump) {
    for (int32_t p = 0; p < pairs_row; p++, x += 2, o += 2 * wk->out_c) {
      int32_t a[8];
      for (int t = 0; t < 4; t++) a[t] = a[4 + t] = blk[18 + t];
      for (int32_t ky = 0; ky < 3; ky++) {
        const int32_t *r = x + ky * wq, *q = blk + 6 * ky;
        for (int t = 0; t < 4; t++) {
          a[t] = ak_smlad(r[0], q[t], a[t]), a[4 + t] = ak_smlad(r[1], q[t], a[4 + t]);
          a[t] = ak_dwp_mla(r[1], 0, q[4 + (t >> 1)], t & 1, a[t]);
          a[4 + t] = ak_dwp_mla(r[2], 0, q[4 + (t >> 1)], t & 1, a[4 + t]);
        }
      }
      for (int t = 0; t < 8; t++) {
        const int32_t j = t & 3;
        const int32_t kj[3] = {blk[22 + 2 * j], blk[23 + 2 * j], (int32_t)(((uint32_t)blk[30] >> (8 * j)) & 0xFFu)};
        ak_dwp_requant(&a[t], o + (t >> 2) * wk->out_c + j, 1, 1, kj);
      }
    }
  }
#endif
}

int32_t armlprof_conv1_s8_f4(ARMLPROF_CONV_ARGS) {
  const int32_t hp = (out_h - 1) * s_h + k_h, wq = AK_C1F_RS, k4 = 3;  /* s4's rows: out_w + 2 words */
  int ok = k_h == 3 && k_w <= 3 && s_w == 2 && d_h == 1 && d_w == 1 && out_w % 2 == 0 && out_w + 2 <= wq &&
           out_c % 4 == 0 && act_lo == -128 && act_hi == 127 && hp * wq * 4 <= AK_C1S_BUF_BYTES;
  for (int32_t c = 0; ok && c < out_c; c++) {  /* as s4 prepares them */
    const ak_qp q = ak_qp_load(qp + c * AK_QP_STRIDE);
    const int64_t b = q.bias;
    const ak_rq rq = ak_rq_prepare(q, out_zp, (b < 0 ? -b : b) + (int64_t)k4 * 4 * 16384);
    ok = rq.fast == 1 && rq.s1 <= 8;
  }
  if (!ok) return -1;  /* kernels.c1_f4_covers plans s4 (same weights) there: s4's code is not linked for f4 */
  AK_GEOM;
  int32_t buf[hp * wq];
  ak_c1s_widen(buf, &g, in, hp, wq);
  const ak_c1f_walk wk = {4 * wq, 4 * (s_h * wq - out_w), out_c, out_w * out_c, out_h};
  const int8_t *w8 = (const int8_t *)w;  /* kernels.pack_c1_weights, tile 4: [OC/4][k_h][4 channels][4 taps] */
  for (int32_t c = 0; c < out_c; c += 4, w8 += 16 * k4) {
    int32_t blk[AK_C1F_BLOCK], w2[3][4];
    int32_t shifts = 0;
    for (int t = 0; t < 4; t++) {
      const ak_qp q = ak_qp_load(qp + (c + t) * AK_QP_STRIDE);
      const int64_t b = q.bias;
      const ak_rq rq = ak_rq_prepare(q, out_zp, (b < 0 ? -b : b) + (int64_t)k4 * 4 * 16384);
      const int32_t s1 = rq.s1;
      for (int32_t ky = 0; ky < 3; ky++) {
        const int8_t *tap = w8 + (ky * 4 + t) * 4;
        blk[6 * ky + t] = ak_pack16(tap[0] * (1 << s1), tap[1] * (1 << s1));
        w2[ky][t] = tap[2] * (1 << s1);
      }
      blk[18 + t] = (int32_t)((uint32_t)q.bias << s1);
      blk[22 + 2 * t] = q.mult, blk[23 + 2 * t] = rq.rz;
      shifts |= q.right << (8 * t);
    }
    for (int32_t ky = 0; ky < 3; ky++)  /* (w2 c0, w2 c1), (w2 c2, w2 c3) */
      blk[6 * ky + 4] = ak_pack16(w2[ky][0], w2[ky][1]), blk[6 * ky + 5] = ak_pack16(w2[ky][2], w2[ky][3]);
    blk[30] = shifts, blk[31] = 0;
    ak_c1f_group(buf, blk, out + c, &wk);
  }
  return 0;
}

/* ---------------------------------------------------------------- depthwise 3x3, few output pixels (variant n3) */
/* For layers whose output planes are small (person_detect's 6x6 and 3x3 ones), where t3's per-row and per-channel
 * costs (plane conversion, pair loops, requantization runs) are paid for a handful of outputs. Channels are the
 * SIMD dimension instead: one input word is 4 channels of one tap, SXTB16 splits it into (c0, c2) and (c1, c3),
 * and SMLABB / SMLATT multiply those with the tap's int16 weight pairs (SMLAD would add two channels together).
 * The input is first copied, zero-point padded, into a stack buffer of channel-group planes, [C/4][hp][wp] words
 * (every pixel interior, taps at immediate offsets: 16-bit loads, no border path, no stride registers; the input
 * offset is folded into the bias, as in_zp x the sum of the weights). Group outer, output pixels inner: the group's
 * 18 weight words and its requantization constants (kernels.dw_n3_block, offline: t3's folded fast path, the left
 * shift in the weights, so the accumulators start at the shifted bias) go into the FPU's s0-s30 once (VLDM), where
 * VMOV brings two back in 2 cycles; then per output pixel 9 taps (LDR, VMOV, 2 SXTB16, 4 SMLAxy), the 4 channels
 * requantized in registers (ak_dwp_requant's sequence) and stored as one word. Layers it does not cover (not 3x3,
 * dilated, a channel off the fast path, a buffer over AK_DWN_BYTES) run r1. */
#define AK_DWN_BYTES 16384 /* the padded input */
#define AK_DWN_GROUP 36    /* int32 per channel group after the flag word (kernels.DW_N3_WORDS) */

typedef struct {
  int32_t row_bytes, pix_bytes, jump_bytes, out_w, out_h, out_c;
} ak_dwn_walk;

/* n consecutive padded pixels of one row into every plane (d: the first one's word in plane 0, planes plane_bytes
 * apart): the input pixels from src on (in_c = 4 groups bytes each), or zp4 (src NULL: padding). On the M4, for
 * groups a multiple of 4, the whole run in one loop nest of 4 planes per step: one LDM, four register-offset stores
 * (~9 cycles a word on Spresense; a C loop per pixel ~14 to 22). */
static __attribute__((noinline)) void ak_dwn_run(int32_t *d, const int8_t *src, int32_t n, int32_t groups,
                                                 int32_t plane_bytes, int32_t zp4) {
  if (n <= 0) return;
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
  if (groups % 4 == 0) {
    /* da / db: planes 4i, 4i + 1 / 4i + 2, 4i + 3 of the current pixel; dp: its plane-0 word */
    int32_t *da, *db, *dp = d;
    int32_t n4;
    const int32_t p2 = 2 * plane_bytes, g4 = groups >> 2;
#define AK_DWN_RUN(load, preset)                                                                        \
  __asm__ volatile(preset                                                                               \
                   "0:\n\t"                                                                             \
                   "mov %[a], %[dp]\n\t"                                                                \
                   "add %[b], %[dp], %[p2]\n\t"                                                         \
                   "mov %[k], %[g4]\n\t"                                                                \
                   "1:\n\t" load                                                                        \
                   "str r4, [%[a]]\n\t"                                                                 \
                   "str r5, [%[a], %[p1]]\n\t"                                                          \
                   "str r6, [%[b]]\n\t"                                                                 \
                   "str r7, [%[b], %[p1]]\n\t"                                                          \
                   "add %[a], %[a], %[p2], lsl #1\n\t"                                                  \
                   "add %[b], %[b], %[p2], lsl #1\n\t"                                                  \
                   "subs %[k], %[k], #1\n\t"                                                            \
                   "bne 1b\n\t"                                                                         \
                   "adds %[dp], #4\n\t"                                                                 \
                   "subs %[n], %[n], #1\n\t"                                                            \
                   "bne 0b"                                                                             \
                   : [a] "=&r"(da), [b] "=&r"(db), [k] "=&r"(n4), [dp] "+r"(dp), [n] "+r"(n), [s] "+r"(src) \
                   : [p1] "r"(plane_bytes), [p2] "r"(p2), [g4] "r"(g4), [z] "r"(zp4)                     \
                   : "r4", "r5", "r6", "r7", "cc", "memory")
    if (src)
      AK_DWN_RUN("ldmia %[s]!, {r4, r5, r6, r7}\n\t", "");
    else
      AK_DWN_RUN("", "mov r4, %[z]\n\tmov r5, %[z]\n\tmov r6, %[z]\n\tmov r7, %[z]\n\t");
#undef AK_DWN_RUN
    return;
  }
#endif
  for (; n > 0; n--, d++) {
    int8_t *e = (int8_t *)d;
    for (int32_t k = 0; k < groups; k++, e += plane_bytes) {
      const int32_t v = src ? ak_read32(src) : zp4;
      __builtin_memcpy(e, &v, 4);
      if (src) src += 4;
    }
  }
}

/* The input as planes of channel-group words, hp x wp pixels each, the input at (pad_t, pad_l), the rest the input
 * zero point (which the folded bias turns into 0, as TFLM skips those taps). */
static __attribute__((noinline)) void ak_dwn_pad(int32_t *buf, const int8_t *in, const ak_geom *g, int32_t hp,
                                                 int32_t wp) {
  const int32_t zp4 = (int32_t)((uint32_t)(uint8_t)g->in_zp * 0x01010101u);
  const int32_t in_w = g->in_w, groups = g->in_c >> 2, plane_bytes = 4 * hp * wp, pad_l = g->pad_l;
  const int32_t x0 = pad_l < 0 ? 0 : pad_l < wp ? pad_l : wp;  /* padded columns [x0, x1) hold input */
  const int32_t x1 = pad_l + in_w < x0 ? x0 : pad_l + in_w < wp ? pad_l + in_w : wp;
  for (int32_t py = 0; py < hp; py++) {
    const int32_t iy = py - g->pad_t;
    int32_t *d = buf + py * wp;
    if (iy < 0 || iy >= g->in_h || x1 == x0) {
      ak_dwn_run(d, 0, wp, groups, plane_bytes, zp4);
      continue;
    }
    ak_dwn_run(d, 0, x0, groups, plane_bytes, zp4);
    ak_dwn_run(d + x0, in + (iy * in_w + x0 - pad_l) * g->in_c, x1 - x0, groups, plane_bytes, zp4);
    ak_dwn_run(d + x1, 0, wp - x1, groups, plane_bytes, zp4);
  }
}

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
/* The M4's tap loops: one tap of 4 channels into accumulators a0-a3 (r2 the input word, r3 SXTB16's, r4/r5 the tap's
 * weight pairs (c0, c2) and (c1, c3)); a kernel row of one pixel (x: r0); the 4 channels' requantization (r6-r9,
 * their constants in s18-s26) packed into r6. */
#define AK_DWN_MACS(a0, a1, a2, a3)         \
  "sxtb16 r3, r2\n\t"                       \
  "smlabb " a0 ", r3, r4, " a0 "\n\t"       \
  "smlatt " a2 ", r3, r4, " a2 "\n\t"       \
  "sxtb16 r3, r2, ror #8\n\t"               \
  "smlabb " a1 ", r3, r5, " a1 "\n\t"       \
  "smlatt " a3 ", r3, r5, " a3 "\n\t"
#define AK_DWN_TAP(xaddr, wpair) "ldr r2, " xaddr "\n\t" "vmov r4, r5, " wpair "\n\t" AK_DWN_MACS("r6", "r7", "r8", "r9")
#define AK_DWN_ROW(w0, w1, w2) AK_DWN_TAP("[r0]", w0) AK_DWN_TAP("[r0, #4]", w1) AK_DWN_TAP("[r0, #8]", w2)
#define AK_DWN_RQ4                                                                      \
  "vmov r3, s26\n\t"                                                                    \
  AK_FRQ1("r6", "s18, s19") "lsrs r3, r3, #8\n\t" AK_FRQ1("r7", "s20, s21") "lsrs r3, r3, #8\n\t" \
  AK_FRQ1("r8", "s22, s23") "lsrs r3, r3, #8\n\t" AK_FRQ1("r9", "s24, s25")                     \
  AK_FRQ_PACK("r6", "r7", "r8", "r9")
#define AK_DWN_FPU                                                                                             \
  "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "s12", "s13", "s14", "s15", "s16", \
      "s17", "s18", "s19", "s20", "s21", "s22", "s23", "s24", "s25", "s26", "s27", "s28", "s29", "s30"

/* Stride 1 along the row: output pixel pairs (ox, ox + 1), 8 accumulators (r6-r9 and r10-r12, lr), each weight pair
 * brought once for both and each loaded input word used by both (pixel ox + 1's tap kx is pixel ox's kx + 1): per
 * kernel row 4 loads and 3 VMOVs for 24 MACs (one pixel at a time: 3 and 3 for 12); an odd row's last pixel alone.
 * The output pointer and loop counts on the stack (every register holds a sum or an operand). */
static __attribute__((noinline)) void ak_dwn_pairs_s1(const int32_t *x, int8_t *o, const int32_t *k,
                                                      const int32_t *bias, const ak_dwn_walk *wk) {
  register const int32_t *px __asm__("r0") = x;
  register int32_t row __asm__("r1") = wk->row_bytes;
  register const int32_t *kp __asm__("r2") = k;
  register const int32_t *bp __asm__("r3") = bias;
  int8_t *op = o;
  const int32_t oc = wk->out_c, pairs = wk->out_w >> 1, odd = wk->out_w & 1, jump = wk->jump_bytes;
  int32_t rows = wk->out_h, left = 0;
#define AK_DWN_PAIR_TAP(w, xb) /* r2: pixel 0's tap, then pixel 1's (at xb) */ \
  "vmov r4, r5, " w "\n\t" AK_DWN_MACS("r6", "r7", "r8", "r9")      \
  "ldr r2, [r0, #" xb "]\n\t" AK_DWN_MACS("r10", "r11", "r12", "lr")
#define AK_DWN_PAIR_ROW(w0, w1, w2) \
  "ldr r2, [r0]\n\t" AK_DWN_PAIR_TAP(w0, "4") AK_DWN_PAIR_TAP(w1, "8") AK_DWN_PAIR_TAP(w2, "12")
  __asm__ volatile(
      "vldmia r2, {s0-s26}\n\t"
      "vldmia r3, {s27-s30}\n\t"
      "0:\n\t"  /* an output row */
      "ldr r2, %[pairs]\n\t"
      "str r2, %[left]\n\t"
      "cmp r2, #0\n\t"
      "beq 3f\n\t"
      "1:\n\t"  /* a pixel pair */
      "vmov r6, r7, s27, s28\n\t"
      "vmov r8, r9, s29, s30\n\t"
      "vmov r10, r11, s27, s28\n\t"
      "vmov r12, lr, s29, s30\n\t"
      AK_DWN_PAIR_ROW("s0, s1", "s2, s3", "s4, s5")
      "add r0, r1\n\t"
      AK_DWN_PAIR_ROW("s6, s7", "s8, s9", "s10, s11")
      "add r0, r1\n\t"
      AK_DWN_PAIR_ROW("s12, s13", "s14, s15", "s16, s17")
      "sub r0, r0, r1, lsl #1\n\t"
      "adds r0, #8\n\t"
      AK_FRQ_PAIR8("s26", "s18, s19", "s20, s21", "s22, s23", "s24, s25")
      "ldr r2, %[op]\n\t"
      "ldr r3, %[oc]\n\t"
      "str r6, [r2]\n\t"
      "str r10, [r2, r3]\n\t"
      "add r2, r2, r3, lsl #1\n\t"
      "str r2, %[op]\n\t"
      "ldr r2, %[left]\n\t"
      "subs r2, r2, #1\n\t"
      "str r2, %[left]\n\t"
      "bne 1b\n\t"
      "3:\n\t"
      "ldr r2, %[odd]\n\t"
      "cmp r2, #0\n\t"
      "beq 4f\n\t"
      "vmov r6, r7, s27, s28\n\t"  /* the odd last pixel */
      "vmov r8, r9, s29, s30\n\t"
      AK_DWN_ROW("s0, s1", "s2, s3", "s4, s5")
      "add r0, r1\n\t"
      AK_DWN_ROW("s6, s7", "s8, s9", "s10, s11")
      "add r0, r1\n\t"
      AK_DWN_ROW("s12, s13", "s14, s15", "s16, s17")
      "sub r0, r0, r1, lsl #1\n\t"
      "adds r0, #4\n\t"
      AK_DWN_RQ4
      "ldr r2, %[op]\n\t"
      "ldr r3, %[oc]\n\t"
      "str r6, [r2]\n\t"
      "add r2, r3\n\t"
      "str r2, %[op]\n\t"
      "4:\n\t"
      "ldr r2, %[jump]\n\t"  /* the next output row */
      "add r0, r2\n\t"
      "ldr r2, %[rows]\n\t"
      "subs r2, r2, #1\n\t"
      "str r2, %[rows]\n\t"
      "bne 0b"
      : "+r"(px), "+r"(kp), "+r"(bp), [op] "+m"(op), [rows] "+m"(rows), [left] "+m"(left)
      : "r"(row), [oc] "m"(oc), [pairs] "m"(pairs), [odd] "m"(odd), [jump] "m"(jump)
      : "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12", "lr", "cc", "memory", AK_DWN_FPU);
#undef AK_DWN_PAIR_ROW
#undef AK_DWN_PAIR_TAP
}
#endif

/* All output pixels of one channel group: x its plane (the first output's top-left tap), o its first output
 * (channel c of pixel 0), k its AK_DWN_GROUP constants, bias its 4 accumulator starts (input offset folded in). */
static __attribute__((noinline)) void ak_dwn_group(const int32_t *x, int8_t *o, const int32_t *k,
                                                   const int32_t *bias, const ak_dwn_walk *wk) {
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
  /* r0 x, r1 the plane's row stride, r2 the input word, r3 SXTB16's / the right shifts, r4-r5 two weight words /
   * (multiplier, rounding constant), r6-r9 the 4 channels' accumulators, r10 o, r11 out_c, r12 pixels left in the
   * row, lr from past a pixel's last tap row to the next pixel; the row jump and row count on the stack. */
  if (wk->pix_bytes == 4 && wk->out_w >= 4) {  /* (3-pixel rows: one pair and one pixel, the loop below is faster) */
    ak_dwn_pairs_s1(x, o, k, bias, wk);
    return;
  }
  register const int32_t *px __asm__("r0") = x;
  register int32_t row __asm__("r1") = wk->row_bytes;
  register const int32_t *kp __asm__("r2") = k;
  register const int32_t *bp __asm__("r3") = bias;
  register int8_t *po __asm__("r10") = o;
  register int32_t oc __asm__("r11") = wk->out_c;
  register int32_t n __asm__("r12") = wk->out_w;
  register int32_t step __asm__("lr") = wk->pix_bytes - 2 * wk->row_bytes;
  const int32_t jump = wk->jump_bytes, out_w = wk->out_w;
  int32_t rows = wk->out_h;
  __asm__ volatile(
      "vldmia r2, {s0-s26}\n\t"
      "vldmia r3, {s27-s30}\n\t"
      "1:\n\t"
      "vmov r6, r7, s27, s28\n\t"
      "vmov r8, r9, s29, s30\n\t"
      AK_DWN_ROW("s0, s1", "s2, s3", "s4, s5")
      "add r0, r1\n\t"
      AK_DWN_ROW("s6, s7", "s8, s9", "s10, s11")
      "add r0, r1\n\t"
      AK_DWN_ROW("s12, s13", "s14, s15", "s16, s17")
      "add r0, lr\n\t"
      AK_DWN_RQ4
      "str r6, [r10]\n\t"
      "add r10, r11\n\t"
      "subs r12, r12, #1\n\t"
      "bne 1b\n\t"
      "ldr r2, %[jump]\n\t"  /* the next output row */
      "add r0, r2\n\t"
      "ldr r12, %[outw]\n\t"
      "ldr r2, %[rows]\n\t"
      "subs r2, r2, #1\n\t"
      "str r2, %[rows]\n\t"
      "bne 1b"
      : "+r"(px), "+r"(kp), "+r"(bp), "+r"(po), "+r"(n), [rows] "+m"(rows)
      : "r"(row), "r"(oc), "r"(step), [jump] "m"(jump), [outw] "m"(out_w)
      : "r4", "r5", "r6", "r7", "r8", "r9", "cc", "memory", AK_DWN_FPU);
#else
  const int32_t wp = wk->row_bytes >> 2, pix = wk->pix_bytes >> 2, jump = wk->jump_bytes >> 2;
  for (int32_t oy = 0; oy < wk->out_h; oy++, x += jump) {
    for (int32_t ox = 0; ox < wk->out_w; ox++, x += pix, o += wk->out_c) {
      int32_t a[4] = {bias[0], bias[1], bias[2], bias[3]};
      for (int32_t t = 0; t < 9; t++) {
        const int32_t v = x[(t / 3) * wp + t % 3], xl = ak_sxtb16(v), xh = ak_sxtb16_ror8(v);
        a[0] = ak_smlabb(xl, k[2 * t], a[0]), a[2] = ak_smlatt(xl, k[2 * t], a[2]);
        a[1] = ak_smlabb(xh, k[2 * t + 1], a[1]), a[3] = ak_smlatt(xh, k[2 * t + 1], a[3]);
      }
      for (int j = 0; j < 4; j++) {
        const int32_t kj[3] = {k[18 + 2 * j], k[19 + 2 * j], (int32_t)(((uint32_t)k[26] >> (8 * j)) & 0xFFu)};
        ak_dwp_requant(&a[j], o + j, 1, 1, kj);
      }
    }
  }
#endif
}

#undef AK_DWN_FPU
#undef AK_DWN_RQ4
#undef AK_DWN_ROW
#undef AK_DWN_TAP
#undef AK_DWN_MACS
#undef AK_FRQ_PAIR8
#undef AK_FRQ_PACK
#undef AK_FRQ2
#undef AK_FRQ1
#undef AK_FRQ_ONE

int32_t armlprof_dwconv_s8_n3(ARMLPROF_CONV_ARGS) {
  const int32_t *blk = qp + out_c * AK_QP_STRIDE;  /* the flag word, then the groups' constants */
  const int32_t hp = (out_h - 1) * s_h + 3, wp = (out_w - 1) * s_w + 3;
  if (k_h != 3 || k_w != 3 || d_h != 1 || d_w != 1 || out_c != in_c || in_c % 4 || blk[0] != 1 ||
      act_lo != -128 || act_hi != 127 || hp * wp * in_c > AK_DWN_BYTES)
    return -1;  /* kernels.dw_runs_r1 plans r1 for these */
  AK_GEOM;
  (void)w;  /* n3 reads its weights from its block (kernels.py passes none) */
  int32_t buf[(hp * wp * in_c) >> 2];
  ak_dwn_pad(buf, in, &g, hp, wp);
  const ak_dwn_walk wk = {4 * wp, 4 * s_w, 4 * (s_h * wp - out_w * s_w), out_w, out_h, out_c};
  for (int32_t c = 0; c < in_c; c += 4) {
    const int32_t *k = blk + 1 + (c >> 2) * AK_DWN_GROUP;
    int32_t bias[4];
    for (int j = 0; j < 4; j++) bias[j] = (int32_t)((uint32_t)k[27 + j] - (uint32_t)in_zp * (uint32_t)k[31 + j]);
    ak_dwn_group(buf + (c >> 2) * hp * wp, out + c, k, bias, &wk);
  }
  return 0;
}

/* ---------------------------------------------------------------- average pooling (pool a4) */
/* TFLM's int8 AVERAGE_POOL_2D (reference_integer_ops::AveragePool; CMSIS-NN's arm_avgpool_s8 computes the same):
 * per output pixel the sum of the window's taps inside the input, divided by their count rounding half away from
 * zero, then clamped. 4 channels per pass: SXTAB16 adds a tap's word into two int16 lane pairs (channels 0, 2 and
 * 1, 3), exact for windows of at most AK_POOL_MAX_TAPS taps (|sum| <= 128 * 255 < 2^15; kernels.plan leaves larger
 * ones to the TE loop). */
typedef struct {
  int32_t c, span, row_skip, rows, count, half, lo, hi;  /* span: a window row's bytes; row_skip: to the next row */
} ak_pool_window;

AK_INLINE int8_t ak_pool_average(int32_t sum, const ak_pool_window *pw) {
  const int32_t a = (sum > 0 ? sum + pw->half : sum - pw->half) / pw->count;
  return (int8_t)(a < pw->lo ? pw->lo : a > pw->hi ? pw->hi : a);
}

/* One output pixel, its window at `win` (out of line: the pixel loop's values stay out of its registers) */
static __attribute__((noinline)) void ak_pool_pixel(const int8_t *win, int8_t *o, const ak_pool_window *pw) {
  const int32_t c = pw->c, span = pw->span, row_skip = pw->row_skip;  /* (the rest read per use: no spills) */
  for (const int8_t *end = win + c; win != end; win += 4, o += 4) {
    int32_t s02 = 0, s13 = 0;  /* (channel 0, channel 2), (channel 1, channel 3) */
    const int8_t *p = win;
    int32_t y = pw->rows;
    do {  /* (do-while: every window has a tap; GCC's loops then test once per turn) */
      const int8_t *row_end = p + span;
      do {
        const int32_t v = ak_read32(p);
        s02 = ak_sxtab16(s02, v), s13 = ak_sxtab16_ror8(s13, v);
        p += c;
      } while (p != row_end);
      p += row_skip;
    } while (--y);
    o[0] = ak_pool_average(ak_lo16(s02), pw), o[1] = ak_pool_average(ak_lo16(s13), pw);
    o[2] = ak_pool_average(ak_hi16(s02), pw), o[3] = ak_pool_average(ak_hi16(s13), pw);
  }
}

int32_t armlprof_avgpool_s8_a4(ARMLPROF_POOL_ARGS) {
  if (c <= 0 || c % 4 || k_h * k_w > AK_POOL_MAX_TAPS) return -1;
  const int32_t row = in_w * c;
  for (int32_t oy = 0; oy < out_h; oy++) {
    const int32_t y0 = oy * s_h - pad_t, fy0 = y0 < 0 ? -y0 : 0, fy1 = in_h - y0 < k_h ? in_h - y0 : k_h;
    for (int32_t ox = 0; ox < out_w; ox++, out += c) {
      const int32_t x0 = ox * s_w - pad_l, fx0 = x0 < 0 ? -x0 : 0, fx1 = in_w - x0 < k_w ? in_w - x0 : k_w;
      const int32_t rows = fy1 - fy0, cols = fx1 - fx0;
      if (rows <= 0 || cols <= 0) return -1;  /* an empty window: TFLM fails the invoke too */
      const ak_pool_window pw = {c, cols * c, row - cols * c, rows, rows * cols, rows * cols / 2, act_lo, act_hi};
      ak_pool_pixel(in + (y0 + fy0) * row + (x0 + fx0) * c, out, &pw);
    }
  }
  return 0;
}
