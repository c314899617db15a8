"""armlprof's built-in emulator: Unicorn + a Cortex-M4 cycle model, boards from their Renode .repl.

    from armlprof.emulator import Emulator
    emu = Emulator("nano33ble", "sketch.elf", timed=True, on_console_line=print)
    emu.write_console(b"alloc=1024\\n")
    result = emu.run()            # RunResult: stop_reason, exit_code, fault, instructions, cycles, ms, ...
    result = emu.run()            # same image again from reset, no ELF parsing or re-translation
"""

from armlprof.emulator.emulator import STOP_REASONS, Emulator, RunResult, run_elf
from armlprof.emulator.faults import FaultRecord

__all__ = ["STOP_REASONS", "Emulator", "FaultRecord", "RunResult", "run_elf"]
