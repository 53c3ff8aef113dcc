"""Hetero: batches of typed tasks assigned to the FIFO queues of heterogeneous nodes.

Each task is a job of one stage of one task. Each node is a worker of capacity 1 that runs
the tasks of its own FIFO queue one at a time, back to back. Tasks arrive in batches (all
tasks with the same arrival time); a batch's arrival is the only decision point. There the
scheduler sees the whole batch, each task's expected duration on every node and each node's
backlog, and answers with :class:`~schedlab.sim.actions.Enqueue` actions: ``Enqueue(task,
node)`` appends the task to that node's queue, so the order of the actions for a node is the
order its tasks run in. The decision stays open until every task of the batch is enqueued;
a scheduler may answer with the whole batch at once or a few tasks at a time, but not with
nothing.

Durations are given to the model as two ``(tasks, nodes)`` matrices: the expected durations
the scheduler sees and the actual ones the nodes take (expected times noise, see
:mod:`schedlab.families.hetero.tasks`). Both go into the trace, so metrics such as the
makespan lower bound are computed from the trace alone.

Times are in seconds.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from heapq import heappush

import numpy as np

from schedlab.errors import InvalidActionError
from schedlab.families.hetero.tasks import Node, Task
from schedlab.sim.actions import Enqueue
from schedlab.sim.engine import Engine
from schedlab.sim.trace import Trace, fill_table

__all__ = ["HeteroCluster", "HeteroView", "TaskView", "NodeView"]

_WAITING, _PENDING, _ENQUEUED = 0, 1, 2


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
        arrivals = sorted({t.arrival_s for t in self.tasks})
        self._batch_of = {a: b for b, a in enumerate(arrivals)}
        #: Batches in arrival order: task ids in id order.
        self.batches = [[i for i, t in enumerate(self.tasks) if t.arrival_s == a] for a in arrivals]
        m = len(self.nodes)
        self.queues: list[deque[int]] = [deque() for _ in range(m)]
        self.running: list[int | None] = [None] * m
        self.run_start = [0.0] * m
        self.pending: list[int] = []  # tasks of the open batch not yet enqueued, in id order
        #: Per task: _WAITING before it arrives, _PENDING until enqueued, then _ENQUEUED.
        self._state = [_WAITING] * len(self.tasks)
        self.completion: list[float | None] = [None] * len(self.tasks)
        self.finished = 0
        self._task_rows: list[tuple] = []
        self._decision_rows: list[tuple] = []
        self._done = self._on_task_done

    # -- driving the model ---------------------------------------------------------------

    def start(self) -> bool:
        """Schedule the batch arrivals. No decision is open yet: the first opens when its event runs."""
        for batch in self.batches:
            self.engine.schedule(self.tasks[batch[0]].arrival_s, self._on_batch_arrival, batch)
        return False

    def view(self) -> HeteroView:
        """The read-only view a scheduler sees at the current decision point."""
        return HeteroView(self)

    def apply(self, actions: Sequence[Enqueue]) -> bool:
        """Validate all actions, then enqueue the tasks in the order given.

        Returns:
            True while tasks of the batch are still waiting for a node (ask again), False
            once every one is enqueued.

        Raises:
            InvalidActionError: An action is not an ``Enqueue``, names a task that is not
                waiting for a decision (unknown, not yet arrived, already enqueued, or named
                twice) or an unknown node; or no action while tasks wait. Nothing is applied
                then.
        """
        if not actions and self.pending:
            raise InvalidActionError(
                f"{len(self.pending)} task(s) of the batch still wait for a node (view.batch); "
                "return at least one Enqueue(task, node)"
            )
        seen: set[int] = set()
        checked = [self._validate(a, seen) for a in actions]
        now = self.engine.now
        for task, node in checked:
            self._state[task] = _ENQUEUED
            self._decision_rows.append((now, task, 0, 1, node))
            if self.running[node] is None:
                self._launch(node, task, now)
            else:
                self.queues[node].append(task)
        self.pending = [i for i in self.pending if self._state[i] == _PENDING]
        return bool(self.pending)

    def progress(self) -> float:
        """Fraction of tasks finished."""
        return self.finished / max(1, len(self.tasks))

    def finish(self, trace: Trace) -> None:
        """Fill the trace's tables; the duration matrices go to ``extra``."""
        m, n = len(self.nodes), len(self.tasks)
        trace.workers.update(id=list(range(m)), kind=[nd.kind for nd in self.nodes], capacity=[1] * m)
        trace.jobs.update(
            id=list(range(n)),
            name=[f"{t.type}-{t.size:g}" for t in self.tasks],
            arrival=[t.arrival_s for t in self.tasks],
            completion=list(self.completion),
        )
        trace.stages.update(job=list(range(n)), stage=[0] * n, num_tasks=[1] * n, parents=[[] for _ in range(n)])
        fill_table(trace.tasks, self._task_rows, ("job", "stage", "task", "worker", "start", "end"))
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

    # -- events --------------------------------------------------------------------------

    def _on_batch_arrival(self, now: float, batch: list[int], _: object) -> bool:
        self.pending.extend(batch)
        for i in batch:
            self._state[i] = _PENDING
        return True

    def _launch(self, node: int, task: int, now: float) -> None:
        end = now + float(self.durations[task, node])
        self.running[node] = task
        self.run_start[node] = now
        self._task_rows.append((task, 0, 0, node, now, end))
        heappush(self.engine.heap, (end, next(self.engine.seq), self._done, node, task))

    def _on_task_done(self, now: float, node: int, task: int) -> bool:
        self.completion[task] = now
        self.finished += 1
        q = self.queues[node]
        if q:
            self._launch(node, q.popleft(), now)
        else:
            self.running[node] = None
        return False

    def _validate(self, a: object, seen: set[int]) -> tuple[int, int]:
        if not isinstance(a, Enqueue):
            raise InvalidActionError(
                f"hetero expects Enqueue(task, worker) actions (a task joins that node's FIFO queue), got {a!r}"
            )
        task, node = a
        if isinstance(task, bool) or not isinstance(task, (int, np.integer)) or not 0 <= task < len(self.tasks):
            raise InvalidActionError(f"{a!r}: no task {task!r} (tasks are 0..{len(self.tasks) - 1})")
        task = int(task)
        if self._state[task] != _PENDING or task in seen:
            if task in seen:
                why = "is named twice in these actions"
            elif self._state[task] == _ENQUEUED:
                why = "is already enqueued"
            else:
                why = f"has not arrived yet (it arrives at {self.tasks[task].arrival_s!r} s)"
            raise InvalidActionError(f"{a!r}: task {task} {why}; the tasks waiting for a node are view.batch")
        seen.add(task)
        m = len(self.nodes)
        if isinstance(node, bool) or not isinstance(node, (int, np.integer)) or not 0 <= node < m:
            raise InvalidActionError(f"{a!r}: no node {node!r} (nodes are 0..{m - 1})")
        return task, int(node)


