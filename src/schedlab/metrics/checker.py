"""The trace checker: proof that a run's trace describes a physically possible schedule.

Any scheduler, classical or learned, is held to the same invariants, and they are checked on
the trace alone. :func:`check_trace` runs the small named checks in :data:`ALL_CHECKS` (in the
manner of Gymnasium's ``check_env``) and gathers what they find into a :class:`CheckReport`;
:func:`assert_trace_ok` raises instead, for tests. Each check can also be called on its own.

Every check takes a :class:`~schedlab.sim.trace.Trace` (or a :class:`TraceArrays` built from
one, so that several checks share one conversion of the columns to NumPy) and returns a list
of :class:`Violation`. Messages name the ids as the trace spells them and the times in the
trace's own unit, e.g. ``task (job 3, stage 2, task 5) on worker 7 starts at 4000.0 ms before
parent stage 1 of job 3 finished at 5000.0 ms``.

Conventions shared by the checks:

* Intervals (tasks, moves) are half-open ``[start, end)``: a task may start on a worker at
  the very instant another one ends there.
* Times compare with an absolute tolerance of ``1e-9`` times the largest time in the trace,
  so that sums of float durations do not raise false alarms.
* A row that a check cannot interpret (an unknown id, a non-finite time) is left to the check
  that owns that problem (``schema``, ``times``) and skipped by the others, so that one bad
  row neither crashes them nor fills their reports with consequences of the same fault.
* In a run with faults (docs/faults.md) a task row with ``failed`` True is an attempt that a
  worker failure cut short. It occupied its workers (``capacity``) and had to wait for its
  parents and its job (``precedence``, ``arrival``), but it does not count as the task's run:
  ``tasks_once`` wants exactly one run that is not failed, and a stage finishes, and a job
  completes, with its successful runs. ``faults`` ties the failed attempts to the failures.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from schedlab.errors import DataError, SchedlabError
from schedlab.sim.trace import TABLES, Trace

__all__ = [
    # entry points
    "check_trace",
    "assert_trace_ok",
    "CheckReport",
    "Violation",
    "ViolationList",
    "TraceViolationError",
    "TraceArrays",
    # the checks, in the order they run
    "ALL_CHECKS",
    "check_schema",
    "check_times",
    "check_tasks_once",
    "check_capacity",
    "check_precedence",
    "check_arrival",
    "check_completion",
    "check_faults",
]


class Violation(NamedTuple):
    """One broken invariant.

    Attributes:
        check: Name of the check that found it (``"capacity"`` for :func:`check_capacity`).
        message: What is wrong, naming ids and times in the trace's unit.
    """

    check: str
    message: str


@dataclass
class CheckReport:
    """What :func:`check_trace` found.

    Attributes:
        ok: True when no check found a violation.
        violations: The violations, at most ``max_per_check`` per check, in check order.
        checks: Names of the checks that ran, in order.
        counts: Per check, how many violations it found in all, including those beyond
            the cap on ``violations``.
    """

    ok: bool
    violations: list[Violation] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form, for a report file."""
        return {
            "ok": self.ok,
            "checks": list(self.checks),
            "counts": dict(self.counts),
            "violations": [v._asdict() for v in self.violations],
        }


class TraceViolationError(SchedlabError):
    """A trace breaks at least one invariant; raised by :func:`assert_trace_ok`.

    Attributes:
        report: The full :class:`CheckReport`.
    """

    def __init__(self, message: str, report: CheckReport):
        super().__init__(message)
        self.report = report


class ViolationList(list):
    """The list a check returns; ``total`` also counts the violations beyond ``limit``.

    Args:
        check: Name of the check, written into every :class:`Violation`.
        limit: Most messages to keep (``None``: all). Formatting messages is the slow part
            of a check on a badly broken trace, so only the kept ones are formatted.
    """

    def __init__(self, check: str, limit: int | None = None):
        super().__init__()
        self.check = check
        self.limit = limit
        #: Violations found, kept or not.
        self.total = 0

    def add_rows(self, rows: Sequence[int] | np.ndarray, message: Callable[[int], str]) -> None:
        """Count one violation per row and keep ``message(row)`` for those within the limit."""
        self.total += len(rows)
        room = len(rows) if self.limit is None else max(0, self.limit - len(self))
        for r in rows[:room]:
            self.append(Violation(self.check, message(int(r))))


def check_trace(
    trace: Trace | TraceArrays,
    *,
    max_per_check: int = 20,
    checks: Sequence[Callable[..., list[Violation]]] | None = None,
) -> CheckReport:
    """Run the checks on a trace and report every broken invariant.

    Args:
        trace: The trace to check.
        max_per_check: Most messages kept per check; ``counts`` still has the full number.
        checks: The checks to run, in order (default :data:`ALL_CHECKS`, then the checks
            of the trace's family, :attr:`schedlab.plugins.FamilySpec.checks`). A custom check is called as
            ``check(arrays, limit=max_per_check)`` with a :class:`TraceArrays` and named after
            its function, less a ``check_`` prefix.

    Returns:
        The report; ``report.ok`` is True when nothing was found.

    Raises:
        ValueError: ``max_per_check`` is not a non-negative integer.
        DataError: A table of the trace lacks a column or has columns of unequal length.
    """
    if isinstance(max_per_check, bool) or not isinstance(max_per_check, int) or max_per_check < 0:
        raise ValueError(f"max_per_check must be a non-negative integer, got {max_per_check!r}")
    arrays = TraceArrays.of(trace)
    report = CheckReport(ok=True)
    if checks is None:
        checks = ALL_CHECKS + family_checks(arrays.trace.family)
    for check in checks:
        name = check.__name__.removeprefix("check_")
        found = check(arrays, limit=max_per_check)
        report.checks.append(name)
        report.counts[name] = getattr(found, "total", len(found))
        report.violations.extend(found[:max_per_check])
    report.ok = not any(report.counts.values())
    return report


def family_checks(family: str) -> tuple[Callable[..., list[Violation]], ...]:
    """The checks a family adds to :data:`ALL_CHECKS` (none for a family not registered)."""
    from schedlab import plugins

    spec = plugins.find(family)
    return tuple(plugins.resolve(c) for c in spec.checks) if spec is not None else ()


def assert_trace_ok(trace: Trace | TraceArrays, *, max_messages: int = 5) -> None:
    """Raise if the trace breaks any invariant; meant for tests.

    Args:
        trace: The trace to check.
        max_messages: Most violation messages quoted in the error.

    Raises:
        TraceViolationError: A check found a violation; the message quotes the first few and
            ``err.report`` holds them all.
    """
    report = check_trace(trace)
    if report.ok:
        return
    counts = ", ".join(f"{name}: {n}" for name, n in report.counts.items() if n)
    lines = [f"  [{v.check}] {v.message}" for v in report.violations[:max_messages]]
    more = sum(report.counts.values()) - len(lines)
    if more > 0:
        lines.append(f"  ... and {more} more")
    raise TraceViolationError(f"trace breaks invariants ({counts}):\n" + "\n".join(lines), report)


