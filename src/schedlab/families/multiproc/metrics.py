"""Metrics of the multiproc family: completion time, SLA violations, oracle agreement, utilization.

A task's completion time is its completion minus its arrival (queueing plus run time). Oracle
agreement is read from the decisions table: each row records the CPU chosen (``worker``) and
the one an oracle knowing true work would have chosen (``oracle``), so it is measurable for
any scheduler. Per-CPU utilization is busy time over the makespan (first arrival to last end).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from schedlab.metrics.summary import completed_jobs

if TYPE_CHECKING:
    from schedlab.sim.trace import Trace

__all__ = ["multiproc_metrics"]

_KEYS = (
    "avg_completion_time_s",
    "p95_completion_time_s",
    "sla_violation_rate",
    "oracle_agreement",
    "mean_oracle_regret_s",
    "utilization_min",
    "utilization_max",
)


def multiproc_metrics(trace: Trace) -> dict[str, float | None]:
    """The multiproc family's metrics, then ``utilization_cpu_<id>`` per CPU.

    ``None`` where nothing completed, nothing was decided, or the trace lacks the columns
    (``jobs.deadline``, ``decisions.worker``, ``decisions.oracle``, ``decisions.regret``).
    """
    out: dict[str, float | None] = dict.fromkeys(_KEYS)
    sec = trace.seconds_per_unit
    jobs = trace.jobs
    done, completion = completed_jobs(trace)
    if done.any():
        arrival = np.asarray(jobs["arrival"], dtype=np.float64)[done]
        ct = (completion - arrival) * sec
        out["avg_completion_time_s"] = float(ct.mean())
        out["p95_completion_time_s"] = float(np.percentile(ct, 95.0))
        if "deadline" in jobs:
            out["sla_violation_rate"] = float(np.mean(completion > np.asarray(jobs["deadline"], float)[done]))
    d = trace.decisions
    if d["time"] and "worker" in d and "oracle" in d:
        out["oracle_agreement"] = float(np.mean(np.asarray(d["worker"]) == np.asarray(d["oracle"])))
    if d["time"] and "regret" in d:
        out["mean_oracle_regret_s"] = float(np.mean(np.asarray(d["regret"], dtype=np.float64)) * sec)

    ids = list(trace.workers["id"])
    start = np.asarray(trace.tasks["start"], dtype=np.float64)
    end = np.asarray(trace.tasks["end"], dtype=np.float64)
    arrivals = np.asarray(jobs["arrival"], dtype=np.float64)
    span = float(end.max() - arrivals.min()) if end.size and arrivals.size else 0.0
    if ids and span > 0:
        index = {w: k for k, w in enumerate(ids)}
        rows = [index.get(w, -1) for w in trace.tasks["worker"]]
        known = np.asarray(rows) >= 0
        busy = np.bincount(np.asarray(rows)[known], weights=(end - start)[known], minlength=len(ids))
        util = busy / span
        out["utilization_min"] = float(util.min())
        out["utilization_max"] = float(util.max())
        for w, u in zip(ids, util):
            out[f"utilization_cpu_{w}"] = float(u)
    return out
