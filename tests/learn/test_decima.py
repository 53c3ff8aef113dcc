"""Decima for spark: the network, its batched and NumPy forwards, the scheduler, the trainer."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from schedlab import testing
from schedlab.learn.decima.features import collate, limit_bounds, node_levels
from schedlab.learn.decima.network import ARCHITECTURE, DecimaNet, NumpyDecima, parameter_count, to_tensors
from schedlab.learn.decima.rollout import baselines, discounted_returns, run_episode
from schedlab.learn.decima.scheduler import DecimaScheduler, shipped_decima
from schedlab.learn.decima.trainer import DecimaTrainer
from schedlab.runs import simulate

TINY = {"workload.jobs": 5, "cluster.executors": 6}


def tiny(**over):
    return testing.small_scenario("spark-synthetic", {**TINY, **over})


def net(seed: int = 0) -> DecimaNet:
    torch.manual_seed(seed)
    return DecimaNet()


@pytest.fixture(scope="module")
def episode():
    """Decisions of a fair run on a tiny scenario, with fair's actions mapped to (slot, limit)."""
    return run_episode(tiny().model_dump(mode="json"), 3, heuristic="fair")


def test_about_twenty_thousand_parameters():
    n = parameter_count()
    assert n == sum(p.numel() for p in net().parameters())
    assert 15_000 <= n <= 25_000


def test_levels_are_longest_paths_to_a_leaf():
    # 0 -> 1 -> 3, 0 -> 2, 2 -> 3, 4 alone
    src, dst = np.array([0, 1, 0, 2]), np.array([1, 3, 2, 3])
    assert node_levels(5, src, dst).tolist() == [2, 1, 1, 0, 0]
    with pytest.raises(ValueError):
        node_levels(2, np.array([0, 1]), np.array([1, 0]))


def test_limit_bounds():
    assert limit_bounds(0, 6, 10) == (1, 6)  # a job without executors gets at least one
    assert limit_bounds(7, 6, 10) == (7, 10)  # L = base (7) assigns nothing
    assert limit_bounds(12, 3, 10) == (10, 10)  # over-counted supply: only "nothing" is left


@pytest.mark.parametrize(("share", "cap_source"), [(1.0, False), (1.5, False), (1.5, True)])
def test_heuristic_answers_map_back_to_themselves(share, cap_source):
    from schedlab.families.spark.env import GraphCache
    from schedlab.families.spark.schedulers import ShortestRemainingWorkFirst
    from schedlab.learn.decima.features import observe, to_assign
    from schedlab.learn.decima.rollout import heuristic_action

    class Replay(ShortestRemainingWorkFirst):
        """srwf (srwf-tuned, srwf-capped), answering through the policy's (stage slot, limit) encoding."""

        def reset(self, rng):
            self.cache = GraphCache()

        def decide(self, view):
            acts = super().decide(view)
            if not view.schedulable:
                return acts
            d = observe(view, self.cache)
            rec = heuristic_action(view, d, acts)
            assert rec is not None
            a = to_assign(view, d, *rec)
            return [a] if a is not None else []

    sc = testing.small_scenario("spark-synthetic", {"workload.jobs": 10})
    want = simulate(sc, ShortestRemainingWorkFirst(share, cap_source), 2).trace
    got = simulate(sc, Replay(share, cap_source), 2).trace
    assert got.tasks == want.tasks and got.decisions == want.decisions


def test_masks_give_invalid_choices_zero_probability(episode):
    decisions, actions = episode["decisions"], episode["actions"]
    assert len(decisions) > 5
    b = collate(decisions, actions)
    with torch.no_grad():
        logp, ent, slp, llp = net().evaluate(to_tensors(b))
    counts = np.bincount(b.stage_dec, minlength=b.num_decisions)
    for i, k in enumerate(counts):
        p = slp[i].exp().numpy()
        assert p[k:].sum() == 0 and math.isclose(p[:k].sum(), 1.0, rel_tol=1e-5)
        q = llp[i].exp().numpy()
        lo, hi = b.lo[i], b.hi[i]
        assert q[: lo - 1].sum() == 0 and q[hi:].sum() == 0
        assert math.isclose(q.sum(), 1.0, rel_tol=1e-5)
    assert torch.isfinite(logp).all() and (ent >= 0).all()
    assert slp.shape == (len(decisions), b.max_slots) and llp.shape == (len(decisions), TINY["cluster.executors"])


