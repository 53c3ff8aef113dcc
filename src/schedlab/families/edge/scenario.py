"""Scenario config of the ``edge`` family: requests dispatched to drifting edge nodes.

Times are in milliseconds; see docs/edge.md for the node dynamics these knobs drive.

Renamed fields (the old names are still read, with a ``DeprecationWarning``, until the next
release): ``nodes`` -> ``cluster`` (``nodes.count`` -> ``cluster.nodes``), ``requests`` ->
``workload`` (``requests.count`` -> ``workload.jobs``, ``requests.rate_per_ms`` ->
``workload.arrival_rate_per_ms``). ``EdgeNodesConfig`` and ``EdgeRequestsConfig`` are the old
names of :class:`EdgeClusterConfig` and :class:`EdgeWorkloadConfig`.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from schedlab.scenarios.faults import FaultsConfig
from schedlab.scenarios.schema import MAX_ITEMS, Scenario, Strict, check_size

__all__ = [
    "EdgeScenario",
    "EdgeClusterConfig",
    "NodeDynamicsConfig",
    "EdgeWorkloadConfig",
    "EdgeNodesConfig",
    "EdgeRequestsConfig",
]

Range = tuple[float, float]


def _ordered(value: Range) -> Range:
    lo, hi = value
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError(f"expected finite numbers, got [{lo}, {hi}]")
    if lo > hi:
        raise ValueError(f"min ({lo}) exceeds max ({hi})")
    return value


class NodeDynamicsConfig(Strict):
    """How node state evolves per step (one sample); rates are per step, time constants in steps."""

    load_base: Range = Field((0.1, 0.5), description="range of per-node baseline background load (0-1)")
    load_amplitude: Range = Field((0.05, 0.2), description="range of the periodic part's amplitude (load, 0-1)")
    load_period_steps: Range = Field((100.0, 600.0), description="range of the periodic part's period (steps)")
    load_reversion: float = Field(0.1, gt=0, le=1, description="share of the gap to the target closed per step")
    load_noise: float = Field(0.02, ge=0, description="std of the per-step load noise (load, 0-1)")
    drift_phase_steps: float = Field(250.0, ge=1, description="mean length of a drift phase (steps)")
    drift_amplitude: float = Field(0.15, ge=0, le=1, description="drift levels lie in [-a, a] (load, 0-1)")
    spike_rate: float = Field(0.004, ge=0, le=1, description="probability of a load spike per step")
    spike_size: Range = Field((0.2, 0.5), description="range of a load spike's size (load, 0-1)")
    spike_decay_steps: float = Field(15.0, gt=0, description="time constant of a spike's decay (steps)")
    cpu_reversion: float = Field(0.05, gt=0, le=1, description="share of the gap to the cpu target closed per step")
    cpu_noise: float = Field(0.05, ge=0, description="std of the per-step cpu noise (cores)")
    cpu_load_coupling: float = Field(0.2, ge=0, le=1, description="share of nominal cores lost at full load")
    cpu_realloc_rate: float = Field(0.002, ge=0, le=1, description="probability per step of new nominal cores")
    mem_reversion: float = Field(0.05, gt=0, le=1, description="share of the gap to the mem target closed per step")
    mem_noise: float = Field(0.05, ge=0, description="std of the per-step mem noise (GB)")
    mem_load_coupling: float = Field(0.3, ge=0, le=1, description="share of nominal memory lost at full load")
    mem_per_request_gb: float = Field(0.05, ge=0, description="memory held per request at the node (GB)")
    delay_base_ms: Range = Field((5.0, 120.0), description="range of per-node network base delay (ms, log-uniform)")
    delay_reversion: float = Field(0.1, gt=0, le=1, description="share of the gap to the base closed per step")
    delay_noise: float = Field(0.05, ge=0, description="std of the per-step noise of log delay (log ms)")
    delay_load_coupling: float = Field(1.0, ge=0, description="delay grows by this factor times load squared")
    delay_queue_ms: float = Field(1.0, ge=0, description="delay added per request at the node (ms)")
    delay_spike_rate: float = Field(0.003, ge=0, le=1, description="probability of a congestion spike per step")
    delay_spike_factor: Range = Field((2.0, 5.0), description="range of a congestion spike's factor")
    delay_spike_decay_steps: float = Field(10.0, gt=0, description="time constant of a congestion spike (steps)")

    @field_validator("load_base", "load_amplitude", "spike_size")
    @classmethod
    def _nonneg_range(cls, v: Range) -> Range:
        if v[0] < 0:
            raise ValueError(f"expected non-negative bounds, got [{v[0]}, {v[1]}]")
        return _ordered(v)

    @field_validator("delay_base_ms", "load_period_steps")
    @classmethod
    def _positive_range(cls, v: Range) -> Range:
        if v[0] <= 0:
            raise ValueError(f"expected positive bounds, got [{v[0]}, {v[1]}]")
        return _ordered(v)

    @field_validator("delay_spike_factor")
    @classmethod
    def _factor_range(cls, v: Range) -> Range:
        if v[0] < 1:
            raise ValueError(f"expected factors of at least 1, got [{v[0]}, {v[1]}]")
        return _ordered(v)


class EdgeClusterConfig(Strict):
    """The edge nodes: how many, how often they are sampled, their ranges and dynamics."""

    nodes: int = Field(10, ge=1, le=10_000, description="number of edge nodes (count)")
    interval_ms: float = Field(20.0, gt=0, description="time between two samples of node state (ms)")
    cpu: Range = Field((1.0, 5.0), description="range of available cores (cores)")
    mem: Range = Field((2.0, 16.0), description="range of available memory (GB)")
    delay_ms: Range = Field((5.0, 500.0), description="range of the reported delay (ms)")
    load: Range = Field((0.0, 1.0), description="range of the load (fraction busy, 0-1)")
    dynamics: NodeDynamicsConfig = Field(
        NodeDynamicsConfig(), description="how node state evolves per step (one step every interval_ms)"
    )

    @field_validator("cpu", "mem", "delay_ms")
    @classmethod
    def _positive_range(cls, v: Range) -> Range:
        if v[0] <= 0:
            raise ValueError(f"expected positive bounds, got [{v[0]}, {v[1]}]")
        return _ordered(v)

    @field_validator("load")
    @classmethod
    def _unit_range(cls, v: Range) -> Range:
        if v[0] < 0 or v[1] > 1:
            raise ValueError(f"expected bounds within [0, 1], got [{v[0]}, {v[1]}]")
        return _ordered(v)


class EdgeWorkloadConfig(Strict):
    """The request stream: Poisson arrivals, log-normal costs, a deadline and a timeout."""

    jobs: int = Field(5000, ge=1, le=MAX_ITEMS, description="number of requests (count)")
    arrival_rate_per_ms: float = Field(0.3, gt=0, description="Poisson arrival rate (requests per ms)")
    cost_mean: float = Field(20.0, gt=0, description="mean cost (core-ms: service ms on one free core)")
    cost_sigma: float = Field(0.5, ge=0, description="log-normal spread of costs (std of log)")
    deadline_ms: float = Field(80.0, gt=0, description="a request slower than this misses its deadline (ms)")
    timeout_ms: float = Field(250.0, gt=0, description="a request slower than this times out (ms)")
    jitter_sigma: float = Field(
        0.1, ge=0, description="log-normal spread of a request's delay around the node's (std of log)"
    )

    @model_validator(mode="after")
    def _timeout_after_deadline(self) -> EdgeWorkloadConfig:
        if self.timeout_ms < self.deadline_ms:
            raise ValueError(f"timeout_ms ({self.timeout_ms}) is below deadline_ms ({self.deadline_ms})")
        return self


#: Old names of the configs, kept for one release.
EdgeNodesConfig = EdgeClusterConfig
EdgeRequestsConfig = EdgeWorkloadConfig


class EdgeScenario(Scenario):
    """Requests dispatched to edge nodes whose cpu, mem, delay and load drift."""

    renamed_fields = {
        "nodes.count": "cluster.nodes",
        "nodes": "cluster",
        "requests.count": "workload.jobs",
        "requests.rate_per_ms": "workload.arrival_rate_per_ms",
        "requests": "workload",
    }

    name: str = Field("custom", description="the scenario's name, in results and traces")
    description: str = Field("", description="what the scenario is, in words")
    family: Literal["edge"] = Field("edge", description="the family: edge")
    cluster: EdgeClusterConfig = Field(EdgeClusterConfig(), description="the edge nodes")
    workload: EdgeWorkloadConfig = Field(EdgeWorkloadConfig(), description="the request stream")
    faults: FaultsConfig | None = Field(
        None,
        exclude_if=lambda v: v is None,
        description="worker crashes and stragglers (docs/faults.md); none by default",
    )

    @model_validator(mode="after")
    def _fits(self) -> EdgeScenario:
        # Nodes are sampled every interval_ms until the last request is served: the run lasts
        # at least until the last arrival, and at least as long as the nodes need for all the work.
        r, c = self.workload, self.cluster
        last_arrival = r.jobs / r.arrival_rate_per_ms
        all_work = r.jobs * r.cost_mean / (c.nodes * c.cpu[0])
        span = max(last_arrival, all_work) + r.timeout_ms + c.delay_ms[1]
        check_size(
            "node samples (nodes x run length / interval_ms)",
            c.nodes * (span / c.interval_ms + 1),
            "raise cluster.interval_ms or arrival_rate_per_ms, or lower jobs, cost_mean or nodes",
        )
        return self

    def build(self, engine, rng: np.random.Generator):
        """Draw the requests and the nodes' profiles with ``rng`` and return the model."""
        from schedlab.families.edge.model import EdgeCluster
        from schedlab.families.edge.nodes import EdgeNodes, NodeParams

        r, c = self.workload, self.cluster
        req_rng, node_rng = rng.spawn(2)
        gaps = req_rng.exponential(1.0 / r.arrival_rate_per_ms, r.jobs)
        gaps[0] = 0.0
        arrivals = np.cumsum(gaps)
        mu = np.log(r.cost_mean) - r.cost_sigma**2 / 2  # the log-normal's mean is cost_mean
        costs = req_rng.lognormal(mu, r.cost_sigma, r.jobs)
        jitter = req_rng.lognormal(-(r.jitter_sigma**2) / 2, r.jitter_sigma, r.jobs)
        nodes = EdgeNodes(c.nodes, NodeParams.from_config(c), node_rng)
        model = EdgeCluster(
            engine,
            nodes,
            arrivals,
            costs,
            jitter,
            interval_ms=c.interval_ms,
            deadline_ms=r.deadline_ms,
            timeout_ms=r.timeout_ms,
        )
        if self.faults is not None:
            from schedlab.sim.faults import fault_stream

            model.enable_faults(self.faults.spec(model.time_unit), fault_stream(rng))
        return model
