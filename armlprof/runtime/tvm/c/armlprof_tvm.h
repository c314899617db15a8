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

#endif
