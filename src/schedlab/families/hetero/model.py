"""Hetero: batches of typed tasks assigned to the FIFO queues of heterogeneous nodes.

Each task is a job of one stage of one task. Each node is a worker of capacity 1 that runs
the tasks of its own FIFO queue one at a time, back to back. Tasks arrive in batches (all
tasks with the same arrival time); a batch's arrival opens a decision point. There the
scheduler sees the whole batch, each task's expected duration on every node and each node's
backlog, and answers with :class:`~schedlab.sim.actions.Enqueue` actions: ``Enqueue(task,
node)`` appends the task to that node's queue, so the order of the actions for a node is the
order its tasks run in. The decision stays open while tasks wait after a non-empty answer,
so a scheduler may answer with the whole batch at once or a few tasks at a time. An empty
answer passes: the tasks left wait at the dispatcher, offered again at the next decision
point, which opens at the next batch's arrival or at any completion while tasks wait.

Durations are given to the model as two ``(tasks, nodes)`` matrices: the expected durations
the scheduler sees and the actual ones the nodes take (expected times noise, see
:mod:`schedlab.families.hetero.tasks`). Both go into the trace, so metrics such as the
makespan lower bound are computed from the trace alone.

With faults (the scenario's ``faults`` section, docs/faults.md), a node that crashes loses its
running task and its queue: they wait at the dispatcher again, in arrival order, and a
decision point opens; the view marks the node dead (``NodeView.alive``) until it is repaired.
A task that runs again takes its actual duration again (times the straggler factor, if it
straggles).

Times are in seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from schedlab.families.hetero.tasks import Node, Task
from schedlab.sim.actions import Enqueue
from schedlab.sim.engine import Engine
from schedlab.sim.faults import FaultInjector, FaultSpec
from schedlab.sim.queues import Dispatcher, FifoWorkers, QueueDecision, attach_faults, fill_single_stage, frozen
from schedlab.sim.trace import Trace, fill_table

__all__ = [
    "HeteroCluster",
    "HeteroView",
    "HeteroSnapshot",
    "TaskView",
    "NodeView",
    "TaskSnapshot",
    "NodeSnapshot",
]


class HeteroCluster:
    """The hetero family's model on an :class:`~schedlab.sim.engine.Engine`.

    Args:
        engine: The engine this model schedules its events on.
        nodes: The nodes; node ``j`` is worker ``j``.
        tasks: The tasks; task ``i`` is job ``i``. Tasks with equal arrival form a batch.
        durations: ``(tasks, nodes)`` actual durations (s), each finite and > 0.
        expected: ``(tasks, nodes)`` expected durations (s) shown to schedulers; defaults to
            ``durations`` (a scheduler that knows the durations exactly).

    Raises:
        ValueError: No node, or a duration matrix of the wrong shape or with a value that is
            not a finite positive number.
    """

    family = "hetero"
    time_unit = "s"
    #: The calibrated profile of the local nodes (:mod:`schedlab.families.hetero.live.profile`), or None.
    profile = None

    def __init__(
        self,
        engine: Engine,
        nodes: Sequence[Node],
        tasks: Sequence[Task],
        durations: np.ndarray,
        expected: np.ndarray | None = None,
    ) -> None:
        if not nodes:
            raise ValueError("the cluster needs at least one node")
        shape = (len(tasks), len(nodes))
        durations = np.asarray(durations, dtype=np.float64)
        expected = durations if expected is None else np.asarray(expected, dtype=np.float64)
        for name, m in (("durations", durations), ("expected", expected)):
            if m.shape != shape:
                raise ValueError(f"{name} must have shape (tasks, nodes) = {shape}, got {m.shape}")
            if m.size and not (np.isfinite(m).all() and (m > 0).all()):
                raise ValueError(f"{name} must be finite and > 0 (s)")
        self.engine = engine
        self.nodes = tuple(nodes)
        self.tasks = tuple(tasks)
        self.durations = durations
        self.expected = expected
        # Python floats, equal to float(durations[i, j]), and much faster to index per task.
        self._duration_rows = durations.tolist()
        arrivals = sorted({t.arrival_s for t in self.tasks})
        self._batch_of = {a: b for b, a in enumerate(arrivals)}
        #: Batches in arrival order: task ids in id order.
        self.batches = [[i for i, t in enumerate(self.tasks) if t.arrival_s == a] for a in arrivals]
        m, n = len(self.nodes), len(self.tasks)
        self.pool = FifoWorkers(engine, m, n, self._run_time, self._on_done)
        self.dispatcher = Dispatcher(n, m, family="hetero", item="task", worker="node")
        self._decision_rows: list[tuple] = []
        #: The run's faults, or None (see :meth:`enable_faults`).
        self.faults: FaultInjector | None = None

    def enable_faults(self, spec: FaultSpec, rng) -> None:
        """Run with faults (before :meth:`start`): nodes crash and tasks straggle as ``spec`` says.

        Args:
            spec: The faults, in seconds.
            rng: Their own stream (:func:`~schedlab.sim.faults.fault_stream`).
        """
        self.faults = attach_faults(self.engine, spec, rng, self.pool, self.dispatcher)

    @property
    def waiting(self) -> list[int]:
        """Ids of the tasks waiting at the dispatcher, in arrival order (id order within a batch)."""
        return self.dispatcher.waiting

    @property
    def running(self) -> list[int | None]:
        """Per node, the running task, or None when idle."""
        return [None if r < 0 else r for r in self.pool.running]

    @property
    def completion(self) -> list[float | None]:
        """Per task, its completion time (s), or None."""
        return self.pool.end_at

    @property
    def finished(self) -> int:
        """Tasks finished so far."""
        return self.pool.completed

    # -- driving the model ---------------------------------------------------------------

    def start(self) -> bool:
        """Schedule the batch arrivals (and the faults); no decision is open until the first batch arrives."""
        for batch in self.batches:
            self.engine.schedule(self.tasks[batch[0]].arrival_s, self._on_batch_arrival, batch)
        if self.faults is not None:
            self.faults.start()
        return False

    def view(self) -> HeteroView:
        """The read-only view a scheduler sees at the current decision point."""
        return HeteroView(self)

    def apply(self, actions: Sequence[Enqueue], delay: float | None = None) -> bool:
        """Validate all actions, then enqueue the tasks in the order given.

        An empty list passes: the tasks keep waiting at the dispatcher.

        Args:
            actions: ``Enqueue(task, node)`` actions.
            delay: Decision time (s): the tasks are booked now and join their nodes' queues
                ``delay`` later (in flight meanwhile). None or 0: at once.

        Returns:
            True while tasks still wait after a non-empty answer (ask again), else False.

        Raises:
            InvalidActionError: An action is not an ``Enqueue``, names a task that is not
                waiting for a decision (unknown, not yet arrived, already enqueued, or named
                twice) or an unknown node. Nothing is applied then.
        """
        checked = self.dispatcher.take(actions)
        if not checked:
            return False
        now = self.engine.now
        if delay:
            at = now + delay
            later = self.pool.submit_later
            for task, node in checked:
                self._decision_rows.append((now, task, 0, 1, node))
                later(at, task, node)
            return bool(self.dispatcher)
        submit = self.pool.submit
        for task, node in checked:
            self._decision_rows.append((now, task, 0, 1, node))
            submit(now, task, node)
        return bool(self.dispatcher)

    def progress(self) -> float:
        """Fraction of tasks finished."""
        return self.pool.completed / max(1, len(self.tasks))

    def finish(self, trace: Trace) -> None:
        """Fill the trace's tables; the duration matrices go to ``extra``."""
        m, n = len(self.nodes), len(self.tasks)
        trace.workers.update(id=list(range(m)), kind=[nd.kind for nd in self.nodes], capacity=[1] * m)
        fill_single_stage(
            trace,
            self.pool,
            name=[f"{t.type}-{t.size:g}" for t in self.tasks],
            arrival=[t.arrival_s for t in self.tasks],
            rows="start",
        )
        fill_table(trace.decisions, self._decision_rows, ("time", "job", "stage", "limit", "worker"))
        trace.extra["hetero_nodes"] = {
            "id": list(range(m)),
            "name": [nd.name for nd in self.nodes],
            "kind": [nd.kind for nd in self.nodes],
            "cpus": [nd.cpus for nd in self.nodes],
            "disk": [nd.disk for nd in self.nodes],
        }
        trace.extra["hetero_tasks"] = {
            "job": list(range(n)),
            "type": [t.type for t in self.tasks],
            "size": [t.size for t in self.tasks],
            "batch": [self._batch_of[t.arrival_s] for t in self.tasks],
        }
        trace.extra["hetero_durations"] = {
            "job": np.repeat(np.arange(n), m).tolist(),
            "worker": np.tile(np.arange(m), n).tolist(),
            "duration": self.durations.ravel().tolist(),
            "expected": self.expected.ravel().tolist(),
        }
        if self.faults is not None:
            self.faults.finish(trace)

    # -- events --------------------------------------------------------------------------

    def _on_batch_arrival(self, now: float, batch: list[int], _: object) -> bool:
        self.dispatcher.extend(batch)
        return True

    def _run_time(self, task: int, node: int) -> float:
        return self._duration_rows[task][node]

    def _on_done(self, now: float, task: int, node: int) -> bool:
        return bool(self.dispatcher)


