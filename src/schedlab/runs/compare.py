"""Grids of runs (scenarios x schedulers x seeds): run them, summarise, write the results.

Every run is independent and deterministic, so the rows do not depend on how many processes
ran them or in which order they finished; rows come back in grid order.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from schedlab.errors import DataError

__all__ = [
    "run_one",
    "run_grid",
    "trace_file",
    "summarize_grid",
    "mean_ci",
    "write_results",
    "finite_or_none",
    "parse_seeds",
]

#: Most seeds one grid may list: each is a run, and a typo such as ``1-1000000000`` would
#: otherwise build the list for minutes before the first run.
MAX_SEEDS = 100_000

# Two-sided 95% Student t quantiles for 1..30 degrees of freedom; 1.96 beyond.
_T95 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


def parse_seeds(v: Any) -> tuple[int, ...]:
    """Seeds written like ``1-10``, ``1,2,5`` or ``1-3,7``, one integer, or a list of integers.

    Raises:
        ValueError: Not seeds, an empty or reversed range, a negative seed, or one seed twice.
    """
    if isinstance(v, bool):
        raise ValueError(f"expected seeds like 1-10, 1,2,5 or a list of integers, got {v!r}")
    if isinstance(v, int):
        seeds = [v]
    elif isinstance(v, str):
        seeds = []
        for part in v.split(","):
            if part.strip().startswith("-"):
                raise ValueError(f"a seed is a non-negative integer, got {v!r}")
            a, sep, b = part.strip().partition("-")
            try:
                lo, hi = int(a), int(b) if sep else int(a)
            except ValueError:
                raise ValueError(f"expected seeds like 1-10 or 1,2,5, got {v!r}") from None
            if hi < lo:
                raise ValueError(f"empty seed range {part.strip()!r} (write low-high)")
            if len(seeds) + hi - lo + 1 > MAX_SEEDS:
                raise ValueError(f"{v!r} holds more than {MAX_SEEDS} seeds, the most one command runs")
            seeds += range(lo, hi + 1)
    elif isinstance(v, list | tuple):
        if not all(isinstance(s, int) and not isinstance(s, bool) for s in v):
            raise ValueError(f"expected a list of integer seeds, got {list(v)!r}")
        seeds = list(v)
        if len(seeds) > MAX_SEEDS:
            raise ValueError(f"{len(seeds)} seeds, more than {MAX_SEEDS}, the most one command runs")
    else:
        raise ValueError(f"expected seeds like 1-10, 1,2,5 or a list of integers, got {v!r}")
    if not seeds:
        raise ValueError("needs at least one seed")
    if any(s < 0 for s in seeds):
        raise ValueError(f"seeds must be >= 0, got {min(seeds)}")
    if any(s >= 2**63 for s in seeds):
        raise ValueError(f"seeds must be below 2**63, got {max(seeds)}")
    seen: set[int] = set()
    for s in seeds:
        if s in seen:
            raise ValueError(f"seed {s} is listed twice")
        seen.add(s)
    return tuple(seeds)


def mean_ci(values: Sequence[float]) -> tuple[float, float]:
    """Mean and half-width of its 95% confidence interval (Student t; NaN for one value)."""
    n = len(values)
    if n == 0:
        return math.nan, math.nan
    mean = sum(values) / n
    if n == 1:
        return mean, math.nan
    if min(values) == max(values):
        return mean, 0.0  # exactly, not the rounding error of summing equal values
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    t = _T95[n - 2] if n - 1 <= len(_T95) else 1.96
    return mean, t * math.sqrt(var / n)


def run_one(
    scenario_data: dict[str, Any],
    scheduler: str,
    seed: int,
    trace_dir: str | None = None,
    scheduler_params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run and check one cell of a grid; return its row (scenario, scheduler, seed, metrics).

    ``scheduler_params`` are keyword arguments for the scheduler's constructor (see
    :func:`schedlab.schedulers.make`); none gives the registered defaults.
    """
    from schedlab.metrics.checker import check_trace
    from schedlab.runs import simulate
    from schedlab.scenarios import parse_scenario
    from schedlab.schedulers import make

    scenario = parse_scenario(scenario_data)
    chosen = make(scheduler, scenario.family, **scheduler_params) if scheduler_params else scheduler
    result = simulate(scenario, chosen, seed)
    report = check_trace(result.trace)
    if trace_dir is not None:
        result.trace.save(trace_file(trace_dir, scenario.name, scheduler, seed))
    return {
        "scenario": scenario.name,
        "family": scenario.family,
        "scheduler": scheduler,
        "seed": seed,
        "trace_ok": report.ok,
        **result.metrics,
    }


