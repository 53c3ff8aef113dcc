"""The hetero Gymnasium environment: API checks, reward == -metric for both objectives, determinism."""

from __future__ import annotations

import math

import numpy as np
import pytest

gymnasium = pytest.importorskip("gymnasium")

from helpers import run_episode  # noqa: E402
from schedlab.errors import ConfigError  # noqa: E402
from schedlab.families.hetero.env import NODE_FEATURES, HeteroEnv  # noqa: E402
from schedlab.metrics.checker import check_trace  # noqa: E402
from schedlab.sim.errors import InvalidActionError  # noqa: E402
from schedlab.testing import small_scenario  # noqa: E402

# Three batches (at 0, 15 and 30 s) of at most 20 tasks each, on the preset's nine nodes.
SMALL = small_scenario("hetero", size=20)


def _random(env):
    return env.action_space.sample()


def _earliest_finish(env):
    view = env.unwrapped.view
    task = view.waiting[0]
    return min(view.nodes, key=lambda n: (n.backlog_s + task.expected[n.id], n.id)).id


@pytest.mark.parametrize("objective", ["sum_completion", "makespan"])
@pytest.mark.parametrize("policy", [_random, _earliest_finish], ids=["random", "earliest-finish"])
def test_reward_sum_is_minus_the_metric_from_the_trace(policy, objective):
    env = HeteroEnv(SMALL, objective=objective)
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
        sec = trace.seconds_per_unit
        if objective == "sum_completion":
            expected = -float(np.sum(completion - arrival)) * sec
            assert math.isclose(expected, -metrics["avg_jct_s"] * metrics["jobs"], rel_tol=1e-9)
        else:
            ends = np.concatenate([np.asarray(trace.tasks["end"], dtype=np.float64), completion])
            expected = -(float(ends.max()) - float(arrival.min())) * sec
            assert math.isclose(expected, -metrics["makespan_s"], rel_tol=1e-12)
            assert all(r <= 0 for r in rewards)
        assert math.isclose(sum(rewards), expected, rel_tol=1e-9, abs_tol=1e-9)
        assert sum(i["completed"] for i in infos) == len(arrival) == len(rewards)


def test_makespan_is_measured_from_the_earliest_arrival():
    # The only batch arrives at 5 s: the makespan (and the reward sum) does not count the 5 s.
    env = HeteroEnv(SMALL, {"workload.batches": [{"at_s": 5.0, "tasks": 8}]}, objective="makespan")
    _, rewards, infos = run_episode(env, _earliest_finish, 1)
    assert math.isclose(sum(rewards), -infos[-1]["metrics"]["makespan_s"], rel_tol=1e-9)
    last = max(infos[-1]["trace"].jobs["completion"])
    assert math.isclose(-sum(rewards), last - 5.0, rel_tol=1e-9)
    assert math.isclose(infos[-1]["makespan_s"], infos[-1]["metrics"]["makespan_s"], rel_tol=1e-12)


def test_gymnasium_env_checker_passes():
    from gymnasium.utils.env_checker import check_env

    for objective in ("sum_completion", "makespan"):
        env = gymnasium.make("schedlab/Hetero-v0", scenario=SMALL, objective=objective)
        check_env(env.unwrapped, skip_render_check=True)


def test_registered_and_importable_by_module_prefix():
    import schedlab.envs

    assert "schedlab/Hetero-v0" in schedlab.envs.register_envs()
    env = gymnasium.make("schedlab.envs:schedlab/Hetero-v0", scenario=SMALL)
    assert isinstance(env.unwrapped, HeteroEnv)
    n = len(SMALL.cluster.nodes)
    assert env.unwrapped.observation_space["task"].shape == (n,)
    assert env.unwrapped.observation_space["nodes"].shape == (n, len(NODE_FEATURES))
    assert env.unwrapped.action_masks().tolist() == [True] * n


