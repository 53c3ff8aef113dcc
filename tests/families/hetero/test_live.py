"""The hetero family for real: work types, calibration, profiles, live runs (local pool and Ray).

Nothing here asserts wall-clock speed: only that work runs, that sizes scale the work, that
profiles fit and load, and that live traces are possible schedules of what the scheduler chose.
"""

import json
import multiprocessing

import numpy as np
import pytest
from typer.testing import CliRunner

from schedlab.cli import app
from schedlab.errors import ConfigError, DataError
from schedlab.families.hetero.live.profile import HeteroProfile, fit_type, load_profile, write_profile
from schedlab.families.hetero.live.work import DEFAULT_SIZE_SCALE, do_work, real_size, timed_work
from schedlab.families.hetero.tasks import REFERENCE_SIZE, SIZE_RANGES, TASK_TYPES, _growth
from schedlab.metrics.checker import check_trace
from schedlab.runs import simulate
from schedlab.runs.traces import load_trace
from schedlab.scenarios import parse_scenario

runner = CliRunner()

#: Work sizes per unit of task size that keep every task of a range well under 0.2 s.
TINY_SCALE = {"matmul": 0.02, "primes": 0.01, "sort": 0.002, "file_io": 0.0005}


def _one_line(r, field_or_text: str) -> str:
    assert r.exit_code == 2, r.output
    lines = r.output.strip().split("\n")
    assert len(lines) == 1 and lines[0].startswith("schedlab: error: "), r.output
    assert field_or_text in lines[0] and "Traceback" not in r.output
    return lines[0]


def _synthetic_profile(scale=TINY_SCALE) -> HeteroProfile:
    """A profile fitted to exact growth-law times: start-up 1 ms, 50 ms of work at the top."""
    fits = {}
    for t in TASK_TYPES:
        lo, hi = SIZE_RANGES[t]
        sizes = np.linspace(lo, hi, 5).round()
        g = [_growth(t, real_size(t, n, scale[t])) / _growth(t, real_size(t, hi, scale[t])) for n in sizes]
        fits[t] = fit_type(t, sizes, [0.001 + 0.05 * x for x in g], scale[t])
    return HeteroProfile(sigma=0.05, types=fits)


@pytest.fixture(scope="module")
def tiny_profile(tmp_path_factory):
    path = tmp_path_factory.mktemp("profile") / "tiny.json"
    write_profile(_synthetic_profile(), path)
    return path


def _scenario(profile, nodes=2, tasks=None):
    tasks = tasks or [
        {"type": "matmul", "size": 5000, "at_s": 0.0},
        {"type": "primes", "size": 4_800_000, "at_s": 0.0},
        {"type": "sort", "size": 10_000_000, "at_s": 0.0},
        {"type": "file_io", "size": 2_000_000, "at_s": 0.05},
        {"type": "matmul", "size": 250, "at_s": 0.05},
    ]
    return {
        "family": "hetero",
        "name": "live-tiny",
        "cluster": {"profile": str(profile), "nodes": [{"name": f"w{j}", "kind": "local"} for j in range(nodes)]},
        "workload": {"batches": [], "tasks": tasks},
    }


def _write_yaml(tmp_path, doc) -> str:
    path = tmp_path / "s.yaml"
    path.write_text(json.dumps(doc))  # JSON is YAML
    return str(path)


# -- work ------------------------------------------------------------------------------------


def test_each_work_type_runs_and_checks_its_result(tmp_path):
    assert do_work("primes", 100) == 25
    assert do_work("primes", 16) == 6
    assert np.isfinite(do_work("matmul", 8)) and np.isfinite(do_work("sort", 50))
    from schedlab.families.hetero.live.work import FILE_BYTES, file_io

    assert file_io(30, folder=str(tmp_path)) == 10 * FILE_BYTES
    assert list(tmp_path.iterdir()) == []  # cleaned up
    for t in TASK_TYPES:
        assert timed_work(t, real_size(t, SIZE_RANGES[t][0], TINY_SCALE[t])) > 0


