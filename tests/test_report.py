"""Reports from synthetic result records: markdown tables, CSV, HTML, compare, and the CLI commands."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest

from armlprof.cli import main
from armlprof.errors import ArmlprofError
from armlprof.report import build_tables, render_compare, render_csv, render_html, render_tables
from armlprof.results import ResultStore, make_record

DOES_NOT_FIT = "does not fit: needs 1,210,984 B flash, nano33ble has 983,040 B"
CLOCK_HZ = {"nano33ble": 64_000_000, "spresense": 156_000_000}


def synthetic_records(flags: tuple[str, ...] = ("-Os",), scale: float = 1.0) -> list[dict]:
    """Two models x two boards x three runtimes, with an unavailable runtime and a model that does not fit."""
    records = []
    for model, size in (("micro_speech", 1), ("person_detect", 5)):
        for board, clock_hz in CLOCK_HZ.items():
            for runtime, factor in (("tflm", 1.0), ("tvm-aot", 0.8), ("tvm-graph", 1.3)):
                common = dict(model=model, model_sha256=model[:2] * 32, runtime=runtime, board=board,
                              target="emulator", clock_hz=clock_hz, flags=flags)
                if runtime == "tflm" and model == "person_detect" and board == "nano33ble":
                    records += [make_record(**common, metric=m, status="unavailable", reason="TFLM not found")
                                for m in ("flash", "ram", "init", "inference")]
                    continue
                if runtime == "tvm-graph" and model == "person_detect":
                    records.append(make_record(**common, metric="flash", status="failed", reason=DOES_NOT_FIT))
                    continue
                k = factor * size
                records.append(make_record(**common, metric="flash", values={
                    "flash_bytes": round(102_400 * k * scale), "baseline_flash_bytes": 20_480,
                    "model_flash_bytes": round(81_920 * k), "static_ram_bytes": 30_000, "workspace_bytes": None}))
                records.append(make_record(**common, metric="ram", values={
                    "free_ram_bytes": round(153_600 / k), "free_ram_estimate_bytes": None, "trials": 14,
                    "heap_high_water_bytes": 1000, "stack_bytes_used": 2000}))
                for metric, cycles in (("init", round(6_400 * k * scale)), ("inference", round(640_000 * k * scale))):
                    ms = cycles / clock_hz * 1000
                    records.append(make_record(**common, metric=metric, values={
                        "cycles": cycles, "ms": ms, "runs": 5, "ms_min": ms, "ms_max": ms, "ms_std": 0.0,
                        "cycles_min": cycles, "cycles_max": cycles}))
    return records


def _write(path: Path, records: list[dict]) -> Path:
    store = ResultStore(path)
    for r in records:
        store.append(r)
    return path


def _section(markdown: str, title_start: str) -> str:
    """The markdown of the table whose title starts with `title_start`."""
    for block in markdown.split("### ")[1:]:
        if block.startswith(title_start):
            return block
    raise AssertionError(f"no table titled {title_start!r} in:\n{markdown}")


def _row(section: str, *first_cells: str) -> list[str]:
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if cells[: len(first_cells)] == list(first_cells):
            return cells
    raise AssertionError(f"no row {first_cells} in:\n{section}")


def test_per_model_board_table_shows_figures_and_reasons() -> None:
    md = render_tables(synthetic_records())
    micro = _section(md, "micro_speech on nano33ble (emulator, 64 MHz)")
    assert "Flash KiB (model) ↓" in micro and "Unused RAM KiB ↑" in micro and "Inference ms (cycles) ↓" in micro
    # flash KiB (model KiB), unused RAM KiB, ms (cycles); tvm-aot is best everywhere in the synthetic data.
    # Init under 1 ms is shown in µs (with its unit), not as 0.100.
    assert _row(micro, "tflm") == ["tflm", "100.0 (80.0)", "150.0", "100 µs (6,400)", "10.00 (640,000)"]
    assert _row(micro, "tvm-aot") == ["tvm-aot", "**80.0 (64.0)**", "**187.5**", "**80.0 µs (5,120)**",
                                      "**8.00 (512,000)**"]
    assert "The best figure per model and board is in bold." in micro
    person = _section(md, "person_detect on nano33ble")
    assert _row(person, "tflm")[1:] == ["n/a¹"] * 4
    assert _row(person, "tvm-graph")[1:] == ["failed²", "–", "–", "–"]
    # Each distinct reason once, as a footnote of this table.
    assert person.count("TFLM not found") == 1 and person.count(DOES_NOT_FIT) == 1
    assert "- ¹ TFLM not found" in person and f"- ² {DOES_NOT_FIT}" in person
    # Only one runtime has figures here: nothing to compare, so nothing is bold and no note says so.
    assert "**" not in person and "in bold" not in person


def test_per_metric_tables_arrows_and_best_per_row_group() -> None:
    md = render_tables(synthetic_records())
    flash = _section(md, "Flash (KiB) ↓ lower is better")
    assert "| Model | Implementation | nano33ble ↓ | spresense ↓ |" in flash
    assert _row(flash, "micro_speech", "tflm") == ["micro_speech", "tflm", "100.0", "100.0"]
    assert _row(flash, "", "tvm-aot")[2:] == ["**80.0**", "**80.0**"]  # first row group (micro_speech)
    ram = _section(md, "Unused RAM (KiB) ↑ higher is better")
    assert "nano33ble ↑" in ram
    assert _row(ram, "", "tvm-aot")[2] == "**187.5**"  # higher is better for unused RAM
    assert _row(ram, "", "tvm-graph")[2] == "115.4"  # 153,600 B / 1.3 / 1024
    inference = _section(md, "Inference (ms) ↓ lower is better")
    # person_detect on spresense: tflm 20.51 vs tvm-aot 16.41 -> tvm-aot bold; on nano33ble tvm-aot alone.
    assert _row(inference, "person_detect", "tflm")[2:] == ["n/a¹", "20.51"]
    person_group = inference[inference.index("| person_detect"):]
    assert _row(person_group, "", "tvm-aot")[2:] == ["40.00", "**16.41**"]
    for title in ("Initialization (ms) ↓", "Inference (ms) ↓"):
        assert f"### {title} lower is better" in md


def test_best_marks_ties_and_flags_show_when_they_vary() -> None:
    records = synthetic_records(("-Os",)) + synthetic_records(("-O2",), scale=1.0)
    tables = build_tables(records)
    implementations = {row[0].text for t in tables if t.kind == "detail" for row in t.rows}
    assert implementations == {"tflm -Os", "tvm-aot -Os", "tvm-graph -Os", "tflm -O2", "tvm-aot -O2",
                               "tvm-graph -O2"}
    micro = next(t for t in tables if t.title.startswith("micro_speech on nano33ble"))
    bold = [row[0].text for row in micro.rows if row[4].bold]
    assert bold == ["tvm-aot -Os", "tvm-aot -O2"]  # equal figures are both best


def test_board_default_flags_are_not_row_labels() -> None:
    """Each board has its own default flags (float ABI, clock): only what sets a row apart is shown."""
    records = []
    for r in synthetic_records():
        board_flags = ("-mfloat-abi=softfp",) if r["board"] == "nano33ble" else ("-mfloat-abi=hard",)
        records.append({**r, "flags": [*board_flags, "-Os"]})
    variant = [{**r, "flags": [*r["flags"], "tflm:kernels=reference"]} for r in records if r["runtime"] == "tflm"]
    tables = build_tables(records + variant)
    implementations = {row[0].text for t in tables if t.kind == "detail" for row in t.rows}
    assert implementations == {"tflm", "tvm-aot", "tvm-graph", "tflm tflm:kernels=reference"}
    flash = next(t for t in tables if t.kind != "detail" and t.title.startswith("Flash"))
    assert len(flash.rows) == 2 * 4  # model x implementation, boards as columns: one row per runtime, not per board


def test_newest_record_per_key_wins() -> None:
    records = synthetic_records()
    retried = dict(records[0], status="failed", reason="emulator fault at 0x1234", values={})
    md = render_tables([retried, *records])  # the failure came first; the ok rerun is newer
    assert "emulator fault" not in md
    md = render_tables([*records, retried])
    assert "failed¹" in md and "- ¹ emulator fault at 0x1234" in md


def test_markdown_escapes_pipes_in_reasons() -> None:
    r = make_record(model="m", model_sha256=None, runtime="tflm", board="nano33ble", target="emulator",
                    metric="flash", status="failed", reason="compiler said a|b")
    assert "- ¹ compiler said a\\|b" in render_tables([r])


def test_empty_records() -> None:
    assert render_tables([]) == "No results.\n"
    assert "No results." in render_html([])


def test_csv_is_tidy_long_with_integers() -> None:
    records = synthetic_records()
    rows = list(csv.DictReader(io.StringIO(render_csv(records))))
    assert list(rows[0])[:8] == ["model", "runtime", "board", "variant", "metric", "quantity", "value", "unit"]
    assert "cflags" in rows[0] and "flags" not in rows[0]
    first = rows[0]
    assert (first["model"], first["metric"], first["quantity"], first["value"], first["unit"]) == (
        "micro_speech", "flash", "flash_bytes", "102400", "B")
    assert first["cflags"] == "-Os" and first["variant"] == "default" and first["memory_kib"] == ""
    # Times are integer ns beside the integer cycles: no "10.0", no "102400.0".
    inference = {r["quantity"]: r for r in rows if r["metric"] == "inference" and r["model"] == "micro_speech"
                 and r["runtime"] == "tflm" and r["board"] == "nano33ble"}
    assert inference["cycles"]["value"] == "640000" and inference["cycles"]["unit"] == "cycles"
    assert inference["ns"]["value"] == "10000000" and inference["ns"]["unit"] == "ns"
    assert all(re.fullmatch(r"-?\d*", r["value"]) for r in rows)
    # A record without figures is one row carrying its reason; commas survive quoting.
    unavailable = [r for r in rows if r["status"] == "unavailable"]
    assert len(unavailable) == 4 and {r["reason"] for r in unavailable} == {"TFLM not found"}
    assert all(r["quantity"] == "" and r["value"] == "" for r in unavailable)
    failed = next(r for r in rows if r["status"] == "failed")
    assert failed["reason"] == DOES_NOT_FIT


def test_csv_loads_into_pandas_with_integer_dtypes() -> None:
    pd = pytest.importorskip("pandas")
    records = synthetic_records()
    records[0]["values"]["source"] = "dwt"  # a text value goes to `notes`, not into the numeric column
    frame = pd.read_csv(io.StringIO(render_csv(records)), dtype_backend="numpy_nullable")
    assert str(frame["value"].dtype) == "Int64" and str(frame["clock_hz"].dtype) == "Int64"
    ok = pd.read_csv(io.StringIO(render_csv([r for r in records if r["status"] == "ok"])))
    assert ok["value"].dtype.kind == "i" and ok["clock_hz"].dtype.kind == "i"
    flash = ok[(ok.quantity == "flash_bytes") & (ok.runtime == "tvm-aot")].set_index(["model", "board"])["value"]
    assert flash.loc[("micro_speech", "nano33ble")] == 81_920
    assert set(frame["notes"].dropna()) == {"source=dwt"}
    wide = ok.pivot_table(index=["model", "runtime", "board"], columns="quantity", values="value", aggfunc="first")
    assert wide.loc[("micro_speech", "tflm", "nano33ble"), "cycles"] > 0


def test_html_is_self_contained_with_tables_and_charts() -> None:
    page = render_html(synthetic_records(), title="Study <1>", sources=["results.jsonl"])
    assert page.startswith("<!DOCTYPE html>")
    assert "<title>Study &lt;1&gt;</title>" in page and "<style>" in page
    assert page.count("<table>") == 8  # four model/board tables, four metric tables
    images = re.findall(r'<img [^>]*src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 4  # one chart per metric
    import base64

    assert all(base64.b64decode(data).startswith(b"\x89PNG") for data in images)
    assert not re.search(r"https?://", page)  # nothing fetched from the network
    assert "<td class=\"best\">" in page
    # Each reason once per table, as a footnote; cells carry a short marker.
    assert page.count("<li id=") == page.count("TFLM not found") + page.count(DOES_NOT_FIT)
    assert '<td class="na">n/a<sup><a href="#t2-1">1</a></sup></td>' in page
    assert "overflow-wrap: anywhere" in page
    assert "results.jsonl" in page


def test_compare_side_by_side_with_ratio() -> None:
    md = render_compare([synthetic_records(("-Os",)), synthetic_records(("-O2",), scale=1.1)], ["Os", "O2"])
    assert "- **Os**: 42 figures, flags -Os" in md and "- **O2**: 42 figures, flags -O2" in md
    flash = _section(md, "Flash (KiB) ↓")
    assert "| Model | Implementation | Board | Os KiB | O2 KiB | O2/Os |" in flash
    assert _row(flash, "micro_speech", "tflm", "nano33ble (emulator)")[3:] == ["100.0", "110.0", "1.100"]
    assert _row(flash, "person_detect", "tflm", "nano33ble (emulator)")[3:] == ["n/a¹", "n/a¹", "–"]
    assert flash.count("TFLM not found") == 1
    assert "O2/Os geometric mean 1.100 over 9 figures" in flash
    ram = _section(md, "Unused RAM (KiB) ↑")
    assert "geometric mean 1.000" in ram


def test_compare_only_in_one_side_and_errors() -> None:
    a = synthetic_records()
    b = [r for r in synthetic_records() if r["model"] == "micro_speech"]
    md = render_compare([a, b], ["a", "b"])
    assert _row(_section(md, "Flash"), "person_detect", "tvm-aot", "nano33ble (emulator)")[3:] == [
        "400.0", "–", "–"]
    with pytest.raises(ArmlprofError, match="at least two"):
        render_compare([a], ["a"])
    mixed = synthetic_records(("-Os",)) + synthetic_records(("-O2",))
    with pytest.raises(ArmlprofError, match="several flag sets"):
        render_compare([mixed, a], ["mixed", "a"])


# ---------------------------------------------------------------- CLI


def test_cli_report_markdown_to_stdout(tmp_path, capsys) -> None:
    path = _write(tmp_path / "results.jsonl", synthetic_records())
    assert main(["report", str(path)]) == 0  # stdout is not a terminal here: markdown
    out = capsys.readouterr().out
    assert out == render_tables(synthetic_records())


def test_cli_report_all_formats_to_folder(tmp_path, capsys) -> None:
    path = _write(tmp_path / "results.jsonl", synthetic_records())
    out_dir = tmp_path / "report"
    assert main(["report", str(path), "--format", "md,csv,html,json,table", "--out", str(out_dir)]) == 0
    charts = [f"chart-{m}.{ext}" for m in ("flash", "inference", "init", "ram") for ext in ("png", "svg")]
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(
        ["report.html", "report.md", "results.csv", "report.json", "report.txt", *charts])
    assert (out_dir / "chart-flash.png").read_bytes().startswith(b"\x89PNG")
    assert b"<svg" in (out_dir / "chart-flash.svg").read_bytes()
    assert '<a href="chart-flash.svg">' in (out_dir / "report.html").read_text()


def test_every_format_gives_each_reason_once_per_table(tmp_path, capsys) -> None:
    """An unavailable runtime: a short marker in its cells, its reason once per table as a footnote."""
    reason = "TFLM not found: set ARMLPROF_TFLM_ROOT or run armlprof get tflm " + "x" * 200  # the long real one
    records = [dict(r, reason=reason) if r["status"] == "unavailable" else r for r in synthetic_records()]
    path = _write(tmp_path / "results.jsonl", records)
    outputs = {}
    for fmt in ("table", "md", "json", "html"):
        assert main(["report", str(path), "--format", fmt]) == 0
        outputs[fmt] = capsys.readouterr().out
    with_reason = 5  # person_detect on nano33ble and the four per-metric tables
    assert outputs["md"].count(reason) == with_reason
    assert outputs["html"].count(reason) == with_reason
    # The terminal shows only the per-metric tables for several cells, each with the reason once (folded lines).
    assert "".join(outputs["table"].split()).count("".join(reason.split())) == 4
    assert outputs["table"].count("n/a¹") == 4 and "Flash (KiB)" in outputs["table"]
    tables = json.loads(outputs["json"])["tables"]
    assert sum(t["notes"].count(reason) for t in tables) == with_reason
    cell = next(c for t in tables for row in t["rows"] for c in row if c["text"] == "n/a")
    assert cell["note"] >= 1 and cell["value"] is None
    assert main(["report", str(path), "--format", "csv"]) == 0
    csv_rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert sum(r["reason"] == reason for r in csv_rows) == 4  # one row per unavailable figure


def test_one_cell_is_one_table(tmp_path, capsys) -> None:
    one = [r for r in synthetic_records() if r["model"] == "micro_speech" and r["board"] == "nano33ble"
           and r["runtime"] == "tflm"]
    tables = build_tables(one)
    assert [t.kind for t in tables] == ["detail"] and not tables[0].note  # nothing to compare, nothing bold
    path = _write(tmp_path / "one.jsonl", one)
    assert main(["report", str(path), "--format", "table"]) == 0
    out = capsys.readouterr().out
    assert out.count("micro_speech on nano33ble") == 1 and "100 µs (6,400)" in out and "Flash (KiB)" not in out


def test_cli_report_csv_to_stdout(tmp_path, capsys) -> None:
    path = _write(tmp_path / "results.jsonl", synthetic_records())
    assert main(["report", str(path), "--format", "csv"]) == 0
    assert capsys.readouterr().out.startswith("model,runtime,board,variant,metric,quantity,value,unit,")


def test_compare_formats(tmp_path, capsys) -> None:
    a = _write(tmp_path / "os.jsonl", synthetic_records(("-Os",)))
    b = _write(tmp_path / "o2.jsonl", synthetic_records(("-O2",), scale=1.1))
    assert main(["compare", str(a), str(b), "--format", "json"]) == 0
    tables = json.loads(capsys.readouterr().out)["tables"]
    assert tables[0]["header"][-1] == "o2/os" and tables[0]["notes"] == ["TFLM not found", DOES_NOT_FIT]
    assert main(["compare", str(a), str(b), "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {r["set"] for r in rows} == {"os", "o2"} and rows[0]["cflags"] == "-Os"
    assert main(["compare", str(a), str(b), "--format", "table"]) == 0
    assert "o2/os geometric mean 1.100" in capsys.readouterr().out
    out_dir = tmp_path / "cmp"
    assert main(["compare", str(a), str(b), "--format", "html", "--out", str(out_dir)]) == 0
    page = (out_dir / "compare.html").read_text()
    assert page.count("<img") == 4 and (out_dir / "chart-inference.svg").is_file()


@pytest.mark.parametrize(("argv", "message"), [
    (["report", "{missing}"], "not found"),
    (["report", "{bad}"], r"bad.jsonl:2 is not a result record"),
    (["report", "{good}", "--format", "md,html"], "add --out DIR"),
    (["report", "{good}", "--format", "pdf"], "unknown report format pdf"),
    (["report", "{empty}"], "no result records"),
    (["compare", "{good}"], "at least two"),
    (["compare", "{good}", "{good}", "--labels", "x"], "one label per file"),
    (["compare", "{good}", "{missing}"], "not found"),
])
def test_cli_errors_are_one_line(tmp_path, capsys, argv: list[str], message: str) -> None:
    good = _write(tmp_path / "good.jsonl", synthetic_records()[:3])
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(synthetic_records()[0]) + "\nnot json\n")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    paths = {"good": good, "bad": bad, "empty": empty, "missing": tmp_path / "missing.jsonl"}
    assert main([a.format(**paths) for a in argv]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("armlprof: error:")
    assert re.search(message, err)


def test_cli_compare_labels_default_to_file_names(tmp_path, capsys) -> None:
    a = _write(tmp_path / "os.jsonl", synthetic_records(("-Os",)))
    b = _write(tmp_path / "o2.jsonl", synthetic_records(("-O2",), scale=1.1))
    assert main(["compare", str(a), str(b)]) == 0
    assert "o2/os geometric mean 1.100" in capsys.readouterr().out
    assert main(["compare", str(a), str(b), "--labels", "base,new"]) == 0
    assert "new/base" in capsys.readouterr().out


def test_labels_for_memory_options_targets_and_spread() -> None:
    common = dict(model="person_detect", model_sha256=None, runtime="tflm", board="spresense", metric="inference",
                  clock_hz=156_000_000)
    values = {"cycles": 3_200_000, "ms": 20.5, "runs": 5, "ms_std": 0.25}
    records = [make_record(**common, target="emulator", memory_kib=768, values=values),
               make_record(**common, target="renode", memory_kib=768, values=values),
               make_record(**common, target="emulator", memory_kib=1536, values=values)]
    md = render_tables(records)
    for title in ("person_detect on spresense 768 KiB (emulator)", "person_detect on spresense 768 KiB (renode)",
                  "person_detect on spresense 1536 KiB (emulator)"):
        assert f"### {title}" in md
    assert "20.50 ± 0.250 (3,200,000)" in md  # the spread of several runs, then cycles


def test_html_with_only_failures_still_renders() -> None:
    failed = [r for r in synthetic_records() if r["status"] != "ok"]
    page = render_html(failed)
    assert "TFLM not found" in page and "<img" in page

