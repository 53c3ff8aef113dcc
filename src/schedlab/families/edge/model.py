"""Edge: a stream of requests dispatched to edge nodes whose state drifts (closed loop).

Each request is a job with one stage of one task. When it arrives the scheduler sends it to a
node (``Enqueue(request, node)``); it travels for the node's current delay (times a per-request
jitter), joins the node's FIFO queue, and is served alone, with every available core, for
``cost / (cpu * (1 - background load))`` ms. Its latency is arrival to end of service: network
delay, queueing and service. A node serves one request at a time (capacity 1 in the trace).

The node state (:class:`~schedlab.families.edge.nodes.EdgeNodes`) advances one step every
``interval_ms``; each step sees the share of the last interval the node spent serving and the
requests it holds, so dispatching changes the node's future load, memory and delay. Schedulers
observe the latest sample, not the state between samples.

Times are in milliseconds.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from heapq import heappush
from typing import NamedTuple

import numpy as np

from schedlab.families.edge.nodes import EdgeNodes
from schedlab.sim.actions import Enqueue, single_enqueue
from schedlab.sim.engine import Engine
from schedlab.sim.trace import Trace, fill_table

__all__ = ["EdgeCluster", "EdgeView", "RequestView", "NodeView", "SAMPLE_COLUMNS"]

#: Columns of ``trace.extra["samples"]``: one row per node and sample.
SAMPLE_COLUMNS = ("time", "node", "cpu", "mem", "delay", "load", "queue")
# A node never serves slower than this share of its cores, however loaded: a fully loaded
# node still time-shares, it does not stop.
_MIN_SPEED_SHARE = 0.05


class RequestView(NamedTuple):
    """The request waiting for a node. Times in ms.

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
            count, exact).
    """

    id: int
    cpu: float
    mem: float
    delay: float
    load: float
    queue: int
    outstanding: int


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
        self.node_of = [-1] * n_req
        self.net_delay = [0.0] * n_req
        self.start_at: list[float | None] = [None] * n_req
        self.end_at: list[float | None] = [None] * n_req
        self._planned_end = [0.0] * n_req  # known when service starts, like a task's end
        self.waiting: list[deque[int]] = [deque() for _ in range(n_nodes)]
        self.serving = [-1] * n_nodes
        self.outstanding = [0] * n_nodes
        self._busy_acc = [0.0] * n_nodes
        self._last_tick = 0.0
        self._sampled = np.zeros((n_nodes, 5))  # cpu, mem, delay, load, queue at the latest sample
        self._samples: list[tuple[float, np.ndarray]] = []
        self.pending = -1
        self.completed = 0
        self._decision_rows: list[tuple] = []
        self._heap = engine.heap
        self._seq = engine.seq

    # -- driving the model ---------------------------------------------------------------

    def start(self) -> bool:
        """Schedule the first sample and the first arrival; no decision is open yet."""
        # The sample at t=0 goes first, so a request arriving at t=0 sees it.
        self.engine.schedule(0.0, self._on_tick)
        if self.arrival:
            self.engine.schedule(self.arrival[0], self._on_arrival, 0)
        return False

    def view(self) -> EdgeView:
        """The read-only view of the open decision: the request and the observed nodes."""
        return EdgeView(self)

    def apply(self, actions: Sequence[Enqueue]) -> bool:
        """Send the waiting request to the node named by the one action.

        Returns:
            False: a decision is always closed by its one action.

        Raises:
            InvalidActionError: Not exactly one action, not an ``Enqueue``, another request,
                or an unknown node.
        """
        i = self.pending
        node = single_enqueue(actions, i, self.num_nodes, family="edge", item="request", worker="node")
        now = self.engine.now
        d = float(self.nodes.delay[node]) * self.jitter[i]
        self.node_of[i] = node
        self.net_delay[i] = d
        self.outstanding[node] += 1
        self.pending = -1
        self._decision_rows.append((now, i, 0, 1, node))
        heappush(self._heap, (now + d, next(self._seq), self._on_reach, i, node))
        return False

    def progress(self) -> float:
        """Fraction of requests served."""
        return self.completed / max(1, len(self.arrival))

    def finish(self, trace: Trace) -> None:
        """Fill the trace's tables; node samples go to ``trace.extra["samples"]``."""
        n, m = self.num_nodes, len(self.arrival)
        trace.workers.update(id=list(range(n)), kind=["edge-node"] * n, capacity=[1] * n)
        served = [i for i in range(m) if self.start_at[i] is not None]
        trace.jobs.update(
            id=list(range(m)),
            name=["request"] * m,
            arrival=list(self.arrival),
            completion=list(self.end_at),
            cost=list(self.cost),
            deadline=[t + self.deadline_ms for t in self.arrival],
            timeout=[t + self.timeout_ms for t in self.arrival],
            delay=list(self.net_delay),
        )
        trace.stages.update(job=list(range(m)), stage=[0] * m, num_tasks=[1] * m, parents=[[] for _ in range(m)])
        trace.tasks.update(
            job=served,
            stage=[0] * len(served),
            task=[0] * len(served),
            worker=[self.node_of[i] for i in served],
            start=[self.start_at[i] for i in served],
            end=[self._planned_end[i] for i in served],
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

    # -- event handlers ------------------------------------------------------------------

    def _on_tick(self, now: float, _a: object, _b: object) -> bool:
        nodes = self.nodes
        queue = np.array([len(q) + (s >= 0) for q, s in zip(self.waiting, self.serving)], dtype=np.float64)
        if self._samples:  # step 0 is the state the nodes were built with
            busy = np.array(self._busy_acc)
            for k, r in enumerate(self.serving):
                if r >= 0:
                    busy[k] += now - max(self.start_at[r], self._last_tick)
            busy /= now - self._last_tick
            nodes.step(busy, queue)
        self._busy_acc = [0.0] * self.num_nodes
        self._last_tick = now
        s = self._sampled
        s[:, 0], s[:, 1], s[:, 2], s[:, 3], s[:, 4] = nodes.cpu, nodes.mem, nodes.delay, nodes.load, queue
        self._samples.append((now, s.copy()))
        if self.completed < len(self.arrival):
            heappush(self._heap, (now + self.interval, next(self._seq), self._on_tick, None, None))
        return False

    def _on_arrival(self, now: float, i: int, _: object) -> bool:
        self.pending = i
        if i + 1 < len(self.arrival):
            heappush(self._heap, (self.arrival[i + 1], next(self._seq), self._on_arrival, i + 1, None))
        return True

    def _on_reach(self, now: float, i: int, node: int) -> bool:
        if self.serving[node] < 0:
            self._serve(now, i, node)
        else:
            self.waiting[node].append(i)
        return False

    def _serve(self, now: float, i: int, node: int) -> None:
        nodes = self.nodes
        speed = float(nodes.cpu[node]) * max(_MIN_SPEED_SHARE, 1.0 - float(nodes.background[node]))
        end = now + self.cost[i] / speed
        self.serving[node] = i
        self.start_at[i] = now
        self._planned_end[i] = end
        heappush(self._heap, (end, next(self._seq), self._on_done, i, node))

    def _on_done(self, now: float, i: int, node: int) -> bool:
        self.end_at[i] = now
        self._busy_acc[node] += now - max(self.start_at[i], self._last_tick)
        self.outstanding[node] -= 1
        self.completed += 1
        self.serving[node] = -1
        q = self.waiting[node]
        if q:
            self._serve(now, q.popleft(), node)
        return False


class EdgeView:
    """What a scheduler sees when a request arrives. Read-only; times in ms.

    Attributes:
        now: Current time.
        request: The request to place.
        nodes: Every node as last observed, by id.
        sampled_at: Time of the latest sample of node state.
        deadline_ms: The requests' relative deadline.
        timeout_ms: The requests' relative timeout.
    """

    __slots__ = ("_m", "now", "request", "nodes", "sampled_at", "deadline_ms", "timeout_ms")

    def __init__(self, model: EdgeCluster) -> None:
        self._m = model
        now = self.now = model.engine.now
        i = model.pending
        t = model.arrival[i]
        self.request = RequestView(i, t, model.cost[i], t + model.deadline_ms, t + model.timeout_ms)
        s = model._sampled.tolist()
        out = model.outstanding
        self.nodes = tuple(NodeView(k, r[0], r[1], r[2], r[3], int(r[4]), out[k]) for k, r in enumerate(s))
        self.sampled_at = model._samples[-1][0] if model._samples else now
        self.deadline_ms = model.deadline_ms
        self.timeout_ms = model.timeout_ms

    def history(self, window: int) -> np.ndarray:
        """The latest ``window`` samples (fewer early on), oldest first.

        Returns:
            Shape ``(w, nodes, 5)``; the last axis is cpu, mem, delay, load, queue.
        """
        samples = self._m._samples[-window:] if window > 0 else []
        if not samples:
            return np.zeros((0, self._m.num_nodes, 5))
        return np.stack([s for _, s in samples])