def test_same_seed_same_episode_other_seed_other_episode():
    env = HeteroEnv(SMALL)
    obs_a, rew_a, _ = run_episode(env, _earliest_finish, 11)
    obs_b, rew_b, _ = run_episode(env, _earliest_finish, 11)
    assert rew_a == rew_b
    for a, b in zip(obs_a, obs_b, strict=True):
        np.testing.assert_array_equal(a["task"], b["task"])
        np.testing.assert_array_equal(a["nodes"], b["nodes"])
    first = env.reset(seed=11)[0]["task"]
    assert not np.array_equal(env.reset(seed=12)[0]["task"], first)
    _, info = env.reset(seed=99, options={"episode_seed": 3})
    assert info["episode_seed"] == env.episode_seed == 3


def test_bad_input_raises():
    from schedlab.errors import ConfigError

    env = HeteroEnv(SMALL)
    with pytest.raises(RuntimeError):
        env.step(0)
    env.reset(seed=0)
    for bad in (env.num_nodes, -1, 1.5, "x"):
        with pytest.raises(InvalidActionError):
            env.step(bad)
    with pytest.raises(ValueError):
        HeteroEnv(SMALL, objective="tardiness")
    with pytest.raises(ValueError):
        HeteroEnv(SMALL, render_mode="human")
    with pytest.raises(ConfigError):
        HeteroEnv("edge")


# SB3 recommends flat observations; its MultiInputPolicy flattens the (nodes, 3) box itself.
@pytest.mark.filterwarnings("ignore:Your observation nodes has an unconventional shape")
def test_stable_baselines3_env_checker_passes():
    pytest.importorskip("stable_baselines3")
    from stable_baselines3.common.env_checker import check_env

    check_env(HeteroEnv(SMALL, objective="makespan"), warn=True)


# -- the unprofiled observation ---------------------------------------------------------------


def test_unprofiled_observation_passes_the_checkers_and_hides_the_profile():
    from gymnasium.utils.env_checker import check_env

    env = HeteroEnv(SMALL, observation="unprofiled", objective="makespan")
    check_env(env, skip_render_check=True)
    obs, _ = env.reset(seed=3)
    view = env.unwrapped.view
    task = view.waiting[0]
    assert set(obs) == {"task", "batch", "nodes"}
    # The type one-hot and the two size scalars; no per-node duration anywhere.
    assert obs["task"][:4].sum() == 1.0 and obs["task"].shape == (6,)
    assert obs["nodes"].shape == (9, 10)
    # A node with other expected durations (fewer CPUs, same name) observes alike.
    nodes = [n.model_dump(mode="json") for n in env.scenario.cluster.nodes]
    nodes[3]["cpus"] = 0.5
    slower = HeteroEnv(small_scenario(SMALL, {"cluster.nodes": nodes}), observation="unprofiled")
    other, _ = slower.reset(seed=3)
    assert slower.unwrapped.view.waiting[0].expected[3] > task.expected[3]
    for k in obs:
        np.testing.assert_array_equal(obs[k], other[k])


def test_unprofiled_nodes_count_the_tasks_they_hold():
    env = HeteroEnv(SMALL, observation="unprofiled")
    obs, _ = env.reset(seed=5)
    first = env.unwrapped.view.waiting[0]
    k = ("matmul", "primes", "sort", "file_io").index(first.type)
    assert obs["nodes"].sum() == 0.0
    obs, *_ = env.step(2)
    assert obs["nodes"][2, k] == pytest.approx(0.25)  # one task of that type
    assert obs["nodes"][2, 4 + k] == pytest.approx(obs_complexity(first))
    assert obs["nodes"][[0, 1, 3, 4, 5, 6, 7, 8]].sum() == 0.0


def obs_complexity(task):
    from schedlab.families.hetero.tasks import complexity

    return complexity(task.type, task.size)


