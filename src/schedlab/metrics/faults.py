"""What the faults of a run did, counted from its trace alone (docs/faults.md)."""

from __future__ import annotations

from schedlab.sim.trace import Trace

__all__ = ["fault_summary"]


def fault_summary(trace: Trace) -> dict[str, int]:
    """Failures, lost attempts, re-executions and stragglers of a run.

    Args:
        trace: A run's trace; one without faults counts zeros.

    Returns:
        ``faults``: worker failures (``extra.failures`` rows); ``lost_tasks``: those that cut a
        task attempt short; ``reexecutions``: task attempts beyond each task's first (every
        lost attempt is followed by one, if the lost task ran again); ``stragglers``: slowed
        attempts (``extra.stragglers`` rows).
    """
    failures = trace.extra.get("failures") or {}
    stragglers = trace.extra.get("stragglers") or {}
    t = trace.tasks
    attempts = len(t["job"])
    distinct = len(set(zip(t["job"], t["stage"], t["task"])))
    return {
        "faults": len(failures.get("time", [])),
        "lost_tasks": sum(j is not None for j in failures.get("job", [])),
        "reexecutions": attempts - distinct,
        "stragglers": len(stragglers.get("job", [])),
    }
