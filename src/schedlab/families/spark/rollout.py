"""Rollout: a lookahead scheduler that plays a few actions forward on copies of the cluster.

At each decision it asks a base heuristic for its action, adds a few alternatives (the stage
each of the jobs with the least remaining work would start, with two executor counts), and
plays each forward on forked copies of the cluster (:meth:`SparkView.fork`) with the base
heuristic deciding, for a horizon of simulated time. It takes the alternative whose jobs spend
the least time in the system over the horizon, and the base's own action unless another is
clearly better. This is one step of policy iteration, Bertsekas' *rollout*: an improvement on
its base wherever the estimates are good, at the price of a few rollouts per decision.

The copies hold only the jobs in the system: the lookahead knows no future arrival. It does
use the simulator's own task-duration profiles, as a model of the cluster a live scheduler
would have to learn; and it is slow (tens of milliseconds a decision on spark-tpch), which is
why it serves as a teacher to distil into a fast policy (see docs/netllm.md).
"""

from __future__ import annotations

import math

import numpy as np

from schedlab.errors import ConfigError
from schedlab.families.spark.model import SparkView
from schedlab.families.spark.schedulers import first_stage
from schedlab.schedulers.base import Scheduler
from schedlab.sim.actions import Assign

__all__ = ["Rollout"]


class Rollout(Scheduler):
    """One-step lookahead over a base heuristic, on forked copies of the cluster.

    Args:
        base: The registered spark scheduler that decides in the rollouts and proposes the
            default action. It must not itself look ahead.
        horizon_s: Simulated time each rollout covers.
        candidates: Jobs, least remaining work first, whose next stage is tried as an
            alternative, each with two executor counts: what keeps the job under its cap, and
            every free executor.
        rollouts: Rollouts per alternative, with the same random draws for every alternative
            (common random numbers), averaged.
        margin: An alternative replaces the base's action only when its time in the system is
            at least this fraction lower: rollouts are noisy, and a change on noise alone is
            more often a loss than a gain.
        share: The cap of the first count, in fair shares: ceil(share * executors / jobs).

    The defaults were chosen on validation seeds 1000-1004 of spark-tpch (docs/spark.md).

    After each decision, ``last_options`` holds the options weighed there with their time in
    the system (the base's action first; empty where it was the only option), for an
    experience pool to keep as the teacher's per-option costs (docs/pool.md).
    """

    families = ("spark",)

    def __init__(
        self,
        base: str = "srwf-capped",
        horizon_s: float = 60.0,
        candidates: int = 3,
        rollouts: int = 2,
        margin: float = 0.003,
        share: float = 1.5,
    ) -> None:
        from schedlab.schedulers.registry import make

        if not isinstance(base, str):
            raise ConfigError(f"base must be a scheduler name, got {base!r}", field="base")
        self._base = make(base, "spark")
        if isinstance(self._base, Rollout):
            raise ConfigError("the base of a rollout cannot be a rollout itself", field="base")
        for name, value, lo in (("horizon_s", horizon_s, 0.0), ("share", share, 0.0)):
            if isinstance(value, bool) or not isinstance(value, int | float) or not (lo < value < math.inf):
                raise ConfigError(f"{name} must be a positive number, got {value!r}", field=name)
        for name, value in (("candidates", candidates), ("rollouts", rollouts)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a whole number of at least 1, got {value!r}", field=name)
        if isinstance(margin, bool) or not isinstance(margin, int | float) or not (0.0 <= margin < 1.0):
            raise ConfigError(f"margin must be a number in [0, 1), got {margin!r}", field="margin")
        self.base = base
        self.horizon_s = float(horizon_s)
        self.candidates = candidates
        self.rollouts = rollouts
        self.margin = float(margin)
        self.share = float(share)
        self._rng = np.random.default_rng(0)
        self.last_options: list[tuple[tuple[Assign, ...], float]] = []

    def reset(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._base.reset(np.random.default_rng(rng.integers(2**63)))

    def decide(self, view: SparkView) -> list[Assign]:
        proposal = list(self._base.decide(view))
        options = self._options(view, proposal)
        self.last_options = []
        if len(options) == 1:
            return proposal
        seeds = self._rng.integers(2**63, size=self.rollouts)
        jobs = [j.id for j in view.jobs]
        costs = [sum(self._play(view, o, int(s), jobs) for s in seeds) / len(seeds) for o in options]
        self.last_options = list(zip(options, costs))
        best = int(np.argmin(costs))
        if costs[best] < costs[0] * (1.0 - self.margin):
            return list(options[best])
        return proposal

    def _options(self, view: SparkView, proposal: list[Assign]) -> list[tuple[Assign, ...]]:
        """The base's action first, then each alternative once."""
        options = [tuple(proposal)]
        cap = math.ceil(self.share * view.num_executors / max(1, len(view.jobs)))
        src = view.source_job
        tried = 0
        for job in sorted(view.jobs, key=lambda j: j.remaining_work_ms):
            if tried == self.candidates:
                break
            st = first_stage(view, job.id)
            if st is None:
                continue
            tried += 1
            # The source job's free executors already count in its supply.
            held = job.exec_supply - (view.committable if src is not None and job.id == src.id else 0)
            room = max(1, min(view.committable, cap - held))
            for n in sorted({room, view.committable}):
                option = (Assign(st.job_id, st.index, n),)
                if option not in options:
                    options.append(option)
        return options

    def _play(self, view: SparkView, option: tuple[Assign, ...], seed: int, jobs: list[int]) -> float:
        """Seconds the given jobs spend in the system over the horizon, after ``option``."""
        twin = view.fork(np.random.default_rng(seed))
        start = twin.engine.now
        end = start + self.horizon_s * 1000.0
        going = twin.apply(list(option))
        while True:
            if not going:
                going = twin.advance()
                if not going:
                    break
            if twin.engine.now >= end:
                break
            going = twin.apply(list(self._base.decide(twin.view())))
        total = 0.0
        for i in jobs:
            done = twin.jobs[i].completion
            total += (end if done is None else min(done, end)) - start
        return total / 1000.0
