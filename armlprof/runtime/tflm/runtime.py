"""Runtime `tflm`: TensorFlow Lite Micro from the user's TFLM tree (armlprof/runtime/tflm/tree.py), as the study
used it.

What `generate` writes into `src/`:
  - `model.h` (the one interface every runtime exposes), and
  - `model_tflm.cpp`: the .tflite flatbuffer as a 16-byte aligned const array (flash), a
    `MicroMutableOpResolver<N>` with exactly the model's operators, a static tensor arena, and
    model_init (op registration + MicroInterpreter construction + AllocateTensors, so init time is real),
    model_inference (copy in, Invoke, copy out), model_deinit (destroys the interpreter).

The arena is static (.bss), as in the study's sketches: it is reserved RAM whether or not the model runs, it
lowers the "unused RAM" figure by its size, and on the Spresense, whose image loads into SRAM, it counts in the
image size ("flash") exactly as the study measured it.

Arena size, unless given (`arena_bytes=`): TFLM's own `arena_used_bytes()` after AllocateTensors on a first
run, + the 16 bytes TFLM asks for alignment, rounded up to 16:
  - exact, when a target can run the board's image (armlprof's emulator, through the Target interface): a probe
    image with the largest arena the board's RAM leaves runs once and reports arena_used_bytes()
    (`measure_arena_on_target`; cached per model, library and board). No host build is needed. The same run
    also finds the smallest arena from used + 16 up that AllocateTensors accepts (16-byte steps, bisection only
    when used + 16 fails): TFLM's memory planner takes
    temporary arena space that arena_used_bytes() does not show afterwards, which in small models is more than
    used + 16; the arena is the larger of the two.
  - otherwise a host estimate: the same generated source runs on the host against a host build of the same tree
    (`measure_arena`). The host is 64-bit, so its tensor/node bookkeeping is larger than on the target, but
    CMSIS-NN's DSP-only scratch buffers (depthwise conv, average pool) are absent there; `target_arena_bytes`
    adds those back from the model's shapes (an upper bound).

The library (libtflm.a) comes from armlprof.runtime.tflm.library.build_library and is linked via
GeneratedModel.extra_objects;
GeneratedModel.extra_build_flags carries the defines and include folders the generated source needs (the same
defines as the library: TF_LITE_STATIC_MEMORY changes TfLiteTensor's layout).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from armlprof.cache import cache_root
from armlprof.errors import ArmlprofError, raise_if_interrupted
from armlprof.runtime.base import GeneratedModel, Runtime, RuntimeOption, write_model_header
from armlprof.runtime.tflm import tree as tflm
from armlprof.runtime.tflm.library import TFLM_CXX_FLAGS, Compiler, TflmLibrary, build_library

if TYPE_CHECKING:
    from armlprof.board import Board
    from armlprof.model import Model

MODEL_SOURCE = "model_tflm.cpp"
HOST_ARENA_BYTES = 16 * 1024 * 1024  # generous arena for the host measurement run
ARENA_ALIGN_BYTES = 16  # TFLM: "the arena needs arena_used_bytes() + 16" for its own alignment


class TflmRuntime(Runtime):
    name = "tflm"
    options = (
        RuntimeOption("tflm_root", Path, "a TFLM tree: the Arduino_TensorFlowLite library folder or a tflite-micro "
                      "checkout (default: $ARMLPROF_TFLM_ROOT, then the Arduino sketchbook's libraries)",
                      in_flags=False),  # where the tree is does not change the code; its version is recorded
        RuntimeOption("kernels", str, "the TFLM kernels (default: CMSIS-NN when the tree has them)",
                      choices=("cmsis-nn", "reference")),
        RuntimeOption("arena_bytes", int, "the tensor arena size in bytes (default: measured on a first run)",
                      minimum=1),
        RuntimeOption("optimization", str, "the library's optimization flag, e.g. -O2 (default: the board's)"),
    )

    def unavailable_reason(self, **options: Any) -> str | None:
        try:
            tree = tflm.find_tree(options.get("tflm_root"))
        except ArmlprofError as exc:
            return str(exc)
        if tree is None:
            return tflm.NOT_FOUND_HINT
        try:
            tree.check_buildable(tree.default_kernels())
        except ArmlprofError as exc:
            return str(exc)
        return None

    def version(self, **options: Any) -> str:
        tree = tflm.find_tree(options.get("tflm_root"))
        return f"TFLM {tree.kind} {tree.version}" if tree else "TFLM (no tree found)"

    def identity(self, **options: Any) -> dict[str, str]:
        """What a record's key holds beyond the options: which tree (kind, version, content hash) and which
        kernels, the default ones included (a second tree, or a tree gaining CMSIS-NN, is another figure)."""
        tree = tflm.find_tree(options.get("tflm_root"))
        if tree is None:
            return {}
        kernels = options.get("kernels") or tree.default_kernels()
        tree.check_buildable(kernels)
        return {"tree": tree.identity(kernels), "kernels": kernels}

    def generate(self, model: Model, src_dir: Path, board: Board, **options: Any) -> GeneratedModel:
        """Options: see `options` (declared, so the base class has checked them)."""
        if model.path is None:
            raise ArmlprofError(f"runtime tflm needs a .tflite model, not {model.spec}; give a .tflite file")
        tree = tflm.require_tree(options.get("tflm_root"))
        kernels = options.get("kernels") or tree.default_kernels()
        tree.check_buildable(kernels)
        ops = resolver_calls(tree, model.operators)

        library = build_library(tree, Compiler.for_board(board, options.get("optimization")), kernels)
        arena_host_bytes = arena_target_used_bytes = None
        if options.get("arena_bytes"):
            arena_bytes = int(options["arena_bytes"])
            arena_source = "explicit"
        else:
            probe = measure_arena_on_target(model, tree, ops, library, board)
            if probe is not None:
                arena_target_used_bytes = probe.used_bytes
                # TFLM's planner also needs temporary arena space that arena_used_bytes() no longer shows after
                # AllocateTensors; in small models that is the larger figure.
                arena_bytes = max(_round_up_16(probe.used_bytes + ARENA_ALIGN_BYTES), probe.smallest_bytes)
                arena_source = "first run on the emulator"
            else:  # no target to run the probe: the host build's figure (the only case that builds for the host)
                arena_host_bytes = measure_arena(model, tree, kernels)
                arena_bytes = target_arena_bytes(model, arena_host_bytes, kernels)
                arena_source = "host measurement + CMSIS-NN DSP scratch"

        src_dir = Path(src_dir)
        write_model_header(src_dir, self.name, model.input_bytes, model.output_bytes, model.input_sizes,
                           model.output_sizes, getattr(model, "stateful", False))
        (src_dir / MODEL_SOURCE).write_text(render_source(model, tree, ops, arena_bytes))
        return GeneratedModel(
            runtime=self.name,
            runtime_version=f"TFLM {tree.kind} {tree.version} ({kernels})",
            src_dir=src_dir,
            input_bytes=model.input_bytes,
            output_bytes=model.output_bytes,
            workspace_bytes=arena_bytes,
            extra_build_flags=library.build_flags(),
            extra_objects=[library.path],
            notes={
                "tflm_root": str(tree.root), "tflm_kind": tree.kind, "tflm_tree": tree.identity(kernels),
                "kernels": kernels,
                "library": str(library.path), "library_cached": library.cached,
                "arena_source": arena_source, "arena_host_used_bytes": arena_host_bytes,
                "arena_target_used_bytes": arena_target_used_bytes,
                "resolver": [m for m in ops],
            },
        )


# ---------------------------------------------------------------- code generation
def resolver_calls(tree: tflm.TflmTree, operators: list[str]) -> list[str]:
    """MicroMutableOpResolver methods for the model's builtin operators, in order, without duplicates."""
    methods = tree.resolver_methods
    calls: list[str] = []
    for op in operators:
        method = methods.get(tflm._normalize_op(op))
        if method is None:
            raise ArmlprofError(f"operator {op} has no MicroMutableOpResolver method in TFLM {tree.version} at "
                                f"{tree.root}; use a newer TFLM tree or another runtime")
        if method not in calls:
            calls.append(method)
    return calls