# -- the checks -------------------------------------------------------------------------------


def check_schema(trace: Trace | TraceArrays, *, limit: int | None = None) -> list[Violation]:
    """Every row refers to things that exist.

    Ids are integers, unique in their table; workers have a non-negative integer capacity;
    a stage belongs to a known job, has a non-negative integer ``num_tasks`` and lists as
    parents other stages of the same job; task, move and decision rows name known jobs,
    stages (the ``(job, stage)`` pair is in the stages table) and workers, and a task index
    lies in ``0 .. num_tasks - 1`` of its stage. A decision's ``job`` or ``stage`` may be
    ``None`` (an action that names no stage).

    Args:
        trace: The trace to check.
        limit: Most messages to format (``None``: all); the count is in ``.total``.

    Returns:
        A :class:`ViolationList`.
    """
    a = TraceArrays.of(trace)
    out = ViolationList("schema", limit)
    w, j, s = a.trace.workers, a.trace.jobs, a.trace.stages

    out.add_rows(np.flatnonzero(~a.w_id_ok), lambda r: f"workers row {r} has id {w['id'][r]!r}, expected an integer")
    out.add_rows(_duplicates(a.w_id, a.w_id_ok), lambda r: f"worker id {w['id'][r]} appears more than once")
    bad_cap = ~(np.isfinite(a.w_cap) & (a.w_cap >= 0) & (a.w_cap == np.round(a.w_cap)))
    out.add_rows(
        np.flatnonzero(bad_cap),
        lambda r: f"worker {w['id'][r]} has capacity {w['capacity'][r]!r}, expected a non-negative integer",
    )
    out.add_rows(np.flatnonzero(~a.j_id_ok), lambda r: f"jobs row {r} has id {j['id'][r]!r}, expected an integer")
    out.add_rows(_duplicates(a.j_id, a.j_id_ok), lambda r: f"job id {j['id'][r]} appears more than once")

    # Stages.
    out.add_rows(
        np.flatnonzero(a.s_jidx < 0),
        lambda r: (
            f"stages row {r} (job {s['job'][r]!r}, stage {s['stage'][r]!r}) references unknown job {s['job'][r]!r}"
        ),
    )
    out.add_rows(
        np.flatnonzero((a.s_jidx >= 0) & ~a.s_stage_ok),
        lambda r: f"stages row {r} of job {s['job'][r]} has stage index {s['stage'][r]!r}, expected an integer",
    )
    out.add_rows(
        _duplicates(a.s_key, a.s_key >= 0),
        lambda r: f"stage {s['stage'][r]} of job {s['job'][r]} appears more than once in the stages table",
    )
    out.add_rows(
        np.flatnonzero(~a.s_ntasks_ok),
        lambda r: (
            f"stage {s['stage'][r]!r} of job {s['job'][r]!r} has num_tasks {s['num_tasks'][r]!r}, "
            "expected a non-negative integer"
        ),
    )
    out.add_rows(
        np.flatnonzero(a.s_parents_bad),
        lambda r: (
            f"stage {s['stage'][r]!r} of job {s['job'][r]!r} has parents {s['parents'][r]!r}, "
            "expected a list of stage indices"
        ),
    )
    e_child, e_value, e_parent = a.e_child, a.e_value, a.e_parent
    unknown = np.flatnonzero((e_parent < 0) & (a.s_jidx[e_child] >= 0))
    out.add_rows(
        unknown,
        lambda e: (
            f"stage {s['stage'][e_child[e]]} of job {s['job'][e_child[e]]} lists parent stage "
            f"{e_value[e]!r}, which job {s['job'][e_child[e]]} does not have"
        ),
    )
    out.add_rows(
        np.flatnonzero(e_parent == e_child),
        lambda e: f"stage {s['stage'][e_child[e]]} of job {s['job'][e_child[e]]} lists itself as a parent",
    )

    # Tasks, moves and decisions.
    t = a.trace.tasks
    out.add_rows(np.flatnonzero(a.t_jidx < 0), lambda r: f"{a.task(r)} references unknown job {t['job'][r]!r}")
    out.add_rows(
        np.flatnonzero((a.t_jidx >= 0) & (a.t_sidx < 0)),
        lambda r: f"{a.task(r)} references stage {t['stage'][r]!r}, which job {t['job'][r]} does not have",
    )
    out.add_rows(
        np.flatnonzero((a.t_sidx >= 0) & ~a.t_task_ok),
        lambda r: (
            f"{a.task(r)} has task index {t['task'][r]!r} outside 0..{a.s_ntasks[a.t_sidx[r]] - 1} "
            f"(stage {t['stage'][r]} of job {t['job'][r]} has {a.s_ntasks[a.t_sidx[r]]} tasks)"
        ),
    )
    out.add_rows(
        np.flatnonzero(a.t_widx < 0), lambda r: f"{a.task(r)}: worker {t['worker'][r]!r} is not in the workers table"
    )
    m = a.trace.moves
    out.add_rows(
        np.flatnonzero(a.m_widx < 0),
        lambda r: (
            f"moves row {r} (to job {m['job'][r]!r}) names worker {m['worker'][r]!r}, which is not in the workers table"
        ),
    )
    out.add_rows(
        np.flatnonzero(a.m_jidx < 0),
        lambda r: f"worker {m['worker'][r]!r} moves to unknown job {m['job'][r]!r} (moves row {r})",
    )
    d = a.trace.decisions
    out.add_rows(
        np.flatnonzero(a.d_jidx == _UNKNOWN),
        lambda r: f"decision at {a.t(a.d_time[r])} (decisions row {r}) references unknown job {d['job'][r]!r}",
    )
    out.add_rows(
        np.flatnonzero(a.d_sidx == _UNKNOWN),
        lambda r: (
            f"decision at {a.t(a.d_time[r])} (decisions row {r}) references stage {d['stage'][r]!r}, "
            f"which job {d['job'][r]} does not have"
        ),
    )
    return out


def check_times(trace: Trace | TraceArrays, *, limit: int | None = None) -> list[Violation]:
    """Every time is a finite, non-negative number and no interval ends before it starts.

    Covers job arrivals and completions (a completion may not precede the arrival), task and
    move intervals, and decision times. Each row is reported once, for its first problem.

    Args:
        trace: The trace to check.
        limit: Most messages to format (``None``: all); the count is in ``.total``.

    Returns:
        A :class:`ViolationList`.
    """
    a = TraceArrays.of(trace)
    out = ViolationList("times", limit)

    def job(r: int) -> str:
        return f"job {a.trace.jobs['id'][r]}"

    def move(r: int) -> str:
        m = a.trace.moves
        return f"move of worker {m['worker'][r]} to job {m['job'][r]}"

    def decision(r: int) -> str:
        return f"decision {r} (job {a.trace.decisions['job'][r]})"

    completion = np.where(a.j_done, a.j_completion, a.j_arrival)
    for rows, start, end, what, names in (
        (a.j_arrival.size, a.j_arrival, completion, job, ("arrival", "completion", "arrives", "completes")),
        (a.t_start.size, a.t_start, a.t_end, a.task, ("start", "end", "starts", "ends")),
        (a.m_start.size, a.m_start, a.m_end, move, ("start", "end", "starts", "ends")),
        (a.d_time.size, a.d_time, a.d_time, decision, ("time", "time", "is", "is")),
    ):
        if not rows:
            continue
        code = _interval_codes(start, end, a.tol)
        out.add_rows(np.flatnonzero(code), _interval_message(a, code, start, end, what, names))
    return out


