"""Multiproc: tasks assigned on arrival to CPUs of different speeds, each with a FIFO queue.

Each task is a job with one stage of one task. When it arrives the scheduler appends it to one
CPU's queue (``Enqueue(task, cpu)``); a CPU runs its queue in order, one task at a time, a task
taking ``work / speed`` seconds. Schedulers see each task's declared size; its true work
(declared size times an estimation error) is known only to the simulator, which records with
every decision what an oracle knowing it would have picked: the CPU where the task completes
first. Completion, and so an SLA violation, is an outcome of the simulated schedule.

Times are in seconds.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from heapq import heappush
from typing import NamedTuple

from schedlab.families.multiproc.tasks import TaskSet
from schedlab.sim.actions import Enqueue, single_enqueue
from schedlab.sim.engine import Engine
from schedlab.sim.trace import Trace, fill_table

__all__ = ["Multiprocessor", "MultiprocView", "TaskView", "CpuView"]


class TaskView(NamedTuple):
    """The task waiting for a CPU. Times in seconds, sizes in work units.

    Attributes:
        id: Task id (the job id in the trace).
        arrival: Arrival time.
        size: Declared size (the true work differs by an estimation error).
        priority: 1 is the most urgent.
        deadline: Absolute SLA deadline; completing later violates the SLA.
    """

    id: int
    arrival: float
    size: float
    priority: int
    deadline: float


class CpuView(NamedTuple):
    """A CPU as a scheduler sees it.

    Attributes:
        id: CPU id.
        speed: Work units per second.
        queue_length: Tasks waiting or running.
        work_remaining: Estimated work left (work units): declared sizes of the waiting tasks
            plus what the running task's declared size leaves after the time it has run (at
            least 0).
        busy: A task is running.
    """

    id: int
    speed: float
    queue_length: int
    work_remaining: float
    busy: bool


class Multiprocessor:
    """The multiproc family's model on an :class:`~schedlab.sim.engine.Engine`.

    Args:
        engine: The engine this model schedules its events on.
        tasks: The tasks, in arrival order.
        speeds: One speed per CPU (work units per second, positive).

    Raises:
        ValueError: No CPU, or a speed that is not positive.
    """

    family = "multiproc"
    time_unit = "s"

    def __init__(self, engine: Engine, tasks: TaskSet, speeds: Sequence[float]) -> None:
        if len(speeds) == 0:
            raise ValueError("need at least one CPU")
        if any(not s > 0 for s in speeds):
            raise ValueError(f"CPU speeds must be positive, got {list(speeds)}")
        self.engine = engine
        self.speeds = [float(s) for s in speeds]
        self.num_cpus = n = len(self.speeds)
        self.arrival = tasks.arrival.tolist()
        self.size = tasks.size.tolist()
        self.work = tasks.work.tolist()
        self.priority = tasks.priority.tolist()
        self.deadline = tasks.deadline.tolist()
        self.phase = tasks.phase.tolist()
        m = len(self.arrival)
        self.cpu_of = [-1] * m
        self.start_at: list[float | None] = [None] * m
        self.end_at: list[float | None] = [None] * m
        self._planned_end = [0.0] * m
        self.waiting: list[deque[int]] = [deque() for _ in range(n)]
        self.running = [-1] * n
        self.run_end = [0.0] * n
        self.wait_work = [0.0] * n  # true work of the waiting tasks
        self.wait_size = [0.0] * n  # declared sizes of the waiting tasks
        self.pending = -1
        self.completed = 0
        self._decision_rows: list[tuple] = []
        self._heap = engine.heap
        self._seq = engine.seq

    # -- driving the model ---------------------------------------------------------------

    def start(self) -> bool:
        """Schedule the first arrival; no decision is open yet."""
        if self.arrival:
            self.engine.schedule(self.arrival[0], self._on_arrival, 0)
        return False

    def view(self) -> MultiprocView:
        """The read-only view of the open decision: the task and the CPUs."""
        return MultiprocView(self)

    def apply(self, actions: Sequence[Enqueue]) -> bool:
        """Append the waiting task to the queue of the CPU named by the one action.

        Returns:
            False: a decision is always closed by its one action.

        Raises:
            InvalidActionError: Not exactly one action, not an ``Enqueue``, another task, or an
                unknown CPU.
        """
        i = self.pending
        cpu = single_enqueue(actions, i, self.num_cpus, family="multiproc", item="task", worker="CPU")
        now = self.engine.now
        done = self.true_completion_times()
        best = min(range(self.num_cpus), key=done.__getitem__)
        self._decision_rows.append((now, i, 0, 1, cpu, best, done[cpu] - done[best]))
        self.cpu_of[i] = cpu
        self.pending = -1
        if self.running[cpu] < 0:
            self._run(now, i, cpu)
        else:
            self.waiting[cpu].append(i)
            self.wait_work[cpu] += self.work[i]
            self.wait_size[cpu] += self.size[i]
        return False

    def true_completion_times(self) -> list[float]:
        """Per CPU, when the waiting task would complete there (s), from the true work.

        Ties in the oracle's pick go to the lowest CPU id.
        """
        i, now = self.pending, self.engine.now
        w = self.work[i]
        out = []
        for c, speed in enumerate(self.speeds):
            base = self.run_end[c] if self.running[c] >= 0 else now
            out.append(base + (self.wait_work[c] + w) / speed)
        return out

    def progress(self) -> float:
        """Fraction of tasks completed."""
        return self.completed / max(1, len(self.arrival))

    def finish(self, trace: Trace) -> None:
        """Fill the trace's tables (decisions carry ``worker``, ``oracle`` and ``regret``)."""
        n, m = self.num_cpus, len(self.arrival)
        trace.workers.update(id=list(range(n)), kind=["cpu"] * n, capacity=[1] * n, speed=list(self.speeds))
        trace.jobs.update(
            id=list(range(m)),
            name=["task"] * m,
            arrival=list(self.arrival),
            completion=list(self.end_at),
            size=list(self.size),
            work=list(self.work),
            priority=list(self.priority),
            deadline=list(self.deadline),
            phase=list(self.phase),
        )
        trace.stages.update(job=list(range(m)), stage=[0] * m, num_tasks=[1] * m, parents=[[] for _ in range(m)])
        started = [i for i in range(m) if self.start_at[i] is not None]
        trace.tasks.update(
            job=started,
            stage=[0] * len(started),
            task=[0] * len(started),
            worker=[self.cpu_of[i] for i in started],
            start=[self.start_at[i] for i in started],
            end=[self._planned_end[i] for i in started],
        )
        names = ("time", "job", "stage", "limit", "worker", "oracle", "regret")
        fill_table(trace.decisions, self._decision_rows, names)

    # -- event handlers ------------------------------------------------------------------

    def _on_arrival(self, now: float, i: int, _: object) -> bool:
        self.pending = i
        if i + 1 < len(self.arrival):
            heappush(self._heap, (self.arrival[i + 1], next(self._seq), self._on_arrival, i + 1, None))
        return True

    def _run(self, now: float, i: int, cpu: int) -> None:
        end = now + self.work[i] / self.speeds[cpu]
        self.running[cpu] = i
        self.run_end[cpu] = end
        self.start_at[i] = now
        self._planned_end[i] = end
        heappush(self._heap, (end, next(self._seq), self._on_done, i, cpu))

    def _on_done(self, now: float, i: int, cpu: int) -> bool:
        self.end_at[i] = now
        self.completed += 1
        self.running[cpu] = -1
        q = self.waiting[cpu]
        if q:
            nxt = q.popleft()
            self.wait_work[cpu] -= self.work[nxt]
            self.wait_size[cpu] -= self.size[nxt]
            if not q:
                # Running sums drift by rounding; an empty queue resets them exactly.
                self.wait_work[cpu] = self.wait_size[cpu] = 0.0
            self._run(now, nxt, cpu)
        return False


class MultiprocView:
    """What a scheduler sees when a task arrives. Read-only; times in seconds.

    Attributes:
        now: Current time.
        task: The task to place.
        cpus: Every CPU, by id.
    """

    __slots__ = ("_m", "now", "task", "cpus")

    def __init__(self, model: Multiprocessor) -> None:
        self._m = model
        now = self.now = model.engine.now
        i = model.pending
        self.task = TaskView(i, model.arrival[i], model.size[i], model.priority[i], model.deadline[i])
        cpus = []
        for c, speed in enumerate(model.speeds):
            r = model.running[c]
            left = model.wait_size[c]
            if r >= 0:
                left += max(0.0, model.size[r] - (now - model.start_at[r]) * speed)
            cpus.append(CpuView(c, speed, len(model.waiting[c]) + (r >= 0), left, r >= 0))
        self.cpus = tuple(cpus)

    def true_completion_times(self) -> list[float]:
        """Privileged: per CPU, when the task would truly complete there (s).

        Uses the true work of every task, which no real scheduler knows. Meant for the oracle
        baseline and for labels in supervised learning, never for a scheduler under test.
        """
        return self._m.true_completion_times()