def _c_bytes(data: bytes, per_line: int = 20) -> str:
    lines = []
    for i in range(0, len(data), per_line):
        lines.append("  " + ",".join(f"0x{b:02x}" for b in data[i:i + per_line]) + ",")
    return "\n".join(lines)


def _io_code(model: Any) -> tuple[str, str]:
    """model_init's checks of every input/output tensor and model_inference's body: copy each input in from its
    offset in the packed buffer, Invoke, copy each output out (armlprof.protocol.io_offsets)."""
    from armlprof.protocol import io_offsets

    # int16x8 models' int16 I/O (little-endian bytes); the int8 models' images stay as they were to the byte
    int16_io = "int16" in model.io_types
    if model.single_io and not int16_io:  # the code single-I/O images always had
        checks = ("  TfLiteTensor* input = g_interpreter->input(0);\n"
                  "  TfLiteTensor* output = g_interpreter->output(0);\n"
                  "  if (input == nullptr || input->type != kTfLiteInt8 || input->bytes != MODEL_INPUT_BYTES) "
                  "return 4;\n"
                  "  if (output == nullptr || (output->type != kTfLiteInt8 && output->type != kTfLiteFloat32) ||\n"
                  "      output->bytes != MODEL_OUTPUT_BYTES) return 5;  "
                  "// float32: a DEQUANTIZE output, carried as its bytes")
        body = ("  memcpy(g_interpreter->input(0)->data.int8, input, MODEL_INPUT_BYTES);\n"
                "  if (g_interpreter->Invoke() != kTfLiteOk) return 2;\n"
                "  memcpy(output, g_interpreter->output(0)->data.int8, MODEL_OUTPUT_BYTES);")
        return checks, body
    checks_lines = [f"  if (g_interpreter->inputs_size() != {len(model.input_sizes)} || "
                    f"g_interpreter->outputs_size() != {len(model.output_sizes)}) return 6;"]
    copy_in, copy_out = [], []
    for kind, sizes, code, copies in (("input", model.input_sizes, 4, copy_in),
                                      ("output", model.output_sizes, 5, copy_out)):
        for k, (size, offset) in enumerate(zip(sizes, io_offsets(sizes), strict=True)):
            tensor = f"g_interpreter->{kind}({k})"
            # float32 outputs: a DEQUANTIZE's, carried as their bytes
            types = f"{tensor}->type != kTfLiteInt8" + (f" && {tensor}->type != kTfLiteInt16" if int16_io else "") \
                + (f" && {tensor}->type != kTfLiteFloat32" if kind == "output" else "")
            checks_lines.append(f"  if ({tensor} == nullptr || ({types}) || {tensor}->bytes != {size}) return {code};")
            if kind == "input":
                copies.append(f"  memcpy(g_interpreter->input({k})->data.int8, input + {offset}, {size});")
            else:
                copies.append(f"  memcpy(output + {offset}, g_interpreter->output({k})->data.int8, {size});")
    body = "\n".join([*copy_in, "  if (g_interpreter->Invoke() != kTfLiteOk) return 2;", *copy_out])
    return "\n".join(checks_lines), body


