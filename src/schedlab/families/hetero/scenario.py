"""The hetero family's scenario: nodes, batches of typed tasks, and duration noise."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from schedlab.families.hetero.tasks import DEFAULT_NODES, SIZE_RANGES, TASK_TYPES, X86_CPU_RANGE
from schedlab.scenarios.faults import FaultsConfig
from schedlab.scenarios.schema import Scenario, Strict, check_size

__all__ = ["HeteroScenario", "HeteroClusterConfig", "HeteroNodeConfig", "HeteroWorkload", "HeteroBatch", "HeteroTask"]

TaskType = Literal["matmul", "primes", "sort", "file_io"]


class HeteroNodeConfig(Strict):
    """One node: a Raspberry Pi 5 or 4 (the whole board), an x86 container, or a local worker."""

    name: str = Field(min_length=1, description="unique node name")
    kind: Literal["pi5", "pi4", "x86", "local"] = Field(
        description=(
            "a Raspberry Pi 5 or 4 board, an x86 container, or a worker process of the machine "
            "cluster.profile measured (local)"
        )
    )
    cpus: float | None = Field(
        None, ge=X86_CPU_RANGE[0], le=X86_CPU_RANGE[1], description="CPU limit of an x86 container (cores)"
    )
    disk: Literal["ssd", "hdd"] | None = Field(None, description="storage of an x86 container")

    @model_validator(mode="after")
    def _x86_fields(self) -> HeteroNodeConfig:
        if self.kind == "x86":
            if self.cpus is None or self.disk is None:
                raise ValueError(f"x86 node {self.name!r} needs cpus (0.5..2) and disk (ssd or hdd)")
        elif self.cpus is not None or self.disk is not None:
            raise ValueError(f"node {self.name!r}: cpus and disk apply to x86 containers only, not to a {self.kind}")
        return self


def _default_nodes() -> tuple[HeteroNodeConfig, ...]:
    return tuple(HeteroNodeConfig(name=n.name, kind=n.kind, cpus=n.cpus, disk=n.disk) for n in DEFAULT_NODES)


class HeteroClusterConfig(Strict):
    """The nodes, and how far actual durations stray from the model's expected ones."""

    nodes: tuple[HeteroNodeConfig, ...] = Field(
        default_factory=_default_nodes, min_length=1, description="the nodes, one entry each"
    )
    noise_sigma: float = Field(
        0.04,
        ge=0,
        le=1,
        description=(
            "std of the log of the mean-one log-normal factor on each duration (std of log); "
            "with a profile and no noise_sigma given, the profile's sigma"
        ),
    )
    profile: str | None = Field(
        None,
        min_length=1,
        exclude_if=lambda v: v is None,
        description=(
            "a calibrated profile (JSON, from schedlab hetero calibrate) whose fits give the local "
            "nodes' expected durations (docs/hetero-live.md)"
        ),
    )

    @model_validator(mode="after")
    def _unique_names(self) -> HeteroClusterConfig:
        names = [n.name for n in self.nodes]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"node names must be unique; repeated: {', '.join(dup)}")
        local = [n.name for n in self.nodes if n.kind == "local"]
        if local and self.profile is None:
            raise ValueError(
                f"node {local[0]!r} is local: name its calibrated profile in cluster.profile "
                "(schedlab hetero calibrate --out PROFILE.json writes one)"
            )
        if self.profile is not None and not local:
            raise ValueError("cluster.profile is for local nodes, and no node has kind: local")
        return self


class HeteroBatch(Strict):
    """A batch of random tasks arriving together."""

    at_s: float = Field(0.0, ge=0, allow_inf_nan=False, description="arrival time (s)")
    tasks: int = Field(ge=1, le=100_000, description="number of tasks (count)")


