"""Typed scenario configs. YAML is only their serialisation; unknown keys are errors.

A scenario names its family, its cluster and its workload, and knows how to build the model the
engine runs (:meth:`SparkScenario.build`), so the engine itself never branches on the family.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import numpy as np
from pydantic import Field, model_validator

from schedlab.families.spark.tpch import TPCH_SIZES
from schedlab.scenarios.faults import SparkFaultsConfig
from schedlab.scenarios.schema import MAX_MAGNITUDE, Scenario, Strict, check_size

__all__ = ["SparkScenario", "SparkClusterConfig", "TpchWorkload", "SyntheticWorkload"]


class SparkClusterConfig(Strict):
    """Executors of a Spark cluster."""

    executors: int = Field(50, ge=1, le=10_000, description="number of executors (count)")
    moving_delay_ms: float = Field(2000.0, ge=0, description="time (ms) for an executor to move to another job")
    warmup_delay_ms: float = Field(
        1000.0, ge=0, description="extra time (ms) of a first task without fresh profile data"
    )


class TpchWorkload(Strict):
    """TPC-H queries at random sizes with Poisson arrivals (Decima's setup)."""

    kind: Literal["tpch"] = Field("tpch", description="the workload: TPC-H query profiles")
    jobs: int = Field(200, ge=1, description="number of jobs (count)")
    arrival_rate_per_ms: float = Field(4e-5, gt=0, description="Poisson arrival rate (jobs per ms)")
    tpch_dir: str | None = Field(None, description="profile directory (default: $SCHEDLAB_TPCH_DIR)")
    sizes: tuple[Literal["2g", "5g", "10g", "20g", "50g", "80g", "100g"], ...] = Field(
        TPCH_SIZES, min_length=1, description="TPC-H data sizes to draw from, uniformly (GB of input)"
    )
    queries: tuple[Annotated[int, Field(ge=1, le=22)], ...] | None = Field(
        None, min_length=1, description="query numbers (default: all 22)"
    )

    @model_validator(mode="after")
    def _fits(self) -> TpchWorkload:
        # A TPC-H job has up to a few hundred tasks; the profiles decide, so only jobs is bounded here.
        check_size("jobs", self.jobs, "lower jobs", limit=100_000)
        check_size("the last arrival (jobs / arrival_rate_per_ms)", self.jobs / self.arrival_rate_per_ms,
                   "raise arrival_rate_per_ms or lower jobs", limit=MAX_MAGNITUDE, unit=" ms")  # fmt: skip
        return self


class SyntheticWorkload(Strict):
    """Random layered DAG jobs; needs no data."""

    kind: Literal["synthetic"] = Field("synthetic", description="the workload: random layered DAG jobs")
    jobs: int = Field(100, ge=1, description="number of jobs (count)")
    arrival_rate_per_ms: float = Field(4e-5, gt=0, description="Poisson arrival rate (jobs per ms)")
    min_stages: int = Field(2, ge=1, description="fewest stages of a job (count)")
    max_stages: int = Field(10, ge=1, description="most stages of a job (count)")
    min_tasks: int = Field(1, ge=1, description="fewest tasks of a stage (count)")
    max_tasks: int = Field(150, ge=1, description="most tasks of a stage (count)")
    task_ms: float = Field(1500.0, gt=0, description="median of a stage's mean task duration (ms)")
    task_sigma: float = Field(0.8, ge=0, description="log-normal spread of stage durations (std of log)")
    edge_prob: float = Field(0.3, ge=0, le=1, description="probability of each possible parent edge")
    rest_factor: float = Field(0.6, gt=0, description="rest-wave duration relative to first wave (ratio)")
    fresh_factor: float = Field(1.3, gt=0, description="fresh-executor duration relative to first wave (ratio)")

    @model_validator(mode="after")
    def _ranges(self) -> SyntheticWorkload:
        if self.min_stages > self.max_stages:
            raise ValueError(f"min_stages ({self.min_stages}) exceeds max_stages ({self.max_stages})")
        if self.min_tasks > self.max_tasks:
            raise ValueError(f"min_tasks ({self.min_tasks}) exceeds max_tasks ({self.max_tasks})")
        stages = (self.min_stages + self.max_stages) / 2
        check_size("stages per job (max_stages)", self.max_stages, "lower max_stages", limit=10_000)
        check_size("jobs x stages", self.jobs * stages, "lower jobs or max_stages")
        check_size("jobs x stages x tasks per stage", self.jobs * stages * (self.min_tasks + self.max_tasks) / 2,
                   "lower jobs, max_stages or max_tasks")  # fmt: skip
        check_size("the last arrival (jobs / arrival_rate_per_ms)", self.jobs / self.arrival_rate_per_ms,
                   "raise arrival_rate_per_ms or lower jobs", limit=MAX_MAGNITUDE, unit=" ms")  # fmt: skip
        # A stage's durations are drawn log-normal around task_ms and kept as whole milliseconds.
        factor = max(1.0, self.rest_factor, self.fresh_factor)
        longest = self.task_ms * math.exp(min(5 * self.task_sigma, 700.0)) * factor
        check_size("a task's longest likely duration (task_ms x exp(5 task_sigma) x factor)", longest,
                   "lower task_ms, task_sigma, rest_factor or fresh_factor", limit=MAX_MAGNITUDE,
                   unit=" ms")  # fmt: skip
        return self


class SparkScenario(Scenario):
    """Spark DAG jobs on executors."""

    name: str = Field("custom", description="the scenario's name, in results and traces")
    description: str = Field("", description="what the scenario is, in words")
    family: Literal["spark"] = Field("spark", description="the family: spark")
    cluster: SparkClusterConfig = Field(SparkClusterConfig(), description="the executors")
    workload: Annotated[TpchWorkload | SyntheticWorkload, Field(discriminator="kind")] = Field(
        SyntheticWorkload(), description="the jobs: tpch or synthetic (by kind)"
    )
    faults: SparkFaultsConfig | None = Field(
        None,
        exclude_if=lambda v: v is None,
        description="executor crashes, losses during moves and stragglers (docs/faults.md); none by default",
    )

    def build(self, engine, rng: np.random.Generator):
        """Sample the workload with ``rng`` and return the model, ready to start."""
        from schedlab.families.spark.model import SparkCluster

        w = self.workload
        if isinstance(w, TpchWorkload):
            from schedlab.families.spark.tpch import find_tpch_dir, load_tpch, sample_tpch_jobs

            templates = load_tpch(find_tpch_dir(w.tpch_dir), tuple(w.sizes))
            jobs = sample_tpch_jobs(rng, templates, w.jobs, w.arrival_rate_per_ms, w.queries)
        else:
            from schedlab.families.spark.synthetic import sample_synthetic_jobs

            params = w.model_dump(exclude={"kind", "jobs", "arrival_rate_per_ms"})
            jobs = sample_synthetic_jobs(rng, w.jobs, w.arrival_rate_per_ms, **params)
        c = self.cluster
        model = SparkCluster(
            engine,
            jobs,
            num_executors=c.executors,
            moving_delay_ms=c.moving_delay_ms,
            warmup_delay_ms=c.warmup_delay_ms,
            rng=rng,
        )
        if self.faults is not None:
            from schedlab.sim.faults import fault_stream

            model.enable_faults(self.faults.spec(model.time_unit), fault_stream(rng))
        return model
