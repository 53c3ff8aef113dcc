"""Hetero metrics: a makespan lower bound and the gap to it, from the trace alone.

:func:`hetero_metrics` reads the actual ``(task, node)`` durations the model stores in
``trace.extra["hetero_durations"]`` and the arrivals in ``trace.jobs``; it trusts no number
computed by the model. The average completion time of the tasks is the common ``avg_jct_s``
(each task is a job).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from schedlab.sim.trace import Trace

__all__ = ["hetero_metrics", "makespan_lower_bound", "duration_matrix"]

# The LP optimum comes from a floating-point solver with tolerances near 1e-9 relative;
# shaving this much off keeps the bound on the safe side of the true optimum.
_LP_SLACK = 1e-7


def hetero_metrics(trace: Trace) -> dict[str, float | None]:
    """The family's metrics.

    Returns:
        ``makespan_lower_bound_s``: a lower bound (s) on the makespan any schedule of these
        tasks on these nodes could reach (:func:`makespan_lower_bound`), measured like the
        common ``makespan_s`` from the earliest arrival; ``makespan_gap``: ``makespan_s /
        makespan_lower_bound_s - 1`` (0 means provably optimal). Both are None when the
        trace has no task.

    Raises:
        ValueError: The durations table is missing or does not cover every (task, node) pair.
    """
    arrival = np.asarray(trace.jobs["arrival"], dtype=np.float64)
    if arrival.size == 0:
        return {"makespan_lower_bound_s": None, "makespan_gap": None}
    p = duration_matrix(trace)
    sec = trace.seconds_per_unit
    bound = makespan_lower_bound(p, arrival)
    ends = list(trace.tasks["end"]) + [c for c in trace.jobs["completion"] if c is not None]
    makespan = max(0.0, max(ends) - float(arrival.min())) if ends else 0.0
    return {
        "makespan_lower_bound_s": bound * sec,
        "makespan_gap": makespan / bound - 1.0 if bound > 0 else None,
    }


def duration_matrix(trace: Trace) -> np.ndarray:
    """The ``(jobs, workers)`` matrix of actual durations, rows and columns in table order.

    Raises:
        ValueError: ``extra["hetero_durations"]`` is missing, names unknown ids, or leaves a
            pair out.
    """
    table = trace.extra.get("hetero_durations")
    if not isinstance(table, dict) or not all(k in table for k in ("job", "worker", "duration")):
        raise ValueError("a hetero trace needs extra['hetero_durations'] with columns job, worker, duration")
    jobs = {j: r for r, j in enumerate(trace.jobs["id"])}
    workers = {w: c for c, w in enumerate(trace.workers["id"])}
    p = np.full((len(jobs), len(workers)), np.nan)
    for j, w, d in zip(table["job"], table["worker"], table["duration"], strict=True):
        if j not in jobs or w not in workers:
            raise ValueError(f"extra['hetero_durations'] names job {j!r} on worker {w!r}, not in the trace")
        p[jobs[j], workers[w]] = d
    if not np.isfinite(p).all() or (p <= 0).any():
        raise ValueError("extra['hetero_durations'] must give a finite duration > 0 for every (job, worker) pair")
    return p


def makespan_lower_bound(p: np.ndarray, arrival: np.ndarray) -> float:
    """A lower bound on the makespan of any schedule, from the earliest arrival.

    For each distinct arrival time ``r``, let ``S`` be the tasks arriving at ``r`` or later
    and ``T*`` the optimum of the linear program

        minimise T  subject to  sum_j x_ij = 1 (i in S),  sum_{i in S} p_ij x_ij <= T (all j),
        x >= 0.

    The bound is ``max over r of r + max(T*, max_{i in S} min_j p_ij)``, minus the earliest
    arrival.

    Proof that it is a lower bound. Take any schedule (each task runs once, whole, on one
    node j(i), not before its arrival, at most one task at a time per node) and let ``C`` be
    the time its last task ends. Fix ``r``. Every task i of ``S`` starts at or after ``r`` and
    runs for ``p_i j(i)``, so ``C >= r + p_i j(i) >= r + min_j p_ij``. Node j runs the tasks
    of ``S`` assigned to it one at a time within ``[r, C]``, so their durations sum to at most
    ``C - r``: the schedule's assignment ``x_ij = [j(i) = j]`` with ``T = C - r`` is a
    feasible point of the LP, hence ``T* <= C - r``. Both hold for every ``r``, so ``C`` is at
    least the maximum, and the makespan ``C - min arrival`` at least the bound. (The LP
    ignores that a node may also still be busy with earlier tasks; that only makes ``C``
    larger.) Against the simpler "total fastest work over all nodes", the LP charges each
    node the work at its own speed, which matters when nodes differ by 10x per task type.

    Args:
        p: ``(tasks, nodes)`` actual durations, each > 0.
        arrival: Per task, its arrival time.

    Returns:
        The bound, in the unit of ``p`` (0.0 with no task).
    """
    arrival = np.asarray(arrival, dtype=np.float64)
    if arrival.size == 0:
        return 0.0
    t0 = float(arrival.min())
    best = 0.0
    for r in np.unique(arrival):
        rows = arrival >= r
        fastest = float(p[rows].min(axis=1).max())
        best = max(best, float(r) - t0 + max(fastest, _lp_spread(p[rows])))
    return best


def _lp_spread(p: np.ndarray) -> float:
    """``T*`` of the LP in :func:`makespan_lower_bound`, shaved by :data:`_LP_SLACK`."""
    from scipy.optimize import linprog

    n, m = p.shape
    if m == 1:
        return float(p.sum())
    # Variables: x (n*m, row-major by task), then T.
    c = np.zeros(n * m + 1)
    c[-1] = 1.0
    a_eq = np.zeros((n, n * m + 1))
    for i in range(n):
        a_eq[i, i * m : (i + 1) * m] = 1.0
    a_ub = np.zeros((m, n * m + 1))
    for j in range(m):
        a_ub[j, j : n * m : m] = p[:, j]
    a_ub[:, -1] = -1.0
    res = linprog(c, A_ub=a_ub, b_ub=np.zeros(m), A_eq=a_eq, b_eq=np.ones(n), bounds=(0, None), method="highs")
    if res.status != 0:
        # The LP is always feasible and bounded; should the solver still fail, fall back to
        # the weaker bound that needs none: every task at its fastest, spread over all nodes.
        return float(p.min(axis=1).sum()) / m
    return float(res.fun) * (1.0 - _LP_SLACK)
