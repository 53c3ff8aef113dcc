"""Figures of runs: the artists they draw match the trace, and they render to valid files."""

import base64
import math
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from matplotlib.figure import Figure
from typer.testing import CliRunner

from helpers import two_job_trace
from schedlab.cli import app
from schedlab.families.edge.plots import node_state
from schedlab.metrics.summary import summarize
from schedlab.report import plots
from schedlab.runs import simulate
from schedlab.runs.compare import summarize_grid
from schedlab.scenarios import load_scenario
from schedlab.sim.trace import Trace

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

SMALL = {
    "spark": ("spark-synthetic", {"workload.jobs": 4, "cluster.executors": 8}, "fair"),
    "gpu": ("gpu", {"workload.jobs": 6}, "ray-like"),
    "edge": ("edge", {"workload.jobs": 150, "cluster.nodes": 4}, "round-robin"),
    "multiproc": (
        "multiproc",
        {"workload.phases": [{"kind": "stable", "tasks": 80, "utilization": 0.9}]},
        "round-robin",
    ),
    "hetero": ("hetero", {"workload.batches": [{"at_s": 0, "tasks": 12}, {"at_s": 5, "tasks": 6}]}, "round-robin"),
}
FAMILIES = list(SMALL)


@pytest.fixture(scope="module")
def traces():
    out = {}
    for fam, (name, over, sched) in SMALL.items():
        out[fam] = simulate(load_scenario(name, over), sched, seed=1).trace
    return out


def _coll(fig, gid):
    found = [c for ax in fig.axes for c in ax.collections if c.get_gid() == gid]
    return found[0] if found else None


def _boxes(coll):
    """(x0, x1, y0, y1) of each rectangle of a collection, in data coordinates."""
    out = []
    for p in coll.get_paths():
        v = p.vertices[:4]
        out.append((v[:, 0].min(), v[:, 0].max(), v[:, 1].min(), v[:, 1].max()))
    return np.array(out)


def _steps(ax):
    """Values and edges of each StepPatch of an axes."""
    return [p.get_data() for p in ax.patches if type(p).__name__ == "StepPatch"]


# -- gantt --------------------------------------------------------------------------------------


def test_gantt_of_a_hand_made_trace_has_exact_bars_and_moves():
    tr = two_job_trace()
    fig = plots.gantt(tr)
    assert isinstance(fig, Figure)
    bars = _boxes(_coll(fig, "gantt-tasks"))
    # spark traces are recorded in ms and drawn in s; tasks in start order, row = worker
    expect = sorted(zip(tr.tasks["start"], tr.tasks["end"], tr.tasks["worker"]))
    got = sorted((x0 * 1e3, x1 * 1e3, (y0 + y1) / 2) for x0, x1, y0, y1 in bars)
    assert np.allclose(got, expect)
    assert np.allclose(bars[:, 3] - bars[:, 2], 0.8)
    moves = _boxes(_coll(fig, "gantt-moves"))
    assert np.allclose(moves, [[1.0, 1.5, 0.6, 1.4]])
    ax = fig.axes[0]
    assert ax.get_xlabel() == "time (s)" and ax.get_ylabel() == "executor"
    assert ax.yaxis_inverted()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["job 0", "job 1", "moving delay"]


@pytest.mark.parametrize("family", FAMILIES)
def test_gantt_draws_every_task_of_every_family(traces, family):
    tr = traces[family]
    fig = plots.gantt(tr)
    bars = _boxes(_coll(fig, "gantt-tasks"))
    n = len(tr.tasks["start"])
    assert n > 0 and len(bars) == n
    scale = 1e-3 if family == "spark" else 1.0
    assert sorted(bars[:, 0]) == pytest.approx(sorted(np.asarray(tr.tasks["start"]) * scale))
    assert sorted(bars[:, 1]) == pytest.approx(sorted(np.asarray(tr.tasks["end"]) * scale))
    unit = {"spark": "s", "edge": "ms"}.get(family, "s")
    assert fig.axes[0].get_xlabel() == f"time ({unit})"
    assert f"{n:,} tasks" in fig.axes[0].get_title()
    assert (_coll(fig, "gantt-moves") is not None) == bool(tr.moves["start"])


