"""``schedlab train``: the loop's bookkeeping, the protocol's refusals, and a policy run as a scheduler."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

pytest.importorskip("sb3_contrib")

from typer.testing import CliRunner  # noqa: E402

from schedlab.cli import app  # noqa: E402
from schedlab.errors import ConfigError, DataError  # noqa: E402
from schedlab.learn.train import TrainConfig, train  # noqa: E402

# Two CPUs, the second ten times faster, light load, deadlines only the fast CPU meets: the
# slow one takes size / 1 s, the deadline is size / 5.5 s after arrival. The answer is known.
IDENTITY = """\
family: multiproc
name: identity
cluster:
  speeds: [1.0, 10.0]
workload:
  size_noise: 0.0
  priority_probs: [1.0]
  sla_slack: [1.0]
  phases:
    - {kind: stable, tasks: 32, utilization: 0.05}
"""


@pytest.fixture
def identity(tmp_path):
    path = tmp_path / "identity.yaml"
    path.write_text(IDENTITY)
    return str(path)


def _config(scenario, **kw):
    base = dict(family="multiproc", algorithm="ppo", scenario=scenario, iterations=2, steps=128, val_every=1)
    base.update(kw)
    base.setdefault("params", {"batch_size": 64})
    return TrainConfig(**base)


def _fast_cpu_probability(scheduler, scenario, seeds):
    """Mean probability the policy gives the fast CPU (index 1) over every decision of ``seeds``."""
    from schedlab.sim.simulation import Simulation

    probs = []
    for seed in seeds:
        sim = Simulation(scenario, seed)
        scheduler.reset(sim.scheduler_rng)
        while not sim.done:
            view = sim.observe()
            probs.append(scheduler.probabilities(view)[0][1])
            sim.act(scheduler.decide(view))
    return float(np.mean(probs))


def test_ppo_learns_the_identity_policy_and_runs_as_a_scheduler(identity, tmp_path):
    from schedlab.learn.policy import load_policy_scheduler
    from schedlab.runs import simulate
    from schedlab.scenarios import load_scenario

    scenario = load_scenario(identity)
    out = tmp_path / "ppo"
    config = _config(identity, iterations=12, steps=256, val_every=4, params={"batch_size": 64, "learning_rate": 1e-3})
    result = train(config, out)
    assert result.best_iteration is not None
    policy = load_policy_scheduler(str(out), "multiproc")
    # The untrained network is nearly uniform (SB3 initialises its action head with gain 0.01):
    # only learning moves the fast CPU's probability well above one half. The policy kept is
    # the first to reach the best validation score, not the last. Test seeds, never trained on.
    assert _fast_cpu_probability(policy, scenario, [1, 2, 3]) > 0.7
    learned = [simulate(scenario, str(out), seed).metrics["sla_violation_rate"] for seed in (1, 2, 3)]
    rand = [simulate(scenario, "random", seed).metrics["sla_violation_rate"] for seed in (1, 2, 3)]
    assert np.mean(learned) < 0.5 * np.mean(rand)
    card = json.loads((out / "policy.json").read_text())
    assert card["family"] == "multiproc" and card["algorithm"] == "ppo"
    assert card["training"]["val_seeds"] == [1000, 1001, 1002, 1003, 1004]
    assert card["training"]["best"]["iteration"] == result.best_iteration


def test_history_checkpoint_and_resume(identity, tmp_path):
    out = tmp_path / "run"
    train(_config(identity, iterations=2, checkpoint_every=1), out)
    rows = list(csv.DictReader((out / "history.csv").open()))
    assert [int(r["iteration"]) for r in rows] == [1, 2]
    assert [int(r["steps"]) for r in rows] == [128, 256]
    for key in ("wall_s", "cpu_s", "entropy", "value_loss", "val_metric", "val_ci95"):
        assert rows[-1][key] != ""
    assert (out / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"
    state = json.loads((out / "checkpoints" / "last" / "state.json").read_text())
    assert state["iteration"] == 2 and state["num_timesteps"] == 256

    with pytest.raises(ConfigError, match="--resume"):
        train(_config(identity, iterations=3), out)
    result = train(_config(identity, iterations=3), out, resume=True)
    rows = list(csv.DictReader((out / "history.csv").open()))
    assert [int(r["iteration"]) for r in rows] == [1, 2, 3]
    assert int(rows[-1]["steps"]) == 384 == result.steps
    assert float(rows[-1]["wall_s"]) >= float(rows[1]["wall_s"])


def test_interrupt_saves_a_checkpoint_and_resume_goes_on(identity, tmp_path):
    out = tmp_path / "run"

    def stop_after_first(row):
        if row["iteration"] == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(_config(identity, iterations=3, checkpoint_every=10), out, on_iteration=stop_after_first)
    state = json.loads((out / "checkpoints" / "last" / "state.json").read_text())
    assert state["iteration"] == 1
    # The saved run's three iterations stand; a smaller --iterations does not cut them.
    result = train(_config(identity, iterations=2), out, resume=True)
    assert result.iterations == 3 and result.steps == 384


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"val_seeds": [1, 2]}, "--val-seeds"),
        ({"val_seeds": []}, "--val-seeds"),
        ({"train_seeds": (5, 100)}, "--train-seeds"),
        ({"iterations": 0}, "--iterations"),
    ],
)
def test_settings_that_break_the_protocol_are_refused(identity, tmp_path, change, field):
    with pytest.raises(ConfigError) as info:
        train(_config(identity, **change), tmp_path / "x")
    assert info.value.field == field
    assert not (tmp_path / "x").exists()


def test_unknown_algorithm_and_parameter(identity, tmp_path):
    with pytest.raises(ConfigError, match="Did you mean 'ppo'"):
        train(_config(identity, algorithm="ppp"), tmp_path / "a")
    with pytest.raises(ConfigError, match="unknown ppo parameter 'lr'"):
        train(_config(identity, params={"lr": 0.1}), tmp_path / "b")


def test_two_rollout_workers(identity, tmp_path):
    result = train(_config(identity, iterations=1, workers=2, steps=128), tmp_path / "w2")
    assert result.steps == 128


def test_policy_directories_on_the_command_line(identity, tmp_path):
    out = tmp_path / "ppo"
    train(_config(identity, iterations=1), out)
    runner = CliRunner()
    res = runner.invoke(app, ["compare", identity, "-s", f"random,{out}", "--seeds", "1-2", "--workers", "1"])
    assert res.exit_code == 0, res.output
    # A policy for another family, a corrupted weights file, a missing card: one line, exit 2.
    res = runner.invoke(app, ["run", "hetero", "-s", str(out)])
    assert res.exit_code == 2 and "trained for multiproc, not for hetero" in res.output
    (out / "weights.safetensors").write_bytes(b"not safetensors")
    res = runner.invoke(app, ["run", identity, "-s", str(out)])
    assert res.exit_code == 2 and "not a safetensors file" in res.output
    assert "Traceback" not in res.output


def test_cli_train_and_interrupt_exit_code(identity, tmp_path, monkeypatch):
    runner = CliRunner()
    out = tmp_path / "cli"
    args = ["train", "multiproc", "ppo", "--scenario", identity, "--out", str(out), "--iterations", "1"]
    res = runner.invoke(app, [*args, "--steps", "128", "--workers", "1", "-p", "batch_size=64"])
    assert res.exit_code == 0, res.output
    assert (out / "weights.safetensors").is_file()
    card = json.loads((out / "policy.json").read_text())
    assert card["training"]["command"].startswith("schedlab ")

    res = runner.invoke(app, ["train", "multiproc", "ppo", "--val-seeds", "1-3", "--out", str(tmp_path / "t")])
    assert res.exit_code == 2 and "validation seeds are 1000-1099" in res.output

    import schedlab.learn.train as train_module

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(train_module, "train", interrupted)
    res = runner.invoke(app, [*args, "--resume"])
    assert res.exit_code == 130


def test_read_card_refuses_malformed_cards(tmp_path):
    from schedlab.learn.policy import read_card

    with pytest.raises(DataError, match="not a policy directory"):
        read_card(tmp_path)
    (tmp_path / "policy.json").write_text("{")
    with pytest.raises(DataError, match="not valid JSON"):
        read_card(tmp_path)
    (tmp_path / "policy.json").write_text(json.dumps({"format": "schedlab-policy/1", "algorithm": "ppo"}))
    with pytest.raises(DataError) as info:
        read_card(tmp_path)
    assert info.value.field == "family"


def test_dqn_trains_and_its_policy_runs(identity, tmp_path):
    from schedlab.runs import simulate

    out = tmp_path / "dqn"
    params = {"learning_starts": 100, "batch_size": 32, "buffer_size": 1000}
    result = train(_config(identity, algorithm="dqn", iterations=1, steps=300, params=params), out)
    assert result.steps == 300
    run = simulate(identity, str(out), 1)
    assert run.metrics["completed_jobs"] == 32
    assert json.loads((out / "policy.json").read_text())["algorithm"] == "dqn"


def test_rollouts_on_ray(identity, tmp_path):
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        result = train(_config(identity, iterations=2, workers=2, steps=128, ray=True), tmp_path / "ray")
    finally:
        ray.shutdown()
    assert result.steps == 256
    assert (tmp_path / "ray" / "weights.safetensors").is_file()


def test_ppo_on_spark_takes_two_part_actions(tmp_path):
    from schedlab.runs import simulate
    from schedlab.testing import small_scenario

    path = tmp_path / "spark.yaml"
    import yaml

    path.write_text(yaml.safe_dump(small_scenario("spark-synthetic").model_dump(mode="json")))
    out = tmp_path / "spark-ppo"
    config = TrainConfig(
        family="spark", algorithm="ppo", scenario=str(path), iterations=1, steps=64, params={"batch_size": 32}
    )
    train(config, out)
    first = simulate(str(path), str(out), 3)
    assert first.metrics["completed_jobs"] == first.metrics["jobs"]
    assert simulate(str(path), str(out), 3).trace.tasks == first.trace.tasks  # greedy: same seed, same trace


def test_cloning_a_heuristic_before_ppo(identity, tmp_path):
    from schedlab.runs import simulate

    params = {"batch_size": 64, "bc_heuristic": "lwr", "bc_episodes": 3, "bc_epochs": 30, "learning_rate": 1e-3}
    result = train(_config(identity, iterations=1, steps=64, params=params), tmp_path / "bc")
    row = result.history[0]
    assert row["bc_decisions"] == 3 * 32  # every lwr answer is one environment action here
    # On this cluster lwr always picks the fast CPU; the cloned policy does too, on test seeds.
    learned = simulate(identity, str(tmp_path / "bc"), 1).trace
    lwr = simulate(identity, "lwr", 1).trace
    assert learned.tasks["worker"] == lwr.tasks["worker"]
    with pytest.raises(ConfigError, match="bc_heuristic"):
        train(_config(identity, params={"bc_episodes": 1}), tmp_path / "none")


def test_hetero_ppo_with_a_task_embedding_clones_a_batch_heuristic_and_runs_without_a_node(tmp_path):
    """Unprofiled hetero: whole-batch answers still give one label per task; the policy runs on a smaller cluster."""
    from schedlab.learn.policy import read_card, read_tensors
    from schedlab.metrics.checker import check_trace
    from schedlab.runs import simulate
    from schedlab.testing import small_scenario

    # Two nodes, one much faster at everything: global-sjf sends almost everything there.
    nodes = [{"name": "slow", "kind": "pi4"}, {"name": "fast", "kind": "x86", "cpus": 2, "disk": "ssd"}]
    scenario = small_scenario("hetero", {"cluster.nodes": nodes, "workload.batches": [{"at_s": 0, "tasks": 6}]})
    path = tmp_path / "two.yaml"
    import yaml

    path.write_text(yaml.safe_dump(scenario.model_dump(mode="json")))
    params = {
        "batch_size": 32,
        "env.observation": "unprofiled",
        "env.objective": "makespan",
        "embed_dim": 4,
        "activation": "relu",
        "bc_heuristic": "global-sjf",
        "bc_episodes": 20,
        "bc_epochs": 40,
        "learning_rate": 1e-3,
    }
    config = TrainConfig(
        family="hetero", algorithm="ppo", scenario=str(path), iterations=1, steps=32, val_every=1,
        metric="makespan_s", params=params,
    )  # fmt: skip
    result = train(config, tmp_path / "het")
    assert result.history[0]["bc_decisions"] == 20 * 6  # one label per task, not one per batch
    card = read_card(tmp_path / "het")
    assert card["architecture"]["embed_dim"] == 4 and card["architecture"]["activation"] == "relu"
    names = set(read_tensors(tmp_path / "het" / "weights.safetensors"))
    assert any(n.startswith("features_extractor.embed.") for n in names)
    # The clone agrees with global-sjf on most held-out placements.
    learned = simulate(str(path), str(tmp_path / "het"), 1).trace
    teacher = simulate(str(path), "global-sjf", 1).trace
    same = np.mean(np.asarray(learned.tasks["worker"]) == np.asarray(teacher.tasks["worker"]))
    assert same >= 0.6
    # Without the slow node the policy's slot for it is masked: every task goes to "fast".
    alone = small_scenario(scenario, {"cluster.nodes": nodes[1:]})
    trace = simulate(alone, str(tmp_path / "het"), 2).trace
    assert check_trace(trace).ok and set(trace.tasks["worker"]) == {0}


@pytest.mark.parametrize(
    "family, algorithm, params",
    [
        ("multiproc", "ppo", {}),
        ("multiproc", "dqn", {"learning_starts": 16}),
        ("hetero", "ppo", {"env.observation": "unprofiled", "embed_dim": 4, "activation": "relu"}),
        ("hetero", "dqn", {"env.observation": "unprofiled", "embed_dim": 3, "learning_starts": 16}),
        ("spark", "ppo", {}),
    ],
)
def test_the_numpy_forward_pass_is_the_torch_one(family, algorithm, params):
    """A policy run as a scheduler decides in NumPy; it must compute what SB3's network computes."""
    import torch

    from schedlab.learn.sb3 import SB3Trainer
    from schedlab.sim.simulation import Simulation
    from schedlab.testing import small_scenario

    scenario = small_scenario("spark-synthetic" if family == "spark" else family, size=6)
    trainer = SB3Trainer(
        family, algorithm, scenario, train_seeds=(10000, 10009), steps=32, workers=1, seed=3,
        params={"batch_size": 16, **params},
    )  # fmt: skip
    try:
        trainer.iterate()
        scheduler = trainer.scheduler()
        policy = trainer.model.policy
        sim = Simulation(scenario, 1)
        scheduler.reset(sim.scheduler_rng)
        checked = 0
        while not sim.done and checked < 20:
            view = sim.observe()
            env = scheduler._env
            mask = np.asarray(env.view_action_masks(view), dtype=bool)
            with torch.no_grad():
                obs_t, _ = policy.obs_to_tensor(env.observe_view(view))
                if algorithm == "ppo":
                    dist = policy.get_distribution(obs_t, action_masks=mask)
                    cats = getattr(dist, "distributions", None) or [dist.distribution]
                    expected = [c.probs[0].numpy() for c in cats]
                else:
                    q = policy.q_net(obs_t)[0].numpy()
                    expected = [np.where(mask, np.exp(q - q[mask].max()), 0.0)]
                    expected = [expected[0] / expected[0].sum()]
            got = scheduler.probabilities(view)
            assert len(got) == len(expected)
            for g, e in zip(got, expected):
                np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-6)
            checked += 1
            sim.act(scheduler.decide(view))
        assert checked > 0
    finally:
        trainer.close()