def check_tasks_once(trace: Trace | TraceArrays, *, limit: int | None = None) -> list[Violation]:
    """Every task of every stage in the stages table ran exactly once (failed attempts aside).

    A task run more than once is one violation; the tasks of a stage that never ran are one
    violation per stage ("stage 2 of job 3: 5 of 12 tasks never ran"). Rows marked ``failed``
    (attempts a worker failure cut short) are not runs: a task lost to a failure must still
    run once to completion, and only once.

    Args:
        trace: The trace to check.
        limit: Most messages to format (``None``: all); the count is in ``.total``.

    Returns:
        A :class:`ViolationList`.
    """
    a = TraceArrays.of(trace)
    out = ViolationList("tasks_once", limit)
    runs = a.runs
    s = a.trace.stages

    def duplicate(g: int) -> str:
        rows = np.flatnonzero((a.t_gid == g) & ~a.t_failed)
        where = ", ".join(f"on worker {a.trace.tasks['worker'][r]} at {a.t(a.t_start[r])}" for r in rows)
        return f"{a.task_id(int(rows[0]))} ran {rows.size} times: {where}"

    def missing(si: int) -> str:
        never = np.flatnonzero(runs[a.s_offset[si] : a.s_offset[si] + a.s_ntasks[si]] == 0)
        stage = f"stage {s['stage'][si]} of job {s['job'][si]}"
        if never.size == 1:
            head = f"task (job {s['job'][si]}, stage {s['stage'][si]}, task {never[0]})"
            lost = int(a.failed_runs[a.s_offset[si] + never[0]]) if a.failed_runs.size else 0
            if lost:
                return f"{head} never ran to completion: its {lost} attempt(s) failed and it never ran again"
            return f"{head} never ran"
        shown = ", ".join(str(k) for k in never[:5]) + (", ..." if never.size > 5 else "")
        return f"{stage}: {never.size} of {a.s_ntasks[si]} tasks never ran (tasks {shown})"

    out.add_rows(np.flatnonzero(runs > 1), duplicate)
    out.add_rows(np.flatnonzero(a.s_primary & (a.s_ran < a.s_ntasks)), missing)
    return out


def check_capacity(trace: Trace | TraceArrays, *, limit: int | None = None) -> list[Violation]:
    """No worker runs more tasks at once than its capacity, and none runs a task while moving.

    A move occupies its whole worker, so a task and a move, or two moves, may not overlap on
    one worker. A task with a ``workers`` gang occupies every worker of it, and one with a
    ``setup`` time occupies them from ``start - setup`` (a model switch, say). Intervals are
    half-open. The check is one sweep over all start and end events sorted by (worker, time,
    end-before-start); each start that lifts its worker's load above capacity is one violation.
    Zero-length occupations are skipped; an end within the tolerance of a start counts as
    coming before it.

    Args:
        trace: The trace to check.
        limit: Most messages to format (``None``: all); the count is in ``.total``.

    Returns:
        A :class:`ViolationList`.
    """
    a = TraceArrays.of(trace)
    out = ViolationList("capacity", limit)
    # Workers with a capacity that is not a whole number are the schema check's; skipping
    # them keeps every load integral, which the one-cumsum sweep below relies on.
    cap_ok = np.isfinite(a.w_cap) & (a.w_cap >= 0) & (a.w_cap == np.round(a.w_cap))
    tol = a.tol
    # One row per (task, worker of its gang); without gangs, one per task.
    occupied = a.t_start - a.t_setup
    g_start, g_end = occupied[a.g_row], a.t_end[a.g_row]
    g_rows = np.flatnonzero((a.g_widx >= 0) & np.isfinite(g_start) & np.isfinite(g_end) & (g_end - g_start > tol))
    g_rows = g_rows[cap_ok[a.g_widx[g_rows]]]
    m_rows = np.flatnonzero(
        (a.m_widx >= 0) & np.isfinite(a.m_start) & np.isfinite(a.m_end) & (a.m_end - a.m_start > tol)
    )
    m_rows = m_rows[cap_ok[a.m_widx[m_rows]]]

    # One interval per task or move; a move weighs its worker's whole capacity, so any
    # overlap with it overloads the worker. ``src`` is the task row, or ~(move row) for moves.
    iv_w = np.concatenate([a.g_widx[g_rows], a.m_widx[m_rows]])
    iv_start = np.concatenate([g_start[g_rows], a.m_start[m_rows]])
    # Ends are pulled in by the tolerance, so a start that misses the previous end by a
    # rounding error does not count as an overlap.
    iv_end = np.concatenate([g_end[g_rows], a.m_end[m_rows]]) - tol
    iv_src = np.concatenate([a.g_row[g_rows], ~m_rows])
    iv_load = np.concatenate([np.ones(g_rows.size), np.maximum(a.w_cap[a.m_widx[m_rows]], 1.0)])
    n = iv_w.size
    if n == 0:
        return out

    ev_w = np.concatenate([iv_w, iv_w])
    ev_time = np.concatenate([iv_start, iv_end])
    ev_start = np.concatenate([np.ones(n, dtype=bool), np.zeros(n, dtype=bool)])
    # By worker, then time, then ends (False) before starts, ties in event order: what
    # np.lexsort((ev_start, ev_time, ev_w)) gives, as stable sorts from the last key to the
    # first, twice as fast on millions of tasks. The ends come first to begin with; the times
    # come nearly sorted (a trace logs tasks as they start), runs the stable sort takes whole;
    # worker rows fit 16 bits but in huge clusters, and 16-bit keys are radix sorted.
    order = np.concatenate([np.arange(n, 2 * n), np.arange(n)])
    order = order[np.argsort(ev_time[order], kind="stable")]
    w = ev_w[order]
    order = order[np.argsort(w.astype(np.int16) if a.w_id.size < 2**15 else w, kind="stable")]
    delta = np.concatenate([iv_load, -iv_load])[order]
    # Every interval adds and removes the same whole number, so the running sum falls back
    # to exactly zero at each worker boundary and one cumsum serves all workers.
    level = np.cumsum(delta)
    over = ev_start[order] & (level > a.w_cap[ev_w[order]])
    hits = np.flatnonzero(over)
    if hits.size == 0:
        return out

    rank = np.empty(2 * n, dtype=np.int64)
    rank[order] = np.arange(2 * n)
    start_rank = rank[:n]

    def message(h: int) -> str:
        i = int(order[h])  # the interval whose start overloads the worker
        w, t = iv_w[i], iv_start[i]
        # Intervals on the same worker already started (earlier in the sweep) and not ended.
        active = np.flatnonzero((iv_w == w) & (start_rank < h) & (iv_end > t))
        moves = [int(~iv_src[k]) for k in active if iv_src[k] < 0]
        tasks = [int(iv_src[k]) for k in active if iv_src[k] >= 0]
        worker = a.trace.workers["id"][w]
        if iv_src[i] >= 0:
            r = int(iv_src[i])
            # A task with a setup (a model switch) holds its workers before it starts running.
            starts = "starts" if not a.t_setup[r] > 0 else f"starts its setup (it runs from {a.t(a.t_start[r])})"
            me = f"{a.task(r)} {starts} at {a.t(t)}"
            if moves:
                return f"{me} while worker {worker} is moving to job {a.move_span(moves[0])}"
            if not tasks:
                return f"{me}, but worker {worker} has capacity {a.trace.workers['capacity'][w]}"
            others = _listing([a.task_id(x) for x in tasks])
            return (
                f"worker {worker} runs {len(tasks) + 1} tasks at {a.t(t)}, over its capacity of "
                f"{a.trace.workers['capacity'][w]}: {a.task_id(r)} {starts} while {others} "
                f"{'runs' if len(tasks) == 1 else 'run'}"
            )
        me = f"worker {worker} starts moving to job {a.trace.moves['job'][~iv_src[i]]} at {a.t(t)}"
        if moves:
            return f"{me} while already moving to job {a.move_span(moves[0])}"
        if not tasks:
            return f"{me}, but its capacity is {a.trace.workers['capacity'][w]}"
        spans = [f"{a.task_id(r)} (from {a.t(a.t_start[r])} to {a.t(a.t_end[r])})" for r in tasks]
        return f"{me} while running {_listing(spans)}"

    out.add_rows(hits, message)
    return out


