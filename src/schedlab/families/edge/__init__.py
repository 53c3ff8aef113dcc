"""The edge family: a request stream on edge nodes whose cpu/mem/delay/load drift."""

from schedlab.plugins import FamilySpec, PlotHooks
from schedlab.schedulers.registry import SchedulerSpec

_S = "schedlab.families.edge.schedulers"

FAMILY = FamilySpec(
    name="edge",
    summary="a request stream on edge nodes whose cpu/mem/delay/load drift",
    scenario="schedlab.families.edge.scenario:EdgeScenario",
    presets="schedlab.families.edge",
    schedulers=(
        SchedulerSpec(
            "random",
            "edge",
            "schedlab.schedulers.generic:RandomWorker",
            "each request to a uniformly random node",
        ),
        SchedulerSpec(
            "round-robin",
            "edge",
            "schedlab.schedulers.generic:RoundRobinWorker",
            "requests to nodes in turn, blind to their state",
            aliases=("rr",),
        ),
        SchedulerSpec(
            "least-delay",
            "edge",
            f"{_S}:LeastDelay",
            "the node with the least delay at the latest sample",
            aliases=("least-current-delay",),
        ),
        SchedulerSpec(
            "least-loaded",
            "edge",
            f"{_S}:LeastLoaded",
            "the node with the least load at the latest sample",
            aliases=("least-load",),
        ),
        SchedulerSpec(
            "predictive",
            "edge",
            "schedlab.learn.forecast.predictive:PredictiveNode",
            "least forecast latency, with fairness, cooldown, safety and exploration knobs",
        ),
    ),
    default_scheduler="round-robin",
    metrics="schedlab.families.edge.metrics:edge_metrics",
    table_keys=(
        "latency_p50_ms",
        "latency_p95_ms",
        "deadline_miss_rate",
        "jain_fairness",
    ),
    run_keys=(
        "jobs",
        "completed_jobs",
        "latency_mean_ms",
        "latency_p50_ms",
        "latency_p95_ms",
        "latency_p99_ms",
        "deadline_miss_rate",
        "timeout_rate",
        "mean_network_delay_ms",
        "jain_fairness",
        "share_cv",
        "makespan_s",
        "decisions",
        "decision_time_mean_us",
    ),
    checks=(),
    native_format=None,
    plots=PlotHooks(
        worker="edge node",
        job="request",
        waiting="requests",
        waiting_series="schedlab.families.edge.plots:waiting_series",
        queue_samples="schedlab.families.edge.plots:queue_samples",
        figures="schedlab.families.edge.plots:figures",
    ),
    completion="request latency",
    env="schedlab.families.edge.env:EdgeEnv",
)
