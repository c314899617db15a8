"""Reports from result records: tables for the terminal (rich), markdown, JSON, a tidy long CSV, a self-contained
HTML page with charts, and a side-by-side comparison of several results files.

Every renderer first keeps the newest record per key (a resumed run may have retried a failed figure). Tables are
built once as `Table`s of `Cell`s, then written in each format, so all show the same numbers. A cell without a
figure shows a short marker (`n/a¹`, `failed²`); each distinct reason is written once per table, as a footnote.
One model x runtime x board (one "cell" of the study) gets one table; several get the per-metric tables too.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from armlprof.errors import ArmlprofError
from armlprof.metrics import METRICS as METRIC_TABLE
from armlprof.metrics import Metric
from armlprof.results import METRICS, latest_records

# Output formats: `table` (rich, for a terminal), `md`, `json`, `csv`, `html`.
FORMATS = ("table", "md", "json", "csv", "html")

# The metrics' report info (title, unit, direction, headline figure) is their armlprof.metrics entry.
METRIC_INFO: dict[str, Metric] = METRIC_TABLE

_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def note_marker(number: int) -> str:
    """The footnote marker of note `number` (1 -> ¹)."""
    return str(number).translate(_SUPERSCRIPT)


@dataclass
class Cell:
    text: str
    value: float | None = None  # the headline figure when ok (used to pick the best cell and for charts)
    ok: bool = True
    bold: bool = False
    reason: str | None = None  # why there is no figure (becomes the table's footnote `note`)
    note: int | None = None  # 1-based footnote number, set by Table
    runtime: str | None = None  # label cells of an implementation: its runtime (for the colour swatch)

    @property
    def marked(self) -> str:
        """The text with its footnote marker (`n/a¹`)."""
        return self.text + (note_marker(self.note) if self.note else "")


@dataclass
class Table:
    title: str
    header: list[str]
    rows: list[list[Cell]]
    note: str = ""
    group_starts: set[int] = field(default_factory=set)  # row indexes where a new row group begins
    kind: str = "detail"  # "detail" (per model and board), "metric" (one metric across them) or "compare"
    label_columns: int = 1  # leading columns that name the row (left-aligned); the rest are figures
    notes: list[str] = field(default_factory=list)  # footnotes: each distinct reason once, in reading order

    def __post_init__(self) -> None:
        for row in self.rows:
            for c in row:
                if c.reason is None:
                    continue
                if c.reason not in self.notes:
                    self.notes.append(c.reason)
                c.note = self.notes.index(c.reason) + 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title, "kind": self.kind, "header": self.header,
            "rows": [[{"text": c.text, "value": c.value, "best": c.bold, "note": c.note} for c in row]
                     for row in self.rows],
            "notes": self.notes, "note": self.note,
        }


# ---------------------------------------------------------------- labels and formatting


def format_kib(size_bytes: float) -> str:
    return f"{size_bytes / 1024:,.1f}"


def format_ms(ms: float) -> str:
    """A time in ms as the tables show it; under 1 ms in µs (with its unit), where `0.000` would say nothing."""
    if ms >= 100:
        return f"{ms:,.1f}"
    if ms >= 1:
        return f"{ms:.2f}"
    us = ms * 1000
    if us >= 100:
        return f"{us:.0f} µs"
    return f"{us:.1f} µs" if us >= 10 else f"{us:.2f} µs"


def format_value(metric: str, value: float) -> str:
    """A headline figure (already in the metric's unit) as the tables show it."""
    return f"{value:,.1f}" if METRIC_INFO[metric].unit == "KiB" else format_ms(value)


def not_ok_cell(record: Mapping[str, Any]) -> Cell:
    """`n/a` (unavailable here) or `failed`, with the record's reason as the footnote."""
    reason = " ".join(str(record.get("reason") or "no reason recorded").split())
    return Cell("n/a" if record["status"] == "unavailable" else "failed", ok=False, reason=reason)


@dataclass(frozen=True)
class _Labels:
    """How to name rows and columns. Boards have their own default flags, so a row shows only the flags that set it
    apart from the other records of its board (e.g. `-O2`, `tflm:kernels=reference`); targets only when they vary."""

    common_flags: dict[str, frozenset[str]]  # board -> flags every record of that board has
    targets_vary: bool

    @classmethod
    def of(cls, records: Sequence[Mapping[str, Any]]) -> _Labels:
        common: dict[str, frozenset[str]] = {}
        for r in records:
            flags = frozenset(r.get("flags") or ())
            common[r["board"]] = common[r["board"]] & flags if r["board"] in common else flags
        return cls(common_flags=common, targets_vary=len({r["target"] for r in records}) > 1)

    def variant(self, record: Mapping[str, Any]) -> str:
        """The flags that set this record apart from its board's others ("" for the board's defaults)."""
        common = self.common_flags.get(record["board"], frozenset())
        return " ".join(f for f in record.get("flags") or () if f not in common)

    def implementation(self, record: Mapping[str, Any]) -> str:
        return " ".join(p for p in (record["runtime"], self.variant(record)) if p)

    def board(self, record: Mapping[str, Any]) -> str:
        label = record["board"]
        if record.get("memory_kib") is not None:
            label += f" {record['memory_kib']} KiB"
        if self.targets_vary:
            label += f" ({record['target']})"
        return label


def _ordered(items: Iterable[str]) -> list[str]:
    """Unique items in first-seen order (records are appended in study order, which reads well)."""
    return list(dict.fromkeys(items))


# ---------------------------------------------------------------- cells


def detail_cell(record: Mapping[str, Any] | None) -> Cell:
    """A cell of the per-model table: flash KiB (model KiB), unused RAM KiB, or ms (cycles)."""
    if record is None:
        return Cell("–", ok=False)
    if record["status"] != "ok":
        return not_ok_cell(record)
    metric = record["metric"]
    info = METRIC_INFO[metric]
    values = record.get("values") or {}
    value = info.value(values)
    if value is None:
        return Cell("n/a", ok=False, reason="measured, but no value recorded")
    if info.unit == "KiB":
        text = format_value(metric, value)
        extra_bytes = values.get(info.detail_extra_field) if info.detail_extra_field else None
        if extra_bytes is not None:
            text += f" ({format_kib(extra_bytes)})"
    else:
        text = format_ms(value)
        if (values.get("runs") or 1) > 1 and values.get("ms_std"):
            std = float(values["ms_std"])
            text += f" ± {std:.3f}" if value >= 1 else f" ± {format_ms(std)}"  # in the mean's unit
        if values.get("cycles") is not None:
            text += f" ({int(values['cycles']):,})"
    return Cell(text, value=value)


def summary_cell(record: Mapping[str, Any] | None) -> Cell:
    """A cell of a per-metric table: just the headline figure (or why there is none)."""
    if record is None:
        return Cell("–", ok=False)
    if record["status"] != "ok":
        return not_ok_cell(record)
    value = METRIC_INFO[record["metric"]].value(record.get("values") or {})
    if value is None:
        return Cell("n/a", ok=False, reason="measured, but no value recorded")
    return Cell(format_value(record["metric"], value), value=value)


def mark_best(cells: Sequence[Cell], lower_is_better: bool) -> None:
    """Bold the best figure(s) among cells that have one, when there are at least two to compare."""
    valued = [c for c in cells if c.ok and c.value is not None]
    if len(valued) < 2:
        return
    best = (min if lower_is_better else max)(c.value for c in valued if c.value is not None)
    for c in valued:
        c.bold = c.value == best


# ---------------------------------------------------------------- the study's tables

BEST_NOTE = "The best figure per model and board is in bold."


def _clock_text(records: Sequence[Mapping[str, Any]]) -> str:
    clocks = _ordered(str(r["clock_hz"]) for r in records if r.get("clock_hz"))
    return ", ".join(f"{int(c) / 1e6:g} MHz" for c in clocks)


def build_tables(records: Iterable[Mapping[str, Any]], *, detail: bool = True) -> list[Table]:
    """The per-model/board tables, then (for more than one model x implementation x board) one table per metric
    across models and boards. `detail=False`: only the per-metric tables when there are several cells."""
    latest = latest_records(records)
    labels = _Labels.of(latest)
    tables: list[Table] = []

    models = _ordered(r["model"] for r in latest)
    boards = _ordered(labels.board(r) for r in latest)
    implementations = _ordered(labels.implementation(r) for r in latest)
    runtime_of = {labels.implementation(r): r["runtime"] for r in latest}
    index: dict[tuple[str, str, str, str], Mapping[str, Any]] = {
        (r["model"], labels.board(r), labels.implementation(r), r["metric"]): r for r in latest
    }
    several = len({k[:3] for k in index}) > 1

    for model in models if detail or not several else ():
        for board in boards:
            group = [r for r in latest if r["model"] == model and labels.board(r) == board]
            if not group:
                continue
            targets = ", ".join(_ordered(r["target"] for r in group))
            clock = _clock_text(group)
            rows: list[list[Cell]] = []
            for impl in implementations:
                if not any(labels.implementation(r) == impl for r in group):
                    continue
                rows.append([Cell(impl, runtime=runtime_of[impl])]
                            + [detail_cell(index.get((model, board, impl, m))) for m in METRICS])
            for column, metric in enumerate(METRICS, start=1):
                mark_best([row[column] for row in rows], METRIC_INFO[metric].lower_is_better)
            tables.append(Table(
                title=f"{model} on {board} ({targets}{', ' + clock if clock else ''})",
                header=["Implementation", *(METRIC_INFO[m].detail_header for m in METRICS)],
                rows=rows,
                note=BEST_NOTE if any(c.bold for row in rows for c in row) else "",
            ))

    for metric in METRICS if several else ():
        info = METRIC_INFO[metric]
        rows = []
        starts: set[int] = set()
        for model in models:
            group_rows: list[list[Cell]] = []
            for impl in implementations:
                cells = [summary_cell(index.get((model, board, impl, metric))) for board in boards]
                if all(c.text == "–" for c in cells):
                    continue
                group_rows.append([Cell(model if not group_rows else ""), Cell(impl, runtime=runtime_of[impl]),
                                   *cells])
            if not group_rows:
                continue
            for column in range(2, 2 + len(boards)):
                mark_best([row[column] for row in group_rows], info.lower_is_better)
            starts.add(len(rows))
            rows.extend(group_rows)
        if rows:
            tables.append(Table(
                title=f"{info.title} ({info.unit}) {info.arrow} {info.better}",
                header=["Model", "Implementation", *(f"{b} {info.arrow}" for b in boards)],
                rows=rows,
                note=BEST_NOTE if any(c.bold for row in rows for c in row) else "",
                group_starts=starts,
                kind="metric",
                label_columns=2,
            ))
    return tables


# ---------------------------------------------------------------- markdown


def _md_escape(text: str) -> str:
    return text.replace("*", "\\*").replace("|", "\\|").replace("\n", " ")


def _md_cell(c: Cell) -> str:
    """Best figures bold; missing figures as a marker with a footnote."""
    text = _md_escape(c.marked)
    return f"**{text}**" if c.bold else text


def _md_notes(table: Table) -> list[str]:
    return [f"- {note_marker(i)} {_md_escape(n)}" for i, n in enumerate(table.notes, start=1)]


def table_markdown(table: Table) -> str:
    lines = [f"### {table.title}", "", "| " + " | ".join(_md_escape(h) for h in table.header) + " |",
             "|" + "|".join(["---"] * table.label_columns + ["---:"] * (len(table.header) - table.label_columns))
             + "|"]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in table.rows]
    if table.notes:
        lines += ["", *_md_notes(table)]
    if table.note:
        lines += ["", table.note]
    return "\n".join(lines)


