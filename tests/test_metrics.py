"""The Metric registry is the one description of a figure: the study, the result contract, the reports and the
Robot library all follow it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from armlprof import metrics, report, results
from armlprof.board import load_board
from armlprof.metrics import METRICS, MeasureContext, get_metric
from armlprof.sketch import template_names
from armlprof.target import Image


def test_every_metric_runs_a_known_sketch_and_is_in_the_record_contract():
    assert results.METRICS == tuple(METRICS) == ("flash", "ram", "init", "inference")
    for metric in METRICS.values():
        assert metric.sketch in template_names()
        assert results.VALUE_FIELDS[metric.name] == metric.value_fields
        assert metric.headline_field in metric.value_fields
        assert report.METRIC_INFO[metric.name] is metric


def test_headline_values_and_report_columns_come_from_the_entry():
    assert get_metric("flash").value({"flash_bytes": 2048}) == 2.0
    assert get_metric("ram").value({}) is None
    assert get_metric("ram").arrow == "↑" and get_metric("inference").better == "lower is better"
    record = results.make_record(model="m", model_sha256="x", runtime="handwritten", board="nano33ble",
                                 target="emulator", metric="flash",
                                 values={"flash_bytes": 10240, "model_flash_bytes": 1024})
    table = report.build_tables([record])[0]
    assert table.header[1:] == [m.detail_header for m in METRICS.values()]
    assert table.rows[0][1].text == "10.0 (1.0)"
    with pytest.raises(Exception, match="unknown measurement 'power'; choose from flash, ram, init, inference"):
        get_metric("power")


def test_flash_record_carries_the_official_core_figure_when_the_target_has_one():
    """The serial target's arduino-cli build reports 'Sketch uses N bytes': the flash record keeps it."""
    build = SimpleNamespace(flash_bytes=5000, baseline_flash_bytes=3000, model_flash_bytes=2000, static_ram_bytes=100)
    board = load_board("nano33ble")
    plain = metrics._flash(MeasureContext(None, Image(board, None), build, None, 64))
    assert "official_flash_bytes" not in plain and plain["workspace_bytes"] == 64
    official = metrics._flash(MeasureContext(None, Image(board, None, official_flash_bytes=5120), build, None, 64))
    assert official == {**plain, "official_flash_bytes": 5120}


def test_robot_library_has_one_keyword_per_metric():
    from armlprof.robot.ArmlprofLibrary import ArmlprofLibrary

    names = {getattr(getattr(ArmlprofLibrary, attr), "robot_name", None) for attr in dir(ArmlprofLibrary)}
    assert {m.robot_keyword for m in METRICS.values()} <= names
    library = ArmlprofLibrary()
    with pytest.raises(Exception, match="the ram_probe sketch is not built"):
        library.find_largest_allocation()
    with pytest.raises(Exception, match="no unused-RAM figure yet"):
        library.memory_watch_estimate()
