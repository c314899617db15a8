/* armlprof: a small on-device TVM graph executor (C, malloc-based), after TVM's CRT graph executor.
 * Parses TVM graph JSON at create time, allocates storage per storage_id from the heap, binds operators
 * and parameters by name, and runs the nodes in order. */
#ifndef ARMLPROF_GRAPH_EXECUTOR_H
#define ARMLPROF_GRAPH_EXECUTOR_H
#include <stddef.h>
#include <stdint.h>

#include "armlprof_tvm.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  const char *name; /* func_name in the graph JSON */
  armlprof_tvm_packed_fn fn;
} armlprof_graph_function;

typedef struct {
  const char *name; /* name of an arg node */
  const void *data; /* constant data (flash) */
} armlprof_graph_param;

typedef struct armlprof_graph_executor armlprof_graph_executor;

/* NULL on a parse error, an unknown operator or parameter, or when malloc fails. Tables end with {NULL, NULL}. */
armlprof_graph_executor *armlprof_graph_create(const char *graph_json, const armlprof_graph_function *functions,
                                               const armlprof_graph_param *params);
/* Input `index` (the graph's input nodes in order) and output `index` (its heads in order), as TVM's
 * set_input/get_output; -1 for an index out of range or a size that is not the tensor's. */
int armlprof_graph_set_input(armlprof_graph_executor *g, int index, const int8_t *data, size_t nbytes);
/* Set every byte of input `index` to `value` (an operator state: an input the model's caller never sets,
 * reset at init); -1 out of range. */
int armlprof_graph_fill_input(armlprof_graph_executor *g, int index, uint8_t value);
int armlprof_graph_run(armlprof_graph_executor *g);
int armlprof_graph_get_output(armlprof_graph_executor *g, int index, int8_t *out, size_t nbytes);
void armlprof_graph_destroy(armlprof_graph_executor *g);
/* Last error (a short static string) for diagnostics. */
const char *armlprof_graph_error(void);

#ifdef __cplusplus
}
#endif
#endif
