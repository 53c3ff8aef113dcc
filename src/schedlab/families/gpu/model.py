"""GPU workflows: DAGs of model calls on GPUs, with gangs and model switching (GSwarm's setting).

A *request* runs one workflow, a DAG of *nodes*; each node calls a model. A model needs
``gpus_required`` consecutive GPUs (a gang). A GPU keeps the last model it ran loaded, and
making another model ready costs a switch on every GPU of the gang, from what that GPU holds:
nothing when it holds the model already, the model's load time when it has never held one,
else ``(old model GB + new model GB) / pcie_gb_per_s + switch_overhead_s``. The gang starts
executing when its slowest GPU is ready, and all its GPUs then hold the model. No prefetching,
no preemption; memory capacity is not modelled (a model stays loaded until replaced).

A node joins the ready queue, in its workflow's node order, when its request arrives (roots)
or its last parent finishes. After every event (an arrival, a completion) that leaves a ready
node and enough consecutive idle GPUs for it, a decision point opens: the scheduler sees
:class:`GpuView` and returns :class:`~schedlab.sim.actions.Place` actions; returning none
closes the point. A GPU is idle from the end of its last execution on, so GPUs whose nodes end
at the same instant are all idle at the first of their completion events, as in GSwarm.

Execution times come from an :class:`ExecutionTimeSource`: :class:`EstimatedTimes` replays a
table fixed before the run (the request file's times, or estimates from the models); a live
source would call a model server at dispatch and return the measured time.

With faults (the scenario's ``faults`` section, docs/faults.md), a GPU that crashes loses the
model it holds and the node its gang runs (or is switching to, or is reserved for): the node
joins the ready queue again (at its back, ready from the crash on), the gang's other GPUs are
idle from the crash on (holding the node's model if it had started, else what they held
before), and a decision point opens when a ready node fits. A dead GPU is not idle, and its
``free_at`` is when it comes back (inf: never); it comes back empty. A straggler's execution
takes ``factor`` times its time.

Times are in seconds.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Sequence
from heapq import heappush
from typing import TYPE_CHECKING, NamedTuple, Protocol, runtime_checkable

from schedlab.errors import ConfigError, InvalidActionError
from schedlab.sim.actions import Place
from schedlab.sim.engine import Engine
from schedlab.sim.faults import FaultInjector, FaultSpec
from schedlab.sim.trace import Trace

if TYPE_CHECKING:
    from schedlab.families.gpu.gswarm import SystemConfig, WorkflowRequest

__all__ = [
    "GpuCluster",
    "GpuView",
    "GpuSnapshot",
    "ReadyNode",
    "GpuState",
    "ModelInfo",
    "RequestInfo",
    "ExecutionTimeSource",
    "EstimatedTimes",
]


# -- where execution times come from ----------------------------------------------------------


@runtime_checkable
class ExecutionTimeSource(Protocol):
    """Where a node's execution time comes from: the seam between estimating and running.

    ``estimate`` is what a scheduler may know before the node runs; ``execute`` is the time
    the node actually takes once placed. A live source (a later issue) would send the call to
    a model server on the given GPUs in ``execute`` and return the measured seconds.
    """

    def estimate(self, request: int, node: int) -> float:
        """Estimated seconds of node ``node`` of request ``request`` (positions, not ids)."""
        ...

    def execute(self, request: int, node: int, gpus: tuple[int, ...], start: float) -> float:
        """Run the node on ``gpus`` from simulated time ``start`` (s); return its seconds."""
        ...


class EstimatedTimes:
    """The estimating source: every node takes exactly its estimate, fixed before the run.

    Args:
        table: Seconds per request (outer) and node (inner, in workflow order).

    Raises:
        ConfigError: A time is negative or not finite.
    """

    def __init__(self, table: Sequence[Sequence[float]]) -> None:
        self._table = [[float(t) for t in row] for row in table]
        for i, row in enumerate(self._table):
            for j, t in enumerate(row):
                if not 0.0 <= t < float("inf"):
                    raise ConfigError(f"execution time of node {j} of request {i} is {t!r}, expected >= 0 s")

    def estimate(self, request: int, node: int) -> float:
        """The table's value (s)."""
        return self._table[request][node]

    def execute(self, request: int, node: int, gpus: tuple[int, ...], start: float) -> float:
        """The table's value (s), whatever the GPUs and the time."""
        return self._table[request][node]


