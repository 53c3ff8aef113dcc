"""Figures of runs: Gantt charts, utilization, queues, CDFs and comparison bars.

Every function builds a :class:`matplotlib.figure.Figure` through matplotlib's object API (no
pyplot, no global state), so it works headless and in any thread; :func:`save_figure`,
:func:`figure_to_svg` and :func:`figure_to_png_base64` render it. The figures read a trace's
tables alone (see :mod:`schedlab.sim.trace`), so they draw any trace on disk, whatever
scheduler wrote it.

Nothing here knows a family: what a family calls its workers, jobs and waiting items, its
display unit, row labels, waiting series and extra figures come from its plot hooks
(:class:`schedlab.plugins.PlotHooks`, found by the trace's family); a trace of a family not
registered gets the generic defaults. The helpers at the end of this module
(:func:`time_axis`, :func:`new_figure`, :func:`palette`, :func:`run_label`,
:func:`worker_rows`, :func:`arrival_waits`, :func:`stage_waits`) are for those hooks.

Time axes are in the trace's unit (:attr:`~schedlab.sim.trace.Trace.time_unit`), unless the
family names a display unit (spark traces, recorded in ms over runs of many minutes, are shown
in seconds). Figures are 8 in wide at 100 dpi, about 3.5 in high (taller for Gantt charts of
many workers), so they fit an HTML page.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Mapping, Sequence
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib import colormaps, rc_context
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from schedlab import plugins
from schedlab.errors import ConfigError
from schedlab.plugins import PlotHooks

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from schedlab.sim.trace import Trace

__all__ = [
    # figures of one run
    "gantt",
    "utilization",
    "queue_lengths",
    "trace_figures",
    # figures of many runs
    "completion_cdf",
    "comparison_bars",
    # output
    "save_figure",
    "figure_to_svg",
    "figure_to_png_base64",
]

WIDTH_IN = 8.0
HEIGHT_IN = 3.5
DPI = 100

_SECONDS = {"ms": 1e-3, "s": 1.0}
_BAR_HEIGHT = 0.8  # of a worker's row in a Gantt chart
_MAX_YTICKS = 25
_MAX_LEGEND = 12  # entries of a per-job or per-line legend; beyond, colours go unnamed
# Collections with more items than this are rasterized in vector output: an SVG with a path
# per task of a 100k-task Gantt chart would weigh tens of MB; axes and text stay vectors.
_RASTERIZE_OVER = 1000
# Grey segments: switch/setup of a gpu gang, moving delay of a spark executor.
_SWITCH_STYLE = {"facecolor": "#b8b8b8", "edgecolor": "#505050", "hatch": "////"}
_LOAD_STYLE = {"facecolor": "#e0e0e0", "edgecolor": "#707070", "hatch": "...."}
_HATCH_MAX = 300  # segments drawn hatched; more are drawn solid (see _add_segments)
_MOVE_STYLE = {"facecolor": "#a8a8a8", "edgecolor": "#404040", "hatch": "xxxx"}


# -- figures of one run -----------------------------------------------------------------------


def gantt(trace: Trace, *, max_tasks: int = 20000) -> Figure:
    """Gantt chart: one row per worker, each task a bar coloured by its job.

    A gang (a task of a gpu trace on the consecutive GPUs of its ``workers`` column) is one bar
    across all its rows. Grey hatched segments show the time a gang spent switching or loading
    its model before ``start`` (the ``setup`` column) and the moving delays of spark executors
    (the ``moves`` table). Bars are polygon collections, so 100k tasks draw in a second or two.

    Args:
        trace: The run to draw.
        max_tasks: Draw at most this many tasks, the first by start time; the title says when
            some were left out (and moves starting after the last drawn task are left out too).

    Returns:
        The figure; its task bars are the collection with gid ``"gantt-tasks"``, one polygon
        per task drawn (a gang spans its rows), the grey segments those with gids
        ``"gantt-switch"``, ``"gantt-load"`` (gpu) and ``"gantt-moves"`` (spark).

    Raises:
        ConfigError: ``max_tasks`` is below 1 (a ``ValueError``).
    """
    if max_tasks < 1:
        raise ConfigError(f"max_tasks must be at least 1, got {max_tasks}", field="max_tasks")
    scale, unit = _time_axis(trace)
    rows, labels = _worker_rows(trace)
    t = trace.tasks
    start, end = _floats(t["start"]), _floats(t["end"])
    n = start.size
    order = np.argsort(start, kind="stable")[:max_tasks]
    drawn = order.size
    gangs = t.get("workers")
    seg, lo, hi = _task_rows(t["worker"], gangs, order, rows)
    task_of = order[seg]

    fig = _figure(height=min(6.5, max(HEIGHT_IN, 1.3 + 0.09 * len(labels))))
    ax = fig.add_subplot()
    half = _BAR_HEIGHT / 2
    y0, y1 = lo - half, hi + half
    codes = _job_codes(t["job"])
    palette = _palette()
    colors = palette[codes[task_of] % len(palette)] if drawn else np.zeros((0, 3))
    few = drawn <= 2000
    bars = PolyCollection(
        _rects(start[task_of] * scale, end[task_of] * scale, y0, y1),
        facecolors=colors,
        edgecolors="white" if few else "none",
        linewidths=0.4 if few else 0.0,
    )
    _add(ax, bars, "gantt-tasks")
    handles: list[Patch] = []
    first: dict[Any, int] = {}  # job -> its first task drawn, for up to 11 jobs
    for i in order.tolist():
        first.setdefault(t["job"][i], i)
        if len(first) > 10:
            break
    hooks = _hooks(trace)
    noun = hooks.job
    if len(first) <= 10:
        job_names = _hook(hooks, "job_names")
        names = (job_names(trace) if job_names else None) or {}
        for j, i in first.items():
            handles.append(Patch(facecolor=palette[codes[i] % len(palette)], label=f"{noun} {names.get(j, j)}"))
    else:
        handles.append(Patch(facecolor=palette[0], label=f"tasks (colour: {noun})"))

    x_hi = float(end[order].max()) * scale if drawn else 0.0
    x_lo = min(0.0, float(start[order].min()) * scale) if drawn else 0.0
    if t.get("model") is not None and 0 < drawn <= 300:
        _label_bars(ax, t["model"], task_of, start * scale, end * scale, (lo + hi) / 2, x_hi - x_lo)
    setup = t.get("setup")
    if setup is not None and drawn:
        s = _floats(setup)[task_of]
        has = s > 0
        switch = _switched(t, task_of)
        for name, mask, style, label in (
            ("gantt-switch", has & switch, _SWITCH_STYLE, "model switch (setup)"),
            ("gantt-load", has & ~switch, _LOAD_STYLE, "model load (setup)"),
        ):
            if mask.any():
                st = start[task_of][mask]
                verts = _rects((st - s[mask]) * scale, st * scale, y0[mask], y1[mask])
                handles.append(_add_segments(ax, verts, style, name, label))
                x_lo = min(x_lo, float((st - s[mask]).min()) * scale)
    m = trace.moves
    if m["start"]:
        ms, me = _floats(m["start"]), _floats(m["end"])
        keep = np.ones(ms.size, dtype=bool)
        if drawn < n:
            keep = ms <= start[order[-1]]
        mrows = np.asarray([rows[w] for w in m["worker"]], dtype=np.float64)[keep]
        if keep.any():
            verts = _rects(ms[keep] * scale, me[keep] * scale, mrows - half, mrows + half)
            handles.append(_add_segments(ax, verts, _MOVE_STYLE, "gantt-moves", "moving delay"))
            x_hi = max(x_hi, float(me[keep].max()) * scale)

    worker = hooks.worker
    if x_hi <= x_lo:
        x_hi = x_lo + 1.0
        ax.text(0.5, 0.5, "no tasks", transform=ax.transAxes, ha="center", va="center", color="0.4")
    pad = 0.01 * (x_hi - x_lo)
    ax.set_xlim(x_lo - pad, x_hi + pad)
    ax.set_ylim(len(labels) - 0.5, -0.5)
    _thin_yticks(ax, labels)
    ax.set_xlabel(f"time ({unit})")
    ax.set_ylabel(hooks.gantt_ylabel or worker)
    title = f"Gantt chart: {_run_label(trace)}"
    note = f"first {drawn:,} of {n:,} tasks by start time" if drawn < n else f"{n:,} tasks"
    ax.set_title(f"{title}\n{note} on {len(labels)} {worker}s", fontsize=10)
    ax.grid(axis="x", color="0.9", linewidth=0.6)
    ax.set_axisbelow(True)
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=8, frameon=False)
    return fig


def utilization(trace: Trace, *, bins: int = 200) -> Figure:
    """Share of the workers busy over time, averaged over equal time bins.

    Busy means executing a task; a gang counts every GPU it uses. The span runs from the first
    arrival to the last task end or completion (the makespan of the summary metrics), so the
    mean of the bins equals ``executor_utilization`` of :func:`schedlab.metrics.summary.summarize`.
    gpu traces add a dashed line that also counts model switching and loading (as
    ``gpu_utilization`` does); spark traces a dotted line of executors moving between jobs.

    Args:
        trace: The run to draw.
        bins: Number of time bins.

    Returns:
        The figure; the executing line is the first ``StepPatch`` of its axes.

    Raises:
        ConfigError: ``bins`` is below 1 (a ``ValueError``).
    """
    scale, unit, edges = _time_bins(trace, bins)
    t = trace.tasks
    start, end = _floats(t["start"]), _floats(t["end"])
    width = _gang_sizes(t)
    cap = float(_floats(trace.workers["capacity"]).sum()) or float(max(1, len(trace.workers["id"])))
    worker = _hooks(trace).worker

    fig = _figure()
    ax = fig.add_subplot()
    busy = _share(_mean_count(start, end, width, edges), cap)
    ax.stairs(busy, edges * scale, color="C0", linewidth=1.2, label="executing")
    mean = float(((end - start) * width).sum() / (cap * (edges[-1] - edges[0]))) if start.size else 0.0
    if t.get("setup") is not None and start.size:
        setup = _floats(t["setup"])
        with_setup = _share(_mean_count(start - setup, end, width, edges), cap)
        ax.stairs(with_setup, edges * scale, color="C1", linewidth=1.0, linestyle="--", label="incl. model switch/load")
    if trace.moves["start"]:
        ms, me = _floats(trace.moves["start"]), _floats(trace.moves["end"])
        moving = _share(_mean_count(ms, me, np.ones(ms.size), edges), cap)
        ax.stairs(moving, edges * scale, color="0.45", linewidth=1.0, linestyle=":", label="moving")
    ax.set_ylim(0.0, 1.05)
    ax.set_xlim(edges[0] * scale, edges[-1] * scale)
    ax.set_xlabel(f"time ({unit})")
    ax.set_ylabel(f"share of {worker}s busy")
    ax.set_title(f"Utilization: {_run_label(trace)}\nmean {mean:.1%} over {bins} bins", fontsize=10)
    ax.grid(color="0.9", linewidth=0.6)
    ax.set_axisbelow(True)
    if len(ax.patches) > 1:
        ax.legend(loc="upper right", fontsize=8)
    return fig


def queue_lengths(trace: Trace, *, bins: int = 200) -> Figure:
    """Tasks (or requests) waiting over time: arrived or ready, not yet started.

    What waits is the family's to say (see :class:`schedlab.plugins.PlotHooks`): queue
    lengths the trace sampled (``queue_samples``, drawn as they are), else the family's waiting
    series (``waiting_series``), else the generic rule: in a trace with DAG stages, the tasks
    of stages whose parents all completed (ready at the job's arrival or the last parent
    task's end), until they start, tasks never launched waiting to the end (see
    :func:`stage_waits`); otherwise the tasks arrived and not yet started. Waiting counts are
    averaged over equal time bins.

    Args:
        trace: The run to draw.
        bins: Number of time bins.

    Returns:
        The figure: one ``StepPatch`` per series (or one line per sampled queue).

    Raises:
        ConfigError: ``bins`` is below 1 (a ``ValueError``).
    """
    scale, unit, edges = _time_bins(trace, bins)
    fig = _figure()
    ax = fig.add_subplot()
    colors = _palette()
    hooks = _hooks(trace)
    sampled = _hook(hooks, "queue_samples")
    got = sampled(trace) if sampled else None
    if got is not None:
        lines, what, ylabel = got
        for k, (label, time, q) in enumerate(lines):
            ax.plot(
                _floats(time) * scale,
                _floats(q),
                drawstyle="steps-post",
                linewidth=0.8,
                color=colors[k % len(colors)],
                label=label,
            )
    else:
        series, what = _waiting(trace, edges[-1])
        for k, (label, s, e) in enumerate(series):
            counts = _mean_count(s, e, np.ones(s.size), edges)
            ax.stairs(counts, edges * scale, color=colors[k % len(colors)] if len(series) > 1 else "C0", label=label)
        ylabel = f"waiting {hooks.waiting} (bin mean)"
    ax.set_xlim(edges[0] * scale, edges[-1] * scale)
    ax.set_ylim(bottom=0.0)
    ax.set_xlabel(f"time ({unit})")
    ax.set_ylabel(ylabel)
    ax.set_title(f"Queue lengths: {_run_label(trace)}\n{what}", fontsize=10)
    ax.grid(color="0.9", linewidth=0.6)
    ax.set_axisbelow(True)
    n_series = len(ax.lines) + len(ax.patches)
    if 1 < n_series <= _MAX_LEGEND:
        ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=8, frameon=False)
    return fig


def trace_figures(trace: Trace) -> dict[str, Figure]:
    """The figures that apply to a trace, keyed by a short name that is safe in a file name.

    Returns:
        ``gantt``, ``utilization`` and ``queue_lengths``, then the family's own figures (its
        ``figures`` plot hook: edge traces with node samples add ``edge_node_state``).
    """
    figs = {"gantt": gantt(trace), "utilization": utilization(trace), "queue_lengths": queue_lengths(trace)}
    more = _hook(_hooks(trace), "figures")
    if more is not None:
        figs.update(more(trace))
    return figs


# -- figures of many runs ---------------------------------------------------------------------


def completion_cdf(samples: Mapping[str, Sequence[float]], *, unit: str, what: str = "job completion time") -> Figure:
    """Empirical CDF of a time per scheduler, as steps.

    Args:
        samples: Scheduler -> the values (e.g. the JCTs of all its runs); None and NaN values
            are left out.
        unit: Unit of the values, for the x label (e.g. ``"s"``).
        what: What the values are, for the labels.

    Returns:
        The figure: per scheduler with values, one line of ``n + 1`` points running from 0 to 1
        (a step at each value), in the order of ``samples``.
    """
    fig = _figure()
    ax = fig.add_subplot()
    palette = colormaps["tab10"].colors
    drawn = 0
    for k, (name, values) in enumerate(samples.items()):
        x = np.sort(np.asarray([v for v in values if v is not None], dtype=np.float64))
        x = x[np.isfinite(x)]
        if not x.size:
            continue
        y = np.arange(x.size + 1, dtype=np.float64) / x.size
        ax.plot(
            np.concatenate([x[:1], x]), y, drawstyle="steps-post", color=palette[k % 10], label=f"{name} (n={x.size})"
        )
        drawn += 1
    if not drawn:
        ax.text(0.5, 0.5, "no values", transform=ax.transAxes, ha="center", va="center", color="0.4")
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel(f"{what} ({unit})")
    ax.set_ylabel("fraction at most x")
    ax.set_title(f"CDF of {what}", fontsize=10)
    ax.grid(color="0.9", linewidth=0.6)
    ax.set_axisbelow(True)
    if drawn:
        ax.legend(loc="lower right", fontsize=8)
    return fig


def comparison_bars(
    summary: Mapping[str, Mapping[str, tuple[float | None, float | None]]], metric: str, *, label: str | None = None
) -> Figure:
    """One bar per scheduler: the mean of a metric, with its 95% confidence interval.

    Args:
        summary: Scheduler -> metric -> ``(mean, CI half-width)``, as one scenario's entry of
            :func:`schedlab.runs.compare.summarize_grid`. A missing metric or None mean draws no bar
            (marked "n/a"); a None or NaN half-width draws no error bar.
        metric: The metric key.
        label: Axis label; defaults to the metric's label in
            :data:`schedlab.metrics.summary.METRIC_INFO` (else the key). The title says which
            way is better, unless the metric has no better direction.

    Returns:
        The figure: one bar per scheduler (NaN height where there is no mean), in the order of
        ``summary``, each tick labelled with the name and ``mean ± half-width``; error bars only
        where the half-width is finite.

    Raises:
        ConfigError: No scheduler has a value for ``metric`` (a ``ValueError``).
    """
    from schedlab.metrics.summary import metric_info

    names = list(summary)
    pairs = [tuple(summary[s].get(metric) or (None, None)) for s in names]
    mean = np.array([_num(m) for m, _ in pairs], dtype=np.float64)
    half = np.array([_num(h) for _, h in pairs], dtype=np.float64)
    if not np.isfinite(mean).any():
        known = sorted({k for per in summary.values() for k in per})
        raise ConfigError(
            f"no scheduler has a value for metric {metric!r}; known: {', '.join(known) or 'none'}", field="metric"
        )
    info = metric_info(metric)
    label = label or info.label
    fig = _figure()
    ax = fig.add_subplot()
    x = np.arange(len(names))
    palette = colormaps["tab10"].colors
    ax.bar(x, mean, color=[palette[k % 10] for k in range(len(names))], width=0.6)
    ok = np.isfinite(half) & np.isfinite(mean)
    if ok.any():
        ax.errorbar(x[ok], mean[ok], yerr=half[ok], fmt="none", ecolor="black", elinewidth=1.0, capsize=4)
    # Values go under the names rather than over the bars, where error bars would cross them.
    ticks = [f"{name}\n{_value_text(m, h)}" for name, m, h in zip(names, mean, half)]
    long = len(names) > 5 or max(map(len, names), default=0) > 12
    ax.set_xticks(x, ticks, rotation=20 if long else 0, ha="right" if long else "center", fontsize=9)
    ax.set_ylabel(label)
    better = {"lower": " (lower is better)", "higher": " (higher is better)"}.get(info.direction, "")
    ax.set_title(f"{label}: mean and 95% CI{better}", fontsize=10)
    ax.margins(y=0.12)
    ax.grid(axis="y", color="0.9", linewidth=0.6)
    ax.set_axisbelow(True)
    return fig


# -- output -----------------------------------------------------------------------------------


def save_figure(fig: Figure, stem: str | Path, *, formats: Sequence[str] = ("png", "svg")) -> list[Path]:
    """Write a figure as ``stem.png`` and ``stem.svg``, each whole or not at all.

    Args:
        fig: The figure.
        stem: Path without the extension (its folder is created).
        formats: Which files to write, out of ``png`` and ``svg``.

    Returns:
        The paths written, in the order of ``formats``.

    Raises:
        ConfigError: An unknown format.
    """
    from schedlab.sim.io import write_atomic

    stem = Path(stem)
    for f in formats:
        if f not in ("png", "svg"):
            raise ConfigError(f"unknown figure format {f!r}, expected png or svg", field="--format")
    paths = []
    for f in formats:
        p = stem.with_name(f"{stem.name}.{f}")
        write_atomic(p, _render(fig, f))
        paths.append(p)
    return paths


def figure_to_svg(fig: Figure) -> str:
    """The figure as an inline ``<svg>`` element (no XML declaration), to put in an HTML page."""
    text = _render(fig, "svg").decode("utf-8")
    return text[text.index("<svg") :]


def figure_to_png_base64(fig: Figure) -> str:
    """The figure as a PNG in base64 (ASCII, no ``data:`` prefix), for an ``<img src="data:...">``."""
    return base64.b64encode(_render(fig, "png")).decode("ascii")


def _render(fig: Figure, fmt: str) -> bytes:
    buf = io.BytesIO()
    if fmt == "svg":
        # A fixed salt makes the element ids, and so the file, the same on every run; no date.
        with rc_context({"svg.hashsalt": "schedlab"}):
            fig.savefig(buf, format="svg", metadata={"Date": None})
    else:
        fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


# -- helpers ----------------------------------------------------------------------------------


def _figure(height: float = HEIGHT_IN) -> Figure:
    return Figure(figsize=(WIDTH_IN, height), dpi=DPI, layout="constrained")


def _floats(values: Any) -> np.ndarray:
    return np.asarray(values if values is not None else [], dtype=np.float64)


def _num(v: Any) -> float:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else math.nan


def _value_text(mean: float, half: float) -> str:
    if not math.isfinite(mean):
        return "n/a"
    if not math.isfinite(half) or half == 0:
        # No interval (one seed), or the same value in every seed: a number, not a statistic.
        return _short(mean)
    a = abs(mean)
    if a != 0 and (a >= 1e5 or a < 1e-3):
        return f"{mean:.3g} ± {half:.2g}"
    decimals = 0 if a >= 1000 else 1 if a >= 10 else 2 if a >= 0.1 else 3
    return f"{mean:.{decimals}f} ± {half:.{decimals}f}"  # both sides to the same decimals


def _short(v: float) -> str:
    a = abs(v)
    if a != 0 and (a >= 1e5 or a < 1e-2):
        return f"{v:.3g}"
    return f"{v:.0f}" if a >= 1000 else f"{v:.1f}" if a >= 10 else f"{v:.2f}" if a >= 1 else f"{v:.3f}"


def _time_bins(trace, bins: int) -> tuple[float, str, np.ndarray]:
    """The time axis (scale, unit) and ``bins`` equal bins over the run's span, in trace units."""
    _check_bins(bins)
    scale, unit = _time_axis(trace)
    t0, t1 = _horizon(trace)
    return scale, unit, np.linspace(t0, t1, bins + 1)


