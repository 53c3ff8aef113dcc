"""A Gymnasium environment for the hetero family: the agent picks the node of each waiting task.

:class:`HeteroEnv` is a thin adapter over the same :class:`~schedlab.sim.simulation.Simulation`
that schedulers run on. At each decision point it offers the agent the first waiting task
(``view.waiting[0]``: arrival order, id order within a batch); action ``j`` is
``Enqueue(task, j)``, which appends the task to node ``j``'s FIFO queue. A batch is thus placed
one task per step, all at the batch's arrival time. Times are in seconds.

Observation (a ``Dict`` of float32 ``Box``es whose shapes are fixed by the scenario's nodes):

``task`` (num_nodes,)
    ``log1p(expected duration on node j / 1 s)``, per node.
``nodes`` (num_nodes, 3)
    per node: ``log1p(backlog_s / 1 s)`` (the expected seconds until it could start a new
    task), ``log1p(queue_length)`` (tasks queued or running) and ``busy`` (0 or 1).

Logs keep long queues in a range a network handles; every entry is clipped to [0, 20], as in
the multiproc environment.

Reward, by ``objective``:

``"sum_completion"`` (default)
    minus the completion times (s, completion minus arrival) of the tasks that complete during
    the step (the simulated time from this decision point to the next). Every task completes,
    so the episode's sum is minus the sum of completion times, ``-avg_jct_s * jobs``, computed
    from the trace.
``"makespan"``
    minus the increase, during the step, of the makespan so far: the latest completion so far
    minus the earliest arrival of the workload (0 before any completion). The increases
    telescope, so the episode's sum is minus the makespan exactly as
    :func:`~schedlab.metrics.summary.summarize` computes ``makespan_s`` (from the earliest
    arrival to the latest end), up to floating-point rounding.

Credit lands at the step during which a task completes, not at its decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium import spaces

from schedlab.envs.base import SimulationEnv
from schedlab.families.hetero.model import HeteroView
from schedlab.sim.actions import Enqueue

__all__ = ["HeteroEnv", "OBJECTIVES", "NODE_FEATURES"]

#: The reward objectives :class:`HeteroEnv` offers.
OBJECTIVES = ("sum_completion", "makespan")
#: Names of a ``nodes`` observation row's entries, in order.
NODE_FEATURES = ("backlog", "queue_length", "busy")

_CLIP = 20.0


class HeteroEnv(SimulationEnv):
    """Hetero as a Gymnasium environment: one decision per task, ``Discrete(num_nodes)`` actions.

    See the module docstring for the observation and the reward.

    Args:
        scenario: A preset name or YAML path, a scenario mapping, or a validated
            ``HeteroScenario``; default the ``hetero`` preset.
        overrides: Dotted-key overrides of the scenario.
        objective: ``"sum_completion"`` or ``"makespan"``: what the reward sums to minus.
        render_mode: Only ``None``: the environment does not render.

    Raises:
        ConfigError: The scenario is invalid or not a hetero scenario.
        ValueError: ``objective`` is not one of :data:`OBJECTIVES`, or ``render_mode`` is set.
    """

    family = "hetero"
    default_scenario = "hetero"
    metric = "avg_jct_s"

    def __init__(
        self,
        scenario: Any = None,
        overrides: Mapping[str, Any] | None = None,
        *,
        objective: str = "sum_completion",
        render_mode: str | None = None,
    ) -> None:
        super().__init__(scenario, overrides, render_mode)
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
        self.objective = objective
        self.num_nodes = n = len(self.scenario.cluster.nodes)
        self.action_space = spaces.Discrete(n)
        self.observation_space = spaces.Dict(
            {
                "task": spaces.Box(low=0.0, high=_CLIP, shape=(n,), dtype=np.float32),
                "nodes": spaces.Box(low=0.0, high=_CLIP, shape=(n, len(NODE_FEATURES)), dtype=np.float32),
            }
        )
        self._open: list[int] = []
        self._t0 = 0.0
        self._makespan = 0.0

    # -- hooks ---------------------------------------------------------------------------

    def _begin_episode(self) -> None:
        # Tasks placed but not yet completed: a step scans only these for completions.
        self._open = []
        self._t0 = min(t.arrival_s for t in self.sim.model.tasks)
        self._makespan = 0.0

    def _observation(self, view: HeteroView) -> dict[str, np.ndarray]:
        task = view.waiting[0]
        expected = np.log1p(np.asarray(task.expected, dtype=np.float64))
        rows = np.array(
            [(nd.backlog_s, nd.queue_length, float(nd.busy)) for nd in view.workers], dtype=np.float64
        ).reshape(self.num_nodes, len(NODE_FEATURES))
        rows[:, 0] = np.log1p(rows[:, 0])
        rows[:, 1] = np.log1p(rows[:, 1])
        return {
            "task": np.clip(expected, 0.0, _CLIP).astype(np.float32),
            "nodes": np.clip(rows, 0.0, _CLIP).astype(np.float32),
        }

    def _final_observation(self) -> dict[str, np.ndarray]:
        return {
            "task": np.zeros(self.num_nodes, dtype=np.float32),
            "nodes": np.zeros((self.num_nodes, len(NODE_FEATURES)), dtype=np.float32),
        }

    def _actions(self, view: HeteroView, action: Any) -> list[Enqueue]:
        node = self._index(action, self.num_nodes, "a node index")
        task = view.waiting[0].id
        self._open.append(task)
        return [Enqueue(task, node)]

    def _reward(self) -> tuple[float, dict[str, Any]]:
        model = self.sim.model
        end_at, tasks = model.pool.end_at, model.tasks
        completion_s = 0.0
        latest = None
        still_open = []
        for i in self._open:
            end = end_at[i]
            if end is None:
                still_open.append(i)
                continue
            completion_s += end - tasks[i].arrival_s
            latest = end if latest is None else max(latest, end)
        completed = len(self._open) - len(still_open)
        self._open = still_open
        before = self._makespan
        if latest is not None:
            self._makespan = max(before, latest - self._t0)
        increase = self._makespan - before
        reward = -completion_s if self.objective == "sum_completion" else -increase
        return reward, {"completed": completed, "completion_s": completion_s, "makespan_s": self._makespan}