def render_source(model: Any, tree: tflm.TflmTree, resolver_methods: list[str], arena_bytes: int) -> str:
    data = model.path.read_bytes()
    io_checks, io_body = _io_code(model)
    registration = "\n".join(
        f"  if (g_resolver->{m}() != kTfLiteOk) return 2;" for m in resolver_methods
    )
    if tree.debuglog_takes_va_list:
        # Newer TFLM hands DebugLog the format: formatting it would pull vsnprintf into every image. Keep the
        # format string only (enough to tell which check failed).
        debuglog = ('extern "C" void DebugLog(const char* format, va_list args) {\n'
                    '  (void)args;\n  remember_log(format);\n}\n')
        if tree.declares_debug_vsnprintf:
            debuglog += ('extern "C" int DebugVsnprintf(char* buffer, size_t buf_size, const char* format, '
                         'va_list vlist) {\n  (void)vlist;\n  size_t n = strlen(format);\n'
                         '  if (buf_size == 0) return (int)n;\n  size_t c = n < buf_size - 1 ? n : buf_size - 1;\n'
                         '  memcpy(buffer, format, c);\n  buffer[c] = 0;\n  return (int)n;\n}\n')
    else:
        debuglog = 'extern "C" void DebugLog(const char* s) { remember_log(s); }\n'
    if tree.interpreter_needs_error_reporter:
        reporter_include = '#include "tensorflow/lite/micro/micro_error_reporter.h"\n'
        reporter_decl = "static tflite::MicroErrorReporter g_error_reporter;\n"
        interpreter_args = "model, *g_resolver, g_arena, ARMLPROF_TFLM_ARENA_USED_BYTES, &g_error_reporter"
    else:
        reporter_include = reporter_decl = ""
        interpreter_args = "model, *g_resolver, g_arena, ARMLPROF_TFLM_ARENA_USED_BYTES"
    return f"""\
/* Generated by armlprof for runtime tflm: {model.name} ({model.sha256[:16]}), TFLM {tree.version}.
 * Initialization = op registration + MicroInterpreter construction + AllocateTensors(). */
#include <new>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include "model.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"
{reporter_include}
#ifndef ARMLPROF_TFLM_ARENA_BYTES
#define ARMLPROF_TFLM_ARENA_BYTES {arena_bytes}
#endif
#ifdef ARMLPROF_TFLM_ARENA_PROBE
/* The arena probe image only: model_init uses the first armlprof_tflm_arena_limit bytes of the arena. */
extern "C" {{
size_t armlprof_tflm_arena_limit = ARMLPROF_TFLM_ARENA_BYTES;
}}
#define ARMLPROF_TFLM_ARENA_USED_BYTES armlprof_tflm_arena_limit
#else
#define ARMLPROF_TFLM_ARENA_USED_BYTES ARMLPROF_TFLM_ARENA_BYTES
#endif

/* The .tflite flatbuffer, {len(data)} bytes, in flash (const); TFLM reads weights from it in place. */
extern "C" alignas(16) const unsigned char g_tflm_model_data[] = {{
{_c_bytes(data)}
}};

/* Static arena, as the study's sketches: reserved RAM (.bss); counted in the image on the Spresense. */
alignas(16) static uint8_t g_arena[ARMLPROF_TFLM_ARENA_BYTES];

typedef tflite::MicroMutableOpResolver<{max(1, len(resolver_methods))}> Resolver;
/* Placement storage: constructing them is part of model_init (timed), not of static initialization. */
alignas(Resolver) static uint8_t g_resolver_storage[sizeof(Resolver)];
alignas(tflite::MicroInterpreter) static uint8_t g_interpreter_storage[sizeof(tflite::MicroInterpreter)];
static Resolver* g_resolver = nullptr;
static tflite::MicroInterpreter* g_interpreter = nullptr;
{reporter_decl}
/* TFLM's log sink: no Serial (the sketch owns the console); the last line is kept for model_tflm_last_log(). */
static char g_last_log[96];
static void remember_log(const char* s) {{
  size_t n = strlen(s);
  if (n == 0 || (n <= 2 && (s[0] == '\\r' || s[0] == '\\n'))) return;
  if (n >= sizeof(g_last_log)) n = sizeof(g_last_log) - 1;
  memcpy(g_last_log, s, n);
  g_last_log[n] = 0;
}}
{debuglog}
extern "C" const char* model_tflm_last_log(void) {{ return g_last_log; }}
extern "C" size_t model_tflm_arena_used_bytes(void) {{
  return g_interpreter ? g_interpreter->arena_used_bytes() : 0;
}}
extern "C" size_t model_tflm_arena_bytes(void) {{ return ARMLPROF_TFLM_ARENA_BYTES; }}

extern "C" int model_init(void) {{
  const tflite::Model* model = tflite::GetModel(g_tflm_model_data);
  if (model->version() != TFLITE_SCHEMA_VERSION) return 1;
  g_resolver = new (g_resolver_storage) Resolver();
{registration}
  g_interpreter = new (g_interpreter_storage) tflite::MicroInterpreter({interpreter_args});
  if (g_interpreter->AllocateTensors() != kTfLiteOk) return 3;
{io_checks}
  return 0;
}}

extern "C" int model_inference(const int8_t* input, int8_t* output) {{
  if (g_interpreter == nullptr) return 1;
{io_body}
  return 0;
}}

extern "C" void model_deinit(void) {{
  if (g_interpreter != nullptr) g_interpreter->~MicroInterpreter();
  if (g_resolver != nullptr) g_resolver->~Resolver();
  g_interpreter = nullptr;
  g_resolver = nullptr;
}}
"""


