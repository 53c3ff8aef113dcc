"""TPC-H Spark job profiles (Decima's measurements, as JSON), read from a directory the user names.

The directory holds one ``<size>.json`` per input size in the ``tpch-spark-profile/1`` format
(see the dataset's README). The files are never shipped with schedlab: name the directory with
``--tpch-dir`` or the ``SCHEDLAB_TPCH_DIR`` environment variable.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from schedlab.errors import DataError
from schedlab.families.spark.dag import JobTemplate, StageTemplate, check_dag, resolve_profile

__all__ = ["TPCH_SIZES", "NUM_QUERIES", "ENV_VAR", "find_tpch_dir", "load_tpch", "sample_tpch_jobs"]

TPCH_SIZES = ("2g", "5g", "10g", "20g", "50g", "80g", "100g")
NUM_QUERIES = 22
ENV_VAR = "SCHEDLAB_TPCH_DIR"
FORMAT = "tpch-spark-profile/1"


def find_tpch_dir(path: str | os.PathLike | None) -> Path:
    """Resolve the profile directory from an explicit path or ``$SCHEDLAB_TPCH_DIR``.

    Raises:
        DataError: Neither is set, or the directory does not exist.
    """
    if path is None:
        path = os.environ.get(ENV_VAR)
        if not path:
            raise DataError(
                f"no TPC-H profile directory: pass --tpch-dir DIR or set {ENV_VAR}",
                field="workload.tpch_dir",
            )
    p = Path(path).expanduser()
    if not p.is_dir():
        raise DataError(f"TPC-H profile directory {str(p)!r} does not exist", field="workload.tpch_dir")
    return p


def load_tpch(directory: str | os.PathLike, sizes: tuple[str, ...] = TPCH_SIZES) -> dict[str, list[JobTemplate]]:
    """Load and validate the profiles of the given input sizes.

    Returns:
        size -> the 22 query templates, query 1 first.

    Raises:
        DataError: A file is missing or malformed; the message names the file and field.
    """
    d = Path(directory)
    return {size: _load_size(str((d / f"{size}.json").resolve()), size) for size in sizes}


@lru_cache(maxsize=16)
def _load_size(path: str, size: str) -> list[JobTemplate]:
    # Cached per process (a sweep of many seeds reads each file once) and on disk, by content.
    from schedlab.families.spark import profile_cache
    from schedlab.scenarios.files import read_text

    p = Path(path)
    if not p.is_file():
        raise DataError(f"missing profile file for input size {size}", source=path)
    text = read_text(p, what="TPC-H profile (JSON)", error=DataError)
    data = text.encode("utf-8")
    templates = profile_cache.load_cached(data, size)
    if templates is None:
        templates = _parse(text, path, size)
        profile_cache.store(data, size, templates)
    return templates


def _parse(text: str, path: str, size: str) -> list[JobTemplate]:
    from schedlab.scenarios.files import parse_json

    doc = parse_json(text, source=path, error=DataError, malformed="not valid JSON")
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise DataError(f"expected format {FORMAT!r}", source=path, field="format")
    queries = doc.get("queries")
    if not isinstance(queries, list) or len(queries) != NUM_QUERIES:
        raise DataError(f"expected a list of {NUM_QUERIES} queries", source=path, field="queries")
    templates = []
    for qi, q in enumerate(queries):
        field = f"queries[{qi}]"
        if not isinstance(q, dict) or not isinstance(q.get("stages"), list) or not q["stages"]:
            raise DataError("expected an object with a non-empty 'stages' list", source=path, field=field)
        stages = [_stage(path, f"{field}.stages[{si}]", si, s) for si, s in enumerate(q["stages"])]
        problem = check_dag(len(stages), [s.parents for s in stages])
        if problem:
            raise DataError(problem, source=path, field=f"{field}.stages")
        templates.append(JobTemplate(name=f"tpch-q{q.get('query', qi + 1)}-{size}", stages=tuple(stages)))
    return templates


def _stage(path: str, field: str, index: int, s: object) -> StageTemplate:
    if not isinstance(s, dict):
        raise DataError("expected an object", source=path, field=field)
    parents = s.get("parents")
    if not isinstance(parents, list) or not all(isinstance(p, int) for p in parents):
        raise DataError("expected a list of stage indices", source=path, field=f"{field}.parents")
    n = s.get("num_tasks")
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_TASKS:
        raise DataError(f"expected a positive integer (at most {MAX_TASKS}), got {n!r}", source=path,
                        field=f"{field}.num_tasks")  # fmt: skip
    waves = s.get("durations_ms")
    if not isinstance(waves, dict):
        raise DataError("expected an object", source=path, field=f"{field}.durations_ms")
    lists = {}
    for wave in ("first_wave", "rest_wave", "fresh"):
        w = waves.get(wave)
        if not isinstance(w, dict):
            raise DataError(
                "expected an object keyed by executor count", source=path, field=f"{field}.durations_ms.{wave}"
            )
        try:
            lists[wave] = {int(k): _durations(v) for k, v in w.items()}
        except (TypeError, ValueError, OverflowError):
            raise DataError(
                "expected integer keys mapping to lists of integer durations",
                source=path,
                field=f"{field}.durations_ms.{wave}",
            ) from None
        if any(x < 0 for v in lists[wave].values() for x in v):
            raise DataError("negative duration", source=path, field=f"{field}.durations_ms.{wave}")
        counts, durations = list(lists[wave]), [x for v in lists[wave].values() for x in v]
        if any(not 1 <= k <= MAX_TASKS for k in counts) or any(x > MAX_MS for x in durations):
            raise DataError(f"executor counts must lie in 1..{MAX_TASKS} and durations be at most {MAX_MS:g} ms",
                            source=path, field=f"{field}.durations_ms.{wave}")  # fmt: skip
    try:
        table, rough = resolve_profile(lists["first_wave"], lists["rest_wave"], lists["fresh"])
    except ValueError as e:
        raise DataError(str(e), source=path, field=f"{field}.durations_ms") from None
    return StageTemplate(index, tuple(parents), n, rough, table)


#: Bounds of a profile's numbers: no TPC-H stage has a million tasks or runs for 30 years.
MAX_TASKS = 1_000_000
MAX_MS = 1e12


def _durations(v: object) -> list[int]:
    """A list of profiled durations: whole numbers of ms (``True`` and ``2.5`` are not)."""
    if type(v) is not list:
        raise TypeError(v)
    if all(type(x) is int for x in v):  # what JSON gives for whole numbers; checked ~10x faster
        return v
    return [_duration(x) for x in v]


def _duration(x: object) -> int:
    if isinstance(x, bool) or not isinstance(x, int | float) or x != int(x):
        raise ValueError(x)
    return int(x)


def sample_tpch_jobs(
    rng: np.random.Generator,
    templates: dict[str, list[JobTemplate]],
    num_jobs: int,
    arrival_rate_per_ms: float,
    queries: tuple[int, ...] | None = None,
) -> list[tuple[float, JobTemplate]]:
    """Draw the job sequence: uniform query and size, Poisson arrivals, the first at t=0.

    With all queries and sizes, the draws are the reference simulator's (query, size, then
    inter-arrival time, per job), so a seed gives the same job sequence there and here.
    """
    sizes = tuple(templates)
    qs = queries or tuple(range(1, NUM_QUERIES + 1))
    mean_gap = 1.0 / arrival_rate_per_ms
    t = 0.0
    jobs = []
    for _ in range(num_jobs):
        q = qs[int(rng.integers(len(qs)))]
        size = str(rng.choice(sizes))
        jobs.append((t, templates[size][q - 1]))
        t += float(rng.exponential(mean_gap))
    return jobs
