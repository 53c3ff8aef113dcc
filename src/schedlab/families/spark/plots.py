"""How spark traces are drawn: tasks of runnable stages as the waiting series.

Plot hooks of the spark family (see :class:`schedlab.plugins.PlotHooks`), used by
:mod:`schedlab.report.plots`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from schedlab.sim.trace import Trace

__all__ = ["waiting_series"]


def waiting_series(trace: Trace, t_end: float) -> tuple[list[tuple[str, np.ndarray, np.ndarray]], str]:
    """Tasks of stages whose parents all completed, until they start (even in a trace without DAG edges)."""
    from schedlab.report.plots import stage_waits

    s, e = stage_waits(trace, t_end)
    return [("runnable tasks", s, e)], "tasks of runnable stages not yet started"
