"""The cost-regression GNN: CPUs as nodes of a complete graph, a log completion time per node.

Shapes:
    input: ``(batch, num_cpus, len(FEATURES))`` node features
    (:func:`schedlab.learn.gnn_cost.features.node_features`); output ``(batch, num_cpus)``,
    the predicted log of the task's completion time on each CPU, minus now (s).

The layers:

1. standardise the features (``norm.mean``, ``norm.std``: fixed from the first training data);
2. ``h = relu(embed(z))``, one hidden vector per CPU;
3. ``layers`` rounds of message passing over the complete graph: ``h = relu(self_i(h) +
   context_i(mean over CPUs of h))``. The mean over every node (self included) is the
   mean-pooled global context; without ``context`` the round is ``relu(self_i(h))``, a
   per-CPU network (the ablation of the graph part);
4. ``head(h)``, added to the node's ``log_estimate`` feature. The head starts at zero, so the
   untrained network predicts exactly the LWR formula, ``(work_remaining + size) / speed``.

The width is the same for every CPU count, so a network trained on four CPUs runs on any
number. :class:`CostGNN` (torch) trains; :class:`NumpyCostGNN` infers with NumPy alone, so the
scheduler runs on an install without torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from schedlab.learn.gnn_cost.features import ESTIMATE, FEATURES

__all__ = [
    "ARCHITECTURE",
    "NumpyCostGNN",
    "tensor_shapes",
    "parameter_count",
    "check_architecture",
]  # and CostGNN, built lazily

#: The default architecture (``hidden`` units per node, message-passing ``layers``,
#: ``context``: whether the rounds see the mean-pooled graph).
ARCHITECTURE: dict[str, Any] = {"features": len(FEATURES), "hidden": 32, "layers": 2, "context": True}


def check_architecture(arch: Mapping[str, Any]) -> dict[str, Any]:
    """A complete architecture dict from ``arch`` (defaults filled in).

    Raises:
        ValueError: An unknown key, a width or depth that is not a positive integer (0 layers
            is allowed), or a feature count other than :data:`FEATURES`' (the features are
            fixed by the code that computes them).
    """
    unknown = sorted(set(arch) - set(ARCHITECTURE))
    if unknown:
        raise ValueError(f"unknown architecture keys {unknown}; known: {', '.join(ARCHITECTURE)}")
    a = {**ARCHITECTURE, **arch}
    if a["features"] != len(FEATURES):
        raise ValueError(f"features is {a['features']}, this version computes {len(FEATURES)} ({', '.join(FEATURES)})")
    for key, low in (("hidden", 1), ("layers", 0)):
        v = a[key]
        if not isinstance(v, int) or isinstance(v, bool) or v < low:
            raise ValueError(f"{key} must be an integer of at least {low}, got {v!r}")
    if not isinstance(a["context"], bool):
        raise ValueError(f"context must be true or false, got {a['context']!r}")
    return a


def tensor_shapes(arch: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every tensor of the network (``CostGNN.state_dict()`` names)."""
    a = check_architecture(arch)
    f, h = a["features"], a["hidden"]
    shapes: dict[str, tuple[int, ...]] = {
        "norm.mean": (f,),
        "norm.std": (f,),
        "embed.weight": (h, f),
        "embed.bias": (h,),
    }
    for i in range(a["layers"]):
        shapes[f"self_{i}.weight"] = (h, h)
        shapes[f"self_{i}.bias"] = (h,)
        if a["context"]:
            shapes[f"context_{i}.weight"] = (h, h)
    shapes["head.weight"] = (1, h)
    shapes["head.bias"] = (1,)
    return shapes


def parameter_count(arch: Mapping[str, Any] = ARCHITECTURE) -> int:
    """Trainable parameters (the normalisation is fixed, not trained)."""
    return sum(int(np.prod(s)) for k, s in tensor_shapes(arch).items() if not k.startswith("norm."))


