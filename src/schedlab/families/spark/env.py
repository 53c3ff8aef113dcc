"""A Gymnasium environment for the spark family: the agent hands a round's executors to stages.

:class:`SparkEnv` is a thin adapter over the same :class:`~schedlab.sim.simulation.Simulation`
that schedulers run on. A scheduling round hands the free executors of one source pool to
stages; each step of the environment is one decision of the round, a single
``Assign(job, stage, limit)``. The round goes on (the next step is at the same simulated time)
while free executors and schedulable stages remain, as :meth:`SparkCluster.apply
<schedlab.families.spark.model.SparkCluster.apply>` decides; then the simulation runs to the
next round.

Action, ``MultiDiscrete([max_stages, num_executors])``:

component 0, the stage slot
    an index into the *offered* stages: ``view.schedulable`` in view order (jobs in arrival
    order, then stage index), cut to its first ``max_stages``. When more stages are
    schedulable, those of the latest jobs are not offered at this step (they may be at a later
    one, once the earlier stages need no more executors). In graph mode the offered stages are the
    nodes marked in ``schedulable``, in node order, which is the same order.
component 1, the limit
    ``limit - 1``: the stage gets up to ``limit`` executors, 1 .. ``num_executors``; only
    ``limit <= view.committable`` is valid.

With ``pass_action=True`` component 0 has one more value, ``max_stages``: assign nothing, which
closes the round (its free executors go back, as after a scheduler's empty action list) and
ignores the limit. The ``fair`` heuristic needs it to leave a job at its share; a Decima-style
agent does without.

:meth:`SparkEnv.action_masks` concatenates the two components' masks, as sb3-contrib's
MaskablePPO expects for ``MultiDiscrete``. A stage slot past the offered stages or a limit
above ``committable`` raises :class:`~schedlab.errors.InvalidActionError`, or, with
``invalid_action="clip"``, is cut to the last offered stage and to ``committable`` (for learners
that cannot mask; ``info["action_clipped"]`` says when). An action outside the action space
always raises.

Stage features (:data:`STAGE_FEATURES`), Decima's five, per stage:

0. ``view.committable / num_executors``: the executors this decision can commit (the commit
   cap), the same for every stage;
1. ``+1`` if the stage's job is ``view.source_job`` (its executors stay home), else ``-1``;
2. ``exec_supply / num_executors`` of the stage's job (executors at, moving to or committed to
   it);
3. ``remaining_tasks / 200``: tasks not yet launched;
4. ``remaining_tasks * duration_estimate_ms / 1e5``: their estimated work (ms, over 1e5).

Features 2-4 are clipped to ``1e6`` so that the box bounds provably hold; no scenario comes
near.

Observation, ``observation="flat"`` (a ``Dict``, shapes fixed by ``max_stages``):

``stages`` (max_stages, 5) float32
    the features of the offered stages, in slot order; zero rows past them.
``valid`` (max_stages,) MultiBinary
    1 for the rows that hold an offered stage.
``globals`` (2,) float32
    ``committable / num_executors`` and the jobs in the system over the workload's job count.

Observation, ``observation="graph"`` (fixed-size arrays a PyTorch Geometric ``Data`` is built
from by cutting each at its count; :func:`graph_arrays` gives the same arrays unpadded):

``x`` (max_nodes, 5) float32
    the features of every incomplete stage of every job in the system; nodes go job by job in
    arrival order, by stage index within a job.
``edge_index`` (2, max_edges) int64
    parent -> child edges among those nodes (an edge from a completed parent is gone).
``num_nodes``, ``num_edges``, ``num_jobs`` (1,) int64
    how many rows of ``x`` / columns of ``edge_index`` / job slots are used.
``node_job`` (max_nodes,) int64
    the slot of each node's job: its position among the jobs in the system, by arrival.
``schedulable`` (max_nodes,) MultiBinary
    1 for the offered stages; the ``i``-th marked node, in node order, is action slot ``i``.
``job_mask`` (max_jobs,) MultiBinary
    1 for the used job slots (the first ``num_jobs``).

Padding is zero. ``max_nodes`` and ``max_edges`` default to bounds no episode can exceed (the
workload's job count times the most stages, or edges, one job can have). Smaller values must
still hold one job; when the jobs in the system do not fit, the graph keeps the jobs with
schedulable stages, earliest first, up to the first that does not fit, then fills the room left
with the other jobs, earliest first. Nodes still go by arrival order of the jobs kept, and the
stages of the jobs left out are not offered; the offered stages remain a prefix of
``view.schedulable``, so both observation modes offer the same slots whenever nothing is left
out.

Reward: minus the number of jobs in the system integrated over simulated time (s) since the
previous step (the first step counts from time 0), Decima's reward. With
``F(t) = sum over arrived jobs of (min(completion, t) - arrival)``, a step's reward is
``-(F(now) - F(previous))``, exact whatever arrives or completes between the decision points.
Every job completes, so an episode's rewards sum to minus the total job completion time,
``-avg_jct_s * jobs`` (the environment's ``metric`` is ``avg_jct_s``). Cut short by a time
limit, the sum is minus the time the jobs spent in the system up to then, completed or not.

The observation, the masks and the action decoding read only the view they are given, so
``observe_view``, ``view_action_masks`` and ``view_actions`` serve any run of a scenario with
the same number of executors (a trained policy run as a scheduler).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium import spaces

from schedlab.envs.base import SimulationEnv
from schedlab.errors import ConfigError, InvalidActionError
from schedlab.families.spark.graph import (
    _CLIP,
    _TASK_SCALE,
    _WORK_SCALE,
    STAGE_FEATURES,
    GraphCache,
    _fit,
    graph_arrays,
)
from schedlab.families.spark.model import SparkView, StageView
from schedlab.families.spark.scenario import SparkScenario, TpchWorkload
from schedlab.sim.actions import Assign

__all__ = [
    "SparkEnv",
    "GraphCache",
    "graph_arrays",
    "workload_bounds",
    "STAGE_FEATURES",
    "OBSERVATIONS",
    "INVALID_ACTIONS",
]

#: The observation modes :class:`SparkEnv` offers.
OBSERVATIONS = ("flat", "graph")
#: What :class:`SparkEnv` does with an action that is in the space but not valid now.
INVALID_ACTIONS = ("raise", "clip")

_LOW = np.array([0.0, -1.0, 0.0, 0.0, 0.0], dtype=np.float32)
_HIGH = np.array([1.0, 1.0, _CLIP, _CLIP, _CLIP], dtype=np.float32)
# Stages offered by default, per the most stages one job can have: four jobs' worth. On TPC-H
# (72 slots) fifo and random policies reached at most 44 and 31 schedulable stages (seeds 1-3).
_OFFER_JOBS = 4


def workload_bounds(scenario: SparkScenario) -> tuple[int, int, int]:
    """The workload's job count and the most stages and edges one of its jobs can have.

    TPC-H bounds come from the profiles the scenario names (loaded once per process and
    cached); synthetic ones from the generator's parameters (a stage may take every earlier
    stage as a parent).

    Raises:
        DataError: A TPC-H scenario whose profiles cannot be found or read.
    """
    w = scenario.workload
    if isinstance(w, TpchWorkload):
        from schedlab.families.spark.tpch import NUM_QUERIES, find_tpch_dir, load_tpch

        templates = load_tpch(find_tpch_dir(w.tpch_dir), tuple(w.sizes))
        queries = w.queries or tuple(range(1, NUM_QUERIES + 1))
        chosen = [t[q - 1] for t in templates.values() for q in queries]
        stages = max(len(t.stages) for t in chosen)
        edges = max(sum(len(s.parents) for s in t.stages) for t in chosen)
        return w.jobs, stages, edges
    s = w.max_stages
    return w.jobs, s, s * (s - 1) // 2


def _positive(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be an integer of at least 1, got {value!r}")
    return int(value)


class SparkEnv(SimulationEnv):
    """Spark as a Gymnasium environment: one ``Assign`` per step, Decima's features and reward.

    See the module docstring for the action, the observations and the reward.

    Args:
        scenario: A preset name or YAML path, a scenario mapping, or a validated
            ``SparkScenario``; default the ``spark-synthetic`` preset.
        overrides: Dotted-key overrides of the scenario (``{"cluster.executors": 10}``).
        observation: ``"flat"`` or ``"graph"``.
        max_stages: Stage slots of the action (and rows of the flat observation). Default:
            four times the most stages one job of the workload can have, at most the
            workload's total (``jobs * stages per job``).
        max_nodes: Node rows of the graph observation. Default ``jobs * stages per job``, a
            bound no episode exceeds; at least the stages of one job.
        max_edges: Edge columns of the graph observation. Default ``jobs * edges per job``
            (at least 1); at least the edges of one job.
        pass_action: Add the stage slot ``max_stages``: assign nothing and close the round.
        invalid_action: ``"raise"`` (an in-space action that is not valid now raises
            ``InvalidActionError``) or ``"clip"`` (it is cut to the nearest valid one).
        render_mode: Only ``None``: the environment does not render.

    Raises:
        ConfigError: The scenario is invalid or not a spark scenario.
        DataError: A TPC-H scenario whose profiles cannot be found.
        ValueError: An unknown ``observation`` or ``invalid_action``, a bound below 1 (or
            below one job's stages or edges), or a ``render_mode``.

    Attributes:
        num_executors: Executors in the cluster (the limit component's size).
        num_jobs: Jobs in the workload.
        max_stages: Stage slots of the action (the pass slot, if any, comes after them).
        max_nodes: Node rows of the graph observation.
        max_edges: Edge columns of the graph observation.
        max_jobs: Job slots of the graph observation: at most the workload's jobs, and at most
            ``max_nodes`` (a job in the system has at least one incomplete stage).
    """

    family = "spark"
    default_scenario = "spark-synthetic"
    metric = "avg_jct_s"

    def __init__(
        self,
        scenario: Any = None,
        overrides: Mapping[str, Any] | None = None,
        *,
        observation: str = "flat",
        max_stages: int | None = None,
        max_nodes: int | None = None,
        max_edges: int | None = None,
        pass_action: bool = False,
        invalid_action: str = "raise",
        render_mode: str | None = None,
    ) -> None:
        super().__init__(scenario, overrides, render_mode)
        if observation not in OBSERVATIONS:
            raise ValueError(f"observation must be one of {', '.join(OBSERVATIONS)}, got {observation!r}")
        if invalid_action not in INVALID_ACTIONS:
            raise ValueError(f"invalid_action must be one of {', '.join(INVALID_ACTIONS)}, got {invalid_action!r}")
        max_stages = _positive("max_stages", max_stages)
        max_nodes = _positive("max_nodes", max_nodes)
        max_edges = _positive("max_edges", max_edges)
        self.observation = observation
        self.pass_action = bool(pass_action)
        self.invalid_action = invalid_action
        jobs, per_job, edges_per_job = workload_bounds(self.scenario)
        self.num_executors = n = self.scenario.cluster.executors
        self.num_jobs = jobs
        if max_nodes is not None and max_nodes < per_job:
            raise ValueError(f"max_nodes must hold one job's {per_job} stages, got {max_nodes}")
        if max_edges is not None and max_edges < edges_per_job:
            raise ValueError(f"max_edges must hold one job's {edges_per_job} edges, got {max_edges}")
        self.max_stages = max_stages or min(jobs * per_job, _OFFER_JOBS * per_job)
        self.max_nodes = max_nodes or jobs * per_job
        self.max_edges = max_edges or max(1, jobs * edges_per_job)
        self.max_jobs = min(jobs, self.max_nodes)
        # Bounds smaller than the workload's may leave jobs out of the graph; otherwise no
        # check is needed at each step.
        self._cut_nodes = self.max_nodes if max_nodes is not None and max_nodes < jobs * per_job else None
        self._cut_edges = self.max_edges if max_edges is not None and max_edges < jobs * edges_per_job else None
        self.action_space = spaces.MultiDiscrete([self.max_stages + self.pass_action, n])
        if observation == "flat":
            m = self.max_stages
            self.observation_space = spaces.Dict(
                {
                    "stages": spaces.Box(np.tile(_LOW, (m, 1)), np.tile(_HIGH, (m, 1)), dtype=np.float32),
                    "valid": spaces.MultiBinary(m),
                    "globals": spaces.Box(0.0, 1.0, shape=(2,), dtype=np.float32),
                }
            )
        else:
            nn, ne, nj = self.max_nodes, self.max_edges, self.max_jobs
            self.observation_space = spaces.Dict(
                {
                    "x": spaces.Box(np.tile(_LOW, (nn, 1)), np.tile(_HIGH, (nn, 1)), dtype=np.float32),
                    "edge_index": spaces.Box(0, nn - 1, shape=(2, ne), dtype=np.int64),
                    "num_nodes": spaces.Box(0, nn, shape=(1,), dtype=np.int64),
                    "num_edges": spaces.Box(0, ne, shape=(1,), dtype=np.int64),
                    "node_job": spaces.Box(0, nj - 1, shape=(nn,), dtype=np.int64),
                    "num_jobs": spaces.Box(0, nj, shape=(1,), dtype=np.int64),
                    "schedulable": spaces.MultiBinary(nn),
                    "job_mask": spaces.MultiBinary(nj),
                }
            )
        self._cache = GraphCache()
        self._offer: tuple[StageView, ...] = ()  # the offered stages of the open decision point
        self._clipped = False
        self._reset_reward_state()

    # -- masks ---------------------------------------------------------------------------

    def action_masks(self) -> np.ndarray:
        """Valid actions now, for ``sb3_contrib.MaskablePPO``; see :meth:`view_action_masks`."""
        sim = self.sim
        if sim is None or sim.done:
            return self.view_action_masks(None)
        return self._masks(len(self._offer), sim.observe().committable)

    def view_action_masks(self, view: SparkView | None) -> np.ndarray:
        """Valid actions at ``view``: the two components' masks, concatenated (MaskablePPO's layout).

        The first ``max_stages`` (+1 with ``pass_action``) entries mark the offered stage slots
        (and the pass slot), the last ``num_executors`` the limits 1 .. ``committable``.
        ``action_masks()`` gives them for the current decision point. With no decision point
        open (``view`` None) every action is marked valid, as a mask must allow something.
        """
        if view is None:
            return np.ones(self.max_stages + self.pass_action + self.num_executors, dtype=bool)
        return self._masks(len(self._offered(view)), view.committable)

    def view_actions(self, view: SparkView, action: Any) -> list[Assign]:
        """The ``Assign`` (or, for the pass slot, nothing) the agent's ``action`` stands for at ``view``."""
        return self._decode(view, action, self._offered(view))

    def _masks(self, offered: int, committable: int) -> np.ndarray:
        m = self.max_stages
        out = np.zeros(m + self.pass_action + self.num_executors, dtype=bool)
        out[:offered] = True
        if self.pass_action:
            out[m] = True
        start = m + self.pass_action
        out[start : start + committable] = True
        return out

    def _offered(self, view: SparkView) -> tuple[StageView, ...]:
        """The stages the action's slots name at ``view``, slot 0 first."""
        sched = view.schedulable
        if self._cut_nodes is None and self._cut_edges is None:
            return sched[: self.max_stages]
        # A graph cut to its bounds offers only the stages of the jobs it keeps.
        kept = {job.id for job, _ in _fit(self._cache.entries(view), sched, self._cut_nodes, self._cut_edges)}
        k = 0
        for st in sched[: self.max_stages]:
            if st.job_id not in kept:
                break
            k += 1
        return sched[:k]

    # -- hooks ---------------------------------------------------------------------------

    def _reset_reward_state(self) -> None:
        self._next_job = 0  # the first job not yet counted as arrived
        self._open: list[Any] = []  # arrived jobs not yet seen completed
        self._closed_ms = 0.0  # completion - arrival, summed over the jobs seen completed
        self._area_ms = 0.0  # F at the previous step

    def _begin_episode(self) -> None:
        self._reset_reward_state()
        self._clipped = False

    def _observation(self, view: SparkView) -> dict[str, np.ndarray]:
        # The episode's own decision point: its offered stages serve the next step's action
        # and masks, as nothing changes in the simulation until then.
        obs, self._offer = self._observe(view)
        return obs

    def observe_view(self, view: SparkView) -> dict[str, np.ndarray]:
        """The observation at ``view``, which may come from any run (see the base class)."""
        return self._observe(view)[0]

    def _observe(self, view: SparkView) -> tuple[dict[str, np.ndarray], tuple[StageView, ...]]:
        if view.num_executors != self.num_executors:
            # The limit component of the action space is sized by the scenario's executors.
            raise ConfigError(
                f"this environment observes {self.num_executors} executors; the run has {view.num_executors}",
                field="cluster.executors",
            )
        if self.observation == "flat":
            return self._flat(view)
        return self._graph(view)

    def _flat(self, view: SparkView) -> tuple[dict[str, np.ndarray], tuple[StageView, ...]]:
        m = self.max_stages
        offer = view.schedulable[:m]
        num = self.num_executors
        cap = view.committable / num
        src = view.source_job
        src_id = src.id if src is not None else None
        jobs = view.jobs
        per_job = {j.id: (1.0 if j.id == src_id else -1.0, j.exec_supply / num) for j in jobs}
        rows = []
        for st in offer:
            sign, supply = per_job[st.job_id]
            r = st.remaining_tasks
            # The same float64 arithmetic as graph mode's, so both give equal rows.
            rows.append((cap, sign, supply, r / _TASK_SCALE, r * st.duration_estimate_ms / _WORK_SCALE))
        k = len(rows)
        stages = np.zeros((m, len(STAGE_FEATURES)), dtype=np.float32)
        valid = np.zeros(m, dtype=np.int8)
        if k:
            stages[:k] = rows
            np.minimum(stages[:k, 2:], _CLIP, out=stages[:k, 2:])
            valid[:k] = 1
        glob = np.array((cap, min(1.0, len(jobs) / self.num_jobs)), dtype=np.float32)
        return {"stages": stages, "valid": valid, "globals": glob}, offer

    def _graph(self, view: SparkView) -> tuple[dict[str, np.ndarray], tuple[StageView, ...]]:
        g = self._cache.build(view, self.max_stages, self._cut_nodes, self._cut_edges)
        stage_node = g["stage_node"]
        n, e, nj = len(g["x"]), g["edge_index"].shape[1], len(g["job_id"])
        x = np.zeros((self.max_nodes, len(STAGE_FEATURES)), dtype=np.float32)
        x[:n] = g["x"]
        edge_index = np.zeros((2, self.max_edges), dtype=np.int64)
        edge_index[:, :e] = g["edge_index"]
        node_job = np.zeros(self.max_nodes, dtype=np.int64)
        node_job[:n] = g["node_job"]
        schedulable = np.zeros(self.max_nodes, dtype=np.int8)
        schedulable[stage_node] = 1
        job_mask = np.zeros(self.max_jobs, dtype=np.int8)
        job_mask[:nj] = 1
        obs = {
            "x": x,
            "edge_index": edge_index,
            "num_nodes": np.array([n], dtype=np.int64),
            "num_edges": np.array([e], dtype=np.int64),
            "node_job": node_job,
            "num_jobs": np.array([nj], dtype=np.int64),
            "schedulable": schedulable,
            "job_mask": job_mask,
        }
        # The offered stages are a prefix of view.schedulable (see _fit).
        return obs, view.schedulable[: len(stage_node)]

    def _final_observation(self) -> dict[str, np.ndarray]:
        self._offer = ()
        return {k: np.zeros(s.shape, dtype=s.dtype) for k, s in self.observation_space.spaces.items()}

    def _actions(self, view: SparkView, action: Any) -> list[Assign]:
        return self._decode(view, action, self._offer)

    def _decode(self, view: SparkView, action: Any, offer: tuple[StageView, ...]) -> list[Assign]:
        try:
            a = np.asarray(action)
        except (TypeError, ValueError):
            a = None
        if a is None or a.shape != (2,) or a.dtype.kind not in "iuf":
            raise InvalidActionError(f"a spark action is [stage slot, limit - 1], got {action!r}")
        slot_f, k_f = float(a[0]), float(a[1])
        if not (slot_f.is_integer() and k_f.is_integer()):
            raise InvalidActionError(f"a spark action is two integers [stage slot, limit - 1], got {action!r}")
        slot, limit = int(slot_f), int(k_f) + 1
        slots = self.max_stages + self.pass_action
        if not (0 <= slot < slots and 1 <= limit <= self.num_executors):
            raise InvalidActionError(
                f"a spark action is [stage slot in 0..{slots - 1}, limit - 1 in 0..{self.num_executors - 1}], "
                f"got {action!r}"
            )
        self._clipped = False
        if self.pass_action and slot == self.max_stages:
            return []
        cap = view.committable
        if slot >= len(offer) or limit > cap:
            if self.invalid_action == "raise":
                raise InvalidActionError(
                    f"{action!r}: {len(offer)} stages are offered (slots 0..{len(offer) - 1}) and the limit "
                    f"must be at most {cap} (view.committable); see action_masks()"
                )
            slot, limit = min(slot, len(offer) - 1), min(limit, cap)
            self._clipped = True
        st = offer[slot]
        return [Assign(st.job_id, st.index, limit)]

    def _reward(self) -> tuple[float, dict[str, Any]]:
        now = self.sim.engine.now
        jobs = self.sim.model.jobs
        i, total = self._next_job, len(jobs)
        while i < total and jobs[i].arrival <= now:
            self._open.append(jobs[i])
            i += 1
        self._next_job = i
        still = []
        open_ms = 0.0
        for job in self._open:
            c = job.completion
            if c is None:
                still.append(job)
                open_ms += now - job.arrival
            else:
                self._closed_ms += c - job.arrival
        self._open = still
        area = self._closed_ms + open_ms
        reward = -(area - self._area_ms) / 1000.0
        self._area_ms = area
        return reward, {"jobs_in_system": len(still), "action_clipped": self._clipped}

    def close(self) -> None:
        self._cache = GraphCache()
        super().close()