# -- what a scheduler sees --------------------------------------------------------------------


class ReadyNode(NamedTuple):
    """A node in the ready queue. Times in seconds.

    Attributes:
        task: The id to name in ``Place(task, gpus)``.
        request: The request's job id (its position in the workload).
        request_id: The request's id in the requests file.
        node: The node's stage index (its position in the workflow).
        node_id: The node's id in the workflow.
        model: Key of the model it calls.
        gpus_required: Consecutive GPUs it needs.
        ready_time: When it joined the ready queue.
        estimated_time: Estimated execution seconds (the switch not included).
    """

    task: int
    request: int
    request_id: str
    node: int
    node_id: str
    model: str
    gpus_required: int
    ready_time: float
    estimated_time: float


class GpuState(NamedTuple):
    """One GPU at the decision point.

    Attributes:
        id: GPU id, 0 .. num_gpus - 1.
        idle: True if nothing runs on it now (and it is up).
        model: Key of the model it holds (or will hold once its running node ends), or None.
        free_at: Idle: when it became free (0.0 if never used; GSwarm's ``available_at``).
            Busy: when its running node ends (s). Dead: when it comes back (inf: never).
        alive: The GPU is up (always, without faults); a dead GPU is not idle.
    """

    id: int
    idle: bool
    model: str | None
    free_at: float
    alive: bool = True

    @property
    def queue_length(self) -> int:
        """Nodes at the GPU: 1 while one runs, else 0 (a GPU keeps no queue)."""
        return 0 if self.idle else 1


class ModelInfo(NamedTuple):
    """What the switch cost of a model depends on."""

    key: str
    memory_gb: float
    gpus_required: int
    load_time_s: float


class RequestInfo(NamedTuple):
    """A request's progress. Times in seconds.

    Attributes:
        request: Job id.
        request_id: Id in the requests file.
        workflow_id: The workflow it runs.
        arrival: Arrival time.
        nodes_left: Nodes not yet finished.
        work_left_s: Estimated GPU-seconds of its nodes not yet placed (time x gang size).
    """

    request: int
    request_id: str
    workflow_id: str
    arrival: float
    nodes_left: int
    work_left_s: float


class _GpuDecision:
    """What :class:`GpuView` and :class:`GpuSnapshot` share, given ``ready`` and ``gpus``."""

    __slots__ = ()

    @property
    def waiting(self) -> tuple[ReadyNode, ...]:
        """What waits for a decision: the ready nodes (same as ``ready``)."""
        return self.ready

    @property
    def workers(self) -> tuple[GpuState, ...]:
        """Every GPU, by id (same as ``gpus``)."""
        return self.gpus

    @property
    def idle_gpus(self) -> tuple[int, ...]:
        """Ids of the idle GPUs, ascending."""
        return tuple(g.id for g in self.gpus if g.idle)

    def valid_actions(self) -> list[Place]:
        """Every action allowed, each on its own: each ready node on each gang that fits.

        A gang is a run of as many consecutive idle GPUs as the node's model needs, at any
        first GPU. An action list may hold several of them if no node and no GPU repeats.
        """
        return _place_actions(self.ready, self.gpus)


