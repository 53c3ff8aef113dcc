"""Feature extractors for stable-baselines3 policies on the flat environments.

:class:`TaskEmbedding` gives a ``Dict`` observation's ``task`` entry its own small learned layer
before the policy's MLP sees it beside the rest, flattened: the task embedding of the
learned-embeddings hetero allocator, which scores unprofiled tasks from what they are (type,
size) and the cluster's state. Nodes that suit similar tasks end up close in that space, which
is what lets the policy place sizes it never saw.
"""

from __future__ import annotations

import math

import torch
from gymnasium import spaces
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

__all__ = ["TaskEmbedding"]


class TaskEmbedding(BaseFeaturesExtractor):
    """``act(W task + b)`` (``embed_dim`` values), then every other entry flattened, in key order.

    Args:
        observation_space: A ``Dict`` space with a one-dimensional ``task`` ``Box``.
        embed_dim: Size of the task embedding, at least 1.
        activation: The embedding's activation module class (the policy's own).

    Raises:
        ValueError: No ``task`` entry, a ``task`` entry that is not one-dimensional, or
            ``embed_dim`` below 1.
    """

    def __init__(
        self, observation_space: spaces.Dict, embed_dim: int = 8, activation: type[nn.Module] = nn.Tanh
    ) -> None:
        task = observation_space.spaces.get("task")
        if task is None or len(task.shape) != 1:
            raise ValueError("a task embedding needs a one-dimensional 'task' observation")
        if embed_dim < 1:
            raise ValueError(f"embed_dim must be at least 1, got {embed_dim}")
        self._others = sorted(k for k in observation_space.spaces if k != "task")
        rest = sum(math.prod(observation_space.spaces[k].shape) for k in self._others)
        super().__init__(observation_space, features_dim=embed_dim + rest)
        self.embed = nn.Sequential(nn.Linear(task.shape[0], embed_dim), activation())

    def forward(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:
        parts = [self.embed(observations["task"])]
        parts += [observations[k].flatten(start_dim=1) for k in self._others]
        return torch.cat(parts, dim=1)