def render_tables(records: Iterable[Mapping[str, Any]]) -> str:
    """The study's tables in markdown: per model and board, then per metric across models and boards."""
    tables = build_tables(records)
    if not tables:
        return "No results.\n"
    return "\n\n".join(table_markdown(t) for t in tables) + "\n"


# ---------------------------------------------------------------- terminal (rich)


def print_tables(tables: Sequence[Table], console: Any = None, preamble: Sequence[str] = ()) -> None:
    """Tables as rich tables: best figures bold (the note says so only where the console shows bold), footnotes
    under each table. Without a terminal rich writes plain text, so CI logs stay readable."""
    from rich import box
    from rich.console import Console
    from rich.table import Table as RichTable
    from rich.text import Text

    console = console or Console()
    for line in preamble:
        console.print(Text(line))
    if not tables:
        console.print("No results.")
        return
    styled = console.is_terminal and not console.no_color
    for t in tables:
        rt = RichTable(title=Text(t.title, style="bold"), title_justify="left", box=box.SIMPLE_HEAD,
                       pad_edge=False)
        for i, h in enumerate(t.header):
            label = i < t.label_columns
            # Units on a second header line keep columns narrow (fits 80 columns); cells never wrap, as a figure
            # split over two lines reads as two figures.
            widest = max((len(row[i].marked) for row in t.rows), default=0)
            rt.add_column(h if label else h.replace(" ", "\n", 1), justify="left" if label else "right",
                          no_wrap=True, min_width=widest)
        for i, row in enumerate(t.rows):
            cells = []
            for c in row:
                style = "bold green" if c.bold else "dim" if not c.ok else ""
                cells.append(Text(c.marked, style=style))
            rt.add_row(*cells, end_section=(i + 1) in t.group_starts)
        console.print(rt)
        for i, n in enumerate(t.notes, start=1):
            console.print(Text(f"  {note_marker(i)} {n}", style="dim"), overflow="fold")
        if t.note and (styled or t.note != BEST_NOTE):
            console.print(Text(f"  {t.note}", style="dim"))
        console.print()