def _check_bins(bins: int) -> None:
    if bins < 1:
        raise ConfigError(f"bins must be at least 1, got {bins}", field="bins")


def _time_axis(trace: Trace) -> tuple[float, str]:
    """Factor from trace times to displayed times, and the displayed unit."""
    unit = _hooks(trace).display_unit or trace.time_unit
    return _SECONDS[trace.time_unit] / _SECONDS[unit], unit


def _hooks(trace: Trace) -> PlotHooks:
    """The plot hooks of the trace's family; the generic defaults for a family not registered."""
    spec = plugins.find(trace.family)
    return spec.plots if spec is not None else PlotHooks()


def _hook(hooks: PlotHooks, name: str) -> Any:
    """The function a ``"module:f"`` hook names, or None when the family sets none."""
    target = getattr(hooks, name)
    return plugins.resolve(target) if target else None


def _run_label(trace: Trace) -> str:
    meta = trace.meta
    parts = [str(meta.get("scenario") or trace.family)]
    if meta.get("scheduler"):
        parts.append(str(meta["scheduler"]))
    if meta.get("seed") is not None:
        parts.append(f"seed {meta['seed']}")
    return " / ".join(parts)


def _palette() -> np.ndarray:
    """18 qualitative colours: tab20's dark ones, then its light ones, without its greys.

    Grey is kept for switching and moving delays in Gantt charts.
    """
    c = [x for k, x in enumerate(colormaps["tab20"].colors) if k not in (14, 15)]
    return np.array(c[0::2] + c[1::2])


