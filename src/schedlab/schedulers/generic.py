"""Baselines for the queue families, written once against the shared decision contract.

In the queue families (edge, multiproc, hetero) each worker runs its own FIFO queue, and a
view offers ``view.waiting`` (the items to place, each with an ``id``) and ``view.workers``
(each with an ``id``, and ``alive``: with faults, a dead worker takes nothing). These
schedulers read nothing else, so they run unchanged on each.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from schedlab.schedulers.base import Scheduler
from schedlab.sim.actions import Enqueue

__all__ = ["RandomWorker", "RoundRobinWorker", "QUEUE_FAMILIES", "live_workers"]

#: The families whose views follow the queue-family contract.
QUEUE_FAMILIES = ("edge", "multiproc", "hetero")


def live_workers(workers: Any) -> Any:
    """The workers that are up: ``workers`` itself when all are (no copy), else the live ones in order.

    A worker without an ``alive`` attribute (a view from before faults, or of a family
    without them) counts as up.
    """
    for w in workers:
        if not getattr(w, "alive", True):
            return tuple(x for x in workers if getattr(x, "alive", True))
    return workers


class RandomWorker(Scheduler):
    """Each waiting item, in order, to a uniformly random live worker.

    One draw of ``len(view.waiting)`` integers per decision, from the scheduler's own stream:
    for a single item it is the same number, and leaves the stream in the same state, as a
    scalar ``rng.integers(n)``. With no worker up it passes (and draws nothing).
    """

    families = QUEUE_FAMILIES

    def __init__(self) -> None:
        self._rng = np.random.default_rng(0)

    def reset(self, rng: np.random.Generator) -> None:
        self._rng = rng

    def decide(self, view: Any) -> list[Enqueue]:
        waiting, workers = view.waiting, live_workers(view.workers)
        if not workers:
            return []
        if len(waiting) == 1:
            # The common case (one arrival): a scalar draw gives the same number and leaves the
            # stream as the array draw does, without the array's cost on every decision.
            picks = [int(self._rng.integers(len(workers)))]
        else:
            picks = self._rng.integers(len(workers), size=len(waiting)).tolist()
        return [Enqueue(t.id, workers[j].id) for t, j in zip(waiting, picks)]


class RoundRobinWorker(Scheduler):
    """Waiting items, in order, to workers 0, 1, 2, ... in turn; the cursor carries over decisions.

    A dead worker's turn goes to the next live one; with no worker up it passes.
    """

    families = QUEUE_FAMILIES

    def __init__(self) -> None:
        self._next = 0

    def reset(self, rng: np.random.Generator) -> None:
        self._next = 0

    def decide(self, view: Any) -> list[Enqueue]:
        workers = view.workers
        n = len(workers)
        up = [getattr(w, "alive", True) for w in workers]
        if not any(up):
            return []
        out = []
        for t in view.waiting:
            k = self._next % n
            while not up[k]:
                k = (k + 1) % n
            out.append(Enqueue(t.id, workers[k].id))
            self._next = k + 1
        return out
