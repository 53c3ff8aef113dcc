"""Metrics of the edge family: latency percentiles, deadline misses, timeouts, load balance.

A request's latency is its completion minus its arrival (network delay, queueing and service).
The per-node share is the fraction of requests each node served, over every node in the
workers table (a node that got nothing counts as 0).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from schedlab.metrics.summary import completed_jobs

if TYPE_CHECKING:
    from schedlab.sim.trace import Trace

__all__ = ["edge_metrics", "share_cv", "jain_index"]

_KEYS = (
    "latency_mean_ms",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "deadline_miss_rate",
    "timeout_rate",
    "mean_network_delay_ms",
    "share_cv",
    "jain_fairness",
)


def edge_metrics(trace: Trace) -> dict[str, float | None]:
    """The edge family's metrics, in ms and ratios.

    Rates are over the requests that completed; ``None`` where nothing completed or the trace
    lacks the columns (``jobs.deadline``, ``jobs.timeout``, ``jobs.delay``).
    """
    out: dict[str, float | None] = dict.fromkeys(_KEYS)
    ms = trace.seconds_per_unit * 1e3
    jobs = trace.jobs
    done, completion = completed_jobs(trace)
    if done.any():
        arrival = np.asarray(jobs["arrival"], dtype=np.float64)[done]
        latency = (completion - arrival) * ms
        p50, p95, p99 = np.percentile(latency, [50.0, 95.0, 99.0])
        out.update(
            latency_mean_ms=float(latency.mean()),
            latency_p50_ms=float(p50),
            latency_p95_ms=float(p95),
            latency_p99_ms=float(p99),
        )
        if "deadline" in jobs:
            out["deadline_miss_rate"] = float(np.mean(completion > np.asarray(jobs["deadline"], float)[done]))
        if "timeout" in jobs:
            out["timeout_rate"] = float(np.mean(completion > np.asarray(jobs["timeout"], float)[done]))
        if "delay" in jobs:
            out["mean_network_delay_ms"] = float(np.asarray(jobs["delay"], float)[done].mean() * ms)
    ids = list(trace.workers["id"])
    if ids and trace.tasks["worker"]:
        index = {w: k for k, w in enumerate(ids)}
        counts = np.bincount([index[w] for w in trace.tasks["worker"] if w in index], minlength=len(ids))
        out["share_cv"] = share_cv(counts)
        out["jain_fairness"] = jain_index(counts)
    return out


def share_cv(counts: np.ndarray) -> float:
    """Coefficient of variation (population std over mean) of per-node counts; 0 is perfect balance."""
    x = np.asarray(counts, dtype=np.float64)
    mean = x.mean()
    return float(x.std() / mean) if mean > 0 else 0.0


def jain_index(counts: np.ndarray) -> float:
    """Jain's fairness index ``(sum x)^2 / (n * sum x^2)``: 1 is perfect balance, 1/n all on one node."""
    x = np.asarray(counts, dtype=np.float64)
    sq = float((x * x).sum())
    return float(x.sum() ** 2 / (x.size * sq)) if sq > 0 else 1.0
