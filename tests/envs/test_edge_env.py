"""The edge Gymnasium environment: API checks, reward == -metric, determinism."""

from __future__ import annotations

import math

import numpy as np
import pytest

gymnasium = pytest.importorskip("gymnasium")

from helpers import run_episode  # noqa: E402
from schedlab.families.edge.env import NODE_FEATURES, EdgeEnv  # noqa: E402
from schedlab.metrics.checker import check_trace  # noqa: E402
from schedlab.sim.errors import InvalidActionError  # noqa: E402

SMALL = {"workload.jobs": 60}


def _random(env):
    return env.action_space.sample()


def _least_delay(env):
    return min(env.unwrapped.view.nodes, key=lambda n: (n.delay, n.id)).id


@pytest.mark.parametrize("weight", [0.0, 2.0])
@pytest.mark.parametrize("policy", [_random, _least_delay], ids=["random", "least-delay"])
def test_reward_sum_is_minus_the_metric_from_the_trace(policy, weight):
    env = EdgeEnv("edge", SMALL, latency_weight=weight)
    env.action_space.seed(7)
    for seed in (1, 2):
        observations, rewards, infos = run_episode(env, policy, seed)
        assert all(env.observation_space.contains(o) for o in observations)
        trace, metrics = infos[-1]["trace"], infos[-1]["metrics"]
        report = check_trace(trace)
        assert report.ok, report
        jobs = trace.jobs
        completion = np.asarray(jobs["completion"], dtype=np.float64)
        assert not np.isnan(completion).any()  # every request served
        arrival = np.asarray(jobs["arrival"], dtype=np.float64)
        misses = int(np.sum(completion > np.asarray(jobs["deadline"], dtype=np.float64)))
        assert misses == round(metrics["deadline_miss_rate"] * metrics["completed_jobs"])
        latency_s = float(np.sum(completion - arrival)) * trace.seconds_per_unit
        assert math.isclose(latency_s, metrics["latency_mean_ms"] * len(arrival) / 1e3, rel_tol=1e-9)
        expected = -(misses + weight * latency_s)
        assert math.isclose(sum(rewards), expected, rel_tol=1e-9, abs_tol=1e-9)
        assert sum(i["misses"] for i in infos) == misses
        assert sum(i["completed"] for i in infos) == len(arrival) == SMALL["workload.jobs"]


def test_least_delay_actions_reproduce_the_least_delay_scheduler():
    import schedlab

    env = EdgeEnv("edge", SMALL)
    _, _, infos = run_episode(env, _least_delay, 5)
    ref = schedlab.simulate(env.scenario, "least-delay", seed=env.episode_seed)
    assert infos[-1]["trace"].decisions["worker"] == ref.trace.decisions["worker"]
    assert infos[-1]["metrics"]["deadline_miss_rate"] == ref.metrics["deadline_miss_rate"]


def test_gymnasium_env_checker_passes():
    from gymnasium.utils.env_checker import check_env

    env = gymnasium.make("schedlab/Edge-v0", scenario="edge", overrides=SMALL)
    check_env(env.unwrapped, skip_render_check=True)


def test_registered_and_importable_by_module_prefix():
    import schedlab.envs

    assert "schedlab/Edge-v0" in schedlab.envs.register_envs()
    env = gymnasium.make("schedlab.envs:schedlab/Edge-v0", overrides={**SMALL, "cluster.nodes": 4})
    assert isinstance(env.unwrapped, EdgeEnv)
    assert env.unwrapped.observation_space["request"].shape == (2,)
    assert env.unwrapped.observation_space["nodes"].shape == (4, len(NODE_FEATURES))
    assert env.unwrapped.action_space.n == 4
    assert env.unwrapped.action_masks().tolist() == [True] * 4


def test_same_seed_same_episode_other_seed_other_episode():
    env = EdgeEnv("edge", SMALL)
    obs_a, rew_a, _ = run_episode(env, _least_delay, 11)
    obs_b, rew_b, _ = run_episode(env, _least_delay, 11)
    assert rew_a == rew_b
    for a, b in zip(obs_a, obs_b, strict=True):
        np.testing.assert_array_equal(a["request"], b["request"])
        np.testing.assert_array_equal(a["nodes"], b["nodes"])
    first = env.reset(seed=11)[0]["nodes"]
    assert not np.array_equal(env.reset(seed=12)[0]["nodes"], first)
    _, info = env.reset(seed=99, options={"episode_seed": 3})
    assert info["episode_seed"] == env.episode_seed == 3


def test_bad_input_raises():
    from schedlab.errors import ConfigError

    env = EdgeEnv("edge", SMALL)
    with pytest.raises(RuntimeError):
        env.step(0)
    env.reset(seed=0)
    for bad in (env.num_nodes, -1, 1.5, "x"):
        with pytest.raises(InvalidActionError):
            env.step(bad)
    with pytest.raises(ValueError):
        EdgeEnv("edge", SMALL, latency_weight=-1)
    with pytest.raises(ValueError):
        EdgeEnv("edge", SMALL, render_mode="human")
    with pytest.raises(ConfigError):
        EdgeEnv("multiproc")


# SB3 recommends flat observations; its MultiInputPolicy flattens the (nodes, 6) box itself.
@pytest.mark.filterwarnings("ignore:Your observation nodes has an unconventional shape")
def test_stable_baselines3_env_checker_passes():
    pytest.importorskip("stable_baselines3")
    from stable_baselines3.common.env_checker import check_env

    check_env(EdgeEnv("edge", SMALL), warn=True)
