"""A live run: the hetero model's queues and views, driven by real work on a wall clock.

Nothing here is a second model. :class:`LiveHeteroCluster` *is* a
:class:`~schedlab.families.hetero.model.HeteroCluster` (the same dispatcher, FIFO queues,
views, validation of actions and trace tables) whose workers, :class:`LiveWorkers`, hand each
task that starts to a real worker process instead of pushing its completion onto the event
heap. :func:`run_live` is the loop :class:`~schedlab.sim.simulation.Simulation` runs, on a
wall clock: the engine's clock is set to the seconds since the run began; batch arrivals are
still events on its heap, due at their arrival offsets from the start; a completion is a task
coming back from its worker. Both open decision points exactly as in the simulator, and the
registered scheduler object decides on views of this real state.

Times in the trace are seconds since the run began (after the workers warmed up). A task's
row ends when its completion reached the scheduler and starts its measured duration (timed in
the worker) before that, never before it was handed to the worker; so a node's next task
always starts after its last one ended. ``extra["hetero_live"]`` keeps, per task, when it was
handed over (``dispatched``), when it came back (``observed``), the measured seconds and the
worker (``host:pid``). ``extra["hetero_durations"]`` holds the measured duration of every
(task, node) pair that ran and the profile's expected duration of the others (``measured``
says which).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from schedlab.errors import ConfigError
from schedlab.families.hetero.live.executor import Done, Executor, make_executor
from schedlab.families.hetero.live.work import real_size
from schedlab.families.hetero.model import HeteroCluster
from schedlab.families.hetero.tasks import Node, Task
from schedlab.sim.engine import Engine
from schedlab.sim.queues import FifoWorkers
from schedlab.sim.trace import Trace
from schedlab.sim.wallclock import live_run_inputs, run_on_wall_clock

__all__ = ["LiveWorkers", "LiveHeteroCluster", "run_live", "check_live_scenario"]


def _no_duration(item: int, worker: int) -> float:
    raise AssertionError("a live worker's durations come from real work")  # never called: _start is replaced


class LiveWorkers(FifoWorkers):
    """:class:`~schedlab.sim.queues.FifoWorkers` whose tasks run on real worker processes.

    A task that starts is handed to its node's worker (``executor.submit``); no completion
    is scheduled. :meth:`complete` is the completion event, called when the task comes back.

    Args:
        engine: The model's engine (its clock is the run's wall clock).
        num_workers: Nodes.
        jobs: Per task, ``(type, work size)`` to hand to the worker.
        executor: The started workers.
        on_done: The model's completion handler.
    """

    __slots__ = ("_executor", "_jobs")

    def __init__(
        self,
        engine: Engine,
        num_workers: int,
        jobs: Sequence[tuple[str, int]],
        executor: Executor,
        on_done: Callable[[float, int, int], Any],
    ) -> None:
        super().__init__(engine, num_workers, len(jobs), _no_duration, on_done)
        self._executor = executor
        self._jobs = list(jobs)

    def _start(self, now: float, item: int, worker: int) -> None:
        self.running[worker] = item
        self.started[worker] = now
        self.start_at[item] = now
        self.planned_end[item] = now
        self.order.append(item)
        task_type, size = self._jobs[item]
        self._executor.submit(worker, item, task_type, size)

    def complete(self, now: float, item: int, worker: int, seconds: float) -> bool:
        """The task came back at ``now`` after ``seconds`` of work; True opens a decision point.

        Raises:
            ValueError: ``item`` is not the task running on ``worker``.
        """
        if self.running[worker] != item:
            raise ValueError(f"task {item} came back from node {worker}, which runs {self.running[worker]}")
        self.start_at[item] = max(self.started[worker], now - seconds)
        self.planned_end[item] = now
        return bool(self._done(now, item, worker))


class LiveHeteroCluster(HeteroCluster):
    """A :class:`~schedlab.families.hetero.model.HeteroCluster` whose nodes are real workers.

    Args:
        engine: The engine; its clock is set to wall seconds by :func:`run_live`.
        nodes: The nodes; node ``j`` is worker ``j``.
        tasks: The tasks.
        expected: ``(tasks, nodes)`` expected durations (s), from the profile.
        executor: The started workers, one per node.
        work_sizes: Per task, the work size its worker runs.
    """

    def __init__(
        self,
        engine: Engine,
        nodes: Sequence[Node],
        tasks: Sequence[Task],
        expected: np.ndarray,
        executor: Executor,
        work_sizes: Sequence[int],
    ) -> None:
        # The durations start as the expected ones; each pair that runs gets its measured one.
        super().__init__(engine, nodes, tasks, np.array(expected, dtype=np.float64), expected)
        jobs = [(t.type, int(n)) for t, n in zip(self.tasks, work_sizes)]
        self.pool = LiveWorkers(engine, len(self.nodes), jobs, executor, self._on_done)
        self._measured = np.zeros(self.durations.shape, dtype=bool)
        self._rows: list[tuple[int, int, float, float, float, str]] = []

    def complete(self, now: float, done: Done) -> bool:
        """A task came back from its worker at ``now``; True opens a decision point."""
        dispatched = self.pool.started[done.node]
        opened = self.pool.complete(now, done.item, done.node, done.seconds)
        self.durations[done.item, done.node] = max(done.seconds, 1e-9)
        self._measured[done.item, done.node] = True
        self._rows.append((done.item, done.node, dispatched, now, done.seconds, done.where))
        return opened

    @property
    def running_any(self) -> bool:
        """Whether some node runs a task."""
        return any(r >= 0 for r in self.pool.running)

    def finish(self, trace: Trace) -> None:
        super().finish(trace)
        trace.extra["hetero_durations"]["measured"] = self._measured.ravel().tolist()
        cols = ("job", "worker", "dispatched", "observed", "measured_s", "where")
        trace.extra["hetero_live"] = {c: [r[k] for r in self._rows] for k, c in enumerate(cols)}


def check_live_scenario(scenario: Any) -> None:
    """Refuse what a live hetero run cannot do beyond any live run: nodes that are not local.

    Raises:
        ConfigError: The message names the field.
    """
    other = [n for n in scenario.cluster.nodes if n.kind != "local"]
    if other:
        raise ConfigError(
            f"--live runs local nodes only (worker processes of a calibrated profile's machine); node "
            f"{other[0].name!r} is a {other[0].kind} (see docs/hetero-live.md)",
            field="cluster.nodes",
        )


def run_live(
    scenario: Any,
    scheduler: Any,
    seed: int = 0,
    *,
    workers: int | None = None,
    ray: bool = False,
    ray_address: str | None = None,
    executor: Executor | None = None,
    progress: Callable[[float], None] | None = None,
):
    """Run a hetero scenario's tasks for real, with ``scheduler`` deciding on live views.

    The workload (tasks, sizes, arrivals) is the one the simulator draws for ``seed``; each
    node is a worker process (:func:`~schedlab.families.hetero.live.executor.make_executor`),
    warmed up before the clock starts. Batches arrive at their ``at_s`` offsets from the
    start. The run ends when every task has come back (or, as in the simulator, when the
    scheduler passes with nothing running and no batch to come).

    Args:
        scenario: A preset name, YAML path or scenario object; every node ``kind: local``.
        scheduler: A registered name, ``module:Class`` or a scheduler object.
        seed: Seeds the workload and the scheduler's own stream.
        workers: Worker processes allowed (default one per core; at least the nodes).
        ray: Run the nodes as Ray actors; ``ray_address`` joins a cluster.
        ray_address: A Ray cluster to join (implies ``ray``).
        executor: Workers to use instead (not started; this call starts and closes them).
        progress: Called now and then with the fraction of tasks done.

    Returns:
        A :class:`schedlab.runs.RunResult`: the trace (``meta["live"]`` names the backend) and
        its metrics.

    Raises:
        ConfigError: The scenario cannot run live, or a bad option.
        LiveError: A worker died or a task failed.
        InvalidActionError: The scheduler answered with an invalid action.
    """
    from schedlab.metrics.summary import summarize
    from schedlab.runs import RunResult

    scenario, name, scheduler = live_run_inputs(scenario, scheduler, seed, "hetero", check_live_scenario)

    # The simulator's own model, for the workload and the profile's expected durations:
    # the same seed draws the same tasks as a simulated run.
    base = scenario.build(Engine(), np.random.default_rng(seed))
    profile = base.profile
    sizes = [real_size(t.type, t.size, profile.types[t.type].size_scale) for t in base.tasks]
    if executor is None:
        executor = make_executor(len(base.nodes), workers=workers, ray=ray, ray_address=ray_address)
    scheduler.reset(np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0]))

    # A scheduler's first decision may import what it plans with (optimal: SciPy's assignment
    # solver, a second or so under load); do that before the clock starts, not at t = 0.
    import scipy.optimize  # noqa: F401

    engine = Engine()
    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    with executor:
        model = LiveHeteroCluster(engine, base.nodes, base.tasks, base.expected, executor, sizes)
        wall, decide_s = run_on_wall_clock(model, engine, scheduler, executor.wait, progress)
    trace = Trace(
        family=model.family,
        time_unit=model.time_unit,
        meta={
            "seed": seed,
            "scenario": getattr(scenario, "name", ""),
            "scheduler": name,
            "live": executor.backend,
            "workers": list(executor.where),
            "cpus": os.cpu_count(),
            "load_before": list(load_before) if load_before else None,
            "load_after": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        },
        scenario=scenario.model_dump(mode="json"),
        counters={"events": engine.events + model.finished, "decisions": len(decide_s)},
    )
    model.finish(trace)
    trace.timing = {"wall_s": wall, "decide_s": decide_s}
    if progress is not None:
        progress(1.0)
    return RunResult(trace, summarize(trace))
