/* armlprof int8 micro-kernels (see armlprof_kernels.h). */
#include "armlprof_kernels.h"

#include <string.h>

#define AK_INLINE static inline __attribute__((always_inline))

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
AK_INLINE int32_t ak_pack16(int32_t lo, int32_t hi) {
  return (int32_t)(((uint32_t)lo & 0xFFFFu) | ((uint32_t)hi << 16));
}
AK_INLINE int32_t ak_lo16(int32_t x) { return (int16_t)(uint16_t)((uint32_t)x & 0xFFFFu); }
AK_INLINE int32_t ak_hi16(int32_t x) { return x >> 16; }
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

AK_INLINE int32_t ak_read32(const int8_t *p) {  /* unaligned-safe; one LDR on the M4 */
  int32_t v;
  memcpy(&v, p, 4);
  return v;
}

/* ---------------------------------------------------------------- requantization (TFLite, bit for bit) */
/* Per output channel, 4 int32 (prepared offline): bias (+ input offset x sum of weights when folded),
 * Q31 multiplier, left shift, right shift. */
#define AK_QP_STRIDE 4

AK_INLINE int8_t ak_requant(int32_t acc, const int32_t *qp, int32_t out_zp, int32_t lo, int32_t hi) {
  int32_t x = (int32_t)((uint32_t)(acc + qp[0]) << qp[2]);  /* x * (1 << left), wrapping as TFLM's int32 */
  /* SaturatingRoundingDoublingHighMul: trunc((ab + (ab >= 0 ? 2^30 : 1 - 2^30)) / 2^31) == (ab + 2^30) >> 31,
   * and the multiplier is never INT32_MIN, so it never saturates. */
  x = (int32_t)(((int64_t)x * qp[1] + (1LL << 30)) >> 31);
  /* RoundingDivideByPOT */
  int32_t e = qp[3];
  int32_t mask = (int32_t)((1u << e) - 1u);
  int32_t threshold = (mask >> 1) + (x < 0);
  x = (x >> e) + ((x & mask) > threshold);
  x = (int32_t)((uint32_t)x + (uint32_t)out_zp);
  x = x < lo ? lo : x;
  x = x > hi ? hi : x;
  return (int8_t)x;
}

/* ---------------------------------------------------------------- GEMM micro-kernel */
/* acc[p][t] = sum_k row_p[k] * w_t[k] over k4 steps of 4; weights packed [k4][T] words (4 int8 of one
 * output channel each). SMLAD of SXTB16(x) with SXTB16(w) pairs k0*k0+k2*k2, the ROR 8 forms k1, k3: both
 * sides use the same pairing, so neither needs reordering. Zero points are folded into the bias. */
#define AK_MAC2(acc, xl, xh, wl, wh) acc = ak_smlad(xh, wh, ak_smlad(xl, wl, acc))

AK_INLINE void ak_gemm_tile(const int8_t *r0, const int8_t *r1, const int32_t *pw, int32_t k4, int32_t *acc,
                            const int T, const int P, const int U) {
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
  const int32_t *end = pw + k4 * T;
  if (U == 2) {
    for (const int32_t *end2 = pw + (k4 & ~1) * T; pw != end2;) {
      AK_STEP;
      AK_STEP;
    }
  }
  while (pw != end) AK_STEP;
#undef AK_STEP
  acc[0] = c00, acc[1] = c01;
  if (T == 4) acc[2] = c02, acc[3] = c03;
  if (P == 2) {
    acc[T] = c10, acc[T + 1] = c11;
    if (T == 4) acc[T + 2] = c12, acc[T + 3] = c13;
  }
}

/* One out-of-line tile function per (T, P, U): its loop gets the registers to itself. */
#define AK_TILE_FN(T, P, U)                                                                                 \
  static __attribute__((noinline)) void ak_tile_t##T##p##P##u##U(const int8_t *r0, const int8_t *r1,      \
                                                                 const int32_t *pw, int32_t k4, int32_t *acc) { \
    ak_gemm_tile(r0, r1, pw, k4, acc, T, P, U);                                                            \
  }
#define AK_TILE_FNS(T, U) AK_TILE_FN(T, 1, U) AK_TILE_FN(T, 2, U)
AK_TILE_FNS(2, 1)
AK_TILE_FNS(4, 1)
AK_TILE_FNS(2, 2)
AK_TILE_FNS(4, 2)

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
  for (; n >= 4; n -= 4, dst += 4, src += 4) memcpy(dst, src, 4);
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

