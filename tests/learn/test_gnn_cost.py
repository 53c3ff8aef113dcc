"""gnn-cost: features, the NumPy forward against torch's, learning on held-out seeds, the shipped
policy as a scheduler, ``schedlab train multiproc gnn-cost``, resume, and bad inputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from schedlab.errors import ConfigError, DataError
from schedlab.families.multiproc.model import CpuView, MultiprocSnapshot, TaskView
from schedlab.learn.gnn_cost.features import ESTIMATE, FEATURES, Dataset, collect, node_features
from schedlab.learn.gnn_cost.network import ARCHITECTURE, NumpyCostGNN, tensor_shapes
from schedlab.learn.gnn_cost.scheduler import FormulaCostScheduler, GnnCostScheduler, shipped_gnn_cost
from schedlab.scenarios import parse_scenario

ROOT = Path(__file__).resolve().parents[2]

# Two CPUs; the true work is the declared size times a mean-one log-normal of spread 1, so the
# log of the true completion time sits about 0.5 below the log of the declared-size formula:
# a bias only learning removes.
NOISY = """\
family: multiproc
name: noisy
cluster: {speeds: [1.0, 2.0]}
workload:
  size_noise: 1.0
  phases:
    - {kind: stable, tasks: 150, utilization: 0.6}
"""

TINY = """\
family: multiproc
name: tiny
cluster: {speeds: [1.0, 1.5, 3.0]}
workload:
  phases:
    - {kind: stable, tasks: 60, utilization: 0.7}
    - {kind: bursty, tasks: 60, utilization: 0.7}
