"""StopReason is str-valued: records, JSON and comparisons with plain strings are what they were."""

from __future__ import annotations

import json

import pytest

from armlprof.emulator import STOP_REASONS
from armlprof.stops import NORMAL_STOPS, StopReason
from armlprof.target import StopInfo


def test_stop_reasons_are_their_strings():
    stop = StopInfo("exit", exit_code=0)
    assert stop.reason is StopReason.EXIT and stop.reason == "exit" and stop.normal
    assert json.dumps({"stop_reason": stop.reason}) == '{"stop_reason": "exit"}'
    assert f"{StopReason.CYCLE_LIMIT}" == "cycle_limit" and StopInfo("cycle_limit").describe() == "cycle_limit"
    assert {str(r) for r in NORMAL_STOPS} == {"done", "exit", "idle"}
    assert "done" not in STOP_REASONS and "stopped" in STOP_REASONS  # the emulator's own stops


def test_an_unknown_stop_reason_is_refused():
    with pytest.raises(ValueError):
        StopInfo("crashed")