class HeteroTask(Strict):
    """One explicit task."""

    type: TaskType = Field(description="the task type: matmul, primes, sort or file_io")
    size: float = Field(
        description=(
            "size parameter within the type's range: matrix dimension (matmul), upper end of the "
            "prime search (primes), array length (sort), file operations (file_io)"
        )
    )
    at_s: float = Field(0.0, ge=0, allow_inf_nan=False, description="arrival time (s)")

    @model_validator(mode="after")
    def _size_in_range(self) -> HeteroTask:
        lo, hi = SIZE_RANGES[self.type]
        if not lo <= self.size <= hi:
            raise ValueError(f"size {self.size:g} of a {self.type} task is outside its range {lo}..{hi}")
        return self


class HeteroWorkload(Strict):
    """Random batches, explicit tasks, or both (explicit tasks get the lower ids)."""

    batches: tuple[HeteroBatch, ...] = Field(
        (HeteroBatch(at_s=0.0, tasks=36),), description="random tasks: types uniform, sizes uniform in range"
    )
    types: tuple[TaskType, ...] = Field(TASK_TYPES, min_length=1, description="task types random batches draw from")
    tasks: tuple[HeteroTask, ...] = Field((), description="explicit tasks")
    size_fraction: tuple[float, float] = Field(
        (0.0, 1.0),
        description=(
            "the part of each type's size range random tasks draw from, as fractions of it "
            "(low, high): [0, 0.6] is the lower 60%, [0.6, 1] the top 40%"
        ),
    )

    @model_validator(mode="after")
    def _some_task(self) -> HeteroWorkload:
        if not self.batches and not self.tasks:
            raise ValueError("the workload has no task: give batches, tasks or both")
        check_size("tasks (batches and explicit ones)", sum(b.tasks for b in self.batches) + len(self.tasks),
                   "lower the batches' tasks")  # fmt: skip
        lo, hi = self.size_fraction
        if not 0.0 <= lo <= hi <= 1.0:
            raise ValueError(f"size_fraction must satisfy 0 <= low <= high <= 1, got [{lo:g}, {hi:g}]")
        return self


class HeteroScenario(Scenario):
    """Batches of typed tasks on Raspberry Pi and x86 nodes of different speed per task type."""

    name: str = Field("custom", description="the scenario's name, in results and traces")
    description: str = Field("", description="what the scenario is, in words")
    family: Literal["hetero"] = Field("hetero", description="the family: hetero")
    cluster: HeteroClusterConfig = Field(HeteroClusterConfig(), description="the nodes and the duration noise")
    workload: HeteroWorkload = Field(HeteroWorkload(), description="the batches and explicit tasks")
    faults: FaultsConfig | None = Field(
        None,
        exclude_if=lambda v: v is None,
        description="worker crashes and stragglers (docs/faults.md); none by default",
    )

    def build(self, engine, rng: np.random.Generator):
        """Draw the workload, then the duration noise, with ``rng`` and return the model."""
        from schedlab.families.hetero.model import HeteroCluster
        from schedlab.families.hetero.tasks import Node, Task, draw_durations, expected_durations, sample_tasks

        w = self.workload
        tasks = [Task(t.type, t.size, t.at_s) for t in w.tasks]
        tasks += sample_tasks(rng, [(b.at_s, b.tasks) for b in w.batches], w.types, w.size_fraction)
        nodes = [Node(n.name, n.kind, n.cpus, n.disk) for n in self.cluster.nodes]
        profile, sigma = None, self.cluster.noise_sigma
        if self.cluster.profile is not None:
            from schedlab.families.hetero.live.profile import load_profile

            profile = load_profile(self.cluster.profile)
            if "noise_sigma" not in self.cluster.model_fields_set:
                sigma = profile.sigma
        expected = expected_durations(nodes, tasks, profile)
        actual = draw_durations(rng, expected, sigma)
        model = HeteroCluster(engine, nodes, tasks, actual, expected)
        model.profile = profile
        if self.faults is not None:
            from schedlab.sim.faults import fault_stream

            model.enable_faults(self.faults.spec(model.time_unit), fault_stream(rng))
        return model