# ---------------------------------------------------------------- host build: arena measurement, bit-exact check
HOST_MAIN = """\
// armlprof host harness for a generated model_tflm.cpp: init, report the arena, run every input in a file.
#include <stdio.h>
#include <stdlib.h>
#include "model.h"
extern "C" size_t model_tflm_arena_used_bytes(void);
extern "C" const char* model_tflm_last_log(void);
int main(int argc, char** argv) {
  int status = model_init();
  if (status != 0) { fprintf(stderr, "model_init=%d %s\\n", status, model_tflm_last_log()); return 10 + status; }
  printf("{\\"arena_used_bytes\\": %zu}\\n", model_tflm_arena_used_bytes());
  if (argc < 3) return 0;
  FILE* in = fopen(argv[1], "rb");
  FILE* out = fopen(argv[2], "wb");
  if (!in || !out) return 2;
  static int8_t input[MODEL_INPUT_BYTES], output[MODEL_OUTPUT_BYTES];
  while (fread(input, 1, MODEL_INPUT_BYTES, in) == MODEL_INPUT_BYTES) {
    if (model_inference(input, output) != 0) { fprintf(stderr, "inference failed\\n"); return 3; }
    fwrite(output, 1, MODEL_OUTPUT_BYTES, out);
  }
  fclose(out);
  return 0;
}
"""


