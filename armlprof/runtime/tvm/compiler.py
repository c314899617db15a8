"""Model -> Program: import, build the integer kernels, lower them with TVM, plan memory; cached on disk.

A `Program` is everything the executors' emitters need and nothing TVM-specific: the generated operator C,
the ordered steps (function + argument entries), the entries (activations, constants, model input/output)
and both memory plans. Programs are cached under ~/.cache/armlprof/tvm/ keyed by (model sha256, TVM version,
this code generator's version, options), so a second profile of the same model skips TVM entirely.
"""

from __future__ import annotations

import hashlib
import pickle
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from armlprof.cache import atomic_write, cache_root, entry_lock, verify_manifest, warn, write_manifest
from armlprof.runtime.tvm import codegen, planner
from armlprof.runtime.tvm import kernels as kernels_mod
from armlprof.runtime.tvm.importer import Graph, import_tflite
from armlprof.runtime.tvm.ops import Kernel, build_copy, build_kernel

ALIAS_OPERATORS = ("RESHAPE", "SQUEEZE")  # same bytes, another shape: no kernel

# Bump when generated code or Program layout changes (invalidates the cache).
CODEGEN_VERSION = "7"

# Operator schedules: "default" = the DSP micro-kernels with each operator's default variant (tuned records override
# it per operator signature); "te" = the plain TE loops (no scheduling), kept as the baseline.
SCHEDULES = ("default", "te")


@dataclass
class Entry:
    """A tensor as the executors see it (TVM graph JSON's data entry)."""

    id: int
    name: str
    shape: tuple[int, ...]
    dtype: str  # "int8" | "int16" | "int32" | "int64" (int16x8 activations and biases)
    # "state": a variable tensor (SVDF's activation state) its operator updates in place; it keeps its own buffer
    # for the program's whole life (zeroed at model_init), outside the liveness plans.
    kind: str  # "input" | "output" | "activation" | "constant" | "state"
    data: np.ndarray | None = None  # constants
    reset_byte: int = 0  # a state's every byte at init: TFLM's ResetVariableTensors (an int8 state's zero point)

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize


@dataclass
class Step:
    name: str  # node name, e.g. "conv_2d_3"
    kind: str
    function: str  # C symbol of the TVM-generated packed function
    args: list[int]  # entry ids: activation inputs, constants, output last
    macs: int = 0
    schedule: str = "te"  # micro-kernel variant, or "te"
    signature: str = ""  # operator signature the tuning records are keyed by ("" for TE operators)


@dataclass
class Program:
    model_sha256: str
    tvm_version: str
    operator_source: str
    entries: list[Entry]
    steps: list[Step]
    input_entry: int
    output_entry: int
    workspace_offsets: dict[int, int]  # AOT: activation entry -> byte offset
    workspace_bytes: int
    storage_ids: dict[int, int]  # graph executor: non-constant entry -> storage id
    storage_bytes: list[int]
    distinct_functions: int
    compile_seconds: float
    stats: dict = field(default_factory=dict)
    c_sources: list[str] = field(default_factory=list)  # support C files from runtime/tvm/c the operators call
    # Every model input/output entry in the model's order (input_entry/output_entry are the first of each).
    input_entries: list[int] = field(default_factory=list)
    output_entries: list[int] = field(default_factory=list)

    def __setstate__(self, state: dict) -> None:
        # Programs cached before models had several inputs/outputs: one of each (no cache invalidation needed).
        state.setdefault("input_entries", [state["input_entry"]])
        state.setdefault("output_entries", [state["output_entry"]])
        self.__dict__.update(state)

    @property
    def constant_bytes(self) -> int:
        return sum(e.nbytes for e in self.entries if e.kind == "constant")


def _alias_reshapes(graph: Graph) -> tuple[dict[int, int], list[tuple[int, int]]]:
    """RESHAPE/SQUEEZE move no bytes: map each reshaped tensor onto one buffer. Returns (alias, copies needed)."""
    root: dict[int, int] = {}

    def find(t: int) -> int:
        while t in root:
            t = root[t]
        return t

    io = set(graph.inputs) | set(graph.outputs)
    copies = []
    for op in graph.operators:
        if op.kind not in ALIAS_OPERATORS:
            continue
        src, dst = find(op.inputs[0]), find(op.outputs[0])
        if src in io and dst in io:
            copies.append((src, dst))
        elif dst in io:
            root[src] = dst
        else:
            root[dst] = src
    return {t: find(t) for t in range(len(graph.tensors))}, copies


def _build_operator(graph: Graph, op, schedule: str, choices: dict[str, str]) -> Kernel:
    """The scheduled micro-kernel operator when one covers `op`, else the TE loops."""
    if schedule != "te" and graph.tensors[op.inputs[0]].dtype != "int16":  # the micro-kernels are int8 only
        sched = kernels_mod.plan(graph, op)
        if sched is not None:
            kernel = kernels_mod.build(graph, op, sched, choices.get(sched.signature))
            if kernel is not None:
                return kernel
    return build_kernel(graph, op)


