"""How a run ended, shared by the emulator and every target. str-valued, so records, JSON and comparisons with the
plain strings ("exit" == StopReason.EXIT) stay exactly as they were."""

from __future__ import annotations

from enum import StrEnum


class StopReason(StrEnum):
    DONE = "done"  # the sketch printed `@armlprof event=done` and the target keeps running (real board, Renode)
    EXIT = "exit"  # semihosting exit
    IDLE = "idle"  # the firmware reached its idle loop (loop() with nothing to do)
    FAULT = "fault"
    STACK_HEAP_COLLISION = "stack_heap_collision"
    CYCLE_LIMIT = "cycle_limit"
    TIMEOUT = "timeout"  # wall clock
    STOPPED = "stopped"  # ended from another thread (the session or pty client went away)
    DISCONNECTED = "disconnected"  # the console connection closed (Renode socket, serial port)
    INTERRUPTED = "interrupted"  # Ctrl-C: never judged or recorded (measurements raise KeyboardInterrupt for it)

    @property
    def normal(self) -> bool:
        """A run that ended the way a measurement sketch ends."""
        return self in NORMAL_STOPS


NORMAL_STOPS = frozenset({StopReason.DONE, StopReason.EXIT, StopReason.IDLE})
# The stops the built-in emulator reports itself (a target adds done / disconnected).
EMULATOR_STOPS = (StopReason.EXIT, StopReason.IDLE, StopReason.FAULT, StopReason.CYCLE_LIMIT, StopReason.TIMEOUT,
                  StopReason.STACK_HEAP_COLLISION, StopReason.STOPPED, StopReason.INTERRUPTED)
