"""Policies trained with stable-baselines3 / sb3-contrib on the flat environments, and run as schedulers.

:class:`SB3Trainer` trains MaskablePPO (``ppo``) or DQN (``dqn``) on a family's Gymnasium
environment (:mod:`schedlab.envs`), one iteration at a time, for :func:`schedlab.learn.train.train`
to drive. :class:`SB3PolicyScheduler` runs a trained policy as a scheduler: it builds the
environment the policy was trained in from its card (the training scenario and environment
settings) and observes each decision point of any run through it
(:meth:`~schedlab.envs.base.SimulationEnv.observe_view`), picking the most probable valid action.

Weights are the policy network's ``state_dict`` in safetensors; SB3's own zip format (which
pickles) is never written or read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import gymnasium
import numpy as np

from schedlab.errors import ConfigError
from schedlab.learn.policy import WEIGHTS_FILE, policy_path, read_arrays, read_card
from schedlab.schedulers.base import Scheduler

__all__ = ["SB3PolicyScheduler", "SB3Trainer", "TrainSeeds", "HYPERPARAMETERS"]

#: Defaults of each algorithm's knobs (``schedlab train ... --param key=value`` overrides them).
HYPERPARAMETERS: dict[str, dict[str, Any]] = {
    "ppo": {
        "learning_rate": 3e-4,
        "batch_size": 256,
        "n_epochs": 5,
        "gamma": 0.99,
        "gae_lambda": 0.95,
        "ent_coef": 0.01,
        "clip_range": 0.2,
        "net_arch": [64, 64],
        # > 0: the observation's task entry gets its own learned embedding of this size.
        "embed_dim": 0,
        # tanh (SB3's default) or relu: relu extrapolates linearly past the training inputs.
        "activation": "tanh",
        # Behaviour cloning before the first rollout: a heuristic's decisions on training seeds.
        "bc_heuristic": "",
        "bc_episodes": 0,
        "bc_epochs": 10,
    },
    "dqn": {
        "learning_rate": 1e-3,
        "batch_size": 128,
        "gamma": 0.99,
        "buffer_size": 100_000,
        "learning_starts": 1000,
        "train_freq": 4,
        "target_update_interval": 1000,
        "exploration_fraction": 0.3,
        "exploration_initial_eps": 1.0,
        "exploration_final_eps": 0.02,
        "net_arch": [64, 64],
        "embed_dim": 0,
        "activation": "relu",  # SB3's default for DQN
        "bc_heuristic": "",
        "bc_episodes": 0,
        "bc_epochs": 10,
    },
}


ACTIVATIONS = ("tanh", "relu")


def _policy_kwargs(net_arch: Sequence[int], embed_dim: int, activation: str) -> dict[str, Any]:
    from torch import nn

    if activation not in ACTIVATIONS:
        raise ConfigError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}", field="--param")
    act = nn.ReLU if activation == "relu" else nn.Tanh
    kwargs: dict[str, Any] = {"net_arch": list(net_arch), "activation_fn": act}
    if embed_dim:
        from schedlab.learn.extractors import TaskEmbedding

        kwargs["features_extractor_class"] = TaskEmbedding
        kwargs["features_extractor_kwargs"] = {"embed_dim": int(embed_dim), "activation": act}
    return kwargs


def _make_env(card: Mapping[str, Any]):
    from schedlab.plugins import resolve

    obs = card["observation"]
    cls = resolve(obs["env"])
    return cls(obs["scenario"], **obs.get("env_kwargs", {}))


class SB3PolicyScheduler(Scheduler):
    """A policy trained with ``schedlab train FAMILY ppo|dqn``, as a scheduler.

    At each decision point it builds the observation of its training environment from the
    run's view and takes the policy's most probable valid action (``deterministic=False``:
    samples it, from the scheduler's own seeded stream). The network runs in NumPy
    (:class:`~schedlab.learn.mlp.MlpPolicy`): no torch at inference.

    Args:
        model: A policy directory (``weights.safetensors`` + ``policy.json``), or the name of
            a policy shipped in the package (``learn/policies/NAME``).
        deterministic: Greedy (True) or sampled actions.

    Raises:
        DataError: The directory is not a valid policy, or its weights do not fit.
    """

    name: ClassVar[str] = "ppo"
    families: tuple[str, ...] = ()

    def __init__(self, model: str, deterministic: bool = True) -> None:
        path = policy_path(model)
        card = read_card(path)
        self._setup(card, read_arrays(path / WEIGHTS_FILE), str(model), deterministic)

    @classmethod
    def from_policy(cls, policy: Any, card: Mapping[str, Any], deterministic: bool = True) -> SB3PolicyScheduler:
        """A scheduler over a policy network in memory (a trainer's, for validation)."""
        from schedlab.learn.mlp import arrays_of

        self = cls.__new__(cls)
        self._setup(dict(card), arrays_of(policy.state_dict()), None, deterministic)
        return self

    def _setup(self, card: dict, arrays: Mapping[str, Any], model: str | None, deterministic: bool) -> None:
        from gymnasium import spaces

        from schedlab.learn.mlp import MlpPolicy

        self.model = model
        self.deterministic = deterministic
        self.family = card["family"]
        self.algorithm = card["algorithm"]
        self.name = self.algorithm
        self.families = (self.family,)
        self._card = card
        self._env = env = _make_env(card)
        space = env.action_space
        parts = [int(n) for n in space.nvec] if isinstance(space, spaces.MultiDiscrete) else [int(space.n)]
        arch = card["architecture"]
        self._net = MlpPolicy(
            arrays,
            self.algorithm,
            list(env.observation_space.spaces),
            parts,
            arch.get("activation", HYPERPARAMETERS[self.algorithm]["activation"]),
            bool(arch.get("embed_dim", 0)),
            source=str(model) if model else "the policy",
        )
        self._rng: np.random.Generator | None = None

    def get_params(self) -> dict[str, Any]:
        return {"model": self.model, "deterministic": self.deterministic}

    def reset(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._env._begin_episode()

    def probabilities(self, view: Any) -> list[np.ndarray]:
        """Per action part, the policy's probability of each action at ``view`` (0 where masked).

        A dqn policy's are the softmax of its Q-values, which is what it samples from.
        """
        from schedlab.learn.mlp import masked_probabilities

        env = self._env
        mask = np.asarray(env.view_action_masks(view), dtype=bool)
        out, offset = [], 0
        for values in self._net.outputs(env.observe_view(view)):
            out.append(masked_probabilities(values, mask[offset : offset + len(values)]))
            offset += len(values)
        return out

    def decide(self, view: Any) -> list:
        choice = []
        for probs in self.probabilities(view):
            if self.deterministic or self._rng is None:
                choice.append(int(np.argmax(probs)))
            else:
                choice.append(int(self._rng.choice(len(probs), p=probs)))
        action = choice[0] if len(choice) == 1 else np.array(choice)
        return self._env.view_actions(view, action)


class TrainSeeds(gymnasium.Wrapper):
    """Draws each episode's seed from an inclusive range of training seeds.

    The draws come from a generator seeded by ``reset(seed=...)``, so seeded workers see
    reproducible, different episodes.
    """

    def __init__(self, env: gymnasium.Env, seeds: tuple[int, int]) -> None:
        super().__init__(env)
        self._lo, self._hi = seeds
        self._rng = np.random.default_rng()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        options = dict(options or {})
        options.setdefault("episode_seed", int(self._rng.integers(self._lo, self._hi + 1)))
        return self.env.reset(seed=seed, options=options)

    def action_masks(self) -> np.ndarray:
        return self.env.unwrapped.action_masks()


def _env_factory(env_target: str, scenario: dict, env_kwargs: dict, seeds: tuple[int, int]):
    def make():
        import torch
        from stable_baselines3.common.monitor import Monitor

        from schedlab.plugins import resolve

        torch.set_num_threads(1)
        env = resolve(env_target)(scenario, **env_kwargs)
        return Monitor(TrainSeeds(env, seeds))

    return make


class SB3Trainer:
    """MaskablePPO or DQN on a family's environment, one iteration at a time.

    An iteration collects ``steps`` environment steps over the workers (a rollout, for PPO)
    and updates the policy on them.

    Args:
        family: The family; its ``FamilySpec.env`` names the environment.
        algorithm: ``ppo`` or ``dqn``.
        scenario: The validated training scenario.
        train_seeds: Inclusive range of the episode seeds the learner sees.
        steps: Environment steps per iteration, over all workers.
        workers: Environments stepped in parallel processes (1: in this process).
        seed: Seeds the network, the learner and the environments.
        params: Overrides of :data:`HYPERPARAMETERS` and ``env.<kwarg>`` environment options.
        ray: Step the environments in Ray actors (:class:`~schedlab.learn.ray_vec.RayVecEnv`)
            instead of local processes.

    Raises:
        ConfigError: The family has no environment, or a parameter is unknown.
    """

    def __init__(
        self,
        family: str,
        algorithm: str,
        scenario: Any,
        *,
        train_seeds: tuple[int, int],
        steps: int,
        workers: int,
        seed: int,
        params: Mapping[str, Any] | None = None,
        ray: bool = False,
    ) -> None:
        from schedlab import plugins

        spec = plugins.get(family)
        if spec.env is None:
            raise ConfigError(f"the {family} family has no Gymnasium environment to train {algorithm} on")
        if algorithm not in HYPERPARAMETERS:
            raise ConfigError(f"unknown algorithm {algorithm!r}; choose {', '.join(HYPERPARAMETERS)}")
        hp = dict(HYPERPARAMETERS[algorithm])
        env_kwargs: dict[str, Any] = {}
        for key, value in (params or {}).items():
            if key.startswith("env."):
                env_kwargs[key[4:]] = value
            elif key in hp:
                hp[key] = value
            else:
                raise ConfigError(
                    f"unknown {algorithm} parameter {key!r}; known: {', '.join(hp)}, or env.<option>", field="--param"
                )
        self.family, self.algorithm = family, algorithm
        self.hp = hp
        self.steps_per_iteration = steps
        self.workers = workers
        self.seed = seed
        self.env_target = spec.env
        self.env_kwargs = env_kwargs
        self.scenario_data = scenario.model_dump(mode="json")
        self.num_timesteps = 0
        self.train_seeds = train_seeds
        self._cloned = False
        make = _env_factory(spec.env, self.scenario_data, env_kwargs, train_seeds)
        self.vec = self._vec_env(make, workers, ray)
        self.vec.seed(seed)
        self.model = self._model(algorithm, hp, steps, workers, seed)

    @staticmethod
    def _vec_env(make, workers: int, ray: bool):
        from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

        if ray:
            from schedlab.learn.ray_vec import RayVecEnv

            return RayVecEnv([make] * workers)
        if workers <= 1:
            return DummyVecEnv([make])
        return SubprocVecEnv([make] * workers, start_method="forkserver")

    def _model(self, algorithm: str, hp: dict, steps: int, workers: int, seed: int):
        hp = {k: v for k, v in hp.items() if not k.startswith("bc_")}
        policy_kwargs = _policy_kwargs(hp.pop("net_arch"), int(hp.pop("embed_dim")), str(hp.pop("activation")))
        if algorithm == "ppo":
            from sb3_contrib import MaskablePPO

            n_steps = max(1, steps // workers)
            batch = min(int(hp.pop("batch_size")), n_steps * workers)
            return MaskablePPO(
                "MultiInputPolicy",
                self.vec,
                n_steps=n_steps,
                batch_size=batch,
                policy_kwargs=policy_kwargs,
                seed=seed,
                device="cpu",
                verbose=0,
                **hp,
            )
        from stable_baselines3 import DQN

        return DQN("MultiInputPolicy", self.vec, policy_kwargs=policy_kwargs, seed=seed, device="cpu", verbose=0, **hp)

    # -- one iteration -------------------------------------------------------------------

    def iterate(self) -> dict[str, float]:
        """Collect an iteration's steps and update; returns the losses and the entropy.

        The first iteration of a run with ``bc_episodes`` clones the heuristic first.
        """
        model = self.model
        cloned: dict[str, float] = {}
        if self.num_timesteps == 0 and self.hp.get("bc_episodes", 0) > 0 and not self._cloned:
            cloned = self._clone(str(self.hp["bc_heuristic"]), int(self.hp["bc_episodes"]), int(self.hp["bc_epochs"]))
            self._cloned = True
        # An iteration's worth of steps on top of what is done; learn() counts from num_timesteps.
        model.learn(total_timesteps=self.steps_per_iteration, reset_num_timesteps=False, log_interval=None)
        self.num_timesteps = int(model.num_timesteps)
        values = dict(model.logger.name_to_value)
        out: dict[str, float] = {}
        for key in ("loss", "policy_gradient_loss", "value_loss", "entropy_loss", "approx_kl", "clip_fraction"):
            if f"train/{key}" in values:
                out[key] = float(values[f"train/{key}"])
        if "entropy_loss" in out:
            out["entropy"] = -out.pop("entropy_loss")
        returns = [ep["r"] for ep in model.ep_info_buffer] if model.ep_info_buffer else []
        if returns:
            out["train_return"] = float(np.mean(returns))
        return {**cloned, **out}

    def _clone(self, heuristic: str, episodes: int, epochs: int) -> dict[str, float]:
        """Fit the policy to a heuristic's decisions on training episodes (cross-entropy).

        The heuristic runs the episodes (so the states are its own). The environment reads a
        label off each answer (:meth:`~schedlab.envs.base.SimulationEnv.view_label`): an answer
        that is one environment action, or one that places the offered task among others, of
        which only that placement is applied (the heuristic answers again for the rest).
        Answers without a label (an empty pass) are applied but not learned from.

        Raises:
            ConfigError: No heuristic named, or the action space is not ``Discrete``.
        """
        import torch
        from gymnasium import spaces

        from schedlab.plugins import resolve
        from schedlab.schedulers import make
        from schedlab.sim.simulation import Simulation

        if not heuristic:
            raise ConfigError("bc_episodes needs bc_heuristic, a scheduler name", field="--param")
        env = resolve(self.env_target)(self.scenario_data, **self.env_kwargs)
        if not isinstance(env.action_space, spaces.Discrete):
            raise ConfigError(f"cloning needs a Discrete action space, not {env.action_space}", field="--param")
        lo, hi = self.train_seeds
        rng = np.random.default_rng(self.seed)
        observations: list[dict] = []
        labels: list[int] = []
        masks: list[np.ndarray] = []
        for _ in range(episodes):
            sim = Simulation(env.scenario, int(rng.integers(lo, hi + 1)))
            scheduler = make(heuristic, self.family)
            scheduler.reset(sim.scheduler_rng)
            while not sim.done:
                view = sim.observe()
                answer = list(scheduler.decide(view))
                mask = np.asarray(env.view_action_masks(view), dtype=bool)
                label = env.view_label(view, answer, mask)
                if label is not None:
                    observations.append(env.observe_view(view))
                    labels.append(label)
                    masks.append(mask)
                    # Only the learned part: the heuristic answers the rest at the next ask.
                    answer = env.view_actions(view, label)
                sim.act(answer)
            env._begin_episode()
        if not labels:
            raise ConfigError(f"{heuristic!r} gave no answer that is one environment action", field="--param")
        policy = self.model.policy
        policy.set_training_mode(True)
        obs_t, _ = policy.obs_to_tensor({k: np.stack([o[k] for o in observations]) for k in observations[0]})
        act_t = torch.as_tensor(labels)
        mask_np = np.stack(masks)
        gen = torch.Generator().manual_seed(self.seed)
        loss = torch.tensor(0.0)
        for _ in range(epochs):
            for idx in torch.randperm(len(labels), generator=gen).split(256):
                batch = {k: v[idx] for k, v in obs_t.items()}
                if self.algorithm == "ppo":
                    dist = policy.get_distribution(batch, action_masks=mask_np[idx.numpy()])
                    loss = -dist.log_prob(act_t[idx]).mean()
                else:
                    # Q-values as logits: the greedy action becomes the heuristic's; TD
                    # learning then gives the values their scale.
                    q = policy.q_net(batch).masked_fill(~torch.as_tensor(mask_np[idx.numpy()]), -1e9)
                    loss = torch.nn.functional.cross_entropy(q, act_t[idx])
                policy.optimizer.zero_grad()
                loss.backward()
                policy.optimizer.step()
        if self.algorithm == "dqn":
            policy.q_net_target.load_state_dict(policy.q_net.state_dict())
        policy.set_training_mode(False)
        return {"bc_loss": float(loss.detach()), "bc_decisions": float(len(labels))}

    # -- what the loop saves -------------------------------------------------------------

    def card(self) -> dict[str, Any]:
        """The policy card (without the training section, which the loop adds)."""
        return {
            "algorithm": self.algorithm,
            "family": self.family,
            "architecture": {
                "library": "sb3-contrib" if self.algorithm == "ppo" else "stable-baselines3",
                "policy": "MultiInputPolicy",
                "net_arch": list(self.hp["net_arch"]),
                **({"embed_dim": int(self.hp["embed_dim"])} if self.hp["embed_dim"] else {}),
                "activation": self.hp["activation"],
            },
            "observation": {"env": self.env_target, "env_kwargs": self.env_kwargs, "scenario": self.scenario_data},
        }

    def weights(self) -> dict[str, Any]:
        """The policy network's tensors."""
        return dict(self.model.policy.state_dict())

    def scheduler(self) -> SB3PolicyScheduler:
        """The current policy as a scheduler (a copy: training on does not change it)."""
        return SB3PolicyScheduler.from_policy(self.model.policy, self.card())

    def training_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """Tensors and JSON values to resume from: the policy, the optimizer, the step count."""
        from schedlab.learn.train import optimizer_state

        tensors = {f"policy.{k}": v for k, v in self.model.policy.state_dict().items()}
        optim, param_groups = optimizer_state(self.model.policy.optimizer)
        tensors.update(optim)
        meta = {
            "num_timesteps": int(self.model.num_timesteps),
            "n_updates": int(getattr(self.model, "_n_updates", 0)),
            "param_groups": param_groups,
        }
        return tensors, meta

    def load_training_state(self, tensors: Mapping[str, Any], meta: Mapping[str, Any]) -> None:
        """Restore what :meth:`training_state` returned."""
        from schedlab.learn.train import load_optimizer_state

        policy_sd = {k[len("policy.") :]: v for k, v in tensors.items() if k.startswith("policy.")}
        self.model.policy.load_state_dict(policy_sd)
        load_optimizer_state(self.model.policy.optimizer, tensors, meta["param_groups"])
        self.model.num_timesteps = self.num_timesteps = int(meta["num_timesteps"])
        self.model._n_updates = int(meta.get("n_updates", 0))

    def worker_pids(self) -> list[int]:
        """Process ids of the environment workers (for CPU accounting)."""
        return [p.pid for p in getattr(self.vec, "processes", [])]

    def close(self) -> None:
        self.vec.close()
