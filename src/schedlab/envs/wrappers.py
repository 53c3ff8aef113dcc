"""Episode-length wrappers for schedlab's environments: limits in simulated seconds.

schedlab's environments end an episode when the workload has run out, never by step count: a
step is one decision, and decisions are not evenly spread in simulated time. These wrappers cut
an episode short by simulated time instead, as Decima trains on episodes of random length so
that the agent does not learn the end of a finite workload.

:class:`SimTimeLimit` truncates once the simulated time of the next decision point reaches
``limit_s``; every decision of a truncated episode after its first was taken before ``limit_s``
(a step truncates, so an episode whose first decision point is past the limit takes one). The
simulated time is read from the simulation behind the environment (``env.unwrapped.sim``) and
converted to seconds from the model's ``time_unit``, so milliseconds families are limited in
seconds too; an environment without a simulation is limited by ``info["time_s"]``.
:class:`StochasticTimeLimit` draws the limit at each reset from an exponential distribution.

The step that truncates sets ``truncated=True`` (and ``terminated`` stays False; an episode
that ends by itself at that step terminates instead). Rewards pass unchanged, so a truncated
episode's reward sum is minus the metric over what completed up to the truncation time, the
time of the decision point the episode stops at (``info["truncated_at_s"]``), which is at or
past the limit: for the gpu environment, minus the completion times of the requests completed
by then.

The truncating step's ``info`` also holds ``trace``, the simulation's trace so far (one pass
over the tables, once per episode). It is not a finished run's trace: work placed but not yet
finished appears with the times it is planned for (past the truncation time), the requests or
jobs it belongs to have no completion, and work not yet placed never ran. So the checker's
``tasks_once`` and ``completion`` checks flag such traces; the others (:data:`PARTIAL_TRACE_CHECKS`,
plus the family's own checks) hold, for instance
``check_trace(trace, checks=PARTIAL_TRACE_CHECKS + family_checks(trace.family))``.
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Any, SupportsFloat

import gymnasium

from schedlab.metrics.checker import (
    check_arrival,
    check_capacity,
    check_precedence,
    check_schema,
    check_times,
)

__all__ = ["SimTimeLimit", "StochasticTimeLimit", "PARTIAL_TRACE_CHECKS"]

#: The checker's checks that a truncated episode's partial trace passes.
PARTIAL_TRACE_CHECKS = (check_schema, check_times, check_capacity, check_precedence, check_arrival)

_UNIT_SECONDS = {"s": 1.0, "ms": 1e-3}


def _positive_seconds(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValueError(f"{name} must be a number of seconds, got {value!r}")
    out = float(value)
    if not (math.isfinite(out) and out > 0):
        raise ValueError(f"{name} must be finite and greater than 0, got {value!r}")
    return out


class SimTimeLimit(gymnasium.Wrapper):
    """Truncate an episode once its simulated time reaches ``limit_s`` seconds.

    See the module docstring for the reward and the partial trace.

    ``info`` of a reset holds the limit as ``time_limit_s``.

    Args:
        env: A schedlab environment (or any whose ``info`` carries ``time_s``).
        limit_s: The limit in simulated seconds, finite and greater than 0.

    Raises:
        ValueError: ``limit_s`` is not a finite number greater than 0.

    Attributes:
        limit_s: The current episode's limit (s).
    """

    def __init__(self, env: gymnasium.Env, limit_s: float) -> None:
        super().__init__(env)
        self.limit_s = _positive_seconds("limit_s", limit_s)

    def _new_limit(self) -> float:
        """The limit of the episode being reset (s)."""
        return self.limit_s

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(seed=seed, options=options)
        # After the environment's reset, so that a limit drawn from its generator is seeded too.
        self.limit_s = self._new_limit()
        info["time_limit_s"] = self.limit_s
        return obs, info

    def _now_s(self, info: dict[str, Any]) -> float:
        sim = getattr(self.env.unwrapped, "sim", None)
        if sim is None:
            return float(info["time_s"])
        return float(sim.engine.now) * _UNIT_SECONDS[sim.model.time_unit]

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        if terminated or truncated:
            return obs, reward, terminated, truncated, info
        now = self._now_s(info)
        if now >= self.limit_s:
            truncated = True
            info["truncated_at_s"] = now
            sim = getattr(self.env.unwrapped, "sim", None)
            if sim is not None:
                info["trace"] = sim.trace(
                    meta={"agent": type(self.env.unwrapped).__name__, "truncated_at_s": now, "limit_s": self.limit_s}
                )
        return obs, reward, terminated, truncated, info


class StochasticTimeLimit(SimTimeLimit):
    """Truncate each episode at a random simulated time, exponential with mean ``mean_s``.

    Decima's stochastic episode length: each ``reset`` draws the episode's limit (s) from an
    exponential distribution with mean ``mean_s``, with the environment's generator
    (``env.np_random``) after the environment's own reset, so ``reset(seed=s)`` gives the same
    episode and the same limit every time. The draw advances that generator, so the episode
    seeds of later unseeded resets differ from the unwrapped environment's. ``info`` of the
    reset holds the limit as ``time_limit_s``.

    Args:
        env: A schedlab environment (or any whose ``info`` carries ``time_s``).
        mean_s: Mean of the limit's distribution in simulated seconds, finite and greater
            than 0.

    Raises:
        ValueError: ``mean_s`` is not a finite number greater than 0.

    Attributes:
        mean_s: The mean limit (s).
        limit_s: The current episode's limit (s); ``inf`` before the first reset.
    """

    def __init__(self, env: gymnasium.Env, mean_s: float) -> None:
        mean = _positive_seconds("mean_s", mean_s)
        super().__init__(env, mean)
        self.mean_s = mean
        self.limit_s = math.inf

    def _new_limit(self) -> float:
        return float(self.np_random.exponential(self.mean_s))