def test_batched_forward_equals_per_decision_forward(episode):
    decisions, actions = episode["decisions"], episode["actions"]
    model = net(1)
    with torch.no_grad():
        _, _, slp, llp = model.evaluate(to_tensors(collate(decisions, actions)))
    fast = NumpyDecima(model.state_dict())
    for i, d in enumerate(decisions):
        single = collate([d], actions[i : i + 1])
        with torch.no_grad():
            _, _, s1, l1 = model.evaluate(to_tensors(single))
        e, jobs, glob = fast.encode(d)
        ps = fast.stage_probs(d, e, jobs, glob)
        job = int(d.node_job[d.stage_node[actions[i, 0]]])
        pl = fast.limit_probs(d, job, jobs, glob)
        k = len(d.stage_node)
        np.testing.assert_allclose(slp[i, :k].exp().numpy(), ps, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(s1[0].exp().numpy(), ps, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(llp[i].exp().numpy(), pl, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(l1[0].exp().numpy(), pl, rtol=1e-4, atol=1e-6)


def test_greedy_is_deterministic_and_sampling_follows_the_seed():
    weights = net(2).state_dict()
    sc = tiny()

    def run(greedy, seed):
        return simulate(sc, DecimaScheduler.from_weights(weights, greedy=greedy), seed).metrics["avg_jct_s"]

    assert run(True, 4) == run(True, 4)
    assert run(False, 4) == run(False, 4)


def test_scheduler_conforms():
    weights = net(3).state_dict()
    testing.check_scheduler(lambda: DecimaScheduler.from_weights(weights), tiny())
    testing.check_scheduler(lambda: DecimaScheduler.from_weights(weights, greedy=False), tiny())


def test_returns_sum_to_total_completion_time_without_discount():
    arrival = np.array([0.0, 1000.0, 5000.0])
    completion = np.array([3000.0, 2000.0, 9000.0])
    times = np.array([0.0, 1000.0, 5000.0])
    r = discounted_returns(times, arrival, completion, 9000.0, 0.0)
    assert r[0] == pytest.approx(-(3 + 1 + 4))
    assert r[2] == pytest.approx(-4)
    rd = discounted_returns(times, arrival, completion, 9000.0, 5e-3)
    assert -rd[0] < 8 and rd[0] < 0
    b = baselines([times, times + 1.0], [r, r])
    assert np.allclose(b[0], r, atol=1e-2)


def _trainer(**params):
    sc = tiny()
    return DecimaTrainer(
        "spark",
        "decima",
        sc,
        train_seeds=(10_000, 10_100),
        steps=1,
        workers=1,
        seed=0,
        params={"bc_episodes": 2, "bc_epochs": 4, "jobs_start": 3, "jobs_step": 1, "rollouts": 2, **params},
    )


def test_behaviour_cloning_reduces_cross_entropy():
    tr = _trainer(bc_iterations=2, bc_learning_rate=3e-3, bc_minibatch=64)
    first = tr.iterate()
    second = tr.iterate()
    decisions, actions = tr._bc_data
    with torch.no_grad():
        logp, *_ = tr.net.evaluate(to_tensors(collate(decisions, actions)))
    fresh = net(0)  # the trainer's initial weights (same seed)
    with torch.no_grad():
        logp0, *_ = fresh.evaluate(to_tensors(collate(decisions, actions)))
    assert float(-logp.mean()) < float(-logp0.mean())
    assert second["bc_loss"] <= first["bc_loss"] + 1e-6
    tr.close()


def test_one_policy_gradient_iteration_and_resume_state():
    tr = _trainer()
    out = tr.iterate()
    assert {"policy_gradient_loss", "entropy", "approx_kl", "jobs"} <= set(out)
    assert all(math.isfinite(out[k]) for k in ("policy_gradient_loss", "entropy"))
    assert tr.num_timesteps > 0
    tensors, meta = tr.training_state()
    other = _trainer()
    other.load_training_state(tensors, meta)
    for k, v in tr.net.state_dict().items():
        assert torch.equal(v, other.net.state_dict()[k])
    assert other.num_timesteps == tr.num_timesteps
    tr.close()
    other.close()


def test_train_writes_a_loadable_policy(tmp_path):
    import yaml

    from schedlab.learn.policy import load_policy_scheduler
    from schedlab.learn.train import TrainConfig, train

    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny().model_dump(mode="json")))
    config = TrainConfig(
        family="spark",
        algorithm="decima",
        scenario=str(path),
        iterations=2,
        workers=1,
        val_seeds=[1000],
        val_every=2,
        params={"bc_iterations": 1, "bc_episodes": 1, "bc_epochs": 1, "jobs_start": 3, "rollouts": 2},
    )
    result = train(config, tmp_path / "out")
    assert result.iterations == 2 and result.best_value is not None
    sched = load_policy_scheduler(tmp_path / "out", family="spark")
    assert isinstance(sched, DecimaScheduler)
    assert simulate(tiny(), sched, 1).metrics["avg_jct_s"] > 0
    assert (tmp_path / "out" / "history.csv").is_file()


def test_shipped_weights_load_and_run():
    from typer.testing import CliRunner

    from schedlab.cli import app

    if shipped_decima() is None:
        pytest.skip("no decima policy shipped")
    sched = DecimaScheduler()
    assert sched._net.arch == {**ARCHITECTURE, **sched._net.arch}
    result = CliRunner().invoke(app, ["run", "spark-synthetic", "-s", "decima", "--jobs", "10", "--seed", "1"])
    assert result.exit_code == 0, result.output


def test_dagger_labels_the_policys_states_with_the_heuristic():
    tr = _trainer(bc_iterations=1, dagger_iterations=1, bc_episodes=1, bc_epochs=1, dagger_rollouts=2)
    tr.iterate()
    before = len(tr._bc_data[0])
    out = tr.iterate()
    assert out["dagger_states"] > before == len(tr._bc_data[0]) - (out["dagger_states"] - before)
    assert math.isfinite(out["bc_loss"])
    tr.close()
