"""Runtime backends: each turns a model into `src/model.h` plus implementation files for a sketch."""

from armlprof.runtime.base import GeneratedModel, Runtime, RuntimeOption, get_runtime, runtime_names

__all__ = ["GeneratedModel", "Runtime", "RuntimeOption", "get_runtime", "runtime_names"]