def _job_codes(jobs: Sequence[Any]) -> np.ndarray:
    """Integer codes of job ids: the ids themselves when integers, else first-seen positions."""
    if all(isinstance(j, (int, np.integer)) and not isinstance(j, bool) for j in jobs):
        return np.asarray(jobs, dtype=np.int64).reshape(-1)
    index = {j: k for k, j in enumerate(dict.fromkeys(jobs))}
    return np.asarray([index[j] for j in jobs], dtype=np.int64)


def _worker_rows(trace: Trace) -> tuple[dict[Any, int], list[str]]:
    """Worker id -> Gantt row, and the row labels; ids only seen in tasks or moves get rows at the end."""
    ids = list(trace.workers["id"])
    known = set(ids)
    gangs = trace.tasks.get("workers") or []
    seen = chain(trace.tasks["worker"], trace.moves["worker"], chain.from_iterable(g or () for g in gangs))
    extra = sorted({w for w in seen if w not in known}, key=str)
    labels = [str(w) for w in ids]
    named = _hook(_hooks(trace), "worker_labels")
    own = named(trace) if named else None
    if own is not None and len(own) == len(ids):
        labels = [str(x) for x in own]
    all_ids = ids + extra
    return {w: k for k, w in enumerate(all_ids)}, labels + [str(w) for w in extra]