def build_program(path: Path, sha256: str, schedule: str = "default", choices: dict[str, str] | None = None
                  ) -> Program:
    t0 = time.perf_counter()
    codegen.require_tvm()
    graph = import_tflite(path)
    alias, copies = _alias_reshapes(graph)
    kernels: list[Kernel] = []
    pending_copies = list(copies)
    for op in graph.operators:
        if op.kind in ALIAS_OPERATORS:
            for src, dst in list(pending_copies):
                if src == alias[op.inputs[0]] and dst == alias[op.outputs[0]]:
                    kernels.append(build_copy(graph, src, dst))
                    pending_copies.remove((src, dst))
            continue
        kernels.append(_build_operator(graph, op, schedule, choices or {}))
    lowered = codegen.lower_kernels(kernels)

    entries: list[Entry] = []
    entry_of_tensor: dict[int, int] = {}
    in_ts, out_ts = [alias[t] for t in graph.inputs], [alias[t] for t in graph.outputs]

    def activation_entry(t: int) -> int:
        t = alias[t]
        if t not in entry_of_tensor:
            tensor = graph.tensors[t]
            kind = "input" if t in in_ts else "output" if t in out_ts else "state" if tensor.is_variable \
                else "activation"
            entry_of_tensor[t] = len(entries)
            shape = (*tensor.shape, 4) if tensor.dtype == "float32" else tensor.shape  # DEQUANTIZE: float bytes
            reset = int(tensor.zero_point[0]) if kind == "state" and tensor.dtype == "int8" else 0
            dtype = tensor.dtype if kind == "state" else "int16" if tensor.dtype == "int16" else "int8"
            entries.append(Entry(len(entries), tensor.name, shape, dtype, kind, reset_byte=reset & 0xFF))
        return entry_of_tensor[t]

    for t in in_ts:  # the inputs first, in the model's order (the graph executor's input nodes follow it)
        activation_entry(t)
    steps: list[Step] = []
    for i, k in enumerate(kernels):
        args = [activation_entry(t) for t in k.inputs]
        for role, data in k.constants:
            arr = np.ascontiguousarray(data)
            entries.append(Entry(len(entries), f"{k.kind.lower()}_{i}_{role}", arr.shape, str(arr.dtype),
                                 "constant", arr))
            args.append(len(entries) - 1)
        args.append(activation_entry(k.output))
        steps.append(Step(f"{k.kind.lower()}_{i}", k.kind, lowered.function_of[i], args, k.macs,
                          k.attrs.get("schedule", "te"), k.attrs.get("signature", "")))

    sizes = {e.id: e.nbytes for e in entries if e.kind != "constant"}
    io_steps = [([a for a in s.args if entries[a].kind != "constant"][:-1], s.args[-1]) for s in steps]
    acts = {e.id for e in entries if e.kind == "activation"}
    offsets, workspace = planner.plan_workspace(planner.lifetimes(io_steps, acts, sizes))
    in_es, out_es = [entry_of_tensor[t] for t in in_ts], [entry_of_tensor[t] for t in out_ts]
    states = {e.id for e in entries if e.kind == "state"}
    # set_input/get_output copies; a state lives from init to deinit (never shared)
    pinned = {e: (-1, len(steps)) for e in (*in_es, *out_es, *states)}
    storage_of, storage_bytes = planner.plan_storage_ids(
        planner.lifetimes(io_steps, acts | set(pinned), sizes, pinned))
    return Program(sha256, codegen.tvm_version(), lowered.source, entries, steps, in_es[0], out_es[0], offsets,
                   workspace, storage_of, storage_bytes, lowered.distinct_functions, time.perf_counter() - t0,
                   {"macs": sum(s.macs for s in steps), "operators": graph.operator_names, "schedule": schedule},
                   list(kernels_mod.KERNEL_SOURCES) if any(s.signature for s in steps) else [], in_es, out_es)


def cache_dir() -> Path:
    d = cache_root() / "tvm"
    d.mkdir(parents=True, exist_ok=True)
    return d


def program_path(sha256: str, schedule: str = "default", choices: dict[str, str] | None = None) -> Path:
    """Where the cached Program of the model with this sha256 (and schedule choices) is; a sweep's workers
    receive it there."""
    picked = ",".join(f"{k}={v}" for k, v in sorted((choices or {}).items()))
    kernels_version = kernels_mod.fingerprint() if schedule != "te" else ""
    key = hashlib.sha256(f"{sha256}|{codegen.tvm_version()}|{CODEGEN_VERSION}|{schedule}|{picked}|{kernels_version}"
                         .encode()).hexdigest()[:24]
    return cache_dir() / f"{key}.pkl"


def program_manifest(cached: Path) -> Path:
    """The content-hash manifest of a cached Program (cache.write_manifest); ships with it to a sweep's driver."""
    return cached.with_suffix(".json")


def compile_model(path: Path, sha256: str | None = None, *, use_cache: bool = True, schedule: str = "default",
                  choices: dict[str, str] | None = None) -> Program:
    """The Program for a .tflite model, from the cache when TVM already compiled it.

    The cached pickle is reused only when it matches the content hash recorded beside it: a truncated or garbled
    one is rebuilt with a one-line warning (never unpickled: a damaged pickle can load as a wrong Program).
    `choices` maps operator signatures to micro-kernel variants (tuning records); others get their default."""
    path = Path(path)
    sha256 = sha256 or hashlib.sha256(path.read_bytes()).hexdigest()
    cached = program_path(sha256, schedule, choices)
    manifest = program_manifest(cached)
    with entry_lock(cached):  # two processes generating the same Program: the second reuses the first's
        if use_cache and verify_manifest(manifest, {"program": cached}, "TVM program"):
            try:
                return pickle.loads(cached.read_bytes())
            except Exception as exc:  # noqa: BLE001 - intact but unloadable (written by another armlprof): rebuild
                warn(f"cached TVM program {cached} does not load ({type(exc).__name__}); rebuilding it")
        program = build_program(path, sha256, schedule, choices)
        atomic_write(cached, pickle.dumps(program))
        write_manifest(manifest, {"program": cached})  # last: a pickle without its manifest is a plain miss
    return program