class HeteroView:
    """What a scheduler sees when a batch arrives. Read-only; times in seconds.

    Attributes:
        now: Current time.
        batch: Tasks waiting for a node, in id order.
        nodes: All nodes, by id.
    """

    __slots__ = ("_m", "now", "batch", "nodes")

    def __init__(self, model: HeteroCluster) -> None:
        self._m = model
        self.now = model.engine.now
        self.batch = tuple(TaskView(model, i) for i in model.pending)
        self.nodes = tuple(NodeView(model, j, self.now) for j in range(len(model.nodes)))

    @property
    def num_nodes(self) -> int:
        """Number of nodes."""
        return len(self.nodes)

    def expected(self, task: int, node: int) -> float:
        """Expected duration (s) of a task on a node."""
        return float(self._m.expected[task, node])

    def backlogs(self) -> np.ndarray:
        """Per node, the expected seconds until it could start a new task (``NodeView.backlog_s``)."""
        return np.array([n.backlog_s for n in self.nodes])

    def expected_matrix(self) -> np.ndarray:
        """``(batch, nodes)`` expected durations (s) of the waiting tasks, rows in ``batch`` order."""
        return self._m.expected[[t.id for t in self.batch]].copy()


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
        backlog_s: Expected seconds until it could start a new task: what is left of the
            running task's expected duration (never below 0) plus the expected durations of
            the queued tasks.
    """

    __slots__ = ("id", "name", "kind", "cpus", "disk", "queued", "busy", "backlog_s")

    def __init__(self, model: HeteroCluster, node: int, now: float) -> None:
        nd = model.nodes[node]
        self.id = node
        self.name = nd.name
        self.kind = nd.kind
        self.cpus = nd.cpus
        self.disk = nd.disk
        q = model.queues[node]
        self.queued = len(q)
        running = model.running[node]
        self.busy = running is not None
        exp = model.expected
        backlog = float(exp[list(q), node].sum()) if q else 0.0
        if running is not None:
            backlog += max(0.0, model.run_start[node] + float(exp[running, node]) - now)
        self.backlog_s = backlog

    def __repr__(self) -> str:
        return f"NodeView(id={self.id}, name={self.name!r}, backlog_s={self.backlog_s:.3f})"