def check_precedence(trace: Trace | TraceArrays, *, limit: int | None = None) -> list[Violation]:
    """No task starts before every task of every parent stage of its stage has ended.

    A parent stage with a task that never ran never finishes, so no task of a child stage
    may run at all.

    Args:
        trace: The trace to check.
        limit: Most messages to format (``None``: all); the count is in ``.total``.

    Returns:
        A :class:`ViolationList`.
    """
    a = TraceArrays.of(trace)
    out = ViolationList("precedence", limit)
    e_child, e_parent = a.e_child, a.e_parent
    ok = (e_parent >= 0) & (e_parent != e_child)
    e_child, e_parent = e_child[ok], e_parent[ok]
    ready = np.full(a.s_key.size, -np.inf)
    np.maximum.at(ready, e_child, a.s_finish[e_parent])

    rows = np.flatnonzero((a.t_sidx >= 0) & np.isfinite(a.t_start))
    late = rows[a.t_start[rows] < ready[a.t_sidx[rows]] - a.tol]
    s = a.trace.stages

    def message(r: int) -> str:
        si = a.t_sidx[r]
        parents = e_parent[e_child == si]
        p = int(parents[np.argmax(a.s_finish[parents])])
        head = f"{a.task(r)} starts at {a.t(a.t_start[r])} before parent stage {s['stage'][p]} of job {s['job'][p]}"
        if np.isinf(a.s_finish[p]):
            return f"{head} finished (it never did: {a.s_ran[p]} of its {a.s_ntasks[p]} tasks ran)"
        return f"{head} finished at {a.t(a.s_finish[p])}"

    out.add_rows(late, message)
    return out


def check_arrival(trace: Trace | TraceArrays, *, limit: int | None = None) -> list[Violation]:
    """No task of a job, and no move of a worker to a job, starts before the job arrives.

    Args:
        trace: The trace to check.
        limit: Most messages to format (``None``: all); the count is in ``.total``.

    Returns:
        A :class:`ViolationList`.
    """
    a = TraceArrays.of(trace)
    out = ViolationList("arrival", limit)
    jobs = a.trace.jobs

    def early(jidx: np.ndarray, start: np.ndarray) -> np.ndarray:
        rows = np.flatnonzero((jidx >= 0) & np.isfinite(start))
        return rows[start[rows] < a.j_arrival[jidx[rows]] - a.tol]

    out.add_rows(
        early(a.t_jidx, a.t_start),
        lambda r: (
            f"{a.task(r)} starts at {a.t(a.t_start[r])} before job {jobs['id'][a.t_jidx[r]]} "
            f"arrives at {a.t(a.j_arrival[a.t_jidx[r]])}"
        ),
    )
    out.add_rows(
        early(a.m_jidx, a.m_start),
        lambda r: (
            f"worker {a.trace.moves['worker'][r]} starts moving to job {jobs['id'][a.m_jidx[r]]} at "
            f"{a.t(a.m_start[r])} before the job arrives at {a.t(a.j_arrival[a.m_jidx[r]])}"
        ),
    )
    return out


def check_completion(trace: Trace | TraceArrays, *, limit: int | None = None) -> list[Violation]:
    """A job's recorded completion agrees with its tasks.

    A completed job has run all its tasks and completes when its last task ends (within
    ``1e-6`` relative; failed attempts do not count); a job recorded as never completing
    (``completion`` ``None``) has a task that never ran.

    Args:
        trace: The trace to check.
        limit: Most messages to format (``None``: all); the count is in ``.total``.

    Returns:
        A :class:`ViolationList`.
    """
    a = TraceArrays.of(trace)
    out = ViolationList("completion", limit)
    n_jobs = a.j_id.size
    last_end = np.full(n_jobs, -np.inf)
    rows = np.flatnonzero((a.t_jidx >= 0) & np.isfinite(a.t_end) & ~a.t_failed)
    np.maximum.at(last_end, a.t_jidx[rows], a.t_end[rows])
    known = np.flatnonzero(a.s_primary)
    ntasks, unrun = a.s_ntasks[known], a.s_ntasks[known] - a.s_ran[known]
    total = np.bincount(a.s_jidx[known], weights=ntasks, minlength=n_jobs).astype(np.int64)
    missing = np.bincount(a.s_jidx[known], weights=unrun, minlength=n_jobs).astype(np.int64)

    done = a.j_done & np.isfinite(a.j_completion)
    c = np.where(done, a.j_completion, 0.0)
    has_end = np.isfinite(last_end)
    e = np.where(has_end, last_end, 0.0)
    off = np.abs(c - e) > np.maximum(1e-6 * np.maximum(np.abs(c), np.abs(e)), a.tol)
    ids = a.trace.jobs["id"]

    out.add_rows(
        np.flatnonzero(done & (missing > 0)),
        lambda j: (
            f"job {ids[j]} is recorded complete at {a.t(c[j])} but {missing[j]} of its {total[j]} tasks never ran"
        ),
    )
    out.add_rows(
        np.flatnonzero(done & (missing == 0) & has_end & off),
        lambda j: f"job {ids[j]} is recorded complete at {a.t(c[j])} but its last task ends at {a.t(e[j])}",
    )

    def never_completed(j: int) -> str:
        head = f"job {ids[j]} has no completion time but"
        if total[j] == 0:
            return f"{head} none of its stages has a task to run"
        return f"{head} all {total[j]} of its tasks ran" + (f" (the last ended at {a.t(e[j])})" if has_end[j] else "")

    out.add_rows(np.flatnonzero(~a.j_done & (missing == 0)), never_completed)
    return out


