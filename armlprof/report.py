"""Reports from result records: the study's markdown tables, a flat CSV, a self-contained HTML page with charts,
and a side-by-side comparison of several results files.

Every renderer first keeps the newest record per key (a resumed run may have retried a failed figure). Tables are
built once as `Table`s of `Cell`s, then written as markdown or HTML, so both show the same numbers.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from armlprof.errors import ArmlprofError
from armlprof.metrics import METRICS as METRIC_TABLE
from armlprof.metrics import Metric
from armlprof.results import METRICS, VALUE_FIELDS, latest_records

# The metrics' report info (title, unit, direction, headline figure) is their armlprof.metrics entry.
METRIC_INFO: dict[str, Metric] = METRIC_TABLE


@dataclass
class Cell:
    text: str
    value: float | None = None  # the headline figure when ok (used to pick the best cell and for charts)
    ok: bool = True
    bold: bool = False


@dataclass
class Table:
    title: str
    header: list[str]
    rows: list[list[Cell]]
    note: str = ""
    group_starts: set[int] = field(default_factory=set)  # row indexes where a new row group begins
    kind: str = "detail"  # "detail" (per model and board) or "metric" (one metric across models and boards)
    label_columns: int = 1  # leading columns that name the row (left-aligned); the rest are figures


# ---------------------------------------------------------------- labels and formatting


def format_kib(size_bytes: float) -> str:
    return f"{size_bytes / 1024:,.1f}"


def format_ms(ms: float) -> str:
    if ms >= 100:
        return f"{ms:,.1f}"
    if ms >= 1:
        return f"{ms:.2f}"
    return f"{ms:.3f}"


def format_value(metric: str, value: float) -> str:
    """A headline figure (already in the metric's unit) as the tables show it."""
    return f"{value:,.1f}" if METRIC_INFO[metric].unit == "KiB" else format_ms(value)


def not_ok_text(record: Mapping[str, Any]) -> str:
    reason = str(record.get("reason") or "no reason recorded")
    return reason if record["status"] == "unavailable" else f"failed: {reason}"


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

    def implementation(self, record: Mapping[str, Any]) -> str:
        common = self.common_flags.get(record["board"], frozenset())
        distinct = [f for f in record.get("flags") or () if f not in common]
        return " ".join([record["runtime"], *distinct])

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
        return Cell(not_ok_text(record), ok=False)
    metric = record["metric"]
    info = METRIC_INFO[metric]
    values = record.get("values") or {}
    value = info.value(values)
    if value is None:
        return Cell("ok (no value recorded)", ok=False)
    if info.unit == "KiB":
        text = format_value(metric, value)
        extra_bytes = values.get(info.detail_extra_field) if info.detail_extra_field else None
        if extra_bytes is not None:
            text += f" ({format_kib(extra_bytes)})"
    else:
        text = format_ms(value)
        if (values.get("runs") or 1) > 1 and values.get("ms_std"):
            text += f" ± {format_ms(float(values['ms_std']))}"
        if values.get("cycles") is not None:
            text += f" ({int(values['cycles']):,})"
    return Cell(text, value=value)


def summary_cell(record: Mapping[str, Any] | None) -> Cell:
    """A cell of a per-metric table: just the headline figure (or why there is none)."""
    if record is None:
        return Cell("–", ok=False)
    if record["status"] != "ok":
        return Cell(not_ok_text(record), ok=False)
    value = METRIC_INFO[record["metric"]].value(record.get("values") or {})
    if value is None:
        return Cell("ok (no value recorded)", ok=False)
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


def _clock_text(records: Sequence[Mapping[str, Any]]) -> str:
    clocks = _ordered(str(r["clock_hz"]) for r in records if r.get("clock_hz"))
    return ", ".join(f"{int(c) / 1e6:g} MHz" for c in clocks)


def build_tables(records: Iterable[Mapping[str, Any]]) -> list[Table]:
    """The per-model/board tables, then one table per metric across models and boards."""
    latest = latest_records(records)
    labels = _Labels.of(latest)
    tables: list[Table] = []

    models = _ordered(r["model"] for r in latest)
    boards = _ordered(labels.board(r) for r in latest)
    implementations = _ordered(labels.implementation(r) for r in latest)
    index: dict[tuple[str, str, str, str], Mapping[str, Any]] = {
        (r["model"], labels.board(r), labels.implementation(r), r["metric"]): r for r in latest
    }

    for model in models:
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
                rows.append([Cell(impl)] + [detail_cell(index.get((model, board, impl, m))) for m in METRICS])
            for column, metric in enumerate(METRICS, start=1):
                mark_best([row[column] for row in rows], METRIC_INFO[metric].lower_is_better)
            tables.append(Table(
                title=f"{model} on {board} ({targets}{', ' + clock if clock else ''})",
                header=["Implementation", *(METRIC_INFO[m].detail_header for m in METRICS)],
                rows=rows,
            ))

    for metric in METRICS:
        info = METRIC_INFO[metric]
        rows = []
        starts: set[int] = set()
        for model in models:
            group_rows: list[list[Cell]] = []
            for impl in implementations:
                cells = [summary_cell(index.get((model, board, impl, metric))) for board in boards]
                if all(c.text == "–" for c in cells):
                    continue
                group_rows.append([Cell(model if not group_rows else ""), Cell(impl), *cells])
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
                note="The best figure per model and board is in bold.",
                group_starts=starts,
                kind="metric",
                label_columns=2,
            ))
    return tables


