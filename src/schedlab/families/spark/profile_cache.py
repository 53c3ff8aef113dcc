"""A disk cache of resolved TPC-H profiles, keyed by the profile file's content.

Parsing, validating and resolving the seven TPC-H files takes most of a short run's time
(about 6.6 MB of JSON, 1.6 million durations). The resolved templates of one file are stored
once as a NumPy ``.npz`` (loaded with ``allow_pickle=False``) named after the SHA-256 of the
file's bytes, so an edited file is a new key and a stale entry can never be read for it.

The cache lives in ``$SCHEDLAB_CACHE_DIR`` (default ``$XDG_CACHE_HOME/schedlab``, else
``~/.cache/schedlab``); ``SCHEDLAB_CACHE_DIR=off`` turns it off. It is an optimisation only:
an entry that cannot be written or read (a read-only home, a truncated or tampered file) is
ignored and the profile is parsed as without a cache.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import numpy as np

from schedlab.families.spark.dag import EXECUTOR_LEVELS, JobTemplate, StageTemplate

__all__ = ["CACHE_ENV", "cache_dir", "load_cached", "store"]

CACHE_ENV = "SCHEDLAB_CACHE_DIR"
#: Bumped when the stored layout or the resolution rules change, so old entries are not read.
VERSION = 1


def cache_dir() -> Path | None:
    """The cache folder, or None when ``SCHEDLAB_CACHE_DIR=off``."""
    v = os.environ.get(CACHE_ENV)
    if v is not None:
        return None if v.strip().lower() in ("off", "") else Path(v).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "schedlab"


def entry_path(data: bytes) -> Path | None:
    """Where the resolved templates of a profile file with these bytes are cached."""
    d = cache_dir()
    if d is None:
        return None
    return d / "tpch" / f"{hashlib.sha256(data).hexdigest()}-v{VERSION}.npz"


def load_cached(data: bytes, size: str) -> list[JobTemplate] | None:
    """The cached templates of the profile with these bytes, or None (absent or unreadable)."""
    path = entry_path(data)
    if path is None or not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            return _unpack({k: z[k] for k in z.files}, size)
    except Exception:  # a damaged entry is a cache miss: the caller parses the file itself
        return None


def store(data: bytes, size: str, templates: list[JobTemplate]) -> None:
    """Cache ``templates`` under the profile's bytes; silently does nothing if it cannot."""
    from schedlab.errors import DataError
    from schedlab.sim.io import write_atomic

    path = entry_path(data)
    if path is None:
        return
    buf = io.BytesIO()
    np.savez(buf, **_pack(templates, size))
    try:
        write_atomic(path, buf.getvalue())
    except DataError:
        pass


def _pack(templates: list[JobTemplate], size: str) -> dict[str, np.ndarray]:
    # Duration lists are shared between levels and entries (a fallback is the same tuple), so
    # each distinct list is stored once and referenced by number.
    list_ids: dict[tuple[int, ...], int] = {}
    flat: list[int] = []
    offsets = [0]

    def ref(lst: tuple[int, ...]) -> int:
        i = list_ids.get(lst)
        if i is None:
            i = list_ids[lst] = len(offsets) - 1
            flat.extend(lst)
            offsets.append(len(flat))
        return i

    stage_start, prefixes, parents_flat, parent_start = [0], [], [], [0]
    num_tasks, rough, warm, refs = [], [], [], []
    for t in templates:
        prefixes.append(t.name.removesuffix(f"-{size}"))  # the same bytes may serve another size
        for st in t.stages:
            parents_flat.extend(st.parents)
            parent_start.append(len(parents_flat))
            num_tasks.append(st.num_tasks)
            rough.append(st.rough_duration_ms)
            for level in EXECUTOR_LEVELS:
                idle, w, same, other = st.table[level]
                warm.append(w)
                refs.append((ref(idle), ref(same), ref(other)))
        stage_start.append(len(num_tasks))
    return {
        "names": np.array(prefixes, dtype=str),
        "stage_start": np.array(stage_start, dtype=np.int64),
        "parents": np.array(parents_flat, dtype=np.int64),
        "parent_start": np.array(parent_start, dtype=np.int64),
        "num_tasks": np.array(num_tasks, dtype=np.int64),
        "rough": np.array(rough, dtype=np.float64),
        "warm": np.array(warm, dtype=bool),
        "refs": np.array(refs, dtype=np.int64).reshape(-1, 3),
        "durations": np.array(flat, dtype=np.int64),
        "offsets": np.array(offsets, dtype=np.int64),
    }


