"""`armlprof models`: the built-in models (for --model builtin:NAME); any int8 .tflite file works too."""

from __future__ import annotations

import argparse
import json
from typing import Any

from armlprof.errors import ArmlprofError
from armlprof.model import load_model
from armlprof.modelgen import BUILTIN_MODELS

DESCRIPTIONS = {
    "dense": "hand-written 1-layer int8 dense model (no .tflite; the `handwritten` runtime's test model)",
    "micro_speech": "generated keyword-spotting model with the study's micro_speech architecture",
    "person_detect": "generated person-detection model with the study's MobileNet architecture",
    "ops_coverage": "generated model using every operator armlprof's TVM backend supports",
    "int16x8": "generated int16x8 model (int16 activations, int8 weights; int8 input, int16 output)",
}


def builtin_specs() -> list[str]:
    return ["builtin:dense", *(f"builtin:{name}" for name in BUILTIN_MODELS)]


def model_info(spec: str) -> dict[str, Any]:
    name = spec.removeprefix("builtin:")
    info: dict[str, Any] = {"spec": spec, "description": DESCRIPTIONS.get(name, "")}
    try:
        model = load_model(spec)
    except ArmlprofError as exc:
        return {**info, "error": str(exc)}
    size = model.path.stat().st_size if model.path is not None else None
    return {**info, "input_bytes": model.input_bytes, "output_bytes": model.output_bytes,
            "operators": model.operators, "tflite_bytes": size, "path": str(model.path) if model.path else None}


def _models(args: argparse.Namespace) -> int:
    infos = [model_info(spec) for spec in builtin_specs()]
    if args.json:
        print(json.dumps(infos, indent=2))
        return 0
    for info in infos:
        print(f"{info['spec']:<22} {info['description']}")
        if "error" in info:
            print(f"{'':<22} cannot be generated here: {info['error']}")
            continue
        size = f", .tflite {info['tflite_bytes']:,} B" if info["tflite_bytes"] else ""
        ops = ", ".join(info["operators"]) or "-"
        print(f"{'':<22} input {info['input_bytes']:,} B, output {info['output_bytes']:,} B{size}; ops: {ops}")
    print("Any int8 .tflite file works too: --model path/to/model.tflite")
    return 0


def register_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list the built-in models (--model builtin:NAME)",
                       epilog="examples:\n  armlprof models\n  armlprof profile --model builtin:micro_speech "
                              "--runtime tvm-aot --board nano33ble")
    p.add_argument("--json", action="store_true", help="print the models as a JSON list on stdout")
    p.set_defaults(handler=_models)
