"""`armlprof get tflm [--dir D] [--ref R]`: fetch (git), verify and record a TFLM tree for the `tflm` runtime.

TFLM's C++ sources are in no package registry; the study used the Arduino library (tflite-micro-arduino-examples).
Where the folder already holds a tree (copied by hand, `arduino-cli lib install`), it is verified and recorded
without any download, so a machine without a network can use a tree brought from elsewhere.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
from pathlib import Path

from armlprof.cache import cache_root
from armlprof.errors import ArmlprofError
from armlprof.progress import Progress

TFLM_GIT_URL = "https://github.com/tensorflow/tflite-micro-arduino-examples"
# The repository's last commit (2023-12-22, "Update README.md (#188)"); --ref picks another.
TFLM_PINNED_REF = "7948b85e020470a30a83bf00e10fc43b486bfcba"
URL_ENV_VAR = "ARMLPROF_TFLM_GIT_URL"  # another remote or a local mirror (file://...)
CLONE_TIMEOUT_S = 900
_NO_NETWORK = ("could not resolve host", "unable to access", "network is unreachable", "connection timed out",
               "failed to connect", "temporary failure in name resolution")


def default_dir() -> Path:
    """Where the Arduino tools keep libraries, so the Arduino IDE and arduino-cli see the same tree."""
    from armlprof.runtime.tflm.tree import ARDUINO_LIBRARY_NAME, sketchbook_dirs

    dirs = sketchbook_dirs()
    base = dirs[0] if dirs else Path.home() / "Arduino"
    return base / "libraries" / ARDUINO_LIBRARY_NAME


def verify_and_record(folder: Path) -> str:
    """Check that `folder` is a buildable TFLM tree, record it for later runs; one line describing it."""
    from armlprof.runtime.tflm import tree as tflm

    tree = tflm.recognize(folder, "armlprof get tflm")
    if tree is None:
        raise ArmlprofError(f"{folder} is not a TFLM tree (no {tflm._MARKER} in it or in its src/); remove it or "
                            "pass another --dir")
    if tree.missing_third_party:
        raise ArmlprofError(f"TFLM tree {folder} lacks third-party code ({', '.join(tree.missing_third_party)}); "
                            "use the Arduino library tree, or run the tflite-micro Makefile once to download it")
    (cache_root() / tflm.RECORD_FILE).write_text(str(folder.resolve()) + "\n", encoding="utf-8")
    return tflm.describe_tree(tree)


def _git(args: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=CLONE_TIMEOUT_S,
                              check=False, env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})
    except subprocess.TimeoutExpired:
        raise ArmlprofError(f"git {args[0]} took over {CLONE_TIMEOUT_S} s; check the network and rerun") from None


def fetch_tflm(folder: Path, ref: str, progress: Progress) -> None:
    """git clone the pinned tflite-micro-arduino-examples into `folder` and check out `ref`."""
    url = os.environ.get(URL_ENV_VAR, TFLM_GIT_URL)
    manual = (f"on a machine with a network run `git clone {TFLM_GIT_URL} Arduino_TensorFlowLite && git -C "
              f"Arduino_TensorFlowLite checkout {ref}`, copy the folder here, then `armlprof get tflm --dir FOLDER`")
    if shutil.which("git") is None:
        raise ArmlprofError(f"git not found: install git (apt-get install git), or {manual}")
    folder.parent.mkdir(parents=True, exist_ok=True)
    with progress.task("clone", description=f"cloning {url} into {folder}", done=f"cloned {url}"):
        clone = _git(["clone", "--quiet", "--no-checkout", url, str(folder)])
        if clone.returncode != 0:
            shutil.rmtree(folder, ignore_errors=True)
            said = (clone.stderr.strip().splitlines() or ["no output"])[-1]
            if any(s in said.lower() for s in _NO_NETWORK):
                raise ArmlprofError(f"no network here to fetch TFLM ({said.removeprefix('fatal: ')}): {manual}")
            raise ArmlprofError(f"git clone {url} failed ({said}); check the URL ({URL_ENV_VAR}) or {manual}")
    checkout = _git(["checkout", "--quiet", ref], cwd=folder)
    if checkout.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        said = (checkout.stderr.strip().splitlines() or ["no output"])[-1]
        raise ArmlprofError(f"git checkout {ref} failed in the clone ({said}); pass a commit or tag of "
                            f"{TFLM_GIT_URL} as --ref")


def _get(args: argparse.Namespace) -> int:
    folder = Path(args.dir).expanduser() if args.dir else default_dir()
    progress = Progress(args.verbosity)
    if folder.exists() and any(folder.iterdir()):
        print(f"TFLM tree verified and recorded: {verify_and_record(folder)}")
        return 0
    fetch_tflm(folder, args.ref, progress)
    print(f"TFLM tree fetched, verified and recorded: {verify_and_record(folder)}")
    return 0


def register_commands(sub: argparse._SubParsersAction) -> None:
    from armlprof.cli.options import add_verbosity_arguments

    p = sub.add_parser("get", help="fetch, verify and record an external piece (tflm: the TFLM source tree)",
                       description=__doc__.split("\n\n")[1] if __doc__ else None,
                       epilog="examples:\n  armlprof get tflm\n  armlprof get tflm --dir ~/src/Arduino_TensorFlowLite"
                              "  # verify a tree copied by hand\n  armlprof runtimes  # tflm: ok")
    p.add_argument("what", choices=("tflm",), help="what to get")
    p.add_argument("--dir", default=None, help="folder of the tree (default: the Arduino sketchbook's "
                                               "libraries/Arduino_TensorFlowLite)")
    p.add_argument("--ref", default=TFLM_PINNED_REF, help="git commit or tag to check out")
    add_verbosity_arguments(p)
    p.set_defaults(handler=_get)
