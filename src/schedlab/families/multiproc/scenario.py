"""Scenario config of the ``multiproc`` family: tasks on CPUs of different speeds.

Times are in seconds; sizes in work units (one unit takes one second at speed 1).

Renamed fields (the old names are still read, with a ``DeprecationWarning``, until the next
release): ``cpus`` -> ``cluster`` (``cpus.speeds`` -> ``cluster.speeds``). ``CpusConfig`` is
the old name of :class:`MultiprocClusterConfig`.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import Field, PositiveFloat, model_validator

from schedlab.scenarios.faults import FaultsConfig
from schedlab.scenarios.schema import MAX_ITEMS, MAX_MAGNITUDE, Scenario, Strict, check_size

__all__ = ["MultiprocScenario", "MultiprocClusterConfig", "PhaseConfig", "TaskWorkloadConfig", "CpusConfig"]


class MultiprocClusterConfig(Strict):
    """The CPUs: one speed each (work units per second); each keeps its own FIFO queue."""

    speeds: tuple[PositiveFloat, ...] = Field(
        (1.0, 1.5, 2.0, 3.0),
        min_length=1,
        max_length=4096,
        description="one speed per CPU (work units per second; a unit takes 1 s at speed 1)",
    )


#: Old name of the config, kept for one release.
CpusConfig = MultiprocClusterConfig


class PhaseConfig(Strict):
    """One phase of the workload: ``stable``, ``drifting`` or ``bursty`` arrivals."""

    kind: Literal["stable", "drifting", "bursty"] = Field(
        description="stable: Poisson arrivals; drifting: utilization moving linearly; bursty: bursts and gaps"
    )
    tasks: int = Field(ge=1, le=MAX_ITEMS, description="tasks in the phase (count)")
    utilization: float = Field(
        gt=0, description="offered work per second over total CPU speed (ratio; start value when drifting)"
    )
    utilization_end: float | None = Field(None, gt=0, description="final utilization of a drifting phase (ratio)")
    burst_size: float = Field(8.0, ge=1, description="mean tasks per burst (count; bursty)")
    burst_factor: float = Field(6.0, ge=1, description="rate inside a burst over the mean rate (ratio; bursty)")

    @model_validator(mode="after")
    def _kind_fields(self) -> PhaseConfig:
        if self.kind == "drifting" and self.utilization_end is None:
            raise ValueError("a drifting phase needs utilization_end")
        if self.kind != "drifting" and self.utilization_end is not None:
            raise ValueError(f"utilization_end applies to drifting phases only, not {self.kind}")
        return self


_DEFAULT_PHASES = (
    PhaseConfig(kind="stable", tasks=1000, utilization=0.7),
    PhaseConfig(kind="drifting", tasks=1000, utilization=0.6, utilization_end=0.95),
    PhaseConfig(kind="bursty", tasks=1000, utilization=0.75),
)


class TaskWorkloadConfig(Strict):
    """Task sizes, priorities, SLA deadlines and the arrival phases."""

    size_mean: float = Field(1.0, gt=0, description="mean declared size (work units)")
    size_sigma: float = Field(0.6, ge=0, description="log-normal spread of sizes (std of log)")
    size_noise: float = Field(
        0.2, ge=0, description="log-normal spread of true work around the declared size (std of log)"
    )
    priority_probs: tuple[float, ...] = Field(
        (0.2, 0.3, 0.5), min_length=1, description="probability of priority 1 (most urgent), 2, ..."
    )
    sla_slack: tuple[PositiveFloat, ...] = Field(
        (2.0, 4.0, 8.0), min_length=1, description="per priority: deadline over the size's time at mean speed (ratio)"
    )
    phases: tuple[PhaseConfig, ...] = Field(
        _DEFAULT_PHASES, min_length=1, description="arrival phases, run one after the other"
    )

    @model_validator(mode="after")
    def _priorities(self) -> TaskWorkloadConfig:
        p = self.priority_probs
        if any(x < 0 for x in p) or not abs(sum(p) - 1.0) < 1e-6:
            raise ValueError(f"priority_probs must be non-negative and sum to 1, got {list(p)}")
        if len(self.sla_slack) != len(p):
            raise ValueError(
                f"sla_slack has {len(self.sla_slack)} values but priority_probs has {len(p)}; give one per priority"
            )
        return self


class MultiprocScenario(Scenario):
    """Tasks with size, priority and SLA deadline on CPUs of different speeds."""

    renamed_fields = {"cpus": "cluster"}

    name: str = Field("custom", description="the scenario's name, in results and traces")
    description: str = Field("", description="what the scenario is, in words")
    family: Literal["multiproc"] = Field("multiproc", description="the family: multiproc")
    cluster: MultiprocClusterConfig = Field(MultiprocClusterConfig(), description="the CPUs")
    workload: TaskWorkloadConfig = Field(TaskWorkloadConfig(), description="the tasks and their arrival phases")
    faults: FaultsConfig | None = Field(
        None,
        exclude_if=lambda v: v is None,
        description="worker crashes and stragglers (docs/faults.md); none by default",
    )

    @model_validator(mode="after")
    def _fits(self) -> MultiprocScenario:
        w, speeds = self.workload, self.cluster.speeds
        check_size("tasks over all phases", sum(p.tasks for p in w.phases), "lower the phases' tasks")
        # A phase lasts about its work over the work the CPUs take per second at its utilization.
        span = sum(
            p.tasks * w.size_mean / (min(p.utilization, p.utilization_end or p.utilization) * sum(speeds))
            for p in w.phases
        )
        check_size("the last arrival", span, "raise the phases' utilization or lower tasks or size_mean",
                   limit=MAX_MAGNITUDE, unit=" s")  # fmt: skip
        longest = w.size_mean * math.exp(min(5 * (w.size_sigma + w.size_noise), 700.0)) / min(speeds)
        check_size("a task's longest likely run (size_mean x exp(5 (size_sigma + size_noise)) / slowest speed)",
                   longest, "lower size_mean, size_sigma or size_noise, or raise the slowest speed",
                   limit=MAX_MAGNITUDE, unit=" s")  # fmt: skip
        return self

    def build(self, engine, rng: np.random.Generator):
        """Draw the tasks with ``rng`` and return the model, ready to start."""
        from schedlab.families.multiproc.model import Multiprocessor
        from schedlab.families.multiproc.tasks import Phase, sample_tasks

        w = self.workload
        tasks = sample_tasks(
            rng,
            [Phase(**p.model_dump()) for p in w.phases],
            self.cluster.speeds,
            size_mean=w.size_mean,
            size_sigma=w.size_sigma,
            size_noise=w.size_noise,
            priority_probs=w.priority_probs,
            sla_slack=w.sla_slack,
        )
        model = Multiprocessor(engine, tasks, self.cluster.speeds)
        if self.faults is not None:
            from schedlab.sim.faults import fault_stream

            model.enable_faults(self.faults.spec(model.time_unit), fault_stream(rng))
        return model
