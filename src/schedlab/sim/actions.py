"""The actions a scheduler may return from ``decide``.

A family's model accepts the kinds that make sense for it and rejects the others with
:class:`~schedlab.sim.errors.InvalidActionError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from schedlab.sim.errors import InvalidActionError

__all__ = ["Assign", "Place", "Enqueue", "Action", "single_enqueue"]


class Assign(NamedTuple):
    """Spark style: give up to ``limit`` of the free executors to a stage.

    The executors then keep taking tasks of that stage until none is left to launch.

    Attributes:
        job: Job id.
        stage: Stage index within the job.
        limit: Number of executors (the parallelism limit); at least 1 and at most the number
            of free executors. A larger limit than the stage can use is cut to its demand.
    """

    job: int
    stage: int
    limit: int


class Place(NamedTuple):
    """Start a ready task now on one worker, or on a gang of workers for a multi-worker task.

    Attributes:
        task: Id of a ready task, as the view names it.
        workers: Worker ids; a gang must satisfy the family's rule (e.g. consecutive GPUs).
    """

    task: int
    workers: tuple[int, ...]


class Enqueue(NamedTuple):
    """Append a task to a worker's FIFO queue (families where each worker keeps its own queue).

    Attributes:
        task: Id of the task waiting for a decision, as the view names it.
        worker: Worker id.
    """

    task: int
    worker: int


Action = Assign | Place | Enqueue


def single_enqueue(
    actions: Sequence[object], waiting: int, num_workers: int, *, family: str, item: str, worker: str
) -> int:
    """Validate the one ``Enqueue`` that families deciding item by item expect; return its worker.

    Args:
        actions: What the scheduler returned.
        waiting: Id of the item waiting for a decision.
        num_workers: Workers are ``0..num_workers-1``.
        family: Family name, for messages.
        item: What an item is called (``"request"``, ``"task"``), for messages.
        worker: What a worker is called (``"node"``, ``"CPU"``), for messages.

    Raises:
        InvalidActionError: Not exactly one action, not an ``Enqueue``, another item, or an
            unknown worker.
    """
    if len(actions) != 1:
        raise InvalidActionError(
            f"{family} expects exactly one Enqueue(task={waiting}, worker={worker}) per {item}, "
            f"got {len(actions)} action(s)"
        )
    a = actions[0]
    if not isinstance(a, Enqueue):
        raise InvalidActionError(f"{family} expects Enqueue(task, worker) actions, got {a!r}")
    task, w = a
    if task != waiting or isinstance(task, bool):
        raise InvalidActionError(f"{a!r}: {item} {task!r} is not waiting; the waiting {item} is {waiting}")
    if not hasattr(w, "__index__") or isinstance(w, bool) or not 0 <= w < num_workers:
        raise InvalidActionError(f"{a!r}: no {worker} {w!r} ({worker}s are 0..{num_workers - 1})")
    return int(w)
