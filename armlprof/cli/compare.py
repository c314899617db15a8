"""`armlprof compare A B ...`: results files side by side per model, runtime, board and metric."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from armlprof.cli.options import add_format_argument, output_format
from armlprof.errors import ArmlprofError
from armlprof.report import print_compare, render_compare
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
    fmt = output_format(args)
    if fmt == "table":
        print_compare(record_sets, labels)
        return 0
    chart_dir = None
    if args.out is not None:
        if fmt != "html":
            raise ArmlprofError("--out is for --format html (the page and its chart files); "
                                "redirect stdout for the other formats")
        chart_dir = Path(args.out)
        try:
            chart_dir.mkdir(parents=True, exist_ok=True)
            page = chart_dir / "compare.html"
            page.write_text(render_compare(record_sets, labels, "html", chart_dir=chart_dir), encoding="utf-8")
        except OSError as exc:
            raise ArmlprofError(f"cannot write to {chart_dir}: {exc.strerror}; pass a writable --out") from None
        print(page)
        return 0
    sys.stdout.write(render_compare(record_sets, labels, fmt))
    return 0


def register_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="results files side by side per model, runtime, board and metric, "
                                       "with ratios to the first",
                       epilog="examples:\n  armlprof compare os.jsonl o2.jsonl --labels -Os,-O2\n"
                              "  armlprof compare os.jsonl o2.jsonl --format html --out cmp/  "
                              "# compare.html + chart-<metric>.png/.svg")
    p.add_argument("results", nargs="+", help="two or more results.jsonl files (the first is the baseline)")
    p.add_argument("--labels", default=None, help="comma-separated column names, one per file (default: file names)")
    add_format_argument(p)
    p.add_argument("--out", default=None, help="with --format html: write compare.html and its charts here")
    p.set_defaults(handler=_compare)
