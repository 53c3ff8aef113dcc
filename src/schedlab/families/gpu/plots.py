"""How gpu traces are drawn: ready nodes as the waiting series, request names in the legend.

Plot hooks of the gpu family (see :class:`schedlab.plugins.PlotHooks`), used by
:mod:`schedlab.report.plots`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from schedlab.sim.trace import Trace

__all__ = ["job_names", "waiting_series"]


def job_names(trace: Trace) -> dict[Any, str]:
    """Request id -> the request's name."""
    return dict(zip(trace.jobs["id"], trace.jobs["name"]))


def waiting_series(trace: Trace, t_end: float) -> tuple[list[tuple[str, np.ndarray, np.ndarray]], str] | None:
    """Ready nodes (the ``ready`` column) until their gang is dispatched (``start - setup``).

    None for a trace without the ``ready`` column (the generic rule applies).
    """
    t = trace.tasks
    if t.get("ready") is None:
        return None
    start = np.asarray(t["start"], dtype=np.float64)
    ready = np.asarray([math.nan if r is None else r for r in t["ready"]], dtype=np.float64)
    dispatch = start - np.asarray(t.get("setup") or [0.0] * start.size, dtype=np.float64)
    ok = np.isfinite(ready)
    return [("ready nodes", ready[ok], dispatch[ok])], "ready nodes not yet dispatched to GPUs"