AK_INLINE void ak_store(const ak_geom *g, int8_t *out_px, const int32_t *acc, const int32_t *qp, int32_t oc,
                        const int T) {
  for (int t = 0; t < T && oc + t < g->out_c; t++)
    out_px[oc + t] = ak_requant(acc[t], qp + (oc + t) * AK_QP_STRIDE, g->out_zp, g->act_lo, g->act_hi);
}

typedef void (*ak_tile_fn)(const int8_t *, const int8_t *, const int32_t *, int32_t, int32_t *);

AK_INLINE int32_t ak_conv(const ak_geom *g, const int8_t *in, const int8_t *w, const int32_t *qp, int8_t *out,
                          const int T, const int P, ak_tile_fn tile1, ak_tile_fn tile2) {
  int32_t k = g->k_h * g->k_w * g->in_c;
  int32_t k_pad = (k + 3) & ~3;
  int32_t k4 = k_pad >> 2;
  int direct = g->k_h == 1 && g->k_w == 1 && (g->in_c & 3) == 0 && g->pad_t == 0 && g->pad_l == 0;
  int32_t pixels = g->out_h * g->out_w;
  int32_t oc_tiles = (g->out_c + T - 1) / T;
  int32_t col_words = direct ? 1 : 2 * k4;  /* two im2col rows, word aligned */
  int32_t col32[col_words];
  int8_t *col0 = (int8_t *)col32, *col1 = col0 + k_pad;
  int32_t oy = 0, ox = 0;  /* of pixel `pix` */
  for (int32_t pix = 0; pix < pixels; pix += P) {
    int pair = P == 2 && pix + 1 < pixels;
    int32_t oy1 = oy, ox1 = ox + 1;
    if (ox1 == g->out_w) oy1++, ox1 = 0;
    const int8_t *r0, *r1;
    if (direct) {
      r0 = in + ((oy * g->s_h) * g->in_w + ox * g->s_w) * g->in_c;
      r1 = in + ((oy1 * g->s_h) * g->in_w + ox1 * g->s_w) * g->in_c;
    } else {
      r0 = ak_im2col(g, in, oy, ox, col0, k_pad);
      r1 = pair ? ak_im2col(g, in, oy1, ox1, col1, k_pad) : r0;
    }
    const int32_t *pw = (const int32_t *)(const void *)w;
    for (int32_t tile = 0; tile < oc_tiles; tile++) {
      int32_t oc = tile * T;
      int32_t acc[8];
      (pair ? tile2 : tile1)(r0, r1, pw, k4, acc);
      ak_store(g, out + pix * g->out_c, acc, qp, oc, T);
      if (pair) ak_store(g, out + (pix + 1) * g->out_c, acc + T, qp, oc, T);
      pw += k4 * T;
    }
    oy = oy1, ox = ox1;
    if (P == 2) {
      if (++ox == g->out_w) oy++, ox = 0;
    }
  }
  return 0;
}

