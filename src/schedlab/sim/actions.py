"""The actions a scheduler may return from ``decide``.

A family's model accepts the kinds that make sense for it and rejects the others with
:class:`~schedlab.sim.errors.InvalidActionError`.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["Assign", "Place", "Enqueue", "Action"]


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
