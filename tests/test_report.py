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
    assert _row(micro, "tflm") == ["tflm", "100.0 (80.0)", "150.0", "0.100 (6,400)", "10.00 (640,000)"]
    assert _row(micro, "tvm-aot") == ["tvm-aot", "**80.0 (64.0)**", "**187.5**", "**0.080 (5,120)**",
                                      "**8.00 (512,000)**"]
    person = _section(md, "person_detect on nano33ble")
    assert _row(person, "tflm")[1:] == ["*TFLM not found*"] * 4
    assert _row(person, "tvm-graph")[1:] == [f"*failed: {DOES_NOT_FIT}*", "–", "–", "–"]
    # Only one runtime has figures here: nothing to compare, so nothing is bold.
    assert "**" not in person


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
    assert _row(inference, "person_detect", "tflm")[2:] == ["*TFLM not found*", "20.51"]
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
    assert "*failed: emulator fault at 0x1234*" in md


def test_markdown_escapes_pipes_in_reasons() -> None:
    r = make_record(model="m", model_sha256=None, runtime="tflm", board="nano33ble", target="emulator",
                    metric="flash", status="failed", reason="compiler said a|b")
    assert "a\\|b" in render_tables([r])


def test_empty_records() -> None:
    assert render_tables([]) == "No results.\n"
    assert "No results." in render_html([])


def test_csv_parses_back_one_row_per_record() -> None:
    records = synthetic_records()
    rows = list(csv.DictReader(io.StringIO(render_csv(records))))
    assert len(rows) == len(records)
    first = rows[0]
    assert first["model"] == "micro_speech" and first["metric"] == "flash" and first["flags"] == "-Os"
    assert int(first["flash_bytes"]) == records[0]["values"]["flash_bytes"]
    assert first["free_ram_bytes"] == "" and first["memory_kib"] == ""
    unavailable = next(r for r in rows if r["status"] == "unavailable")
    assert unavailable["reason"] == "TFLM not found"
    failed = next(r for r in rows if r["status"] == "failed")
    assert failed["reason"] == DOES_NOT_FIT  # commas survive quoting
    inference = next(r for r in rows if r["metric"] == "inference")
    assert float(inference["ms"]) == pytest.approx(10.0) and int(inference["cycles"]) == 640_000


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
    assert "TFLM not found" in page and "<td class=\"best\">" in page
    assert "results.jsonl" in page


def test_compare_side_by_side_with_ratio() -> None:
    md = render_compare([synthetic_records(("-Os",)), synthetic_records(("-O2",), scale=1.1)], ["Os", "O2"])
    assert "**Os**: 42 figures, flags -Os" in md and "**O2**: 42 figures, flags -O2" in md
    flash = _section(md, "Flash (KiB) ↓")
    assert "| Model | Implementation | Board | Os KiB | O2 KiB | O2/Os |" in flash
    assert _row(flash, "micro_speech", "tflm", "nano33ble (emulator)")[3:] == ["100.0", "110.0", "1.100"]
    assert _row(flash, "person_detect", "tflm", "nano33ble (emulator)")[3:] == [
        "*TFLM not found*", "*TFLM not found*", "–"]
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
    assert main(["report", str(path)]) == 0
    out = capsys.readouterr().out
    assert out == render_tables(synthetic_records())


def test_cli_report_all_formats_to_folder(tmp_path, capsys) -> None:
    path = _write(tmp_path / "results.jsonl", synthetic_records())
    out_dir = tmp_path / "report"
    assert main(["report", str(path), "--format", "md,csv,html", "--out", str(out_dir)]) == 0
    assert sorted(p.name for p in out_dir.iterdir()) == ["report.html", "report.md", "results.csv"]
    assert "<img" in (out_dir / "report.html").read_text()
    assert len(list(csv.DictReader((out_dir / "results.csv").open()))) == len(synthetic_records())


def test_cli_report_csv_to_stdout(tmp_path, capsys) -> None:
    path = _write(tmp_path / "results.jsonl", synthetic_records())
    assert main(["report", str(path), "--format", "csv"]) == 0
    assert capsys.readouterr().out.startswith("schema,model,")


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
