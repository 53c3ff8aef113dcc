"""A Gymnasium environment for the multiproc family: the agent picks the CPU of each arriving task.

:class:`MultiprocEnv` is a thin adapter over the same :class:`~schedlab.sim.simulation.Simulation`
that schedulers run on. At each decision point it offers the agent the task waiting longest
(``view.task``); action ``c`` is ``Enqueue(task, c)``. Times are in seconds.

Observation (a ``Dict`` of float32 ``Box``es whose shapes are fixed by the scenario's CPUs):

``task`` (3,)
    ``log1p(size / size_mean)`` (the declared size), ``(priority - 1) / (P - 1)`` (0 is the most
    urgent; 0 when there is one priority), and ``slog((deadline - now) / t0)``.
``cpus`` (num_cpus, 5)
    per CPU: ``speed / max speed``, ``log1p(queue_length)``, ``log1p(work_remaining / size_mean)``,
    ``log1p(backlog / t0)`` with ``backlog = work_remaining / speed`` (least work remaining's key),
    and ``slog(margin / t0)``, the estimated margin to the deadline were the task placed there:
    ``deadline - now - backlog - size / speed``.

Here ``t0 = size_mean / mean speed`` (the time of a mean task on a mean CPU) and
``slog(x) = sign(x) * log1p(|x|)``; logs keep long queues and loose deadlines in a range a
network handles, and every entry is clipped to ±20 (a backlog of ``e**20 * t0``).

Reward: minus the SLA violations and, weighted by ``completion_weight`` (default 0), the
completion times (s) of the tasks that complete during the step (the simulated time from this
decision point to the next). A task violates its SLA when it completes after its deadline,
exactly as :func:`~schedlab.families.multiproc.metrics.multiproc_metrics` counts it
(``sla_violation_rate`` is the count over the completed tasks). Every episode ends with every
task completed, so the episode's reward sum is exactly
``-(sla_violation_rate * completed + completion_weight * sum of completion times)``,
computed from the trace. Credit lands at the step during which a task completes, not at its
decision, as a real system would learn it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium import spaces

from schedlab.envs.base import SimulationEnv
from schedlab.errors import ConfigError
from schedlab.families.multiproc.model import MultiprocView
from schedlab.sim.actions import Enqueue

__all__ = ["MultiprocEnv", "TASK_FEATURES", "CPU_FEATURES"]

#: Names of the ``task`` observation's entries, in order.
TASK_FEATURES = ("size", "priority", "slack")
#: Names of a ``cpus`` observation row's entries, in order.
CPU_FEATURES = ("speed", "queue_length", "work_remaining", "backlog", "margin")

_CLIP = 20.0


def _slog(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.log1p(np.abs(x))


class MultiprocEnv(SimulationEnv):
    """Multiproc as a Gymnasium environment: one decision per task, ``Discrete(num_cpus)`` actions.

    See the module docstring for the observation and the reward.

    Args:
        scenario: A preset name or YAML path, a scenario mapping, or a validated
            ``MultiprocScenario``; default the ``multiproc`` preset.
        overrides: Dotted-key overrides of the scenario (``{"cluster.speeds": [1, 10]}``).
        completion_weight: Weight of the completion-time term of the reward (per second), at
            least 0.
        render_mode: Only ``None``: the environment does not render.

    Raises:
        ConfigError: The scenario is invalid or not a multiproc scenario.
        ValueError: ``completion_weight`` is negative or not finite, or ``render_mode`` is set.
    """

    family = "multiproc"
    default_scenario = "multiproc"
    metric = "sla_violation_rate"

    def __init__(
        self,
        scenario: Any = None,
        overrides: Mapping[str, Any] | None = None,
        *,
        completion_weight: float = 0.0,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(scenario, overrides, render_mode)
        if not (math.isfinite(completion_weight) and completion_weight >= 0):
            raise ValueError(f"completion_weight must be finite and at least 0, got {completion_weight!r}")
        self.completion_weight = float(completion_weight)
        w = self.scenario.workload
        speeds = np.asarray(self.scenario.cluster.speeds, dtype=np.float64)
        self.num_cpus = n = len(speeds)
        self._size_mean = float(w.size_mean)
        self._t0 = self._size_mean / float(speeds.mean())
        self._priorities = len(w.priority_probs)
        self.action_space = spaces.Discrete(n)
        self.observation_space = spaces.Dict(
            {
                "task": spaces.Box(
                    low=np.array([0.0, 0.0, -_CLIP], dtype=np.float32),
                    high=np.array([_CLIP, 1.0, _CLIP], dtype=np.float32),
                    dtype=np.float32,
                ),
                "cpus": spaces.Box(
                    low=np.tile(np.array([0.0, 0.0, 0.0, 0.0, -_CLIP], dtype=np.float32), (n, 1)),
                    high=np.tile(np.array([1.0, _CLIP, _CLIP, _CLIP, _CLIP], dtype=np.float32), (n, 1)),
                    dtype=np.float32,
                ),
            }
        )
        self._open: list[int] = []

    # -- hooks ---------------------------------------------------------------------------

    def _begin_episode(self) -> None:
        # Tasks placed but not yet completed: a step scans only these for completions.
        self._open = []

    def _observation(self, view: MultiprocView) -> dict[str, np.ndarray]:
        task, now = view.task, view.now
        slack = task.deadline - now
        priority = (task.priority - 1) / (self._priorities - 1) if self._priorities > 1 else 0.0
        t = np.array([math.log1p(task.size / self._size_mean), priority, _slog(slack / self._t0)])
        cpus = view.workers
        n = len(cpus)
        if n != self.num_cpus:
            raise ConfigError(
                f"this policy observes {self.num_cpus} CPUs; the scenario has {n}", field="cluster.speeds"
            )
        # Speeds come from the view, so a policy observes the cluster it runs on; the scales
        # (size_mean, t0) stay those of the scenario it was built for.
        speeds = np.fromiter((c.speed for c in cpus), dtype=np.float64, count=n)
        queue = np.fromiter((c.queue_length for c in cpus), dtype=np.float64, count=n)
        work = np.fromiter((c.work_remaining for c in cpus), dtype=np.float64, count=n)
        backlog = work / speeds
        margin = slack - backlog - task.size / speeds
        rows = np.stack(
            [
                speeds / speeds.max(),
                np.log1p(queue),
                np.log1p(work / self._size_mean),
                np.log1p(backlog / self._t0),
                _slog(margin / self._t0),
            ],
            axis=1,
        )
        return {
            "task": np.clip(t, -_CLIP, _CLIP).astype(np.float32),
            "cpus": np.clip(rows, -_CLIP, _CLIP).astype(np.float32),
        }

    def _final_observation(self) -> dict[str, np.ndarray]:
        return {
            "task": np.zeros(3, dtype=np.float32),
            "cpus": np.zeros((self.num_cpus, len(CPU_FEATURES)), dtype=np.float32),
        }

    def _actions(self, view: MultiprocView, action: Any) -> list[Enqueue]:
        cpu = self._index(action, self.num_cpus, "a CPU index")
        task = view.task.id
        self._open.append(task)
        return [Enqueue(task, cpu)]

    def _reward(self) -> tuple[float, dict[str, Any]]:
        model = self.sim.model
        end_at, arrival, deadline = model.pool.end_at, model.arrival, model.deadline
        violations = 0
        completion_s = 0.0
        still_open = []
        for i in self._open:
            end = end_at[i]
            if end is None:
                still_open.append(i)
                continue
            violations += end > deadline[i]
            completion_s += end - arrival[i]
        completed = len(self._open) - len(still_open)
        self._open = still_open
        reward = -(violations + self.completion_weight * completion_s)
        return reward, {"completed": completed, "violations": violations, "completion_s": completion_s}
