"""The gpu Gymnasium environment: API checks, reward == -metric, eft through the env, graphs, vector envs."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest

gymnasium = pytest.importorskip("gymnasium")

from schedlab.errors import InvalidActionError  # noqa: E402
from schedlab.families.gpu.env import (  # noqa: E402
    CANDIDATE_FEATURES,
    NODE_FEATURES,
    GpuEnv,
    graph_arrays,
)
from schedlab.metrics.checker import check_trace  # noqa: E402
from schedlab.sim.actions import Place  # noqa: E402

# Eight requests at t=0 on the built-in config (1-GPU 7B LLM, 2-GPU 30B LLM, Stable Diffusion).
SMALL = {"workload.jobs": 8}
# Arrivals over time, so that the system empties and fills again and waiting has a cost.
ONLINE = {"workload.jobs": 10, "workload.mode": "online", "workload.arrival_rate_per_s": 0.05}
MODES = ("flat", "graph")


def _run(env, policy, seed=None, options=None):
    obs, info = env.reset(seed=seed, options=options)
    observations, rewards, infos = [obs], [], [info]
    while True:
        obs, reward, terminated, truncated, info = env.step(policy(env))
        assert not truncated
        observations.append(obs)
        rewards.append(reward)
        infos.append(info)
        if terminated:
            return observations, rewards, infos


def _random(env):
    # The action space samples among the valid actions (waiting included).
    return env.action_space.sample()


class _SchedulerPolicy:
    """A gpu scheduler's actions, one placement per step: its list at a decision point in order.

    When the scheduler places nothing, the agent waits, as ``apply([])`` does under simulate.
    """

    def __init__(self, name):
        from schedlab.schedulers import make

        self.scheduler = make(name, "gpu")
        self.pending: list[Place] = []
        self.episode = None

    def __call__(self, env):
        env = env.unwrapped
        if self.episode is not env.sim:
            self.episode = env.sim
            self.pending = []
            self.scheduler.reset(env.sim.scheduler_rng)
        if not self.pending:
            self.pending = list(self.scheduler.decide(env.view))
            if not self.pending:
                return env.wait_action
        return env.candidates.index(self.pending.pop(0))


def _request_completion_sum(trace):
    completion = np.asarray(trace.jobs["completion"], dtype=np.float64)
    assert not np.isnan(completion).any()  # every request completed
    return float(np.sum((completion - np.asarray(trace.jobs["arrival"], dtype=np.float64)) * trace.seconds_per_unit))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("policy", ["random", "eft"])
@pytest.mark.parametrize("overrides", [SMALL, ONLINE], ids=["offline", "online"])
def test_reward_sum_is_minus_the_sum_of_request_completion_times(policy, mode, overrides):
    env = GpuEnv("gpu", overrides, observation=mode, max_candidates=256)
    env.action_space.seed(7)
    act = _random if policy == "random" else _SchedulerPolicy("eft")
    for seed in (1, 2):
        observations, rewards, infos = _run(env, act, seed)
        assert all(env.observation_space.contains(o) for o in observations)
        trace, metrics = infos[-1]["trace"], infos[-1]["metrics"]
        report = check_trace(trace)
        assert report.ok, report
        assert "gangs" in report.checks
        total = _request_completion_sum(trace)
        assert math.isclose(sum(rewards), -total, rel_tol=1e-12, abs_tol=1e-9)
        assert math.isclose(metrics["avg_jct_s"] * metrics["completed_jobs"], total, rel_tol=1e-9)
        assert sum(i["completed"] for i in infos[1:]) == len(trace.jobs["id"]) == metrics["completed_jobs"]


@pytest.mark.parametrize("name", ["eft", "ray-like"])
@pytest.mark.parametrize("overrides", [SMALL, ONLINE], ids=["offline", "online"])
def test_scheduler_actions_through_the_env_reproduce_simulate(name, overrides):
    import schedlab

    env = GpuEnv("gpu", overrides, max_candidates=256)
    for seed in (3, 4):
        _, _, infos = _run(env, _SchedulerPolicy(name), options={"episode_seed": seed})
        trace, metrics = infos[-1]["trace"], infos[-1]["metrics"]
        ref = schedlab.simulate(env.scenario, name, seed=seed)
        assert trace.tasks == ref.trace.tasks
        assert trace.jobs == ref.trace.jobs
        assert trace.decisions == ref.trace.decisions
        # The env counts one decision per step (a placement or a wait), simulate one per call of
        # decide (a list of placements), and times no scheduler: only those keys differ.
        differ = {k for k in metrics.keys() | ref.metrics.keys() if metrics.get(k) != ref.metrics.get(k)}
        assert differ <= {"decisions", "decision_time_mean_us", "decision_time_total_s"}


def test_candidates_are_the_first_valid_actions_in_order():
    for k in (2, 256):
        env = GpuEnv("gpu", ONLINE, max_candidates=k)
        env.action_space.seed(0)
        env.reset(seed=5)
        for _ in range(40):
            valid = env.view.valid_actions()
            assert list(env.candidates) == valid[:k]
            mask = env.action_masks()
            assert (
                mask.shape == (k + 1,) and mask[: len(env.candidates)].all() and not mask[len(env.candidates) : k].any()
            )
            if env.step(_random(env))[2]:
                break


def test_default_max_candidates_and_graph_maxima_come_from_the_scenario():
    env = GpuEnv("gpu", SMALL, observation="graph")
    # 4 GPUs, smallest gang 1: 16 ready nodes on each of 4 gangs; 8 requests of at most 4 nodes, 4 edges.
    assert (env.max_candidates, env.max_requests, env.max_nodes, env.max_edges) == (64, 8, 32, 32)
    assert env.action_space.n == 65 and env.wait_action == 64
    assert env.observation_space["candidates"].shape == (64, len(CANDIDATE_FEATURES) + 3)
    assert env.observation_space["x"].shape == (32, len(NODE_FEATURES) + 3)
    assert env.models == ("llm7b", "llm30b", "stable_diffusion")
    big = GpuEnv("gpu", {"cluster.gpus": 8})
    assert big.max_candidates == 16 * 8 and big.max_requests == 40


def test_wait_advances_to_the_next_event_and_is_masked_when_none_is_left():
    env = GpuEnv("gpu", ONLINE)
    env.reset(seed=3)
    t0 = env.view.now
    ready = {n.task for n in env.view.ready}
    nxt = env.sim.engine.peek()
    assert env.action_masks()[-1]
    _, reward, terminated, _, info = env.step(env.wait_action)
    assert not terminated and reward == 0.0 and info["time_s"] == nxt > t0
    assert ready <= {n.task for n in env.view.ready}  # the ready nodes are offered again

    # One request: once it has arrived nothing else will, and nothing runs, so it must be placed.
    lone = GpuEnv("gpu", {"workload.jobs": 1})
    obs, _ = lone.reset(seed=0)
    assert not lone.action_masks()[-1] and obs["global"][3] == 0.0
    with pytest.raises(InvalidActionError):
        lone.step(lone.wait_action)
    _, rewards, infos = _run(lone, _random, seed=0)
    assert infos[-1]["metrics"]["completed_jobs"] == 1


def test_bad_input_raises():
    from schedlab.errors import ConfigError

    env = GpuEnv("gpu", SMALL)
    with pytest.raises(RuntimeError):
        env.step(0)
    # With no decision point open every action is marked valid (a mask must allow one).
    assert env.action_masks().all()
    env.reset(seed=0)
    offered = len(env.candidates)
    for bad in (offered, env.max_candidates - 1, env.max_candidates + 1, -1, 1.5, "x", None):
        with pytest.raises(InvalidActionError):
            env.step(bad)
    env.step(np.int64(0))  # numpy integers are fine
    for kwargs in (
        {"observation": "image"},
        {"max_candidates": 0},
        {"max_requests": -2},
        {"max_nodes": True},
        {"observation": "graph", "max_nodes": 2},
        {"render_mode": "human"},
    ):
        with pytest.raises(ValueError):
            GpuEnv("gpu", SMALL, **kwargs)
    with pytest.raises(ConfigError):
        GpuEnv("multiproc")


@pytest.mark.parametrize("mode", MODES)
def test_same_seed_same_episode_other_seed_other_episode(mode):
    env = GpuEnv("gpu", ONLINE, observation=mode)

    def run(seed):
        env.action_space.seed(0)
        return _run(env, _random, seed)

    obs_a, rew_a, _ = run(11)
    obs_b, rew_b, _ = run(11)
    assert rew_a == rew_b
    for a, b in zip(obs_a, obs_b, strict=True):
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])
    _, rew_c, _ = run(12)
    assert rew_c != rew_a
    _, info = env.reset(seed=99, options={"episode_seed": 3})
    assert info["episode_seed"] == env.episode_seed == 3


def test_graph_observation_describes_the_requests_in_the_system():
    env = GpuEnv("gpu", ONLINE, observation="graph")
    flat = GpuEnv("gpu", ONLINE)
    env.action_space.seed(1)
    obs, _ = env.reset(seed=8)
    flat.reset(seed=8)
    for _ in range(60):
        view = env.view
        n, e, r = int(obs["num_nodes"][0]), int(obs["num_edges"][0]), int(obs["num_requests"][0])
        g = graph_arrays(view, env.candidates, max_requests=env.max_requests)
        # The plain function gives the padded observation's rows.
        np.testing.assert_array_equal(obs["x"][:n], g.x)
        np.testing.assert_array_equal(obs["edge_index"][:, :e], g.edge_index)
        np.testing.assert_array_equal(obs["node_request"][:n], g.node_request)
        np.testing.assert_array_equal(obs["ready"][:n].astype(bool), g.ready)
        assert not obs["x"][n:].any() and not obs["edge_index"][:, e:].any() and not obs["requests"][r:].any()
        # Every ready node is in the graph, flagged ready; every edge joins two real rows.
        assert {int(t) for t in g.node_task[g.ready]} == {nd.task for nd in view.ready}
        assert (g.edge_index < n).all()
        for parent, child in g.edge_index.T:
            assert g.node_request[parent] == g.node_request[child]
        # Each request's unfinished nodes, one slot per request.
        model = env.sim.model  # an independent count: arrived (some node made ready), not complete
        arrived = [
            q.id for q in model._requests if q.completion is None and any(nd.gid in model._ready_at for nd in q.nodes)
        ]
        assert sorted(int(q) for q in g.requests) == arrived
        assert {nd.request for nd in view.ready} <= set(arrived)
        assert r == len(set(g.node_request.tolist()))
        left = {int(q): view.request(int(q)).nodes_left for q in g.requests}
        for slot, q in enumerate(g.requests):
            assert np.sum(g.node_request == slot) <= left[int(q)]
        # The candidate table points at the candidate's node, with its gang.
        c = len(env.candidates)
        for i, (task, gang) in enumerate(env.candidates):
            assert g.node_task[obs["cand_node"][i]] == task
            assert np.flatnonzero(obs["cand_gpus"][i]).tolist() == list(gang)
        assert not obs["cand_gpus"][c:].any()
        # With the default maxima the graph mode offers what the flat mode offers.
        assert env.candidates == flat.candidates
        np.testing.assert_array_equal(obs["candidates"], flat._observation(flat.view)["candidates"])
        action = _random(env)
        obs, _, terminated, _, _ = env.step(action)
        flat.step(action)
        if terminated:
            break


def test_graph_maxima_keep_the_first_candidates_requests():
    env = GpuEnv("gpu", SMALL, observation="graph", max_requests=2)
    env.action_space.seed(0)
    obs, _ = env.reset(seed=4)
    while True:
        assert int(obs["num_requests"][0]) <= 2
        view = env.view
        slots = {int(q) for q in graph_arrays(view, env.candidates, max_requests=2).requests}
        request_of = {nd.task: nd.request for nd in view.ready}
        assert {request_of[task] for task, _ in env.candidates} <= slots
        assert env.action_masks().any()
        obs, _, terminated, _, info = env.step(_random(env))
        if terminated:
            break
    assert check_trace(info["trace"]).ok


def test_graph_arrays_batch_in_pytorch_geometric():
    torch = pytest.importorskip("torch")
    pyg = pytest.importorskip("torch_geometric.data")

    env = GpuEnv("gpu", SMALL, observation="graph")
    graphs = []
    for seed in (1, 2):
        obs, _ = env.reset(seed=seed)
        for _ in range(5):
            obs, *_ = env.step(_random(env))
        n, e = int(obs["num_nodes"][0]), int(obs["num_edges"][0])
        graphs.append(pyg.Data(x=torch.from_numpy(obs["x"][:n]), edge_index=torch.from_numpy(obs["edge_index"][:, :e])))
    batch = pyg.Batch.from_data_list(graphs)
    assert batch.num_nodes == sum(g.num_nodes for g in graphs)
    assert batch.edge_index.shape[1] == sum(g.edge_index.shape[1] for g in graphs)


@pytest.mark.parametrize("mode", MODES)
def test_gymnasium_env_checker_passes(mode):
    from gymnasium.utils.env_checker import check_env

    import schedlab.envs

    assert "schedlab/Gpu-v0" in schedlab.envs.register_envs()
    env = gymnasium.make("schedlab/Gpu-v0", scenario="gpu", overrides=SMALL, observation=mode)
    assert isinstance(env.unwrapped, GpuEnv)
    check_env(env.unwrapped, skip_render_check=True)


# SB3 recommends flat observations; its MultiInputPolicy flattens the 2-D boxes itself.
@pytest.mark.filterwarnings("ignore:Your observation .* has an unconventional shape")
@pytest.mark.parametrize("mode", MODES)
def test_stable_baselines3_env_checker_passes(mode):
    pytest.importorskip("stable_baselines3")
    from stable_baselines3.common.env_checker import check_env

    check_env(GpuEnv("gpu", SMALL, observation=mode), warn=True)


def test_async_vector_env_steps():
    make = functools.partial(GpuEnv, "gpu", SMALL)
    envs = gymnasium.vector.AsyncVectorEnv([make, make])
    rng = np.random.default_rng(0)
    try:
        obs, _ = envs.reset(seed=[1, 2])
        assert obs["candidates"].shape == (2, 64, len(CANDIDATE_FEATURES) + 3)
        for _ in range(200):
            masks = envs.call("action_masks")
            actions = np.array([rng.choice(np.flatnonzero(m)) for m in masks])
            _, rewards, terminated, truncated, info = envs.step(actions)
            assert rewards.shape == (2,) and not truncated.any()
            if terminated.any():
                break
        assert terminated.any()
        # The last step's info carries the trace across the process boundary.
        assert check_trace(info["trace"][np.argmax(terminated)]).ok
    finally:
        envs.close()


@pytest.mark.parametrize("mode", MODES)
def test_maskable_ppo_smoke(mode):
    torch = pytest.importorskip("torch")
    pytest.importorskip("sb3_contrib")
    from sb3_contrib import MaskablePPO

    torch.set_num_threads(1)
    env = GpuEnv("gpu", SMALL, observation=mode)
    model = MaskablePPO(
        "MultiInputPolicy",
        env,
        n_steps=64,
        batch_size=32,
        n_epochs=1,
        seed=0,
        device="cpu",
        policy_kwargs={"net_arch": [32]},
    )
    model.learn(total_timesteps=128)
    obs, _ = env.reset(options={"episode_seed": 1})
    while True:
        action, _ = model.predict(obs, deterministic=True, action_masks=env.action_masks())
        obs, _, terminated, _, info = env.step(action)
        if terminated:
            break
    assert check_trace(info["trace"]).ok and info["metrics"]["completed_jobs"] == 8


@pytest.mark.parametrize("mode", MODES)
def test_observes_any_run_of_the_scenario_as_a_policy_scheduler_would(mode):
    from schedlab.errors import ConfigError
    from schedlab.sim.simulation import Simulation

    env = GpuEnv("gpu", ONLINE, observation=mode)
    env._begin_episode()  # a scheduler's reset: the environment itself never runs an episode
    sim = Simulation(env.scenario, 21)
    rng = np.random.default_rng(0)
    while not sim.done:
        view = sim.observe()
        obs = env.observe_view(view)
        assert env.observation_space.contains(obs)
        mask = env.view_action_masks(view)
        assert list(env.candidates) == view.valid_actions()[: env.max_candidates]
        assert mask[: len(env.candidates)].all() and mask[-1] == (sim.engine.peek() < math.inf)
        sim.act(env.view_actions(view, int(rng.choice(np.flatnonzero(mask)))))
    trace = sim.trace()
    assert check_trace(trace).ok and all(c is not None for c in trace.jobs["completion"])

    bigger = Simulation(GpuEnv("gpu", {**ONLINE, "cluster.gpus": 8}).scenario, 1)
    with pytest.raises(ConfigError):
        env.observe_view(bigger.observe())