def terminal_tables(records: Iterable[Mapping[str, Any]]) -> list[Table]:
    """For the terminal: one table for one cell, the per-metric tables for several (not the same figure 5 times)."""
    return build_tables(records, detail=False)


# ---------------------------------------------------------------- JSON


def render_json(records: Iterable[Mapping[str, Any]]) -> str:
    """The tables (cells with value, best and footnote number; each table's notes) and the newest records."""
    latest = latest_records(records)
    return json.dumps({"tables": [t.to_dict() for t in build_tables(latest)], "records": latest}, indent=2) + "\n"


# ---------------------------------------------------------------- CSV (tidy, long)

CSV_COLUMNS = ("model", "runtime", "board", "variant", "metric", "quantity", "value", "unit", "status", "reason",
               "memory_kib", "target", "clock_hz", "cflags", "notes", "runtime_version", "model_sha256",
               "armlprof_version", "date")


def _unit(quantity: str) -> str:
    if quantity.endswith("_bytes"):
        return "B"
    if quantity.startswith("cycles"):
        return "cycles"
    if quantity == "ns" or quantity.startswith("ns_"):
        return "ns"
    return "count"


def tidy_quantities(values: Mapping[str, Any]) -> tuple[list[tuple[str, int | float, str]], str]:
    """(quantity, value, unit) per numeric value field, and the text fields as `k=v` notes. Times in ms become
    integer ns (`ms` -> `ns`, `ms_std` -> `ns_std`) so every figure is an integer and pandas keeps integer dtypes."""
    rows: list[tuple[str, int | float, str]] = []
    notes: list[str] = []
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            notes.append(f"{name}={value}")
            continue
        if name == "ms" or name.startswith("ms_"):
            name, value = "ns" + name[2:], round(value * 1_000_000)
        elif isinstance(value, float) and value.is_integer():
            value = int(value)
        rows.append((name, value, _unit(name)))
    return rows, " ".join(notes)


