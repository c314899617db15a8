"""Run the Robot suites under pabot: one process per board, each running every suite with that board's variables,
outputs merged by pabot (rebot) into one output.xml / log.html / report.html.

    python robot_tests/run_pabot.py [--boards nano33ble,spresense] [--outputdir results] [--target emulator]

One process per board (not per suite) because a board's suites share one sketch folder per model x runtime x board;
the boards' folders differ, so the processes never write the same files.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

SUITES_DIR = Path(__file__).resolve().parent


def suite_names(suites_dir: Path = SUITES_DIR) -> list[str]:
    """Robot's names of the suites in `suites_dir` ("Robot Tests.Init Time" for robot_tests/init_time.robot)."""
    top = suites_dir.name.replace("_", " ").title()
    return [f"{top}.{p.stem.replace('_', ' ').title()}" for p in sorted(suites_dir.glob("*.robot"))]


def pabot_command(boards: list[str], outputdir: Path, work: Path, target: str = "emulator",
                  extra: list[str] | None = None) -> list[str]:
    """The pabot command line; writes its argument files (one per board) and ordering (one group) into `work`."""
    ordering = work / "ordering.txt"
    ordering.write_text("{\n" + "".join(f"--suite {name}\n" for name in suite_names()) + "}\n")
    cmd = [sys.executable, "-m", "pabot.pabot", "--no-pabotlib", "--processes", str(len(boards)),
           "--command", sys.executable, "-m", "robot", "--end-command", "--ordering", str(ordering)]
    for i, board in enumerate(boards, start=1):
        argfile = work / f"{board}.args"
        argfile.write_text(f"--variable BOARD:{board}\n--variable TARGET:{target}\n")
        cmd += [f"--argumentfile{i}", str(argfile)]
    return [*cmd, "--outputdir", str(outputdir), *(extra or []), str(SUITES_DIR)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boards", default="nano33ble,spresense", help="comma-separated boards, one process each")
    parser.add_argument("--target", default="emulator", help="where the sketches run (default: the emulator)")
    parser.add_argument("--outputdir", type=Path, default=Path("results"), help="merged output folder")
    args, extra = parser.parse_known_args(argv)
    boards = [b.strip() for b in args.boards.split(",") if b.strip()]
    if not boards:
        parser.error("--boards: give at least one board")
    with tempfile.TemporaryDirectory(prefix="armlprof-pabot-") as tmp:
        return subprocess.call(pabot_command(boards, args.outputdir, Path(tmp), args.target, extra))


if __name__ == "__main__":
    sys.exit(main())