def test_spark_gantt_with_many_executors_thins_its_ticks(traces):
    tr = simulate(load_scenario("spark-synthetic", {"workload.jobs": 3}), "fair", seed=2).trace
    assert len(tr.workers["id"]) == 50 and tr.moves["start"]
    fig = plots.gantt(tr)
    ax = fig.axes[0]
    ticks = ax.get_yticks()
    assert 10 <= len(ticks) <= 25 and ticks[0] == 0
    assert len(_boxes(_coll(fig, "gantt-moves"))) == len(tr.moves["start"])
    assert fig.get_size_inches()[1] > 3.5  # taller rows for 50 executors


def test_gpu_gantt_spans_gangs_and_shows_switches(traces):
    tr = traces["gpu"]
    t = tr.tasks
    gang_sizes = [len(g) for g in t["workers"]]
    assert max(gang_sizes) >= 2, "the small gpu scenario should have a multi-GPU model"
    fig = plots.gantt(tr)
    bars = _boxes(_coll(fig, "gantt-tasks"))
    for (x0, _, y0, y1), gang, s in zip(bars[np.argsort(bars[:, 0], kind="stable")], t["workers"], t["start"]):
        assert x0 == pytest.approx(s)
        assert y1 - y0 == pytest.approx(len(gang) - 1 + 0.8)
        assert (y0 + y1) / 2 == pytest.approx((min(gang) + max(gang)) / 2)
    # each task with setup has one grey segment ending at its start, switch or first load
    setups = [(s - d, s) for s, d in zip(t["start"], t["setup"]) if d > 0]
    assert setups
    grey = [_coll(fig, g) for g in ("gantt-switch", "gantt-load")]
    assert all(c is not None for c in grey), "this run has both first loads and model switches"
    segs = np.concatenate([_boxes(c) for c in grey])
    assert np.allclose(sorted(map(tuple, segs[:, :2])), sorted(setups))
    labels = [x.get_text() for x in fig.axes[0].get_legend().get_texts()]
    assert "model switch (setup)" in labels and "model load (setup)" in labels
    assert fig.axes[0].get_ylabel() == "GPU"


def test_gantt_draws_at_most_max_tasks_and_says_so(traces):
    tr = traces["spark"]
    n = len(tr.tasks["start"])
    fig = plots.gantt(tr, max_tasks=10)
    bars = _boxes(_coll(fig, "gantt-tasks"))
    assert len(bars) == 10
    assert sorted(bars[:, 0] * 1e3) == pytest.approx(sorted(tr.tasks["start"])[:10])
    assert f"first 10 of {n:,} tasks by start time" in fig.axes[0].get_title()
    with pytest.raises(ValueError, match="max_tasks"):
        plots.gantt(tr, max_tasks=0)


def test_gantt_row_labels_name_nodes_and_cpu_speeds(traces):
    hetero = [t.get_text() for t in plots.gantt(traces["hetero"]).axes[0].get_yticklabels()]
    assert hetero == traces["hetero"].extra["hetero_nodes"]["name"]
    cpus = [t.get_text() for t in plots.gantt(traces["multiproc"]).axes[0].get_yticklabels()]
    assert cpus == ["0 (1x)", "1 (1.5x)", "2 (2x)", "3 (3x)"]


# -- utilization and queues -----------------------------------------------------------------------


def test_utilization_of_a_hand_made_trace_is_exact():
    fig = plots.utilization(two_job_trace(), bins=9)  # 500 ms bins over [0, 4500] ms
    (busy, edges, _), moving = _steps(fig.axes[0])[:2]
    assert edges == pytest.approx(np.linspace(0, 4.5, 10))
    assert busy.tolist() == pytest.approx([1, 1, 0.5, 1, 1, 1, 1, 1, 0.5])
    assert moving[0].tolist() == pytest.approx([0, 0, 0.5, 0, 0, 0, 0, 0, 0])
    assert "mean 88.9%" in fig.axes[0].get_title()


@pytest.mark.parametrize("family", FAMILIES)
def test_utilization_stays_in_0_1_and_averages_to_the_metric(traces, family):
    tr = traces[family]
    fig = plots.utilization(tr, bins=50)
    steps = _steps(fig.axes[0])
    busy = steps[0][0]
    assert len(busy) == 50
    assert np.all((busy >= 0) & (busy <= 1))
    metrics = summarize(tr)
    # equal bins over the makespan: their mean is the run's utilization
    assert busy.mean() == pytest.approx(metrics["executor_utilization"], rel=1e-9)
    if family == "gpu":
        assert steps[1][0].mean() == pytest.approx(metrics["gpu_utilization"], rel=1e-9)
        assert np.all(steps[1][0] >= busy - 1e-12)


