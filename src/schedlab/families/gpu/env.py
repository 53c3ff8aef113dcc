"""A Gymnasium environment for the gpu family: the agent places one ready workflow node at a time.

:class:`GpuEnv` is a thin adapter over the same :class:`~schedlab.sim.simulation.Simulation`
that schedulers run on. At each decision point it offers *candidates*: the valid
``Place(node, gang)`` actions, a ready node on a run of consecutive idle GPUs as many as its
model needs, in a stable order: ready-queue order (the order the nodes became ready), then gang
by first GPU, ascending (the order of :meth:`GpuView.valid_actions`). When there are more than
``max_candidates``, the first ``max_candidates`` are offered. The model's times are in seconds.

Action: ``Discrete(max_candidates + 1)``. Action ``i < max_candidates`` applies candidate ``i``
(:attr:`GpuEnv.candidates`); the last action, ``max_candidates`` (:attr:`GpuEnv.wait_action`),
*waits*: it applies an empty list, so nothing is placed, the decision point closes, and the
simulation runs to the next event (an arrival or a completion), where the ready nodes, which
still fit on the GPUs still idle, are offered again. Waiting is masked when no event is left
(nothing runs and nothing will arrive): it would end the episode with requests unfinished.
Every wait consumes an event, so waiting cannot loop forever. A placement that leaves another
candidate keeps the decision point open at the same time; otherwise the simulation runs on.
:meth:`GpuEnv.action_masks` says which actions are valid (for ``sb3_contrib.MaskablePPO``),
and ``action_space.sample()`` draws among them; any other action raises
:class:`~schedlab.errors.InvalidActionError`.

Observation, ``observation="flat"`` (a ``Dict`` of float32 ``Box``es of fixed shapes):

``candidates`` (max_candidates, 10 + M)
    per candidate (zeros past the candidates offered): ``valid`` (1), the node's
    ``estimated_time``, the ``setup_time`` (the model switch or load) on that gang as the GPUs
    are loaded now, ``gang`` (size / num_gpus), ``first_gpu`` (id / num_gpus), ``node_age``
    (now minus when the node became ready), ``request_age`` (now minus the request's arrival),
    ``request_work_left`` (estimated GPU-seconds of the request's unplaced nodes),
    ``request_nodes_left`` (its unfinished nodes), ``loaded`` (fraction of the gang's GPUs
    holding the model), then a one-hot of the node's model (M models, the config's order).
``gpus`` (num_gpus, 3 + M)
    per GPU: ``busy`` (0 or 1), ``until_free`` (seconds until its running node ends),
    ``idle_for`` (seconds since it became free), then a one-hot of the model it holds (all
    zeros when it holds none).
``global`` (5,)
    ``ready`` (ready nodes), ``requests`` (requests in the system: arrived, not finished),
    ``idle_gpus`` (fraction), ``can_wait`` (0 or 1), ``candidates`` (candidates offered).

Observation, ``observation="graph"``: the same ``candidates``, ``gpus`` and ``global``, and the
workflow graph of the requests in the system, padded to maxima fixed in ``__init__`` so that
episodes batch; slice each array by its count to get what PyTorch Geometric batches
(:func:`graph_arrays` gives the unpadded arrays):

``x`` (max_nodes, 8 + M), float32
    one row per unfinished node of the requests in the system, requests in slot order, nodes
    in workflow order: ``ready``, ``running``, ``waiting`` (for a parent), the node's
    ``estimated_time``, ``gang`` (size / num_gpus), ``ready_age`` (seconds since it became
    ready; 0 unless ready), ``remaining`` (seconds until it ends; 0 unless running),
    ``children`` (its child count), then a one-hot of its model.
``edge_index`` (2, max_edges), int64
    parent -> child rows of ``x``, between unfinished nodes.
``num_nodes``, ``num_edges``, ``num_requests`` (1,), int64
    how many rows of ``x``, columns of ``edge_index`` and rows of ``requests`` are real.
``node_request`` (max_nodes,), int64
    each node's request slot (a row of ``requests``).
``ready`` (max_nodes,), int8
    1 where the node is in the ready queue.
``requests`` (max_requests, 3), float32
    per request slot: ``age``, ``work_left`` and ``nodes_left``, as in ``candidates``.
``cand_node`` (max_candidates,), int64
    the ``x`` row of each candidate's node (0 past the candidates offered).
``cand_gpus`` (max_candidates, num_gpus), int8
    each candidate's gang, one 1 per GPU.

Request slots hold, in order, the requests of the offered candidates (in candidate order),
then the other requests in the system in arrival order, each only if all of its unfinished
nodes and edges still fit; a candidate whose request does not fit is not offered in graph mode
(the defaults fit every request of the first ``max_requests``).

Every time is in seconds and enters as ``log1p(t / 1 s)``, counts as ``log1p(count)``; every
float entry is clipped to [0, 20], as in the other environments.

Reward: minus the completion times (s, completion minus arrival) of the requests that complete
during the step (the simulated time from this decision point to the next). Every request
completes (waiting is never allowed to strand one), so the episode's reward sum is exactly minus
the sum of request completion times, ``-avg_jct_s * jobs``, computed from the trace. Credit
lands at the step during which a request completes, not at its decisions.
"""

