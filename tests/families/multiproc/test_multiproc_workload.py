"""The task generator's phases, and bad multiproc scenarios from the command line."""

import numpy as np
import pytest
from typer.testing import CliRunner

from schedlab.cli import app
from schedlab.families.multiproc.tasks import Phase, sample_tasks

runner = CliRunner()
SPEEDS = (1.0, 1.5, 2.0, 3.0)


def draw(phases, seed=0, **kw):
    args = dict(size_mean=1.0, size_sigma=0.6, size_noise=0.2, priority_probs=(0.2, 0.3, 0.5), sla_slack=(2, 4, 8))
    return sample_tasks(np.random.default_rng(seed), phases, SPEEDS, **{**args, **kw})


def rate(ts, phase):
    a = ts.arrival[ts.phase == phase]
    return (a.size - 1) / (a[-1] - a[0])


def test_stable_phase_offers_its_utilization():
    ts = draw([Phase("stable", 20_000, 0.7)])
    assert rate(ts, 0) == pytest.approx(0.7 * sum(SPEEDS), rel=0.03)
    assert ts.arrival[0] == 0.0 and np.all(np.diff(ts.arrival) >= 0)
    assert ts.size.mean() == pytest.approx(1.0, rel=0.03)
    assert (ts.work / ts.size).mean() == pytest.approx(1.0, rel=0.02)  # estimation error has mean one


def test_drifting_phase_ramps_and_bursty_phase_keeps_its_mean_rate():
    ts = draw([Phase("drifting", 20_000, 0.4, 1.2), Phase("bursty", 20_000, 0.7, burst_size=10, burst_factor=8)])
    a = ts.arrival[ts.phase == 0]
    early = 999 / (a[999] - a[0])
    late = 999 / (a[-1] - a[-1000])
    assert early == pytest.approx(0.4 * 7.5, rel=0.1) and late == pytest.approx(1.2 * 7.5, rel=0.1)
    assert rate(ts, 1) == pytest.approx(0.7 * 7.5, rel=0.1)
    gaps = np.diff(ts.arrival[ts.phase == 1])
    assert gaps.std() / gaps.mean() > 2.0  # far burstier than Poisson (CV 1)


def test_priorities_and_deadlines():
    ts = draw([Phase("stable", 20_000, 0.7)])
    assert set(np.unique(ts.priority)) == {1, 2, 3}
    assert np.mean(ts.priority == 3) == pytest.approx(0.5, abs=0.02)
    slack = (ts.deadline - ts.arrival) / (ts.size / 1.875)  # mean speed 7.5 / 4
    assert np.allclose(slack, np.array([2, 4, 8])[ts.priority - 1])


def test_same_seed_same_tasks():
    a, b = draw([Phase("bursty", 500, 0.7)], seed=3), draw([Phase("bursty", 500, 0.7)], seed=3)
    assert np.array_equal(a.arrival, b.arrival) and np.array_equal(a.work, b.work)


def test_generator_rejects_bad_input():
    with pytest.raises(ValueError, match="unknown phase kind 'wavy'"):
        draw([Phase("wavy", 10, 0.5)])
    with pytest.raises(ValueError, match="need at least one phase"):
        draw([])


def test_run_by_name():
    r = runner.invoke(app, ["run", "multiproc", "--seed", 2, "--all"])
    assert r.exit_code == 0, r.output
    assert "oracle_agreement" in r.output and "utilization_cpu_3" in r.output


@pytest.mark.parametrize(
    "yaml_text, message",
    [
        ("family: multiproc\ncluster: {speeds: []}\n", "cluster.speeds: Tuple should have at least 1 item"),
        ("family: multiproc\ncluster: {speeds: [1, -2]}\n", "cluster.speeds.1: Input should be greater than 0 (got -2)"),
        ("family: multiproc\nworkload: {phases: []}\n", "workload.phases: Tuple should have at least 1 item"),
        ("family: multiproc\nworkload: {phases: [{kind: wavy, tasks: 5, utilization: 0.5}]}\n",
         "workload.phases.0.kind: Input should be 'stable', 'drifting' or 'bursty'"),
        ("family: multiproc\nworkload: {phases: [{kind: drifting, tasks: 5, utilization: 0.5}]}\n",
         "workload.phases.0: Value error, a drifting phase needs utilization_end"),
        ("family: multiproc\nworkload: {phases: [{kind: stable, tasks: -1, utilization: 0.5}]}\n",
         "workload.phases.0.tasks: Input should be greater than or equal to 1 (got -1)"),
        ("family: multiproc\nworkload: {priority_probs: [0.5, 0.6, 0.1]}\n", "must be non-negative and sum to 1"),
        ("family: multiproc\nworkload: {sla_slack: [1, 2]}\n", "sla_slack has 2 values but priority_probs has 3"),
        ("family: multiproc\ncpu: {speeds: [1]}\n", "cpu: unknown key"),
    ],
)  # fmt: skip
def test_bad_multiproc_scenarios(yaml_text, message, tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(yaml_text)
    r = runner.invoke(app, ["run", str(path)])
    assert r.exit_code == 2, r.output
    line = r.output.strip()
    assert "\n" not in line and line.startswith(f"schedlab: error: {path}"), line
    assert message in line
