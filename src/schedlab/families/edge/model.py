"""Edge: a stream of requests dispatched to edge nodes whose state drifts (closed loop).

Each request is a job with one stage of one task. When it arrives it waits at the dispatcher
until the scheduler sends it to a node (``Enqueue(request, node)``); it then travels for the
node's current delay (times a per-request jitter), joins the node's FIFO queue, and is served
alone, with every available core, for ``cost / (cpu * (1 - background load))`` ms. Its latency
is arrival to end of service: time at the dispatcher, network delay, queueing and service. A
node serves one request at a time (capacity 1 in the trace).

A decision point opens at every arrival, and at every end of service while requests wait at
the dispatcher. The scheduler may send any of the waiting requests, several at once, or none:
an empty answer passes, and the requests wait for the next decision point.

The node state (:class:`~schedlab.families.edge.nodes.EdgeNodes`) advances one step every
``interval_ms``; each step sees the share of the last interval the node spent serving and the
requests it holds, so dispatching changes the node's future load, memory and delay. Schedulers
observe the latest sample, not the state between samples.

With faults (the scenario's ``faults`` section, docs/faults.md), a node that crashes loses the
request in service and its queue: they wait at the dispatcher again, in arrival order, and a
decision point opens; a request still travelling to the node goes back when it arrives and
finds the node dead. The view marks the node dead (``NodeView.alive``, known to the
dispatcher at once, not at the next sample) until it is repaired.

Times are in milliseconds, except the views' ``now``, in seconds as in every family
(``now_ms`` has it in milliseconds).
"""

from __future__ import annotations

from collections.abc import Sequence
from heapq import heappush
from typing import NamedTuple

import numpy as np

from schedlab.families.edge.nodes import EdgeNodes
from schedlab.sim.actions import Enqueue
from schedlab.sim.engine import Engine
from schedlab.sim.faults import FaultInjector, FaultSpec
from schedlab.sim.queues import Dispatcher, FifoWorkers, QueueDecision, attach_faults, fill_single_stage
from schedlab.sim.trace import Trace, fill_table

__all__ = ["EdgeCluster", "EdgeView", "EdgeSnapshot", "RequestView", "NodeView", "SAMPLE_COLUMNS"]

#: Columns of ``trace.extra["samples"]``: one row per node and sample.
SAMPLE_COLUMNS = ("time", "node", "cpu", "mem", "delay", "load", "queue")
# A node never serves slower than this share of its cores, however loaded: a fully loaded
# node still time-shares, it does not stop.
_MIN_SPEED_SHARE = 0.05


class RequestView(NamedTuple):
    """A request waiting for a node. Times in ms.

    Attributes:
        id: Request id (the job id in the trace).
        arrival: Arrival time.
        cost: Work (core-ms: service time on one free core).
        deadline: Absolute deadline; a later end of service is a miss.
        timeout: Absolute time after which the client gives up.
    """

    id: int
    arrival: float
    cost: float
    deadline: float
    timeout: float


class NodeView(NamedTuple):
    """A node as the scheduler observes it: its latest sample, plus what the dispatcher knows.

    Attributes:
        id: Node id.
        cpu: Available cores at the latest sample.
        mem: Available memory (GB) at the latest sample.
        delay: Reported delay (ms) at the latest sample.
        load: Load (0..1) at the latest sample.
        queue: Requests at the node (waiting or in service) at the latest sample.
        outstanding: Requests sent to the node and not yet served, now (the dispatcher's own
            count, exact; it includes requests still on their way).
        queue_length: The name every queue family shares for requests at a worker, waiting or
            in service: here ``queue``, as of the latest sample, since an edge dispatcher
            learns a node's queue only from its samples.
        alive: The node is up now (always, without faults); a dead node takes no request.
    """

    id: int
    cpu: float
    mem: float
    delay: float
    load: float
    queue: int
    outstanding: int
    queue_length: int
    alive: bool = True