def test_queue_lengths_of_a_hand_made_trace_is_exact():
    # job 1 arrives at 1000 ms; its two tasks start at 1500 and 3500; job 0 never waits
    fig = plots.queue_lengths(two_job_trace(), bins=9)
    ((counts, edges, _),) = _steps(fig.axes[0])
    assert counts.tolist() == pytest.approx([0, 0, 2, 1, 1, 1, 1, 0, 0])
    assert fig.axes[0].get_ylabel() == "waiting tasks (bin mean)"


def _total_wait(tr):
    t = tr.tasks
    start = np.asarray(t["start"])
    if tr.family == "gpu":
        return float((start - np.asarray(t["setup"]) - np.asarray(t["ready"])).sum())
    arrival = dict(zip(tr.jobs["id"], tr.jobs["arrival"]))
    delay = dict(zip(tr.jobs["id"], tr.jobs.get("delay", [0.0] * len(tr.jobs["id"]))))
    return float(sum(s - arrival[j] - delay[j] for j, s in zip(t["job"], start)))


@pytest.mark.parametrize("family", ["gpu", "multiproc", "hetero", "edge"])
def test_queue_lengths_integrate_to_the_total_wait(traces, family):
    tr = traces[family]
    if family == "edge":  # without samples: the total from the trace's intervals
        tr = Trace.from_dict({**tr.to_dict(), "extra": {}})
    fig = plots.queue_lengths(tr, bins=40)
    steps = _steps(fig.axes[0])
    assert len(steps) == (4 if family == "multiproc" else 1)  # one series per CPU
    area = sum(float((c * np.diff(e)).sum()) for c, e, _ in steps)
    assert area == pytest.approx(_total_wait(tr), rel=1e-9)
    assert all(np.all(c >= 0) for c, _, _ in steps)


def test_spark_queue_counts_tasks_of_ready_stages(traces):
    tr = traces["spark"]
    fig = plots.queue_lengths(tr, bins=30)
    ((counts, edges, _),) = _steps(fig.axes[0])
    assert counts.max() > 0 and np.all(counts >= 0)
    # never more waiting than tasks in the workload
    assert counts.max() <= sum(tr.stages["num_tasks"])


def test_edge_queue_lengths_come_from_the_samples_per_node(traces):
    tr = traces["edge"]
    ax = plots.queue_lengths(tr).axes[0]
    assert len(ax.lines) == 4
    s = tr.extra["samples"]
    node0 = [q for q, n in zip(s["queue"], s["node"]) if n == 0]
    assert ax.lines[0].get_ydata().tolist() == node0
    assert ax.get_xlabel() == "time (ms)"


# -- edge node state ------------------------------------------------------------------------------


def test_edge_node_state_has_four_panels_of_one_line_per_node(traces):
    tr = traces["edge"]
    fig = node_state(tr)
    assert len(fig.axes) == 4
    assert [ax.get_ylabel().split()[0] for ax in fig.axes] == ["cpu", "mem", "delay", "load"]
    assert all(len(ax.lines) == 4 for ax in fig.axes)
    s = tr.extra["samples"]
    delay3 = [d for d, n in zip(s["delay"], s["node"]) if n == 3]
    assert fig.axes[2].lines[3].get_ydata().tolist() == pytest.approx(delay3)
    assert fig.axes[-1].get_xlabel() == "time (ms)"


def test_edge_node_state_refuses_other_traces(traces):
    with pytest.raises(ValueError, match="edge traces only"):
        node_state(traces["spark"])
    bare = Trace.from_dict({**traces["edge"].to_dict(), "extra": {}})
    with pytest.raises(ValueError, match="no node samples"):
        node_state(bare)


@pytest.mark.parametrize("family", FAMILIES)
def test_trace_figures_pick_the_figures_of_the_family(traces, family):
    figs = plots.trace_figures(traces[family])
    expect = ["gantt", "utilization", "queue_lengths"] + (["edge_node_state"] if family == "edge" else [])
    assert list(figs) == expect
    assert all(isinstance(f, Figure) for f in figs.values())


def test_a_trace_of_an_unknown_family_gets_the_generic_defaults(traces):
    # A spark trace relabelled: no display unit in s, no spark nouns, no family figures.
    tr = Trace.from_dict({**traces["spark"].to_dict(), "family": "martian"})
    figs = plots.trace_figures(tr)
    assert list(figs) == ["gantt", "utilization", "queue_lengths"]
    g = figs["gantt"].axes[0]
    assert g.get_ylabel() == "worker" and g.get_xlabel() == "time (ms)"
    assert "workers" in g.get_title()
    q = figs["queue_lengths"].axes[0]
    assert q.get_ylabel() == "waiting tasks (bin mean)"
    # its stages have DAG edges, so the generic rule counts the tasks of runnable stages
    assert "runnable stages" in q.get_title()


