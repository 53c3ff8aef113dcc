"""Shared parts of the queue families, where each worker runs its own FIFO queue.

In these families a scheduler answers with :class:`~schedlab.sim.actions.Enqueue` actions:
``Enqueue(item, worker)`` appends a waiting item to that worker's queue, and the worker runs
its queue in order, one item at a time. This module holds what the families' models share:

- :class:`FifoWorkers`: the workers, their queues, the running items and the completion
  events on the engine; a family supplies how long an item takes on a worker and what happens
  when one completes.
- :class:`Dispatcher`: the items waiting for a decision, and the check of a scheduler's answer
  (all actions are validated before any is applied).
- :class:`QueueDecision`: what every queue family's view and its snapshot share.
- :func:`enqueue_actions`, :func:`frozen`: small helpers for the views and their snapshots.
- :func:`fill_single_stage`: the jobs, stages and tasks tables of a trace in which every job
  is one stage of one task.
- :func:`attach_faults`: worker crashes and stragglers (:mod:`schedlab.sim.faults`) for a
  model built on the two.

The decision contract of these families: at a decision point a scheduler returns ``Enqueue``
actions for any of the waiting items, several at once if it likes. An empty answer passes:
nothing is applied, the decision point closes and the items keep waiting at the dispatcher,
to be offered again at the next decision point (the next arrival, or the next completion at a
worker while something waits).

With faults (:func:`attach_faults`), a worker that crashes loses its running item and its
queue: both go back to the dispatcher, in the order they arrived there (so ``waiting[0]`` is
still the item waiting longest), and a decision point opens. An item that reaches a dead
worker later (one in flight when it died) goes back the same way when it arrives. A dead
worker comes back empty after the repair time, or never; while it is dead, naming it in an
``Enqueue`` is an invalid action.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Collection, Iterable, Sequence
from heapq import heappush
from typing import Any

import numpy as np

from schedlab.sim.actions import Enqueue
from schedlab.sim.engine import Engine
from schedlab.sim.errors import InvalidActionError
from schedlab.sim.faults import FaultInjector, FaultSpec
from schedlab.sim.trace import Trace

__all__ = [
    "FifoWorkers",
    "Dispatcher",
    "QueueDecision",
    "enqueue_actions",
    "frozen",
    "fill_single_stage",
    "attach_faults",
]

#: ``duration(item, worker) -> float``: how long ``item`` runs on ``worker``, asked when it starts.
Duration = Callable[[int, int], float]
#: ``on_done(now, item, worker) -> bool``: an item completed; True opens a decision point.
OnDone = Callable[[float, int, int], Any]
#: ``release(now, item, worker, started)``: with faults, an item left a worker without
#: completing there (its worker died; ``started`` is when it started running there, None if
#: it was queued or reached the worker dead).
Release = Callable[[float, int, int, "float | None"], None]


class FifoWorkers:
    """Workers that each run the items of their own FIFO queue, one at a time, back to back.

    Items are integer ids ``0..num_items-1`` (the job ids of a single-stage trace), workers
    ``0..num_workers-1``. An item submitted to an idle worker starts at once; otherwise it joins
    the back of that worker's queue. When it starts, its end is fixed (``now + duration(item,
    worker)``) and a completion event is pushed onto the engine; when that event runs, the item
    is recorded as done, ``on_done`` is called, and the worker starts the next item of its queue
    at the same instant.

    Every start takes exactly one number from the engine's sequence counter, so event order is
    the order of starts; families rely on it for reproducible traces.

    Args:
        engine: The engine the completion events go on.
        num_workers: Number of workers.
        num_items: Number of items.
        duration: ``duration(item, worker) -> float`` in the engine's unit, asked at the
            item's start (so it may depend on the worker's state then).
        on_done: ``on_done(now, item, worker)``, called when an item completes, before the
            worker takes its next item; its result is the event's (true opens a decision
            point). None: completions never open one.
        totals: Per-item weights (e.g. declared work) whose sums over each worker's queue are
            kept in :attr:`queued_total`, in the order given.

    Raises:
        ValueError: No worker, or a negative number of items.

    Attributes:
        queues: Per worker, the items waiting in its queue (not the running one), front first.
        running: Per worker, the running item, or -1 when idle.
        started: Per worker, when its running item started (stale while idle).
        worker_of: Per item, the worker it was submitted to, or -1.
        start_at: Per item, its start, or None.
        planned_end: Per item, its end as fixed at its start (0.0 before).
        end_at: Per item, its completion, or None.
        order: Items in the order they started.
        completed: Number of items completed.
        in_flight: Per worker, ``(item, at)`` pairs of the items given to it with
            :meth:`submit_later` that have not reached it yet, in the order they will.
        queued_total: Per weight in ``totals``, per worker, the sum of that weight over the
            items in its queue. Running sums, reset to exactly 0.0 whenever the queue empties
            (they would otherwise keep the rounding error of every addition and removal).
        alive: With faults, per worker, whether it is up (the injector's list); None without.
        failed: With faults, ``(item, worker, start, end)`` per attempt a crash cut short, in
            the order of the crashes; None without.
    """

    __slots__ = (
        "queues",
        "running",
        "started",
        "worker_of",
        "start_at",
        "planned_end",
        "end_at",
        "order",
        "completed",
        "in_flight",
        "queued_total",
        "alive",
        "failed",
        "_totals",
        "_duration",
        "_on_done",
        "_heap",
        "_seq",
        "_engine",
        "_bounce",
    )

    def __init__(
        self,
        engine: Engine,
        num_workers: int,
        num_items: int,
        duration: Duration,
        on_done: OnDone | None = None,
        *,
        totals: Sequence[Sequence[float]] = (),
    ) -> None:
        if num_workers < 1:
            raise ValueError(f"need at least one worker, got {num_workers}")
        if num_items < 0:
            raise ValueError(f"the number of items cannot be negative, got {num_items}")
        self.queues: list[deque[int]] = [deque() for _ in range(num_workers)]
        self.running = [-1] * num_workers
        self.started = [0.0] * num_workers
        self.worker_of = [-1] * num_items
        self.start_at: list[float | None] = [None] * num_items
        self.planned_end = [0.0] * num_items
        self.end_at: list[float | None] = [None] * num_items
        self.order: list[int] = []
        self.completed = 0
        self.in_flight: list[deque[tuple[int, float]]] = [deque() for _ in range(num_workers)]
        self.queued_total = [[0.0] * num_workers for _ in totals]
        # (sums, weights) pairs, empty for most families, so the hot path pays one falsy test.
        self._totals = list(zip(self.queued_total, totals))
        self._duration = duration
        self._on_done = on_done
        self._heap = engine.heap
        self._seq = engine.seq
        self._engine = engine
        self.alive: list[bool] | None = None
        self.failed: list[tuple[int, int, float, float]] | None = None
        self._bounce: Callable[[float, int, int], Any] | None = None

    @property
    def num_workers(self) -> int:
        """Number of workers."""
        return len(self.running)

    def queue_length(self, worker: int) -> int:
        """Items queued or running at ``worker``."""
        return len(self.queues[worker]) + (self.running[worker] >= 0)

    def queue_lengths(self) -> list[int]:
        """Per worker, items queued or running there."""
        return [len(q) + (r >= 0) for q, r in zip(self.queues, self.running)]

    def submit(self, now: float, item: int, worker: int) -> None:
        """Give ``item`` to ``worker``: start it now if the worker is idle, else queue it.

        Also usable as an event handler (``handler(time, item, worker)``, returning a false
        value), for an item that reaches its worker some time after the decision. With faults,
        an item that reaches a dead worker goes back (see :func:`attach_faults`), and the
        result says whether that opens a decision point.
        """
        alive = self.alive
        if alive is not None and not alive[worker]:
            self.worker_of[item] = -1
            return self._bounce(now, item, worker)
        self.worker_of[item] = worker
        if self.running[worker] < 0:
            self._start(now, item, worker)
        else:
            self.queues[worker].append(item)
            for sums, weight in self._totals:
                sums[worker] += weight[item]

    def submit_later(self, at: float, item: int, worker: int) -> None:
        """Book ``item`` for ``worker`` now; it reaches the worker at ``at`` and is submitted then.

        Meanwhile it is in flight (:attr:`in_flight`): in no queue, and the worker keeps
        running what it has. For a decision whose effect is delayed (decision time charged).
        Items booked with equal or later ``at`` reach a worker in the order they were booked.
        """
        self.worker_of[item] = worker
        self.in_flight[worker].append((item, at))
        heappush(self._heap, (at, next(self._seq), self._land, item, worker))

    def _land(self, now: float, item: int, worker: int) -> bool:
        flying = self.in_flight[worker]
        if flying[0][0] == item:
            flying.popleft()
        else:  # booked out of order of arrival: not the usual case
            flying.remove(next(p for p in flying if p[0] == item))
        return bool(self.submit(now, item, worker))

    def _start(self, now: float, item: int, worker: int) -> None:
        end = now + self._duration(item, worker)
        self.running[worker] = item
        self.started[worker] = now
        self.start_at[item] = now
        self.planned_end[item] = end
        self.order.append(item)
        # heappush straight onto the engine's heap: this runs once per item (see engine.py).
        heappush(self._heap, (end, next(self._seq), self._done, item, worker))

    def _done(self, now: float, item: int, worker: int) -> Any:
        self.end_at[item] = now
        self.completed += 1
        # The family records the completion before the worker moves on, so it still sees the
        # finished item as the worker's running one.
        opened = self._on_done(now, item, worker) if self._on_done is not None else False
        q = self.queues[worker]
        if q:
            nxt = q.popleft()
            for sums, weight in self._totals:
                sums[worker] = sums[worker] - weight[nxt] if q else 0.0
            self._start(now, nxt, worker)
        else:
            self.running[worker] = -1
        return opened

    # -- faults --------------------------------------------------------------------------

    def enable_faults(self, faults: FaultInjector, bounce: Callable[[float, int, int], Any]) -> None:
        """Run with faults: stragglers slow attempts down, :meth:`crash` empties dead workers.

        Args:
            faults: The run's injector; its ``alive`` list becomes :attr:`alive`.
            bounce: ``bounce(now, item, worker)``, called for an item that reaches a dead
                worker; its result is the arrival event's (true opens a decision point).
        """
        self.alive = faults.alive
        self.failed = []
        self._bounce = bounce
        duration, engine, slowdown = self._duration, self._engine, faults.slowdown

        def slowed(item: int, worker: int) -> float:
            return duration(item, worker) * slowdown(item, 0, 0, worker, engine.now)

        self._duration = slowed

    def crash(self, now: float, worker: int) -> tuple[int, float | None, list[int]]:
        """Empty a worker that just died: cancel its running item's completion, drop its queue.

        Returns:
            ``(lost, started, queued)``: the item it was running (-1 if idle) and when that
            started (None if idle), and the items of its queue, front first. None of them is
            the worker's any more; the lost attempt is in :attr:`failed`.
        """
        lost = self.running[worker]
        started = None
        if lost >= 0:
            self._engine.cancel(self._done, lost)
            started = self.start_at[lost]
            self.failed.append((lost, worker, started, now))
            self.order.remove(lost)
            self.start_at[lost] = None
            self.planned_end[lost] = 0.0
            self.worker_of[lost] = -1
            self.running[worker] = -1
        q = self.queues[worker]
        queued = list(q)
        q.clear()
        for sums, _ in self._totals:
            sums[worker] = 0.0
        for i in queued:
            self.worker_of[i] = -1
        return lost, started, queued


class Dispatcher:
    """The items waiting for a scheduler's decision, and the check of its answers.

    Args:
        num_items: Items are ``0..num_items-1``.
        num_workers: Workers are ``0..num_workers-1``.
        family: Family name, for messages.
        item: What an item is called (``"request"``, ``"task"``), for messages.
        worker: What a worker is called (``"node"``, ``"CPU"``), for messages.

    Attributes:
        waiting: Ids of the waiting items, in the order they arrived.
    """

    __slots__ = ("waiting", "_state", "_num_workers", "_family", "_item", "_worker", "_faults", "_rank", "_added")

    _NOT_ARRIVED, _WAITING, _TAKEN = 0, 1, 2

    def __init__(self, num_items: int, num_workers: int, *, family: str, item: str, worker: str) -> None:
        self.waiting: list[int] = []
        self._state = bytearray(num_items)  # per item: _NOT_ARRIVED, _WAITING or _TAKEN
        self._num_workers = num_workers
        self._family = family
        self._item = item
        self._worker = worker
        self._faults: FaultInjector | None = None
        self._rank: list[int] | None = None  # with faults: per item, its place in the arrival order
        self._added = 0

    def __bool__(self) -> bool:
        return bool(self.waiting)

    def __len__(self) -> int:
        return len(self.waiting)

    def add(self, item: int) -> None:
        """An item arrives and waits for a decision."""
        self.waiting.append(item)
        self._state[item] = self._WAITING
        if self._rank is not None:
            self._rank[item] = self._added
            self._added += 1

    def extend(self, items: Iterable[int]) -> None:
        """Items arrive together and wait for a decision, in the order given."""
        for i in items:
            self.add(i)

    def enable_faults(self, faults: FaultInjector) -> None:
        """Refuse dead workers in answers, and keep the arrival order for :meth:`give_back`."""
        self._faults = faults
        self._rank = [0] * len(self._state)

    def give_back(self, items: Iterable[int]) -> None:
        """Items a dead worker held wait again, each in its place in the order of arrival."""
        back = list(items)
        if not back:
            return
        for i in back:
            self._state[i] = self._WAITING
        self.waiting = sorted(self.waiting + back, key=self._rank.__getitem__)

    def take(self, actions: Iterable[object]) -> list[tuple[int, int]]:
        """Check a whole answer, then remove the items it places from :attr:`waiting`.

        Args:
            actions: What the scheduler returned: ``Enqueue(item, worker)`` actions for
                distinct waiting items. Empty: a pass, nothing is taken.

        Returns:
            ``(item, worker)`` pairs, in the order of the actions.

        Raises:
            InvalidActionError: An action is not an ``Enqueue``; names an unknown item, one
                that is not waiting, or one already named in this answer; or an unknown
                worker (bools and non-integers included), or, with faults, a dead one.
                Nothing is taken then.
        """
        if isinstance(actions, (Enqueue, str, bytes)) or not isinstance(actions, Iterable):
            raise InvalidActionError(
                f"{self._family} expects a list of Enqueue({self._item}, {self._worker}) actions, got {actions!r}"
            )
        state, n_items, n_workers = self._state, len(self._state), self._num_workers
        checked: list[tuple[int, int]] = []
        named: set[int] = set()
        for a in actions:
            if not isinstance(a, Enqueue):
                raise InvalidActionError(
                    f"{self._family} expects Enqueue(task, worker) actions (a {self._item} joins that "
                    f"{self._worker}'s FIFO queue), got {a!r}"
                )
            x, w = a
            if not _is_index(x) or not 0 <= x < n_items:
                raise InvalidActionError(f"{a!r}: no {self._item} {x!r} ({self._item}s are 0..{n_items - 1})")
            x = int(x)
            if state[x] != self._WAITING or x in named:
                raise InvalidActionError(self._not_waiting(a, x, named))
            if not _is_index(w) or not 0 <= w < n_workers:
                raise InvalidActionError(f"{a!r}: no {self._worker} {w!r} ({self._worker}s are 0..{n_workers - 1})")
            if self._faults is not None and not self._faults.alive[w]:
                raise InvalidActionError(self._dead(a, int(w)))
            named.add(x)
            checked.append((x, int(w)))
        # Valid: only now does anything change.
        for x in named:
            state[x] = self._TAKEN
        if len(checked) < len(self.waiting):
            self.waiting = [i for i in self.waiting if state[i] == self._WAITING]
        else:
            self.waiting = []
        return checked

    def _dead(self, a: Enqueue, w: int) -> str:
        back = self._faults.back_at[w]
        when = "never comes back" if back == float("inf") else f"is back at {back!r}"
        return (
            f"{a!r}: {self._worker} {w} is down (it crashed and {when}); "
            f"place on live {self._worker}s only (view.workers[{w}].alive is False)"
        )

    def _not_waiting(self, a: Enqueue, x: int, named: Collection[int]) -> str:
        if x in named:
            return f"{a!r}: {self._item} {x} is named twice in these actions"
        why = "is already enqueued" if self._state[x] == self._TAKEN else "has not arrived yet"
        item, ids = self._item, self.waiting
        if not ids:
            note = f"no {item} is waiting"
        elif len(ids) == 1:
            note = f"the waiting {item} is {ids[0]}"
        else:
            shown = ", ".join(map(str, ids[:10])) + (", ..." if len(ids) > 10 else "")
            note = f"the waiting {item}s are {shown}"
        return f"{a!r}: {item} {x} is not waiting; {note} (view.waiting); {item} {x} {why}"


def _is_index(v: object) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


class QueueDecision:
    """What a queue family's view and its snapshot share, given ``waiting`` and ``workers``.

    A mixin without state (``__slots__ = ()``), so that a slotted view and a NamedTuple
    snapshot both take it and a family writes its contract once.
    """

    __slots__ = ()

    def valid_actions(self) -> list[Enqueue]:
        """Every allowed action: each waiting item to each live worker."""
        return enqueue_actions(self.waiting, self.workers)


def enqueue_actions(waiting: Iterable[Any], workers: Sequence[Any]) -> list[Enqueue]:
    """Every allowed action: each waiting item (with an ``id``) to each live worker (with an ``id``).

    A worker without an ``alive`` attribute counts as live.
    """
    live = [w for w in workers if getattr(w, "alive", True)]
    return [Enqueue(t.id, w.id) for t in waiting for w in live]


def frozen(a: np.ndarray) -> np.ndarray:
    """A read-only copy of ``a``, for snapshots."""
    out = np.array(a, copy=True)
    out.setflags(write=False)
    return out


def fill_single_stage(
    trace: Trace,
    pool: FifoWorkers,
    *,
    name: str | Sequence[str],
    arrival: Sequence[float],
    rows: str = "id",
    **job_columns: list,
) -> None:
    """Fill the jobs, stages and tasks tables of a trace where every job is one stage of one task.

    Job ``i`` is item ``i`` of ``pool``; its one task ran on ``pool.worker_of[i]`` from
    ``pool.start_at[i]`` to ``pool.planned_end[i]``. Items that never started have no task row
    and no completion. With faults, the attempts a crash cut short are rows too, with
    ``failed`` True (the column is False on the others, and absent in a run without faults).

    Args:
        trace: The trace to fill.
        pool: The workers that ran the items.
        name: Every job's name, or one per job.
        arrival: Per job, its arrival.
        rows: Order of the task rows: ``"id"`` (by job id) or ``"start"`` (as they started).
        **job_columns: Extra columns of the jobs table, one value per job.

    Raises:
        ValueError: Unknown ``rows``.
    """
    if rows not in ("id", "start"):
        raise ValueError(f"rows must be 'id' or 'start', got {rows!r}")
    m = len(arrival)
    names = [name] * m if isinstance(name, str) else list(name)
    trace.jobs.update(id=list(range(m)), name=names, arrival=list(arrival), completion=list(pool.end_at), **job_columns)
    trace.stages.update(job=list(range(m)), stage=[0] * m, num_tasks=[1] * m, parents=[[] for _ in range(m)])
    if pool.failed is not None:
        _fill_attempts(trace, pool, rows)
        return
    started = sorted(pool.order) if rows == "id" else list(pool.order)
    k = len(started)
    trace.tasks.update(
        job=started,
        stage=[0] * k,
        task=[0] * k,
        worker=[pool.worker_of[i] for i in started],
        start=[pool.start_at[i] for i in started],
        end=[pool.planned_end[i] for i in started],
    )


def _fill_attempts(trace: Trace, pool: FifoWorkers, rows: str) -> None:
    """The tasks table of a run with faults: every attempt, the failed ones marked."""
    done = [(i, pool.worker_of[i], pool.start_at[i], pool.planned_end[i], False) for i in pool.order]
    attempts = [(i, w, s, e, True) for i, w, s, e in pool.failed] + done
    # sorted() is stable: at equal keys a failed attempt (listed first) comes before the rest.
    attempts.sort(key=(lambda r: (r[0], r[2])) if rows == "id" else (lambda r: r[2]))
    k = len(attempts)
    trace.tasks.update(
        job=[r[0] for r in attempts],
        stage=[0] * k,
        task=[0] * k,
        worker=[r[1] for r in attempts],
        start=[r[2] for r in attempts],
        end=[r[3] for r in attempts],
        failed=[r[4] for r in attempts],
    )


def attach_faults(
    engine: Engine,
    spec: FaultSpec,
    rng: np.random.Generator,
    pool: FifoWorkers,
    dispatcher: Dispatcher,
    *,
    release: Release | None = None,
) -> FaultInjector:
    """Faults for a queue family's model built on ``pool`` and ``dispatcher``.

    A crash takes the worker's running item (its attempt is lost) and its queue back to the
    dispatcher, in arrival order; a decision point opens if something waits and a worker is
    up. A repaired worker comes back empty; a decision point opens if something waits. An
    item that reaches a dead worker goes back too. A crash without repair is skipped when it
    would leave no worker (see :mod:`schedlab.sim.faults`).

    Args:
        engine: The model's engine.
        spec: The faults, in the model's time unit.
        rng: The faults' stream (:func:`~schedlab.sim.faults.fault_stream`).
        pool: The model's workers.
        dispatcher: The model's dispatcher.
        release: The family's own bookkeeping for each item a dead worker gives up (see
            :data:`Release`), called before the item waits again.

    Returns:
        The injector; call its ``start()`` when the model starts and its ``finish(trace)``
        when the model fills the trace.
    """
    alive: list[bool] = []

    def crash(now: float, worker: int) -> tuple[tuple[int, int, int] | None, bool]:
        lost, started, queued = pool.crash(now, worker)
        back = ([lost] if lost >= 0 else []) + queued
        if release is not None:
            for i in back:
                release(now, i, worker, started if i == lost else None)
        dispatcher.give_back(back)
        return ((lost, 0, 0) if lost >= 0 else None), bool(dispatcher) and any(alive)

    def repair(now: float, worker: int) -> bool:
        return bool(dispatcher)

    def can_lose(worker: int) -> bool:
        return any(up for w, up in enumerate(alive) if w != worker)

    def bounce(now: float, item: int, worker: int) -> bool:
        if release is not None:
            release(now, item, worker, None)
        dispatcher.give_back([item])
        return any(alive)

    faults = FaultInjector(engine, spec, pool.num_workers, rng, crash=crash, repair=repair, can_lose=can_lose)
    alive = faults.alive
    pool.enable_faults(faults, bounce)
    dispatcher.enable_faults(faults)
    return faults
