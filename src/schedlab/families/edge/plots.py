"""How edge traces are drawn: sampled queues per node, waiting after the network delay, node state.

Plot hooks of the edge family (see :class:`schedlab.plugins.PlotHooks`), used by
:mod:`schedlab.report.plots`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from schedlab.errors import ConfigError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from schedlab.sim.trace import Trace

__all__ = ["queue_samples", "waiting_series", "node_state", "figures"]

_MAX_LEGEND = 12  # nodes named in a legend, per column of the node-state figure's legend


def queue_samples(trace: Trace) -> tuple[list[tuple[str, np.ndarray, np.ndarray]], str, str] | None:
    """Per node, the requests there, waiting or in service, as sampled (``extra["samples"]``)."""
    samples = trace.extra.get("samples")
    if not (samples and samples.get("time") and samples.get("queue")):
        return None
    time = np.asarray(samples["time"], dtype=np.float64)
    node = np.asarray(samples["node"])
    q = np.asarray(samples["queue"], dtype=np.float64)
    lines = []
    for nd in dict.fromkeys(node.tolist()):
        mask = node == nd
        lines.append((f"node {nd}", time[mask], q[mask]))
    return lines, "requests at each node, waiting or in service (sampled)", "requests at node"


def waiting_series(trace: Trace, t_end: float) -> tuple[list[tuple[str, np.ndarray, np.ndarray]], str]:
    """Without samples: the requests that reached a node (arrival plus network delay), not yet in service."""
    from schedlab.report.plots import arrival_waits

    shift = dict(zip(trace.jobs["id"], trace.jobs["delay"])) if "delay" in trace.jobs else {}
    begin, start, _never, never_at = arrival_waits(trace, shift)
    s = np.concatenate([begin, never_at])
    e = np.concatenate([start, np.full(never_at.size, t_end)])
    return [("requests", s, e)], "requests at a node, not yet in service"


def node_state(trace: Trace) -> Figure:
    """The sampled state of every edge node: cpu, mem, delay and load, one panel each.

    Args:
        trace: An edge trace with node samples (``trace.extra["samples"]``, columns
            :data:`schedlab.families.edge.model.SAMPLE_COLUMNS`).

    Returns:
        Four stacked panels sharing the time axis, one line per node in each.

    Raises:
        ConfigError: The trace is not of the edge family, or has no node samples (a
            ``ValueError``).
    """
    from schedlab.families.edge.model import SAMPLE_COLUMNS
    from schedlab.report.plots import new_figure, palette, run_label, time_axis

    if trace.family != "edge":
        raise ConfigError(f"node state is drawn for edge traces only, got a {trace.family!r} trace", field="family")
    s: dict[str, Any] = trace.extra.get("samples") or {}
    missing = [c for c in SAMPLE_COLUMNS if not isinstance(s.get(c), list)]
    if missing or not s["time"]:
        why = f"missing column(s) {', '.join(missing)}" if missing else "no rows"
        raise ConfigError(f"the trace has no node samples ({why})", field="extra.samples")
    scale, unit = time_axis(trace)
    time, node = np.asarray(s["time"], dtype=np.float64) * scale, np.asarray(s["node"])
    nodes = list(dict.fromkeys(node.tolist()))
    masks = [node == nd for nd in nodes]
    colors = palette()
    fig = new_figure(height=7.0)
    axes = fig.subplots(4, 1, sharex=True)
    panels = (
        ("cpu", "cpu (cores)"),
        ("mem", "mem (GB)"),
        ("delay", "delay (ms)"),
        ("load", "load (0-1)"),
    )
    for ax, (col, label) in zip(axes, panels):
        v = np.asarray(s[col], dtype=np.float64)
        for k, (nd, mask) in enumerate(zip(nodes, masks)):
            ax.plot(time[mask], v[mask], linewidth=0.7, color=colors[k % len(colors)], label=f"node {nd}")
        ax.set_ylabel(label)
        ax.grid(color="0.9", linewidth=0.6)
        ax.set_axisbelow(True)
    axes[0].set_xlim(float(time.min()), float(time.max()) if time.max() > time.min() else float(time.min()) + 1.0)
    axes[-1].set_xlabel(f"time ({unit})")
    axes[0].set_title(f"Edge node state: {run_label(trace)}\n{len(nodes)} nodes, sampled", fontsize=10)
    if len(nodes) <= 2 * _MAX_LEGEND:
        fig.legend(*axes[0].get_legend_handles_labels(), loc="outside right upper", fontsize=8, frameon=False)
    return fig


def figures(trace: Trace) -> dict[str, Figure]:
    """``edge_node_state`` when the trace has node samples."""
    if (trace.extra.get("samples") or {}).get("time"):
        return {"edge_node_state": node_state(trace)}
    return {}