class EdgeCluster:
    """The edge family's model on an :class:`~schedlab.sim.engine.Engine`.

    Args:
        engine: The engine this model schedules its events on.
        nodes: The nodes' state at step 0; advanced by this model.
        arrivals: Request arrival times (ms), non-decreasing.
        costs: Request costs (core-ms).
        jitter: Per request, the factor applied to the node's delay on the way there.
        interval_ms: Time between two node steps (samples).
        deadline_ms: Latency beyond which a request misses its deadline.
        timeout_ms: Latency beyond which a request times out (the node still serves it: it
            cannot know the client gave up).

    Raises:
        ValueError: Arrays of unequal length, or a non-positive interval.
    """

    family = "edge"
    time_unit = "ms"

    def __init__(
        self,
        engine: Engine,
        nodes: EdgeNodes,
        arrivals: np.ndarray,
        costs: np.ndarray,
        jitter: np.ndarray,
        *,
        interval_ms: float,
        deadline_ms: float,
        timeout_ms: float,
    ) -> None:
        if not len(arrivals) == len(costs) == len(jitter):
            raise ValueError(
                f"arrivals, costs and jitter differ in length ({len(arrivals)}, {len(costs)}, {len(jitter)})"
            )
        if not interval_ms > 0:
            raise ValueError(f"interval_ms must be positive, got {interval_ms}")
        self.engine = engine
        self.nodes = nodes
        self.interval = float(interval_ms)
        self.deadline_ms = float(deadline_ms)
        self.timeout_ms = float(timeout_ms)
        self.arrival = [float(x) for x in arrivals]
        self.cost = [float(x) for x in costs]
        self.jitter = [float(x) for x in jitter]
        n_req, n_nodes = len(self.arrival), nodes.n
        self.num_nodes = n_nodes
        self.node_of = [-1] * n_req  # set at the decision, before the request reaches its node
        self.net_delay = [0.0] * n_req
        self.outstanding = [0] * n_nodes
        self.pool = FifoWorkers(engine, n_nodes, n_req, self._service_time, self._on_done)
        self.dispatcher = Dispatcher(n_req, n_nodes, family="edge", item="request", worker="node")
        self._busy_acc = [0.0] * n_nodes
        self._last_tick = 0.0
        self._sampled = np.zeros((n_nodes, 5))  # cpu, mem, delay, load, queue at the latest sample
        self._samples: list[tuple[float, np.ndarray]] = []
        self._decision_rows: list[tuple] = []
        self._heap = engine.heap
        self._seq = engine.seq
        self._ticking = True  # a sample is scheduled
        #: The run's faults, or None (see :meth:`enable_faults`).
        self.faults: FaultInjector | None = None

    def enable_faults(self, spec: FaultSpec, rng) -> None:
        """Run with faults (before :meth:`start`): nodes crash and requests straggle as ``spec`` says.

        Args:
            spec: The faults, in milliseconds.
            rng: Their own stream (:func:`~schedlab.sim.faults.fault_stream`).
        """
        self.faults = attach_faults(self.engine, spec, rng, self.pool, self.dispatcher, release=self._release)

    @property
    def waiting(self) -> list[int]:
        """Ids of the requests waiting at the dispatcher, in arrival order."""
        return self.dispatcher.waiting

    @property
    def completed(self) -> int:
        """Requests served so far."""
        return self.pool.completed

    # -- driving the model ---------------------------------------------------------------

    def start(self) -> bool:
        """Schedule the first sample and the first arrival; no decision is open yet."""
        # The sample at t=0 goes first, so a request arriving at t=0 sees it.
        self.engine.schedule(0.0, self._on_tick)
        if self.arrival:
            self.engine.schedule(self.arrival[0], self._on_arrival, 0)
        if self.faults is not None:
            self.faults.start()
        return False

    def view(self) -> EdgeView:
        """The read-only view of the open decision: the waiting requests and the observed nodes."""
        return EdgeView(self)

    def apply(self, actions: Sequence[Enqueue], delay: float | None = None) -> bool:
        """Send waiting requests on their way to the nodes the actions name, in order.

        All actions are checked before any is applied. An empty list passes: the requests
        keep waiting at the dispatcher.

        Args:
            actions: ``Enqueue(request, node)`` actions.
            delay: Decision time (ms): the requests are booked for their nodes now (counted
                in ``outstanding``) and leave the dispatcher ``delay`` later, with the node's
                network delay as it is then. None or 0: they leave at once.

        Returns:
            True while requests still wait after a non-empty answer (ask again), else False.

        Raises:
            InvalidActionError: An action is not an ``Enqueue``, names a request that is not
                waiting (or one named twice), or an unknown node. Nothing is applied then.
        """
        checked = self.dispatcher.take(actions)
        if not checked:
            return False
        now = self.engine.now
        if not self._ticking:
            # Sampling stopped while every request left waited at the dispatcher, which only a
            # crash brings about (it sent requests back); it resumes on the sampling grid.
            self._ticking = True
            nxt = (now // self.interval + 1) * self.interval
            heappush(self._heap, (nxt, next(self._seq), self._on_tick, None, None))
        if delay:
            at = now + delay
            depart = self._depart
            for i, node in checked:
                self.node_of[i] = node
                self.outstanding[node] += 1
                self._decision_rows.append((now, i, 0, 1, node))
                heappush(self._heap, (at, next(self._seq), depart, i, node))
            return bool(self.dispatcher)
        node_delay, jitter = self.nodes.delay, self.jitter
        reach = self.pool.submit
        for i, node in checked:
            d = float(node_delay[node]) * jitter[i]
            self.node_of[i] = node
            self.net_delay[i] = d
            self.outstanding[node] += 1
            self._decision_rows.append((now, i, 0, 1, node))
            heappush(self._heap, (now + d, next(self._seq), reach, i, node))
        return bool(self.dispatcher)

    def progress(self) -> float:
        """Fraction of requests served."""
        return self.pool.completed / max(1, len(self.arrival))

    def finish(self, trace: Trace) -> None:
        """Fill the trace's tables; node samples go to ``trace.extra["samples"]``."""
        n = self.num_nodes
        trace.workers.update(id=list(range(n)), kind=["edge-node"] * n, capacity=[1] * n)
        fill_single_stage(
            trace,
            self.pool,
            name="request",
            arrival=self.arrival,
            cost=list(self.cost),
            deadline=[t + self.deadline_ms for t in self.arrival],
            timeout=[t + self.timeout_ms for t in self.arrival],
            delay=list(self.net_delay),
        )
        fill_table(trace.decisions, self._decision_rows, ("time", "job", "stage", "limit", "worker"))
        times = np.repeat([t for t, _ in self._samples], n)
        rows = np.concatenate([s for _, s in self._samples]) if self._samples else np.zeros((0, 5))
        trace.extra["samples"] = {
            "time": times.tolist(),
            "node": np.tile(np.arange(n), len(self._samples)).tolist(),
            "cpu": rows[:, 0].tolist(),
            "mem": rows[:, 1].tolist(),
            "delay": rows[:, 2].tolist(),
            "load": rows[:, 3].tolist(),
            "queue": rows[:, 4].astype(np.int64).tolist(),
        }
        if self.faults is not None:
            self.faults.finish(trace)

    # -- event handlers ------------------------------------------------------------------

    def _on_tick(self, now: float, _a: object, _b: object) -> bool:
        nodes, pool = self.nodes, self.pool
        queue = np.array(pool.queue_lengths(), dtype=np.float64)
        if self._samples:  # step 0 is the state the nodes were built with
            busy = np.array(self._busy_acc)
            for k, r in enumerate(pool.running):
                if r >= 0:
                    busy[k] += now - max(pool.start_at[r], self._last_tick)
            busy /= now - self._last_tick
            nodes.step(busy, queue)
        self._busy_acc = [0.0] * self.num_nodes
        self._last_tick = now
        s = self._sampled
        s[:, 0], s[:, 1], s[:, 2], s[:, 3], s[:, 4] = nodes.cpu, nodes.mem, nodes.delay, nodes.load, queue
        self._samples.append((now, s.copy()))
        # Sample while a request may still arrive, travel or be served. Requests left waiting
        # at the dispatcher when nothing else can happen stay unserved, and sampling stops, so
        # an episode whose scheduler keeps passing still runs out of events.
        if pool.completed + len(self.dispatcher) < len(self.arrival):
            heappush(self._heap, (now + self.interval, next(self._seq), self._on_tick, None, None))
        else:
            self._ticking = False
        return False

    def _on_arrival(self, now: float, i: int, _: object) -> bool:
        self.dispatcher.add(i)
        if i + 1 < len(self.arrival):
            heappush(self._heap, (self.arrival[i + 1], next(self._seq), self._on_arrival, i + 1, None))
        return True

    def _depart(self, now: float, i: int, node: int) -> bool:
        """A request booked by a delayed decision leaves the dispatcher for its node."""
        d = float(self.nodes.delay[node]) * self.jitter[i]
        self.net_delay[i] = d
        heappush(self._heap, (now + d, next(self._seq), self.pool.submit, i, node))
        return False

    def _service_time(self, i: int, node: int) -> float:
        # The node's speed when service starts holds for the whole service.
        nodes = self.nodes
        speed = float(nodes.cpu[node]) * max(_MIN_SPEED_SHARE, 1.0 - float(nodes.background[node]))
        return self.cost[i] / speed

    def _on_done(self, now: float, i: int, node: int) -> bool:
        self._busy_acc[node] += now - max(self.pool.start_at[i], self._last_tick)
        self.outstanding[node] -= 1
        return bool(self.dispatcher)

    def _release(self, now: float, i: int, node: int, started: float | None) -> None:
        """A dead node gives request ``i`` up: no longer outstanding there; its service so far was busy time."""
        if started is not None:
            self._busy_acc[node] += now - max(started, self._last_tick)
        self.outstanding[node] -= 1


class _EdgeDecision(QueueDecision):
    """What :class:`EdgeView` and :class:`EdgeSnapshot` share: the contract and its old names."""

    __slots__ = ()

    @property
    def request(self) -> RequestView:
        """The request waiting longest (the only one unless the scheduler passed before)."""
        return self.waiting[0]

    @property
    def nodes(self) -> tuple[NodeView, ...]:
        """The nodes (same as ``workers``)."""
        return self.workers


class _EdgeSnapshotFields(NamedTuple):
    now: float
    now_ms: float
    waiting: tuple[RequestView, ...]
    workers: tuple[NodeView, ...]
    sampled_at: float
    deadline_ms: float
    timeout_ms: float


class EdgeSnapshot(_EdgeSnapshotFields, _EdgeDecision):
    """An immutable copy of an :class:`EdgeView`: nothing in it changes as the simulation goes on.

    Attributes:
        now: Time of the decision (s).
        now_ms: Time of the decision (ms).
        waiting: The requests waiting for a node, in arrival order.
        workers: Every node as last observed, by id.
        sampled_at: Time of the latest sample of node state (ms).
        deadline_ms: The requests' relative deadline.
        timeout_ms: The requests' relative timeout.
    """

    __slots__ = ()


class EdgeView(_EdgeDecision):
    """What a scheduler sees at a decision point. Read-only.

    Attributes:
        now: Current time (s), as in every family.
        now_ms: Current time (ms), the unit of the other times here.
        waiting: The requests waiting for a node, in arrival order (at least one).
        workers: Every node as last observed, by id.
        sampled_at: Time of the latest sample of node state (ms).
        deadline_ms: The requests' relative deadline.
        timeout_ms: The requests' relative timeout.
    """

    __slots__ = ("_m", "now", "now_ms", "waiting", "workers", "sampled_at", "deadline_ms", "timeout_ms")

    def __init__(self, model: EdgeCluster) -> None:
        self._m = model
        now = self.now_ms = model.engine.now
        self.now = now / 1000.0
        arrival, cost, deadline, timeout = model.arrival, model.cost, model.deadline_ms, model.timeout_ms
        self.waiting = tuple(
            RequestView(i, arrival[i], cost[i], arrival[i] + deadline, arrival[i] + timeout) for i in model.waiting
        )
        s = model._sampled.tolist()
        out = model.outstanding
        alive = model.pool.alive
        if alive is None:
            self.workers = tuple(
                NodeView(k, r[0], r[1], r[2], r[3], int(r[4]), out[k], int(r[4])) for k, r in enumerate(s)
            )
        else:
            self.workers = tuple(
                NodeView(k, r[0], r[1], r[2], r[3], int(r[4]), out[k], int(r[4]), alive[k]) for k, r in enumerate(s)
            )
        self.sampled_at = model._samples[-1][0] if model._samples else now
        self.deadline_ms = deadline
        self.timeout_ms = timeout

    def snapshot(self) -> EdgeSnapshot:
        """An immutable copy of this view (without :meth:`history`)."""
        return EdgeSnapshot(
            self.now, self.now_ms, self.waiting, self.workers, self.sampled_at, self.deadline_ms, self.timeout_ms
        )

    def history(self, window: int) -> np.ndarray:
        """The latest ``window`` samples (fewer early on), oldest first.

        Returns:
            Shape ``(w, nodes, 5)``; the last axis is cpu, mem, delay, load, queue.
        """
        samples = self._m._samples[-window:] if window > 0 else []
        if not samples:
            return np.zeros((0, self._m.num_nodes, 5))
        return np.stack([s for _, s in samples])