def _torch_module():
    import torch
    from torch import nn

    class _Norm(nn.Module):
        def __init__(self, features: int) -> None:
            super().__init__()
            self.register_buffer("mean", torch.zeros(features))
            self.register_buffer("std", torch.ones(features))

        def forward(self, x):
            return (x - self.mean) / self.std

    class CostGNN(nn.Module):
        """The network in torch, for training (see the module docstring).

        Args:
            arch: Architecture (see :data:`ARCHITECTURE`).

        Shapes:
            input ``(batch, num_cpus, features)``; output ``(batch, num_cpus)``.

        Raises:
            ValueError: A bad architecture.
        """

        def __init__(self, arch: Mapping[str, Any] = ARCHITECTURE) -> None:
            super().__init__()
            self.arch = check_architecture(arch)
            f, h = self.arch["features"], self.arch["hidden"]
            self.norm = _Norm(f)
            self.embed = nn.Linear(f, h)
            for i in range(self.arch["layers"]):
                setattr(self, f"self_{i}", nn.Linear(h, h))
                if self.arch["context"]:
                    setattr(self, f"context_{i}", nn.Linear(h, h, bias=False))
            self.head = nn.Linear(h, 1)
            self.reset_parameters()

        def reset_parameters(self) -> None:
            """Default initialisation, but a zero head: the untrained network is the LWR formula."""
            for m in self.modules():
                if isinstance(m, nn.Linear):
                    m.reset_parameters()
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)

        def set_normalisation(self, x) -> None:
            """Fix the feature standardisation from a sample of node features ``(..., features)``."""
            flat = x.reshape(-1, x.shape[-1]).double()
            std = flat.std(0)
            # A constant feature (one priority class, a single speed) would divide by zero.
            std = torch.where(std > 1e-6, std, torch.ones_like(std))
            self.norm.mean.copy_(flat.mean(0).float())
            self.norm.std.copy_(std.float())

        def forward(self, x):
            h = torch.relu(self.embed(self.norm(x)))
            for i in range(self.arch["layers"]):
                out = getattr(self, f"self_{i}")(h)
                if self.arch["context"]:
                    out = out + getattr(self, f"context_{i}")(h.mean(dim=-2, keepdim=True))
                h = torch.relu(out)
            return x[..., ESTIMATE] + self.head(h).squeeze(-1)

        def extra_repr(self) -> str:
            a = self.arch
            return f"features={a['features']}, hidden={a['hidden']}, layers={a['layers']}, context={a['context']}"

    return CostGNN


def __getattr__(name: str) -> Any:
    # torch is imported only when the training network is asked for: the scheduler uses
    # NumpyCostGNN and must import without torch.
    if name == "CostGNN":
        cls = _torch_module()
        globals()["CostGNN"] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class NumpyCostGNN:
    """The network's forward pass in NumPy (inference only), float64.

    Args:
        tensors: The weights by ``CostGNN.state_dict()`` name, as arrays or tensors.
        arch: The architecture they belong to.

    Shapes:
        input ``(num_cpus, features)`` or ``(batch, num_cpus, features)``; output without the
        last axis.

    Raises:
        ValueError: A bad architecture, or a weight that is missing, unexpected, of the wrong
            shape or not finite.
    """

    def __init__(self, tensors: Mapping[str, Any], arch: Mapping[str, Any] = ARCHITECTURE) -> None:
        self.arch = check_architecture(arch)
        shapes = tensor_shapes(self.arch)
        missing = sorted(set(shapes) - set(tensors))
        unknown = sorted(set(tensors) - set(shapes))
        if missing:
            raise ValueError(f"missing tensors {missing[:3]}")
        if unknown:
            raise ValueError(f"unexpected tensors {unknown[:3]}")
        w: dict[str, np.ndarray] = {}
        for name, shape in shapes.items():
            v = tensors[name]
            arr = np.asarray(v.detach().cpu().numpy() if hasattr(v, "detach") else v, dtype=np.float64)
            if arr.shape != shape:
                raise ValueError(f"tensor {name} has shape {arr.shape}, the network expects {shape}")
            if not np.isfinite(arr).all():
                raise ValueError(f"tensor {name} holds NaN or infinite values")
            w[name] = arr
        if not (w["norm.std"] > 0).all():
            raise ValueError("tensor norm.std must be positive")
        # The standardisation folded into the first layer: one matrix product less per call.
        inv_std = 1.0 / w["norm.std"]
        embed_w = w["embed.weight"].T * inv_std[:, None]
        self._embed = (np.ascontiguousarray(embed_w), w["embed.bias"] - w["norm.mean"] @ embed_w)
        # Per round, the self and context matrices side by side: the context term is linear, so
        # mean(h) @ context == mean(h @ context), and one product of the (CPUs, hidden) block
        # does both. A (1, hidden) product would go to a BLAS vector routine that may wake
        # threads, tens of microseconds on a loaded machine.
        hidden = self.arch["hidden"]
        self._hidden = hidden
        self._rounds = []
        for i in range(self.arch["layers"]):
            ws = w[f"self_{i}.weight"].T
            both = np.hstack([ws, w[f"context_{i}.weight"].T]) if self.arch["context"] else ws
            self._rounds.append((np.ascontiguousarray(both), w[f"self_{i}.bias"]))
        self._head = (w["head.weight"][0].copy(), float(w["head.bias"][0]))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Predicted log completion time (s from now) per CPU."""
        x = np.asarray(x, dtype=np.float64)
        w, b = self._embed
        h = np.dot(x, w)
        h += b
        np.maximum(h, 0.0, out=h)
        k = self._hidden
        for both, bias in self._rounds:
            prod = np.dot(h, both)
            h = prod[..., :k] + bias
            if both.shape[1] > k:
                # add.reduce and a product: ndarray.mean costs several times more on 4 rows.
                h += np.add.reduce(prod[..., k:], axis=-2, keepdims=True) * (1.0 / prod.shape[-2])
            np.maximum(h, 0.0, out=h)
        hw, hb = self._head
        return x[..., ESTIMATE] + np.dot(h, hw) + hb