def csv_rows(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per figure quantity of each (newest) record; a record without figures is one row with its reason."""
    latest = latest_records(records)
    labels = _Labels.of(latest)
    rows: list[dict[str, Any]] = []
    for r in latest:
        common = {c: r.get(c) for c in CSV_COLUMNS}
        common.update(variant=labels.variant(r) or "default", cflags=" ".join(r.get("flags") or ()),
                      quantity=None, value=None, unit=None)
        quantities, notes = tidy_quantities(r.get("values") or {}) if r["status"] == "ok" else ([], "")
        common["notes"] = notes or None
        if not quantities:
            rows.append(common)
        rows += [{**common, "quantity": q, "value": v, "unit": u} for q, v, u in quantities]
    return rows


def render_csv(records: Iterable[Mapping[str, Any]], *, leading: Mapping[str, str] | None = None) -> str:
    """The tidy long CSV (CSV_COLUMNS). `leading`: extra first columns with a constant value (compare's `set`)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    extra = dict(leading or {})
    writer.writerow([*extra, *CSV_COLUMNS])
    for row in csv_rows(records):
        writer.writerow([*extra.values(), *("" if row[c] is None else row[c] for c in CSV_COLUMNS)])
    return out.getvalue()


# ---------------------------------------------------------------- colours and charts

# One colour per runtime in every chart and table (Tableau 10); other runtimes take the rest in name order.
RUNTIME_COLOURS = {"tvm-graph": "#4e79a7", "tvm-aot": "#f28e2b", "tflm": "#59a14f", "handwritten": "#b07aa1"}
_SPARE_COLOURS = ("#e15759", "#76b7b2", "#edc948", "#ff9da7", "#9c755f", "#bab0ac")
_HATCHES = ("", "//", "..", "xx", "\\\\", "++")  # variants of one runtime: same colour, another hatch


def runtime_colour(runtime: str, known: Iterable[str] = ()) -> str:
    if runtime in RUNTIME_COLOURS:
        return RUNTIME_COLOURS[runtime]
    others = sorted({*known, runtime} - set(RUNTIME_COLOURS))
    return _SPARE_COLOURS[others.index(runtime) % len(_SPARE_COLOURS)]


@dataclass
class Series:
    label: str
    colour: str
    hatch: str
    values: list[float | None]  # one per group; None = no figure
    measured: list[bool]  # a record exists (so a missing bar is marked n/a, not just absent)


def bar_chart(title: str, ylabel: str, groups: Sequence[str], series: Sequence[Series],
              formatter: Callable[[float], str], fmt: str = "png") -> bytes | None:
    """A grouped bar chart (PNG or SVG bytes): a group per x label, a bar per series. Series without any figure
    are left out of the legend, so every legend colour stands for bars on the chart."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not groups or not series:
        return None
    width = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 + 1.6 * len(groups)), 4.0), dpi=100)
    try:
        for i, s in enumerate(series):
            xs: list[float] = []
            heights: list[float] = []
            for g in range(len(groups)):
                x = g - 0.4 + width * (i + 0.5)
                value = s.values[g]
                if value is None:
                    if s.measured[g]:  # measured but no figure: say so where the bar would be
                        ax.text(x, 0, "n/a", ha="center", va="bottom", fontsize=7, color="#888", rotation=90)
                    continue
                xs.append(x)
                heights.append(value)
            if not heights:
                continue
            bars = ax.bar(xs, heights, width, label=s.label, color=s.colour, hatch=s.hatch or None,
                          edgecolor="white" if not s.hatch else "#333", linewidth=0.5)
            ax.bar_label(bars, labels=[formatter(h) for h in heights], fontsize=7, padding=1)
        ax.set_xticks(range(len(groups)), groups, fontsize=8)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.margins(y=0.12)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
        ax.grid(axis="y", alpha=0.3)
        fig.tight_layout()
        out = io.BytesIO()
        metadata = {"Software": None} if fmt == "png" else {"Creator": None, "Date": None}
        fig.savefig(out, format=fmt, metadata=metadata)
        return out.getvalue()
    finally:
        plt.close(fig)


def _chart_formatter(metric: str) -> Callable[[float], str]:
    return lambda v: format_value(metric, v)


def chart(metric: str, records: Sequence[Mapping[str, Any]], fmt: str = "png") -> bytes | None:
    """One metric: a group per model/board, a bar per implementation in its runtime's colour."""
    info = METRIC_INFO[metric]
    labels = _Labels.of(records)
    rows = [r for r in records if r["metric"] == metric]
    if not rows:
        return None
    groups = _ordered(f"{r['model']}\n{labels.board(r)}" for r in rows)
    implementations = _ordered(labels.implementation(r) for r in rows)
    runtime_of = {labels.implementation(r): r["runtime"] for r in rows}
    by_cell = {(f"{r['model']}\n{labels.board(r)}", labels.implementation(r)): r for r in rows}
    runtimes = {r["runtime"] for r in rows}
    variants_seen: dict[str, int] = {}
    series = []
    for impl in implementations:
        runtime = runtime_of[impl]
        n = variants_seen[runtime] = variants_seen.get(runtime, -1) + 1
        values: list[float | None] = []
        for g in groups:
            record = by_cell.get((g, impl))
            values.append(info.value(record.get("values") or {}) if record and record["status"] == "ok" else None)
        series.append(Series(impl, runtime_colour(runtime, runtimes), _HATCHES[n % len(_HATCHES)], values,
                             [(g, impl) in by_cell for g in groups]))
    return bar_chart(f"{info.title} {info.arrow}", f"{info.unit} ({info.better})", groups, series,
                     _chart_formatter(metric), fmt)


def write_charts(charts: Mapping[str, tuple[bytes | None, bytes | None]], out_dir: Path) -> list[Path]:
    """`chart-<name>.png` and `.svg` into `out_dir` for each chart that has figures."""
    written = []
    for name, (png, svg) in charts.items():
        for data, ext in ((png, "png"), (svg, "svg")):
            if data:
                path = out_dir / f"chart-{name}.{ext}"
                path.write_bytes(data)
                written.append(path)
    return written


# ---------------------------------------------------------------- HTML

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 72em;
       color: #222; line-height: 1.4; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; } h3 { font-size: 1.05em; }
table { border-collapse: collapse; margin: 0.5em 0 0.5em; font-size: 0.92em; max-width: 100%; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; vertical-align: top;
         overflow-wrap: anywhere; }
th { background: #f3f3f3; } td.label, th.label { text-align: left; }
td.na { color: #888; }
td.best { font-weight: bold; background: #eaf6ea; }
tr.group-start td { border-top: 2px solid #999; }
span.swatch { display: inline-block; width: 0.8em; height: 0.8em; margin-right: 0.4em; border-radius: 2px; }
ol.notes { color: #555; font-size: 0.88em; margin: 0 0 1.5em; padding-left: 1.5em; max-width: 60em; }
p.note, p.meta { color: #555; font-size: 0.9em; }
figure { margin: 1em 0 2em; } img { max-width: 100%; height: auto; } figcaption { font-size: 0.85em; color: #555; }
"""


def table_html(table: Table, runtimes: Iterable[str] = (), anchor: str = "t") -> str:
    """One table and its footnotes; `anchor` prefixes the footnote ids (unique per table on a page)."""
    known = set(runtimes)
    parts = [f"<h3>{html.escape(table.title)}</h3>", "<table>", "<thead><tr>"]
    parts += [f'<th class="label">{html.escape(h)}</th>' if i < table.label_columns else f"<th>{html.escape(h)}</th>"
              for i, h in enumerate(table.header)]
    parts.append("</tr></thead><tbody>")
    for i, row in enumerate(table.rows):
        parts.append('<tr class="group-start">' if i in table.group_starts and i else "<tr>")
        for column, c in enumerate(row):
            cls = "label" if column < table.label_columns else "best" if c.bold else "na" if not c.ok else ""
            parts.append(f'<td class="{cls}">' if cls else "<td>")
            if c.runtime:
                parts.append(f'<span class="swatch" style="background:{runtime_colour(c.runtime, known)}"></span>')
            parts.append(html.escape(c.text))
            if c.note:
                parts.append(f'<sup><a href="#{anchor}-{c.note}">{c.note}</a></sup>')
            parts.append("</td>")
        parts.append("</tr>")
    parts.append("</tbody></table>")
    if table.notes:
        parts.append('<ol class="notes">' + "".join(
            f'<li id="{anchor}-{i}">{html.escape(n)}</li>' for i, n in enumerate(table.notes, start=1)) + "</ol>")
    if table.note:
        parts.append(f'<p class="note">{html.escape(table.note)}</p>')
    return "".join(parts)


def _page(title: str, meta: str, body: Sequence[str]) -> str:
    return "\n".join(["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
                      f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
                      f"<h1>{html.escape(title)}</h1>", f'<p class="meta">{html.escape(meta)}</p>', *body,
                      "</body></html>"]) + "\n"


def _figures(charts: Mapping[str, tuple[bytes | None, bytes | None]], alts: Mapping[str, str],
             files_beside: bool) -> list[str]:
    parts = ["<h2>Charts</h2>"] if any(png for png, _ in charts.values()) else []
    for name, (png, _svg) in charts.items():
        if png:
            data = base64.b64encode(png).decode("ascii")
            caption = (f'<figcaption>Files: <a href="chart-{name}.png">chart-{name}.png</a>, '
                       f'<a href="chart-{name}.svg">chart-{name}.svg</a></figcaption>') if files_beside else ""
            parts.append(f'<figure><img alt="{html.escape(alts[name])}" src="data:image/png;base64,{data}">'
                         f"{caption}</figure>")
    return parts


def study_charts(records: Sequence[Mapping[str, Any]], svg: bool = False) -> dict[str, tuple[bytes | None, ...]]:
    latest = latest_records(records)
    return {m: (chart(m, latest, "png"), chart(m, latest, "svg") if svg else None) for m in METRICS}


def render_html(records: Iterable[Mapping[str, Any]], *, title: str = "armlprof results",
                sources: Sequence[str] = (), chart_dir: Path | None = None) -> str:
    """A self-contained page: inline CSS, the tables with footnotes, one chart per metric as an inline PNG; no
    external links. With `chart_dir`, each chart is also written there as chart-<metric>.png and .svg."""
    latest = latest_records(records)
    tables = build_tables(latest)
    versions = ", ".join(_ordered(str(r.get("armlprof_version")) for r in latest)) or "?"
    dates = sorted(str(r.get("date")) for r in latest if r.get("date"))
    meta = f"{len(latest)} figures"
    if sources:
        meta += " from " + ", ".join(sources)
    meta += f"; armlprof {versions}"
    if dates:
        meta += f"; measured {dates[0]} … {dates[-1]}"
    runtimes = {r["runtime"] for r in latest}
    body = [] if tables else ["<p>No results.</p>"]
    n_detail = sum(1 for t in tables if t.kind == "detail")
    if n_detail and n_detail < len(tables):
        body.append("<h2>Per model and board</h2>")
    for i, t in enumerate(tables):
        if i == n_detail and i:
            body.append("<h2>Per metric</h2>")
        body.append(table_html(t, runtimes, f"t{i}"))
    charts = study_charts(latest, svg=chart_dir is not None)
    if chart_dir is not None:
        write_charts(charts, chart_dir)
    alts = {m: f"{METRIC_INFO[m].title} ({METRIC_INFO[m].unit}), {METRIC_INFO[m].better}" for m in METRICS}
    body += _figures(charts, alts, chart_dir is not None)
    return _page(title, meta, body)


def render(records: Sequence[Mapping[str, Any]], fmt: str, *, title: str = "armlprof results",
           sources: Sequence[str] = (), chart_dir: Path | None = None) -> str:
    """The report in `fmt` (md, json, csv or html) as text; `table` is printed with print_tables instead."""
    if fmt == "md":
        return render_tables(records)
    if fmt == "json":
        return render_json(records)
    if fmt == "csv":
        return render_csv(records)
    if fmt == "html":
        return render_html(records, title=title, sources=sources, chart_dir=chart_dir)
    raise ArmlprofError(f"unknown report format {fmt!r}; use one of {', '.join(FORMATS)}")


def emit(records: Sequence[Mapping[str, Any]], fmt: str, **kwargs: Any) -> None:
    """Write the report to stdout: rich tables for `table`, else the text of `render`."""
    import sys

    if fmt == "table":
        print_tables(terminal_tables(records))
    else:
        sys.stdout.write(render(records, fmt, **kwargs))
        sys.stdout.flush()


# ---------------------------------------------------------------- compare


def _compare_index(records: Sequence[Mapping[str, Any]], label: str) -> dict[tuple, Mapping[str, Any]]:
    """Newest record per (model, runtime, board, memory, target, metric); flags are what a comparison varies."""
    index: dict[tuple, Mapping[str, Any]] = {}
    flags_seen: dict[tuple, tuple[str, ...]] = {}
    for r in latest_records(records):
        key = (r["model"], r["runtime"], r["board"], r.get("memory_kib"), r["target"], r["metric"])
        flags = tuple(r.get("flags") or ())
        if key in flags_seen and flags_seen[key] != flags:
            raise ArmlprofError(
                f"{label} has several flag sets for {r['model']}/{r['runtime']}/{r['board']}/{r['metric']}; "
                "split it into one results file per flag set before comparing")
        flags_seen[key] = flags
        index[key] = r
    return index


def _geomean(ratios: Sequence[float]) -> float:
    return math.exp(sum(math.log(x) for x in ratios) / len(ratios))


def _ordered_keys(indexes: Sequence[Mapping[tuple, Any]]) -> list[tuple]:
    return list(dict.fromkeys(k for index in indexes for k in index))


@dataclass
class Comparison:
    labels: list[str]
    preamble: list[str]  # one line per results file: figures, flags, armlprof version
    tables: list[Table]
    charts: dict[str, tuple[list[str], list[Series]]]  # metric -> (groups, one series per results file)


def build_comparison(record_sets: Sequence[Sequence[Mapping[str, Any]]], labels: Sequence[str]) -> Comparison:
    """Per metric, each (model, runtime, board) side by side with the ratio of each later set to the first (e.g.
    two compiler flags or two armlprof versions), and the geometric mean of those ratios."""
    if len(record_sets) < 2:
        raise ArmlprofError("compare needs at least two results files; pass A.jsonl B.jsonl")
    if len(labels) != len(record_sets):
        raise ArmlprofError(f"{len(labels)} labels for {len(record_sets)} results files; pass one label per file")
    indexes = [_compare_index(records, label) for records, label in zip(record_sets, labels, strict=True)]
    keys = _ordered_keys(indexes)
    first = labels[0]
    preamble = []
    for label, records in zip(labels, record_sets, strict=True):
        latest = latest_records(records)
        flags = "; ".join(_ordered(" ".join(r.get("flags") or ()) or "(none)" for r in latest)) or "(none)"
        versions = ", ".join(_ordered(str(r.get("armlprof_version")) for r in latest)) or "?"
        preamble.append(f"{label}: {len(latest)} figures, flags {flags}, armlprof {versions}")
    tables: list[Table] = []
    charts: dict[str, tuple[list[str], list[Series]]] = {}
    for metric in METRICS:
        info = METRIC_INFO[metric]
        metric_keys = [k for k in keys if k[5] == metric]
        if not metric_keys:
            continue
        header = ["Model", "Implementation", "Board", *(f"{lb} {info.unit}" for lb in labels),
                  *(f"{lb}/{first}" for lb in labels[1:])]
        ratios_by_set: list[list[float]] = [[] for _ in labels[1:]]
        rows: list[list[Cell]] = []
        for key in metric_keys:
            model, runtime, board, memory_kib, target, _ = key
            board_text = board + (f" {memory_kib} KiB" if memory_kib is not None else "") + f" ({target})"
            cells = [summary_cell(index.get(key)) for index in indexes]
            row = [Cell(model), Cell(runtime, runtime=runtime), Cell(board_text), *cells]
            base = cells[0].value if cells[0].ok else None
            for j, c in enumerate(cells[1:]):
                if base and c.ok and c.value is not None:
                    ratio = c.value / base
                    ratios_by_set[j].append(ratio)
                    row.append(Cell(f"{ratio:.3f}", value=ratio))
                else:
                    row.append(Cell("–", ok=False))
            rows.append(row)
        summary = [f"{lb}/{first} geometric mean {_geomean(r):.3f} over {len(r)} figures"
                   for lb, r in zip(labels[1:], ratios_by_set, strict=True) if r]
        tables.append(Table(title=f"{info.title} ({info.unit}) {info.arrow} {info.better}", header=header,
                            rows=rows, note="; ".join(summary) + "." if summary else "", kind="compare",
                            label_columns=3))
        groups = [f"{k[0]}\n{k[1]}\n{k[2]}" for k in metric_keys]
        series = [Series(label, _SPARE_COLOURS[i % len(_SPARE_COLOURS)] if i else "#4e79a7", "",
                         [row[3 + i].value if row[3 + i].ok else None for row in rows],
                         [k in indexes[i] for k in metric_keys])
                  for i, label in enumerate(labels)]
        charts[metric] = (groups, series)
    return Comparison(list(labels), preamble, tables, charts)


def render_compare(record_sets: Sequence[Sequence[Mapping[str, Any]]], labels: Sequence[str],
                   fmt: str = "md", *, chart_dir: Path | None = None) -> str:
    """The comparison as markdown, JSON, CSV (the tidy CSV with a leading `set` column) or HTML (with charts)."""
    comparison = build_comparison(record_sets, labels)
    if fmt == "md":
        lines = ["## Comparison", ""]
        for line in comparison.preamble:
            label, rest = line.split(": ", 1)
            lines.append(f"- **{_md_escape(label)}**: {_md_escape(rest)}")
        for t in comparison.tables:
            lines += ["", table_markdown(t)]
        return "\n".join(lines) + "\n"
    if fmt == "json":
        return json.dumps({"sets": comparison.preamble, "tables": [t.to_dict() for t in comparison.tables]},
                          indent=2) + "\n"
    if fmt == "csv":
        parts = [render_csv(records, leading={"set": label}) for records, label in zip(record_sets, labels,
                                                                                         strict=True)]
        return parts[0] + "".join(p.split("\n", 1)[1] for p in parts[1:])
    if fmt == "html":
        charts = {m: tuple(bar_chart(f"{METRIC_INFO[m].title} {METRIC_INFO[m].arrow}",
                                     f"{METRIC_INFO[m].unit} ({METRIC_INFO[m].better})", groups, series,
                                     _chart_formatter(m), f) if f == "png" or chart_dir else None
                           for f in ("png", "svg"))
                  for m, (groups, series) in comparison.charts.items()}
        if chart_dir is not None:
            write_charts(charts, chart_dir)
        runtimes = {r["runtime"] for records in record_sets for r in records}
        body = ["<ul>" + "".join(f"<li>{html.escape(p)}</li>" for p in comparison.preamble) + "</ul>"]
        body += [table_html(t, runtimes, f"t{i}") for i, t in enumerate(comparison.tables)]
        alts = {m: f"{METRIC_INFO[m].title} ({METRIC_INFO[m].unit}) per results file" for m in charts}
        body += _figures(charts, alts, chart_dir is not None)
        return _page("armlprof comparison", " vs ".join(labels), body)
    raise ArmlprofError(f"unknown compare format {fmt!r}; use one of {', '.join(FORMATS)}")


def print_compare(record_sets: Sequence[Sequence[Mapping[str, Any]]], labels: Sequence[str]) -> None:
    comparison = build_comparison(record_sets, labels)
    print_tables(comparison.tables, preamble=comparison.preamble)