def test_a_policy_runs_on_a_cluster_with_a_node_removed():
    """Slots follow node names: the missing node's slot is masked and stays zero."""
    from schedlab.sim.simulation import Simulation

    env = HeteroEnv(SMALL, observation="unprofiled")
    nodes = [n.model_dump(mode="json") for n in env.scenario.cluster.nodes]
    smaller = small_scenario(SMALL, {"cluster.nodes": nodes[:3] + nodes[4:]})
    sim = Simulation(smaller, 1)
    while not sim.done:
        view = sim.observe()
        mask = env.view_action_masks(view)
        assert mask.tolist() == [True] * 3 + [False] + [True] * 5
        obs = env.observe_view(view)
        assert obs["nodes"][3].sum() == 0.0
        slot = int(np.flatnonzero(mask)[-1])  # the last slot: node 7 of the smaller cluster
        actions = env.view_actions(view, slot)
        assert actions[0].worker == 7
        with pytest.raises(ConfigError, match="not in this run's cluster"):
            env.view_actions(view, 3)
        sim.act(actions)
    assert check_trace(sim.trace()).ok


@pytest.mark.parametrize("observation", ["profiled", "unprofiled"])
@pytest.mark.parametrize("change", ["fewer", "more"])
def test_a_policy_is_refused_on_a_cluster_its_observation_cannot_hold(observation, change):
    """Profiled rows are nodes by position: another node count is refused. Unprofiled slots are
    named: a node removed is masked (above), a node added would never be chosen, so it is refused."""
    from schedlab.sim.simulation import Simulation

    env = HeteroEnv(SMALL, observation=observation)
    nodes = [n.model_dump(mode="json") for n in env.scenario.cluster.nodes]
    if change == "fewer":
        nodes = nodes[:-1]
    else:
        nodes = [*nodes, {**nodes[-1], "name": "added"}]
    sim = Simulation(small_scenario(SMALL, {"cluster.nodes": nodes}), 1)
    view = sim.observe()
    if observation == "unprofiled" and change == "fewer":
        assert env.view_action_masks(view).tolist() == [True] * 8 + [False]
        return
    match = "added" if observation == "unprofiled" else f"has {len(nodes)} node.s., but the observation .* has 9"
    for probe in (env.view_action_masks, env.observe_view):
        with pytest.raises(ConfigError, match=match) as e:
            probe(view)
        assert e.value.field == "cluster.nodes"


def test_view_label_reads_the_offered_task_off_a_whole_batch_answer():
    from schedlab.schedulers import make
    from schedlab.sim.simulation import Simulation

    for observation in ("profiled", "unprofiled"):
        env = HeteroEnv(SMALL, observation=observation)
        sim = Simulation(env.scenario, 2)
        sched = make("global-sjf", "hetero")
        sched.reset(sim.scheduler_rng)
        view = sim.observe()
        answer = list(sched.decide(view))
        assert len(answer) == len(view.waiting) > 1
        label = env.view_label(view, answer, env.view_action_masks(view))
        first = view.waiting[0].id
        assert [a for a in answer if a.task == first] == env.view_actions(view, label)
        assert env.view_label(view, [], env.view_action_masks(view)) is None


def test_bad_observation_mode():
    with pytest.raises(ValueError, match="observation must be one of"):
        HeteroEnv(SMALL, observation="oracle")


def test_relative_complexities_average_one_over_the_tasks_in_the_system():
    env = HeteroEnv(SMALL, observation="unprofiled", relative=True)
    obs, _ = env.reset(seed=4)
    for _ in range(5):
        # Every task in the system is counted once: the offered one, the other waiting ones and
        # those the nodes hold; their relative complexities average 1.
        total = obs["task"][5] + obs["batch"][4:].sum() + obs["nodes"][:, 4:8].sum()
        count = 1 + obs["batch"][:4].sum() * 4 + obs["nodes"][:, :4].sum() * 4
        assert obs["task"][4] == 0.0
        assert total / count == pytest.approx(1.0, rel=1e-5)
        obs, *_ = env.step(int(env.action_masks().argmax()))
    with pytest.raises(ValueError, match="relative applies to the unprofiled observation only"):
        HeteroEnv(SMALL, relative=True)