def test_the_plots_ask_the_family_plot_hooks(traces):
    from schedlab import plugins
    from schedlab.plugins import FamilySpec, PlotHooks

    spec = FamilySpec(
        name="plot-toy",
        summary="a family that only draws",
        scenario="schedlab.families.multiproc.scenario:MultiprocScenario",
        plots=PlotHooks(
            worker="widget",
            job="order",
            waiting="orders",
            display_unit="ms",
            gantt_ylabel="widget (colour)",
            worker_labels="schedlab.families.multiproc.plots:worker_labels",
        ),
    )
    plugins.register(spec)
    try:
        tr = Trace.from_dict({**traces["multiproc"].to_dict(), "family": "plot-toy"})
        g = plots.gantt(tr).axes[0]
        assert g.get_ylabel() == "widget (colour)" and g.get_xlabel() == "time (ms)"
        assert [t.get_text() for t in g.get_yticklabels()][0].endswith("x)")  # speeds, from the hook
        assert any("order" in t.get_text() for t in g.get_legend().get_texts())
        q = plots.queue_lengths(tr).axes[0]
        assert q.get_ylabel() == "waiting orders (bin mean)"
        assert plots.utilization(tr).axes[0].get_ylabel() == "share of widgets busy"
    finally:
        plugins.unregister("plot-toy")


def test_figures_of_an_empty_trace_do_not_fail():
    tr = Trace(family="multiproc", time_unit="s")
    tr.workers.update(id=[0, 1], kind=["cpu"] * 2, capacity=[1, 1])
    figs = plots.trace_figures(tr)
    assert len(_boxes(_coll(figs["gantt"], "gantt-tasks"))) == 0
    assert np.all(_steps(figs["utilization"].axes[0])[0][0] == 0)


# -- figures of many runs -------------------------------------------------------------------------


def test_completion_cdf_is_a_step_per_value_up_to_1():
    fig = plots.completion_cdf({"fair": [3.0, 1.0, 2.0], "fifo": [5.0, None, math.nan, 4.0], "none": []}, unit="s")
    ax = fig.axes[0]
    assert len(ax.lines) == 2
    fair, fifo = ax.lines
    assert fair.get_drawstyle() == "steps-post"
    assert fair.get_xdata().tolist() == [1.0, 1.0, 2.0, 3.0]
    assert fair.get_ydata().tolist() == pytest.approx([0, 1 / 3, 2 / 3, 1])
    assert len(fifo.get_ydata()) == 3 and fifo.get_ydata()[-1] == 1.0
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["fair (n=3)", "fifo (n=2)"]
    assert ax.get_xlabel() == "job completion time (s)"
    assert plots.completion_cdf({}, unit="ms", what="latency").axes[0].get_xlabel() == "latency (ms)"


def _rows():
    rows = []
    for sched, vals in (("fair", [10.0, 12.0, 14.0]), ("fifo", [20.0]), ("random", [30.0, 30.0])):
        for seed, v in enumerate(vals):
            rows.append({"scenario": "s", "scheduler": sched, "seed": seed, "avg_jct_s": v, "makespan_s": 2 * v})
    rows.append({"scenario": "s", "scheduler": "nothing", "seed": 0, "avg_jct_s": None, "makespan_s": 1.0})
    return rows