from __future__ import annotations

import copy
import math
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
from gymnasium import spaces

from schedlab.envs.base import SimulationEnv
from schedlab.errors import ConfigError, InvalidActionError
from schedlab.families.gpu.model import GpuView, ReadyNode
from schedlab.sim.actions import Place

__all__ = [
    "GpuEnv",
    "GpuGraph",
    "graph_arrays",
    "OBSERVATIONS",
    "CANDIDATE_FEATURES",
    "GPU_FEATURES",
    "GLOBAL_FEATURES",
    "NODE_FEATURES",
    "REQUEST_FEATURES",
    "DEFAULT_READY_SLOTS",
]

#: The observation modes :class:`GpuEnv` offers.
OBSERVATIONS = ("flat", "graph")
#: Names of a ``candidates`` row's first entries; a one-hot of the node's model follows.
CANDIDATE_FEATURES = (
    "valid",
    "estimated_time",
    "setup_time",
    "gang",
    "first_gpu",
    "node_age",
    "request_age",
    "request_work_left",
    "request_nodes_left",
    "loaded",
)
#: Names of a ``gpus`` row's first entries; a one-hot of the model it holds follows.
GPU_FEATURES = ("busy", "until_free", "idle_for")
#: Names of the ``global`` entries.
GLOBAL_FEATURES = ("ready", "requests", "idle_gpus", "can_wait", "candidates")
#: Names of an ``x`` row's first entries (graph mode); a one-hot of the node's model follows.
NODE_FEATURES = ("ready", "running", "waiting", "estimated_time", "gang", "ready_age", "remaining", "children")
#: Names of a ``requests`` row's entries (graph mode).
REQUEST_FEATURES = ("age", "work_left", "nodes_left")
#: Ready nodes whose every gang the default ``max_candidates`` has room for.
DEFAULT_READY_SLOTS = 16
#: Most request slots of the default graph maxima.
DEFAULT_MAX_REQUESTS = 64

_CLIP = 20.0
_UNIT_SECONDS = {"s": 1.0, "ms": 1e-3}


class GpuGraph(NamedTuple):
    """The workflow graph of a decision point, unpadded (see :func:`graph_arrays`).

    Attributes:
        x: (N, len(NODE_FEATURES) + M) float32 node features.
        edge_index: (2, E) int64 parent -> child rows of ``x``.
        node_task: (N,) int64 task id (``Place``'s first field) of each row.
        node_request: (N,) int64 row of ``requests`` of each node.
        ready: (N,) bool, True where the node is ready.
        requests: (R,) int64 job ids of the request slots.
        request_x: (R, len(REQUEST_FEATURES)) float32 request features.
        candidates: The candidates kept (those whose node is in the graph), in order.
        cand_node: (C,) int64 row of ``x`` of each kept candidate's node.
        cand_x: (C, len(CANDIDATE_FEATURES) + M) float32 candidate features.
        cand_gpus: (C, num_gpus) bool, each candidate's gang.
        gpus: (num_gpus, len(GPU_FEATURES) + M) float32 GPU features.
    """

    x: np.ndarray
    edge_index: np.ndarray
    node_task: np.ndarray
    node_request: np.ndarray
    ready: np.ndarray
    requests: np.ndarray
    request_x: np.ndarray
    candidates: tuple[Place, ...]
    cand_node: np.ndarray
    cand_x: np.ndarray
    cand_gpus: np.ndarray
    gpus: np.ndarray


