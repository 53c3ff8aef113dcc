"""The forward pass of a stable-baselines3 policy for ``Dict`` observations, in NumPy.

A trained ``ppo`` (MaskablePPO) or ``dqn`` policy decides with a few small matrix products, so
running one as a scheduler needs neither torch nor stable-baselines3: :class:`MlpPolicy` reads the
policy's ``state_dict`` (from ``weights.safetensors`` by :func:`~schedlab.learn.policy.read_arrays`,
or from a network in memory) and computes what SB3 computes at inference:

- features: each observation entry flattened, in the ``Dict`` space's key order, concatenated
  (SB3's ``CombinedExtractor``); with a task embedding
  (:class:`~schedlab.learn.extractors.TaskEmbedding`), ``act(W task + b)`` first, then the other
  entries in sorted key order;
- ``ppo``: the actor's hidden layers (``mlp_extractor.policy_net``), then ``action_net``: one
  logit per action, split into one categorical per part of a ``MultiDiscrete`` action;
- ``dqn``: the Q-network's layers (``q_net.q_net``): one value per action.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from schedlab.errors import ConfigError, DataError

__all__ = ["MlpPolicy", "masked_probabilities", "arrays_of"]

_ACTIVATIONS = {
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, 0.0),
}


class MlpPolicy:
    """A ppo or dqn policy's inference, from its tensors.

    Args:
        arrays: The policy's ``state_dict`` as NumPy arrays.
        algorithm: ``"ppo"`` or ``"dqn"``.
        keys: The observation's keys in the ``Dict`` space's order.
        parts: Sizes of the action's parts (one for ``Discrete``, several for ``MultiDiscrete``).
        activation: ``"tanh"`` or ``"relu"``.
        embed: Whether the task entry has a learned embedding.
        source: Where the tensors came from, for errors.

    Raises:
        DataError: A tensor the architecture needs is missing or of the wrong shape.
    """

    def __init__(
        self,
        arrays: Mapping[str, np.ndarray],
        algorithm: str,
        keys: Sequence[str],
        parts: Sequence[int],
        activation: str,
        embed: bool,
        source: str = "the policy",
    ) -> None:
        self._act = _ACTIVATIONS.get(activation)
        if self._act is None:
            raise DataError(f"unknown activation {activation!r}", source=source, field="architecture.activation")
        prefix = "" if algorithm == "ppo" else "q_net."
        hidden = "mlp_extractor.policy_net" if algorithm == "ppo" else "q_net.q_net"

        def get(name: str) -> np.ndarray:
            if name not in arrays:
                raise DataError(f"the weights lack {name}", source=source)
            return np.asarray(arrays[name], dtype=np.float64)

        self._embed = None
        if embed:
            e = f"{prefix}features_extractor.embed.0"
            self._embed = (get(f"{e}.weight"), get(f"{e}.bias"))
            self._keys = ("task", *sorted(k for k in keys if k != "task"))
        else:
            self._keys = tuple(keys)
        indices = sorted(
            {int(m.group(1)) for k in arrays if (m := re.fullmatch(rf"{re.escape(hidden)}\.(\d+)\.weight", k))}
        )
        self._layers = [(get(f"{hidden}.{i}.weight"), get(f"{hidden}.{i}.bias")) for i in indices]
        if algorithm == "ppo":
            self._layers.append((get("action_net.weight"), get("action_net.bias")))
        if not self._layers:
            raise DataError(f"the weights hold no {hidden} layer", source=source)
        self._parts = tuple(int(n) for n in parts)
        if self._layers[-1][0].shape[0] != sum(self._parts):
            raise DataError(
                f"the weights give {self._layers[-1][0].shape[0]} outputs; the action space has {sum(self._parts)}",
                source=source,
            )

    def features(self, obs: Mapping[str, np.ndarray]) -> np.ndarray:
        """The flat feature vector the policy's layers see."""
        parts = []
        for k in self._keys:
            x = np.asarray(obs[k], dtype=np.float64).ravel()
            if k == "task" and self._embed is not None:
                w, b = self._embed
                x = self._act(w @ x + b)
            parts.append(x)
        return np.concatenate(parts)

    def outputs(self, obs: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        """Per action part, the logits (ppo) or Q-values (dqn)."""
        x = self.features(obs)
        w, b = self._layers[0]
        if x.shape[0] != w.shape[1]:
            raise DataError(f"the observation has {x.shape[0]} features; the weights take {w.shape[1]}")
        last = len(self._layers) - 1
        for i, (w, b) in enumerate(self._layers):
            x = w @ x + b
            if i < last:
                x = self._act(x)
        return np.split(x, np.cumsum(self._parts)[:-1])


def masked_probabilities(logits: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Softmax over the valid entries (invalid ones get probability 0).

    Raises:
        ConfigError: The mask does not match the logits, or allows nothing: the policy was
            trained on a cluster of another size than the scenario's.
    """
    if valid.shape != logits.shape or not valid.any():
        raise ConfigError(
            f"the policy scores {logits.size} actions here but the scenario offers {int(valid.sum())} of "
            f"{valid.size}: it was trained for another cluster (see the scenario in its policy.json)",
            field="--scheduler",
        )
    z = np.where(valid, logits, -np.inf)
    z = np.exp(z - z[valid].max())
    return z / z.sum()


def arrays_of(state_dict: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """A torch ``state_dict`` as NumPy arrays (copies)."""
    return {k: v.detach().cpu().numpy().copy() for k, v in state_dict.items()}
