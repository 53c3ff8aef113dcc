"""Baseline schedulers for the edge family: each request goes to one node.

They decide on what a dispatcher can observe: the nodes' latest samples (cpu, mem, delay,
load, queue) and its own count of requests outstanding per node. Ties go to the lowest node id.
Each places the request waiting longest, on a live node (with faults, a dead node takes
nothing; with none up they pass); the blind baselines (``random``, ``round-robin``) are the
generic ones of :mod:`schedlab.schedulers.generic`.
"""

from __future__ import annotations

from schedlab.families.edge.model import EdgeView
from schedlab.schedulers.base import Scheduler
from schedlab.schedulers.generic import live_workers
from schedlab.sim.actions import Enqueue

__all__ = ["LeastDelay", "LeastLoaded"]


class LeastDelay(Scheduler):
    """The node with the least delay at the latest sample.

    Between two samples every request goes to the same node: the observed delay only rises once
    the next sample shows that node's new queue and load.
    """

    families = ("edge",)

    def decide(self, view: EdgeView) -> list[Enqueue]:
        nodes = live_workers(view.nodes)
        if not nodes:
            return []
        best = min(nodes, key=lambda n: (n.delay, n.id))
        return [Enqueue(view.request.id, best.id)]


class LeastLoaded(Scheduler):
    """The node with the least load at the latest sample (fewest outstanding requests on ties)."""

    families = ("edge",)

    def decide(self, view: EdgeView) -> list[Enqueue]:
        nodes = live_workers(view.nodes)
        if not nodes:
            return []
        best = min(nodes, key=lambda n: (n.load, n.outstanding, n.id))
        return [Enqueue(view.request.id, best.id)]