#: Kinds of failure a trace may record (``extra.failures.kind``).
FAILURE_KINDS = ("crash", "lost_on_move")
_FAILURE_COLUMNS = ("time", "worker", "kind", "repair", "job", "stage", "task")


def check_faults(trace: Trace | TraceArrays, *, limit: int | None = None) -> list[Violation]:
    """Failures and failed attempts agree, and nothing ran on a dead worker.

    For a trace of a run with faults (``extra.failures``: one row per worker failure, with
    ``time``, ``worker``, ``kind``, ``repair``, the time it is back or None for never, and
    ``job``, ``stage``, ``task``, the attempt it lost or None; task rows marked ``failed``):

    * every failure row is well formed (a known worker, a finite time, a known kind, a repair
      no earlier than the failure, a lost task that exists), and a worker does not fail again
      while it is down;
    * every failed attempt ends at a failure of one of its workers that names its task, and
      every failure that names a lost task has that failed attempt (nothing is marked lost
      that did not run there, and no attempt is dropped without a failure to explain it);
    * no task attempt (failed or not, with its setup) and no move occupies a worker between
      its failure and its repair (intervals half-open);
    * no attempt of a task starts after the task completed (a lost task runs again; a
      finished one does not).

    That a lost task still ran to completion exactly once is :func:`check_tasks_once`'s.
    A trace without failures and without failed rows has nothing to check.

    Args:
        trace: The trace to check.
        limit: Most messages to format (``None``: all); the count is in ``.total``.

    Returns:
        A :class:`ViolationList`.
    """
    a = TraceArrays.of(trace)
    out = ViolationList("faults", limit)
    tasks = a.trace.tasks
    table = a.trace.extra.get("failures")
    failed_col = tasks.get("failed")
    if failed_col is not None:
        bad = [r for r, v in enumerate(failed_col) if not isinstance(v, (bool, np.bool_))]
        out.add_rows(bad, lambda r: f"{a.task(r)} has failed={failed_col[r]!r}, expected true or false")
    if table is None:
        out.add_rows(
            np.flatnonzero(a.t_failed),
            lambda r: f"{a.task(r)} is a failed attempt, but the trace records no failure (extra.failures)",
        )
        return out
    missing = [c for c in _FAILURE_COLUMNS if not isinstance(table.get(c), list)]
    if missing:
        out.add_rows([0], lambda _: f"extra.failures lacks column(s) {', '.join(missing)}")
        return out
    f_time = _float_column(table["time"])
    n = f_time.size
    f_widx = a._worker_rows(table["worker"])
    f_back = np.where(_is_none(table["repair"]), np.inf, _float_column(table["repair"]))
    f_kind = table["kind"]
    f_lost = ~_is_none(table["job"])
    f_jidx = a._job_rows(table["job"], none=_NONE)
    f_sidx = a._stage_rows(f_jidx, table["stage"], none=_NONE)
    f_task, f_task_ok = _int_column(table["task"])
    f_task_ok &= (f_sidx >= 0) & (f_task >= 0) & (f_task < _take(a.s_ntasks, f_sidx, 0))
    f_gid = np.where(f_task_ok, _take(a.s_offset, f_sidx, 0) + f_task, -1)
    tol = max(a.tol, 1e-9 * float(np.max(np.abs(f_time[np.isfinite(f_time)]), initial=1.0)))

    def failure(k: int) -> str:
        what = f" losing task (job {table['job'][k]}, stage {table['stage'][k]}, task {table['task'][k]})"
        return f"worker {table['worker'][k]} failed ({f_kind[k]}) at {a.t(f_time[k])}{what if f_lost[k] else ''}"

    # Each failure row on its own.
    ok = np.isfinite(f_time) & (f_time >= -tol) & (f_widx >= 0)
    out.add_rows(
        np.flatnonzero(~np.isfinite(f_time) | (f_time < -tol)),
        lambda k: (
            f"failure {k} (worker {table['worker'][k]}) has time {table['time'][k]!r}, expected a finite time >= 0"
        ),
    )
    out.add_rows(
        np.flatnonzero(f_widx < 0),
        lambda k: f"failure at {a.t(f_time[k])} names worker {table['worker'][k]!r}, which is not in the workers table",
    )
    kinds_bad = [k for k in range(n) if f_kind[k] not in FAILURE_KINDS]
    out.add_rows(kinds_bad, lambda k: f"failure {k} has kind {f_kind[k]!r}, expected one of {', '.join(FAILURE_KINDS)}")
    back_bad = ok & ~(f_back >= f_time - tol)
    out.add_rows(
        np.flatnonzero(back_bad),
        lambda k: f"{failure(k)} but is back at {table['repair'][k]!r}, before it failed",
    )
    ok &= ~back_bad
    out.add_rows(
        np.flatnonzero(f_lost & (f_gid < 0)),
        lambda k: f"{failure(k)}, a task the stages table does not have",
    )

    # A worker fails only while it is up.
    rows = np.flatnonzero(ok)
    order = rows[np.lexsort((f_time[rows], f_widx[rows]))]
    again = [int(k) for p, k in zip(order[:-1], order[1:]) if f_widx[p] == f_widx[k] and f_time[k] < f_back[p] - tol]
    prev = {int(k): int(p) for p, k in zip(order[:-1], order[1:])}
    out.add_rows(
        again,
        lambda k: (
            f"{failure(k)} while already down (it failed at {a.t(f_time[prev[k]])}"
            + (" and never came back)" if np.isinf(f_back[prev[k]]) else f", back at {a.t(f_back[prev[k]])})")
        ),
    )

    # Failed attempts and the failures that cut them short, one to one.
    by_key: dict[tuple[int, int], list[int]] = {}
    for k in np.flatnonzero(ok & f_lost & (f_gid >= 0)):
        by_key.setdefault((int(f_gid[k]), int(f_widx[k])), []).append(int(k))
    gang: dict[int, list[int]] = {}
    failed_rows = np.flatnonzero(a.t_failed)
    if failed_rows.size:
        is_failed = a.t_failed[a.g_row]
        for r, w in zip(a.g_row[is_failed].tolist(), a.g_widx[is_failed].tolist()):
            gang.setdefault(r, []).append(w)
    used: set[int] = set()
    orphans = []
    for r in failed_rows.tolist():
        g = int(a.t_gid[r])
        match = None
        if g >= 0:
            for w in gang.get(r, ()):
                for k in by_key.get((g, w), ()):
                    if k not in used and abs(f_time[k] - a.t_end[r]) <= tol:
                        match = k
                        break
                if match is not None:
                    break
        if match is None:
            orphans.append(r)
        else:
            used.add(match)
    out.add_rows(
        orphans,
        lambda r: (
            f"{a.task(r)} is a failed attempt ending at {a.t(a.t_end[r])}, "
            "but no failure of its worker(s) then names it"
        ),
    )
    out.add_rows(
        [k for ks in by_key.values() for k in ks if k not in used],
        lambda k: f"{failure(k)}, but no failed attempt of that task on the worker ends then",
    )

    # Nothing occupies a worker while it is down: task attempts (from their setup) and moves.
    occ_w = np.concatenate([a.g_widx, a.m_widx])
    occ_start = np.concatenate([(a.t_start - a.t_setup)[a.g_row], a.m_start])
    occ_end = np.concatenate([a.t_end[a.g_row], a.m_end])
    occ_src = np.concatenate([a.g_row, ~np.arange(a.m_start.size)])
    keep = (occ_w >= 0) & np.isfinite(occ_start) & np.isfinite(occ_end)
    occ_w, occ_start, occ_end, occ_src = occ_w[keep], occ_start[keep], occ_end[keep], occ_src[keep]
    srt = np.argsort(occ_w, kind="stable")
    bounds = np.searchsorted(occ_w[srt], np.arange(a.w_id.size + 1))
    dead_runs: list[tuple[int, int]] = []
    for k in rows.tolist():
        w = int(f_widx[k])
        seg = srt[bounds[w] : bounds[w + 1]]
        hit = seg[(occ_start[seg] < f_back[k] - tol) & (occ_end[seg] > f_time[k] + tol)]
        dead_runs.extend((int(x), k) for x in hit)

    def on_dead(i: int) -> str:
        x, k = dead_runs[i]
        src = int(occ_src[x])
        when = "never came back" if np.isinf(f_back[k]) else f"came back at {a.t(f_back[k])}"
        down = f"worker {table['worker'][k]} is down (it failed at {a.t(f_time[k])} and {when})"
        if src < 0:
            return f"worker {a.trace.moves['worker'][~src]} moves to job {a.move_span(~src)} while {down}"
        return f"{a.task(src)} runs from {a.t(occ_start[x])} to {a.t(occ_end[x])} while {down}"

    out.add_rows(range(len(dead_runs)), on_dead)

    # No attempt after the task completed.
    done_end = np.full(a.runs.size, np.inf)
    good = np.flatnonzero(a.t_task_ok & ~a.t_failed & np.isfinite(a.t_end))
    np.minimum.at(done_end, a.t_gid[good], a.t_end[good])
    late = failed_rows[(a.t_gid[failed_rows] >= 0)]
    late = late[a.t_start[late] >= done_end[a.t_gid[late]] - tol]
    out.add_rows(
        late,
        lambda r: f"{a.task(r)} starts again at {a.t(a.t_start[r])} after it completed at {a.t(done_end[a.t_gid[r]])}",
    )
    return out