def _unpack(z: dict[str, np.ndarray], size: str) -> list[JobTemplate]:
    # Only a run's sampled jobs at the executor levels they meet are ever looked up, so the
    # duration tuples are built on first use (:class:`_LazyTable`), not all 1.6 million here.
    lists = _Lists(z["durations"], z["offsets"])
    parents, pstart = z["parents"].tolist(), z["parent_start"].tolist()
    num_tasks, rough = z["num_tasks"].tolist(), z["rough"].tolist()
    warm, refs = z["warm"], z["refs"]
    sstart = z["stage_start"].tolist()
    nlev = len(EXECUTOR_LEVELS)
    if refs.shape != (len(num_tasks) * nlev, 3) or warm.shape != (len(num_tasks) * nlev,):
        raise ValueError("inconsistent entry")
    if refs.size and (refs.min() < 0 or refs.max() >= len(lists)):
        raise ValueError("inconsistent entry")
    _check_values(z, len(sstart) - 1)
    templates = []
    for q, name in enumerate(z["names"].tolist()):
        stages = []
        for g in range(sstart[q], sstart[q + 1]):
            table = _LazyTable(lists, refs[g * nlev : (g + 1) * nlev], warm[g * nlev : (g + 1) * nlev])
            stages.append(
                StageTemplate(g - sstart[q], tuple(parents[pstart[g] : pstart[g + 1]]), num_tasks[g], rough[g], table)
            )
        templates.append(JobTemplate(name=f"{name}-{size}", stages=tuple(stages)))
    return templates


def _check_values(z: dict[str, np.ndarray], num_queries: int) -> None:
    """Refuse an entry whose numbers a valid profile could not have given (a tampered file)."""
    from schedlab.families.spark.dag import check_dag
    from schedlab.families.spark.tpch import MAX_MS, MAX_TASKS

    d, n = z["durations"], z["num_tasks"]
    if d.size and (d.min() < 0 or d.max() > MAX_MS) or n.size and (n.min() < 1 or n.max() > MAX_TASKS):
        raise ValueError("value out of range")
    if z["names"].shape != (num_queries,) or not np.all(np.isfinite(z["rough"])):
        raise ValueError("inconsistent entry")
    sstart, pstart, parents = z["stage_start"].tolist(), z["parent_start"].tolist(), z["parents"].tolist()
    if sstart[0] != 0 or sstart[-1] != n.size or len(pstart) != n.size + 1:
        raise ValueError("inconsistent entry")
    for q in range(num_queries):
        a, b = sstart[q], sstart[q + 1]
        if b <= a or check_dag(b - a, [parents[pstart[g] : pstart[g + 1]] for g in range(a, b)]):
            raise ValueError("inconsistent entry")


class _Lists:
    """The distinct duration lists of one profile, each made a tuple once, when first asked for."""

    __slots__ = ("flat", "offsets", "made")

    def __init__(self, flat: np.ndarray, offsets: np.ndarray) -> None:
        if offsets.ndim != 1 or offsets.size < 1 or offsets[0] != 0 or offsets[-1] != flat.size:
            raise ValueError("inconsistent entry")
        if np.any(np.diff(offsets) <= 0):
            raise ValueError("inconsistent entry")
        self.flat, self.offsets = flat, offsets
        self.made: dict[int, tuple[int, ...]] = {}

    def __len__(self) -> int:
        return self.offsets.size - 1

    def __getitem__(self, i: int) -> tuple[int, ...]:
        t = self.made.get(i)
        if t is None:
            t = self.made[i] = tuple(self.flat[self.offsets[i] : self.offsets[i + 1]].tolist())
        return t


class _LazyTable(dict):
    """A stage's level -> entry table whose entries are built on first lookup.

    A ``dict`` so that the simulator's lookups of built entries cost what a dict's do; a level
    not yet built goes through :meth:`__missing__` once. Comparisons and iteration see the whole
    table.
    """

    __slots__ = ("_lists", "_refs", "_warm")

    def __init__(self, lists: _Lists, refs: np.ndarray, warm: np.ndarray) -> None:
        super().__init__()
        self._lists, self._refs, self._warm = lists, refs, warm

    def __missing__(self, level: int):
        try:
            li = EXECUTOR_LEVELS.index(level)
        except ValueError:
            raise KeyError(level) from None
        i, s, o = self._refs[li].tolist()
        entry = self[level] = (self._lists[i], bool(self._warm[li]), self._lists[s], self._lists[o])
        return entry

    def _full(self) -> dict:
        return {level: self[level] for level in EXECUTOR_LEVELS}

    def __eq__(self, other: object) -> bool:
        return self._full() == (other._full() if isinstance(other, _LazyTable) else other)

    __hash__ = None  # type: ignore[assignment]

    def __iter__(self):
        return iter(EXECUTOR_LEVELS)

    def __len__(self) -> int:
        return len(EXECUTOR_LEVELS)

    def __contains__(self, level: object) -> bool:
        return level in EXECUTOR_LEVELS

    def items(self):
        return self._full().items()

    def values(self):
        return self._full().values()

    def keys(self):
        return self._full().keys()

    def get(self, level, default=None):
        return self[level] if level in EXECUTOR_LEVELS else default
