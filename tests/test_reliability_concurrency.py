"""Issue 9, item 2: three identical profiles and three identical builds at once on one empty cache and one results
file: no traceback, no false failure, every record the figure a run on its own gives."""

from __future__ import annotations

from .conftest import SKETCHES_DIR
from .reliability_helpers import assert_no_traceback, cli_env, figures, run_cli, start_cli

PROFILE = ["profile", "--model", "builtin:dense", "--runtime", "handwritten", "--board", "nano33ble"]


def test_three_profiles_and_three_builds_at_once(tmp_path):
    env = cli_env(tmp_path / "cache")  # empty: the runs race to build the same objects, images and sketches
    results = tmp_path / "shared.jsonl"
    build = ["build", str(SKETCHES_DIR / "core_api"), "--board", "nano33ble", "--json"]
    procs = [start_cli([*PROFILE, "--results", str(results)], env) for _ in range(3)]
    procs += [start_cli(build, env) for _ in range(3)]
    outputs = [(p, *p.communicate(timeout=600)) for p in procs]
    for proc, _, err in outputs:
        assert_no_traceback(err)
        assert proc.returncode == 0, err[-2000:]
    builds = {out for proc, out, _ in outputs[3:]}
    assert len(builds) == 1  # the same ELF path and sizes from all three

    alone = tmp_path / "alone.jsonl"
    assert run_cli([*PROFILE, "--results", str(alone)], env).returncode == 0
    reference = figures(alone)
    shared = figures(results)
    assert set(shared) == set(reference)
    for key, entries in shared.items():
        assert 1 <= len(entries) <= 3  # a figure measured by several runs at once is stored by each, identically
        for status, values, reason in entries:
            assert status == "ok", reason
            assert values == reference[key][0][1], key
