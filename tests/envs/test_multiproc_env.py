"""The multiproc Gymnasium environment: API checks, reward == -metric, determinism, vector envs, learning."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest

gymnasium = pytest.importorskip("gymnasium")

from helpers import run_episode  # noqa: E402
from schedlab.families.multiproc.env import MultiprocEnv  # noqa: E402
from schedlab.metrics.checker import check_trace  # noqa: E402
from schedlab.sim.errors import InvalidActionError  # noqa: E402

SMALL = {"workload.phases": [{"kind": "stable", "tasks": 60, "utilization": 0.8}]}

# Two CPUs, one ten times faster, light load, deadlines only the fast CPU can meet: the slow CPU
# takes size / 1 s, the deadline is size / 5.5 s (mean speed, slack 1) after arrival.
IDENTITY = {
    "cluster.speeds": [1.0, 10.0],
    "workload.size_noise": 0.0,
    "workload.priority_probs": [1.0],
    "workload.sla_slack": [1.0],
    "workload.phases": [{"kind": "stable", "tasks": 32, "utilization": 0.05}],
}


def _random(env):
    return env.action_space.sample()


def _lwr(env):
    cpus = env.unwrapped.view.cpus
    return min(cpus, key=lambda c: (c.work_remaining / c.speed, -c.speed, c.id)).id


@pytest.mark.parametrize("weight", [0.0, 0.25])
@pytest.mark.parametrize("policy", [_random, _lwr], ids=["random", "lwr"])
def test_reward_sum_is_minus_the_metric_from_the_trace(policy, weight):
    env = MultiprocEnv("multiproc", SMALL, completion_weight=weight)
    env.action_space.seed(7)
    for seed in (1, 2):
        observations, rewards, infos = run_episode(env, policy, seed)
        assert all(env.observation_space.contains(o) for o in observations)
        trace, metrics = infos[-1]["trace"], infos[-1]["metrics"]
        report = check_trace(trace)
        assert report.ok, report
        jobs = trace.jobs
        completion = np.asarray(jobs["completion"], dtype=np.float64)
        assert not np.isnan(completion).any()  # every task completed
        arrival = np.asarray(jobs["arrival"], dtype=np.float64)
        violations = int(np.sum(completion > np.asarray(jobs["deadline"], dtype=np.float64)))
        assert violations == round(metrics["sla_violation_rate"] * metrics["completed_jobs"])
        expected = -(violations + weight * float(np.sum(completion - arrival)))
        assert math.isclose(sum(rewards), expected, rel_tol=1e-9, abs_tol=1e-9)
        assert sum(i["violations"] for i in infos) == violations
        assert sum(i["completed"] for i in infos) == len(arrival)


def test_lwr_actions_reproduce_the_lwr_scheduler():
    import schedlab

    env = MultiprocEnv("multiproc", SMALL)
    _, _, infos = run_episode(env, _lwr, 5)
    ref = schedlab.simulate(env.scenario, "lwr", seed=env.episode_seed)
    assert infos[-1]["trace"].decisions["worker"] == ref.trace.decisions["worker"]
    assert infos[-1]["metrics"]["sla_violation_rate"] == ref.metrics["sla_violation_rate"]


def test_gymnasium_env_checker_passes():
    from gymnasium.utils.env_checker import check_env

    env = gymnasium.make("schedlab/Multiproc-v0", scenario="multiproc", overrides=SMALL)
    check_env(env.unwrapped, skip_render_check=True)


def test_registered_and_importable_by_module_prefix():
    import schedlab.envs

    assert "schedlab/Multiproc-v0" in schedlab.envs.register_envs()
    env = gymnasium.make("schedlab.envs:schedlab/Multiproc-v0", overrides=SMALL)
    assert isinstance(env.unwrapped, MultiprocEnv)
    assert env.unwrapped.observation_space["cpus"].shape == (4, 5)
    assert env.unwrapped.action_masks().tolist() == [True] * 4


def test_same_seed_same_episode_other_seed_other_episode():
    env = MultiprocEnv("multiproc", SMALL)
    env.action_space.seed(0)
    obs_a, rew_a, _ = run_episode(env, _lwr, 11)
    obs_b, rew_b, _ = run_episode(env, _lwr, 11)
    assert rew_a == rew_b
    for a, b in zip(obs_a, obs_b, strict=True):
        np.testing.assert_array_equal(a["task"], b["task"])
        np.testing.assert_array_equal(a["cpus"], b["cpus"])
    first = env.reset(seed=11)[0]["task"]
    assert not np.array_equal(env.reset(seed=12)[0]["task"], first)
    # An explicit episode seed runs that episode, whatever the generator's state.
    _, info = env.reset(seed=99, options={"episode_seed": 3})
    assert info["episode_seed"] == env.episode_seed == 3


def test_bad_input_raises():
    from schedlab.errors import ConfigError

    env = MultiprocEnv("multiproc", SMALL)
    with pytest.raises(RuntimeError):
        env.step(0)
    env.reset(seed=0)
    for bad in (4, -1, 1.5, "x"):
        with pytest.raises(InvalidActionError):
            env.step(bad)
    with pytest.raises(ValueError):
        MultiprocEnv("multiproc", SMALL, completion_weight=-1)
    with pytest.raises(ConfigError):
        MultiprocEnv("spark-synthetic")


def test_async_vector_env_steps():
    make = functools.partial(MultiprocEnv, "multiproc", SMALL)
    envs = gymnasium.vector.AsyncVectorEnv([make, make])
    try:
        obs, _ = envs.reset(seed=[1, 2])
        assert obs["cpus"].shape == (2, 4, 5)
        for _ in range(5):
            obs, rewards, terminated, truncated, _ = envs.step(envs.action_space.sample())
        assert rewards.shape == (2,) and not truncated.any()
        # Run one episode out: the last step's info carries the trace across the process boundary.
        for _ in range(200):
            _, _, terminated, _, info = envs.step(envs.action_space.sample())
            if terminated.any():
                break
        assert terminated.any() and check_trace(info["trace"][np.argmax(terminated)]).ok
    finally:
        envs.close()


# SB3 recommends flat observations; its MultiInputPolicy flattens the (num_cpus, 5) box itself.
@pytest.mark.filterwarnings("ignore:Your observation cpus has an unconventional shape")
def test_stable_baselines3_env_checker_passes():
    pytest.importorskip("stable_baselines3")
    from stable_baselines3.common.env_checker import check_env

    check_env(MultiprocEnv("multiproc", SMALL), warn=True)


@pytest.mark.slow
def test_maskable_ppo_learns_the_fast_cpu():
    torch = pytest.importorskip("torch")
    pytest.importorskip("sb3_contrib")
    from sb3_contrib import MaskablePPO

    import schedlab

    torch.set_num_threads(1)
    env = MultiprocEnv("multiproc", IDENTITY)
    model = MaskablePPO(
        "MultiInputPolicy",
        env,
        n_steps=256,
        batch_size=64,
        n_epochs=4,
        learning_rate=3e-3,
        gamma=0.5,
        seed=0,
        device="cpu",
        policy_kwargs={"net_arch": [32, 32]},
    )
    model.learn(total_timesteps=2048)

    picks, learned, baseline = [], [], []
    for seed in range(1, 6):  # held out: training episodes draw seeds of 10,000 and up
        obs, _ = env.reset(options={"episode_seed": seed})
        while True:
            action, _ = model.predict(obs, deterministic=True, action_masks=env.action_masks())
            picks.append(int(action))
            obs, _, terminated, _, info = env.step(action)
            if terminated:
                break
        learned.append(info["metrics"]["sla_violation_rate"])
        baseline.append(schedlab.simulate(env.scenario, "random", seed=seed).metrics["sla_violation_rate"])
    assert np.mean(np.asarray(picks) == 1) > 0.9
    assert np.mean(learned) < np.mean(baseline)
