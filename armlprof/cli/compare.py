"""`armlprof compare A B ...`: results files side by side per model, runtime, board and metric."""

from __future__ import annotations

import argparse
from pathlib import Path

from armlprof.errors import ArmlprofError
from armlprof.report import render_compare
from armlprof.results import ResultStore


def _compare(args: argparse.Namespace) -> int:
    if len(args.results) < 2:
        raise ArmlprofError("compare needs at least two results files; pass A.jsonl B.jsonl")
    if args.labels:
        labels = [label.strip() for label in args.labels.split(",")]
        if len(labels) != len(args.results):
            raise ArmlprofError(f"--labels has {len(labels)} names for {len(args.results)} results files; "
                                "give one label per file")
    else:
        stems = [Path(p).stem for p in args.results]
        labels = stems if len(set(stems)) == len(stems) else [str(p) for p in args.results]
    record_sets = [ResultStore(p, must_exist=True).records() for p in args.results]
    for path, records in zip(args.results, record_sets, strict=True):
        if not records:
            raise ArmlprofError(f"no result records in {path}; run a study into it first")
    print(render_compare(record_sets, labels), end="")
    return 0


def register_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="results files side by side per model, runtime, board and metric, "
                                       "with ratios to the first")
    p.add_argument("results", nargs="+", help="two or more results.jsonl files (the first is the baseline)")
    p.add_argument("--labels", default=None, help="comma-separated column names, one per file (default: file names)")
    p.set_defaults(handler=_compare)
