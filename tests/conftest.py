"""Shared test fixtures. `../shared` (models, test data) lives beside the repository root."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = REPO_ROOT.parent / "shared"
SKETCHES_DIR = Path(__file__).resolve().parent / "sketches"


@pytest.fixture(scope="session", autouse=True)
def interactive_sigint():
    """SIGINT as in a terminal, for this process and (through exec) every command it starts. The suite tests
    Ctrl-C handling; a shell starts a background job (`./armlprof.sh test &`) with SIGINT ignored, which the
    commands would inherit and, rightly, keep ignoring."""
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def shared_file(*parts: str) -> Path:
    """A file from ../shared, or skip the test saying it is absent."""
    path = SHARED_DIR.joinpath(*parts)
    if not path.is_file():
        pytest.skip(f"{path} not found (the ../shared folder beside the repository is absent)")
    return path


@pytest.fixture
def private_cache(tmp_path, monkeypatch) -> Path:
    """An empty armlprof cache, for tests that count compilations."""
    root = tmp_path / "cache"
    monkeypatch.setenv("ARMLPROF_CACHE", str(root))
    return root


SHARED_TFLM_TREE = SHARED_DIR / "tflm" / "Arduino_TensorFlowLite"


@pytest.fixture(scope="session")
def tflm_tree():
    """The TFLM tree TFLM tests run against: the configured one ($ARMLPROF_TFLM_ROOT or the sketchbook's
    Arduino_TensorFlowLite), else ../shared's Arduino library (test data, so CI runs the TFLM tests; never a
    default outside the tests). Skips with the one-line reason when there is none or it cannot build.
    Tests pass it explicitly (tflm_root=tree.root). Its libraries are built once per board and flags into the
    armlprof cache (minutes on a cold cache) and reused by every later test and session."""
    from armlprof.runtime.tflm import tree as tflm

    tree = tflm.find_tree() or tflm.recognize(SHARED_TFLM_TREE, "../shared (tests)")
    if tree is None:
        pytest.skip(tflm.NOT_FOUND_HINT)
    try:
        tree.check_buildable(tree.default_kernels())
    except Exception as exc:  # noqa: BLE001 - ArmlprofError: the one-line reason is the skip message
        pytest.skip(str(exc))
    return tree