class HostModel:
    """The generated model_tflm.cpp compiled for the host against a host build of the same TFLM tree."""

    def __init__(self, model: Any, tree: tflm.TflmTree, kernels: str, arena_bytes: int = HOST_ARENA_BYTES,
                 optimization: str = "-O2") -> None:
        self.model = model
        compiler = Compiler.host(optimization)
        self.library = build_library(tree, compiler, kernels)
        source = render_source(model, tree, resolver_calls(tree, model.operators), arena_bytes)
        key = hashlib.sha256("\0".join([source, HOST_MAIN, self.library.key, *compiler.flags]).encode())
        out_dir = cache_root() / "tflm" / "host" / key.hexdigest()[:24]
        self.executable = out_dir / "model_host"
        if self.executable.is_file():
            return
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="armlprof-tflm-host-") as tmp:
            work = Path(tmp)
            write_model_header(work, "tflm", model.input_bytes, model.output_bytes, model.input_sizes,
                               model.output_sizes)
            (work / MODEL_SOURCE).write_text(source)
            (work / "main.cpp").write_text(HOST_MAIN)
            staging = work / "model_host"
            cmd = [compiler.toolchain.gxx, *compiler.flags, *TFLM_CXX_FLAGS, *self.library.build_flags(), f"-I{work}",
                   str(work / MODEL_SOURCE), str(work / "main.cpp"), str(self.library.path), "-o", str(staging)]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            raise_if_interrupted(proc.returncode)
            if proc.returncode != 0:
                from armlprof.build import link_error

                raise ArmlprofError(f"host build of the generated TFLM model failed: {link_error(proc.stderr)}")
            staging.replace(self.executable)

    def arena_used_bytes(self) -> int:
        proc = subprocess.run([str(self.executable)], capture_output=True, text=True, check=False)
        raise_if_interrupted(proc.returncode)
        if proc.returncode != 0:
            raise ArmlprofError(f"host TFLM run of {self.model.name} failed: {proc.stderr.strip() or proc.returncode}")
        return int(json.loads(proc.stdout.splitlines()[0])["arena_used_bytes"])

    def run(self, inputs: list[bytes]) -> list[bytes]:
        """Outputs for `inputs`, one fresh process (init + every inference)."""
        with tempfile.TemporaryDirectory(prefix="armlprof-tflm-run-") as tmp:
            in_path, out_path = Path(tmp) / "in.bin", Path(tmp) / "out.bin"
            in_path.write_bytes(b"".join(inputs))
            proc = subprocess.run([str(self.executable), str(in_path), str(out_path)], capture_output=True,
                                  text=True, check=False)
            raise_if_interrupted(proc.returncode)
            if proc.returncode != 0:
                raise ArmlprofError(f"host TFLM run of {self.model.name} failed: {proc.stderr.strip()}")
            data = out_path.read_bytes()
        n = self.model.output_bytes
        return [data[i:i + n] for i in range(0, len(data), n)]


