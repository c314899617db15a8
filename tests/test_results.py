"""The JSONL result store: durable appends, resume keys, truncated tails, and errors that name the bad line."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from armlprof import __version__
from armlprof.errors import ArmlprofError
from armlprof.results import (
    ResultKey,
    ResultStore,
    latest_records,
    load_records,
    make_record,
    parse_records,
    record_key,
)


def _record(metric: str = "flash", status: str = "ok", **overrides) -> dict:
    fields = dict(model="micro_speech", model_sha256="ab" * 32, runtime="tflm", board="nano33ble", target="emulator",
                  metric=metric, status=status, flags=["-Os"], clock_hz=64_000_000)
    if status != "ok":
        fields["reason"] = "TFLM not found"
    elif metric == "flash":
        fields["values"] = {"flash_bytes": 100_000, "model_flash_bytes": 80_000}
    fields.update(overrides)
    return make_record(**fields)


def test_make_record_fills_common_fields() -> None:
    r = _record(date=datetime(2026, 11, 23, 20, 0, tzinfo=UTC))
    assert r["schema"] == 1
    assert r["armlprof_version"] == __version__
    assert r["date"] == "2026-11-23T20:00:00+00:00"
    assert r["memory_kib"] is None and r["reason"] is None
    assert r["flags"] == ["-Os"]
    now = datetime.fromisoformat(_record()["date"])
    assert now.utcoffset().total_seconds() == 0


@pytest.mark.parametrize("bad", [
    {"metric": "speed"},
    {"status": "maybe"},
    {"status": "failed", "reason": None},
    {"status": "failed", "reason": "two\nlines"},
])
def test_make_record_rejects_invalid(bad: dict) -> None:
    fields = dict(model="m", model_sha256=None, runtime="tflm", board="nano33ble", target="emulator", metric="flash")
    fields.update(bad)
    with pytest.raises(ArmlprofError):
        make_record(**fields)


def test_append_is_on_disk_immediately_and_reads_back(tmp_path) -> None:
    path = tmp_path / "sub" / "results.jsonl"
    store = ResultStore(path)
    assert store.records() == []
    first = _record()
    store.append(first)
    # Another reader sees it at once (written, flushed and fsynced before append returned).
    lines = path.read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0]) == first
    store.append(_record("ram", values={"free_ram_bytes": 1234}))
    assert [r["metric"] for r in ResultStore(path).records()] == ["flash", "ram"]


def test_truncated_last_line_is_tolerated_and_repaired_on_append(tmp_path) -> None:
    path = tmp_path / "results.jsonl"
    store = ResultStore(path)
    store.append(_record())
    full = json.dumps(_record("ram", values={"free_ram_bytes": 1}))
    with path.open("a") as f:
        f.write(full[: len(full) // 2])  # a killed writer
    assert [r["metric"] for r in store.records()] == ["flash"]
    store.append(_record("init", values={"ms": 1.0, "cycles": 64_000}))
    # The partial line is gone, the new record sits on its own line, the file parses strictly.
    text = path.read_text()
    assert text.endswith("\n")
    assert [r["metric"] for r in parse_records(text)] == ["flash", "init"]


def test_complete_last_line_without_newline_is_kept_on_append(tmp_path) -> None:
    path = tmp_path / "results.jsonl"
    path.write_text(json.dumps(_record()))  # hand-written, no trailing newline
    store = ResultStore(path)
    store.append(_record("ram", values={"free_ram_bytes": 1}))
    assert [r["metric"] for r in store.records()] == ["flash", "ram"]


def test_bad_line_in_the_middle_names_the_line(tmp_path) -> None:
    path = tmp_path / "results.jsonl"
    path.write_text(json.dumps(_record()) + "\n{not json\n" + json.dumps(_record()) + "\n")
    with pytest.raises(ArmlprofError, match=r"results.jsonl:2 is not a result record"):
        ResultStore(path).records()


def test_not_a_results_file(tmp_path) -> None:
    path = tmp_path / "other.jsonl"
    path.write_text('{"name": "x"}\n')
    with pytest.raises(ArmlprofError, match=r"other.jsonl:1 .*missing field"):
        load_records([path])
    text_file = tmp_path / "notes.txt"
    text_file.write_text("hello world")  # unterminated, but not the start of a record: not tolerated
    with pytest.raises(ArmlprofError, match=r"notes.txt:1"):
        load_records([text_file])
    newer = tmp_path / "newer.jsonl"
    newer.write_text(json.dumps({**_record(), "schema": 2}) + "\n")
    with pytest.raises(ArmlprofError, match="schema 2"):
        load_records([newer])


def test_missing_file_is_an_error_for_readers_only(tmp_path) -> None:
    with pytest.raises(ArmlprofError, match="not found"):
        load_records([tmp_path / "absent.jsonl"])
    assert ResultStore(tmp_path / "absent.jsonl").records() == []  # a study's new store starts empty


def test_refuses_to_append_invalid_record(tmp_path) -> None:
    store = ResultStore(tmp_path / "r.jsonl")
    with pytest.raises(ArmlprofError):
        store.append({"model": "x"})
    assert not store.path.exists()


def test_resume_key_and_is_done(tmp_path) -> None:
    store = ResultStore(tmp_path / "results.jsonl")
    ok = _record()
    key = record_key(ok)
    assert key == ResultKey("ab" * 32, "tflm", "nano33ble", None, "emulator", "flash", ("-Os",))
    assert not store.is_done(key)
    store.append(_record(status="failed", reason="emulator fault"))
    assert not store.is_done(key)  # failures are retried
    store.append(ok)
    assert store.is_done(key)
    assert store.is_done(ok)  # a record (or any mapping with the key fields) works as a key
    # Every key field matters.
    assert not store.is_done(key._replace(flags=("-O2",)))
    assert not store.is_done(key._replace(memory_kib=768))
    assert not store.is_done(key._replace(target="renode"))
    assert not store.is_done(key._replace(metric="ram"))
    assert not store.is_done(key._replace(model_sha256="cd" * 32))
    assert store.is_done(key._replace(flags=["-Os"]))  # a list of flags is the same key
    # A newer failure for the same key makes it not done again (a forced rerun failed).
    store.append(_record(status="unavailable", reason="TFLM not found"))
    assert not store.is_done(key)


def test_is_done_sees_appends_from_another_store_object(tmp_path) -> None:
    path = tmp_path / "results.jsonl"
    reader = ResultStore(path)
    assert not reader.is_done(_record())
    ResultStore(path).append(_record())
    assert reader.is_done(_record())


def test_latest_keeps_newest_per_key_in_first_seen_order(tmp_path) -> None:
    store = ResultStore(tmp_path / "results.jsonl")
    store.append(_record("flash", status="failed", reason="build failed"))
    store.append(_record("ram", values={"free_ram_bytes": 1}))
    store.append(_record("flash", values={"flash_bytes": 5}))
    latest = latest_records(store.records())
    assert [(r["metric"], r["status"]) for r in latest] == [("flash", "ok"), ("ram", "ok")]
    assert store.latest()[record_key(_record())]["values"] == {"flash_bytes": 5}


def test_refuses_values_that_are_not_plain_json(tmp_path) -> None:
    store = ResultStore(tmp_path / "r.jsonl")
    with pytest.raises(ArmlprofError, match="plain JSON"):
        store.append(_record("init", values={"ms": float("nan")}))
    with pytest.raises(ArmlprofError, match="plain JSON"):
        store.append(_record("init", values={"elf": tmp_path}))
    assert store.records() == []


def test_later_file_wins_when_loading_several(tmp_path) -> None:
    old = ResultStore(tmp_path / "old.jsonl")
    old.append(_record(status="failed", reason="build failed"))
    new = ResultStore(tmp_path / "new.jsonl")
    new.append(_record())
    latest = latest_records(load_records([old.path, new.path]))
    assert [r["status"] for r in latest] == ["ok"]
