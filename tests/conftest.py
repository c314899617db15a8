"""Shared test fixtures. `../shared` (models, test data) lives beside the repository root."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = REPO_ROOT.parent / "shared"
SKETCHES_DIR = Path(__file__).resolve().parent / "sketches"


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