def measure_arena(model: Any, tree: tflm.TflmTree, kernels: str) -> int:
    """TFLM's arena_used_bytes() after AllocateTensors, on the host build (cached with the host executable)."""
    return HostModel(model, tree, kernels).arena_used_bytes()


def dsp_scratch_bytes(model: Any) -> int:
    """The largest CMSIS-NN scratch buffer that exists only with the DSP extension (Cortex-M4), which a host
    measurement cannot see: depthwise conv `c*kw*kh*2` (arm_depthwise_conv_s8_opt) and average pool `c*4`."""
    import tflite

    m = tflite.Model.GetRootAsModel(model.path.read_bytes(), 0)
    codes = [max(m.OperatorCodes(i).BuiltinCode(), m.OperatorCodes(i).DeprecatedBuiltinCode())
             for i in range(m.OperatorCodesLength())]
    g = m.Subgraphs(0)
    largest = 0
    for i in range(g.OperatorsLength()):
        op = g.Operators(i)
        code = codes[op.OpcodeIndex()]
        if code == tflite.BuiltinOperator.DEPTHWISE_CONV_2D:
            filt = g.Tensors(op.Inputs(1)).ShapeAsNumpy()  # [1, kh, kw, c]
            largest = max(largest, int(np.prod(filt[1:])) * 2)
        elif code == tflite.BuiltinOperator.AVERAGE_POOL_2D:
            shape = g.Tensors(op.Inputs(0)).ShapeAsNumpy()
            largest = max(largest, int(shape[-1]) * 4)
    return largest


def _round_up_16(n_bytes: int) -> int:
    return (n_bytes + 15) // 16 * 16


def target_arena_bytes(model: Any, host_used_bytes: int, kernels: str) -> int:
    """An arena that fits on the target, from the host figure (see the module docstring)."""
    extra = dsp_scratch_bytes(model) if kernels == "cmsis-nn" else 0
    return _round_up_16(host_used_bytes + extra + ARENA_ALIGN_BYTES)


