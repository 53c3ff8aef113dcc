"""Schedulers: the interface, the registry and the built-in policies."""

from schedlab.schedulers.base import Scheduler
from schedlab.schedulers.registry import SchedulerSpec, make, names, register, spec, specs

__all__ = ["Scheduler", "SchedulerSpec", "make", "names", "register", "spec", "specs"]

_SPARK = "schedlab.schedulers.spark"
for _s in (
    SchedulerSpec(
        "fifo",
        "spark",
        f"{_SPARK}:RoundRobin",
        "jobs in arrival order, no executor cap",
        kwargs={"dynamic_partition": False},
    ),
    SchedulerSpec(
        "fair",
        "spark",
        f"{_SPARK}:RoundRobin",
        "round robin, each job capped at ceil(executors/jobs)",
        aliases=("round-robin",),
    ),
    SchedulerSpec(
        "random", "spark", f"{_SPARK}:RandomSpark", "random job with a schedulable stage, random parallelism"
    ),
    SchedulerSpec(
        "srwf",
        "spark",
        f"{_SPARK}:ShortestRemainingWorkFirst",
        "fair shares, shortest remaining work first",
        aliases=("shortest-remaining-work-first",),
    ),
    SchedulerSpec(
        "cpf",
        "spark",
        f"{_SPARK}:CriticalPathFirst",
        "fair shares, longest critical path first",
        aliases=("critical-path-first",),
    ),
):
    register(_s)
del _s