#: The checks :func:`check_trace` runs, in order.
ALL_CHECKS: tuple[Callable[..., list[Violation]], ...] = (
    check_schema,
    check_times,
    check_tasks_once,
    check_capacity,
    check_precedence,
    check_arrival,
    check_completion,
    check_faults,
)


# -- the trace as arrays ----------------------------------------------------------------------

# Index of a reference that names nothing (a decision's ``None`` job or stage); a reference to
# something that does not exist is -1.
_NONE = -2
_UNKNOWN = -1


class TraceArrays:
    """The columns of a trace as NumPy arrays, with every reference resolved to a row number.

    Build one and pass it to several checks to convert the columns once. It is a snapshot:
    build a fresh one after changing the trace. Rows that cannot be resolved get -1 (unknown
    id) or -2 (a decision that names no job or stage); invalid numbers become NaN or 0 with
    a False ``*_ok`` flag, so that every array has one entry per row of its table.

    Args:
        trace: The trace to convert.

    Raises:
        DataError: A table lacks a column or has columns of unequal length.

    Attributes:
        w_id, w_id_ok, w_cap: Worker ids, whether each is an integer, capacities.
        j_id, j_id_ok, j_arrival, j_done, j_completion: Job ids, arrivals, whether a completion
            is recorded, completions (NaN where ``None``).
        s_jidx, s_stage_ok, s_key: Per stage row, its jobs row, whether its index is an
            integer, and a key packing (jobs row, stage index) (-1 if either is bad).
        s_primary: Whether a stage row is valid and the first of its (job, stage) pair; only
            these own tasks, so a duplicated row is reported once, by the schema check.
        s_ntasks, s_ntasks_ok, s_offset: Tasks per stage (0 if invalid), whether valid, and the
            global number of its first task (tasks are numbered stage after stage).
        s_parents_bad: Whether a stage's ``parents`` is not a list.
        e_child, e_value, e_parent: The parent links: child stage row, parent as written,
            parent stage row (-1 if the job has no such stage).
        t_jidx, t_sidx, t_widx: Per task row, its jobs, stages and workers rows.
        t_task_ok, t_gid: Whether the task index is in range for its stage; its global number
            (-1 if not).
        t_start, t_end, m_start, m_end, d_time: Task, move and decision times.
        t_failed: Per task row, whether it is a failed attempt (``tasks.failed`` is True).
        m_widx, m_jidx: Per move, its workers and jobs rows.
        d_jidx, d_sidx: Per decision, its jobs and stages rows.
        runs: Per global task number, how many rows ran it (failed attempts aside).
        failed_runs: Per global task number, how many of its attempts failed.
        s_ran: Per stage row, how many of its tasks ran at least once.
        s_finish: Per stage row, its last task end (failed attempts aside); inf if a task
            never ran (or the row owns no tasks), -inf if it has no tasks.
        tol: Absolute tolerance for time comparisons: 1e-9 of the largest time, at least 1e-9.
    """

    def __init__(self, trace: Trace):
        for name, cols in TABLES.items():
            table = getattr(trace, name)
            missing = [c for c in cols if c not in table]
            if missing:
                raise DataError(f"missing column(s) {', '.join(missing)}", field=name)
            lengths = {len(table[c]) for c in cols}
            if len(lengths) > 1:
                raise DataError(f"columns of unequal length {sorted(lengths)}", field=name)
        self.trace = trace
        self.unit = trace.time_unit
        w, j, s, t, m, d = trace.workers, trace.jobs, trace.stages, trace.tasks, trace.moves, trace.decisions

        self.w_id, self.w_id_ok = _int_column(w["id"])
        self.w_cap = _float_column(w["capacity"])
        self.j_id, self.j_id_ok = _int_column(j["id"])
        self.j_arrival = _float_column(j["arrival"])
        self.j_done = ~_is_none(j["completion"])
        self.j_completion = _float_column(j["completion"])

        # Stages. Distinct stage indices get ranks so that (jobs row, stage index) packs into
        # one int64 key however large the indices are, and pairs are found by binary search.
        self.s_jidx = self._job_rows(s["job"], none=_UNKNOWN)
        stage, self.s_stage_ok = _int_column(s["stage"])
        self._stage_ranks = np.unique(stage[self.s_stage_ok & (self.s_jidx >= 0)])
        self.s_key = self._stage_key(self.s_jidx, stage, self.s_stage_ok)
        self.s_primary = self.s_key >= 0
        self.s_primary[_duplicates(self.s_key, self.s_primary)] = False
        ntasks, self.s_ntasks_ok = _int_column(s["num_tasks"])
        self.s_ntasks_ok &= ntasks >= 0
        self.s_ntasks = np.where(self.s_ntasks_ok, ntasks, 0)
        owned = np.where(self.s_primary, self.s_ntasks, 0)
        self.s_offset = np.concatenate([[0], np.cumsum(owned)]).astype(np.int64)
        self.s_parents_bad = np.array([not isinstance(p, (list, tuple)) for p in s["parents"]], dtype=bool)
        child: list[int] = []
        self.e_value: list = []
        for r, parents in enumerate(s["parents"]):
            if isinstance(parents, (list, tuple)):
                child.extend([r] * len(parents))
                self.e_value.extend(parents)
        self.e_child = np.asarray(child, dtype=np.int64)
        self.e_parent = self._stage_rows(self.s_jidx[self.e_child], self.e_value, none=_UNKNOWN)

        # Tasks.
        self.t_jidx = self._job_rows(t["job"], none=_UNKNOWN)
        self.t_sidx = self._stage_rows(self.t_jidx, t["stage"], none=_UNKNOWN)
        self.t_widx = self._worker_rows(t["worker"])
        task, self.t_task_ok = _int_column(t["task"])
        known = self.t_sidx >= 0
        self.t_task_ok &= known & (task >= 0) & (task < _take(self.s_ntasks, self.t_sidx, 0))
        self.t_gid = np.where(self.t_task_ok, self.s_offset[self.t_sidx] + task, -1)
        self.t_start = _float_column(t["start"])
        self.t_end = _float_column(t["end"])
        # Optional column of a run with faults; a value other than True or False is the
        # faults check's to report, and counts as not failed here.
        failed = t.get("failed")
        if failed is None or len(failed) != self.t_start.size:
            self.t_failed = np.zeros(self.t_start.size, dtype=bool)
        else:
            self.t_failed = np.fromiter((v is True or v is np.True_ for v in failed), dtype=bool, count=len(failed))
        # Optional columns: a task's gang of workers and its setup before ``start``. Rows with
        # an invalid gang or setup (check_gangs reports them) occupy their ``worker`` from
        # ``start``. g_row / g_widx: one entry per (task row, worker of its gang).
        n_tasks = self.t_start.size
        setup = _float_column(t["setup"]) if "setup" in t else np.zeros(n_tasks)
        self.t_setup = np.where(np.isfinite(setup) & (setup >= 0), setup, 0.0)
        gangs = t.get("workers")
        if gangs is None or len(gangs) != n_tasks:
            self.g_row, self.g_widx = np.arange(n_tasks, dtype=np.int64), self.t_widx
        else:
            g_row: list[int] = []
            members: list = []
            for r, gang in enumerate(gangs):
                ok = isinstance(gang, (list, tuple)) and gang and all(_is_int(g) for g in gang)
                if ok and len(set(gang)) == len(gang):
                    g_row.extend([r] * len(gang))
                    members.extend(gang)
                else:
                    g_row.append(r)
                    members.append(t["worker"][r])
            self.g_row = np.asarray(g_row, dtype=np.int64)
            self.g_widx = self._worker_rows(members)
            # A gang naming an unknown worker falls back to the row's worker as well.
            bad = np.zeros(n_tasks, dtype=bool)
            bad[self.g_row[self.g_widx < 0]] = True
            if bad.any():
                keep = ~bad[self.g_row]
                extra = np.flatnonzero(bad)
                self.g_row = np.concatenate([self.g_row[keep], extra])
                self.g_widx = np.concatenate([self.g_widx[keep], self.t_widx[extra]])

        ran = self.t_task_ok & ~self.t_failed
        self.runs = np.bincount(self.t_gid[ran], minlength=int(self.s_offset[-1]))
        self.failed_runs = np.bincount(self.t_gid[self.t_task_ok & self.t_failed], minlength=int(self.s_offset[-1]))
        self.s_offset = self.s_offset[:-1]
        stage_of = np.repeat(np.arange(self.s_key.size), owned)
        self.s_ran = np.bincount(stage_of, weights=self.runs > 0, minlength=self.s_key.size).astype(np.int64)
        last = np.full(self.s_key.size, -np.inf)
        rows = np.flatnonzero(ran & np.isfinite(self.t_end))
        np.maximum.at(last, self.t_sidx[rows], self.t_end[rows])
        self.s_finish = np.where(self.s_primary & (self.s_ran >= self.s_ntasks), last, np.inf)

        # Moves and decisions.
        self.m_widx = self._worker_rows(m["worker"])
        self.m_jidx = self._job_rows(m["job"], none=_UNKNOWN)
        self.m_start = _float_column(m["start"])
        self.m_end = _float_column(m["end"])
        self.d_jidx = self._job_rows(d["job"], none=_NONE)
        # A decision whose job is unknown is reported for its job alone.
        self.d_sidx = np.where(self.d_jidx == _UNKNOWN, _NONE, self._stage_rows(self.d_jidx, d["stage"], none=_NONE))
        self.d_time = _float_column(d["time"])

        scale = 1.0
        for x in (self.j_arrival, self.j_completion, self.t_start, self.t_end, self.m_start, self.m_end, self.d_time):
            finite = np.abs(x[np.isfinite(x)])
            if finite.size:
                scale = max(scale, float(finite.max()))
        self.tol = 1e-9 * scale

    @classmethod
    def of(cls, trace: Trace | TraceArrays) -> TraceArrays:
        """Return ``trace`` itself if already converted, else a new :class:`TraceArrays`."""
        return trace if isinstance(trace, TraceArrays) else cls(trace)

    # Formatting, for messages.

    def t(self, x: float) -> str:
        """A time in the trace's unit, e.g. ``4000.0 ms``."""
        return f"{float(x)!r} {self.unit}"

    def task_id(self, r: int) -> str:
        """Task row ``r`` as ``task (job 3, stage 2, task 5)``."""
        t = self.trace.tasks
        return f"task (job {t['job'][r]}, stage {t['stage'][r]}, task {t['task'][r]})"

    def task(self, r: int) -> str:
        """Task row ``r`` with its worker: ``task (job 3, stage 2, task 5) on worker 7``.

        A task with a gang of several workers reads ``... on workers [2, 3]``.
        """
        gangs = self.trace.tasks.get("workers")
        if gangs is not None and r < len(gangs) and isinstance(gangs[r], (list, tuple)) and len(gangs[r]) > 1:
            return f"{self.task_id(r)} on workers {list(gangs[r])}"
        return f"{self.task_id(r)} on worker {self.trace.tasks['worker'][r]}"

    def move_span(self, r: int) -> str:
        """Move row ``r`` as ``3 (from 10.0 ms to 20.0 ms)``, 3 being the destination job."""
        return f"{self.trace.moves['job'][r]} (from {self.t(self.m_start[r])} to {self.t(self.m_end[r])})"

    # Resolving references.

    def _job_rows(self, values: list, *, none: int) -> np.ndarray:
        ids, ok = _int_column(values)
        return np.where(_is_none(values), none, _lookup(self.j_id, self.j_id_ok, ids, ok))

    def _worker_rows(self, values: list) -> np.ndarray:
        ids, ok = _int_column(values)
        return _lookup(self.w_id, self.w_id_ok, ids, ok)

    def _stage_key(self, jidx: np.ndarray, stage: np.ndarray, ok: np.ndarray) -> np.ndarray:
        ranks = self._stage_ranks
        if ranks.size == 0:
            return np.full(jidx.size, _UNKNOWN, dtype=np.int64)
        pos = np.minimum(np.searchsorted(ranks, stage), ranks.size - 1)
        hit = ok & (jidx >= 0) & (ranks[pos] == stage)
        return np.where(hit, jidx * ranks.size + pos, _UNKNOWN)

    def _stage_rows(self, jidx: np.ndarray, values: list, *, none: int) -> np.ndarray:
        stage, ok = _int_column(values)
        keys = self._stage_key(jidx, stage, ok)
        rows = _lookup(self.s_key, self.s_key >= 0, keys, keys >= 0)
        return np.where(_is_none(values) | (jidx == _NONE), none, rows)


