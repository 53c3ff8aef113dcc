"""A sixth family, defined here and registered with one call, runs through the whole command line.

The ``toy`` family is a package written to a temporary folder: N tasks with random durations
arrive over time and are placed on K identical workers (``Place(task, (worker,))``). It has a
scenario schema, a model, two schedulers, a metric, a preset, and a ``FamilySpec``; nothing in
schedlab names it. ``run``, ``compare``, ``check``, ``plot`` and ``report`` must work on it.
"""

import json
import sys
import textwrap

import pytest
from typer.testing import CliRunner

import schedlab
from schedlab import plugins, testing
from schedlab.cli import app
from schedlab.errors import UnknownNameError
from schedlab.metrics.checker import check_trace
from schedlab.schedulers import specs

PACKAGE = "schedlab_toyfam"

FILES = {
    "__init__.py": '''
        """The toy family: tasks of random durations placed on identical workers."""

        from schedlab.plugins import FamilySpec, PlotHooks
        from schedlab.schedulers.registry import SchedulerSpec

        FAMILY = FamilySpec(
            name="toy",
            summary="tasks of random durations placed on identical workers",
            scenario="schedlab_toyfam.scenario:ToyScenario",
            presets="schedlab_toyfam",
            schedulers=(
                SchedulerSpec("toy-fifo", "toy", "schedlab_toyfam.schedulers:ToyFifo", "oldest task, lowest free worker"),
                SchedulerSpec(
                    "toy-random", "toy", "schedlab_toyfam.schedulers:ToyRandom", "random task on a random free worker"
                ),
            ),
            default_scheduler="toy-fifo",
            metrics="schedlab_toyfam.model:toy_metrics",
            table_keys=("avg_jct_s", "makespan_s", "toy_max_wait_s"),
            plots=PlotHooks(worker="toy worker", job="toy task", waiting="toy tasks"),
            completion="toy task completion time",
        )
    ''',
    "scenario.py": """
        from typing import Literal

        from pydantic import Field

        from schedlab.scenarios.schema import Strict


        class ToyCluster(Strict):
            workers: int = Field(3, ge=1)


        class ToyWorkload(Strict):
            jobs: int = Field(20, ge=1, description="number of tasks")
            arrival_rate_per_s: float = Field(1.0, gt=0)
            mean_duration_s: float = Field(2.0, gt=0)


        class ToyScenario(Strict):
            name: str = "custom"
            description: str = ""
            family: Literal["toy"] = "toy"
            cluster: ToyCluster = ToyCluster()
            workload: ToyWorkload = ToyWorkload()

            def build(self, engine, rng):
                from schedlab_toyfam.model import ToyModel

                w = self.workload
                gaps = rng.exponential(1.0 / w.arrival_rate_per_s, w.jobs)
                gaps[0] = 0.0
                durations = rng.exponential(w.mean_duration_s, w.jobs) + 0.1
                return ToyModel(engine, gaps.cumsum().tolist(), durations.tolist(), self.cluster.workers)
    """,
    "model.py": """
        from typing import NamedTuple

        from schedlab.sim.actions import Place
        from schedlab.sim.errors import InvalidActionError
        from schedlab.sim.trace import fill_table


        class TaskView(NamedTuple):
            id: int
            arrival: float
            duration: float


        class ToyView(NamedTuple):
            now: float
            waiting: tuple
            free: tuple


        class ToyModel:
            family = "toy"
            time_unit = "s"

            def __init__(self, engine, arrivals, durations, workers):
                self.engine, self.arrivals, self.durations = engine, arrivals, durations
                self.num_workers = workers
                self.free = set(range(workers))
                self.waiting = []
                self.rows, self.decisions = [], []
                self.completion = [None] * len(arrivals)

            def start(self):
                for i, t in enumerate(self.arrivals):
                    self.engine.schedule(t, self._arrive, i)
                return False

            def _open(self):
                return bool(self.waiting and self.free)

            def _arrive(self, now, i, _):
                self.waiting.append(i)
                return self._open()

            def _done(self, now, i, worker):
                self.completion[i] = now
                self.free.add(worker)
                return self._open()

            def view(self):
                ready = tuple(TaskView(i, self.arrivals[i], self.durations[i]) for i in self.waiting)
                return ToyView(self.engine.now, ready, tuple(sorted(self.free)))

            def apply(self, actions):
                now = self.engine.now
                for a in actions:
                    if not isinstance(a, Place):
                        raise InvalidActionError(f"toy expects Place(task, (worker,)), got {a!r}")
                    if a.task not in self.waiting:
                        raise InvalidActionError(f"{a!r}: task {a.task!r} is not waiting")
                    if len(a.workers) != 1 or a.workers[0] not in self.free:
                        raise InvalidActionError(f"{a!r}: expected one free worker of {sorted(self.free)}")
                    (w,) = a.workers
                    self.waiting.remove(a.task)
                    self.free.discard(w)
                    end = now + self.durations[a.task]
                    self.rows.append((a.task, 0, 0, w, now, end))
                    self.decisions.append((now, a.task, 0, 1))
                    self.engine.schedule(end, self._done, a.task, w)
                return bool(actions) and self._open()

            def progress(self):
                return sum(c is not None for c in self.completion) / max(1, len(self.completion))

            def finish(self, trace):
                n, k = len(self.arrivals), self.num_workers
                trace.workers.update(id=list(range(k)), kind=["toy"] * k, capacity=[1] * k)
                trace.jobs.update(id=list(range(n)), name=["toy"] * n, arrival=list(self.arrivals),
                                  completion=list(self.completion))
                trace.stages.update(job=list(range(n)), stage=[0] * n, num_tasks=[1] * n, parents=[[] for _ in range(n)])
                fill_table(trace.tasks, self.rows)
                fill_table(trace.decisions, self.decisions)


        def toy_metrics(trace):
            starts = dict(zip(trace.tasks["job"], trace.tasks["start"]))
            waits = [starts[j] - a for j, a in zip(trace.jobs["id"], trace.jobs["arrival"]) if j in starts]
            return {"toy_max_wait_s": max(waits, default=0.0)}
    """,
    "schedulers.py": """
        from schedlab.schedulers.base import Scheduler
        from schedlab.sim.actions import Place


        class ToyFifo(Scheduler):
            families = ("toy",)

            def decide(self, view):
                return [Place(t.id, (w,)) for t, w in zip(view.waiting, view.free)]


        class ToyRandom(Scheduler):
            families = ("toy",)

            def reset(self, rng):
                self.rng = rng

            def decide(self, view):
                t = view.waiting[int(self.rng.integers(len(view.waiting)))]
                return [Place(t.id, (int(self.rng.choice(view.free)),))]
    """,
    "presets/toy-small.yaml": """
        name: toy-small
        description: Twenty toy tasks on three workers.
        family: toy
        cluster: {workers: 3}
        workload: {jobs: 20, arrival_rate_per_s: 1.0, mean_duration_s: 2.0}
    """,
}

