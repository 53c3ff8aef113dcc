"""The multiproc family: tasks with size, priority and SLA on CPUs of different speeds, FIFO queues."""

from schedlab.plugins import FamilySpec, PlotHooks
from schedlab.schedulers.registry import SchedulerSpec

_S = "schedlab.families.multiproc.schedulers"

FAMILY = FamilySpec(
    name="multiproc",
    summary="tasks with size, priority and SLA on CPUs of different speeds, FIFO queues",
    scenario="schedlab.families.multiproc.scenario:MultiprocScenario",
    presets="schedlab.families.multiproc",
    schedulers=(
        SchedulerSpec(
            "round-robin",
            "multiproc",
            "schedlab.schedulers.generic:RoundRobinWorker",
            "tasks to CPUs in turn, blind to speeds and queues",
            aliases=("rr",),
        ),
        SchedulerSpec(
            "random",
            "multiproc",
            "schedlab.schedulers.generic:RandomWorker",
            "each task to a uniformly random CPU",
        ),
        SchedulerSpec(
            "lwr",
            "multiproc",
            f"{_S}:LeastWorkRemaining",
            "least estimated work remaining over speed (declared sizes)",
            aliases=("least-work-remaining",),
        ),
        SchedulerSpec(
            "lwr-drift",
            "multiproc",
            f"{_S}:DriftAwareLWR",
            "lwr, or a linear forecast of each backlog while a trend is detected",
            aliases=("drift-aware-lwr",),
        ),
        SchedulerSpec(
            "slack-fit",
            "multiproc",
            f"{_S}:SlackFit",
            "the slowest CPU still meeting the deadline with a margin, else lwr",
        ),
        SchedulerSpec(
            "slack-fit-triage",
            "multiproc",
            f"{_S}:SlackFit",
            "slack-fit; a task late on every CPU goes to the slowest",
            kwargs={"triage": True, "margin_s": 0.75},
        ),
        SchedulerSpec(
            "edf-pull",
            "multiproc",
            f"{_S}:EarliestDeadlinePull",
            "tasks wait; idle CPUs, fastest first, take the earliest deadlines, late tasks last",
            aliases=("earliest-deadline-pull",),
        ),
        SchedulerSpec(
            "gnn-cost",
            "multiproc",
            "schedlab.learn.gnn_cost.scheduler:GnnCostScheduler",
            "least completion time predicted by a cost-regression GNN (shipped weights; model=DIR)",
        ),
        SchedulerSpec(
            "ppo",
            "multiproc",
            "schedlab.learn.sb3:SB3PolicyScheduler",
            "MaskablePPO, cloned from slack-fit-triage then trained (shipped weights; model=DIR)",
            kwargs={"model": "multiproc-ppo"},
        ),
        SchedulerSpec(
            "dqn",
            "multiproc",
            "schedlab.learn.sb3:SB3PolicyScheduler",
            "DQN, cloned from slack-fit-triage then trained (shipped weights; model=DIR)",
            kwargs={"model": "multiproc-dqn"},
        ),
        SchedulerSpec(
            "oracle",
            "multiproc",
            f"{_S}:Oracle",
            "least true completion time (privileged: knows true work)",
        ),
    ),
    default_scheduler="round-robin",
    metrics="schedlab.families.multiproc.metrics:multiproc_metrics",
    table_keys=(
        "avg_completion_time_s",
        "p95_completion_time_s",
        "sla_violation_rate",
        "oracle_agreement",
    ),
    run_keys=(
        "jobs",
        "completed_jobs",
        "avg_completion_time_s",
        "p95_completion_time_s",
        "sla_violation_rate",
        "oracle_agreement",
        "mean_oracle_regret_s",
        "utilization_min",
        "utilization_max",
        "makespan_s",
        "decisions",
        "decision_time_mean_us",
    ),
    checks=(),
    native_format=None,
    plots=PlotHooks(
        worker="CPU",
        job="task",
        waiting="tasks",
        gantt_ylabel="CPU (speed)",
        worker_labels="schedlab.families.multiproc.plots:worker_labels",
        waiting_series="schedlab.families.multiproc.plots:waiting_series",
    ),
    completion="job completion time",
    env="schedlab.families.multiproc.env:MultiprocEnv",
)
