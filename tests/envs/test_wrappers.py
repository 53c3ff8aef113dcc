"""Simulated-time episode limits: truncation time, reward sum up to it, seeded random limits."""

from __future__ import annotations

import math

import numpy as np
import pytest

gymnasium = pytest.importorskip("gymnasium")

from schedlab.envs.wrappers import PARTIAL_TRACE_CHECKS, SimTimeLimit, StochasticTimeLimit  # noqa: E402
from schedlab.families.multiproc.env import MultiprocEnv  # noqa: E402
from schedlab.metrics.checker import check_trace, family_checks  # noqa: E402

SMALL = {"workload.phases": [{"kind": "stable", "tasks": 60, "utilization": 0.8}]}


def _episode(env, seed):
    """Run an episode with random actions; return the reset info, the step results and the times."""
    env.action_space.seed(seed)
    _, first = env.reset(seed=seed)
    steps = []
    while True:
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        steps.append((reward, terminated, truncated, info))
        if terminated or truncated:
            return first, steps


@pytest.mark.parametrize("limit", [2.0, 5.5])
def test_truncates_at_the_first_decision_point_at_or_past_the_limit(limit):
    env = SimTimeLimit(MultiprocEnv("multiproc", SMALL, completion_weight=1.0), limit)
    for seed in (1, 2):
        first, steps = _episode(env, seed)
        assert first["time_limit_s"] == limit
        *before, (reward, terminated, truncated, info) = steps
        assert truncated and not terminated
        assert not any(t or tr for _, t, tr, _ in before)
        # Every decision was taken before the limit; the episode stops at the first one past it.
        assert first["time_s"] < limit and all(i["time_s"] < limit for *_, i in before)
        assert info["truncated_at_s"] == info["time_s"] >= limit
        # The rewards are those of the tasks completed by then: minus SLA violations and
        # completion times, from the partial trace.
        trace = info["trace"]
        jobs = trace.jobs
        done = [c is not None for c in jobs["completion"]]
        completion = np.asarray([c for c in jobs["completion"] if c is not None], dtype=np.float64)
        assert completion.size and completion.max() <= info["truncated_at_s"]
        arrival = np.asarray(jobs["arrival"], dtype=np.float64)[done]
        deadline = np.asarray(jobs["deadline"], dtype=np.float64)[done]
        expected = -(np.sum(completion > deadline) + np.sum(completion - arrival))
        assert math.isclose(sum(r for r, *_ in steps), expected, rel_tol=1e-9, abs_tol=1e-9)
        # Unfinished work fails tasks_once and completion; the rest of the checker holds.
        assert check_trace(trace, checks=PARTIAL_TRACE_CHECKS + family_checks(trace.family)).ok
        assert trace.meta["truncated_at_s"] == info["truncated_at_s"]


def test_gpu_truncated_reward_sum_is_minus_the_completion_times_so_far():
    from schedlab.families.gpu.env import GpuEnv

    online = {"workload.jobs": 10, "workload.mode": "online", "workload.arrival_rate_per_s": 0.05}
    env = SimTimeLimit(GpuEnv("gpu", online), 60.0)
    for seed in (1, 2):
        _, steps = _episode(env, seed)
        reward, terminated, truncated, info = steps[-1]
        assert truncated and not terminated and info["truncated_at_s"] >= 60.0
        jobs = info["trace"].jobs
        done = [c is not None for c in jobs["completion"]]
        assert 0 < sum(done) < len(done)
        completion = np.asarray([c for c in jobs["completion"] if c is not None], dtype=np.float64)
        arrival = np.asarray(jobs["arrival"], dtype=np.float64)[done]
        assert math.isclose(sum(r for r, *_ in steps), -float(np.sum(completion - arrival)), rel_tol=1e-12)
        trace = info["trace"]
        assert check_trace(trace, checks=PARTIAL_TRACE_CHECKS + family_checks(trace.family)).ok


def test_a_limit_past_the_workload_changes_nothing():
    env = MultiprocEnv("multiproc", SMALL)
    wrapped = SimTimeLimit(MultiprocEnv("multiproc", SMALL), 1e9)
    _, plain = _episode(env, 3)
    _, steps = _episode(wrapped, 3)
    assert [s[0] for s in steps] == [s[0] for s in plain]
    assert steps[-1][1] and not steps[-1][2] and "truncated_at_s" not in steps[-1][3]
    assert check_trace(steps[-1][3]["trace"]).ok


def test_stochastic_limit_is_seeded_and_exponential():
    env = StochasticTimeLimit(MultiprocEnv("multiproc", SMALL), 4.0)
    assert env.limit_s == math.inf and env.mean_s == 4.0
    first, steps = _episode(env, 5)
    again, steps_again = _episode(env, 5)
    assert first["time_limit_s"] == again["time_limit_s"] == env.limit_s
    assert first["episode_seed"] == again["episode_seed"]
    assert [s[0] for s in steps] == [s[0] for s in steps_again]
    # The episode is the unwrapped environment's episode for that seed: the draw comes after it.
    _, plain = MultiprocEnv("multiproc", SMALL).reset(seed=5)
    assert plain["episode_seed"] == first["episode_seed"]
    *_, (_, terminated, truncated, info) = steps
    assert truncated or terminated
    if truncated:
        assert info["truncated_at_s"] >= first["time_limit_s"] > max(i["time_s"] for *_, i in steps[:-1])
    assert env.reset(seed=6)[1]["time_limit_s"] != first["time_limit_s"]

    # Unseeded resets go on drawing from the environment's generator: mean close to mean_s.
    env.reset(seed=0)
    draws = np.array([env.reset()[1]["time_limit_s"] for _ in range(600)])
    assert (draws > 0).all()
    # The mean of 600 exponentials has a standard deviation of mean / sqrt(600), about 4%.
    assert abs(draws.mean() - 4.0) < 4.0 * 0.16


def test_works_on_a_made_environment_and_passes_the_checkers():
    pytest.importorskip("stable_baselines3")
    from gymnasium.utils.env_checker import check_env as gym_check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    import schedlab.envs  # noqa: F401

    made = gymnasium.make("schedlab/Multiproc-v0", scenario="multiproc", overrides=SMALL)
    env = SimTimeLimit(made, 3.0)
    _, steps = _episode(env, 0)
    assert steps[-1][2] and "trace" in steps[-1][3]
    stochastic = StochasticTimeLimit(gymnasium.make("schedlab/Multiproc-v0", overrides=SMALL), 3.0)
    _, steps = _episode(stochastic, 0)
    assert steps[-1][1] or steps[-1][2]

    # A limit the first step cannot reach, or gymnasium's checker sees an episode truncated at once.
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*unconventional shape")
        warnings.filterwarnings("ignore", message=".*is different from the unwrapped version")
        sb3_check_env(SimTimeLimit(MultiprocEnv("multiproc", SMALL), 30.0), warn=True)
        sb3_check_env(StochasticTimeLimit(MultiprocEnv("multiproc", SMALL), 30.0), warn=True)
        gym_check_env(SimTimeLimit(MultiprocEnv("multiproc", SMALL), 30.0), skip_render_check=True)


@pytest.mark.parametrize("bad", [0, -1.0, math.inf, math.nan, "5", None, True])
def test_bad_limits_raise(bad):
    with pytest.raises(ValueError):
        SimTimeLimit(MultiprocEnv("multiproc", SMALL), bad)
    with pytest.raises(ValueError):
        StochasticTimeLimit(MultiprocEnv("multiproc", SMALL), bad)
