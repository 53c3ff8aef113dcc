"""The gpu family's trace checks: gangs on consecutive GPUs, valid setup (model switch) times."""

from __future__ import annotations

import numpy as np

from schedlab.metrics.checker import TraceArrays, Violation, ViolationList, _float_column, _is_int
from schedlab.sim.trace import Trace

__all__ = ["check_gangs"]


def check_gangs(trace: Trace | TraceArrays, *, limit: int | None = None) -> list[Violation]:
    """Gangs are consecutive workers, and setup times are valid (the gpu family's rules).

    Where the tasks table has a ``workers`` column, each entry is a non-empty list of distinct,
    known worker ids whose first is the row's ``worker``, and the ids are consecutive and
    ascending (a model on k GPUs runs on k consecutive GPUs). Where it has a ``setup``
    column, each value is a finite non-negative number and the setup does not begin before
    time 0. A row whose gang or setup is invalid occupies only its ``worker`` from ``start``
    in :func:`check_capacity`, so the fault is reported here alone.

    Args:
        trace: The trace to check.
        limit: Most messages to format (``None``: all); the count is in ``.total``.

    Returns:
        A :class:`ViolationList`.
    """
    a = TraceArrays.of(trace)
    out = ViolationList("gangs", limit)
    t = a.trace.tasks
    gangs = t.get("workers")
    if gangs is not None:
        known = {int(w) for w, ok in zip(a.w_id, a.w_id_ok) if ok}

        def problem(r: int) -> str | None:
            gang = gangs[r]
            if not isinstance(gang, (list, tuple)) or not gang or not all(_is_int(g) for g in gang):
                return f"has workers {gang!r}, expected a non-empty list of worker ids"
            ids = [int(g) for g in gang]
            unknown = [g for g in ids if g not in known]
            if unknown:
                return f"lists unknown worker(s) {', '.join(map(str, unknown))}"
            if len(set(ids)) < len(ids):
                return f"lists a worker twice in {ids}"
            if not _is_int(t["worker"][r]) or ids[0] != int(t["worker"][r]):
                return f"has workers {ids} but worker {t['worker'][r]!r} (expected the gang's first)"
            if any(b != c + 1 for c, b in zip(ids, ids[1:])):
                return f"runs on workers {ids}, which are not consecutive ascending ids"
            return None

        found = [(r, m) for r in range(len(gangs)) if (m := problem(r)) is not None]
        messages = dict(found)
        out.add_rows([r for r, _ in found], lambda r: f"{a.task_id(r)} {messages[r]}")
    if "setup" in t:
        raw = _float_column(t["setup"])
        bad = ~(np.isfinite(raw) & (raw >= 0))
        out.add_rows(
            np.flatnonzero(bad),
            lambda r: f"{a.task_id(r)} has setup {t['setup'][r]!r}, expected a finite non-negative number",
        )
        with np.errstate(invalid="ignore"):
            early = ~bad & np.isfinite(a.t_start) & (a.t_start - raw < -a.tol)
        out.add_rows(
            np.flatnonzero(early),
            lambda r: f"{a.task(r)} starts at {a.t(a.t_start[r])} after a setup of {a.t(raw[r])}, from negative time",
        )
    return out
