"""The gpu family: AI workflows (DAGs of model calls) on GPUs, gangs, model switch cost."""

from schedlab.plugins import FamilySpec, PlotHooks
from schedlab.schedulers.registry import SchedulerSpec

_S = "schedlab.families.gpu.schedulers"

FAMILY = FamilySpec(
    name="gpu",
    summary="AI workflows (DAGs of model calls) on GPUs, gangs, model switch cost",
    scenario="schedlab.families.gpu.scenario:GpuScenario",
    presets="schedlab.families.gpu",
    schedulers=(
        SchedulerSpec(
            "ray-like",
            "gpu",
            f"{_S}:RayLike",
            "GSwarm's baseline: FIFO ready queue, model affinity, first free consecutive GPUs",
            aliases=("ray", "baseline"),
        ),
        SchedulerSpec(
            "eft",
            "gpu",
            f"{_S}:EarliestFinish",
            "earliest finish time with switch costs, gang reservations; shortest request first",
            aliases=("eft-srpt", "earliest-finish-time"),
        ),
        SchedulerSpec(
            "eft-fifo",
            "gpu",
            f"{_S}:EarliestFinish",
            "earliest finish time with switch costs, gang reservations; ready-queue order",
            kwargs={"order": "fifo"},
        ),
        SchedulerSpec(
            "eft-guard",
            "gpu",
            f"{_S}:EftGuard",
            "eft with a switch budget (0.3% of placed work) that guards the makespan",
        ),
        SchedulerSpec(
            "eft-batch",
            "gpu",
            f"{_S}:EftBatch",
            "eft that switches a model in once its waiting outweighs the switch's cost to all",
        ),
        SchedulerSpec(
            "eft-window",
            "gpu",
            f"{_S}:EftBatch",
            "eft-batch that, while a model needs every GPU, runs only the first 2.5 sqrt(R) requests",
            kwargs={"window": 2.5},
        ),
    ),
    default_scheduler="ray-like",
    metrics="schedlab.families.gpu.metrics:gpu_metrics",
    table_keys=(
        "avg_jct_s",
        "p99_jct_s",
        "makespan_s",
        "switch_time_s",
    ),
    run_keys=(
        "jobs",
        "completed_jobs",
        "avg_jct_s",
        "median_jct_s",
        "p99_jct_s",
        "makespan_s",
        "makespan_lower_bound_s",
        "makespan_gap",
        "makespan_bound_work_s",
        "makespan_bound_critical_path_s",
        "makespan_bound_gang_s",
        "avg_wait_s",
        "p99_wait_s",
        "avg_node_response_s",
        "tasks",
        "model_switches",
        "switch_time_s",
        "model_loads",
        "load_time_s",
        "gpu_utilization",
        "decisions",
        "decision_time_mean_us",
    ),
    checks=("schedlab.families.gpu.checks:check_gangs",),
    native_format=(
        "schedlab.families.gpu.gswarm:execution_log",
        "schedlab.families.gpu.gswarm:trace_from_execution_log",
    ),
    plots=PlotHooks(
        worker="GPU",
        job="request",
        waiting="nodes",
        waiting_series="schedlab.families.gpu.plots:waiting_series",
        job_names="schedlab.families.gpu.plots:job_names",
    ),
    completion="job completion time",
    env="schedlab.families.gpu.env:GpuEnv",
)