def _md_escape(text: str) -> str:
    return text.replace("*", "\\*").replace("|", "\\|").replace("\n", " ")


def _md_cell(c: Cell) -> str:
    """Best figures bold, reasons (not-ok cells) italic."""
    text = _md_escape(c.text)
    if c.bold:
        return f"**{text}**"
    return f"*{text}*" if not c.ok and c.text != "–" else text


def table_markdown(table: Table) -> str:
    lines = [f"### {table.title}", "", "| " + " | ".join(_md_escape(h) for h in table.header) + " |",
             "|" + "|".join(["---"] * table.label_columns + ["---:"] * (len(table.header) - table.label_columns))
             + "|"]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in table.rows]
    if table.note:
        lines += ["", table.note]
    return "\n".join(lines)


def render_tables(records: Iterable[Mapping[str, Any]]) -> str:
    """The study's tables in markdown: per model and board, then per metric across models and boards."""
    tables = build_tables(records)
    if not tables:
        return "No results.\n"
    return "\n\n".join(table_markdown(t) for t in tables) + "\n"


# ---------------------------------------------------------------- CSV

COMMON_COLUMNS = ("schema", "model", "model_sha256", "runtime", "runtime_version", "board", "memory_kib", "target",
                  "metric", "status", "reason", "flags", "clock_hz", "armlprof_version", "date")


def render_csv(records: Iterable[Mapping[str, Any]]) -> str:
    """One row per (newest) record; common fields, then every value field as its own column; flags space-joined."""
    latest = latest_records(records)
    value_names = _ordered([name for metric in METRICS for name in VALUE_FIELDS[metric]]
                           + sorted({k for r in latest for k in (r.get("values") or {})}))
    value_columns = {name: (f"values.{name}" if name in COMMON_COLUMNS else name) for name in value_names}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*COMMON_COLUMNS, *value_columns.values()])
    for r in latest:
        row = [" ".join(r.get("flags") or ()) if c == "flags" else r.get(c) for c in COMMON_COLUMNS]
        values = r.get("values") or {}
        row += [values.get(name) for name in value_columns]
        writer.writerow(["" if v is None else v for v in row])
    return out.getvalue()


# ---------------------------------------------------------------- HTML

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 72em;
       color: #222; line-height: 1.4; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; } h3 { font-size: 1.05em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; vertical-align: top; }