def test_comparison_bars_one_bar_per_scheduler_with_finite_error_bars():
    summary = summarize_grid(_rows())["s"]
    fig = plots.comparison_bars(summary, "avg_jct_s")
    ax = fig.axes[0]
    bars = [p for p in ax.patches if type(p).__name__ == "Rectangle"]
    assert len(bars) == 4
    heights = [b.get_height() for b in bars]
    assert heights[:3] == pytest.approx([12.0, 20.0, 30.0]) and math.isnan(heights[3])
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    fair_half = summary["fair"]["avg_jct_s"][1]
    # random gives 30.0 on both seeds: a plain value, not "30.0 ± 0.0"
    assert ticks == [f"fair\n12.0 ± {fair_half:.1f}", "fifo\n20.0", "random\n30.0", "nothing\nn/a"]
    # error bars where the CI is finite: fair (3 seeds) and random (2 equal seeds, half-width 0)
    (errs,) = [c for c in ax.collections if len(c.get_segments())]
    segs = errs.get_segments()
    assert len(segs) == 2
    assert segs[0][:, 1].tolist() == pytest.approx([12.0 - fair_half, 12.0 + fair_half])
    assert ax.get_ylabel() == "mean JCT (s)"
    assert "lower is better" in ax.get_title()
    for row in summary.values():
        row["jain_fairness"] = row["executor_utilization"] = row["makespan_s"]
    assert "higher is better" in plots.comparison_bars(summary, "jain_fairness").axes[0].get_title()
    assert "better" not in plots.comparison_bars(summary, "executor_utilization").axes[0].get_title()
    assert plots.comparison_bars(summary, "makespan_s", label="span").axes[0].get_ylabel() == "span"
    with pytest.raises(ValueError, match="no scheduler has a value for metric 'nope'"):
        plots.comparison_bars(summary, "nope")


# -- output ---------------------------------------------------------------------------------------


def test_save_figure_writes_valid_png_and_svg_deterministically(tmp_path):
    fig = plots.gantt(two_job_trace())
    paths = plots.save_figure(fig, tmp_path / "out" / "gantt.v1")
    assert [p.name for p in paths] == ["gantt.v1.png", "gantt.v1.svg"]
    png, svg = (p.read_bytes() for p in paths)
    assert png.startswith(PNG_MAGIC)
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg") and b"<svg" in svg
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["gantt.v1.png", "gantt.v1.svg"]  # no temp files
    again = plots.save_figure(plots.gantt(two_job_trace()), tmp_path / "again")
    assert again[0].read_bytes() == png and again[1].read_bytes() == svg
    assert plots.save_figure(fig, tmp_path / "only", formats=["svg"]) == [tmp_path / "only.svg"]
    with pytest.raises(ValueError, match="unknown figure format"):
        plots.save_figure(fig, tmp_path / "x", formats=["gif"])


def test_in_memory_renderings_embed_in_html():
    fig = plots.utilization(two_job_trace())
    svg = plots.figure_to_svg(fig)
    assert svg.startswith("<svg") and ET.fromstring(svg).tag.endswith("svg")
    assert base64.b64decode(plots.figure_to_png_base64(fig)).startswith(PNG_MAGIC)


def test_large_gantt_rasterizes_bars_in_svg():
    tr = two_job_trace()
    n = 3000
    tr.tasks.update(
        job=[k % 2 for k in range(n)], stage=[0] * n, task=list(range(n)), worker=[k % 2 for k in range(n)],
        start=[float(k) for k in range(n)], end=[k + 0.5 for k in range(n)],
    )  # fmt: skip
    fig = plots.gantt(tr)
    assert _coll(fig, "gantt-tasks").get_rasterized()
    svg = plots.figure_to_svg(fig)
    assert "<image" in svg and len(svg) < 200_000


# -- command line ---------------------------------------------------------------------------------


runner = CliRunner()


def test_plot_command_writes_the_figures(tmp_path, traces):
    path = tmp_path / "edge run.json"
    traces["edge"].save(path)
    r = runner.invoke(app, ["plot", str(path)])
    assert r.exit_code == 0, r.output
    folder = tmp_path / "edge run_plots"
    names = ["gantt", "utilization", "queue_lengths", "edge_node_state"]
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{n}.{x}" for n in names for x in ("png", "svg"))
    assert r.output.splitlines() == [str(folder / f"{n}.{x}") for n in names for x in ("png", "svg")]
    assert (folder / "gantt.png").read_bytes().startswith(PNG_MAGIC)
    out = tmp_path / "figs"
    r = runner.invoke(app, ["plot", str(path), "--out", str(out), "--format", "png", "-q"])
    assert r.exit_code == 0 and r.output == ""
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{n}.png" for n in names)


@pytest.mark.parametrize(
    "args, message",
    [
        (["missing.json"], "missing.json: no such file"),
        (["bad.json"], "bad.json: not valid JSON"),
        (["bad.json", "--format", "gif"], "--format: expected png, svg or png,svg, got 'gif'"),
    ],
)
def test_plot_command_fails_in_one_line(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.json").write_text("{")
    r = runner.invoke(app, ["plot", *args])
    assert r.exit_code == 2
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("schedlab: error: ") and message in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json"]


def test_import_report_does_not_load_matplotlib():
    code = "import schedlab.report, sys; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
