"""`armlprof report RESULTS...`: tables (markdown), CSV or a self-contained HTML page from results files."""

from __future__ import annotations

import argparse
from pathlib import Path

from armlprof.errors import ArmlprofError
from armlprof.report import render_csv, render_html, render_tables
from armlprof.results import load_records

FORMATS = {"md": "report.md", "csv": "results.csv", "html": "report.html"}


def parse_formats(text: str) -> list[str]:
    formats = [f.strip().lower() for f in text.split(",") if f.strip()]
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ArmlprofError(f"unknown report format {', '.join(unknown) or repr(text)}; use --format md,csv,html "
                            "(any subset)")
    return list(dict.fromkeys(formats))


def _report(args: argparse.Namespace) -> int:
    formats = parse_formats(args.format)
    records = load_records(args.results)
    if not records:
        raise ArmlprofError(f"no result records in {', '.join(args.results)}; run a study first (armlprof study ...)")
    sources = [Path(p).name for p in args.results]
    renderers = {
        "md": lambda: render_tables(records),
        "csv": lambda: render_csv(records),
        "html": lambda: render_html(records, title=args.title, sources=sources),
    }
    if args.out is None:
        if len(formats) > 1:
            raise ArmlprofError(f"{len(formats)} formats need an output folder; add --out DIR (or one --format)")
        print(renderers[formats[0]](), end="")
        return 0
    out_dir = Path(args.out)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for fmt in formats:
            path = out_dir / FORMATS[fmt]
            path.write_text(renderers[fmt](), encoding="utf-8")
            print(path)
    except OSError as exc:
        raise ArmlprofError(f"cannot write the report to {out_dir}: {exc.strerror}; pass a writable --out") from None
    return 0


def register_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="tables (markdown), CSV or a self-contained HTML page from results files")
    p.add_argument("results", nargs="+", help="results.jsonl file(s); for a repeated figure the later file wins")
    p.add_argument("--format", default="md", help="md, csv, html or a comma-separated list (default md)")
    p.add_argument("--out", default=None, help="write report.md / results.csv / report.html into this folder "
                                               "instead of printing (needed for several formats)")
    p.add_argument("--title", default="armlprof results", help="HTML page title")
    p.set_defaults(handler=_report)