th { background: #f3f3f3; } td.label, th.label { text-align: left; }
td.na { color: #888; font-style: italic; text-align: left; max-width: 22em; }
td.best { font-weight: bold; background: #eaf6ea; }
tr.group-start td { border-top: 2px solid #999; }
p.note, p.meta { color: #555; font-size: 0.9em; }
figure { margin: 1em 0 2em; } img { max-width: 100%; height: auto; }
"""


def table_html(table: Table) -> str:
    parts = [f"<h3>{html.escape(table.title)}</h3>", "<table>", "<thead><tr>"]
    parts += [f'<th class="label">{html.escape(h)}</th>' if i < table.label_columns else f"<th>{html.escape(h)}</th>"
              for i, h in enumerate(table.header)]
    parts.append("</tr></thead><tbody>")
    for i, row in enumerate(table.rows):
        parts.append('<tr class="group-start">' if i in table.group_starts and i else "<tr>")
        for column, c in enumerate(row):
            cls = "label" if column < table.label_columns else "best" if c.bold else "na" if not c.ok else ""
            parts.append(f'<td class="{cls}">' if cls else "<td>")
            parts.append(html.escape(c.text) + "</td>")
        parts.append("</tr>")
    parts.append("</tbody></table>")
    if table.note:
        parts.append(f'<p class="note">{html.escape(table.note)}</p>')
    return "".join(parts)


def chart_png(metric: str, records: Sequence[Mapping[str, Any]]) -> bytes | None:
    """A grouped bar chart of one metric: a group per model/board, a bar per implementation (PNG bytes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    info = METRIC_INFO[metric]
    labels = _Labels.of(records)
    rows = [r for r in records if r["metric"] == metric]
    if not rows:
        return None
    groups = _ordered(f"{r['model']}\n{labels.board(r)}" for r in rows)
    implementations = _ordered(labels.implementation(r) for r in rows)
    by_cell = {(f"{r['model']}\n{labels.board(r)}", labels.implementation(r)): r for r in rows}

    width = 0.8 / len(implementations)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 + 1.6 * len(groups)), 4.0), dpi=100)
    try:
        for i, impl in enumerate(implementations):
            xs: list[float] = []
            heights: list[float] = []
            for g, group in enumerate(groups):
                x = g - 0.4 + width * (i + 0.5)
                record = by_cell.get((group, impl))
                value = info.value(record.get("values") or {}) if record and record["status"] == "ok" else None
                if value is None:
                    if record is not None:  # measured but no figure: say so where the bar would be
                        ax.text(x, 0, "n/a", ha="center", va="bottom", fontsize=7, color="#888", rotation=90)
                    continue
                xs.append(x)
                heights.append(value)
            bars = ax.bar(xs, heights, width, label=impl)
            ax.bar_label(bars, labels=[format_value(metric, h) for h in heights], fontsize=7, padding=1)
        ax.set_xticks(range(len(groups)), groups, fontsize=8)
        ax.set_ylabel(f"{info.unit} ({info.better})")
        ax.set_title(f"{info.title} {info.arrow}")
        ax.margins(y=0.12)
        ax.legend(fontsize=8)
        ax.grid(axis="y", alpha=0.3)
        fig.tight_layout()
        out = io.BytesIO()
        fig.savefig(out, format="png", metadata={"Software": None})
        return out.getvalue()
    finally:
        plt.close(fig)


def render_html(records: Iterable[Mapping[str, Any]], *, title: str = "armlprof results",
                sources: Sequence[str] = ()) -> str:
    """A self-contained page: inline CSS, the tables, one chart per metric as an inline PNG; no external links."""
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
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
             f"<h1>{html.escape(title)}</h1>", f'<p class="meta">{html.escape(meta)}</p>']
    if not tables:
        parts.append("<p>No results.</p>")
    n_detail = sum(1 for t in tables if t.kind == "detail")
    if n_detail:
        parts.append("<h2>Per model and board</h2>")
    for i, t in enumerate(tables):
        if i == n_detail:
            parts.append("<h2>Per metric</h2>")
        parts.append(table_html(t))
    charts = [(m, chart_png(m, latest)) for m in METRICS]
    if any(png for _, png in charts):
        parts.append("<h2>Charts</h2>")
    for metric, png in charts:
        if png:
            info = METRIC_INFO[metric]
            data = base64.b64encode(png).decode("ascii")
            parts.append(f'<figure><img alt="{html.escape(info.title)} ({info.unit}), {info.better}" '
                         f'src="data:image/png;base64,{data}"></figure>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


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


def render_compare(record_sets: Sequence[Sequence[Mapping[str, Any]]], labels: Sequence[str]) -> str:
    """Markdown: per metric, each (model, runtime, board) side by side with the ratio of each later set to the
    first (e.g. two compiler flags or two armlprof versions), and the geometric mean of those ratios."""
    if len(record_sets) < 2:
        raise ArmlprofError("compare needs at least two results files; pass A.jsonl B.jsonl")
    if len(labels) != len(record_sets):
        raise ArmlprofError(f"{len(labels)} labels for {len(record_sets)} results files; pass one label per file")
    indexes = [_compare_index(records, label) for records, label in zip(record_sets, labels, strict=True)]
    keys = _ordered_keys(indexes)
    first = labels[0]
    lines = ["## Comparison", ""]
    for label, records in zip(labels, record_sets, strict=True):
        latest = latest_records(records)
        flags = "; ".join(_ordered(" ".join(r.get("flags") or ()) or "(none)" for r in latest)) or "(none)"
        versions = ", ".join(_ordered(str(r.get("armlprof_version")) for r in latest)) or "?"
        lines.append(f"- **{_md_escape(label)}**: {len(latest)} figures, flags {_md_escape(flags)}, "
                     f"armlprof {versions}")
    for metric in METRICS:
        info = METRIC_INFO[metric]
        metric_keys = [k for k in keys if k[5] == metric]
        if not metric_keys:
            continue
        header = ["Model", "Implementation", "Board", *(f"{lb} {info.unit}" for lb in labels),
                  *(f"{lb}/{first}" for lb in labels[1:])]
        lines += ["", f"### {info.title} ({info.unit}) {info.arrow} {info.better}", "",
                  "| " + " | ".join(_md_escape(h) for h in header) + " |",
                  "|" + "|".join(["---"] * 3 + ["---:"] * (len(header) - 3)) + "|"]
        ratios_by_set: list[list[float]] = [[] for _ in labels[1:]]
        for key in metric_keys:
            model, runtime, board, memory_kib, target, _ = key
            board_text = board + (f" {memory_kib} KiB" if memory_kib is not None else "") + f" ({target})"
            cells = [summary_cell(index.get(key)) for index in indexes]
            row = [_md_escape(model), _md_escape(runtime), _md_escape(board_text), *(_md_cell(c) for c in cells)]
            base = cells[0].value if cells[0].ok else None
            for j, c in enumerate(cells[1:]):
                if base and c.ok and c.value is not None:
                    ratio = c.value / base
                    ratios_by_set[j].append(ratio)
                    row.append(f"{ratio:.3f}")
                else:
                    row.append("–")
            lines.append("| " + " | ".join(row) + " |")
        summary = [f"{lb}/{first} geometric mean {_geomean(r):.3f} over {len(r)} figures"
                   for lb, r in zip(labels[1:], ratios_by_set, strict=True) if r]
        if summary:
            lines += ["", "; ".join(summary) + "."]
    return "\n".join(lines) + "\n"


def _ordered_keys(indexes: Sequence[Mapping[tuple, Any]]) -> list[tuple]:
    return list(dict.fromkeys(k for index in indexes for k in index))