def test_sizes_scale_the_work():
    for t in TASK_TYPES:
        lo, hi = SIZE_RANGES[t]
        small, large = real_size(t, lo, DEFAULT_SIZE_SCALE[t]), real_size(t, hi, DEFAULT_SIZE_SCALE[t])
        assert small < large and large == round(hi * DEFAULT_SIZE_SCALE[t])
        assert real_size(t, lo, 1e-9) >= 1  # never below the smallest work
    with pytest.raises(ValueError, match="unknown task type"):
        do_work("fft", 3)
    with pytest.raises(ValueError, match="integer >= 1"):
        do_work("sort", 0)


def test_task_command_prints_measured_and_expected_times(tiny_profile):
    r = runner.invoke(app, ["hetero", "task", "sort", "500000", "--scale", "0.001", "--node", "pi5"])
    assert r.exit_code == 0, r.output
    assert "work size 500" in r.output and "s measured" in r.output and "expected on pi5" in r.output
    r = runner.invoke(app, ["hetero", "task", "file_io", "100000", "--profile", str(tiny_profile)])
    assert r.exit_code == 0, r.output
    assert "work size 50" in r.output and "expected on a local worker" in r.output
    _one_line(runner.invoke(app, ["hetero", "task", "sort", "12"]), "SIZE: size 12.0 of a sort task is outside")
    _one_line(runner.invoke(app, ["hetero", "task", "fft", "12"]), "TYPE: unknown task type 'fft'")


# -- profiles --------------------------------------------------------------------------------


def test_fit_recovers_the_growth_law_and_falls_back_to_a_power_law():
    sizes = np.linspace(250, 5000, 6)
    exact = [0.01 + 2.0 * (n / 5000) ** 3 for n in sizes]
    fit = fit_type("matmul", sizes, exact, 1.0)
    assert fit.law == "growth" and fit.growth.r2 == pytest.approx(1.0)
    assert fit.startup_s == pytest.approx(0.01, rel=1e-4) and fit.work_s == pytest.approx(2.0, rel=1e-4)
    linear = [0.01 + 2.0 * n / 5000 for n in sizes]  # n, not n^3: the growth law misses
    fit = fit_type("matmul", sizes, linear, 1.0)
    assert fit.law == "power" and fit.exponent == pytest.approx(1.0)
    assert fit.growth.rel_error_median > 0.1 and fit.power.rel_error_median < 1e-3


