"""Where a measurement sketch runs: the built-in emulator (default), Renode, or a real board over serial.
All behind one small interface (`armlprof.target.base`)."""

from armlprof.stops import StopReason
from armlprof.target.base import (
    TARGET_NAMES,
    Image,
    RunOutcome,
    Session,
    StopInfo,
    Target,
    TargetError,
    get_target,
)

__all__ = ["TARGET_NAMES", "Image", "RunOutcome", "Session", "StopInfo", "StopReason", "Target", "TargetError",
           "get_target"]
