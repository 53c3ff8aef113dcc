"""Baseline schedulers for the multiproc family: each arriving task goes to one CPU's queue."""

from __future__ import annotations

import numpy as np

from schedlab.schedulers.base import Scheduler
from schedlab.sim.actions import Enqueue
from schedlab.sim.multiproc import MultiprocView

__all__ = ["RoundRobinCpu", "RandomCpu", "LeastWorkRemaining", "Oracle"]


class RoundRobinCpu(Scheduler):
    """CPUs in turn, blind to speeds and queues."""

    families = ("multiproc",)

    def __init__(self) -> None:
        self._next = 0

    def reset(self, rng: np.random.Generator) -> None:
        self._next = 0

    def decide(self, view: MultiprocView) -> list[Enqueue]:
        cpu = self._next % len(view.cpus)
        self._next = cpu + 1
        return [Enqueue(view.task.id, cpu)]


class RandomCpu(Scheduler):
    """A uniformly random CPU."""

    families = ("multiproc",)

    def __init__(self) -> None:
        self._rng = np.random.default_rng(0)

    def reset(self, rng: np.random.Generator) -> None:
        self._rng = rng

    def decide(self, view: MultiprocView) -> list[Enqueue]:
        return [Enqueue(view.task.id, int(self._rng.integers(len(view.cpus))))]


class LeastWorkRemaining(Scheduler):
    """The CPU with the least estimated work remaining over its speed.

    ``work_remaining / speed`` is the estimated time until the CPU could start the new task,
    from declared sizes. It ignores the new task itself, so it may prefer a slow empty CPU to
    a fast one about to free up; the oracle does not. Ties go to the faster CPU, then the
    lowest id.
    """

    families = ("multiproc",)

    def decide(self, view: MultiprocView) -> list[Enqueue]:
        best = min(view.cpus, key=lambda c: (c.work_remaining / c.speed, -c.speed, c.id))
        return [Enqueue(view.task.id, best.id)]


class Oracle(Scheduler):
    """The CPU where the task truly completes first (privileged: uses true work); ties to the lowest id."""

    families = ("multiproc",)

    def decide(self, view: MultiprocView) -> list[Enqueue]:
        done = view.true_completion_times()
        return [Enqueue(view.task.id, min(range(len(done)), key=done.__getitem__))]
