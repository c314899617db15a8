"""Issue 9, item 4: damaged models and random files never crash armlprof.

Over 300 mutated (random 1-8 byte overwrites, mostly in the flatbuffer's tables rather than in weight data) and
truncated versions of the study models, plus random files, go to `armlprof profile` and `armlprof build`. Each is
either rejected at load with one ArmlprofError line (exit 2), or is a well-formed model that every later stage takes
without an exception other than ArmlprofError: the TVM importer, the tflite-micro reference interpreter, and the
CLI. (A mutant that is still a valid model goes through the stages in-process, not through a full TVM compile of
~30 s each, to keep the test under two minutes.)"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from armlprof.cli import main
from armlprof.errors import ArmlprofError
from armlprof.model import load_model
from armlprof.protocol import input_from_seed

from .conftest import SHARED_DIR

pytest.importorskip("tflite")
pytest.importorskip("tflite_micro")

SOURCES = ["micro_speech_quantized.tflite", "person_detect.tflite"]
PER_SOURCE = {"truncated": 40, "mutated": 110}
RANDOM_FILES = 30
BUDGET_S = 110


def _data_ranges(data: bytes) -> list[tuple[int, int]]:
    """Byte ranges of the constant buffers (weights): mutating them keeps the model well-formed."""
    import tflite

    m = tflite.Model.GetRootAsModel(data, 0)
    ranges = []
    for i in range(m.BuffersLength()):
        b = m.Buffers(i)
        if b.DataLength() > 16:
            start = b._tab.Vector(b._tab.Offset(4))
            ranges.append((start, start + b.DataLength()))
    return ranges


def _mutants(rng: random.Random, data: bytes) -> list[tuple[str, bytes]]:
    out = []
    for _ in range(PER_SOURCE["truncated"]):
        cut = rng.choice([rng.randrange(0, 64), rng.randrange(0, len(data))])
        out.append((f"truncated to {cut} B", data[:cut]))
    weights = _data_ranges(data)
    structure = [i for i in range(len(data)) if not any(a <= i < b for a, b in weights)]
    for _ in range(PER_SOURCE["mutated"]):
        at = rng.choice(structure) if rng.random() < 0.85 else rng.randrange(len(data))
        width = rng.randint(1, 8)
        patch = bytes(rng.choice([0, 0xFF, 0x7F, 0x80, rng.randrange(256)]) for _ in range(width))
        out.append((f"{width} B at {at} := {patch.hex()}", data[:at] + patch + data[at + width:]))
    return out


def _random_files(rng: random.Random) -> list[tuple[str, bytes]]:
    out = []
    for i in range(RANDOM_FILES):
        body = rng.randbytes(rng.choice([0, 1, 7, 8, 64, 4096]))
        if i % 2 and len(body) >= 8:
            body = body[:4] + b"TFL3" + body[8:]  # looks like a TFLite file at first glance
        out.append((f"random {len(body)} B", body))
    return out


def _one_line(exc: ArmlprofError) -> None:
    assert "\n" not in str(exc) and str(exc).strip(), repr(str(exc))
    assert "unpack_from" not in str(exc) and "struct" not in str(exc)  # internal wording is not a message


def _later_stages(path: Path, model) -> None:
    """What profile does with a model after loading it, short of compiling it."""
    from armlprof.runtime.tvm.importer import import_tflite

    for stage in (lambda: import_tflite(path), lambda: model.reference(input_from_seed(7, model.input_bytes))):
        try:
            stage()
        except ArmlprofError as exc:
            _one_line(exc)


def test_fuzzed_models_and_random_files_are_one_line_never_a_traceback(tmp_path, capsys):
    rng = random.Random(20240509)
    cases: list[tuple[str, bytes]] = []
    for name in SOURCES:
        source = SHARED_DIR / "models" / name
        if not source.is_file():
            pytest.skip(f"{source} not found (the ../shared folder beside the repository is absent)")
        cases += [(f"{name}: {label}", body) for label, body in _mutants(rng, source.read_bytes())]
    cases += _random_files(rng)
    assert len(cases) >= 300

    started = time.monotonic()
    rejected = accepted = 0
    via_cli = 0
    for n, (label, body) in enumerate(cases):
        path = tmp_path / f"m{n}.tflite"
        path.write_bytes(body)
        try:
            model = load_model(str(path))
        except ArmlprofError as exc:
            _one_line(exc)
            rejected += 1
            if n % 5 == 0:  # the CLI says the same in one line and exits 2, measuring nothing
                results = tmp_path / "r.jsonl"
                code = main(["profile", "--model", str(path), "--runtime", "tvm-aot", "--board", "nano33ble",
                             "--results", str(results)])
                err = capsys.readouterr().err.strip().splitlines()
                assert code == 2 and len(err) == 1 and err[0].startswith("armlprof: error: "), (label, err)
                assert not results.exists()
                via_cli += 1
            continue
        except Exception as exc:  # noqa: BLE001 - the point of the test
            pytest.fail(f"{label}: load_model raised {type(exc).__name__}: {exc}")
        accepted += 1
        try:
            _later_stages(path, model)
        except Exception as exc:  # noqa: BLE001
            pytest.fail(f"{label}: a later stage raised {type(exc).__name__}: {exc}")
    print(f"{len(cases)} cases: {rejected} rejected at load ({via_cli} through the CLI), {accepted} well-formed")
    assert rejected >= 150 and via_cli >= 30  # the mutations did reach the structure
    assert time.monotonic() - started < BUDGET_S


@pytest.mark.parametrize("where", ["ino", "src"])
def test_random_sketch_files_are_a_one_line_compile_error(where, tmp_path, capsys):
    rng = random.Random(f"sketch-{where}")
    for i in range(3):
        sketch = tmp_path / f"s{i}" / "fuzz"
        sketch.mkdir(parents=True)
        body = rng.randbytes(rng.choice([16, 300, 2000]))
        if where == "ino":
            (sketch / "fuzz.ino").write_bytes(body)
        else:
            (sketch / "fuzz.ino").write_text("void setup() {}\nvoid loop() {}\n")
            (sketch / "src").mkdir()
            (sketch / "src" / "x.c").write_bytes(body)
        assert main(["build", str(sketch), "--board", "nano33ble"]) == 2
        last = capsys.readouterr().err.strip().splitlines()[-1]
        assert last.startswith("armlprof: error: ") and "Traceback" not in last, last
