"""How multiproc traces are drawn: rows labelled with CPU speeds, one waiting series per CPU queue.

Plot hooks of the multiproc family (see :class:`schedlab.plugins.PlotHooks`), used by
:mod:`schedlab.report.plots`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from schedlab.sim.trace import Trace

__all__ = ["worker_labels", "waiting_series"]


def worker_labels(trace: Trace) -> list[str] | None:
    """``"id (speed x)"`` per CPU; None when the trace has no speeds for every CPU."""
    ids = list(trace.workers["id"])
    speeds = trace.workers.get("speed") or []
    if len(speeds) != len(ids) or not all(isinstance(s, int | float) and not isinstance(s, bool) for s in speeds):
        return None
    return [f"{w} ({s:g}x)" for w, s in zip(ids, speeds)]


def waiting_series(trace: Trace, t_end: float) -> tuple[list[tuple[str, np.ndarray, np.ndarray]], str]:
    """Per CPU, the tasks in its queue, from arrival to start.

    A task that never started waits, to the end of the run, in the queue of the CPU its
    decision chose.
    """
    from schedlab.report.plots import arrival_waits, worker_rows

    t = trace.tasks
    begin, start, never, never_at = arrival_waits(trace)
    d = trace.decisions
    chosen = dict(zip(d["job"], d["worker"])) if "worker" in d else {}
    rows, labels = worker_rows(trace)
    workers = np.asarray([rows[w] for w in t["worker"]], dtype=np.int64)
    never_w = np.asarray([rows.get(chosen.get(j), -1) for j in never], dtype=np.int64)
    series = []
    for k, label in enumerate(labels):
        mask, nmask = workers == k, never_w == k
        s = np.concatenate([begin[mask], never_at[nmask]])
        e = np.concatenate([start[mask], np.full(int(nmask.sum()), t_end)])
        series.append((f"CPU {label}", s, e))
    return series, "tasks waiting in each CPU's queue"
