"""Property: under any fault schedule, every family's every baseline loses no task and passes the checker.

Hypothesis draws a small scenario of the family (a few workers, a few dozen tasks) and a fault
schedule: crashes at given times on given or drawn workers, a crash rate, a repair time or
none, stragglers, executors lost during moves (spark) and a charged decision time. The run must
complete every job, each lost attempt must be followed by a re-execution, and the trace must
pass every check (one successful run per task, nothing on a dead worker, failures and failed
attempts one to one). Examples are derandomized, so a run of the suite is reproducible.
"""

from __future__ import annotations

import pytest

hypothesis = pytest.importorskip("hypothesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from schedlab import plugins  # noqa: E402
from schedlab.metrics.checker import check_trace  # noqa: E402
from schedlab.metrics.faults import fault_summary  # noqa: E402
from schedlab.runs import simulate  # noqa: E402
from schedlab.scenarios import load_scenario  # noqa: E402

FAMILIES = ("spark", "gpu", "edge", "multiproc", "hetero")
HETERO_NODES = (
    {"name": "pi5", "kind": "pi5"},
    {"name": "pi4-a", "kind": "pi4"},
    {"name": "x86-2cpu-ssd", "kind": "x86", "cpus": 2, "disk": "ssd"},
    {"name": "x86-1cpu-hdd", "kind": "x86", "cpus": 1, "disk": "hdd"},
    {"name": "x86-0.5cpu-ssd", "kind": "x86", "cpus": 0.5, "disk": "ssd"},
)
# Per family: how long a small run lasts (s), crash rates (per s) and repair times (s) that
# give it a few faults.
SCALE = {
    "spark": (150.0, (0.0, 0.005, 0.03), (None, 1.0, 20.0)),
    "gpu": (300.0, (0.0, 0.005, 0.03), (None, 5.0, 60.0)),
    "edge": (0.5, (0.0, 2.0, 20.0), (None, 0.01, 0.1)),
    "multiproc": (40.0, (0.0, 0.02, 0.2), (None, 0.5, 5.0)),
    "hetero": (60.0, (0.0, 0.01, 0.1), (None, 2.0, 20.0)),
}


# rollout looks ahead on copies of the cluster, which are never made with faults: it refuses
# them with one clear error (tests/families/spark/test_rollout.py).
REFUSE_FAULTS = {("spark", "rollout")}


def baselines(family: str) -> list[str]:
    return [
        s.name
        for s in plugins.get(family).schedulers
        if not s.entry_point.startswith("schedlab.learn") and (family, s.name) not in REFUSE_FAULTS
    ]


CASES = [(f, s) for f in FAMILIES for s in baselines(f)]


@st.composite
def workload(draw, family: str) -> tuple[str, dict, int]:
    """A small scenario of ``family``: preset, overrides, number of workers."""
    if family == "spark":
        n = draw(st.integers(2, 6))
        over = {
            "cluster.executors": n,
            "cluster.moving_delay_ms": draw(st.sampled_from([0.0, 500.0, 2000.0])),
            "workload.jobs": draw(st.integers(1, 5)),
            "workload.arrival_rate_per_ms": draw(st.sampled_from([4e-5, 2e-4])),
        }
        return "spark-synthetic", over, n
    if family == "gpu":
        n = draw(st.integers(2, 5))
        over = {
            "cluster.gpus": n,
            "workload.jobs": draw(st.integers(1, 8)),
            "workload.mode": draw(st.sampled_from(["offline", "online"])),
        }
        return "gpu", over, n
    if family == "edge":
        n = draw(st.integers(2, 5))
        return "edge", {"cluster.nodes": n, "workload.jobs": draw(st.integers(5, 120))}, n
    if family == "multiproc":
        speeds = draw(st.lists(st.sampled_from([0.5, 1.0, 1.5, 2.0, 3.0]), min_size=2, max_size=5))
        phase = {"kind": "stable", "tasks": draw(st.integers(5, 50)), "utilization": draw(st.floats(0.3, 0.95))}
        return "multiproc", {"cluster.speeds": speeds, "workload.phases": [phase]}, len(speeds)
    nodes = draw(st.lists(st.sampled_from(HETERO_NODES), min_size=2, max_size=5, unique_by=lambda d: d["name"]))
    batches = draw(
        st.lists(
            st.fixed_dictionaries({"at_s": st.sampled_from([0.0, 5.0, 20.0]), "tasks": st.integers(1, 10)}),
            min_size=1,
            max_size=3,
        )
    )
    return "hetero", {"cluster.nodes": nodes, "workload.batches": batches}, len(nodes)


@st.composite
def faults(draw, family: str, workers: int) -> dict:
    """A fault schedule for a run of ``family`` on ``workers`` workers."""
    horizon, rates, repairs = SCALE[family]
    at = draw(st.lists(st.floats(0.0, horizon), max_size=3))
    crash: dict = {
        "at_s": sorted(at),
        "rate_per_s": draw(st.sampled_from(rates)),
        "repair_s": draw(st.sampled_from(repairs)),
    }
    if at and draw(st.booleans()):
        crash["workers"] = draw(st.lists(st.integers(0, workers - 1), min_size=len(at), max_size=len(at)))
    out: dict = {"crash": crash}
    if draw(st.booleans()):
        out["stragglers"] = {"probability": draw(st.floats(0.0, 0.6)), "factor": draw(st.floats(1.0, 4.0))}
    if family == "spark" and draw(st.booleans()):
        out["lost_on_move"] = draw(st.floats(0.0, 0.5))
    return out


@st.composite
def runs(draw, family: str) -> tuple[str, dict, int]:
    preset, over, workers = draw(workload(family))
    over["faults"] = draw(faults(family, workers))
    if draw(st.integers(0, 4)) == 0:
        over["decision_time"] = "fixed:0.001" if family == "edge" else "fixed:0.1"
    return preset, over, draw(st.integers(0, 2**16))


@pytest.mark.parametrize("family, scheduler", CASES, ids=[f"{f}-{s}" for f, s in CASES])
def test_no_task_is_lost_and_the_checker_passes(family, scheduler):
    @settings(
        max_examples=10,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(case=runs(family))
    def check(case):
        preset, over, seed = case
        trace = simulate(load_scenario(preset, over), scheduler, seed).trace
        report = check_trace(trace)
        assert report.ok, report.violations[:3]
        assert all(c is not None for c in trace.jobs["completion"]), "a job never completed"
        counts = fault_summary(trace)
        assert counts["reexecutions"] == counts["lost_tasks"] == sum(trace.tasks["failed"])

    check()


def test_every_family_and_baseline_is_covered():
    assert {f for f, _ in CASES} == set(FAMILIES) == {s.name for s in plugins.specs()} & set(FAMILIES)
    assert len(CASES) >= 20