def trace_file(trace_dir: str | Path, scenario: str, scheduler: str, seed: int) -> Path:
    """Where :func:`run_one` saves the trace of a run: always a file directly in ``trace_dir``.

    The names are the user's (a scenario named ``../../x``, a scheduler ``dir/file.py:Class``), so
    they pass through :func:`~schedlab.sim.io.file_part` and can never lead out of ``trace_dir``.
    """
    from schedlab.sim.io import file_part

    return Path(trace_dir) / f"{file_part(scenario)}__{file_part(scheduler)}__{int(seed)}.json"


def run_grid(
    runs: Sequence[tuple[Any, str, int]],
    *,
    workers: int = 1,
    trace_dir: Path | None = None,
    on_done: Callable[[], None] | None = None,
) -> list[dict[str, Any]]:
    """Run ``(scenario, scheduler, seed)`` cells, in parallel processes when ``workers > 1``.

    With ``trace_dir``, the traces appear there all together once every run has finished; a
    failed run leaves no trace behind (nor ``trace_dir`` itself, unless it existed before).

    Raises:
        DataError: ``trace_dir`` is a file, or lies under one.
    """
    if trace_dir is None:
        return _run_cells([(sc.model_dump(mode="json"), s, seed, None) for sc, s, seed in runs], workers, on_done)
    with _staged(Path(trace_dir)) as staging:
        args = [(sc.model_dump(mode="json"), s, seed, str(staging)) for sc, s, seed in runs]
        return _run_cells(args, workers, on_done)


def _run_cells(args: list[tuple], workers: int, on_done: Callable[[], None] | None) -> list[dict[str, Any]]:
    if workers <= 1 or len(args) <= 1:
        rows = []
        for a in args:
            rows.append(run_one(*a))
            if on_done:
                on_done()
        return rows
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(run_one, *a) for a in args]
        for f in futures:
            f.add_done_callback(lambda _: on_done and on_done())
        return [f.result() for f in futures]


@contextlib.contextmanager
def _staged(trace_dir: Path) -> Iterator[Path]:
    """A hidden folder beside ``trace_dir`` to write into; its files move to ``trace_dir`` on success.

    On failure the staging folder goes, and so do the folders made for it, so that a comparison
    that stops half-way leaves no results folder with some traces and no ``runs.csv``.
    """
    from schedlab.sim.io import check_writable

    check_writable(trace_dir, folder=True)
    made = [p for p in (trace_dir, *trace_dir.parents) if not p.exists()]
    try:
        trace_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=trace_dir.parent, prefix=f".{trace_dir.name}.", suffix=".tmp"))
    except OSError as e:
        raise DataError(f"cannot write here ({e.strerror or e})", source=str(trace_dir)) from None
    try:
        yield staging
        trace_dir.mkdir(exist_ok=True)
        for p in sorted(staging.iterdir()):
            os.replace(p, trace_dir / p.name)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        for p in made:  # deepest first
            with contextlib.suppress(OSError):
                p.rmdir()  # only if still empty
        raise
    shutil.rmtree(staging, ignore_errors=True)


def summarize_grid(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, dict[str, tuple[float, float]]]]:
    """Scenario -> scheduler -> metric -> (mean, 95% CI half-width), in first-seen order."""
    groups: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for r in rows:
        groups.setdefault(r["scenario"], {}).setdefault(r["scheduler"], []).append(r)
    out: dict[str, dict[str, dict[str, tuple[float, float]]]] = {}
    for sc, per in groups.items():
        out[sc] = {}
        for sched, rs in per.items():
            keys = [
                k for k, v in rs[0].items() if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "seed"
            ]
            out[sc][sched] = {}
            for k in keys:
                vals = [r[k] for r in rs if r.get(k) is not None]
                out[sc][sched][k] = mean_ci(vals) if vals else (None, None)
    return out


def write_results(out_dir: Path, rows: Sequence[dict[str, Any]], summary: dict) -> None:
    """Write ``runs.csv`` (one row per run) and ``summary.json`` (mean and CI per metric)."""
    from schedlab.sim.io import write_atomic

    out_dir = Path(out_dir)
    buf = io.StringIO()
    columns = list(dict.fromkeys(k for r in rows for k in r))
    w = csv.DictWriter(buf, fieldnames=columns)
    w.writeheader()
    w.writerows(rows)
    write_atomic(out_dir / "runs.csv", buf.getvalue().encode())
    doc = {
        sc: {s: {k: _stat(m, h) for k, (m, h) in per.items()} for s, per in scheds.items()}
        for sc, scheds in summary.items()
    }
    write_atomic(out_dir / "summary.json", (json.dumps(doc, indent=2, allow_nan=False, default=str) + "\n").encode())


def _stat(mean: Any, half: Any) -> dict[str, Any]:
    return {"mean": finite_or_none(mean), "ci95": finite_or_none(half)}


def finite_or_none(v: Any) -> Any:
    """JSON has no NaN: an undefined mean or interval (one seed) is written as null."""
    return None if isinstance(v, float) and not math.isfinite(v) else v
