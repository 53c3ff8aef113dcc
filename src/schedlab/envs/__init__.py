"""Gymnasium environments over schedlab's simulator, one per family.

Each environment is a thin adapter over :class:`schedlab.sim.simulation.Simulation`: the same
engine and model a scheduler runs on, driven through ``observe()`` and ``act()``, so a trace
recorded under an agent is checked and summarised like any other.

``import schedlab`` never imports Gymnasium; importing this package does when it is installed
(the ``rl`` extra), and registers the environments under the ``schedlab/`` namespace::

    import gymnasium
    import schedlab.envs  # registers; or call schedlab.envs.register_envs()

    env = gymnasium.make("schedlab/Multiproc-v0", scenario="multiproc")

Gymnasium 1.x has no plugin entry points, so ``import gymnasium`` alone does not register them;
``gymnasium.make("schedlab.envs:schedlab/Multiproc-v0")`` imports this package first and works
without the import line.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = [
    "env_ids",
    "register_envs",
    "SimulationEnv",
    "SparkEnv",
    "GpuEnv",
    "MultiprocEnv",
    "EdgeEnv",
    "HeteroEnv",
    "SimTimeLimit",
    "StochasticTimeLimit",
]


def env_ids() -> dict[str, str]:
    """Environment id -> entry point, for every registered family that has an environment.

    A family names its environment in :attr:`schedlab.plugins.FamilySpec.env`; its id is
    ``schedlab/<Family>-v0``.
    """
    from schedlab import plugins

    return {f"schedlab/{s.name.capitalize()}-v0": s.env for s in plugins.specs() if s.env is not None}


_LAZY = {
    "SimulationEnv": "schedlab.envs.base",
    "SparkEnv": "schedlab.families.spark.env",
    "GpuEnv": "schedlab.families.gpu.env",
    "MultiprocEnv": "schedlab.families.multiproc.env",
    "EdgeEnv": "schedlab.families.edge.env",
    "HeteroEnv": "schedlab.families.hetero.env",
    "SimTimeLimit": "schedlab.envs.wrappers",
    "StochasticTimeLimit": "schedlab.envs.wrappers",
}


def register_envs() -> list[str]:
    """Register schedlab's environments with Gymnasium (ids already registered are kept).

    Returns:
        The ids of schedlab's environments.

    Raises:
        ImportError: Gymnasium is not installed (``pip install 'schedlab[rl]'``).
    """
    try:
        import gymnasium
    except ImportError as e:
        raise ImportError("schedlab's environments need Gymnasium: pip install 'schedlab[rl]'") from e
    ids = env_ids()
    for env_id, entry_point in ids.items():
        if env_id not in gymnasium.registry:
            # No episode step limit: an episode ends when the workload does, and a time limit
            # would cut the reward sum short of the episode's metric.
            gymnasium.register(id=env_id, entry_point=entry_point, max_episode_steps=None)
    return list(ids)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'schedlab.envs' has no attribute {name!r}")
    return getattr(import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)


# Registering on import is what lets ``gymnasium.make("schedlab.envs:schedlab/Multiproc-v0")``
# work; without Gymnasium the package still imports, so ``env_ids()`` can be listed.
try:
    register_envs()
except ImportError:
    pass