runner = CliRunner()


def cli(*args):
    r = runner.invoke(app, [str(a) for a in args])
    assert r.exit_code == 0, r.output + repr(r.exception)
    return r


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("toyfam")
    for name, text in FILES.items():
        path = root / PACKAGE / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    sys.path.insert(0, str(root))
    try:
        from schedlab_toyfam import FAMILY

        plugins.register(FAMILY)  # the one call that adds the family
        yield FAMILY
    finally:
        plugins.unregister("toy")
        sys.path.remove(str(root))
        for mod in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[mod]


def test_registered_family_is_listed(toy):
    assert "toy" in plugins.names() and plugins.get("toy") is toy
    assert toy.preset_names() == ["toy-small"]
    assert [s.name for s in specs("toy")] == ["toy-fifo", "toy-random"]
    r = cli("list")
    for word in ("toy-small", "toy-fifo", "toy-random"):
        assert word in r.output


def test_api_runs_and_the_conformance_suite_passes(toy):
    result = schedlab.simulate("toy-small", "toy-random", seed=3)
    assert result.metrics["completed_jobs"] == 20 and result.metrics["toy_max_wait_s"] >= 0
    assert check_trace(result.trace).ok
    cases = list(testing.iter_checks(specs("toy")))
    assert {(c.scheduler, c.preset) for c in cases} == {("toy-fifo", "toy-small"), ("toy-random", "toy-small")}
    for case in cases:
        case.run()


def test_run_on_a_preset_and_on_a_yaml_file(toy, tmp_path):
    trace, metrics = tmp_path / "t.json", tmp_path / "m.json"
    r = cli("run", "toy-small", "--scheduler", "toy-random", "--seed", 2, "--jobs", 8,
            "--trace", trace, "--metrics-json", metrics)  # fmt: skip
    assert "toy_max_wait_s" in r.output and "toy-small / toy-random / seed 2" in r.output
    m = json.loads(metrics.read_text())
    assert m["completed_jobs"] == 8 and m["unfinished_jobs"] == 0 and "toy_max_wait_s" in m

    yaml = tmp_path / "my-toy.yaml"
    yaml.write_text("name: my-toy\nfamily: toy\ncluster: {workers: 2}\nworkload: {jobs: 5}\n")
    r = cli("run", yaml, "--metrics-json", metrics)  # the family's default scheduler
    assert "my-toy / toy-fifo / seed 0" in r.output
    assert json.loads(metrics.read_text())["completed_jobs"] == 5


def test_check_and_plot_a_saved_trace(toy, tmp_path):
    trace = tmp_path / "toy.json"
    cli("run", "toy-small", "--trace", trace, "-q")
    r = cli("check", trace)
    assert "ok" in r.output
    assert check_trace(schedlab.load_trace(trace)).ok

    out = tmp_path / "plots"
    cli("plot", trace, "--out", out, "--format", "png", "-q")
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs and all((out / p).stat().st_size > 1000 for p in pngs)
    assert any("gantt" in p for p in pngs), pngs


def test_plots_use_the_family_plot_hooks(toy):
    from schedlab.report.plots import trace_figures

    figs = trace_figures(schedlab.simulate("toy-small", "toy-fifo", seed=1).trace)
    assert figs["gantt"].axes[0].get_ylabel().startswith("toy worker")


def test_compare_then_report(toy, tmp_path):
    out = tmp_path / "results"
    r = cli("compare", "toy-small", "--seeds", "1-2", "--workers", 1, "--out", out)
    assert "toy-fifo" in r.output and "toy-random" in r.output
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["toy-small"]) == {"toy-fifo", "toy-random"}
    assert len((out / "runs.csv").read_text().splitlines()) == 1 + 2 * 2

    cli("report", out, "-q")
    html = (out / "report.html").read_text()
    assert "toy-small" in html and "toy-random" in html and "toy" in html


def test_unregister_removes_the_family_and_its_schedulers(toy):
    plugins.unregister("toy")
    try:
        assert "toy" not in plugins.names() and specs("toy") == []
        with pytest.raises(UnknownNameError, match="unknown family 'toy'"):
            plugins.get("toy")
    finally:
        plugins.register(toy)
