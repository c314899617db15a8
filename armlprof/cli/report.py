"""`armlprof report RESULTS...`: the tables (terminal, markdown, JSON), a tidy CSV or an HTML page with charts."""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

from armlprof.cli.options import output_format
from armlprof.errors import ArmlprofError
from armlprof.report import FORMATS, emit, print_tables, render, terminal_tables
from armlprof.results import load_records

FILE_NAMES = {"table": "report.txt", "md": "report.md", "json": "report.json", "csv": "results.csv",
              "html": "report.html"}


def parse_formats(text: str) -> list[str]:
    formats = [f.strip().lower() for f in text.split(",") if f.strip()]
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ArmlprofError(f"unknown report format {', '.join(unknown) or repr(text)}; use --format "
                            f"{','.join(FORMATS)} (one, or a comma-separated list with --out)")
    return list(dict.fromkeys(formats))


def _table_text(records: list[dict]) -> str:
    from rich.console import Console

    out = io.StringIO()  # not a terminal: rich writes plain text
    print_tables(terminal_tables(records), Console(file=out, width=120))
    return out.getvalue()


def _report(args: argparse.Namespace) -> int:
    formats = parse_formats(args.format) if args.format else [output_format(args)]
    records = load_records(args.results)
    if not records:
        raise ArmlprofError(f"no result records in {', '.join(args.results)}; run a study first (armlprof study ...)")
    sources = [Path(p).name for p in args.results]
    if args.out is None:
        if len(formats) > 1:
            raise ArmlprofError(f"{len(formats)} formats need an output folder; add --out DIR (or one --format)")
        emit(records, formats[0], title=args.title, sources=sources)
        return 0
    out_dir = Path(args.out)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for fmt in formats:
            path = out_dir / FILE_NAMES[fmt]
            text = _table_text(records) if fmt == "table" else render(
                records, fmt, title=args.title, sources=sources, chart_dir=out_dir if fmt == "html" else None)
            path.write_text(text, encoding="utf-8")
            print(path)
            if fmt == "html":
                for chart in sorted(out_dir.glob("chart-*.*")):
                    print(chart, file=sys.stderr)
    except OSError as exc:
        raise ArmlprofError(f"cannot write the report to {out_dir}: {exc.strerror}; pass a writable --out") from None
    return 0


def register_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report", help="tables (terminal, markdown, JSON), a tidy CSV or an HTML page with charts from results files",
        description="Tables, CSV or HTML from results files. A figure that could not be measured shows n/a or "
                    "failed with a footnote giving the reason once per table.",
        epilog="examples:\n  armlprof report results.jsonl\n  armlprof report results.jsonl --format csv > results.csv"
               "\n  armlprof report results.jsonl --format md,csv,html --out report/  "
               "# + chart-<metric>.png/.svg")
    p.add_argument("results", nargs="+", help="results.jsonl file(s); for a repeated figure the later file wins")
    p.add_argument("--format", default=None,
                   help=f"{', '.join(FORMATS)} or a comma-separated list with --out "
                        "(default: table on a terminal, md when stdout is a file or pipe)")
    p.add_argument("--out", default=None, help="write " + " / ".join(FILE_NAMES[f] for f in FORMATS)
                   + " into this folder instead of printing (needed for several formats)")
    p.add_argument("--title", default="armlprof results", help="HTML page title")
    p.set_defaults(handler=_report)
