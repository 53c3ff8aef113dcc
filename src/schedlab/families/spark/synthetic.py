"""Random layered DAG jobs, so that everything runs with no data at all.

Each job draws a number of stages; stage ``i > 0`` takes every earlier stage as a parent with
probability ``edge_prob`` (at least one), which yields layered DAGs with joins and forks. A
stage's mean task duration is log-normal around ``task_ms``; its first-wave durations spread
around that mean, rest-wave tasks run ``rest_factor`` times as long (a warm executor) and fresh
ones ``fresh_factor`` times (an executor that just moved jobs).
"""

from __future__ import annotations

import numpy as np

from schedlab.families.spark.dag import EXECUTOR_LEVELS, JobTemplate, StageTemplate, resolve_profile

__all__ = ["sample_synthetic_jobs"]

_SAMPLES = 16  # durations profiled per wave and stage


def sample_synthetic_jobs(
    rng: np.random.Generator,
    num_jobs: int,
    arrival_rate_per_ms: float,
    *,
    min_stages: int,
    max_stages: int,
    min_tasks: int,
    max_tasks: int,
    task_ms: float,
    task_sigma: float,
    edge_prob: float,
    rest_factor: float,
    fresh_factor: float,
) -> list[tuple[float, JobTemplate]]:
    """Draw ``num_jobs`` jobs with Poisson arrivals (rate per ms), the first at t=0."""
    mean_gap = 1.0 / arrival_rate_per_ms
    t = 0.0
    jobs = []
    key = EXECUTOR_LEVELS[-1]  # one profiled key: every executor count maps to it
    for j in range(num_jobs):
        n = int(rng.integers(min_stages, max_stages + 1))
        stages = []
        for i in range(n):
            if i == 0:
                parents: tuple[int, ...] = ()
            else:
                picked = np.flatnonzero(rng.random(i) < edge_prob)
                if picked.size == 0:
                    picked = np.array([rng.integers(i)])
                parents = tuple(int(p) for p in picked)
            tasks = int(rng.integers(min_tasks, max_tasks + 1))
            mean = task_ms * float(rng.lognormal(0.0, task_sigma))
            first = np.maximum(1, rng.normal(mean, 0.2 * mean, _SAMPLES)).round().astype(int).tolist()
            rest = [max(1, round(d * rest_factor)) for d in first]
            fresh = [max(1, round(d * fresh_factor)) for d in first]
            table, rough = resolve_profile({key: first}, {key: rest}, {key: fresh})
            stages.append(StageTemplate(i, parents, tasks, rough, table))
        jobs.append((t, JobTemplate(name=f"synthetic-{j}", stages=tuple(stages))))
        t += float(rng.exponential(mean_gap))
    return jobs