#define AK_CONV_VARIANT(T, P, U)                                                                              \
  int32_t armlprof_conv_s8_t##T##p##P##u##U(ARMLPROF_CONV_ARGS) {                                         \
    AK_GEOM;                                                                                                  \
    return ak_conv(&g, in, w, qp, out, T, P, ak_tile_t##T##p1u##U, ak_tile_t##T##p2u##U);                                                              \
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
/* Channels c..c+3 of output pixel(s) at (oy, ox[+1]): valid taps only (TFLM skips padding taps), the input
 * offset added while sign-extending (SXTAB16), one SMLABB/SMLATT per MAC. With P = 2 the two pixels share
 * each weight word. Requires in_c % 4 == 0; the remaining channels take the scalar path. */
AK_INLINE void ak_dw_group(const ak_geom *g, const int8_t *in, const int8_t *w, int32_t c, int32_t oy,
                           int32_t ox, int32_t *acc, const int P) {
  int32_t off2 = (int32_t)(((uint32_t)(-g->in_zp) & 0xFFFFu) | ((uint32_t)(-g->in_zp) << 16));
  int32_t iy0 = oy * g->s_h - g->pad_t, ix0 = ox * g->s_w - g->pad_l;
  int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0;
  for (int32_t ky = 0; ky < g->k_h; ky++) {
    int32_t iy = iy0 + ky * g->d_h;
    if (iy < 0 || iy >= g->in_h) continue;
    const int8_t *in_row = in + iy * g->in_w * g->in_c + c;
    const int8_t *w_row = w + ky * g->k_w * g->in_c + c;
    for (int32_t kx = 0; kx < g->k_w; kx++) {
      int32_t ix = ix0 + kx * g->d_w;
      int32_t wv = ak_read32(w_row + kx * g->in_c);
      int32_t wl = ak_sxtb16(wv), wh = ak_sxtb16_ror8(wv);
      if (ix >= 0 && ix < g->in_w) {
        int32_t xv = ak_read32(in_row + ix * g->in_c);
        int32_t xl = ak_sxtab16(off2, xv), xh = ak_sxtab16_ror8(off2, xv);
        a0 = ak_smlabb(xl, wl, a0);
        a2 = ak_smlatt(xl, wl, a2);
        a1 = ak_smlabb(xh, wh, a1);
        a3 = ak_smlatt(xh, wh, a3);
      }
      if (P == 2) {
        int32_t jx = ix + g->s_w;
        if (jx >= 0 && jx < g->in_w) {
          int32_t xv = ak_read32(in_row + jx * g->in_c);
          int32_t xl = ak_sxtab16(off2, xv), xh = ak_sxtab16_ror8(off2, xv);
          b0 = ak_smlabb(xl, wl, b0);
          b2 = ak_smlatt(xl, wl, b2);
          b1 = ak_smlabb(xh, wh, b1);
          b3 = ak_smlatt(xh, wh, b3);
        }
      }
    }
  }
  acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
  if (P == 2) acc[4] = b0, acc[5] = b1, acc[6] = b2, acc[7] = b3;
}

AK_INLINE int32_t ak_dw_scalar(const ak_geom *g, const int8_t *in, const int8_t *w, int32_t c, int32_t oy,
                               int32_t ox) {
  int32_t acc = 0;
  for (int32_t ky = 0; ky < g->k_h; ky++) {
    int32_t iy = oy * g->s_h - g->pad_t + ky * g->d_h;
    if (iy < 0 || iy >= g->in_h) continue;
    for (int32_t kx = 0; kx < g->k_w; kx++) {
      int32_t ix = ox * g->s_w - g->pad_l + kx * g->d_w;
      if (ix < 0 || ix >= g->in_w) continue;
      acc += (in[(iy * g->in_w + ix) * g->in_c + c] - g->in_zp) * w[(ky * g->k_w + kx) * g->in_c + c];
    }
  }
  return acc;
}

AK_INLINE int32_t ak_dwconv(const ak_geom *g, const int8_t *in, const int8_t *w, const int32_t *qp, int8_t *out,
                            const int P) {
  int32_t groups = g->in_c >> 2;
  for (int32_t oy = 0; oy < g->out_h; oy++) {
    for (int32_t ox = 0; ox < g->out_w; ox += P) {
      int pair = P == 2 && ox + 1 < g->out_w;
      int8_t *o0 = out + (oy * g->out_w + ox) * g->out_c;
      for (int32_t grp = 0; grp < groups; grp++) {
        int32_t c = grp * 4, acc[8];
        if (pair)
          ak_dw_group(g, in, w, c, oy, ox, acc, 2);
        else
          ak_dw_group(g, in, w, c, oy, ox, acc, 1);
        for (int t = 0; t < 4; t++) {
          o0[c + t] = ak_requant(acc[t], qp + (c + t) * AK_QP_STRIDE, g->out_zp, g->act_lo, g->act_hi);
          if (pair)
            o0[g->out_c + c + t] =
                ak_requant(acc[4 + t], qp + (c + t) * AK_QP_STRIDE, g->out_zp, g->act_lo, g->act_hi);
        }
      }
      for (int32_t c = groups * 4; c < g->in_c; c++) {
        for (int p = 0; p < 1 + pair; p++)
          o0[p * g->out_c + c] = ak_requant(ak_dw_scalar(g, in, w, c, oy, ox + p), qp + c * AK_QP_STRIDE,
                                            g->out_zp, g->act_lo, g->act_hi);
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
