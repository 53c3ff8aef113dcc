"""The gpu family's scenario: GPUs, the switch cost model, and a GSwarm workload."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from schedlab.scenarios.faults import FaultsConfig
from schedlab.scenarios.schema import MAX_MAGNITUDE, Scenario, Strict, check_size

__all__ = ["GpuScenario", "GpuClusterConfig", "GpuWorkload"]


class GpuClusterConfig(Strict):
    """GPUs (ids 0 .. gpus - 1; gangs take consecutive ids) and what a model switch costs."""

    gpus: int = Field(4, ge=1, le=1024, description="number of GPUs (count)")
    pcie_gb_per_s: float = Field(16.0, gt=0, description="PCIe bandwidth a model switch moves both models over (GB/s)")
    switch_overhead_s: float = Field(2.0, ge=0, description="fixed time added to every model switch (s)")


class GpuWorkload(Strict):
    """GSwarm requests on a GSwarm system config; the built-in ones when no file is named.

    Paths are relative to the working directory.
    """

    mode: Literal["offline", "online"] = Field(
        "offline", description="offline: every request at t=0; online: at its timestamp, from the earliest"
    )
    config: str | None = Field(None, description="system config, YAML or JSON (default: the built-in one)")
    requests: str | None = Field(None, description="requests file, YAML or JSON (default: generated requests)")
    jobs: int | None = Field(
        None,
        ge=1,
        description="number of requests (count): the first N of the file, or N generated (default: all, or 40)",
    )
    arrival_rate_per_s: float = Field(
        0.1, gt=0, description="Poisson arrival rate of generated requests (requests per s)"
    )

    @model_validator(mode="after")
    def _fits(self) -> GpuWorkload:
        # Each request is a workflow of a few model calls.
        check_size("requests (jobs)", self.jobs or 0, "lower jobs", limit=1_000_000)
        if self.requests is None:
            check_size("the last arrival (jobs / arrival_rate_per_s)", (self.jobs or 40) / self.arrival_rate_per_s,
                       "raise arrival_rate_per_s or lower jobs", limit=MAX_MAGNITUDE, unit=" s")  # fmt: skip
        return self


class GpuScenario(Scenario):
    """AI workflows (DAGs of model calls) on GPUs with model switching."""

    name: str = Field("custom", description="the scenario's name, in results and traces")
    description: str = Field("", description="what the scenario is, in words")
    family: Literal["gpu"] = Field("gpu", description="the family: gpu")
    cluster: GpuClusterConfig = Field(GpuClusterConfig(), description="the GPUs and the switch cost")
    workload: GpuWorkload = Field(GpuWorkload(), description="the requests")
    faults: FaultsConfig | None = Field(
        None,
        exclude_if=lambda v: v is None,
        description="worker crashes and stragglers (docs/faults.md); none by default",
    )

    def build(self, engine, rng: np.random.Generator):
        """Read or generate the workload and return the model, ready to start.

        Raises:
            DataError: A file is missing or malformed, or the workload cannot run on this
                cluster (see :mod:`schedlab.families.gpu.gswarm`).
        """
        from schedlab.families.gpu import gswarm
        from schedlab.families.gpu.model import EstimatedTimes, GpuCluster

        w, c = self.workload, self.cluster
        config = gswarm.load_config(w.config) if w.config is not None else gswarm.default_config()
        if w.requests is not None:
            requests = gswarm.load_requests(w.requests, config)
            if w.jobs is not None:
                requests = requests[: w.jobs]
        else:
            requests = gswarm.generate_requests(rng, config, w.jobs or 40, w.arrival_rate_per_s)
        gswarm.check_fits(config, requests, c.gpus)
        arrivals = gswarm.arrival_offsets(requests) if w.mode == "online" else [0.0] * len(requests)
        times = EstimatedTimes(gswarm.execution_time_table(config, requests, rng))
        model = GpuCluster(
            engine,
            config,
            requests,
            arrivals,
            gpus=c.gpus,
            pcie_gb_per_s=c.pcie_gb_per_s,
            switch_overhead_s=c.switch_overhead_s,
            times=times,
        )
        if self.faults is not None:
            from schedlab.sim.faults import fault_stream

            model.enable_faults(self.faults.spec(model.time_unit), fault_stream(rng))
        return model
