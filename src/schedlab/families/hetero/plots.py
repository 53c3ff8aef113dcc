"""How hetero traces are drawn: Gantt rows labelled with the node names.

Plot hooks of the hetero family (see :class:`schedlab.plugins.PlotHooks`), used by
:mod:`schedlab.report.plots`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from schedlab.sim.trace import Trace

__all__ = ["worker_labels"]


def worker_labels(trace: Trace) -> list[str] | None:
    """The node names (``extra["hetero_nodes"]``); None when the trace lacks one per node."""
    names = (trace.extra.get("hetero_nodes") or {}).get("name") or []
    if len(names) != len(trace.workers["id"]):
        return None
    return [str(x) for x in names]