class GpuView(_GpuDecision):
    """What a scheduler sees at a gpu decision point. Read-only; times in seconds.

    The decision contract shared by every family: :attr:`now` in seconds, :attr:`waiting`
    (what to decide on: the ready nodes), :attr:`workers` (the GPUs) and :meth:`valid_actions`.
    :meth:`request` reads the model when called; :meth:`snapshot` makes a copy that stays.

    Attributes:
        now: Current time.
        num_gpus: GPUs in the cluster.
        ready: Ready nodes in FIFO ready-queue order (the order they became ready).
        gpus: Every GPU, by id.
    """

    __slots__ = ("_m", "now", "num_gpus", "ready", "gpus")

    def __init__(self, model: GpuCluster) -> None:
        self._m = model
        now = self.now = model.engine.now
        self.num_gpus = model.num_gpus
        self.ready: tuple[ReadyNode, ...] = tuple(model._ready.values())
        keys = model._model_keys
        faults = model.faults
        if faults is None:
            self.gpus = tuple(
                GpuState(g, f <= now, keys[m] if m >= 0 else None, f)
                for g, (m, f) in enumerate(zip(model._gpu_model, model._gpu_free))
            )
        else:
            self.gpus = tuple(
                GpuState(g, f <= now, keys[m] if m >= 0 else None, f)
                if up
                else GpuState(g, False, None, faults.back_at[g], False)
                for g, (m, f, up) in enumerate(zip(model._gpu_model, model._gpu_free, faults.alive))
            )

    def switch_cost(self, loaded: str | None, model: str) -> float:
        """Seconds a GPU holding ``loaded`` (None: nothing yet) needs before running ``model``."""
        m = self._m
        return m._cost(m._model_index[loaded] if loaded is not None else -1, m._model_index[model])

    def setup_time(self, gpus: Sequence[int], model: str) -> float:
        """Seconds before ``model`` could start on the gang ``gpus`` as they are loaded now."""
        m = self._m
        k = m._model_index[model]
        return max(m._cost(m._gpu_model[g], k) for g in gpus)

    def model_info(self, model: str) -> ModelInfo:
        """Size, gang and load time of a model by key."""
        m = self._m
        i = m._model_index[model]
        return ModelInfo(model, m._mem[i], m._gang[i], m._load[i])

    @property
    def models(self) -> tuple[ModelInfo, ...]:
        """Every model, in the configuration's order (as :attr:`GpuSnapshot.models`)."""
        m = self._m
        return tuple(ModelInfo(*x) for x in zip(m._model_keys, m._mem, m._gang, m._load))

    def request(self, request: int) -> RequestInfo:
        """A request's progress by job id."""
        r = self._m._requests[request]
        info = r.info
        if info is None:
            # Cached until the request changes: ranking schedulers ask for every request in
            # the queue at every decision.
            info = r.info = RequestInfo(r.id, r.rid, r.workflow, r.arrival, r.left, r.work_left)
        return info

    def snapshot(self) -> GpuSnapshot:
        """An immutable copy of this view, with every model and every request's progress."""
        m = self._m
        return GpuSnapshot(
            self.now,
            self.num_gpus,
            self.ready,
            self.gpus,
            self.models,
            tuple(self.request(i) for i in range(len(m._requests))),
            m.pcie,
            m.overhead,
        )


class _GpuSnapshotFields(NamedTuple):
    now: float
    num_gpus: int
    ready: tuple[ReadyNode, ...]
    gpus: tuple[GpuState, ...]
    models: tuple[ModelInfo, ...]
    requests: tuple[RequestInfo, ...]
    pcie_gb_per_s: float
    switch_overhead_s: float


