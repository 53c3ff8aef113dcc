"""A time-series transformer encoder over each node's recent states.

Each of the ``window`` rows (cpu, mem, delay, load, scaled) is projected to ``d_model``; a learned
positional encoding and the node's learned embedding are added; a stack of
``torch.nn.TransformerEncoder`` layers (pre-norm, ``batch_first``) reads the sequence; a linear
head maps the last position (or the mean over positions, ``pool="mean"``) to the next
``horizon`` states.

With ``residual=True`` (the default) the head predicts the *change* from the latest state, in
units of the typical one-step change of each variable (measured on the training split), and
starts at zero: an untrained network is last-value persistence, and training only has to learn
what persistence misses. On the near-random-walk node logs this is what makes the network match
persistence instead of trailing it; docs/forecasting.md has the measurements.
"""

from __future__ import annotations

from schedlab.errors import ConfigError
from schedlab.learn.forecast.neural import NeuralForecaster, forecast_head

__all__ = ["TransformerForecaster"]


class TransformerForecaster(NeuralForecaster):
    """Transformer encoder forecaster.

    Args:
        d_model: Width of the encoder.
        nhead: Attention heads (must divide ``d_model``).
        layers: Encoder layers.
        ffn: Width of each layer's feed-forward block.
        dropout: Dropout inside the encoder layers.
        residual: Predict the change from the latest state (scaled by the typical one-step
            change) instead of the state itself.
        node_embedding: Add a learned per-node embedding to every position.
        pool: ``"last"`` reads the head from the last position, ``"mean"`` from the mean of all.
        **shared: The arguments of :class:`~schedlab.learn.forecast.neural.NeuralForecaster`
            (window, horizon, epochs, batch_size, lr, ...).
    """

    name = "transformer"

    def __init__(
        self,
        *,
        d_model: int = 128,
        nhead: int = 4,
        layers: int = 3,
        ffn: int = 256,
        dropout: float = 0.1,
        residual: bool = True,
        node_embedding: bool = True,
        pool: str = "last",
        **shared,
    ) -> None:
        self.d_model = d_model
        self.nhead = nhead
        self.layers = layers
        self.ffn = ffn
        self.dropout = dropout
        self.residual = residual
        self.node_embedding = node_embedding
        self.pool = pool
        super().__init__(**shared)

    def _check_params(self) -> None:
        super()._check_params()
        for name, high in (("d_model", 8192), ("nhead", 256), ("layers", 256), ("ffn", 65536)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= high:
                raise ConfigError(f"must be an integer from 1 to {high}, got {v!r}", field=name)
        weights = self.layers * (4 * self.d_model**2 + 2 * self.d_model * self.ffn)
        if weights > 500_000_000:
            raise ConfigError(
                f"layers x (4 d_model^2 + 2 d_model ffn) comes to {weights:.3g} weights, over 5e8; "
                "lower layers, d_model or ffn",
                field="d_model",
            )
        if self.d_model % self.nhead:
            raise ConfigError(f"d_model {self.d_model} is not a multiple of nhead {self.nhead}", field="nhead")
        d = self.dropout
        if isinstance(d, bool) or not isinstance(d, int | float) or not (0 <= d < 1):
            raise ConfigError(f"must be a number in [0, 1), got {d!r}", field="dropout")
        for name in ("residual", "node_embedding"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"must be true or false, got {getattr(self, name)!r}", field=name)
        if self.pool not in ("last", "mean"):
            raise ConfigError(f"must be 'last' or 'mean', got {self.pool!r}", field="pool")

    def build_net(self, num_nodes: int):
        """A fresh :class:`_Net` for ``num_nodes`` embedding rows (the unknown node included)."""
        return _make_net(self, num_nodes)


def _make_net(f: TransformerForecaster, num_nodes: int):
    import torch
    from torch import nn

    class _Net(nn.Module):
        """Shapes: ``x (B, window, 4)``, ``node (B,)`` -> ``(B, horizon, 4)``, all scaled."""

        def __init__(self) -> None:
            super().__init__()
            self.pool = f.pool
            self.inp = nn.Linear(4, f.d_model)
            self.pos = nn.Parameter(torch.randn(1, f.window, f.d_model) * 0.02)
            self.node = nn.Embedding(num_nodes, f.d_model) if f.node_embedding else None
            if self.node is not None:
                nn.init.normal_(self.node.weight, std=0.02)
            layer = nn.TransformerEncoderLayer(
                f.d_model, f.nhead, f.ffn, f.dropout, batch_first=True, norm_first=True, activation="gelu"
            )
            self.encoder = nn.TransformerEncoder(layer, f.layers, enable_nested_tensor=False)
            self.norm = nn.LayerNorm(f.d_model)
            self.head = forecast_head(f, f.d_model)

        def forward(self, x, node):
            w = x.shape[1]
            h = self.inp(x) + self.pos[:, -w:]
            if self.node is not None:
                h = h + self.node(node)[:, None, :]
            h = self.encoder(h)
            return self.head(self.norm(h[:, -1] if self.pool == "last" else h.mean(dim=1)), x)

    return _Net()