def test_calibrate_on_tiny_sizes_writes_a_valid_profile(tmp_path):
    out = tmp_path / "p.json"
    scale = ",".join(f"{t}={v}" for t, v in TINY_SCALE.items())
    r = runner.invoke(
        app,
        ["hetero", "calibrate", "--out", str(out), "--sizes", "0.05,0.5,1", "--repeats", "1", "--workers", "1",
         "--scale", scale],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    prof = load_profile(out)
    assert set(prof.types) == set(TASK_TYPES) and prof.workers == 1
    for t, p in prof.types.items():
        assert p.size_scale == TINY_SCALE[t] and len(p.samples) == 3
        assert p.growth.r2 is not None and p.power is not None
        assert prof.expected_s(t, REFERENCE_SIZE[t]) > 0
    assert not multiprocessing.active_children()


def test_bad_profile_is_one_line_exit_2(tmp_path, tiny_profile):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    line = _one_line(runner.invoke(app, ["hetero", "task", "sort", "500000", "--profile", str(bad)]), str(bad))
    assert "not JSON" in line
    doc = json.loads(tiny_profile.read_text())
    del doc["types"]["sort"]
    bad.write_text(json.dumps(doc))
    scenario = _write_yaml(tmp_path, _scenario(bad))
    line = _one_line(runner.invoke(app, ["run", scenario, "-q"]), f"{bad}: types: ")
    assert "no fit for sort" in line
    doc = json.loads(tiny_profile.read_text())
    doc["types"]["matmul"]["startup_s"] = -1
    bad.write_text(json.dumps(doc))
    _one_line(runner.invoke(app, ["run", scenario, "-q"]), f"{bad}: types.matmul.startup_s:")
    with pytest.raises(DataError, match="not a hetero profile"):
        bad.write_text("[]")
        load_profile(bad)


def test_local_nodes_and_profile_go_together(tiny_profile):
    doc = _scenario(tiny_profile)
    del doc["cluster"]["profile"]
    with pytest.raises(ConfigError, match="node 'w0' is local: name its calibrated profile"):
        parse_scenario(doc)
    doc = _scenario(tiny_profile)
    doc["cluster"]["nodes"] = [{"name": "pi", "kind": "pi5"}]
    with pytest.raises(ConfigError, match="no node has kind: local"):
        parse_scenario(doc)


def test_a_profiled_scenario_simulates_with_the_profile(tiny_profile):
    sc = parse_scenario(_scenario(tiny_profile))
    res = simulate(sc, "optimal", seed=1)
    assert check_trace(res.trace).ok
    prof = load_profile(tiny_profile)
    exp = res.trace.extra["hetero_durations"]["expected"]
    assert exp[0] == pytest.approx(prof.expected_s("matmul", 5000))  # task 0 on node 0
    assert "profile" not in parse_scenario({"family": "hetero"}).model_dump(mode="json")["cluster"]


# -- live runs -------------------------------------------------------------------------------


def _ran_where_chosen(trace) -> None:
    chosen = dict(zip(trace.decisions["job"], trace.decisions["worker"]))
    ran = dict(zip(trace.tasks["job"], trace.tasks["worker"]))
    assert ran == chosen and len(ran) == len(trace.jobs["id"])
    live = trace.extra["hetero_live"]
    assert sorted(live["job"]) == sorted(ran) and all(s > 0 for s in live["measured_s"])
    for j, w, start, end in zip(trace.tasks["job"], trace.tasks["worker"], trace.tasks["start"], trace.tasks["end"]):
        k = live["job"].index(j)
        assert live["worker"][k] == w and live["dispatched"][k] <= start < end == live["observed"][k]


def _no_children_left():
    import psutil

    assert not multiprocessing.active_children()
    left = [p for p in psutil.Process().children(recursive=True) if p.is_running() and p.status() != "zombie"]
    # multiprocessing's own resource tracker stays, by design, until this process exits.
    assert not [p for p in left if "resource_tracker" not in " ".join(p.cmdline())]


@pytest.mark.slow
def test_live_run_through_the_local_pool(tmp_path, tiny_profile):
    scenario = _write_yaml(tmp_path, _scenario(tiny_profile))
    trace_path = tmp_path / "live.json"
    r = runner.invoke(app, ["run", scenario, "-s", "optimal", "--live", "--workers", "2", "--trace", str(trace_path)])
    assert r.exit_code == 0, r.output
    assert runner.invoke(app, ["check", str(trace_path)]).exit_code == 0
    trace = load_trace(trace_path)
    assert check_trace(trace).ok and trace.meta["live"] == "local" and len(trace.meta["workers"]) == 2
    _ran_where_chosen(trace)
    assert sum(trace.extra["hetero_durations"]["measured"]) == 5
    _no_children_left()


def test_live_refusals_are_one_line(tmp_path, tiny_profile):
    _one_line(runner.invoke(app, ["run", "hetero", "--live"]), "cluster.nodes: --live runs local nodes only")
    _one_line(runner.invoke(app, ["run", "hetero", "--workers", "2"]), "--workers: applies to live runs only")
    scenario = _write_yaml(tmp_path, _scenario(tiny_profile, nodes=3))
    _one_line(
        runner.invoke(app, ["run", scenario, "--live", "--workers", "2"]),
        "--workers: each node is one worker process: the scenario has 3 nodes",
    )


@pytest.mark.slow
def test_live_run_on_ray_with_two_custom_resource_nodes(tiny_profile):
    ray = pytest.importorskip("ray")
    from schedlab.families.hetero.live.run import run_live

    ray.init(num_cpus=2, resources={"schedlab_node_0": 1, "schedlab_node_1": 1}, include_dashboard=False,
             log_to_driver=False)  # fmt: skip
    try:
        res = run_live(parse_scenario(_scenario(tiny_profile)), "global-sjf", seed=0, ray=True)
        assert res.trace.meta["live"] == "ray"
        assert check_trace(res.trace).ok
        _ran_where_chosen(res.trace)
        assert len(set(res.trace.meta["workers"])) == 2  # one actor per node
    finally:
        ray.shutdown()
