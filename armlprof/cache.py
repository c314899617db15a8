"""Where armlprof keeps what it builds once and reuses: `$ARMLPROF_CACHE`, else `~/.cache/armlprof`."""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "ARMLPROF_CACHE"


def cache_root() -> Path:
    root = Path(os.environ.get(ENV_VAR, Path.home() / ".cache" / "armlprof"))
    root.mkdir(parents=True, exist_ok=True)
    return root
