"""The result store: one JSON line per measured figure, appended and fsynced as soon as it is measured.

An interrupted run loses nothing (a record is on disk before the next measurement starts), and a rerun with the same
file resumes: `is_done(key)` says whether the newest record for a key is `ok`, so only missing, failed or unavailable
figures are measured again. The record contract (shared with the measurement code; values per metric in VALUE_FIELDS,
from the Metric registry armlprof.metrics):

  {"schema": 1, "model": ..., "model_sha256": ..., "runtime": ..., "runtime_version": ..., "board": ...,
   "memory_kib": int|null, "target": ..., "metric": "flash"|"ram"|"init"|"inference",
   "status": "ok"|"failed"|"unavailable", "reason": str|null, "values": {...}, "flags": [...],
   "clock_hz": int|null, "armlprof_version": ..., "date": ISO-8601 UTC}

Several processes may append to one file at once (parallel `profile` runs): each append holds an exclusive flock on
the file while it repairs a torn tail and writes its line, so lines never interleave; readers need no lock.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from armlprof import __version__
from armlprof.errors import ArmlprofError
from armlprof.metrics import METRIC_NAMES
from armlprof.metrics import METRICS as METRIC_TABLE

SCHEMA_VERSION = 1
METRICS = METRIC_NAMES  # the figures of armlprof.metrics, in study order
STATUSES = ("ok", "failed", "unavailable")
REQUIRED_FIELDS = ("schema", "model", "runtime", "board", "target", "metric", "status")

# The value fields each metric carries (the contract, from armlprof.metrics; extra fields are kept and shown in CSV).
VALUE_FIELDS: dict[str, tuple[str, ...]] = {m.name: m.value_fields for m in METRIC_TABLE.values()}


class ResultKey(NamedTuple):
    """What identifies one figure: a rerun with the same key replaces (and, when ok, skips) the earlier one."""

    model_sha256: str | None
    runtime: str
    board: str
    memory_kib: int | None
    target: str
    metric: str
    flags: tuple[str, ...]
    # Emulated times depend on the cycle model's board parameters (board.toml [timing] or a calibration file): a
    # time measured with other parameters is another figure, not one to skip on resume. None for other figures.
    timing_sha256: str | None = None


def record_key(record: Mapping[str, Any]) -> ResultKey:
    """The resume key of a record (or of any mapping with the key fields)."""
    return ResultKey(
        model_sha256=record.get("model_sha256"),
        runtime=record["runtime"],
        board=record["board"],
        memory_kib=record.get("memory_kib"),
        target=record["target"],
        metric=record["metric"],
        flags=tuple(record.get("flags") or ()),
        timing_sha256=record.get("timing_sha256"),
    )


def make_record(
    *,
    model: str,
    model_sha256: str | None,
    runtime: str,
    board: str,
    target: str,
    metric: str,
    status: str = "ok",
    values: Mapping[str, Any] | None = None,
    reason: str | None = None,
    runtime_version: str | None = None,
    memory_kib: int | None = None,
    flags: Sequence[str] = (),
    clock_hz: int | None = None,
    date: datetime | None = None,
) -> dict[str, Any]:
    """A result record with the common fields filled (schema, armlprof_version, UTC date), validated."""
    when = (date or datetime.now(UTC)).astimezone(UTC)
    record: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "model": model,
        "model_sha256": model_sha256,
        "runtime": runtime,
        "runtime_version": runtime_version,
        "board": board,
        "memory_kib": memory_kib,
        "target": target,
        "metric": metric,
        "status": status,
        "reason": reason,
        "values": dict(values or {}),
        "flags": list(flags),
        "clock_hz": clock_hz,
        "armlprof_version": __version__,
        "date": when.isoformat(timespec="seconds"),
    }
    problem = record_problem(record)
    if problem:
        raise ArmlprofError(f"invalid result record: {problem}; fix the caller of make_record")
    return record


def record_problem(record: Any) -> str | None:
    """Why `record` is not a valid result record, or None if it is."""
    if not isinstance(record, dict):
        return f"expected a JSON object, got {type(record).__name__}"
    missing = [f for f in REQUIRED_FIELDS if f not in record]
    if missing:
        return f"missing field(s) {', '.join(missing)}"
    if record["schema"] != SCHEMA_VERSION:
        return f"schema {record['schema']!r} is not {SCHEMA_VERSION} (written by another armlprof version?)"
    if record["metric"] not in METRICS:
        return f"unknown metric {record['metric']!r} (expected one of {', '.join(METRICS)})"
    if record["status"] not in STATUSES:
        return f"unknown status {record['status']!r} (expected one of {', '.join(STATUSES)})"
    if record["status"] != "ok" and not record.get("reason"):
        return f"status {record['status']!r} needs a one-line reason"
    if record.get("reason") and "\n" in str(record["reason"]):
        return "reason must be one line"
    if not isinstance(record.get("values", {}), dict):
        return "values must be an object"
    flags = record.get("flags", [])
    if not isinstance(flags, list) or not all(isinstance(f, str) for f in flags):
        return "flags must be a list of strings"
    return None


def parse_records(text: str, source: str = "<results>") -> list[dict[str, Any]]:
    """Records from JSON Lines text. A truncated last line (a killed writer) is skipped; any other bad line is an
    error naming the line."""
    records: list[dict[str, Any]] = []
    lines = text.split("\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        unterminated = number == len(lines)  # the text did not end with "\n" after this line
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            if unterminated and line.lstrip().startswith("{"):
                continue  # the partial record of an interrupted append: nothing was measured for it
            raise ArmlprofError(
                f"{source}:{number} is not a result record ({exc.msg}); pass a results.jsonl written by armlprof"
            ) from None
        problem = record_problem(record)
        if problem:
            raise ArmlprofError(
                f"{source}:{number} is not a result record ({problem}); pass a results.jsonl written by armlprof"
            )
        records.append(record)
    return records


def load_records(paths: Iterable[Path | str]) -> list[dict[str, Any]]:
    """All records of several results files, in order (later files' records are newer)."""
    records: list[dict[str, Any]] = []
    for path in paths:
        records.extend(ResultStore(path, must_exist=True).records())
    return records


def latest_records(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The newest record per figure (later in the sequence wins), in the order each first appeared: what reports
    show. A time re-measured with other timing parameters (a calibration) replaces the earlier one here, as the
    newest measurement of that figure; its record names the timing it was measured with."""
    newest: dict[ResultKey, dict[str, Any]] = {}
    for record in records:
        key = record_key(record)._replace(timing_sha256=None)
        # Re-inserting would move the key to the end; keep the first position, update the record.
        newest[key] = dict(record)
    return list(newest.values())


class ResultStore:
    """A JSON Lines results file. `append` is durable on return; reads tolerate a truncated last line."""

    def __init__(self, path: Path | str, *, must_exist: bool = False) -> None:
        self.path = Path(path)
        if must_exist and not self.path.exists():
            raise ArmlprofError(f"results file {self.path} not found; pass the results.jsonl a study run wrote")
        if must_exist and self.path.is_dir():
            raise ArmlprofError(f"results path {self.path} is a folder; pass the results.jsonl a study run wrote")
        self._index: dict[ResultKey, dict[str, Any]] | None = None
        self._index_stamp: tuple[int, int] | None = None

    def append(self, record: Mapping[str, Any]) -> None:
        """Write one record as a line and fsync it before returning."""
        problem = record_problem(dict(record))
        if problem:
            raise ArmlprofError(f"refusing to store an invalid result record: {problem}")
        try:
            line = json.dumps(record, separators=(",", ":"), allow_nan=False) + "\n"
        except (TypeError, ValueError) as exc:  # NaN/inf or a non-JSON value (e.g. a Path) from the caller
            raise ArmlprofError(f"refusing to store a result record that is not plain JSON: {exc}") from None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("ab") as f:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX)  # released when the file is closed
                self._drop_partial_tail()
                f.write(line.encode("utf-8"))
                f.flush()
                os.fsync(f.fileno())
        except OSError as exc:
            raise ArmlprofError(f"cannot write {self.path}: {exc.strerror}; pass --results in a writable folder "
                                "(the figure was not stored)") from None
        if self._index is not None:
            self._index[record_key(record)] = dict(record)
            self._index_stamp = self._stamp()

    def check_writable(self) -> None:
        """Raise ArmlprofError unless records can be appended here (called before anything is measured)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.path.exists() and not self.path.is_file():
                raise ArmlprofError(f"results path {self.path} is not a file; pass --results path/to/results.jsonl")
            with self.path.open("ab"):
                pass
        except OSError as exc:
            raise ArmlprofError(f"cannot write results file {self.path}: {exc.strerror}; pass --results in a "
                                "writable folder") from None

    def records(self) -> list[dict[str, Any]]:
        """Every record in file order (an absent file has none)."""
        if not self.path.exists():
            return []
        try:
            text = self.path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise ArmlprofError(f"{self.path} is not a results file (not UTF-8 text); pass a results.jsonl") from None
        except OSError as exc:
            raise ArmlprofError(f"cannot read {self.path}: {exc.strerror}; check the path and permissions") from None
        return parse_records(text, str(self.path))

    def latest(self) -> dict[ResultKey, dict[str, Any]]:
        """The newest record per key (times measured with other timing parameters under keys of their own)."""
        stamp = self._stamp()
        if self._index is None or stamp != self._index_stamp:
            self._index = {record_key(r): r for r in self.records()}  # later records replace earlier ones
            self._index_stamp = stamp
        return dict(self._index)

    def is_done(self, key: ResultKey | Mapping[str, Any]) -> bool:
        """True when the newest record for `key` is ok (failed or unavailable figures are retried on resume)."""
        key = key._replace(flags=tuple(key.flags)) if isinstance(key, ResultKey) else record_key(key)
        record = self.latest().get(key)
        return record is not None and record["status"] == "ok"

    def _stamp(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return (st.st_size, st.st_mtime_ns)

    def _drop_partial_tail(self) -> None:
        """Cut a partial last line left by a killed writer, so the next record starts on its own line."""
        if not self.path.exists():
            return
        with self.path.open("rb+") as f:
            size = f.seek(0, os.SEEK_END)
            if size == 0:
                return
            f.seek(size - 1)
            if f.read(1) == b"\n":
                return
            # Find the start of the unterminated line (after the last newline).
            chunk = 4096
            end = size
            start = 0
            while end > 0:
                begin = max(0, end - chunk)
                f.seek(begin)
                data = f.read(end - begin)
                newline = data.rfind(b"\n")
                if newline >= 0:
                    start = begin + newline + 1
                    break
                end = begin
            f.seek(start)
            tail = f.read()
            if not tail.lstrip().startswith(b"{"):
                raise ArmlprofError(f"{self.path} does not end like a results file; pass a results.jsonl path")
            try:
                json.loads(tail)
            except ValueError:
                f.truncate(start)  # a partial record: nothing was measured for it
            else:
                f.write(b"\n")  # a complete record merely missing its newline (hand-edited file): keep it
            f.flush()
            os.fsync(f.fileno())