# ---------------------------------------------------------------- first run on the target
ARENA_PROBE_SKETCH = """\
// armlprof TFLM arena probe: model_init (AllocateTensors) with a generous arena, report TFLM's usage, then the
// smallest arena from used + 16 up (16-byte steps) model_init accepts, found within the same arena; exit.
// Host line "limit=N" (N > 0): one model_init with an N-byte arena instead, its status reported (the host's own
// search, one boot per trial, for a TFLM that crashes on an arena too small instead of failing).
#include "src/model.h"
extern "C" size_t model_tflm_arena_used_bytes(void);
extern "C" const char* model_tflm_last_log(void);
extern "C" size_t armlprof_tflm_arena_limit;
static size_t read_limit() {  // blocks for the host's line, as every armlprof sketch does
  size_t limit = 0;
  for (;;) {
    int c = Serial.read();
    if (c < 0) continue;
    if (c == '\\n') return limit;
    if (c >= '0' && c <= '9') limit = limit * 10 + (size_t)(c - '0');
  }
}
void setup() {
  Serial.begin(115200);
  size_t limit = read_limit();
  if (limit > 0) {
    armlprof_tflm_arena_limit = limit;
    int trial = model_init();
    Serial.print("@armlprof event=tflm_arena_trial limit=");
    Serial.print((unsigned long)limit);
    Serial.print(" status=");
    Serial.println(trial);
    exit(0);
  }
  int status = model_init();
  unsigned long used = (unsigned long)model_tflm_arena_used_bytes();
  model_deinit();
  Serial.print("@armlprof event=tflm_arena_used status=");
  Serial.print(status);
  Serial.print(" used=");
  Serial.println(used);
  // First used + 16 (what the arena is sized from); only when that fails, bisect above it (never below: an
  // arena smaller than what AllocateTensors keeps can crash older TFLM, whose kernels do not all check for it).
  size_t low = 0, high = armlprof_tflm_arena_limit;  // high initializes; low does not
  if (status == 0) {
    size_t first = (used + 16 + 15) / 16 * 16;
    armlprof_tflm_arena_limit = first;
    int trial = model_init();
    model_deinit();
    if (trial == 0) high = first, low = first - 16;  // nothing to search
    else low = first;
  }
  while (status == 0 && high - low > 16) {
    size_t middle = (low + (high - low) / 2) / 16 * 16;
    if (middle <= low) middle = low + 16;
    armlprof_tflm_arena_limit = middle;
    int trial = model_init();
    model_deinit();
    if (trial == 0) high = middle; else low = middle;
  }
  Serial.print("@armlprof event=tflm_arena status=");
  Serial.print(status);
  Serial.print(" used=");
  Serial.print(used);
  Serial.print(" smallest=");
  Serial.println((unsigned long)high);
  exit(status);
}
void loop() {}
"""


@dataclass(frozen=True)
class ArenaProbe:
    """TFLM's arena figures from the probe image: arena_used_bytes() after AllocateTensors, and the smallest arena
    (a multiple of 16) AllocateTensors accepts."""

    used_bytes: int
    smallest_bytes: int
RAM_MARGIN_BYTES = 4096  # left beside the probe's arena for the heap newlib may want


