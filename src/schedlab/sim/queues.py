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

The decision contract of these families: at a decision point a scheduler returns ``Enqueue``
actions for any of the waiting items, several at once if it likes. An empty answer passes:
nothing is applied, the decision point closes and the items keep waiting at the dispatcher,
to be offered again at the next decision point (the next arrival, or the next completion at a
worker while something waits).
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
from schedlab.sim.trace import Trace

__all__ = ["FifoWorkers", "Dispatcher", "QueueDecision", "enqueue_actions", "frozen", "fill_single_stage"]

#: ``duration(item, worker) -> float``: how long ``item`` runs on ``worker``, asked when it starts.
Duration = Callable[[int, int], float]
#: ``on_done(now, item, worker) -> bool``: an item completed; True opens a decision point.
OnDone = Callable[[float, int, int], Any]


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
        "_totals",
        "_duration",
        "_on_done",
        "_heap",
        "_seq",
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
        value), for an item that reaches its worker some time after the decision.
        """
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
        self.submit(now, item, worker)
        return False

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

    __slots__ = ("waiting", "_state", "_num_workers", "_family", "_item", "_worker")

    _NOT_ARRIVED, _WAITING, _TAKEN = 0, 1, 2

    def __init__(self, num_items: int, num_workers: int, *, family: str, item: str, worker: str) -> None:
        self.waiting: list[int] = []
        self._state = bytearray(num_items)  # per item: _NOT_ARRIVED, _WAITING or _TAKEN
        self._num_workers = num_workers
        self._family = family
        self._item = item
        self._worker = worker

    def __bool__(self) -> bool:
        return bool(self.waiting)

    def __len__(self) -> int:
        return len(self.waiting)

    def add(self, item: int) -> None:
        """An item arrives and waits for a decision."""
        self.waiting.append(item)
        self._state[item] = self._WAITING

    def extend(self, items: Iterable[int]) -> None:
        """Items arrive together and wait for a decision, in the order given."""
        for i in items:
            self.add(i)

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
                worker (bools and non-integers included). Nothing is taken then.
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
        """Every allowed action: each waiting item to each worker."""
        return enqueue_actions(self.waiting, self.workers)


def enqueue_actions(waiting: Iterable[Any], workers: Sequence[Any]) -> list[Enqueue]:
    """Every allowed action: each waiting item (with an ``id``) to each worker (with an ``id``)."""
    return [Enqueue(t.id, w.id) for t in waiting for w in workers]


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
    and no completion.

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
