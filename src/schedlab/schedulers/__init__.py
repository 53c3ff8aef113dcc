"""Schedulers: the interface, the registry and the built-in policies."""

from schedlab.schedulers.base import Scheduler
from schedlab.schedulers.registry import SchedulerSpec, default_name, make, names, register, spec, specs

__all__ = ["Scheduler", "SchedulerSpec", "default_name", "make", "names", "register", "spec", "specs"]

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
        default=True,
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

_HETERO = "schedlab.schedulers.hetero"
for _s in (
    SchedulerSpec("random", "hetero", f"{_HETERO}:RandomNode", "each task to a uniformly random node"),
    SchedulerSpec(
        "round-robin",
        "hetero",
        f"{_HETERO}:RoundRobinNodes",
        "tasks to nodes in turn, blind to durations",
        aliases=("rr",),
        default=True,
    ),
    SchedulerSpec(
        "greedy-sjf",
        "hetero",
        f"{_HETERO}:GreedySJF",
        "the node that frees up first takes the task that is shortest on it",
    ),
    SchedulerSpec(
        "global-sjf",
        "hetero",
        f"{_HETERO}:GlobalSJF",
        "min-min: repeatedly the (task, node) pair that finishes earliest",
        aliases=("min-min",),
    ),
    SchedulerSpec(
        "optimal",
        "hetero",
        f"{_HETERO}:OptimalSumCompletion",
        "exact minimum sum of expected completion times per batch (Hungarian over queue slots)",
    ),
):
    register(_s)
del _s

_EDGE = "schedlab.schedulers.edge"
for _s in (
    SchedulerSpec("random", "edge", f"{_EDGE}:RandomNode", "each request to a uniformly random node"),
    SchedulerSpec(
        "round-robin",
        "edge",
        f"{_EDGE}:RoundRobinNode",
        "requests to nodes in turn, blind to their state",
        aliases=("rr",),
        default=True,
    ),
    SchedulerSpec(
        "least-delay",
        "edge",
        f"{_EDGE}:LeastDelay",
        "the node with the least delay at the latest sample",
        aliases=("least-current-delay",),
    ),
    SchedulerSpec(
        "least-loaded",
        "edge",
        f"{_EDGE}:LeastLoaded",
        "the node with the least load at the latest sample",
        aliases=("least-load",),
    ),
    SchedulerSpec(
        "predictive",
        "edge",
        "schedlab.schedulers.edge_predictive:PredictiveNode",
        "least forecast latency, with fairness, cooldown, safety and exploration knobs",
    ),
):
    register(_s)
del _s

_MULTIPROC = "schedlab.schedulers.multiproc"
for _s in (
    SchedulerSpec(
        "round-robin",
        "multiproc",
        f"{_MULTIPROC}:RoundRobinCpu",
        "tasks to CPUs in turn, blind to speeds and queues",
        aliases=("rr",),
        default=True,
    ),
    SchedulerSpec("random", "multiproc", f"{_MULTIPROC}:RandomCpu", "each task to a uniformly random CPU"),
    SchedulerSpec(
        "lwr",
        "multiproc",
        f"{_MULTIPROC}:LeastWorkRemaining",
        "least estimated work remaining over speed (declared sizes)",
        aliases=("least-work-remaining",),
    ),
    SchedulerSpec(
        "lwr-drift",
        "multiproc",
        f"{_MULTIPROC}:DriftAwareLWR",
        "lwr, or a linear forecast of each backlog while a trend is detected",
        aliases=("drift-aware-lwr",),
    ),
    SchedulerSpec(
        "oracle",
        "multiproc",
        f"{_MULTIPROC}:Oracle",
        "least true completion time (privileged: knows true work)",
    ),
):
    register(_s)
del _s

_GPU = "schedlab.schedulers.gpu"
for _s in (
    SchedulerSpec(
        "ray-like",
        "gpu",
        f"{_GPU}:RayLike",
        "GSwarm's baseline: FIFO ready queue, model affinity, first free consecutive GPUs",
        aliases=("ray", "baseline"),
        default=True,
    ),
    SchedulerSpec(
        "eft",
        "gpu",
        f"{_GPU}:EarliestFinish",
        "earliest finish time with switch costs, gang reservations; shortest request first",
        aliases=("eft-srpt", "earliest-finish-time"),
    ),
    SchedulerSpec(
        "eft-fifo",
        "gpu",
        f"{_GPU}:EarliestFinish",
        "earliest finish time with switch costs, gang reservations; ready-queue order",
        kwargs={"order": "fifo"},
    ),
):
    register(_s)
del _s