# -- features shared by both modes (and graph_arrays) ------------------------------------------


def _first_candidates(view: GpuView, limit: int) -> list[tuple[ReadyNode, tuple[int, ...]]]:
    """The first ``limit`` of ``view.valid_actions()``, as (ready node, gang), without the rest.

    Stopping early keeps a step cheap when the ready queue is long.
    """
    idle = [g.idle for g in view.gpus]
    n = len(idle)
    gangs: dict[int, list[tuple[int, ...]]] = {}
    out: list[tuple[ReadyNode, tuple[int, ...]]] = []
    if limit <= 0:
        return out
    for node in view.ready:
        k = node.gpus_required
        fit = gangs.get(k)
        if fit is None:
            fit = gangs[k] = [tuple(range(s, s + k)) for s in range(n - k + 1) if all(idle[s : s + k])]
        for gang in fit:
            out.append((node, gang))
            if len(out) == limit:
                return out
    return out


def _candidate_rows(
    view: GpuView, cands: Sequence[tuple[ReadyNode, tuple[int, ...]]], model_index: Mapping[str, int], sec: float
) -> np.ndarray:
    now, n = view.now, view.num_gpus
    gpus = view.gpus
    base = len(CANDIDATE_FEATURES)
    rows = np.zeros((len(cands), base + len(model_index)), dtype=np.float64)
    for i, (nd, gang) in enumerate(cands):
        req = view.request(nd.request)
        m = nd.model
        rows[i, :base] = (
            1.0,
            math.log1p(nd.estimated_time * sec),
            math.log1p(view.setup_time(gang, m) * sec),
            len(gang) / n,
            gang[0] / n,
            math.log1p(max(0.0, now - nd.ready_time) * sec),
            math.log1p(max(0.0, now - req.arrival) * sec),
            math.log1p(max(0.0, req.work_left_s) * sec),
            math.log1p(req.nodes_left),
            sum(gpus[g].model == m for g in gang) / len(gang),
        )
        rows[i, base + model_index[m]] = 1.0
    return rows


def _gpu_rows(view: GpuView, model_index: Mapping[str, int], sec: float) -> np.ndarray:
    now = view.now
    base = len(GPU_FEATURES)
    rows = np.zeros((view.num_gpus, base + len(model_index)), dtype=np.float64)
    for i, g in enumerate(view.gpus):
        if g.idle:
            rows[i, 2] = math.log1p(max(0.0, now - g.free_at) * sec)
        else:
            rows[i, 0] = 1.0
            rows[i, 1] = math.log1p((g.free_at - now) * sec)
        if g.model is not None:
            rows[i, base + model_index[g.model]] = 1.0
    return rows


def _clip(a: np.ndarray) -> np.ndarray:
    return np.clip(a, 0.0, _CLIP).astype(np.float32)


# -- the workflow graph ------------------------------------------------------------------------
#
# The view shows the ready queue and the GPUs, not the nodes still waiting for a parent nor
# which node runs where, so the graph reads the model behind the view. The model is this
# family's own, and these helpers are the only place that does.


def _running(model: Any, now: float) -> dict[int, float]:
    """Task id -> end time of the nodes running now (the latest placement on each busy GPU)."""
    busy = {g for g, f in enumerate(model._gpu_free) if f > now}
    out: dict[int, float] = {}
    runs = model._runs
    i = len(runs) - 1
    while busy and i >= 0:
        gid, gang, _, _, end = runs[i][:5]
        hit = busy.intersection(gang)
        if hit:
            out[gid] = end
            busy.difference_update(hit)
        i -= 1
    return out