# -- helpers ----------------------------------------------------------------------------------


def _int_column(values: list) -> tuple[np.ndarray, np.ndarray]:
    """``(ints, ok)``: the column as int64 (0 where ``ok`` is False, i.e. not an integer)."""
    try:
        a = np.asarray(values) if len(values) else np.zeros(0, dtype=np.int64)
    except (TypeError, ValueError):  # rows of lists and numbers mixed: a broken trace
        a = np.zeros(0, dtype=object)
    if a.dtype.kind in "iu" and a.ndim == 1:
        # The common case, one C-level conversion; per-row Python below is only for the
        # rows of a trace that is already broken.
        return a.astype(np.int64, copy=False), np.ones(a.size, dtype=bool)
    ok = np.array([_is_int(v) for v in values], dtype=bool)
    ints = np.array([int(v) if k else 0 for v, k in zip(values, ok, strict=True)], dtype=np.int64)
    return ints, ok


def _take(values: np.ndarray, rows: np.ndarray, fill: int) -> np.ndarray:
    """``values[rows]``, with ``fill`` where a row is negative (unresolved)."""
    out = np.full(rows.size, fill, dtype=values.dtype)
    known = rows >= 0
    out[known] = values[rows[known]]
    return out


def _is_int(v: Any) -> bool:
    """An integer id an int64 column holds (ids beyond it are not this trace's, only damage)."""
    if isinstance(v, bool):
        return False
    if isinstance(v, (int, np.integer)):
        return -(2**63) <= int(v) < 2**63
    return isinstance(v, (float, np.floating)) and float(v).is_integer() and abs(float(v)) < 2**63


