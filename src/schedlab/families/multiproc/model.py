"""Multiproc: tasks assigned on arrival to CPUs of different speeds, each with a FIFO queue.

Each task is a job with one stage of one task. When it arrives it waits at the dispatcher until
the scheduler appends it to one CPU's queue (``Enqueue(task, cpu)``); a CPU runs its queue in
order, one task at a time, a task taking ``work / speed`` seconds. A decision point opens at
every arrival, and at every completion while tasks wait at the dispatcher; the scheduler may
place any of the waiting tasks, several at once, or none (an empty answer passes and the tasks
keep waiting). Schedulers see each task's declared size; its true work
(declared size times an estimation error) is known only to the simulator, which records with
every decision what an oracle knowing it would have picked: the CPU where the task completes
first. Completion, and so an SLA violation, is an outcome of the simulated schedule.

With faults (the scenario's ``faults`` section, docs/faults.md), a CPU that crashes loses its
running task and its queue: they wait at the dispatcher again, in arrival order, and a
decision point opens; the view marks the CPU dead (``CpuView.alive``) until it is repaired.

Times are in seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from heapq import heappush
from typing import NamedTuple

from schedlab.families.multiproc.tasks import TaskSet
from schedlab.sim.actions import Enqueue
from schedlab.sim.engine import Engine
from schedlab.sim.faults import FaultInjector, FaultSpec
from schedlab.sim.queues import Dispatcher, FifoWorkers, QueueDecision, attach_faults, fill_single_stage
from schedlab.sim.trace import Trace, fill_table

__all__ = ["Multiprocessor", "MultiprocView", "MultiprocSnapshot", "TaskView", "CpuView"]


class TaskView(NamedTuple):
    """A task waiting for a CPU. Times in seconds, sizes in work units.

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
        alive: The CPU is up (always, without faults); a dead CPU takes no task.
    """

    id: int
    speed: float
    queue_length: int
    work_remaining: float
    busy: bool
    alive: bool = True


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
        # queued_total[0]: true work of the queued tasks (for the oracle); [1]: their declared sizes.
        self.pool = FifoWorkers(engine, n, m, self._run_time, self._on_done, totals=(self.work, self.size))
        self.dispatcher = Dispatcher(m, n, family="multiproc", item="task", worker="CPU")
        self._decision_rows: list[tuple] = []
        self._heap = engine.heap
        self._seq = engine.seq
        #: The run's faults, or None (see :meth:`enable_faults`).
        self.faults: FaultInjector | None = None

    def enable_faults(self, spec: FaultSpec, rng) -> None:
        """Run with faults (before :meth:`start`): CPUs crash and tasks straggle as ``spec`` says.

        Args:
            spec: The faults, in seconds.
            rng: Their own stream (:func:`~schedlab.sim.faults.fault_stream`).
        """
        self.faults = attach_faults(self.engine, spec, rng, self.pool, self.dispatcher)

    @property
    def waiting(self) -> list[int]:
        """Ids of the tasks waiting at the dispatcher, in arrival order."""
        return self.dispatcher.waiting

    @property
    def completed(self) -> int:
        """Tasks completed so far."""
        return self.pool.completed

    # -- driving the model ---------------------------------------------------------------

    def start(self) -> bool:
        """Schedule the first arrival (and the faults); no decision is open yet."""
        if self.arrival:
            self.engine.schedule(self.arrival[0], self._on_arrival, 0)
        if self.faults is not None:
            self.faults.start()
        return False

    def view(self) -> MultiprocView:
        """The read-only view of the open decision: the waiting tasks and the CPUs."""
        return MultiprocView(self)

    def apply(self, actions: Sequence[Enqueue], delay: float | None = None) -> bool:
        """Append waiting tasks to the queues of the CPUs the actions name, in order.

        All actions are checked before any is applied. Each decision is recorded with the
        oracle's pick for that task, given the tasks placed before it. An empty list passes:
        the tasks keep waiting at the dispatcher.

        Args:
            actions: ``Enqueue(task, cpu)`` actions.
            delay: Decision time (s): the tasks are booked now and join their CPUs' queues
                ``delay`` later (in flight meanwhile); the oracle's pick is for a task joining
                then. None or 0: at once.

        Returns:
            True while tasks still wait after a non-empty answer (ask again), else False.

        Raises:
            InvalidActionError: An action is not an ``Enqueue``, names a task that is not
                waiting (or one named twice), or an unknown CPU. Nothing is applied then.
        """
        checked = self.dispatcher.take(actions)
        if not checked:
            return False
        now = self.engine.now
        cpus = range(self.num_cpus)
        if delay:
            at = now + delay
            for i, cpu in checked:
                done = self.true_completion_times(i, at)
                best = min(cpus, key=done.__getitem__)
                self._decision_rows.append((now, i, 0, 1, cpu, best, done[cpu] - done[best]))
                self.pool.submit_later(at, i, cpu)
            return bool(self.dispatcher)
        for i, cpu in checked:
            done = self.true_completion_times(i)
            best = min(cpus, key=done.__getitem__)
            self._decision_rows.append((now, i, 0, 1, cpu, best, done[cpu] - done[best]))
            self.pool.submit(now, i, cpu)
        return bool(self.dispatcher)

    def true_completion_times(self, task: int | None = None, at: float | None = None) -> list[float]:
        """Per CPU, when a task would complete there (s), from the true work.

        Tasks in flight to a CPU (booked by a decision whose effect is delayed) join its queue
        when they land, before the task.

        Args:
            task: The task; default the one waiting longest.
            at: When the task would join the CPU's queue (s); default now.

        Ties in the oracle's pick go to the lowest CPU id. A dead CPU gets ``inf``.
        """
        i = self.dispatcher.waiting[0] if task is None else task
        now, pool = self.engine.now, self.pool
        w = self.work[i]
        queued = pool.queued_total[0]
        flying = pool.in_flight
        work = self.work
        alive = pool.alive
        out = []
        for c, speed in enumerate(self.speeds):
            if alive is not None and not alive[c]:
                out.append(float("inf"))
                continue
            r = pool.running[c]
            base = pool.planned_end[r] if r >= 0 else now
            if at is None and not flying[c]:
                out.append(base + (queued[c] + w) / speed)
                continue
            end = base + queued[c] / speed
            for j, lands in flying[c]:
                end = (end if end > lands else lands) + work[j] / speed
            join = now if at is None else at
            out.append((end if end > join else join) + w / speed)
        return out

    def progress(self) -> float:
        """Fraction of tasks completed."""
        return self.pool.completed / max(1, len(self.arrival))

    def finish(self, trace: Trace) -> None:
        """Fill the trace's tables (decisions carry ``worker``, ``oracle`` and ``regret``)."""
        n = self.num_cpus
        trace.workers.update(id=list(range(n)), kind=["cpu"] * n, capacity=[1] * n, speed=list(self.speeds))
        fill_single_stage(
            trace,
            self.pool,
            name="task",
            arrival=self.arrival,
            size=list(self.size),
            work=list(self.work),
            priority=list(self.priority),
            deadline=list(self.deadline),
            phase=list(self.phase),
        )
        names = ("time", "job", "stage", "limit", "worker", "oracle", "regret")
        fill_table(trace.decisions, self._decision_rows, names)
        if self.faults is not None:
            self.faults.finish(trace)

    # -- event handlers ------------------------------------------------------------------

    def _on_arrival(self, now: float, i: int, _: object) -> bool:
        self.dispatcher.add(i)
        if i + 1 < len(self.arrival):
            heappush(self._heap, (self.arrival[i + 1], next(self._seq), self._on_arrival, i + 1, None))
        return True

    def _run_time(self, i: int, cpu: int) -> float:
        return self.work[i] / self.speeds[cpu]

    def _on_done(self, now: float, i: int, cpu: int) -> bool:
        return bool(self.dispatcher)


