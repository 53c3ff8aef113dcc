"""The edge family from the command line: presets, gen-logs, and one-line errors for bad input."""

import numpy as np
import pytest
from typer.testing import CliRunner

from schedlab.cli import app
from schedlab.families.edge.nodes import read_node_logs

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_gen_logs_writes_the_columns_and_reads_back(tmp_path):
    out = tmp_path / "logs" / "node_logs.csv"
    r = run("edge", "gen-logs", "--num-nodes", 10, "--steps", 1000, "--interval", 0.02, "--seed", 42, "--out", out)
    assert r.exit_code == 0, r.output
    lines = out.read_text().splitlines()
    assert lines[0] == "timestamp,node_id,cpu,mem,delay,load"
    assert len(lines) == 1 + 10 * 1000
    log = read_node_logs(out)
    assert log.values.shape == (1000, 10, 4) and log.time_s[-1] == pytest.approx(19.98)
    # the same seed writes the same file
    again = tmp_path / "again.csv"
    assert run("edge", "gen-logs", "--steps", 1000, "--out", again, "-q").exit_code == 0
    assert again.read_text() == out.read_text()
    # and the old five-column form of the same rows reads back to the same values
    old = tmp_path / "old.txt"
    old.write_text("\n".join(line.split(",", 1)[1] for line in lines[1:]) + "\n")
    assert np.array_equal(read_node_logs(old).values, log.values)


def test_run_and_compare_presets_by_name(tmp_path):
    r = run("run", "edge", "--seed", 1)
    assert r.exit_code == 0, r.output
    assert "latency_p99_ms" in r.output and "jain_fairness" in r.output
    r = run("compare", "edge", "multiproc", "--seeds", 1, "--workers", 1)
    assert r.exit_code == 0, r.output
    for name in ("random", "round-robin", "least-delay", "least-loaded", "lwr", "oracle"):
        assert name in r.output


@pytest.mark.parametrize(
    "args, message",
    [
        (("edge", "gen-logs", "--num-nodes", -3), "--num-nodes: must be at least 1, got -3"),
        (("edge", "gen-logs", "--steps", 0), "--steps: must be at least 1, got 0"),
        (("edge", "gen-logs", "--interval", -0.5), "--interval: must be a positive number of seconds"),
        (("edge", "gen-logs", "--scenario", "multiproc"), "--scenario: scenario 'multiproc' is of family"),
        (("run", "edge", "--scheduler", "least-dealy"), "Did you mean 'least-delay'?"),
    ],
)
def test_bad_flags_are_one_line_exit_2(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = run(*args)
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("schedlab: error:"), r.output
    assert message in lines[0]
    assert not (tmp_path / "node_logs.csv").exists()


@pytest.mark.parametrize(
    "yaml_text, message",
    [
        ("family: edge\ncluster: {nodes: -3}\n", "cluster.nodes: Input should be greater than or equal to 1 (got -3)"),
        ("family: edge\ncluster: {cpu: [5, 1]}\n", "cluster.cpu: Value error, min (5.0) exceeds max (1.0)"),
        ("family: edge\ncluster: {load: [0, 2]}\n", "cluster.load: Value error, expected bounds within [0, 1]"),
        ("family: edge\ncluster: {delay_ms: [0, 10]}\n", "cluster.delay_ms: Value error, expected positive bounds"),
        ("family: edge\ncluster: {dynamics: {spike_size: [0.5, 0.1]}}\n", "cluster.dynamics.spike_size: Value error"),
        ("family: edge\ncluster: {dynamics: {noise: 1}}\n", "cluster.dynamics.noise: unknown key"),
        ("family: edge\nworkload: {deadline_ms: 100, timeout_ms: 50}\n", "timeout_ms (50.0) is below deadline_ms"),
        (
            "family: edge\nworkload: {arrival_rate_per_ms: 0}\n",
            "workload.arrival_rate_per_ms: Input should be greater than 0",
        ),
        ("family: edge\nworkload: {jobs: 0}\n", "workload.jobs"),
        # the old names (deprecated) are still read; errors name the new field
        ("family: edge\nnodes: {count: -3}\n", "cluster.nodes: Input should be greater than or equal to 1 (got -3)"),
        ("family: edge\nrequests: {rate_per_ms: 0}\n", "workload.arrival_rate_per_ms: Input should be greater than 0"),
    ],
)
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_bad_edge_scenarios(yaml_text, message, tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(yaml_text)
    r = run("run", path)
    assert r.exit_code == 2, r.output
    line = r.output.strip()
    assert "\n" not in line and line.startswith(f"schedlab: error: {path}"), line
    assert message in line
