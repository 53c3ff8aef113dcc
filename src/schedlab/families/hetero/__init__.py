"""The hetero family: four task types on Raspberry Pi and x86 nodes, FIFO queues."""

from schedlab.plugins import FamilySpec, PlotHooks
from schedlab.schedulers.registry import SchedulerSpec

_S = "schedlab.families.hetero.schedulers"

FAMILY = FamilySpec(
    name="hetero",
    summary="four task types on Raspberry Pi and x86 nodes, FIFO queues",
    scenario="schedlab.families.hetero.scenario:HeteroScenario",
    presets="schedlab.families.hetero",
    schedulers=(
        SchedulerSpec(
            "random",
            "hetero",
            "schedlab.schedulers.generic:RandomWorker",
            "each task to a uniformly random node",
        ),
        SchedulerSpec(
            "round-robin",
            "hetero",
            "schedlab.schedulers.generic:RoundRobinWorker",
            "tasks to nodes in turn, blind to durations",
            aliases=("rr",),
        ),
        SchedulerSpec(
            "greedy-sjf",
            "hetero",
            f"{_S}:GreedySJF",
            "the node that frees up first takes the task that is shortest on it",
        ),
        SchedulerSpec(
            "global-sjf",
            "hetero",
            f"{_S}:GlobalSJF",
            "min-min: repeatedly the (task, node) pair that finishes earliest",
            aliases=("min-min",),
        ),
        SchedulerSpec(
            "optimal",
            "hetero",
            f"{_S}:OptimalSumCompletion",
            "exact minimum sum of expected completion times per batch (Hungarian over queue slots)",
        ),
        SchedulerSpec(
            "ppo",
            "hetero",
            "schedlab.learn.sb3:SB3PolicyScheduler",
            "MaskablePPO allocator of unprofiled tasks: type and size, no durations (shipped; model=DIR)",
            kwargs={"model": "hetero-ppo"},
        ),
    ),
    default_scheduler="round-robin",
    metrics="schedlab.families.hetero.metrics:hetero_metrics",
    table_keys=(
        "makespan_s",
        "makespan_gap",
        "avg_jct_s",
        "p95_jct_s",
    ),
    run_keys=(
        "jobs",
        "completed_jobs",
        "avg_jct_s",
        "median_jct_s",
        "p95_jct_s",
        "makespan_s",
        "makespan_lower_bound_s",
        "makespan_gap",
        "executor_utilization",
        "decisions",
        "decision_time_mean_us",
    ),
    checks=(),
    native_format=None,
    plots=PlotHooks(
        worker="node",
        job="task",
        waiting="tasks",
        worker_labels="schedlab.families.hetero.plots:worker_labels",
    ),
    completion="job completion time",
    env="schedlab.families.hetero.env:HeteroEnv",
)
