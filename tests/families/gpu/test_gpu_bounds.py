"""The gpu makespan lower bound: never above any scheduler's makespan, tight where it should be."""

from __future__ import annotations

import pytest

from schedlab.families.gpu.metrics import gpu_metrics, makespan_bounds
from schedlab.metrics.checker import check_trace
from schedlab.runs import simulate
from schedlab.scenarios import load_scenario
from schedlab.schedulers import names

hypothesis = pytest.importorskip("hypothesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


def run(tiny, scheduler, specs, **kw):
    """A TINY run whose trace names the cluster's switch cost (16 GB/s, 2 s), as a scenario run's does."""
    _, trace = tiny.run(scheduler, specs, **kw)
    trace.scenario["cluster"] = {"gpus": kw.get("gpus", 1), "pcie_gb_per_s": 16.0, "switch_overhead_s": 2.0}
    return trace


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(
    gpus=st.integers(2, 6),
    jobs=st.integers(1, 12),
    mode=st.sampled_from(["offline", "online"]),
    rate=st.sampled_from([0.02, 0.1, 1.0]),
    seed=st.integers(0, 50),
)
@pytest.mark.parametrize("scheduler", names("gpu"))
def test_no_schedule_beats_the_bound(scheduler, gpus, jobs, mode, rate, seed):
    sc = load_scenario(
        "gpu",
        {"cluster.gpus": gpus, "workload.jobs": jobs, "workload.mode": mode, "workload.arrival_rate_per_s": rate},
    )
    m = simulate(sc, scheduler, seed).metrics
    assert m["makespan_s"] >= m["makespan_lower_bound_s"] - 1e-9
    for key in ("makespan_bound_work_s", "makespan_bound_critical_path_s", "makespan_bound_gang_s"):
        assert 0.0 <= m[key] <= m["makespan_lower_bound_s"]
    assert m["makespan_gap"] >= -1e-12


def test_bound_is_tight_on_one_gpu_of_one_model(tiny):
    # One GPU, three S requests of 2 s: load S once (1 s), then 6 s of work, back to back.
    trace = run(tiny, "ray-like", [("s", {"s": 2.0}, 0)] * 3)
    b = makespan_bounds(trace)
    assert b["makespan_bound_work_s"] == pytest.approx(7.0, abs=1e-12)
    m = gpu_metrics(trace)
    assert m["makespan_lower_bound_s"] == pytest.approx(7.0, abs=1e-12)
    assert m["makespan_gap"] == pytest.approx(0.0, abs=1e-12)


def test_critical_path_bound_is_tight_for_a_chain(tiny):
    # A then B: the path is A's first placement, A, B's first placement, B. A first
    # placement costs at least min(load, GB / 16 + 2): 2.625 s for A, 2.375 s for B.
    trace = run(tiny, "eft", [("ab", {"n1": 10.0, "n2": 4.0}, 0)], gpus=2)
    b = makespan_bounds(trace)
    assert b["makespan_bound_critical_path_s"] == pytest.approx(2.625 + 10.0 + 2.375 + 4.0)
    assert b["makespan_lower_bound_s"] == b["makespan_bound_critical_path_s"]


def test_gang_bound_counts_nodes_that_never_overlap(tiny):
    # Two G nodes (2 GPUs each) on 3 GPUs cannot overlap: 2 s to load G, then 4 + 4 s.
    trace = run(tiny, "ray-like", [("g", {"g": 4.0}, 0), ("g", {"g": 4.0}, 0)], gpus=3)
    b = makespan_bounds(trace)
    assert b["makespan_bound_gang_s"] == pytest.approx(10.0)
    m = gpu_metrics(trace)
    assert m["makespan_gap"] == pytest.approx(0.0, abs=1e-12)


def test_online_arrivals_raise_the_work_bound(tiny):
    # The second S request arrives at 100 s: nothing of it can run before.
    trace = run(tiny, "ray-like", [("s", {"s": 2.0}, 0), ("s", {"s": 5.0}, 100)], online=True)
    b = makespan_bounds(trace)
    assert b["makespan_lower_bound_s"] == pytest.approx(105.0)
    assert gpu_metrics(trace)["makespan_gap"] == pytest.approx(0.0, abs=1e-12)


def test_eft_guard_is_registered_and_checked():
    assert "eft-guard" in names("gpu")
    res = simulate(load_scenario("gpu", {"workload.jobs": 12}), "eft-guard", seed=3)
    assert check_trace(res.trace).ok
    assert res.metrics["completed_jobs"] == 12
