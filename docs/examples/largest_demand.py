"""A user-written Spark scheduler: give free executors to the stage that can use the most.

Run it from the command line without touching schedlab:

    schedlab run spark-synthetic --scheduler docs/examples/largest_demand.py:LargestDemandFirst
    schedlab compare --schedulers fair,docs/examples/largest_demand.py:LargestDemandFirst --seeds 1-5
"""

from __future__ import annotations

import math

from schedlab import Assign, Scheduler


class LargestDemandFirst(Scheduler):
    """Serve the schedulable stage with the largest executor demand, within a per-job cap.

    Args:
        share: Fraction of the cluster one job may hold (1.0: no cap).
    """

    name = "largest-demand"
    families = ("spark",)

    def __init__(self, share: float = 0.5) -> None:
        self.share = share

    def decide(self, view):
        cap = max(1, math.ceil(self.share * view.num_executors))
        candidates = [
            st
            for st in view.schedulable
            if view.job(st.job_id).exec_supply < cap or (view.source_job and st.job_id == view.source_job.id)
        ]
        if not candidates:
            return []  # leave the rest of the free executors unassigned this round
        best = max(candidates, key=lambda st: (st.is_frontier, st.demand))
        room = cap - view.job(best.job_id).exec_supply
        limit = view.committable if room <= 0 else min(view.committable, room)
        return [Assign(best.job_id, best.index, limit)]
