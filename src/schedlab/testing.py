"""A conformance suite for schedulers, to use in your own tests.

    from schedlab.testing import check_scheduler

    def test_my_scheduler():
        check_scheduler(lambda: MyScheduler(share=0.5))

Like scikit-learn's ``check_estimator``: each check runs the scheduler on small scenarios and
raises :class:`SchedulerCheckError` naming what failed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from schedlab.errors import SchedlabError

__all__ = ["SchedulerCheckError", "check_scheduler"]


class SchedulerCheckError(SchedlabError, AssertionError):
    """A scheduler failed a conformance check."""


def check_scheduler(
    make: Callable[[], Any],
    scenario: str | Any = "spark-synthetic",
    *,
    seeds: Sequence[int] = (0, 1),
    overrides: dict[str, Any] | None = None,
) -> None:
    """Run the conformance checks on a scheduler.

    Checks, on a small version of ``scenario`` for each seed: every job finishes, the trace
    passes every trace check, and two runs with the same seed give the same trace.

    Args:
        make: Returns a fresh scheduler (called once per run).
        scenario: Preset name, YAML path or scenario object.
        seeds: Seeds to run.
        overrides: Dotted-key overrides; by default a scenario with ``workload.jobs`` is
            shrunk to 15 jobs.

    Raises:
        SchedulerCheckError: A check failed.
    """
    from schedlab.metrics.checker import check_trace
    from schedlab.runs import simulate
    from schedlab.scenarios import load_scenario

    if isinstance(scenario, str):
        if overrides is None:
            has_jobs = "jobs" in type(load_scenario(scenario).workload).model_fields
            overrides = {"workload.jobs": 15} if has_jobs else {}
        scenario = load_scenario(scenario, overrides)
    for seed in seeds:
        first = simulate(scenario, make(), seed)
        unfinished = first.metrics.get("unfinished_jobs", 0)
        if unfinished:
            raise SchedulerCheckError(f"seed {seed}: {unfinished} job(s) never finished (executors left unassigned?)")
        report = check_trace(first.trace)
        if not report.ok:
            v = report.violations[0]
            raise SchedulerCheckError(f"seed {seed}: trace violates {v.check}: {v.message}")
        again = simulate(scenario, make(), seed)
        if again.trace.digest() != first.trace.digest():
            raise SchedulerCheckError(f"seed {seed}: two runs gave different traces (unseeded randomness?)")