class _MultiprocDecision(QueueDecision):
    """What :class:`MultiprocView` and :class:`MultiprocSnapshot` share: the contract and its old names."""

    __slots__ = ()

    @property
    def task(self) -> TaskView:
        """The task waiting longest (the only one unless the scheduler passed before)."""
        return self.waiting[0]

    @property
    def cpus(self) -> tuple[CpuView, ...]:
        """The CPUs (same as ``workers``)."""
        return self.workers


class _MultiprocSnapshotFields(NamedTuple):
    now: float
    waiting: tuple[TaskView, ...]
    workers: tuple[CpuView, ...]


class MultiprocSnapshot(_MultiprocSnapshotFields, _MultiprocDecision):
    """An immutable copy of a :class:`MultiprocView` (without the privileged oracle).

    Attributes:
        now: Time of the decision (s).
        waiting: The tasks waiting for a CPU, in arrival order.
        workers: Every CPU, by id.
    """

    __slots__ = ()


class MultiprocView(_MultiprocDecision):
    """What a scheduler sees at a decision point. Read-only; times in seconds.

    Attributes:
        now: Current time.
        waiting: The tasks waiting for a CPU, in arrival order (at least one).
        workers: Every CPU, by id.
    """

    __slots__ = ("_m", "now", "waiting", "workers")

    def __init__(self, model: Multiprocessor) -> None:
        self._m = model
        now = self.now = model.engine.now
        arrival, size, priority, deadline = model.arrival, model.size, model.priority, model.deadline
        self.waiting = tuple(TaskView(i, arrival[i], size[i], priority[i], deadline[i]) for i in model.waiting)
        pool = model.pool
        queued_size = pool.queued_total[1]
        alive = pool.alive
        cpus = []
        for c, speed in enumerate(model.speeds):
            r = pool.running[c]
            left = queued_size[c]
            if r >= 0:
                left += max(0.0, size[r] - (now - pool.started[c]) * speed)
            if alive is None:
                cpus.append(CpuView(c, speed, len(pool.queues[c]) + (r >= 0), left, r >= 0))
            else:
                cpus.append(CpuView(c, speed, len(pool.queues[c]) + (r >= 0), left, r >= 0, alive[c]))
        self.workers = tuple(cpus)

    def snapshot(self) -> MultiprocSnapshot:
        """An immutable copy of this view (without :meth:`true_completion_times`)."""
        return MultiprocSnapshot(self.now, self.waiting, self.workers)

    def true_completion_times(self, task: int | None = None) -> list[float]:
        """Privileged: per CPU, when a task would truly complete there (s).

        Uses the true work of every task, which no real scheduler knows. Meant for the oracle
        baseline and for labels in supervised learning, never for a scheduler under test.

        Args:
            task: A waiting task's id; default :attr:`task`.
        """
        return self._m.true_completion_times(task)