class _Requests:
    """The requests in the system during one run: arrived (their roots made ready), not finished.

    Updated incrementally: arrivals are handled in (time, job id) order (the engine breaks
    equal times by the order the model scheduled them in, job order), so a pointer into that
    order finds the new ones; finished ones are collected in :attr:`completed` until taken.
    """

    def __init__(self, model: Any) -> None:
        self.model = model
        reqs = model._requests
        self.arrival = [r.arrival for r in reqs]
        roots = [next((nd.gid for nd in r.nodes if not nd.parents), None) for r in reqs]
        self._roots = roots
        self._order = sorted((r for r in range(len(reqs)) if roots[r] is not None), key=lambda r: (self.arrival[r], r))
        self._next = 0
        self._key: tuple[int, int] | None = None
        self.in_system: list[int] = []
        self.completed: list[int] = []

    def update(self) -> None:
        """Catch up with the model: admit the arrived requests, move the finished ones out."""
        m = self.model
        # Arrivals and completions are events, placements are runs: nothing else changes it.
        key = (m.engine.events, len(m._runs))
        if key == self._key:
            return
        self._key = key
        ready_at, order, roots = m._ready_at, self._order, self._roots
        i = self._next
        while i < len(order) and roots[order[i]] in ready_at:
            self.in_system.append(order[i])
            i += 1
        self._next = i
        reqs = m._requests
        still = []
        for r in self.in_system:
            (still if reqs[r].completion is None else self.completed).append(r)
        self.in_system = still


def _graph(
    view: GpuView,
    cands: Sequence[tuple[ReadyNode, tuple[int, ...]]],
    requests: Sequence[int],
    model_index: Mapping[str, int],
    sec: float,
    max_requests: float,
    max_nodes: float,
    max_edges: float,
) -> GpuGraph:
    m = view._m
    now, n_gpus = view.now, view.num_gpus
    ready, ready_at = m._ready, m._ready_at
    running = _running(m, now)

    def unfinished(nd: Any) -> bool:
        return nd.gid not in ready_at or nd.gid in ready or nd.gid in running

    order: list[int] = []
    seen: set[int] = set()
    for nd, _ in cands:
        if nd.request not in seen:
            seen.add(nd.request)
            order.append(nd.request)
    for r in requests:
        if r not in seen:
            seen.add(r)
            order.append(r)

    slots: list[int] = []
    members: list[Any] = []
    n_edges = 0
    for r in order:
        if len(slots) >= max_requests:
            break
        nodes = [nd for nd in m._requests[r].nodes if unfinished(nd)]
        if not nodes:
            continue
        e = sum(1 for nd in nodes for c in nd.children if unfinished(c))
        if len(members) + len(nodes) > max_nodes or n_edges + e > max_edges:
            continue
        slots.append(r)
        members.extend(nodes)
        n_edges += e

    keys = m._model_keys
    base = len(NODE_FEATURES)
    x = np.zeros((len(members), base + len(model_index)), dtype=np.float64)
    row_of: dict[int, int] = {}
    slot_of = {r: i for i, r in enumerate(slots)}
    node_request = np.empty(len(members), dtype=np.int64)
    node_task = np.empty(len(members), dtype=np.int64)
    is_ready = np.zeros(len(members), dtype=bool)
    for i, nd in enumerate(members):
        row_of[nd.gid] = i
        node_task[i] = nd.gid
        node_request[i] = slot_of[nd.req.id]
        x[i, 3] = math.log1p(nd.est * sec)
        x[i, 4] = nd.k / n_gpus
        x[i, 7] = math.log1p(len(nd.children))
        x[i, base + model_index[keys[nd.model]]] = 1.0
        if nd.gid in ready:
            is_ready[i] = True
            x[i, 0] = 1.0
            x[i, 5] = math.log1p(max(0.0, now - ready[nd.gid].ready_time) * sec)
        elif nd.gid in running:
            x[i, 1] = 1.0
            x[i, 6] = math.log1p(max(0.0, running[nd.gid] - now) * sec)
        else:
            x[i, 2] = 1.0
    edges = [(row_of[nd.gid], row_of[c.gid]) for nd in members for c in nd.children if c.gid in row_of]
    edge_index = np.asarray(edges, dtype=np.int64).reshape(-1, 2).T.copy()

    request_x = np.zeros((len(slots), len(REQUEST_FEATURES)), dtype=np.float64)
    for i, r in enumerate(slots):
        info = view.request(r)
        request_x[i] = (
            math.log1p(max(0.0, now - info.arrival) * sec),
            math.log1p(max(0.0, info.work_left_s) * sec),
            math.log1p(info.nodes_left),
        )

    kept = [(nd, gang) for nd, gang in cands if nd.task in row_of]
    cand_node = np.fromiter((row_of[nd.task] for nd, _ in kept), dtype=np.int64, count=len(kept))
    cand_gpus = np.zeros((len(kept), n_gpus), dtype=bool)
    for i, (_, gang) in enumerate(kept):
        cand_gpus[i, list(gang)] = True
    return GpuGraph(
        x=_clip(x),
        edge_index=edge_index,
        node_task=node_task,
        node_request=node_request,
        ready=is_ready,
        requests=np.asarray(slots, dtype=np.int64),
        request_x=_clip(request_x),
        candidates=tuple(Place(nd.task, gang) for nd, gang in kept),
        cand_node=cand_node,
        cand_x=_clip(_candidate_rows(view, kept, model_index, sec)),
        cand_gpus=cand_gpus,
        gpus=_clip(_gpu_rows(view, model_index, sec)),
    )


