"""Memory planning by tensor liveness: one packed static workspace (AOT) or reusable storage ids (graph).

A tensor is live from the step that writes it to the last step that reads it (inclusive), so an operator's
output never shares bytes with its own inputs. The AOT workspace packs tensors greedily, largest first, at the
lowest offset free of every tensor whose lifetime overlaps (the heuristic TVM's USMP `greedy_by_size` uses).
The graph executor instead assigns storage ids and reuses a freed storage of the closest size, growing it if
needed (TVM's GraphPlanMemory), then allocates one heap block per storage id at init.
"""

from __future__ import annotations

from dataclasses import dataclass

ALIGN_BYTES = 16


def _align(n: int) -> int:
    return (n + ALIGN_BYTES - 1) // ALIGN_BYTES * ALIGN_BYTES


@dataclass
class Lifetime:
    entry: int
    size_bytes: int
    first_step: int
    last_step: int

    def overlaps(self, other: Lifetime) -> bool:
        return self.first_step <= other.last_step and other.first_step <= self.last_step


def lifetimes(steps: list[tuple[list[int], int]], entries: set[int], sizes: dict[int, int],
              pinned: dict[int, tuple[int, int]] | None = None) -> list[Lifetime]:
    """steps: (input entries, output entry) in execution order; `entries` the ones to plan."""
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for i, (ins, out) in enumerate(steps):
        for e in ins:
            last[e] = i
        first.setdefault(out, i)
        last[out] = max(last.get(out, i), i)
    for e, (lo, hi) in (pinned or {}).items():
        first[e], last[e] = lo, hi
    return [Lifetime(e, sizes[e], first[e], last[e]) for e in sorted(entries)]


def plan_workspace(lives: list[Lifetime]) -> tuple[dict[int, int], int]:
    """Offsets (bytes) in one workspace, and its size."""
    placed: list[tuple[Lifetime, int]] = []
    offsets: dict[int, int] = {}
    for life in sorted(lives, key=lambda x: (-x.size_bytes, x.first_step)):
        candidates = sorted({0} | {off + _align(o.size_bytes) for o, off in placed if o.overlaps(life)})
        for start in candidates:
            end = start + life.size_bytes
            if all(not o.overlaps(life) or end <= off or start >= off + _align(o.size_bytes) for o, off in placed):
                break
        offsets[life.entry] = start
        placed.append((life, start))
    total = max((off + _align(life.size_bytes) for life, off in placed), default=0)
    return offsets, total


def plan_storage_ids(lives: list[Lifetime]) -> tuple[dict[int, int], list[int]]:
    """Storage id per entry and the size of each storage (graph executor)."""
    storage_sizes: list[int] = []
    free: list[int] = []
    storage_of: dict[int, int] = {}
    events = sorted(lives, key=lambda x: (x.first_step, x.entry))
    active: list[Lifetime] = []
    for life in events:
        for a in [a for a in active if a.last_step < life.first_step]:
            active.remove(a)
            free.append(storage_of[a.entry])
        if free:
            sid = min(free, key=lambda s: abs(storage_sizes[s] - life.size_bytes))
            free.remove(sid)
            storage_sizes[sid] = max(storage_sizes[sid], life.size_bytes)
        else:
            sid = len(storage_sizes)
            storage_sizes.append(life.size_bytes)
        storage_of[life.entry] = sid
        active.append(life)
    return storage_of, storage_sizes
