/* armlprof: the few TVM-FFI / DLPack types that TVM's generated C operators (target "c") use.
 * Replaces tvm/runtime/c_backend_api.h, tvm/ffi/c_api.h and dlpack.h so the operators compile standalone
 * with arm-none-eabi-gcc; layouts match tvm-ffi's c_api.h and dlpack.h (DLPack 1.x). */
#ifndef ARMLPROF_TVM_H
#define ARMLPROF_TVM_H
#include <stddef.h>
#include <stdint.h>

#ifndef TVM_DLL
#define TVM_DLL
#endif

typedef struct {
  int32_t device_type; /* kDLCPU = 1 */
  int32_t device_id;
} DLDevice;

typedef struct {
  uint8_t code; /* kDLInt = 0 */
  uint8_t bits;
  uint16_t lanes;
} DLDataType;

typedef struct {
  void *data;
  DLDevice device;
  int32_t ndim;
  DLDataType dtype;
  int64_t *shape;
  int64_t *strides;
  uint64_t byte_offset;
} DLTensor;

/* One packed-call argument. Operators accept type_index kTVMFFIDLTensorPtr with v_ptr = DLTensor*. */
typedef struct {
  int32_t type_index;
  union {
    uint32_t zero_padding;
    uint32_t small_str_len;
  };
  union {
    int64_t v_int64;
    double v_float64;
    void *v_ptr;
    const char *v_c_str;
  };
} TVMFFIAny;

#define kTVMFFIDLTensorPtr 7
#define kDLCPU 1
#define kDLInt 0

/* The signature of every generated operator: __tvm_ffi_<name>(self, args, num_args, result). */
typedef int32_t (*armlprof_tvm_packed_fn)(void *self, void *args, int32_t num_args, void *result);

/* TFLite's integer arithmetic (gemmlowp fixedpoint.h, tflite MultiplyByQuantizedMultiplier), bit for bit. The
 * generated operators call these instead of spelling them out in TIR: TVM's simplifier is slow on the inlined
 * form and mis-bounds shifts by run-time amounts (armlprof.runtime.tvm.ops._fixedpoint_call). Wrapping
 * multiplies go through uint32_t so they are defined C (TFLM's int32 multiply wraps the same on Cortex-M). */
static inline int32_t armlprof_srdhm(int32_t a, int32_t b) {
  if (a == b && a == INT32_MIN) return INT32_MAX;
  int64_t ab = (int64_t)a * (int64_t)b;
  int64_t nudge = ab >= 0 ? (int64_t)(1 << 30) : (int64_t)(1 - (1 << 30));
  return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

static inline int32_t armlprof_rdbpot(int32_t x, int32_t exponent) {
  int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
  int32_t remainder = x & mask;
  int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

static inline int32_t armlprof_saturating_shift_left(int32_t x, int32_t exponent) {
  int32_t threshold = (int32_t)(((int64_t)1 << (31 - exponent)) - 1);
  if (x > threshold) return INT32_MAX;
  if (x < -threshold) return INT32_MIN;
  return (int32_t)((uint32_t)x << exponent);
}

/* MultiplyByQuantizedMultiplier with shift <= 0 (right shift only). */
static inline int32_t armlprof_mbqm_right(int32_t x, int32_t multiplier, int32_t shift) {
  return armlprof_rdbpot(armlprof_srdhm(x, multiplier), shift < 0 ? -shift : 0);
}

static inline int32_t armlprof_mbqm(int32_t x, int32_t multiplier, int32_t shift) {
  int32_t left = shift > 0 ? shift : 0;
  int32_t right = shift > 0 ? 0 : -shift;
  return armlprof_rdbpot(armlprof_srdhm((int32_t)((uint32_t)x * ((uint32_t)1 << left)), multiplier), right);
}

/* MultiplyByQuantizedMultiplier(int64_t x, ...) of the int16x8 kernels (int64 accumulator): the multiplier
 * rounded to 16 bits, one rounding shift by 15 - shift (TFLM's common.cc; shift < 8, |x| < 2^47 assumed). */
static inline int32_t armlprof_mbqm64(int64_t x, int32_t multiplier, int32_t shift) {
  int32_t reduced = multiplier < 0x7FFF0000 ? (multiplier + (1 << 15)) >> 16 : 0x7FFF;
  int32_t total_shift = 15 - shift;
  return (int32_t)((x * (int64_t)reduced + ((int64_t)1 << (total_shift - 1))) >> total_shift);
}

#endif