class GpuSnapshot(_GpuSnapshotFields, _GpuDecision):
    """An immutable copy of a :class:`GpuView`: nothing in it changes as the simulation goes on.

    Offers what the view offers, so schedulers written against the view run on it.

    Attributes:
        now: Time of the decision (s).
        num_gpus: GPUs in the cluster.
        ready: Ready nodes in FIFO ready-queue order.
        gpus: Every GPU, by id.
        models: Every model, in the configuration's order.
        requests: Every request's progress, by job id.
        pcie_gb_per_s: Bandwidth a model switch moves both models over (GB/s).
        switch_overhead_s: Fixed seconds added to every switch.
    """

    __slots__ = ()

    def model_info(self, model: str) -> ModelInfo:
        """Size, gang and load time of a model by key.

        Raises:
            KeyError: No such model.
        """
        for info in self.models:
            if info.key == model:
                return info
        raise KeyError(f"no model {model!r}")

    def switch_cost(self, loaded: str | None, model: str) -> float:
        """Seconds a GPU holding ``loaded`` (None: nothing yet) needs before running ``model``."""
        new = self.model_info(model)
        if loaded == model:
            return 0.0
        if loaded is None:
            return new.load_time_s
        # The model's operation order, so the two agree to the bit.
        return (self.model_info(loaded).memory_gb + new.memory_gb) / self.pcie_gb_per_s + self.switch_overhead_s

    def setup_time(self, gpus: Sequence[int], model: str) -> float:
        """Seconds before ``model`` could have started on the gang ``gpus`` as they were loaded."""
        return max(self.switch_cost(self.gpus[g].model, model) for g in gpus)

    def request(self, request: int) -> RequestInfo:
        """A request's progress by job id."""
        return self.requests[request]


def _place_actions(ready: Sequence[ReadyNode], gpus: Sequence[GpuState]) -> list[Place]:
    idle = [g.idle for g in gpus]
    n = len(idle)
    gangs: dict[int, list[tuple[int, ...]]] = {}
    out = []
    for node in ready:
        k = node.gpus_required
        fit = gangs.get(k)
        if fit is None:
            fit = gangs[k] = [tuple(range(s, s + k)) for s in range(n - k + 1) if all(idle[s : s + k])]
        out.extend(Place(node.task, g) for g in fit)
    return out


# -- the model --------------------------------------------------------------------------------


class _Node:
    __slots__ = ("gid", "req", "index", "node_id", "model", "k", "parents", "children", "waiting", "est")

    def __init__(self, gid, req, index, node_id, model, k, parents, est) -> None:
        self.gid = gid
        self.req = req
        self.index = index
        self.node_id = node_id
        self.model = model  # model index
        self.k = k
        self.parents = parents
        self.children: tuple[_Node, ...] = ()
        self.waiting = len(parents)  # parents not yet finished
        self.est = est


class _Request:
    __slots__ = ("id", "rid", "workflow", "arrival", "completion", "nodes", "left", "work_left", "info")

    def __init__(self, rid: int, request_id: str, workflow: str, arrival: float) -> None:
        self.id = rid
        self.rid = request_id
        self.workflow = workflow
        self.arrival = arrival
        self.completion: float | None = None
        self.nodes: list[_Node] = []
        self.left = 0
        self.work_left = 0.0
        self.info: RequestInfo | None = None