def _float_column(values: list) -> np.ndarray:
    """The column as float64; ``None`` and anything that is not a number become NaN."""
    try:
        a = np.asarray(values, dtype=np.float64)
        if a.ndim == 1:
            return a
    except (TypeError, ValueError):
        pass
    return np.array([_to_float(v) for v in values], dtype=np.float64)


def _to_float(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        return float("nan")
    return float(v)


def _is_none(values: list) -> np.ndarray:
    # map() over operator.is_ runs in C: a third faster than a generator on a 240k-row column.
    return np.fromiter(map(operator.is_, values, itertools.repeat(None)), dtype=bool, count=len(values))


def _lookup(keys: np.ndarray, keys_ok: np.ndarray, query: np.ndarray, query_ok: np.ndarray) -> np.ndarray:
    """Row of each query in ``keys`` (the first row among duplicates), -1 if absent."""
    rows = np.flatnonzero(keys_ok)
    out = np.full(query.size, _UNKNOWN, dtype=np.int64)
    if rows.size == 0 or query.size == 0:
        return out
    order = rows[np.argsort(keys[rows], kind="stable")]
    sorted_keys = keys[order]
    pos = np.minimum(np.searchsorted(sorted_keys, query), sorted_keys.size - 1)
    hit = query_ok & (sorted_keys[pos] == query)
    out[hit] = order[pos[hit]]
    return out


def _duplicates(keys: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Rows (with ``ok``) whose key already appeared in an earlier row."""
    rows = np.flatnonzero(ok)
    order = rows[np.argsort(keys[rows], kind="stable")]
    repeat = np.zeros(order.size, dtype=bool)
    repeat[1:] = keys[order[1:]] == keys[order[:-1]]
    return np.sort(order[repeat])


def _interval_codes(start: np.ndarray, end: np.ndarray, tol: float) -> np.ndarray:
    """Per row, the first problem of an interval; 0 when there is none.

    Codes: 1 start not finite, 2 end not finite, 3 start negative, 4 start after end.
    """
    code = np.zeros(start.size, dtype=np.int8)
    fs, fe = np.isfinite(start), np.isfinite(end)
    code[~fs] = 1
    code[(code == 0) & ~fe] = 2
    with np.errstate(invalid="ignore"):
        code[(code == 0) & (start < -tol)] = 3
        code[(code == 0) & (start > end + tol)] = 4
    return code


def _interval_message(
    a: TraceArrays,
    code: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    what: Callable[[int], str],
    names: tuple[str, str, str, str],
) -> Callable[[int], str]:
    start_name, end_name, starts, ends = names

    def message(r: int) -> str:
        c = code[r]
        if c == 1:
            return f"{what(r)} has a non-finite {start_name} ({float(start[r])!r})"
        if c == 2:
            return f"{what(r)} has a non-finite {end_name} ({float(end[r])!r})"
        if c == 3:
            return f"{what(r)} {starts} at negative time {a.t(start[r])}"
        return f"{what(r)} {ends} at {a.t(end[r])}, before it {starts} at {a.t(start[r])}"

    return message


def _listing(items: list[str], most: int = 3) -> str:
    if len(items) <= most:
        return " and ".join([", ".join(items[:-1]), items[-1]]) if len(items) > 1 else "".join(items)
    return f"{', '.join(items[:most])} and {len(items) - most} more"
