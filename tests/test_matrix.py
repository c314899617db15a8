"""Study matrix files: variants produce their own rows (variant name recorded), bad files are one-line errors."""

from __future__ import annotations

import pytest

from armlprof.cli import main
from armlprof.errors import ArmlprofError
from armlprof.matrix import find_config, load_matrix
from armlprof.results import ResultStore
from armlprof.study import ProfileOptions

TWO_VARIANTS = """\
models = ["builtin:dense"]
runtimes = ["handwritten"]
boards = ["nano33ble"]
measures = ["flash", "inference"]
quick = true

[variants.os]
optimization = "-Os"

[variants.o2]
optimization = "-O2"
"""


def test_two_variants_produce_both_rows(tmp_path, capsys):
    config = tmp_path / "study.toml"
    config.write_text(TWO_VARIANTS)
    results = tmp_path / "r.jsonl"
    assert main(["study", "--config", str(config), "--results", str(results), "--jobs", "1"]) == 0
    records = ResultStore(results).records()
    assert sorted((r["variant"], r["metric"]) for r in records) == [
        ("o2", "flash"), ("o2", "inference"), ("os", "flash"), ("os", "inference")]
    assert all(r["status"] == "ok" for r in records)
    flags = {r["variant"]: r["flags"] for r in records}
    assert "-O2" in flags["o2"] and "-Os" in flags["os"]
    flash = {r["variant"]: r["values"]["flash_bytes"] for r in records if r["metric"] == "flash"}
    assert flash["o2"] != flash["os"]  # really built two ways
    out = capsys.readouterr().out
    assert "handwritten -Os" in out and "handwritten -O2" in out  # both rows in the tables


def test_pyproject_table_is_found_and_variants_narrow_the_grid(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        "[project]\nname = 'x'\n\n[tool.armlprof.study]\nmodels = ['builtin:dense']\nruntimes = ['handwritten']\n"
        "boards = ['nano33ble', 'spresense']\n[tool.armlprof.study.tflm]\nkernels = 'reference'\n"
        "[tool.armlprof.study.variants.all]\n[tool.armlprof.study.variants.spresense-768]\n"
        "boards = ['spresense']\nmemory_kib = 768\n")
    assert find_config(tmp_path) == tmp_path / "pyproject.toml"
    matrix = load_matrix(find_config(tmp_path), ProfileOptions())
    assert [(c[2], c[3].variant, c[3].memory_kib) for c in matrix.cells] == [
        ("nano33ble", "all", None), ("spresense", "all", None), ("spresense", "spresense-768", 768)]
    assert matrix.cells[0][3].runtime_options == {"tflm": {"kernels": "reference"}}
    (tmp_path / "other").mkdir()
    assert find_config(tmp_path / "other") is None


def test_no_variants_runs_the_grid_once_without_a_name(tmp_path):
    config = tmp_path / "study.toml"
    config.write_text("models = ['builtin:dense']\nruntimes = ['handwritten']\nboards = ['nano33ble']\n")
    matrix = load_matrix(config, ProfileOptions(quick=True))
    assert [(c[0], c[1], c[2], c[3].variant, c[3].quick) for c in matrix.cells] == [
        ("builtin:dense", "handwritten", "nano33ble", None, True)]


@pytest.mark.parametrize("text, message", [
    ("speed = 1\n", "unknown key 'speed'"),
    ("quick = 'yes'\n", "quick must be bool"),
    ("boards = 'nano33ble'\n", "boards must be a list of strings"),
    ("measures = ['flash', 'speed']\n", "unknown measure(s) speed"),
    ("[variants.a]\noptimization = '-O2'\n[variants.b]\noptimization = '-O2'\n", "variants 'a' and 'b' measure"),
    ("[variants.a]\nflags = '-DX'\n", "variant 'a': flags must be a list of strings"),
    ("models = [\n", "is not valid TOML"),
])
def test_bad_matrix_files_are_one_line_errors(tmp_path, text, message):
    config = tmp_path / "study.toml"
    config.write_text(text)
    with pytest.raises(ArmlprofError) as info:
        load_matrix(config, ProfileOptions())
    assert message in str(info.value) and str(config) in str(info.value) and "\n" not in str(info.value)


def test_missing_matrix_file_via_the_cli(tmp_path, capsys):
    assert main(["study", "--config", str(tmp_path / "none.toml"), "--results", str(tmp_path / "r.jsonl")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "study matrix file" in err[0] and "not found" in err[0]