class GpuCluster:
    """The gpu family's model on an :class:`~schedlab.sim.engine.Engine`.

    Args:
        engine: The engine this model schedules its events on.
        config: Models and workflows (see :mod:`schedlab.families.gpu.gswarm`).
        requests: The requests, in file order; their position is their job id.
        arrivals: Arrival time of each request (s).
        gpus: GPUs in the cluster.
        pcie_gb_per_s: Bandwidth a model switch moves both models over (GB/s).
        switch_overhead_s: Fixed seconds added to every switch.
        times: Where execution times come from.

    Raises:
        ConfigError: A model needs more GPUs than there are, or the inputs disagree in length.
    """

    family = "gpu"
    time_unit = "s"

    def __init__(
        self,
        engine: Engine,
        config: SystemConfig,
        requests: Sequence[WorkflowRequest],
        arrivals: Sequence[float],
        *,
        gpus: int,
        pcie_gb_per_s: float = 16.0,
        switch_overhead_s: float = 2.0,
        times: ExecutionTimeSource,
    ) -> None:
        if len(arrivals) != len(requests):
            raise ConfigError(f"{len(arrivals)} arrival times for {len(requests)} requests")
        if gpus < 1 or pcie_gb_per_s <= 0 or switch_overhead_s < 0:
            raise ConfigError(
                f"need gpus >= 1, pcie_gb_per_s > 0 and switch_overhead_s >= 0, got "
                f"{gpus}, {pcie_gb_per_s}, {switch_overhead_s}"
            )
        self.engine = engine
        self.num_gpus = gpus
        self.pcie = float(pcie_gb_per_s)
        self.overhead = float(switch_overhead_s)
        self.times = times
        specs = list(config.models.values())
        self._model_keys = [s.key for s in specs]
        self._model_index = {s.key: i for i, s in enumerate(specs)}
        self._mem = [s.memory_gb for s in specs]
        self._gang = [s.gpus_required for s in specs]
        self._load = [s.load_time_s for s in specs]
        self._requests: list[_Request] = []
        self._nodes: list[_Node] = []
        for i, (r, t) in enumerate(zip(requests, arrivals)):
            wf = config.workflows[r.workflow_id]
            req = _Request(i, r.request_id, r.workflow_id, float(t))
            for j, n in enumerate(wf.nodes):
                m = self._model_index[n.model]
                if self._gang[m] > gpus:
                    raise ConfigError(
                        f"model {n.model!r} needs {self._gang[m]} consecutive GPUs but the cluster has {gpus}",
                        field="cluster.gpus",
                    )
                est = float(times.estimate(i, j))
                node = _Node(len(self._nodes), req, j, n.id, m, self._gang[m], n.parents, est)
                req.nodes.append(node)
                req.work_left += est * node.k
                self._nodes.append(node)
            for node, n in zip(req.nodes, wf.nodes):
                node.children = tuple(req.nodes[c] for c in n.children)
            req.left = len(req.nodes)
            self._requests.append(req)
        self._gpu_model = [-1] * gpus  # model index per GPU, -1 while it has held none
        self._gpu_free = [0.0] * gpus  # when the GPU's last execution ends
        #: The ready queue, FIFO: task id -> its view, in the order the nodes became ready.
        self._ready: dict[int, ReadyNode] = {}
        self._ready_gangs: dict[int, int] = {}  # gang size -> ready nodes needing it
        self._done_requests = 0
        self._heap = engine.heap
        self._seq = engine.seq
        self._on_done_bound = self._on_done
        # Per execution: (task id, gang, ready, start, end, setup, previous models, seq).
        self._runs: list[tuple] = []
        self._ready_at: dict[int, float] = {}
        self._decision_rows: list[tuple] = []
        #: The run's faults, or None (see :meth:`enable_faults`).
        self.faults: FaultInjector | None = None
        self._gpu_run: list[int] = []  # with faults: per GPU, the index in _runs of what occupies it, or -1
        self._failed_runs: set[int] = set()

    def enable_faults(self, spec: FaultSpec, rng) -> None:
        """Run with faults (before :meth:`start`): GPUs crash and nodes straggle as ``spec`` says.

        Args:
            spec: The faults, in seconds.
            rng: Their own stream (:func:`~schedlab.sim.faults.fault_stream`).
        """
        self.faults = FaultInjector(
            self.engine, spec, self.num_gpus, rng, crash=self._crash, repair=self._repair, can_lose=self._can_lose
        )
        self._gpu_run = [-1] * self.num_gpus

    # -- driving the model ---------------------------------------------------------------

    def start(self) -> bool:
        """Schedule the arrivals (and the faults); the first arrival opens the first decision point."""
        for req in self._requests:
            self.engine.schedule(req.arrival, self._on_arrival, req)
        if self.faults is not None:
            self.faults.start()
        return False

    def view(self) -> GpuView:
        """The read-only view a scheduler sees at the current decision point."""
        return GpuView(self)

    def apply(self, actions: Sequence[Place], delay: float | None = None) -> bool:
        """Validate every placement, then start them all, in order; or none.

        With ``delay`` (decision time, s), the gangs' GPUs are reserved now (busy until the
        node ends) but each node starts, model switch first, ``delay`` later; None or 0: now.

        An empty list passes: nothing is placed and the decision point closes; the ready
        nodes keep waiting in the ready queue and are offered again at the next decision point
        (the next arrival or completion after which one fits on idle GPUs).

        Returns:
            True if the decision point stays open (something placed and another ready node
            still fits on idle GPUs), False once it has closed.

        Raises:
            InvalidActionError: ``actions`` is not a list of actions; an action is not a
                ``Place``, names a node that is not ready, or GPUs that are busy, out of
                range, not consecutive or not as many as the model needs; or two actions name
                the same node or the same GPU. Nothing is applied then.
        """
        if not isinstance(actions, (list, tuple)) or isinstance(actions, Place):
            if isinstance(actions, (Place, str, bytes)) or not isinstance(actions, Iterable):
                raise InvalidActionError(f"gpu expects a list of Place(task, workers) actions, got {actions!r}")
            actions = list(actions)
        checked = [self._validate(a) for a in actions]
        if len(checked) > 1:
            self._check_disjoint(actions, checked)
        # All valid: only now does anything change (a live time source runs the node here).
        for node, gang in checked:
            self._place(node, gang, delay or 0.0)
        return bool(checked) and self._fits()

    def progress(self) -> float:
        """Fraction of requests finished."""
        return self._done_requests / max(1, len(self._requests))

    def switch_cost(self, gpu: int, model: str) -> float:
        """Seconds GPU ``gpu`` needs, as loaded now, before it can run ``model``."""
        return self._cost(self._gpu_model[gpu], self._model_index[model])

    def finish(self, trace: Trace) -> None:
        """Fill the trace's tables, tasks in start order (as GSwarm's execution log lists them)."""
        n = self.num_gpus
        keys = self._model_keys
        trace.workers.update(id=list(range(n)), kind=["gpu"] * n, capacity=[1] * n)
        reqs = self._requests
        trace.jobs.update(
            id=[r.id for r in reqs],
            name=[r.rid for r in reqs],
            arrival=[r.arrival for r in reqs],
            completion=[r.completion for r in reqs],
            workflow_id=[r.workflow for r in reqs],
        )
        nodes = self._nodes
        trace.stages.update(
            job=[nd.req.id for nd in nodes],
            stage=[nd.index for nd in nodes],
            num_tasks=[1] * len(nodes),
            parents=[list(nd.parents) for nd in nodes],
            node_id=[nd.node_id for nd in nodes],
            model=[keys[nd.model] for nd in nodes],
        )
        runs = sorted(self._runs, key=lambda r: (r[3], r[7]))
        trace.tasks.update(
            job=[nodes[r[0]].req.id for r in runs],
            stage=[nodes[r[0]].index for r in runs],
            task=[0] * len(runs),
            worker=[r[1][0] for r in runs],
            start=[r[3] for r in runs],
            end=[r[4] for r in runs],
            workers=[list(r[1]) for r in runs],
            setup=[r[5] for r in runs],
            ready=[r[2] for r in runs],
            estimated_time=[nodes[r[0]].est for r in runs],
            previous_models=[[keys[m] if m >= 0 else None for m in r[6]] for r in runs],
            model=[keys[nodes[r[0]].model] for r in runs],
        )
        if self.faults is not None:
            failed = self._failed_runs
            trace.tasks["failed"] = [r[7] in failed for r in runs]
        rows = self._decision_rows
        trace.decisions.update(
            time=[r[0] for r in rows], job=[r[1] for r in rows], stage=[r[2] for r in rows], limit=[r[3] for r in rows]
        )
        trace.extra["models"] = {
            "model": list(keys),
            "memory_gb": list(self._mem),
            "gpus_required": list(self._gang),
            "load_time_s": list(self._load),
        }
        if self.faults is not None:
            self.faults.finish(trace)

    # -- event handlers ------------------------------------------------------------------

    def _on_arrival(self, now: float, req: _Request, _: object) -> bool:
        for node in req.nodes:
            if not node.parents:
                self._make_ready(node, now)
        return self._fits()

    def _on_done(self, now: float, node: _Node, _: object) -> bool:
        for child in node.children:
            child.waiting -= 1
            if child.waiting == 0:
                self._make_ready(child, now)
        req = node.req
        req.left -= 1
        req.info = None
        if req.left == 0:
            req.completion = now
            self._done_requests += 1
        return self._fits()

    def _make_ready(self, node: _Node, now: float) -> None:
        req = node.req
        self._ready[node.gid] = ReadyNode(
            node.gid, req.id, req.rid, node.index, node.node_id, self._model_keys[node.model], node.k, now, node.est
        )
        self._ready_at[node.gid] = now
        self._ready_gangs[node.k] = self._ready_gangs.get(node.k, 0) + 1

    def _fits(self) -> bool:
        """Whether some ready node fits on consecutive idle GPUs now."""
        if not self._ready:
            return False
        now = self.engine.now
        run = longest = 0
        for f in self._gpu_free:
            if f <= now:
                run += 1
                if run > longest:
                    longest = run
            else:
                run = 0
        if longest == 0:
            return False
        return any(k <= longest for k, c in self._ready_gangs.items() if c)

    # -- placing -------------------------------------------------------------------------

    def _cost(self, loaded: int, model: int) -> float:
        if loaded == model:
            return 0.0
        if loaded < 0:
            return self._load[model]
        # Same operation order as GSwarm's _get_model_switch_time, so times agree to the bit.
        return (self._mem[loaded] + self._mem[model]) / self.pcie + self.overhead

    def _validate(self, a: object) -> tuple[_Node, tuple[int, ...]]:
        if not isinstance(a, Place):
            raise InvalidActionError(f"gpu expects Place(task, workers) actions, got {a!r}")
        task, workers = a
        if isinstance(task, bool):
            raise InvalidActionError(f"{a!r}: task must be an integer id from view.ready")
        try:
            task = operator.index(task)
            gang = tuple(operator.index(g) for g in workers)
        except TypeError:
            raise InvalidActionError(f"{a!r}: expected an integer task id and a sequence of integer GPU ids") from None
        if not 0 <= task < len(self._nodes):
            raise InvalidActionError(f"{a!r}: no task {task} (ids run 0..{len(self._nodes) - 1})")
        node = self._nodes[task]
        if task not in self._ready:
            state = "already placed" if task in self._ready_at else "not ready (its request or a parent is pending)"
            raise InvalidActionError(
                f"{a!r}: task {task} (request {node.req.rid}, node {node.node_id}) is {state}; see view.ready"
            )
        k = node.k
        if len(gang) != k:
            raise InvalidActionError(
                f"{a!r}: model {self._model_keys[node.model]!r} needs exactly {k} GPU(s), got {len(gang)}"
            )
        now = self.engine.now
        for g in gang:
            if not 0 <= g < self.num_gpus:
                raise InvalidActionError(f"{a!r}: no GPU {g} (ids run 0..{self.num_gpus - 1})")
            if self._gpu_free[g] > now:
                if self.faults is not None and not self.faults.alive[g]:
                    back = self.faults.back_at[g]
                    when = "never comes back" if back == float("inf") else f"is back at {back!r} s"
                    raise InvalidActionError(
                        f"{a!r}: GPU {g} is down (it crashed and {when}); see view.gpus[{g}].alive"
                    )
                raise InvalidActionError(f"{a!r}: GPU {g} is busy until {self._gpu_free[g]!r} s")
        if any(b != a_ + 1 for a_, b in zip(gang, gang[1:])):
            raise InvalidActionError(f"{a!r}: a gang must be consecutive ascending GPU ids, got {list(gang)}")
        return node, gang

    def _check_disjoint(self, actions: Sequence[Place], checked: list[tuple[_Node, tuple[int, ...]]]) -> None:
        """Each action valid alone; reject two that name the same node or share a GPU."""
        task_of: dict[int, Place] = {}
        gpu_of: dict[int, Place] = {}
        for a, (node, gang) in zip(actions, checked):
            other = task_of.setdefault(node.gid, a)
            if other is not a:
                raise InvalidActionError(f"{a!r}: task {node.gid} is already placed by {other!r} in these actions")
            for g in gang:
                other = gpu_of.setdefault(g, a)
                if other is not a:
                    raise InvalidActionError(f"{a!r}: GPU {g} is already in the gang of {other!r} in these actions")

    def _take(self, node: _Node, gang: tuple[int, ...]) -> tuple[tuple[int, ...], float]:
        """Take ``node`` off the ready queue onto ``gang``: the models its GPUs held, and the setup."""
        del self._ready[node.gid]
        self._ready_gangs[node.k] -= 1
        prev = tuple(self._gpu_model[g] for g in gang)
        req = node.req
        req.work_left -= node.est * node.k
        req.info = None
        return prev, max(self._cost(p, node.model) for p in prev)

    def _place(self, node: _Node, gang: tuple[int, ...], delay: float = 0.0) -> None:
        prev, setup = self._take(node, gang)
        m = node.model
        now = self.engine.now
        start = (now + delay if delay else now) + setup
        req = node.req
        end = start + float(self.times.execute(req.id, node.index, gang, start))
        if self.faults is not None:
            end = start + (end - start) * self.faults.slowdown(req.id, node.index, 0, gang[0], start)
            for g in gang:
                self._gpu_run[g] = len(self._runs)
        for g in gang:
            self._gpu_model[g] = m
            self._gpu_free[g] = end
        self._runs.append((node.gid, gang, self._ready_at[node.gid], start, end, setup, prev, len(self._runs)))
        self._decision_rows.append((now, req.id, node.index, node.k))
        heappush(self._heap, (end, next(self._seq), self._on_done_bound, node, None))

    # -- faults --------------------------------------------------------------------------

    def _crash(self, now: float, gpu: int) -> tuple[tuple[int, int, int] | None, bool]:
        """GPU ``gpu`` died: its gang's node (if it has not ended) is lost and ready again."""
        run = self._gpu_run[gpu]
        lost = None
        if run >= 0 and self._runs[run][4] > now:
            gid, gang, ready, start, end, setup, prev, seq = self._runs[run]
            node = self._nodes[gid]
            self.engine.cancel(self._on_done_bound, node)
            # The attempt occupied its gang from its setup until now; cut it there.
            switched = now >= start
            begin = start - setup
            if now < begin:  # its decision had not taken effect yet: it held nothing
                setup, start = 0.0, now
            elif not switched:  # cut during the model switch
                setup, start = now - begin, now
            self._runs[run] = (gid, gang, ready, start, now, setup, prev, seq)
            self._failed_runs.add(run)
            for g, p in zip(gang, prev):
                self._gpu_run[g] = -1
                self._gpu_free[g] = now
                if not switched:  # the switch did not complete: the GPU keeps what it had
                    self._gpu_model[g] = p
            req = node.req
            req.work_left += node.est * node.k
            req.info = None
            self._make_ready(node, now)
            lost = (req.id, node.index, 0)
        self._gpu_run[gpu] = -1
        self._gpu_model[gpu] = -1
        self._gpu_free[gpu] = float("inf")
        return lost, self._fits()

    def _repair(self, now: float, gpu: int) -> bool:
        """GPU ``gpu`` is back, idle and empty."""
        self._gpu_free[gpu] = now
        self._gpu_model[gpu] = -1
        return self._fits()

    def _can_lose(self, gpu: int) -> bool:
        """Whether the unfinished nodes still fit on the GPUs that stay up without ``gpu``."""
        need = max((nd.k for r in self._requests if r.completion is None for nd in r.nodes), default=0)
        run = longest = 0
        for g, up in enumerate(self.faults.alive):
            if up and g != gpu:
                run += 1
                longest = max(longest, run)
            else:
                run = 0
        return longest >= need