"""


def _view(now, cpus, size=2.0, priority=1, deadline=10.0):
    """A snapshot with one waiting task and CPUs given as (speed, queue_length, work_remaining, busy)."""
    task = TaskView(0, now, size, priority, deadline)
    return MultiprocSnapshot(now, (task,), tuple(CpuView(i, *c) for i, c in enumerate(cpus)))


@pytest.fixture
def tiny_yaml(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return str(path)


# -- features and the rule, by hand ------------------------------------------------------------


def test_features_hold_the_lwr_formula_and_read_only_the_view():
    # CPU 0: speed 1, idle. CPU 1: speed 3, one task with 0.5 declared units left.
    view = _view(4.0, [(1.0, 0, 0.0, False), (3.0, 1, 0.5, True)], size=2.0, deadline=7.0)
    x = node_features(view)
    assert x.shape == (2, len(FEATURES))
    assert np.exp(x[:, ESTIMATE]) == pytest.approx([2.0, 2.5 / 3.0])
    col = dict(zip(FEATURES, x.T))
    assert col["busy"].tolist() == [0.0, 1.0]
    assert col["overrun"].tolist() == [0.0, 0.0]
    assert col["slack"] == pytest.approx([np.arcsinh(3.0)] * 2)
    assert col["estimate_slack"] == pytest.approx(np.arcsinh([3.0 - 2.0, 3.0 - 2.5 / 3.0]))
    # Running past its declared size: work remaining reads 0 while busy.
    over = node_features(_view(0.0, [(1.0, 1, 0.0, True)]))
    assert over[0, FEATURES.index("overrun")] == 1.0


def test_formula_rule_counts_the_tasks_own_size_where_lwr_does_not():
    from schedlab.families.multiproc.schedulers import LeastWorkRemaining

    # lwr: backlogs 0 and 0.5/3, so the slow idle CPU. Completion estimates: 2/1 = 2 s against
    # (0.5 + 2)/3 = 0.83 s, so the fast busy CPU.
    view = _view(4.0, [(1.0, 0, 0.0, False), (3.0, 1, 0.5, True)], size=2.0)
    assert LeastWorkRemaining().decide(view)[0].worker == 0
    assert FormulaCostScheduler().decide(view)[0].worker == 1
    assert FormulaCostScheduler().predict(view) == pytest.approx([2.0, 2.5 / 3.0])


def test_risk_rule_spends_the_slowest_cpu_that_meets_the_deadline():
    cpus = [(1.0, 0, 0.0, False), (2.0, 0, 0.0, False), (4.0, 0, 0.0, False)]
    # Size 2: estimates 2, 1, 0.5 s. Deadline 2.5 s away, margin 0.75: only CPUs 1 and 2 fit,
    # the slower of them is 1.
    view = _view(0.0, cpus, size=2.0, deadline=2.5)
    risk = FormulaCostScheduler(rule="slack-fit", margin_s=0.75, triage=True)
    assert risk.decide(view)[0].worker == 1
    assert FormulaCostScheduler().decide(view)[0].worker == 2
    # Late everywhere (deadline 0.25 s away): triage gives it the slowest CPU; without, argmin.
    late = _view(0.0, cpus, size=2.0, deadline=0.25)
    assert risk.decide(late)[0].worker == 0
    assert FormulaCostScheduler(rule="slack-fit", triage=False).decide(late)[0].worker == 2


# -- the network ---------------------------------------------------------------------------------


@pytest.mark.parametrize("arch", [{}, {"context": False}, {"layers": 0}, {"hidden": 8, "layers": 3}])
def test_numpy_forward_matches_torch(arch):
    torch = pytest.importorskip("torch")
    from schedlab.learn.gnn_cost.network import CostGNN

    torch.manual_seed(0)
    net = CostGNN(arch)
    torch.nn.init.normal_(net.head.weight)  # the zero head would hide every layer below it
    net.set_normalisation(torch.randn(64, 4, len(FEATURES)) * 3.0 + 1.0)
    x = torch.randn(9, 5, len(FEATURES))
    want = net(x).detach().numpy()
    fast = NumpyCostGNN(net.state_dict(), net.arch)
    np.testing.assert_allclose(fast(x.numpy()), want, atol=1e-5)
    np.testing.assert_allclose(fast(x.numpy()[3]), want[3], atol=1e-5)  # one decision, as the scheduler calls it
    assert set(net.state_dict()) == set(tensor_shapes(net.arch))


def test_untrained_network_is_the_formula():
    torch = pytest.importorskip("torch")
    from schedlab.learn.gnn_cost.network import CostGNN

    net = CostGNN()
    x = torch.randn(3, 4, len(FEATURES))
    assert torch.equal(net(x), x[..., ESTIMATE])


def test_trained_network_beats_the_formula_and_a_constant_on_held_out_seeds():
    pytest.importorskip("torch")
    from schedlab.learn.gnn_cost.trainer import GnnCostTrainer, regression_errors

    scenario = parse_scenario(yaml.safe_load(NOISY))
    params = {"updates": 150, "holdout_episodes": 0, "episodes": 2, "data_schedulers": "lwr,oracle"}
    trainer = GnnCostTrainer(
        "multiproc", "gnn-cost", scenario, train_seeds=(10_000, 10_099), steps=1, workers=1, seed=0, params=params
    )
    for _ in range(3):
        trainer.iterate()
    held = Dataset.concat([collect(scenario, "lwr", seed) for seed in (1000, 1001)])
    net = regression_errors(trainer.predict(held.x), held.y)["log_mse"]
    formula = regression_errors(held.x[..., ESTIMATE], held.y)["log_mse"]
    constant = regression_errors(np.full_like(held.y, trainer.buffer.y.mean()), held.y)["log_mse"]
    assert net < 0.92 * formula
    assert net < 0.6 * constant
    # The scheduler's NumPy pass gives the trainer's predictions.
    sched = trainer.scheduler()
    np.testing.assert_allclose(sched._net(held.x[:50]), trainer.predict(held.x[:50]), atol=1e-5)


# -- the shipped policy --------------------------------------------------------------------------


def test_a_policy_ships_small():
    folder = shipped_gnn_cost()
    assert folder is not None
    assert (folder / "weights.safetensors").stat().st_size < 100_000
    card = json.loads((folder / "policy.json").read_text())
    assert card["algorithm"] == "gnn-cost" and card["family"] == "multiproc"
    assert card["training"]["command"].startswith("schedlab train multiproc gnn-cost")
    assert all(s >= 10_000 for s in card["training"]["train_seeds"])
    assert all(1000 <= s < 1100 for s in card["training"]["val_seeds"])


def test_shipped_policy_runs_passes_the_checker_deterministically_and_agrees_with_the_oracle_more_than_lwr():
    from schedlab import testing
    from schedlab.metrics.checker import check_trace
    from schedlab.runs import simulate

    scenario = testing.small_scenario("multiproc", size=200)
    agree = {"gnn-cost": [], "lwr": []}
    for seed in (1, 2, 3):
        a = simulate(scenario, "gnn-cost", seed)
        b = simulate(scenario, "gnn-cost", seed)
        assert check_trace(a.trace).ok
        assert a.trace.decisions["worker"] == b.trace.decisions["worker"]
        assert a.trace.jobs["completion"] == b.trace.jobs["completion"]
        agree["gnn-cost"].append(a.metrics["oracle_agreement"])
        agree["lwr"].append(simulate(scenario, "lwr", seed).metrics["oracle_agreement"])
    assert np.mean(agree["gnn-cost"]) > np.mean(agree["lwr"]) + 0.05


def test_scheduler_runs_without_torch_and_training_says_what_to_install():
    script = (
        "import sys, schedlab\n"
        "from schedlab import testing\n"
        "r = schedlab.simulate(testing.small_scenario('multiproc'), 'gnn-cost', seed=1)\n"
        "assert r.metrics['unfinished_jobs'] == 0\n"
        "heavy = [m for m in sys.modules if m.partition('.')[0] in ('torch', 'safetensors')]\n"
        "assert not heavy, heavy\n"
        "import tempfile\n"
        "from schedlab.errors import ConfigError\n"
        "from schedlab.learn.train import TrainConfig, train\n"
        "try:\n"
        "    train(TrainConfig(family='multiproc', algorithm='gnn-cost', scenario='multiproc'), tempfile.mkdtemp())\n"
        "except ConfigError as e:\n"
        "    assert 'needs torch' in str(e), e\n"
        "else:\n"
        "    raise SystemExit('trained without torch')\n"
    )
    env = dict(os.environ)
    blocker = str(ROOT / "tests" / "without_torch")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (blocker, env.get("PYTHONPATH", "")) if p)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# -- bad input ------------------------------------------------------------------------------------


def _copy_policy(tmp_path, name):
    src = shipped_gnn_cost()
    dst = tmp_path / name
    dst.mkdir()
    for name in ("policy.json", "weights.safetensors"):
        (dst / name).write_bytes((src / name).read_bytes())
    return dst


def test_missing_corrupt_or_mismatched_weights_are_data_errors(tmp_path):
    with pytest.raises(DataError, match="not a policy directory"):
        GnnCostScheduler(model=str(tmp_path / "nowhere"))
    policy = _copy_policy(tmp_path, "broken")
    GnnCostScheduler(model=str(policy))  # the copy is fine

    (policy / "weights.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00not json")
    with pytest.raises(DataError, match="not a safetensors file"):
        GnnCostScheduler(model=str(policy))
    (policy / "weights.safetensors").unlink()
    with pytest.raises(DataError, match="weights are missing"):
        GnnCostScheduler(model=str(policy))

    policy = _copy_policy(tmp_path, "mismatched")
    card = json.loads((policy / "policy.json").read_text())
    card["architecture"]["network"]["hidden"] = 16
    (policy / "policy.json").write_text(json.dumps(card))
    with pytest.raises(DataError, match="shape"):
        GnnCostScheduler(model=str(policy))
    card["architecture"]["network"]["colour"] = "blue"
    (policy / "policy.json").write_text(json.dumps(card))
    with pytest.raises(DataError, match="unknown architecture keys"):
        GnnCostScheduler(model=str(policy))
    card["algorithm"] = "decima"
    (policy / "policy.json").write_text(json.dumps(card))
    with pytest.raises(DataError, match="not a gnn-cost one"):
        GnnCostScheduler(model=str(policy))


def test_non_finite_weights_are_refused():
    shapes = tensor_shapes(ARCHITECTURE)
    tensors = {k: np.zeros(s) for k, s in shapes.items()}
    tensors["norm.std"] = np.ones(shapes["norm.std"])
    NumpyCostGNN(tensors)
    tensors["embed.weight"] = np.full(shapes["embed.weight"], np.nan)
    with pytest.raises(ValueError, match="NaN"):
        NumpyCostGNN(tensors)


@pytest.mark.parametrize(
    ("knobs", "field"),
    [
        ({"predictor": "magic"}, "predictor"),
        ({"predictor": "formula", "rule": "fastest"}, "rule"),
        ({"predictor": "formula", "margin_s": -1.0}, "margin_s"),
        ({"predictor": "formula", "margin_s": "1"}, "margin_s"),
        ({"predictor": "formula", "triage": "yes"}, "triage"),
    ],
)
def test_bad_knobs_are_config_errors(knobs, field):
    with pytest.raises(ConfigError) as e:
        GnnCostScheduler(**knobs)
    assert e.value.field == field


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"hiden": 8}, "unknown gnn-cost parameter"),
        ({"updates": 0}, "at least 1"),
        ({"learning_rate": "fast"}, "a number"),
        ({"context": 1}, "true or false"),
        ({"data_schedulers": "lwr,nosuch"}, "nosuch"),
        ({"data_schedulers": "gnn-cost"}, "itself"),
    ],
)
def test_bad_training_parameters_are_config_errors(params, match):
    pytest.importorskip("torch")
    from schedlab.learn.gnn_cost.trainer import GnnCostTrainer

    scenario = parse_scenario(yaml.safe_load(TINY))
    with pytest.raises(ConfigError, match=match):
        GnnCostTrainer(
            "multiproc", "gnn-cost", scenario, train_seeds=(10_000, 10_099), steps=1, workers=1, seed=0, params=params
        )


# -- schedlab train --------------------------------------------------------------------------------


def _train_args(scenario, out, iterations, *extra):
    return [
        "train", "multiproc", "gnn-cost", "--scenario", scenario, "--out", str(out),
        "--iterations", str(iterations), "--val-every", "1", "--checkpoint-every", "1", "--val-seeds", "1000",
        "--metric", "oracle_agreement", "--workers", "1",
        "-p", "updates=10", "-p", "holdout_episodes=1", "-p", "data_schedulers=lwr,oracle", *extra,
    ]  # fmt: skip


def test_train_command_writes_a_policy_that_runs_and_resume_matches_an_uninterrupted_run(tiny_yaml, tmp_path):
    pytest.importorskip("torch")
    from typer.testing import CliRunner

    from schedlab.cli import app
    from schedlab.learn.policy import load_policy_scheduler, read_tensors
    from schedlab.runs import simulate

    cli = CliRunner()
    straight = tmp_path / "straight"
    r = cli.invoke(app, _train_args(tiny_yaml, straight, 3))
    assert r.exit_code == 0, r.output
    for name in ("policy.json", "weights.safetensors", "history.csv", "learning_curve.png", "train.json"):
        assert (straight / name).is_file(), name
    history = (straight / "history.csv").read_text().splitlines()
    assert len(history) == 4 and "holdout_formula_log_mse" in history[0] and "val_metric" in history[0]
    card = json.loads((straight / "policy.json").read_text())
    assert card["algorithm"] == "gnn-cost" and card["training"]["metric"] == "oracle_agreement"
    sched = load_policy_scheduler(str(straight), "multiproc")
    assert isinstance(sched, GnnCostScheduler)
    result = simulate(parse_scenario(yaml.safe_load(TINY)), sched, 5)
    assert result.metrics["unfinished_jobs"] == 0
    r = cli.invoke(app, ["run", "multiproc", "-s", "gnn-cost", "--param", f"model={straight}", "-q"])
    assert r.exit_code == 0, r.output

    # Stopped after two iterations and resumed to three: the same network and optimizer state,
    # since the buffer is rebuilt from the same deterministic episodes.
    resumed = tmp_path / "resumed"
    assert cli.invoke(app, _train_args(tiny_yaml, resumed, 2)).exit_code == 0
    r = cli.invoke(app, [*_train_args(tiny_yaml, resumed, 3), "--resume"])
    assert r.exit_code == 0, r.output
    a = read_tensors(straight / "checkpoints" / "last" / "state.safetensors")
    b = read_tensors(resumed / "checkpoints" / "last" / "state.safetensors")
    assert set(a) == set(b)
    assert all(bool((a[k] == b[k]).all()) for k in a)


def test_train_refuses_other_families(tmp_path):
    pytest.importorskip("torch")
    from schedlab.learn.train import TrainConfig, train

    with pytest.raises(ConfigError, match="trains on multiproc"):
        train(TrainConfig(family="hetero", algorithm="gnn-cost", scenario="hetero"), tmp_path / "run")