def graph_arrays(
    view: GpuView,
    candidates: Sequence[Place] | None = None,
    *,
    max_requests: int | None = None,
    max_nodes: int | None = None,
    max_edges: int | None = None,
) -> GpuGraph:
    """The workflow graph at a decision point, unpadded: what PyTorch Geometric's ``Data`` takes.

    The features are those of :class:`GpuEnv`'s graph observation (see the module docstring);
    ``torch_geometric.data.Data(x=torch.from_numpy(g.x), edge_index=torch.from_numpy(g.edge_index))``
    makes a graph of it. Works on the view any gpu scheduler gets, so a learned scheduler can
    build its input the same way inside and outside the environment.

    Args:
        view: A live :class:`~schedlab.families.gpu.model.GpuView` (not a snapshot).
        candidates: ``Place`` actions to describe, each a ready node on a gang of idle GPUs;
            default every valid action (``view.valid_actions()``).
        max_requests: Most request slots (default: no limit).
        max_nodes: Most nodes (default: no limit).
        max_edges: Most edges (default: no limit).

    Returns:
        The graph; ``candidates`` holds those whose node made it into the graph.

    Raises:
        InvalidActionError: A candidate is not a valid action at this decision point.
        ValueError: A maximum is below 1.
    """
    for name, value in (("max_requests", max_requests), ("max_nodes", max_nodes), ("max_edges", max_edges)):
        if value is not None and not (isinstance(value, int) and value >= 1):
            raise ValueError(f"{name} must be an integer of at least 1, got {value!r}")
    model = view._m
    if candidates is None:
        cands = _first_candidates(view, math.inf)
    else:
        by_task = {nd.task: nd for nd in view.ready}
        idle = {g.id for g in view.gpus if g.idle}
        cands = []
        for a in candidates:
            if not isinstance(a, Place) or a.task not in by_task:
                raise InvalidActionError(f"{a!r} is not a Place of a ready node; see view.valid_actions()")
            nd, gang = by_task[a.task], tuple(a.workers)
            if (
                len(gang) != nd.gpus_required
                or not set(gang) <= idle
                or any(b != c + 1 for c, b in zip(gang, gang[1:]))
            ):
                raise InvalidActionError(f"{a!r} does not name a gang of consecutive idle GPUs for its model")
            cands.append((nd, gang))
    model_index = {k: i for i, k in enumerate(model._model_keys)}
    inf = math.inf
    tracker = _Requests(model)
    tracker.update()
    return _graph(
        view,
        cands,
        tracker.in_system,
        model_index,
        _UNIT_SECONDS[model.time_unit],
        max_requests or inf,
        max_nodes or inf,
        max_edges or inf,
    )


# -- the environment ---------------------------------------------------------------------------


class _MaskedDiscrete(spaces.Discrete):
    """``Discrete`` whose ``sample()`` without a mask draws among the actions valid now.

    Random policies and environment checkers then take valid actions only; ``sample(mask=...)``
    behaves as ``Discrete``'s. The mask comes from a weak reference to the environment, so the
    space neither keeps the environment alive nor carries it when pickled (an unpickled copy
    samples unmasked).
    """

    def __init__(self, n: int, mask_fn: Callable[[], np.ndarray | None]) -> None:
        super().__init__(n)
        self._mask_ref: weakref.WeakMethod | None = weakref.WeakMethod(mask_fn)

    def sample(self, mask: Any = None, probability: Any = None) -> np.int64:
        if mask is None and probability is None and self._mask_ref is not None:
            fn = self._mask_ref()
            valid = fn() if fn is not None else None
            if valid is not None:
                mask = valid.astype(np.int8)
        return super().sample(mask=mask, probability=probability)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_mask_ref"] = None
        return state

    def __deepcopy__(self, memo: dict[int, Any]) -> _MaskedDiscrete:
        # A weak reference cannot be deep-copied; the copy shares the environment's mask.
        out = type(self).__new__(type(self))
        memo[id(self)] = out
        for key, value in self.__dict__.items():
            setattr(out, key, value if key == "_mask_ref" else copy.deepcopy(value, memo))
        return out


