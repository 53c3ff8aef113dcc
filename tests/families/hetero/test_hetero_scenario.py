"""The hetero scenario: the preset runs fast by name, bad YAML gives one clear error."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from schedlab.cli import app
from schedlab.errors import ConfigError
from schedlab.metrics.checker import check_trace
from schedlab.runs import simulate
from schedlab.scenarios import load_scenario, parse_scenario, preset_names

runner = CliRunner()


def test_preset_is_the_seed_cluster_with_batches():
    sc = load_scenario("hetero")
    assert "hetero" in preset_names() and sc.family == "hetero"
    kinds = [n.kind for n in sc.cluster.nodes]
    assert kinds == ["pi5", "pi4", "pi4"] + ["x86"] * 6
    assert sorted({(n.cpus, n.disk) for n in sc.cluster.nodes if n.kind == "x86"}) == [
        (0.5, "hdd"), (0.5, "ssd"), (1.0, "hdd"), (1.0, "ssd"), (2.0, "hdd"), (2.0, "ssd"),
    ]  # fmt: skip
    assert [b.at_s for b in sc.workload.batches] == [0.0, 15.0, 30.0]


def test_preset_runs_well_under_a_second():
    res = simulate("hetero", "optimal", seed=0)
    assert res.trace.timing["wall_s"] < 0.5
    assert check_trace(res.trace).ok
    assert res.metrics["completed_jobs"] == 72


def test_cli_runs_the_preset_by_name(tmp_path):
    metrics = tmp_path / "m.json"
    r = runner.invoke(app, ["run", "hetero", "-q"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["run", "hetero", "--scheduler", "optimal", "--metrics-json", str(metrics), "-q"])
    assert r.exit_code == 0, r.output
    m = json.loads(metrics.read_text())
    assert m["makespan_lower_bound_s"] <= m["makespan_s"] and m["makespan_gap"] >= 0


def test_explicit_tasks_come_first_and_keep_their_sizes():
    sc = parse_scenario(
        {
            "family": "hetero",
            "workload": {
                "tasks": [{"type": "matmul", "size": 5000}, {"type": "file_io", "size": 100000, "at_s": 2}],
                "batches": [{"at_s": 1, "tasks": 2}],
            },
        }
    )
    tr = simulate(sc, "round-robin", seed=0).trace
    assert tr.jobs["name"][:2] == ["matmul-5000", "file_io-100000"]
    assert tr.jobs["arrival"] == [0.0, 2.0, 1.0, 1.0]
    assert tr.extra["hetero_tasks"]["batch"] == [0, 2, 1, 1]
    assert check_trace(tr).ok


PI = {"name": "p", "kind": "pi5"}


@pytest.mark.parametrize(
    "data, field, message",
    [
        ({"workload": {"tasks": [{"type": "fft", "size": 10}]}}, "workload.tasks.0.type",
         "'matmul', 'primes', 'sort' or 'file_io'"),
        ({"workload": {"tasks": [{"type": "matmul", "size": 6000}]}}, "workload.tasks.0",
         "size 6000 of a matmul task is outside its range 250..5000"),
        ({"workload": {"tasks": [{"type": "sort", "size": 10, "at_s": -1}]}}, "workload.tasks.0.at_s", "greater than or equal to 0"),
        ({"workload": {"batches": [], "tasks": []}}, "workload", "the workload has no task"),
        ({"workload": {"batches": [{"at_s": 0, "tasks": 0}]}}, "workload.batches.0.tasks", "greater than or equal to 1"),
        ({"workload": {"batches": [{"at": 0, "tasks": 3}]}}, "workload.batches.0.at", "unknown key"),
        ({"workload": {"types": ["sort", "gemm"]}}, "workload.types.1", "'matmul', 'primes', 'sort' or 'file_io'"),
        ({"workload": {"types": []}}, "workload.types", "at least 1 item"),
        ({"cluster": {"nodes": []}}, "cluster.nodes", "at least 1 item"),
        ({"cluster": {"nodes": [{"name": "x", "kind": "x86"}]}}, "cluster.nodes.0", "needs cpus (0.5..2) and disk"),
        ({"cluster": {"nodes": [{"name": "x", "kind": "x86", "cpus": 4, "disk": "ssd"}]}}, "cluster.nodes.0.cpus",
         "less than or equal to 2"),
        ({"cluster": {"nodes": [{"name": "x", "kind": "x86", "cpus": 1, "disk": "nvme"}]}}, "cluster.nodes.0.disk",
         "'ssd' or 'hdd'"),
        ({"cluster": {"nodes": [{"name": "p", "kind": "pi4", "disk": "ssd"}]}}, "cluster.nodes.0", "x86 containers only"),
        ({"cluster": {"nodes": [{"name": "p", "kind": "arm"}]}}, "cluster.nodes.0.kind", "'pi5', 'pi4', 'x86' or 'local'"),
        ({"cluster": {"nodes": [PI, PI]}}, "cluster", "node names must be unique; repeated: p"),
        ({"cluster": {"noise_sigma": -0.1}}, "cluster.noise_sigma", "greater than or equal to 0"),
        ({"cluster": {"executors": 4}}, "cluster.executors", "unknown key"),
        ({"workload": {"size_fraction": [0.7, 0.2]}}, "workload", "size_fraction must satisfy 0 <= low <= high <= 1"),
        ({"workload": {"size_fraction": [0, 1.5]}}, "workload", "size_fraction must satisfy"),
        ({"workload": {"size_fraction": [0, "nan"]}}, "workload.size_fraction.1", "finite number"),
    ],
)  # fmt: skip
def test_bad_scenarios_give_one_clear_error(data, field, message):
    with pytest.raises(ConfigError) as e:
        parse_scenario({"family": "hetero", **data}, source="s.yaml")
    assert e.value.field == field
    assert message in e.value.problem


def test_bad_yaml_file_fails_cleanly_on_the_command_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("family: hetero\nworkload:\n  tasks:\n    - {type: sort, size: 20000000}\n")
    r = runner.invoke(app, ["run", str(bad)])
    assert r.exit_code == 2
    assert "workload.tasks.0" in r.output and "outside its range 500000..10000000" in r.output


def test_size_fraction_draws_from_that_part_of_each_range():
    from schedlab.families.hetero.tasks import SIZE_RANGES
    from schedlab.sim.engine import Engine

    def sizes(fraction=None):
        workload = {"batches": [{"tasks": 400}], **({"size_fraction": fraction} if fraction else {})}
        sc = parse_scenario({"family": "hetero", "workload": workload})
        return [(t.type, t.size) for t in sc.build(Engine(), np.random.default_rng(4)).tasks]

    for fraction in ([0, 0.6], [0.6, 1]):
        drawn = sizes(fraction)
        for kind, size in drawn:
            lo, hi = SIZE_RANGES[kind]
            assert lo + fraction[0] * (hi - lo) <= size <= lo + fraction[1] * (hi - lo)
    # The full range is the default and draws the very same tasks.
    assert sizes([0, 1]) == sizes()
    assert sizes([0, 0.6]) != sizes()
