"""`armlprof runtimes`: the runtimes armlprof can generate a model with, and whether each is usable here."""

from __future__ import annotations

import argparse
import json
from typing import Any

from armlprof.runtime.base import get_runtime, runtime_names

DESCRIPTIONS = {
    "handwritten": "hand-written C for builtin:dense only (a test of the measurement path)",
    "tvm-aot": "Apache TVM, ahead-of-time executor (C code per operator and a static workspace)",
    "tvm-graph": "Apache TVM, graph executor (a JSON graph interpreted on the board, heap-allocated tensors)",
    "tflm": "TensorFlow Lite Micro interpreter with CMSIS-NN kernels (needs a TFLM tree: armlprof get tflm)",
}


def runtime_info(name: str) -> dict[str, Any]:
    """name, available, version (when available), reason (when not) and a one-line description."""
    try:
        runtime = get_runtime(name)
    except ImportError as exc:
        return {"name": name, "available": False, "version": None, "description": DESCRIPTIONS.get(name, ""),
                "reason": f"cannot be imported ({exc}); reinstall armlprof"}
    reason = runtime.unavailable_reason()
    return {"name": name, "available": reason is None, "version": runtime.version() if reason is None else None,
            "description": DESCRIPTIONS.get(name, ""), "reason": reason}


def _runtimes(args: argparse.Namespace) -> int:
    infos = [runtime_info(name) for name in runtime_names()]
    if args.json:
        print(json.dumps(infos, indent=2))
        return 0
    for info in infos:
        state = f"ok      {info['version']}" if info["available"] else "missing"
        text = info["description"] if info["available"] else info["reason"]
        print(f"{info['name']:<12} [{state}] — {text}")
    return 0


def register_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("runtimes", help="list the runtimes (for --runtime/--runtimes) and whether each is usable here",
                       epilog="examples:\n  armlprof runtimes\n  armlprof runtimes --json")
    p.add_argument("--json", action="store_true", help="print the runtimes as a JSON list on stdout")
    p.set_defaults(handler=_runtimes)
