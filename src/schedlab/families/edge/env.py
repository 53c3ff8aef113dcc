"""A Gymnasium environment for the edge family: the agent picks the node of each waiting request.

:class:`EdgeEnv` is a thin adapter over the same :class:`~schedlab.sim.simulation.Simulation`
that schedulers run on. At each decision point it offers the agent the request waiting longest
(``view.request``); action ``k`` is ``Enqueue(request, k)``. The model's times are in
milliseconds; the reward's latencies are in seconds.

Observation (a ``Dict`` of float32 ``Box``es whose shapes are fixed by the scenario's nodes):

``request`` (2,)
    ``log1p(cost / cost_mean)`` and ``slog((deadline - now) / deadline_ms)``, the slack left to
    the request's deadline in units of the relative deadline (1 at arrival, negative once
    missed).
``nodes`` (num_nodes, 6)
    per node, its latest sample (not the state in between): ``cpu / max cpu`` and
    ``mem / max mem`` (the scenario's ``cluster.cpu`` and ``cluster.mem`` upper bounds),
    ``log1p(delay / deadline_ms)``, ``load`` (0..1), ``log1p(queue)``, and
    ``log1p(outstanding)``, the dispatcher's exact count of requests sent to the node and not
    yet served.

Here ``slog(x) = sign(x) * log1p(|x|)``; every entry is clipped to ±20, as in the multiproc
environment.

Reward: minus the deadline misses and, weighted by ``latency_weight`` (per second, default 0),
the latencies (s) of the requests that complete during the step (the simulated time from this
decision point to the next). A request's latency is its completion minus its arrival, and it
misses its deadline when it completes after ``arrival + deadline_ms``, exactly as
:func:`~schedlab.families.edge.metrics.edge_metrics` counts it (``deadline_miss_rate`` is the
count over the completed requests). Every request the agent sends is served, so the episode's
reward sum is exactly ``-(deadline_miss_rate * completed + latency_weight * sum of latencies)``,
computed from the trace. Credit lands at the step during which a request completes, not at its
decision.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium import spaces

from schedlab.envs.base import SimulationEnv
from schedlab.families.edge.model import EdgeView
from schedlab.sim.actions import Enqueue

__all__ = ["EdgeEnv", "REQUEST_FEATURES", "NODE_FEATURES"]

#: Names of the ``request`` observation's entries, in order.
REQUEST_FEATURES = ("cost", "slack")
#: Names of a ``nodes`` observation row's entries, in order.
NODE_FEATURES = ("cpu", "mem", "delay", "load", "queue", "outstanding")

_CLIP = 20.0


def _slog(x: float) -> float:
    return math.copysign(math.log1p(abs(x)), x)


class EdgeEnv(SimulationEnv):
    """Edge as a Gymnasium environment: one decision per request, ``Discrete(num_nodes)`` actions.

    See the module docstring for the observation and the reward.

    Args:
        scenario: A preset name or YAML path, a scenario mapping, or a validated
            ``EdgeScenario``; default the ``edge`` preset.
        overrides: Dotted-key overrides of the scenario (``{"workload.jobs": 60}``).
        latency_weight: Weight of the latency term of the reward (per second), at least 0.
        render_mode: Only ``None``: the environment does not render.

    Raises:
        ConfigError: The scenario is invalid or not an edge scenario.
        ValueError: ``latency_weight`` is negative or not finite, or ``render_mode`` is set.
    """

    family = "edge"
    default_scenario = "edge"
    metric = "deadline_miss_rate"

    def __init__(
        self,
        scenario: Any = None,
        overrides: Mapping[str, Any] | None = None,
        *,
        latency_weight: float = 0.0,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(scenario, overrides, render_mode)
        if not (math.isfinite(latency_weight) and latency_weight >= 0):
            raise ValueError(f"latency_weight must be finite and at least 0, got {latency_weight!r}")
        self.latency_weight = float(latency_weight)
        c, w = self.scenario.cluster, self.scenario.workload
        self.num_nodes = n = int(c.nodes)
        self._cost_mean = float(w.cost_mean)
        self._deadline_ms = float(w.deadline_ms)
        self._cpu_max = float(c.cpu[1])
        self._mem_max = float(c.mem[1])
        self.action_space = spaces.Discrete(n)
        k = len(NODE_FEATURES)
        self.observation_space = spaces.Dict(
            {
                "request": spaces.Box(
                    low=np.array([0.0, -_CLIP], dtype=np.float32),
                    high=np.array([_CLIP, _CLIP], dtype=np.float32),
                    dtype=np.float32,
                ),
                "nodes": spaces.Box(low=0.0, high=_CLIP, shape=(n, k), dtype=np.float32),
            }
        )
        self._open: list[int] = []

    # -- hooks ---------------------------------------------------------------------------

    def _begin_episode(self) -> None:
        # Requests sent but not yet served: a step scans only these for completions.
        self._open = []

    def _observation(self, view: EdgeView) -> dict[str, np.ndarray]:
        req = view.request
        r = np.array(
            [math.log1p(req.cost / self._cost_mean), _slog((req.deadline - view.now_ms) / self._deadline_ms)],
            dtype=np.float64,
        )
        nodes = np.array(
            [(nd.cpu, nd.mem, nd.delay, nd.load, nd.queue, nd.outstanding) for nd in view.workers],
            dtype=np.float64,
        ).reshape(self.num_nodes, len(NODE_FEATURES))
        rows = np.stack(
            [
                nodes[:, 0] / self._cpu_max,
                nodes[:, 1] / self._mem_max,
                np.log1p(np.maximum(nodes[:, 2], 0.0) / self._deadline_ms),
                nodes[:, 3],
                np.log1p(nodes[:, 4]),
                np.log1p(nodes[:, 5]),
            ],
            axis=1,
        )
        return {
            "request": np.clip(r, -_CLIP, _CLIP).astype(np.float32),
            "nodes": np.clip(rows, 0.0, _CLIP).astype(np.float32),
        }

    def _final_observation(self) -> dict[str, np.ndarray]:
        return {
            "request": np.zeros(len(REQUEST_FEATURES), dtype=np.float32),
            "nodes": np.zeros((self.num_nodes, len(NODE_FEATURES)), dtype=np.float32),
        }

    def _actions(self, view: EdgeView, action: Any) -> list[Enqueue]:
        node = self._index(action, self.num_nodes, "a node index")
        request = view.request.id
        self._open.append(request)
        return [Enqueue(request, node)]

    def _reward(self) -> tuple[float, dict[str, Any]]:
        model = self.sim.model
        end_at, arrival, deadline_ms = model.pool.end_at, model.arrival, model.deadline_ms
        misses = 0
        latency_ms = 0.0
        still_open = []
        for i in self._open:
            end = end_at[i]
            if end is None:
                still_open.append(i)
                continue
            # The same expression as the trace's deadline column, so the count matches the metric's.
            misses += end > arrival[i] + deadline_ms
            latency_ms += end - arrival[i]
        completed = len(self._open) - len(still_open)
        self._open = still_open
        latency_s = latency_ms / 1000.0
        reward = -(misses + self.latency_weight * latency_s)
        return reward, {"completed": completed, "misses": misses, "latency_s": latency_s}