def _smallest_arena(target: Any, image: Any, first: int, known_good: int) -> int:
    """The smallest arena (16-byte steps, from `first` up to `known_good`, which initializes) that model_init
    accepts, each trial its own boot: a trial that faults or fails counts as too small."""
    def accepts(limit: int) -> bool:
        trial = target.run(image, f"limit={limit}", timeout_s=300, timing=False).last("tflm_arena_trial")
        return trial is not None and trial.get("status") == "0"

    if accepts(first):
        return first
    low, high = first, known_good
    while high - low > 16:
        middle = max(low + 16, (low + (high - low) // 2) // 16 * 16)
        low, high = (low, middle) if accepts(middle) else (middle, high)
    return high


def measure_arena_on_target(model: Any, tree: tflm.TflmTree, resolver_methods: list[str], library: TflmLibrary,
                            board: Any, target: Any = None) -> ArenaProbe | None:
    """TFLM's arena_used_bytes() after AllocateTensors, from the board's own image run once on `target` (default:
    armlprof's emulator) through the Target interface: exact (32-bit structures, the Cortex-M4 CMSIS-NN scratch
    buffers). The probe's arena is the largest the board's RAM leaves. Cached per (model, library, board, RAM).
    None when the target cannot run here (the caller then falls back to the host estimate)."""
    from armlprof.build import ImageTooLarge, build_sketch
    from armlprof.target import Image, get_target

    key = hashlib.sha256("\0".join(["arena-v3", model.sha256, library.key, board.name, str(board.ram_bytes),
                                     *resolver_methods]).encode()).hexdigest()[:24]
    record = cache_root() / "tflm" / "arena" / f"{key}.json"
    if record.is_file():
        cached = json.loads(record.read_text())
        return ArenaProbe(int(cached["used_bytes"]), int(cached["smallest_bytes"]))
    owned = target is None
    target = target or get_target("emulator", timed=False)
    try:
        if target.unavailable_reason(board) is not None:
            return None
        with tempfile.TemporaryDirectory(prefix="armlprof-tflm-arena-") as tmp:
            sketch = Path(tmp) / "tflm_arena_probe"
            (sketch / "src").mkdir(parents=True)
            (sketch / f"{sketch.name}.ino").write_text(ARENA_PROBE_SKETCH)
            write_model_header(sketch / "src", "tflm", model.input_bytes, model.output_bytes, model.input_sizes,
                               model.output_sizes)

            def build(arena_bytes: int):
                (sketch / "src" / MODEL_SOURCE).write_text(render_source(model, tree, resolver_methods, arena_bytes))
                return build_sketch(sketch, board, extra_flags=[*library.build_flags(), "-DARMLPROF_TFLM_ARENA_PROBE"],
                                    extra_objects=[library.path], baseline=False)

            arena_bytes = board.ram_bytes  # never fits: the linker then says by how much
            try:
                built = build(arena_bytes)
            except ImageTooLarge as exc:
                arena_bytes = (arena_bytes - (exc.needed_bytes - exc.available_bytes) - RAM_MARGIN_BYTES) // 16 * 16
                if arena_bytes <= 0:
                    raise ArmlprofError(f"{model.name} with TFLM leaves no RAM for an arena on {board.name}: "
                                        f"{exc}") from None
                built = build(arena_bytes)
            image = target.prepare(Image(board, built.elf, sketch, "tflm_arena"))
            outcome = target.run(image, "limit=0", timeout_s=300, timing=False)
            probe, first = outcome.last("tflm_arena"), outcome.last("tflm_arena_used")
            if probe is None and first is not None and first.get("status") == "0":
                # A smaller trial crashed the board (older TFLM on a model with variable tensors writes through a
                # null pointer when the arena is too small for them): the same search, one boot per trial.
                used = first.int("used")
                figures = ArenaProbe(used, _smallest_arena(target, image, _round_up_16(used + 16), arena_bytes))
            elif probe is not None and probe.get("status") == "0":
                figures = ArenaProbe(probe.int("used"), probe.int("smallest"))
            else:
                raise ArmlprofError(f"TFLM arena probe of {model.name} on {board.name} failed "
                                    f"({outcome.stop.describe()}, status {probe.get('status') if probe else 'none'}, "
                                    f"arena {arena_bytes:,} B); give --tflm-arena-bytes explicitly")
    finally:
        if owned:
            target.close()
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps({"used_bytes": figures.used_bytes, "smallest_bytes": figures.smallest_bytes,
                                  "model": model.name, "board": board.name, "probe_arena_bytes": arena_bytes}))
    return figures