class GpuEnv(SimulationEnv):
    """Gpu as a Gymnasium environment: one placement (or a wait) per step, masked candidates.

    See the module docstring for the candidates, the observations and the reward.

    The observation, mask and actions depend on the view alone, so the environment also
    observes a run it does not drive (``observe_view``, ``view_action_masks``,
    ``view_actions``: a trained policy run as a scheduler), provided the run has the same GPUs
    and models; another cluster or config raises ``ConfigError``.

    Args:
        scenario: A preset name or YAML path, a scenario mapping, or a validated
            ``GpuScenario``; default the ``gpu`` preset.
        overrides: Dotted-key overrides of the scenario (``{"workload.jobs": 8}``).
        observation: ``"flat"`` or ``"graph"``.
        max_candidates: Candidate slots; default room for every gang of
            :data:`DEFAULT_READY_SLOTS` ready nodes of the model with the most gangs
            (``16 * (num_gpus - smallest gang + 1)``).
        max_requests: Request slots of the graph observation; default the workload's request
            count, at most 64.
        max_nodes: Node rows of the graph observation; default ``max_requests`` times the
            largest workflow's node count.
        max_edges: Edge columns of the graph observation; default ``max_requests`` times the
            largest workflow's edge count (at least 1).
        render_mode: Only ``None``: the environment does not render.

    Raises:
        ConfigError: The scenario is invalid or not a gpu scenario.
        ValueError: An unknown observation mode, a maximum below 1, graph maxima that cannot hold
            the largest workflow, or ``render_mode`` set.

    Attributes:
        max_candidates: Candidate slots; the wait action's index.
        num_gpus: GPUs in the cluster.
        models: Model keys, in the config's order (the one-hot columns' order).
    """

    family = "gpu"
    default_scenario = "gpu"
    metric = "avg_jct_s"

    def __init__(
        self,
        scenario: Any = None,
        overrides: Mapping[str, Any] | None = None,
        *,
        observation: str = "flat",
        max_candidates: int | None = None,
        max_requests: int | None = None,
        max_nodes: int | None = None,
        max_edges: int | None = None,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(scenario, overrides, render_mode)
        if observation not in OBSERVATIONS:
            raise ValueError(f"observation must be one of {', '.join(OBSERVATIONS)}, got {observation!r}")
        for name, value in (
            ("max_candidates", max_candidates),
            ("max_requests", max_requests),
            ("max_nodes", max_nodes),
            ("max_edges", max_edges),
        ):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be an integer of at least 1, got {value!r}")
        self.observation_mode = observation

        from schedlab.families.gpu import gswarm
        from schedlab.sim.engine import Engine

        w = self.scenario.workload
        config = gswarm.load_config(w.config) if w.config is not None else gswarm.default_config()
        self.num_gpus = g = self.scenario.cluster.gpus
        self.models = tuple(config.models)
        self._model_index = {k: i for i, k in enumerate(self.models)}
        m = len(self.models)
        gangs = [s.gpus_required for s in config.models.values() if s.gpus_required <= g] or [1]
        self.max_candidates = k = max_candidates or DEFAULT_READY_SLOTS * (g - min(gangs) + 1)
        self.wait_action = k

        # The request count is fixed by the scenario (a seed changes the requests, not their
        # number); a probe build reads it as the simulation will, files included.
        probe = self.scenario.build(Engine(), np.random.default_rng(0))
        n_requests = len(probe.view().snapshot().requests)
        wf_nodes = max((len(wf.nodes) for wf in config.workflows.values()), default=1)
        wf_edges = max((sum(len(nd.parents) for nd in wf.nodes) for wf in config.workflows.values()), default=0)
        self.max_requests = mr = max_requests or max(1, min(n_requests, DEFAULT_MAX_REQUESTS))
        self.max_nodes = mn = max_nodes or mr * max(1, wf_nodes)
        self.max_edges = me = max_edges or max(1, mr * wf_edges)
        # The first candidate's request takes the first slot; it must fit whatever its workflow,
        # or a decision point could offer no action at all.
        if mn < wf_nodes or me < wf_edges:
            raise ValueError(
                f"max_nodes and max_edges must hold the largest workflow ({wf_nodes} nodes, {wf_edges} edges), "
                f"got {mn} and {me}"
            )

        self.action_space = _MaskedDiscrete(k + 1, self._mask_or_none)
        obs = {
            "candidates": spaces.Box(0.0, _CLIP, (k, len(CANDIDATE_FEATURES) + m), np.float32),
            "gpus": spaces.Box(0.0, _CLIP, (g, len(GPU_FEATURES) + m), np.float32),
            "global": spaces.Box(0.0, _CLIP, (len(GLOBAL_FEATURES),), np.float32),
        }
        if observation == "graph":
            obs.update(
                x=spaces.Box(0.0, _CLIP, (mn, len(NODE_FEATURES) + m), np.float32),
                edge_index=spaces.Box(0, mn - 1, (2, me), np.int64),
                num_nodes=spaces.Box(0, mn, (1,), np.int64),
                num_edges=spaces.Box(0, me, (1,), np.int64),
                node_request=spaces.Box(0, mr - 1, (mn,), np.int64),
                ready=spaces.Box(0, 1, (mn,), np.int8),
                requests=spaces.Box(0.0, _CLIP, (mr, len(REQUEST_FEATURES)), np.float32),
                num_requests=spaces.Box(0, mr, (1,), np.int64),
                cand_node=spaces.Box(0, mn - 1, (k,), np.int64),
                cand_gpus=spaces.Box(0, 1, (k, g), np.int8),
            )
        self.observation_space = spaces.Dict(obs)

        self._places: tuple[Place, ...] = ()
        # What the candidates were computed for: the model and its (events, placements) counts.
        self._places_key: tuple[Any, int, int] | None = None
        self._requests: _Requests | None = None

    # -- what the agent may do ---------------------------------------------------------------

    @property
    def candidates(self) -> tuple[Place, ...]:
        """The actions offered at the current decision point: action ``i`` applies ``candidates[i]``."""
        return self._places

    @staticmethod
    def _key(view: GpuView) -> tuple[Any, int, int]:
        m = view._m
        return (m, m.engine.events, len(m._runs))

    def _offered(self, view: GpuView) -> tuple[Place, ...]:
        """The candidates at ``view``, computed once per decision point."""
        if self._places_key is None or self._places_key != self._key(view):
            self._observation(view)
        return self._places

    @staticmethod
    def _can_wait(view: GpuView) -> bool:
        # An event left (an arrival, a completion) reopens the decision point: the ready nodes
        # still fit on the GPUs still idle. With none left, waiting would end the run.
        return view._m.engine.peek() < math.inf

    def _mask_or_none(self) -> np.ndarray | None:
        if self.sim is None or self.sim.done:
            return None
        return self.view_action_masks(self.sim.observe())

    def view_action_masks(self, view: GpuView | None) -> np.ndarray:
        """Which actions are valid at ``view``: the offered candidates, and waiting when an event is left.

        ``action_masks()`` (for ``sb3_contrib.MaskablePPO``) asks this of the current decision
        point, and ``action_space.sample()`` honours it. With no decision point open (``view``
        None) every action is marked valid, as a mask must allow something.
        """
        mask = np.zeros(self.max_candidates + 1, dtype=bool)
        if view is None:
            mask[:] = True
            return mask
        mask[: len(self._offered(view))] = True
        mask[-1] = self._can_wait(view)
        return mask

    # -- hooks ---------------------------------------------------------------------------------

    def _begin_episode(self) -> None:
        self._places = ()
        self._places_key = None
        self._requests = None

    def _tracker(self, m: Any) -> _Requests:
        """The in-system requests of the run of model ``m`` (the episode's, or any other's)."""
        t = self._requests
        if t is None or t.model is not m:
            if list(m._model_keys) != list(self.models) or m.num_gpus != self.num_gpus:
                raise ConfigError(
                    f"this environment observes {self.num_gpus} GPUs and models {list(self.models)}; "
                    f"the run has {m.num_gpus} and {list(m._model_keys)}",
                    field="cluster.gpus",
                )
            t = self._requests = _Requests(m)
        t.update()
        return t

    def _observation(self, view: GpuView) -> dict[str, np.ndarray]:
        k = self.max_candidates
        in_system = self._tracker(view._m).in_system
        sec = _UNIT_SECONDS[view._m.time_unit]
        cands = _first_candidates(view, k)
        m = len(self.models)
        obs: dict[str, np.ndarray] = {}
        if self.observation_mode == "graph":
            g = _graph(
                view, cands, in_system, self._model_index, sec, self.max_requests, self.max_nodes, self.max_edges
            )
            self._places = g.candidates
            cand_rows = g.cand_x
            gpu_rows = g.gpus
            n, e, r, c = len(g.x), g.edge_index.shape[1], len(g.requests), len(g.candidates)
            x = np.zeros((self.max_nodes, len(NODE_FEATURES) + m), dtype=np.float32)
            x[:n] = g.x
            edge_index = np.zeros((2, self.max_edges), dtype=np.int64)
            edge_index[:, :e] = g.edge_index
            node_request = np.zeros(self.max_nodes, dtype=np.int64)
            node_request[:n] = g.node_request
            ready = np.zeros(self.max_nodes, dtype=np.int8)
            ready[:n] = g.ready
            requests = np.zeros((self.max_requests, len(REQUEST_FEATURES)), dtype=np.float32)
            requests[:r] = g.request_x
            cand_node = np.zeros(k, dtype=np.int64)
            cand_node[:c] = g.cand_node
            cand_gpus = np.zeros((k, self.num_gpus), dtype=np.int8)
            cand_gpus[:c] = g.cand_gpus
            obs.update(
                x=x,
                edge_index=edge_index,
                num_nodes=np.array([n], dtype=np.int64),
                num_edges=np.array([e], dtype=np.int64),
                node_request=node_request,
                ready=ready,
                requests=requests,
                num_requests=np.array([r], dtype=np.int64),
                cand_node=cand_node,
                cand_gpus=cand_gpus,
            )
        else:
            self._places = tuple(Place(nd.task, gang) for nd, gang in cands)
            cand_rows = _clip(_candidate_rows(view, cands, self._model_index, sec))
            gpu_rows = _clip(_gpu_rows(view, self._model_index, sec))
        table = np.zeros((k, len(CANDIDATE_FEATURES) + m), dtype=np.float32)
        table[: len(cand_rows)] = cand_rows
        idle = sum(gs.idle for gs in view.gpus)
        glob = np.array(
            [
                math.log1p(len(view.ready)),
                math.log1p(len(in_system)),
                idle / self.num_gpus,
                float(self._can_wait(view)),
                math.log1p(len(self._places)),
            ]
        )
        obs.update(candidates=table, gpus=gpu_rows, **{"global": _clip(glob)})
        self._places_key = self._key(view)
        return obs

    def _final_observation(self) -> dict[str, np.ndarray]:
        return {key: np.zeros(space.shape, dtype=space.dtype) for key, space in self.observation_space.spaces.items()}

    def _actions(self, view: GpuView, action: Any) -> list[Place]:
        try:
            a = int(action)
        except (TypeError, ValueError):
            raise InvalidActionError(f"a gpu action is a candidate index or the wait action, got {action!r}") from None
        if a != action or not 0 <= a <= self.max_candidates:
            raise InvalidActionError(f"a gpu action is an integer in 0..{self.max_candidates}, got {action!r}")
        if a == self.wait_action:
            if not self._can_wait(view):
                raise InvalidActionError(
                    "cannot wait: nothing runs and nothing will arrive, so a ready node must be placed now"
                )
            return []
        places = self._offered(view)
        if a >= len(places):
            raise InvalidActionError(
                f"action {a} names no candidate: {len(places)} are offered now; see action_masks()"
            )
        return [places[a]]

    def _reward(self) -> tuple[float, dict[str, Any]]:
        model = self.sim.model
        t = self._tracker(model)
        done, t.completed = t.completed, []
        sec = _UNIT_SECONDS[model.time_unit]
        reqs = model._requests
        completion_s = sum((reqs[r].completion - t.arrival[r]) * sec for r in done)
        return -completion_s, {"completed": len(done), "completion_s": completion_s}