class TaskSnapshot(NamedTuple):
    """An immutable copy of a :class:`TaskView`.

    Attributes:
        id: Task id.
        type: Task type.
        size: Size parameter.
        arrival: Arrival time (s).
        expected: Expected duration (s) on each node, by node id.
    """

    id: int
    type: str
    size: float
    arrival: float
    expected: tuple[float, ...]


class NodeSnapshot(NamedTuple):
    """An immutable copy of a :class:`NodeView` (same fields)."""

    id: int
    name: str
    kind: str
    cpus: float | None
    disk: str | None
    queued: int
    busy: bool
    backlog_s: float
    queue_length: int
    running: TaskSnapshot | None = None
    running_since: float | None = None
    queue: tuple[TaskSnapshot, ...] = ()
    alive: bool = True


class _HeteroDecision(QueueDecision):
    """What :class:`HeteroView` and :class:`HeteroSnapshot` share: the contract and its old names."""

    __slots__ = ()

    @property
    def batch(self) -> tuple:
        """The waiting tasks (same as ``waiting``)."""
        return self.waiting

    @property
    def nodes(self) -> tuple:
        """The nodes (same as ``workers``)."""
        return self.workers

    @property
    def num_nodes(self) -> int:
        """Number of nodes."""
        return len(self.workers)

    def backlogs(self) -> np.ndarray:
        """Per node, the expected seconds until it could start a new task (its ``backlog_s``)."""
        return np.array([n.backlog_s for n in self.workers])


