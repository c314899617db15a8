"""Where armlprof keeps what it builds once and reuses: `$ARMLPROF_CACHE`, else `~/.cache/armlprof`.

Several armlprof processes may share one cache. Everything in it is written under a unique temporary name and
renamed into place (`atomic_write`), so a reader sees a whole file or none; where two processes could build the same
entry, `entry_lock` makes the second wait and then reuse what the first built. Entries carry their content hash
(`write_manifest` / `verify_manifest`): a truncated or garbled entry is rebuilt, never reused.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from armlprof.errors import CacheError

ENV_VAR = "ARMLPROF_CACHE"


def cache_root() -> Path:
    root = Path(os.environ.get(ENV_VAR) or Path.home() / ".cache" / "armlprof")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise CacheError(f"armlprof cache {root} is not a folder; set {ENV_VAR} to a folder") from None
    except OSError as exc:
        raise CacheError(f"cannot create the armlprof cache {root}: {exc.strerror}; set {ENV_VAR} to a writable "
                         "folder") from None
    if not root.is_dir():
        raise CacheError(f"armlprof cache {root} is not a folder; set {ENV_VAR} to a folder")
    if not os.access(root, os.W_OK | os.X_OK):
        raise CacheError(f"armlprof cache {root} is not writable; set {ENV_VAR} to a writable folder")
    return root


def atomic_write(path: Path, data: bytes | str) -> None:
    """Write `path` through a unique temporary file in the same folder and an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_copy(source: Path, path: Path) -> None:
    atomic_write(path, Path(source).read_bytes())


@contextlib.contextmanager
def entry_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on one cache entry (`<path>.lock`), held while it is checked and (re)built."""
    lock = path.with_name(path.name + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("a") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        yield


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write_manifest(manifest: Path, files: dict[str, Path], extra: dict | None = None) -> None:
    """Record the content hash of each file of an entry (written last: an entry without one is incomplete)."""
    body = {"files": {name: file_sha256(p) for name, p in files.items()}, **(extra or {})}
    atomic_write(manifest, json.dumps(body, sort_keys=True))


def read_manifest(manifest: Path) -> dict | None:
    try:
        body = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return None
    return body if isinstance(body, dict) and isinstance(body.get("files"), dict) else None


def verify_manifest(manifest: Path, files: dict[str, Path], what: str) -> bool:
    """True when every file matches the hash its manifest recorded. An entry without a manifest (absent, or its
    writer was killed before the manifest, which is written last) is a plain miss; a damaged one (a file missing,
    truncated or garbled, or the manifest unreadable) gets one warning line, then it is rebuilt."""
    if not manifest.exists():
        return False
    body = read_manifest(manifest)
    recorded = body["files"] if body else {}
    for name, p in files.items():
        try:
            ok = recorded.get(name) == file_sha256(p)
        except OSError:
            ok = False
        if not ok:
            warn(f"cached {what} {p} is damaged (content hash mismatch); rebuilding it")
            return False
    return True


def warn(message: str) -> None:
    print(f"armlprof: warning: {message}", file=sys.stderr, flush=True)
