"""A Gymnasium environment for the hetero family: the agent picks the node of each waiting task.

:class:`HeteroEnv` is a thin adapter over the same :class:`~schedlab.sim.simulation.Simulation`
that schedulers run on. At each decision point it offers the agent the first waiting task
(``view.waiting[0]``: arrival order, id order within a batch); action ``j`` is
``Enqueue(task, j)``, which appends the task to node ``j``'s FIFO queue. A batch is thus placed
one task per step, all at the batch's arrival time. Times are in seconds.

Observation (a ``Dict`` of float32 ``Box``es whose shapes are fixed by the scenario's nodes), by
``observation``:

``"profiled"`` (default): what the profile-based baselines plan with.

``task`` (num_nodes,)
    ``log1p(expected duration on node j / 1 s)``, per node.
``nodes`` (num_nodes, 3)
    per node: ``log1p(backlog_s / 1 s)`` (the expected seconds until it could start a new
    task), ``log1p(queue_length)`` (tasks queued or running) and ``busy`` (0 or 1).

Logs keep long queues in a range a network handles; every entry is clipped to [0, 20], as in
the multiproc environment.

``"unprofiled"``: what an allocator of *unprofiled* tasks knows, after the learned-embeddings
system this family reproduces: no expected duration and no expected backlog, only what each
task is and where the tasks went. A policy has to learn which node suits which task.

``task`` (6,)
    the type one-hot (:data:`~schedlab.families.hetero.tasks.TASK_TYPES` order), the size's
    position in its type's range (0 to 1) and its complexity
    (:func:`~schedlab.families.hetero.tasks.complexity`: the asymptotic cost relative to the
    top of the range, known from what the task computes).
``batch`` (8,)
    the other waiting tasks: per type, their count / 4 and their summed complexity.
``nodes`` (num_nodes, 10)
    per node, the tasks it holds (running or queued): per type, their count / 4 and their
    summed complexity; ``busy``; and ``log1p`` of the seconds its running task has run.

With ``relative=True`` every complexity is divided by the mean complexity of the tasks in the
system (waiting, queued or running) and the size position is 0: the observation no longer says
how large the tasks are in absolute terms, only how they compare, which is what placing sizes
outside the training range needs.

Nodes are slots named by the scenario the environment is built on. A run on a cluster without
one of them (a node removed) leaves its slot at zero and masks its action, so a policy trained
on the full cluster runs there unchanged. Counts and sums are clipped to [0, 50].

A trained policy observes a run through the environment of its training scenario. A run whose
nodes that observation cannot hold is refused with a :class:`~schedlab.errors.ConfigError` on
``cluster.nodes``: ``profiled``, another number of nodes than the scenario's (its rows are the
nodes by position); ``unprofiled``, a node the scenario does not name (it would never be given
a task).

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

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium import spaces

from schedlab.envs.base import SimulationEnv
from schedlab.errors import ConfigError
from schedlab.families.hetero.model import HeteroView
from schedlab.families.hetero.tasks import SIZE_RANGES, TASK_TYPES, complexity
from schedlab.sim.actions import Enqueue

__all__ = ["HeteroEnv", "OBJECTIVES", "OBSERVATIONS", "NODE_FEATURES", "UNPROFILED_NODE_FEATURES"]

#: The reward objectives :class:`HeteroEnv` offers.
OBJECTIVES = ("sum_completion", "makespan")
#: The observation modes :class:`HeteroEnv` offers.
OBSERVATIONS = ("profiled", "unprofiled")
#: Names of a ``nodes`` observation row's entries, in order (``profiled``).
NODE_FEATURES = ("backlog", "queue_length", "busy")
#: Names of a ``nodes`` observation row's entries, in order (``unprofiled``).
UNPROFILED_NODE_FEATURES = (
    *(f"{t}_count" for t in TASK_TYPES),
    *(f"{t}_complexity" for t in TASK_TYPES),
    "busy",
    "running_s",
)

_CLIP = 20.0
_CLIP_SUMS = 50.0
_TYPE_INDEX = {t: k for k, t in enumerate(TASK_TYPES)}
_K = len(TASK_TYPES)


class HeteroEnv(SimulationEnv):
    """Hetero as a Gymnasium environment: one decision per task, ``Discrete(num_nodes)`` actions.

    See the module docstring for the observation and the reward.

    Args:
        scenario: A preset name or YAML path, a scenario mapping, or a validated
            ``HeteroScenario``; default the ``hetero`` preset.
        overrides: Dotted-key overrides of the scenario.
        objective: ``"sum_completion"`` or ``"makespan"``: what the reward sums to minus.
        observation: ``"profiled"`` or ``"unprofiled"`` (see the module docstring).
        relative: ``unprofiled`` only: complexities relative to the mean complexity of the
            tasks in the system (waiting, queued or running), and no size position, so a
            workload of larger tasks looks like one of smaller tasks.
        render_mode: Only ``None``: the environment does not render.

    Raises:
        ConfigError: The scenario is invalid or not a hetero scenario.
        ValueError: ``objective`` is not one of :data:`OBJECTIVES`, ``observation`` not one of
            :data:`OBSERVATIONS`, or ``render_mode`` is set.
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
        observation: str = "profiled",
        relative: bool = False,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(scenario, overrides, render_mode)
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
        if observation not in OBSERVATIONS:
            raise ValueError(f"observation must be one of {', '.join(OBSERVATIONS)}, got {observation!r}")
        self.objective = objective
        self.observation = observation
        self.relative = bool(relative)
        if self.relative and observation != "unprofiled":
            raise ValueError("relative applies to the unprofiled observation only")
        names = [nd.name for nd in self.scenario.cluster.nodes]
        self.num_nodes = n = len(names)
        self._slot_of_name = {name: j for j, name in enumerate(names)}
        self.action_space = spaces.Discrete(n)
        if observation == "profiled":
            self.observation_space = spaces.Dict(
                {
                    "task": spaces.Box(low=0.0, high=_CLIP, shape=(n,), dtype=np.float32),
                    "nodes": spaces.Box(low=0.0, high=_CLIP, shape=(n, len(NODE_FEATURES)), dtype=np.float32),
                }
            )
        else:
            self.observation_space = spaces.Dict(
                {
                    "task": spaces.Box(low=0.0, high=_CLIP_SUMS, shape=(_K + 2,), dtype=np.float32),
                    "batch": spaces.Box(low=0.0, high=_CLIP_SUMS, shape=(2 * _K,), dtype=np.float32),
                    "nodes": spaces.Box(
                        low=0.0, high=_CLIP_SUMS, shape=(n, len(UNPROFILED_NODE_FEATURES)), dtype=np.float32
                    ),
                }
            )
        self._open: list[int] = []
        self._t0 = 0.0
        self._makespan = 0.0

    # -- hooks ---------------------------------------------------------------------------

    def _begin_episode(self) -> None:
        # Tasks placed but not yet completed: a step scans only these for completions.
        self._open = []
        # No simulation when a scheduler or a cloning loop observes through this environment.
        self._t0 = min(t.arrival_s for t in self.sim.model.tasks) if self.sim is not None else 0.0
        self._makespan = 0.0

    def _observation(self, view: HeteroView) -> dict[str, np.ndarray]:
        if self.observation == "unprofiled":
            return self._unprofiled(view)
        self._check_count(view)
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

    def _unprofiled(self, view: HeteroView) -> dict[str, np.ndarray]:
        first, *others = view.waiting
        held: list[tuple[int, Any, tuple]] = []
        for nd in view.workers:
            j = self._slot(nd.name)
            running = nd.running
            held.append((j, nd, nd.queue if running is None else (running, *nd.queue)))
        scale = 1.0
        if self.relative:
            every = [first, *others, *(t for _, _, ts in held for t in ts)]
            scale = sum(complexity(t.type, t.size) for t in every) / len(every)
        lo, hi = SIZE_RANGES[first.type]
        task = np.zeros(_K + 2)
        task[_TYPE_INDEX[first.type]] = 1.0
        task[_K] = 0.0 if self.relative else (first.size - lo) / (hi - lo)
        task[_K + 1] = complexity(first.type, first.size) / scale
        batch = np.zeros(2 * _K)
        for t in others:
            k = _TYPE_INDEX[t.type]
            batch[k] += 0.25
            batch[_K + k] += complexity(t.type, t.size) / scale
        nodes = np.zeros((self.num_nodes, len(UNPROFILED_NODE_FEATURES)))
        for j, nd, tasks in held:
            row = nodes[j]
            for t in tasks:
                k = _TYPE_INDEX[t.type]
                row[k] += 0.25
                row[_K + k] += complexity(t.type, t.size) / scale
            if nd.busy:
                row[2 * _K] = 1.0
                row[2 * _K + 1] = math.log1p(max(0.0, view.now - nd.running_since))
        return {
            "task": np.clip(task, 0.0, _CLIP_SUMS).astype(np.float32),
            "batch": np.clip(batch, 0.0, _CLIP_SUMS).astype(np.float32),
            "nodes": np.clip(nodes, 0.0, _CLIP_SUMS).astype(np.float32),
        }

    def _final_observation(self) -> dict[str, np.ndarray]:
        return {k: np.zeros(box.shape, dtype=np.float32) for k, box in self.observation_space.spaces.items()}

    def view_action_masks(self, view: Any | None) -> np.ndarray:
        """Every slot whose node is in the run's cluster (all of them on the scenario's own)."""
        if view is None or self.observation == "profiled":
            if view is not None:
                self._check_count(view)
            return np.ones(self.num_nodes, dtype=bool)
        mask = np.zeros(self.num_nodes, dtype=bool)
        for nd in view.workers:
            mask[self._slot(nd.name)] = True
        return mask

    def _check_count(self, view: HeteroView) -> None:
        """Refuse a run whose node count is not the scenario's (``profiled`` rows are nodes by position)."""
        if len(view.workers) != self.num_nodes:
            raise ConfigError(
                f"this run's cluster has {len(view.workers)} node(s), but the observation (and a policy trained "
                f"with it) has {self.num_nodes}, those of scenario {self.scenario.name!r}: a profiled observation "
                "needs the same number of nodes",
                field="cluster.nodes",
            )

    def _slot(self, name: str) -> int:
        """The slot of the run's node ``name``; a node the scenario does not name is refused."""
        j = self._slot_of_name.get(name)
        if j is None:
            raise ConfigError(
                f"this run's node {name!r} has no slot in the observation (and a policy trained with it), "
                f"which knows the {self.num_nodes} node(s) of scenario {self.scenario.name!r}: a run may leave "
                "some of them out, not add others",
                field="cluster.nodes",
            )
        return j

    def view_label(self, view: Any, answer: list, mask: np.ndarray) -> int | None:
        """The slot of the node the answer gives the offered task (``view.waiting[0]``), if any."""
        first = view.waiting[0].id
        node = next((a.worker for a in answer if isinstance(a, Enqueue) and a.task == first), None)
        if node is None:
            return None
        slot = node if self.observation == "profiled" else self._slot_of_name.get(view.workers[node].name)
        return slot if slot is not None and mask[slot] else None

    def _actions(self, view: HeteroView, action: Any) -> list[Enqueue]:
        node = slot = self._index(action, self.num_nodes, "a node index")
        if self.observation == "unprofiled":
            name = self.scenario.cluster.nodes[slot].name
            node = next((nd.id for nd in view.workers if nd.name == name), None)
            if node is None:
                raise ConfigError(f"node {name!r} is not in this run's cluster", field="cluster.nodes")
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
