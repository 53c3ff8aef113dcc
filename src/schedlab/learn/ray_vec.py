"""A stable-baselines3 ``VecEnv`` whose environments step in Ray actors, for ``schedlab train --ray``.

Each actor holds one environment inside SB3's own ``DummyVecEnv`` (which keeps SB3's
auto-reset and ``terminal_observation`` rules), and this class stacks the actors' answers.
``ray.init()`` is called if Ray is not running yet, so ``RAY_ADDRESS`` or a running cluster is
picked up the usual way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv

__all__ = ["RayVecEnv"]


class _Worker:
    def __init__(self, make: Callable[[], Any]) -> None:
        import torch

        torch.set_num_threads(1)
        self.venv = DummyVecEnv([make])

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return getattr(self.venv, name)(*args, **kwargs)

    def spaces(self) -> tuple[Any, Any]:
        return self.venv.observation_space, self.venv.action_space


class RayVecEnv(VecEnv):
    """``len(env_fns)`` environments, one per Ray actor.

    Raises:
        ImportError: Ray is not installed (``pip install 'schedlab[ray]'``).
    """

    def __init__(self, env_fns: Sequence[Callable[[], Any]]) -> None:
        try:
            import ray
        except ImportError as e:
            raise ImportError("--ray needs Ray: pip install 'schedlab[ray]'") from e
        if not ray.is_initialized():
            ray.init(include_dashboard=False, log_to_driver=False)
        self._ray = ray
        actor = ray.remote(num_cpus=1)(_Worker)
        self.actors = [actor.remote(fn) for fn in env_fns]
        observation_space, action_space = ray.get(self.actors[0].spaces.remote())
        super().__init__(len(self.actors), observation_space, action_space)
        self._actions: np.ndarray | None = None

    def _all(self, name: str, *args: Any, indices: Any = None, **kwargs: Any) -> list[Any]:
        targets = [self.actors[i] for i in self._get_indices(indices)]
        return self._ray.get([a.call.remote(name, *args, **kwargs) for a in targets])

    @staticmethod
    def _stack(parts: list[Any]) -> Any:
        if isinstance(parts[0], dict):
            return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        return np.concatenate(parts)

    def reset(self) -> Any:
        return self._stack(self._all("reset"))

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self) -> tuple[Any, np.ndarray, np.ndarray, list[dict]]:
        actions = self._actions
        refs = [a.call.remote("step", actions[i : i + 1]) for i, a in enumerate(self.actors)]
        results = self._ray.get(refs)
        obs = self._stack([r[0] for r in results])
        rewards = np.concatenate([r[1] for r in results])
        dones = np.concatenate([r[2] for r in results])
        infos = [info for r in results for info in r[3]]
        return obs, rewards, dones, infos

    def seed(self, seed: int | None = None) -> list[Any]:
        if seed is None:
            return self._all("seed")
        return [self._ray.get(a.call.remote("seed", seed + i))[0] for i, a in enumerate(self.actors)]

    def close(self) -> None:
        for a in self.actors:
            self._ray.kill(a)
        self.actors = []

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        return [v for part in self._all("get_attr", attr_name, indices=indices) for v in part]

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        self._all("set_attr", attr_name, value, indices=indices)

    def env_method(self, method_name: str, *method_args: Any, indices: Any = None, **method_kwargs: Any) -> list[Any]:
        parts = self._all("env_method", method_name, *method_args, indices=indices, **method_kwargs)
        return [v for part in parts for v in part]

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        return [v for part in self._all("env_is_wrapped", wrapper_class, indices=indices) for v in part]