class _HeteroSnapshotFields(NamedTuple):
    now: float
    waiting: tuple[TaskSnapshot, ...]
    workers: tuple[NodeSnapshot, ...]
    expected: np.ndarray


class HeteroSnapshot(_HeteroSnapshotFields, _HeteroDecision):
    """An immutable copy of a :class:`HeteroView`: nothing in it changes as the simulation goes on.

    Attributes:
        now: Time of the decision (s).
        waiting: The tasks waiting for a node, in id order.
        workers: All nodes, by id.
        expected: Read-only ``(waiting, nodes)`` expected durations (s), rows in ``waiting`` order.
    """

    __slots__ = ()

    def expected_matrix(self) -> np.ndarray:
        """A writable copy of :attr:`expected`."""
        return self.expected.copy()


class HeteroView(_HeteroDecision):
    """What a scheduler sees at a decision point. Read-only; times in seconds.

    Attributes:
        now: Current time.
        waiting: Tasks waiting for a node, in id order (at least one).
        workers: All nodes, by id.
    """

    __slots__ = ("_m", "now", "waiting", "workers")

    def __init__(self, model: HeteroCluster) -> None:
        self._m = model
        self.now = model.engine.now
        self.waiting = tuple(TaskView(model, i) for i in model.waiting)
        self.workers = tuple(NodeView(model, j, self.now) for j in range(len(model.nodes)))

    def expected(self, task: int, node: int) -> float:
        """Expected duration (s) of a task on a node."""
        return float(self._m.expected[task, node])

    def expected_matrix(self) -> np.ndarray:
        """``(waiting, nodes)`` expected durations (s) of the waiting tasks, rows in ``waiting`` order."""
        return self._m.expected[[t.id for t in self.waiting]].copy()

    def snapshot(self) -> HeteroSnapshot:
        """An immutable copy of this view."""
        exp = self._m.expected

        def task(t: TaskView) -> TaskSnapshot:
            return TaskSnapshot(t.id, t.type, t.size, t.arrival, tuple(exp[t.id].tolist()))

        waiting = tuple(task(t) for t in self.waiting)
        workers = tuple(
            NodeSnapshot(
                n.id,
                n.name,
                n.kind,
                n.cpus,
                n.disk,
                n.queued,
                n.busy,
                n.backlog_s,
                n.queue_length,
                None if n.running is None else task(n.running),
                n.running_since,
                tuple(task(t) for t in n.queue),
                n.alive,
            )
            for n in self.workers
        )
        return HeteroSnapshot(self.now, waiting, workers, frozen(exp[[t.id for t in self.waiting]]))


