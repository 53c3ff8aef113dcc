"""Baseline schedulers for the edge family: each request goes to one node.

They decide on what a dispatcher can observe: the nodes' latest samples (cpu, mem, delay,
load, queue) and its own count of requests outstanding per node. Ties go to the lowest node id.
"""

from __future__ import annotations

import numpy as np

from schedlab.families.edge.model import EdgeView
from schedlab.schedulers.base import Scheduler
from schedlab.sim.actions import Enqueue

__all__ = ["RandomNode", "RoundRobinNode", "LeastDelay", "LeastLoaded"]


class RandomNode(Scheduler):
    """A uniformly random node."""

    families = ("edge",)

    def __init__(self) -> None:
        self._rng = np.random.default_rng(0)

    def reset(self, rng: np.random.Generator) -> None:
        self._rng = rng

    def decide(self, view: EdgeView) -> list[Enqueue]:
        return [Enqueue(view.request.id, int(self._rng.integers(len(view.nodes))))]


class RoundRobinNode(Scheduler):
    """Nodes in turn: 0, 1, ..., N-1, 0, ..."""

    families = ("edge",)

    def __init__(self) -> None:
        self._next = 0

    def reset(self, rng: np.random.Generator) -> None:
        self._next = 0

    def decide(self, view: EdgeView) -> list[Enqueue]:
        node = self._next % len(view.nodes)
        self._next = node + 1
        return [Enqueue(view.request.id, node)]


class LeastDelay(Scheduler):
    """The node with the least delay at the latest sample.

    Between two samples every request goes to the same node: the observed delay only rises once
    the next sample shows that node's new queue and load.
    """

    families = ("edge",)

    def decide(self, view: EdgeView) -> list[Enqueue]:
        best = min(view.nodes, key=lambda n: (n.delay, n.id))
        return [Enqueue(view.request.id, best.id)]


class LeastLoaded(Scheduler):
    """The node with the least load at the latest sample (fewest outstanding requests on ties)."""

    families = ("edge",)

    def decide(self, view: EdgeView) -> list[Enqueue]:
        best = min(view.nodes, key=lambda n: (n.load, n.outstanding, n.id))
        return [Enqueue(view.request.id, best.id)]
