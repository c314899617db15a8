/* armlprof: on-device TVM graph executor. See graph_executor.h.
 * The JSON reader is a small streaming parser (like dmlc::JSONReader used by TVM's graph executor):
 * it walks the text once and keeps only what the executor needs. */
#include "graph_executor.h"

#include <stdlib.h>
#include <string.h>

#define NAME_MAX_BYTES 96

static const char *last_error = "";
const char *armlprof_graph_error(void) { return last_error; }

/* ------------------------------------------------------------------ JSON reader */
typedef struct {
  const char *p;
  int failed;
} json_reader;

static void json_fail(json_reader *r, const char *why) {
  if (!r->failed) last_error = why;
  r->failed = 1;
}

static char json_peek(json_reader *r) {
  while (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t') r->p++;
  return *r->p;
}

static int json_expect(json_reader *r, char c) {
  if (json_peek(r) != c) {
    json_fail(r, "json: unexpected character");
    return 0;
  }
  r->p++;
  return 1;
}

/* Reads a string into buf (truncated to size-1). */
static void json_string(json_reader *r, char *buf, size_t size) {
  size_t n = 0;
  if (!json_expect(r, '"')) return;
  while (*r->p && *r->p != '"') {
    char c = *r->p++;
    if (c == '\\' && *r->p) c = *r->p++;
    if (n + 1 < size) buf[n++] = c;
  }
  if (!json_expect(r, '"')) return;
  if (size) buf[n] = 0;
}

static long json_int(json_reader *r) {
  char *end;
  long v;
  json_peek(r);
  v = strtol(r->p, &end, 10);
  if (end == r->p) json_fail(r, "json: number expected");
  r->p = end;
  return v;
}

/* Array iteration: call json_begin(r, '[') then while (json_next(r, ']')) { item }. */
static int json_begin(json_reader *r, char open) { return json_expect(r, open); }

static int json_next(json_reader *r, char close, int *first) {
  char c = json_peek(r);
  if (r->failed) return 0;
  if (c == close) {
    r->p++;
    return 0;
  }
  if (!*first && !json_expect(r, ',')) return 0;
  *first = 0;
  return 1;
}

/* Object iteration: reads the next key into key; 0 at the closing brace. */
static int json_next_key(json_reader *r, char *key, size_t size, int *first) {
  if (!json_next(r, '}', first)) return 0;
  json_string(r, key, size);
  return json_expect(r, ':');
}

static void json_skip(json_reader *r) {
  char c = json_peek(r);
  int first = 1;
  char key[NAME_MAX_BYTES];
  if (c == '"') {
    json_string(r, key, sizeof key);
  } else if (c == '[') {
    json_begin(r, '[');
    while (json_next(r, ']', &first)) json_skip(r);
  } else if (c == '{') {
    json_begin(r, '{');
    while (json_next_key(r, key, sizeof key, &first)) json_skip(r);
  } else {
    json_int(r);
  }
}

/* A growable int array. */
typedef struct {
  int32_t *v;
  int n, cap;
} int_list;

static void int_push(json_reader *r, int_list *l, int32_t x) {
  if (l->n == l->cap) {
    int cap = l->cap ? l->cap * 2 : 8;
    int32_t *v = (int32_t *)realloc(l->v, (size_t)cap * sizeof *v);
    if (!v) {
      json_fail(r, "out of memory");
      return;
    }
    l->v = v;
    l->cap = cap;
  }
  l->v[l->n++] = x;
}

static void json_int_list(json_reader *r, int_list *l) {
  int first = 1;
  json_begin(r, '[');
  while (json_next(r, ']', &first)) int_push(r, l, (int32_t)json_int(r));
}

/* ------------------------------------------------------------------ graph */
typedef struct {
  int is_op;
  char name[NAME_MAX_BYTES];
  char func_name[NAME_MAX_BYTES];
  int_list inputs; /* node ids (output index 0) */
} graph_node;

typedef struct {
  armlprof_tvm_packed_fn fn;
  TVMFFIAny *args;
  int32_t num_args;
} op_exec;

struct armlprof_graph_executor {
  int num_nodes;
  graph_node *nodes;
  int_list arg_nodes, heads, row_ptr, storage_id, dltype_bits, shape_flat, shape_ndim;
  int num_entries;
  DLTensor *entries;
  int64_t *shapes;
  int num_storage;
  void **storage;
  op_exec *execs;
  int num_execs;
  int_list input_entries; /* the graph's input nodes' entries, in node order (TVM's input index) */
  /* heads hold the output entries once setup has run (TVM's output index) */
};

static void parse_node(json_reader *r, graph_node *node) {
  char key[NAME_MAX_BYTES], akey[NAME_MAX_BYTES], op[16];
  int first = 1;
  memset(node, 0, sizeof *node);
  json_begin(r, '{');
  while (json_next_key(r, key, sizeof key, &first)) {
    if (!strcmp(key, "op")) {
      json_string(r, op, sizeof op);
      node->is_op = !strcmp(op, "tvm_op");
    } else if (!strcmp(key, "name")) {
      json_string(r, node->name, sizeof node->name);
    } else if (!strcmp(key, "inputs")) {
      int f = 1;
      json_begin(r, '[');
      while (json_next(r, ']', &f)) {
        int_list triple = {0};
        json_int_list(r, &triple);
        if (triple.n >= 1) int_push(r, &node->inputs, triple.v[0]);
        free(triple.v);
      }
    } else if (!strcmp(key, "attrs")) {
      int f = 1;
      json_begin(r, '{');
      while (json_next_key(r, akey, sizeof akey, &f)) {
        if (!strcmp(akey, "func_name")) json_string(r, node->func_name, sizeof node->func_name);
        else json_skip(r);
      }
    } else {
      json_skip(r);
    }
  }
}

static int dtype_bits(const char *s) {
  if (!strcmp(s, "int8")) return 8;
  if (!strcmp(s, "int16")) return 16; /* int16x8 activations */
  if (!strcmp(s, "int32")) return 32;
  if (!strcmp(s, "int64")) return 64; /* int16x8 biases */
  return 0;
}

static void parse_attrs(json_reader *r, armlprof_graph_executor *g) {
  char key[NAME_MAX_BYTES], kind[16], s[16];
  int first = 1;
  json_begin(r, '{');
  while (json_next_key(r, key, sizeof key, &first)) {
    int f = 1;
    json_begin(r, '[');
    json_string(r, kind, sizeof kind);
    json_expect(r, ',');
    if (!strcmp(key, "storage_id")) {
      json_int_list(r, &g->storage_id);
    } else if (!strcmp(key, "dltype")) {
      json_begin(r, '[');
      while (json_next(r, ']', &f)) {
        json_string(r, s, sizeof s);
        int_push(r, &g->dltype_bits, dtype_bits(s));
      }
    } else if (!strcmp(key, "shape")) {
      json_begin(r, '[');
      while (json_next(r, ']', &f)) {
        int before = g->shape_flat.n;
        json_int_list(r, &g->shape_flat);
        int_push(r, &g->shape_ndim, g->shape_flat.n - before);
      }
    } else {
      json_skip(r);
    }
    json_expect(r, ']');
  }
}

static int parse_graph(armlprof_graph_executor *g, const char *text) {
  json_reader r = {text, 0};
  char key[NAME_MAX_BYTES];
  int first = 1, cap = 0;
  json_begin(&r, '{');
  while (json_next_key(&r, key, sizeof key, &first)) {
    if (!strcmp(key, "nodes")) {
      int f = 1;
      json_begin(&r, '[');
      while (json_next(&r, ']', &f)) {
        if (g->num_nodes == cap) {
          int ncap = cap ? cap * 2 : 16;
          graph_node *n = (graph_node *)realloc(g->nodes, (size_t)ncap * sizeof *n);
          if (!n) {
            json_fail(&r, "out of memory");
            break;
          }
          g->nodes = n;
          cap = ncap;
        }
        parse_node(&r, &g->nodes[g->num_nodes++]);
      }
    } else if (!strcmp(key, "arg_nodes")) {
      json_int_list(&r, &g->arg_nodes);
    } else if (!strcmp(key, "heads")) {
      int f = 1;
      json_begin(&r, '[');
      while (json_next(&r, ']', &f)) {
        int_list triple = {0};
        json_int_list(&r, &triple);
        if (triple.n >= 1) int_push(&r, &g->heads, triple.v[0]);
        free(triple.v);
      }
    } else if (!strcmp(key, "node_row_ptr")) {
      json_int_list(&r, &g->row_ptr);
    } else if (!strcmp(key, "attrs")) {
      parse_attrs(&r, g);
    } else {
      json_skip(&r);
    }
  }
  return r.failed ? -1 : 0;
}

static int entry_of(const armlprof_graph_executor *g, int node) {
  return g->row_ptr.n > node ? g->row_ptr.v[node] : node;
}

static const void *find_param(const armlprof_graph_param *params, const char *name) {
  for (; params && params->name; params++)
    if (!strcmp(params->name, name)) return params->data;
  return NULL;
}

static armlprof_tvm_packed_fn find_function(const armlprof_graph_function *fns, const char *name) {
  for (; fns && fns->name; fns++)
    if (!strcmp(fns->name, name)) return fns->fn;
  return NULL;
}

static int setup(armlprof_graph_executor *g, const armlprof_graph_function *functions,
                 const armlprof_graph_param *params) {
  int i, e, off = 0;
  size_t *storage_bytes;
  g->num_entries = g->row_ptr.n ? g->row_ptr.v[g->row_ptr.n - 1] : g->num_nodes;
  if (g->storage_id.n != g->num_entries || g->dltype_bits.n != g->num_entries ||
      g->shape_ndim.n != g->num_entries || g->heads.n < 1) {
    last_error = "graph: attrs do not match the number of entries";
    return -1;
  }
  g->entries = (DLTensor *)calloc((size_t)g->num_entries, sizeof *g->entries);
  g->shapes = (int64_t *)malloc((size_t)(g->shape_flat.n ? g->shape_flat.n : 1) * sizeof *g->shapes);
  if (!g->entries || !g->shapes) return -1;
  for (i = 0; i < g->shape_flat.n; i++) g->shapes[i] = g->shape_flat.v[i];
  g->num_storage = 0;
  for (e = 0; e < g->num_entries; e++)
    if (g->storage_id.v[e] + 1 > g->num_storage) g->num_storage = g->storage_id.v[e] + 1;
  storage_bytes = (size_t *)calloc((size_t)g->num_storage, sizeof *storage_bytes);
  g->storage = (void **)calloc((size_t)g->num_storage, sizeof *g->storage);
  if (!storage_bytes || !g->storage) {
    free(storage_bytes);
    return -1;
  }
  for (e = 0; e < g->num_entries; e++) {
    DLTensor *t = &g->entries[e];
    size_t bytes = (size_t)(g->dltype_bits.v[e] / 8);
    int d;
    t->device.device_type = kDLCPU;
    t->ndim = g->shape_ndim.v[e];
    t->dtype.code = kDLInt;
    t->dtype.bits = (uint8_t)g->dltype_bits.v[e];
    t->dtype.lanes = 1;
    t->shape = g->shapes + off;
    for (d = 0; d < t->ndim; d++) bytes *= (size_t)g->shapes[off + d];
    off += t->ndim;
    if (bytes > storage_bytes[g->storage_id.v[e]]) storage_bytes[g->storage_id.v[e]] = bytes;
  }
  /* Parameters point into flash and need no storage; every other storage id gets one heap block. */
  for (i = 0; i < g->num_nodes; i++) {
    e = entry_of(g, i);
    if (!g->nodes[i].is_op) {
      const void *data = find_param(params, g->nodes[i].name);
      if (data) {
        g->entries[e].data = (void *)data;
        storage_bytes[g->storage_id.v[e]] = 0;
      } else { /* an arg node that is no parameter is an input, as in TVM's graph executor */
        json_reader oom = {"", 0};
        int_push(&oom, &g->input_entries, e);
        if (oom.failed) {
          free(storage_bytes);
          return -1;
        }
      }
    }
  }
  for (i = 0; i < g->num_storage; i++) {
    if (storage_bytes[i] == 0) continue;
    g->storage[i] = malloc(storage_bytes[i]);
    if (!g->storage[i]) {
      last_error = "graph: out of memory for storage";
      free(storage_bytes);
      return -1;
    }
  }
  free(storage_bytes);
  for (e = 0; e < g->num_entries; e++)
    if (!g->entries[e].data) g->entries[e].data = g->storage[g->storage_id.v[e]];
  for (i = 0; i < g->heads.n; i++) g->heads.v[i] = entry_of(g, g->heads.v[i]);
  /* One closure per operator node: function pointer + packed arguments (inputs..., output). */
  g->execs = (op_exec *)calloc((size_t)g->num_nodes, sizeof *g->execs);
  if (!g->execs) return -1;
  for (i = 0; i < g->num_nodes; i++) {
    graph_node *n = &g->nodes[i];
    op_exec *x;
    int a;
    if (!n->is_op) continue;
    x = &g->execs[g->num_execs++];
    x->fn = find_function(functions, n->func_name);
    if (!x->fn) {
      last_error = "graph: unknown operator function";
      return -1;
    }
    x->num_args = n->inputs.n + 1;
    x->args = (TVMFFIAny *)calloc((size_t)x->num_args, sizeof *x->args);
    if (!x->args) return -1;
    for (a = 0; a < x->num_args; a++) {
      int entry = a < n->inputs.n ? entry_of(g, n->inputs.v[a]) : entry_of(g, i);
      x->args[a].type_index = kTVMFFIDLTensorPtr;
      x->args[a].v_ptr = &g->entries[entry];
    }
  }
  return g->input_entries.n > 0 ? 0 : -1;
}

static void free_parse_state(armlprof_graph_executor *g) {
  int i;
  for (i = 0; i < g->num_nodes; i++) free(g->nodes[i].inputs.v);
  free(g->nodes);
  g->nodes = NULL;
  g->num_nodes = 0;
  free(g->arg_nodes.v);
  free(g->dltype_bits.v);
  free(g->shape_flat.v);
  free(g->shape_ndim.v);
  g->arg_nodes.v = g->dltype_bits.v = g->shape_flat.v = g->shape_ndim.v = NULL;
}

armlprof_graph_executor *armlprof_graph_create(const char *graph_json, const armlprof_graph_function *functions,
                                               const armlprof_graph_param *params) {
  armlprof_graph_executor *g = (armlprof_graph_executor *)calloc(1, sizeof *g);
  if (!g) return NULL;
  if (parse_graph(g, graph_json) != 0 || setup(g, functions, params) != 0) {
    armlprof_graph_destroy(g);
    return NULL;
  }
  free_parse_state(g); /* the node list is only needed while binding */
  return g;
}

static size_t entry_bytes(const DLTensor *t) {
  size_t bytes = (size_t)(t->dtype.bits / 8);
  int d;
  for (d = 0; d < t->ndim; d++) bytes *= (size_t)t->shape[d];
  return bytes;
}

int armlprof_graph_set_input(armlprof_graph_executor *g, int index, const int8_t *data, size_t nbytes) {
  DLTensor *t;
  if (index < 0 || index >= g->input_entries.n) return -1;
  t = &g->entries[g->input_entries.v[index]];
  if (nbytes != entry_bytes(t)) return -1;
  memcpy(t->data, data, nbytes);
  return 0;
}

int armlprof_graph_fill_input(armlprof_graph_executor *g, int index, uint8_t value) {
  DLTensor *t;
  if (index < 0 || index >= g->input_entries.n) return -1;
  t = &g->entries[g->input_entries.v[index]];
  memset(t->data, value, entry_bytes(t));
  return 0;
}

int armlprof_graph_run(armlprof_graph_executor *g) {
  int i;
  for (i = 0; i < g->num_execs; i++)
    if (g->execs[i].fn(NULL, g->execs[i].args, g->execs[i].num_args, NULL) != 0) return -(i + 1);
  return 0;
}

int armlprof_graph_get_output(armlprof_graph_executor *g, int index, int8_t *out, size_t nbytes) {
  DLTensor *t;
  if (index < 0 || index >= g->heads.n) return -1;
  t = &g->entries[g->heads.v[index]];
  if (nbytes != entry_bytes(t)) return -1;
  memcpy(out, t->data, nbytes);
  return 0;
}

void armlprof_graph_destroy(armlprof_graph_executor *g) {
  int i;
  if (!g) return;
  if (g->execs)
    for (i = 0; i < g->num_execs; i++) free(g->execs[i].args);
  free(g->execs);
  if (g->storage)
    for (i = 0; i < g->num_storage; i++) free(g->storage[i]);
  free(g->storage);
  free(g->entries);
  free(g->shapes);
  free_parse_state(g);
  free(g->heads.v);
  free(g->input_entries.v);
  free(g->row_ptr.v);
  free(g->storage_id.v);
  free(g);
}