class TaskView:
    """Read-only view of a task.

    Attributes:
        id: Task id (also its job id in the trace).
        type: Task type, e.g. ``"matmul"``.
        size: Size parameter.
        arrival: Arrival time (s).
    """

    __slots__ = ("_m", "id", "type", "size", "arrival")

    def __init__(self, model: HeteroCluster, task: int) -> None:
        self._m = model
        t = model.tasks[task]
        self.id = task
        self.type = t.type
        self.size = t.size
        self.arrival = t.arrival_s

    @property
    def expected(self) -> tuple[float, ...]:
        """Expected duration (s) on each node, by node id."""
        return tuple(self._m.expected[self.id].tolist())

    def __repr__(self) -> str:
        return f"TaskView(id={self.id}, type={self.type!r}, size={self.size!r})"


class NodeView:
    """Read-only view of a node.

    Attributes:
        id: Node id (its worker id in the trace).
        name: Node name.
        kind: ``"pi5"``, ``"pi4"`` or ``"x86"``.
        cpus: CPU limit of an x86 container (None for a Pi).
        disk: ``"ssd"``/``"hdd"`` for an x86 container (None for a Pi).
        queued: Tasks waiting in its queue, not counting the running one.
        busy: Whether it runs a task now.
        queue_length: Tasks queued or running (``queued`` plus the running one), the count
            shared by every queue family.
        backlog_s: Expected seconds until it could start a new task: what is left of the
            running task's expected duration (never below 0) plus the expected durations of
            the queued tasks.
        alive: The node is up (always, without faults); a dead node holds nothing and takes
            no task.

    ``running``, ``running_since`` and ``queue`` say *which* tasks the node holds, for a
    scheduler that estimates durations itself instead of reading the expected ones.
    """

    __slots__ = ("_m", "id", "name", "kind", "cpus", "disk", "queued", "busy", "queue_length", "backlog_s", "alive")

    def __init__(self, model: HeteroCluster, node: int, now: float) -> None:
        self._m = model
        nd = model.nodes[node]
        self.id = node
        self.name = nd.name
        self.kind = nd.kind
        self.cpus = nd.cpus
        self.disk = nd.disk
        pool = model.pool
        q = pool.queues[node]
        self.queued = len(q)
        running = pool.running[node]
        self.busy = running >= 0
        self.queue_length = self.queued + self.busy
        exp = model.expected
        backlog = float(exp[list(q), node].sum()) if q else 0.0
        if running >= 0:
            backlog += max(0.0, pool.started[node] + float(exp[running, node]) - now)
        self.backlog_s = backlog
        self.alive = pool.alive is None or pool.alive[node]

    # Built on access: most schedulers never look, and a long queue would cost every decision.
    @property
    def running(self) -> TaskView | None:
        """The running task, or None when idle."""
        r = self._m.pool.running[self.id]
        return None if r < 0 else TaskView(self._m, r)

    @property
    def running_since(self) -> float | None:
        """When the running task started (s), or None when idle."""
        return float(self._m.pool.started[self.id]) if self.busy else None

    @property
    def queue(self) -> tuple[TaskView, ...]:
        """The tasks waiting in its queue (not the running one), front first."""
        return tuple(TaskView(self._m, i) for i in self._m.pool.queues[self.id])

    def __repr__(self) -> str:
        return f"NodeView(id={self.id}, name={self.name!r}, backlog_s={self.backlog_s:.3f})"