def _task_rows(
    worker: Sequence[Any], gangs: Sequence[Any] | None, order: np.ndarray, rows: dict[Any, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bars of the tasks in ``order``: (position in order, first row, last row) per bar.

    A gang on consecutive rows is one bar across them; a gang that is not (an invalid trace)
    gets one bar per row, so that nothing is drawn where it did not run.
    """
    if gangs is None:
        r = np.asarray([rows[w] for w in worker], dtype=np.float64)[order] if len(worker) else np.zeros(0)
        return np.arange(order.size), r, r
    seg: list[int] = []
    lo: list[int] = []
    hi: list[int] = []
    for k, i in enumerate(order.tolist()):
        rs = sorted(rows[w] for w in (gangs[i] or [worker[i]]))
        if rs[-1] - rs[0] == len(rs) - 1 and len(set(rs)) == len(rs):
            seg.append(k)
            lo.append(rs[0])
            hi.append(rs[-1])
        else:
            for r in rs:
                seg.append(k)
                lo.append(r)
                hi.append(r)
    return np.asarray(seg, dtype=np.int64), np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)


def _rects(x0: np.ndarray, x1: np.ndarray, y0: np.ndarray, y1: np.ndarray) -> np.ndarray:
    """``(n, 4, 2)`` corners of axis-aligned rectangles, for a PolyCollection."""
    v = np.empty((len(x0), 4, 2))
    v[:, 0, 0] = v[:, 1, 0] = x0
    v[:, 2, 0] = v[:, 3, 0] = x1
    v[:, 0, 1] = v[:, 3, 1] = y0
    v[:, 1, 1] = v[:, 2, 1] = y1
    return v


def _add_segments(ax: Axes, verts: np.ndarray, style: dict[str, str], gid: str, label: str) -> Patch:
    """Grey segments (switching, moving); returns their legend entry.

    Hatched when few: Agg fills a hatch path by path (milliseconds each), so thousands of
    hatched slivers would take seconds to render; then they are a solid darker grey.
    """
    if len(verts) <= _HATCH_MAX:
        look = {"facecolor": style["facecolor"], "edgecolor": style["edgecolor"], "hatch": style["hatch"]}
    else:
        look = {"facecolor": style["edgecolor"], "edgecolor": style["edgecolor"], "hatch": None}
    coll = PolyCollection(verts, facecolors=look["facecolor"], edgecolors=look["edgecolor"], linewidths=0.0)
    if look["hatch"]:
        coll.set_hatch(look["hatch"])
    _add(ax, coll, gid)
    return Patch(**look, label=label)


def _add(ax: Axes, coll: PolyCollection, gid: str) -> None:
    coll.set_gid(gid)
    if len(coll.get_paths()) > _RASTERIZE_OVER:
        coll.set_rasterized(True)
    ax.add_collection(coll, autolim=False)


def _label_bars(
    ax: Axes, text: Sequence[Any], idx: np.ndarray, x0: np.ndarray, x1: np.ndarray, y: np.ndarray, span: float
) -> None:
    """Write ``text[i]`` inside each bar wide enough for it (a gpu task's model)."""
    for i, yy in zip(idx.tolist(), y.tolist()):
        label = str(text[i])
        if x1[i] - x0[i] >= span * 0.012 * (len(label) + 1):
            ax.text((x0[i] + x1[i]) / 2, yy, label, ha="center", va="center", fontsize=7, clip_on=True)


def _thin_yticks(ax: Axes, labels: list[str]) -> None:
    n = len(labels)
    step = next(s for s in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 10**9) if math.ceil(n / s) <= _MAX_YTICKS)
    ticks = list(range(0, n, step))
    ax.set_yticks(ticks, [labels[k] for k in ticks], fontsize=8 if n > 12 else 9)
    ax.tick_params(axis="y", length=2)


def _switched(tasks: dict[str, list], idx: np.ndarray) -> np.ndarray:
    """Per task in ``idx``: True if a GPU of its gang held another model (a switch), False for a first load."""
    prev = tasks.get("previous_models")
    model = tasks.get("model")
    if prev is None or model is None:
        return np.ones(idx.size, dtype=bool)
    return np.array([any(p is not None and p != model[i] for p in (prev[i] or ())) for i in idx.tolist()], dtype=bool)


def _gang_sizes(tasks: dict[str, list]) -> np.ndarray:
    gangs = tasks.get("workers")
    if gangs is None:
        return np.ones(len(tasks["start"]))
    return np.asarray([len(g) if g else 1 for g in gangs], dtype=np.float64)


def _horizon(trace: Trace) -> tuple[float, float]:
    """From the first arrival (or task start) to the last task end, move end or completion."""
    t = trace.tasks
    first = [_floats(trace.jobs["arrival"]), _floats(t["start"])]
    if t.get("setup") is not None:
        first.append(_floats(t["start"]) - _floats(t["setup"]))
    done = [c for c in trace.jobs["completion"] if c is not None]
    last = [_floats(t["end"]), _floats(done), _floats(trace.moves["end"])]
    a, b = np.concatenate(first), np.concatenate(last)
    t0 = float(a.min()) if a.size else 0.0
    t1 = float(b.max()) if b.size else t0
    return t0, (t1 if t1 > t0 else t0 + 1.0)


def _mean_count(start: np.ndarray, end: np.ndarray, weight: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Time-weighted mean, per bin between ``edges``, of the total weight of the intervals open.

    Exact: the integral of a step function is piecewise linear between its steps, so
    interpolating the running integral at the bin edges loses nothing.
    """
    if start.size == 0:
        return np.zeros(edges.size - 1)
    times = np.concatenate([start, end])
    delta = np.concatenate([weight, -weight])
    order = np.argsort(times, kind="stable")
    times = times[order]
    level = np.cumsum(delta[order])
    area = np.concatenate([[0.0], np.cumsum(level[:-1] * np.diff(times))])
    running = np.interp(edges, times, area)
    return np.diff(running) / np.diff(edges)


def _share(count: np.ndarray, capacity: float) -> np.ndarray:
    share = count / capacity
    # Running sums leave a few ulps above 1 when every worker is busy for a whole bin.
    return np.where((share > 1.0) & (share < 1.0 + 1e-9), 1.0, np.maximum(share, 0.0))


def _waiting(trace: Trace, t_end: float) -> tuple[list[tuple[str, np.ndarray, np.ndarray]], str]:
    """Waiting intervals: ``[(series label, starts, ends)]`` and what they count.

    The family's ``waiting_series`` hook, if it has one and it answers; else the tasks of ready
    stages in a trace with DAG stages; else the tasks from arrival to start.
    """
    own = _hook(_hooks(trace), "waiting_series")
    got = own(trace, t_end) if own else None
    if got is not None:
        return got
    if any(p for p in trace.stages["parents"]):
        s, e = _stage_waiting(trace, t_end)
        return [("runnable tasks", s, e)], "tasks of runnable stages not yet started"
    begin, start, _never, never_at = arrival_waits(trace)
    s = np.concatenate([begin, never_at])
    e = np.concatenate([start, np.full(never_at.size, t_end)])
    return [("tasks", s, e)], "tasks arrived, not yet started"


def _stage_waiting(trace: Trace, t_end: float) -> tuple[np.ndarray, np.ndarray]:
    """Spark-style DAGs: each task waits from its stage's readiness to its start.

    A stage is ready at its job's arrival once every parent stage has run all its tasks, at
    the last parent task's end; tasks of a ready stage never launched wait until ``t_end``.
    """
    t = trace.tasks
    start, end = _floats(t["start"]), _floats(t["end"])
    keys = list(zip(t["job"], t["stage"]))
    count: dict[tuple, int] = {}
    last: dict[tuple, float] = {}
    for k, e in zip(keys, end.tolist()):
        count[k] = count.get(k, 0) + 1
        if e > last.get(k, -math.inf):
            last[k] = e
    arrival = dict(zip(trace.jobs["id"], trace.jobs["arrival"]))
    st = trace.stages
    size = {(j, s): int(n) for j, s, n in zip(st["job"], st["stage"], st["num_tasks"])}
    ready: dict[tuple, float] = {}
    unlaunched_at: list[float] = []
    for job, stage, num, parents in zip(st["job"], st["stage"], st["num_tasks"], st["parents"]):
        at = float(arrival.get(job, 0.0))
        if any(count.get((job, p), 0) < size.get((job, p), 0) for p in parents or ()):
            continue  # a parent has tasks left to run: the stage is not ready
        for p in parents or ():
            at = max(at, last.get((job, p), at))
        ready[(job, stage)] = at
        left = int(num) - count.get((job, stage), 0)
        unlaunched_at.extend([at] * max(0, left))
    begin = np.asarray([ready.get(k, math.nan) for k in keys], dtype=np.float64)
    ok = np.isfinite(begin)
    s = np.concatenate([begin[ok], np.asarray(unlaunched_at, dtype=np.float64)])
    e = np.concatenate([start[ok], np.full(len(unlaunched_at), t_end)])
    return s, e


# -- for families' plot hooks (see schedlab.plugins.PlotHooks) -------------------------------


def time_axis(trace: Trace) -> tuple[float, str]:
    """Factor from trace times to displayed times, and the displayed unit."""
    return _time_axis(trace)


def new_figure(height: float = HEIGHT_IN) -> Figure:
    """An empty figure of the standard width (``height`` in inches)."""
    return _figure(height)


def palette() -> np.ndarray:
    """The qualitative colours of jobs and lines (``(18, 3)`` RGB), without greys."""
    return _palette()


def run_label(trace: Trace) -> str:
    """``scenario / scheduler / seed N``, for titles."""
    return _run_label(trace)


def worker_rows(trace: Trace) -> tuple[dict[Any, int], list[str]]:
    """Worker id -> Gantt row, and the row labels (the family's ``worker_labels``, else the ids)."""
    return _worker_rows(trace)


def arrival_waits(
    trace: Trace, shift: Mapping[Any, float | None] | None = None
) -> tuple[np.ndarray, np.ndarray, list[Any], np.ndarray]:
    """Tasks waiting from their job's arrival (plus ``shift[job]``, if given) to their start.

    Returns:
        Per task, when it began waiting and when it started; then the jobs no task of which
        started, and when each began waiting (they wait to the end of the run).
    """
    t = trace.tasks
    start = _floats(t["start"])
    shift = shift or {}
    arrival = dict(zip(trace.jobs["id"], trace.jobs["arrival"]))
    begin = np.asarray([float(arrival.get(j, s)) + float(shift.get(j) or 0.0) for j, s in zip(t["job"], start)])
    started = set(t["job"])
    never = [j for j in trace.jobs["id"] if j not in started]
    never_at = np.asarray([float(arrival[j]) + float(shift.get(j) or 0.0) for j in never], dtype=np.float64)
    return begin, start, never, never_at


def stage_waits(trace: Trace, t_end: float) -> tuple[np.ndarray, np.ndarray]:
    """DAG stages: each task waits from its stage's readiness to its start (see :func:`queue_lengths`)."""
    return _stage_waiting(trace, t_end)
