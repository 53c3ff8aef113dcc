"""What every neural forecaster shares: scaling, windows, the time-ordered split, training, saving.

A subclass builds the network (:meth:`NeuralForecaster.build_net`) and adds its own
hyper-parameters; this class does the rest:

- **scaling**: delay on a ``log1p`` scale when ``log_delay``, then every variable standardised with
  the mean and standard deviation of the training split (stored as JSON lists);
- **windows**: each sample is ``window`` rows of one node's history and the next ``horizon``
  states of that node (direct multi-step output); histories shorter than ``window`` at the start
  of a log are padded with the oldest row, as in :func:`~schedlab.learn.forecast.base.pad_history`;
- **split by time**: the last ``val_fraction`` of the log's steps are validation targets, every
  one later than every training target (never a random split);
- **training**: AdamW, shuffled mini-batches, MSE on cpu, mem and load and, on delay, a Huber loss
  (``huber_delay``) weighted ``delay_weight``, all on scaled targets; early stopping after
  ``patience`` epochs without a better validation loss, keeping the best weights;
- **nodes**: index 0 of the node embedding is the *unknown node*, ids of the training log take
  1..N; during training a share ``node_dropout`` of the samples is shown as unknown, so that
  the unknown index learns an average node instead of staying at its random start;
- **prediction**: batched, in raw units; beyond ``horizon`` the predictions are fed back as
  history (recursive roll-out).

Network contract: ``net(x, node)`` with ``x`` a float tensor ``(batch, window, 4)`` of scaled
states and ``node`` a long tensor ``(batch,)`` returns ``(batch, horizon, 4)`` scaled states.

Everything is seeded by ``seed`` (under :func:`torch.random.fork_rng`, so the caller's global
torch generator is left as it was), and torch runs on ``threads`` threads during fit and predict.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from schedlab.errors import ConfigError, DataError
from schedlab.families.edge.nodes import STATE_COLUMNS
from schedlab.learn.forecast.base import Forecaster, pad_history

__all__ = ["NeuralForecaster", "UNKNOWN_NODE"]

#: Index of the unknown node in every node embedding; the training log's nodes take 1..N.
UNKNOWN_NODE = 0
_NVARS = len(STATE_COLUMNS)
_DELAY = STATE_COLUMNS.index("delay")
#: Windows per forward pass at prediction time.
_PREDICT_BATCH = 4096


class NeuralForecaster(Forecaster):
    """Base class of the forecasters trained with PyTorch.

    Args:
        window: History rows per sample.
        horizon: Future states the network predicts at once; longer forecasts roll forward.
        epochs: Most passes over the training windows.
        batch_size: Windows per optimiser step.
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.
        patience: Epochs without a better validation loss before stopping; 0 never stops early.
        val_fraction: Share of the log's steps, the latest, whose states are validation targets
            (0 trains on everything and keeps the weights of the best training loss).
        log_delay: Scale delay as ``log1p(delay_ms)`` before standardising.
        delay_weight: Weight of the delay term in the loss (the other variables weigh 1).
        huber_delay: Huber loss (delta 1, scaled units) on delay instead of squared error.
        node_dropout: Share of training samples shown as the unknown node.
        seed: Seed of the initial weights, the shuffling, dropout and node dropout.
        threads: Torch CPU threads during fit and predict.
    """

    def __init__(
        self,
        *,
        window: int = 30,
        horizon: int = 5,
        epochs: int = 40,
        batch_size: int = 64,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        patience: int = 5,
        val_fraction: float = 0.2,
        log_delay: bool = True,
        delay_weight: float = 5.0,
        huber_delay: bool = True,
        node_dropout: float = 0.1,
        seed: int = 0,
        threads: int = 1,
    ) -> None:
        self.window = window
        self.horizon = horizon
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.patience = patience
        self.val_fraction = val_fraction
        self.log_delay = log_delay
        self.delay_weight = delay_weight
        self.huber_delay = huber_delay
        self.node_dropout = node_dropout
        self.seed = seed
        self.threads = threads
        self.net = None
        #: Node ids of the training log; id ``node_ids_[i]`` has embedding index ``i + 1``.
        self.node_ids_: list[int] = []
        self.mean_: list[float] = []
        self.std_: list[float] = []
        #: Per variable, the standard deviation of one-step changes in scaled units (training split).
        self.step_std_: list[float] = []
        #: Per-epoch losses, best epoch, time spent; see :meth:`fit`.
        self.history_: dict[str, Any] = {}
        self._check_params()

    # -- for subclasses ------------------------------------------------------------------------

    def build_net(self, num_nodes: int):
        """The network, freshly initialised; ``num_nodes`` counts the unknown node.

        Returns:
            A ``torch.nn.Module`` with ``forward(x, node)``: ``x`` of shape ``(batch, window, 4)``
            (scaled states, oldest first) and ``node`` of shape ``(batch,)`` (embedding
            indices, :data:`UNKNOWN_NODE` for an unknown node) give ``(batch, horizon, 4)``.
        """
        raise NotImplementedError

    def _check_params(self) -> None:
        """Raise ConfigError naming the first invalid hyper-parameter."""
        # The upper bounds only keep a damaged forecaster.json from asking for terabytes.
        ints = {
            "window": (1, 100_000),
            "horizon": (1, 10_000),
            "epochs": (1, 10**6),
            "batch_size": (1, 10**6),
            "patience": (0, 10**6),
            "threads": (1, 1024),
        }
        for name, (low, high) in ints.items():
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
                raise ConfigError(f"must be an integer from {low} to {high}, got {v!r}", field=name)
        for name, lo, hi, lo_open, hi_open in (
            ("lr", 0, math.inf, True, True),
            ("weight_decay", 0, math.inf, False, True),
            ("val_fraction", 0, 1, False, True),
            ("delay_weight", 0, math.inf, True, True),
            ("node_dropout", 0, 1, False, True),
        ):
            v = getattr(self, name)
            ok = isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            ok = ok and (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi)
            if not ok:
                lo_b, hi_b = "(" if lo_open else "[", ")" if hi_open else "]"
                raise ConfigError(f"must be a number in {lo_b}{lo}, {hi}{hi_b}, got {v!r}", field=name)
        for name in ("log_delay", "huber_delay"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"must be true or false, got {getattr(self, name)!r}", field=name)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ConfigError(f"must be an integer, got {self.seed!r}", field="seed")

    # -- parameters ------------------------------------------------------------------------------

    @property
    def fitted(self) -> bool:
        """Whether the forecaster has a network with learned (or loaded) weights."""
        return self.net is not None

    # -- scaling ---------------------------------------------------------------------------------

    def transform(self, values: np.ndarray) -> np.ndarray:
        """Raw states ``(..., 4)`` to the scaled features the network sees."""
        x = np.array(values, dtype=np.float64)
        if self.log_delay:
            x[..., _DELAY] = np.log1p(np.maximum(x[..., _DELAY], 0.0))
        return (x - np.asarray(self.mean_)) / np.asarray(self.std_)

    def inverse_transform(self, scaled: np.ndarray) -> np.ndarray:
        """Scaled features ``(..., 4)`` back to raw units (the inverse of :meth:`transform`)."""
        x = np.asarray(scaled, dtype=np.float64) * np.asarray(self.std_) + np.asarray(self.mean_)
        if self.log_delay:
            x[..., _DELAY] = np.expm1(x[..., _DELAY])
        return x

    def _fit_scaler(self, values: np.ndarray) -> None:
        x = np.array(values, dtype=np.float64).reshape(-1, _NVARS)
        if self.log_delay:
            x[:, _DELAY] = np.log1p(np.maximum(x[:, _DELAY], 0.0))
        mean = x.mean(axis=0)
        std = x.std(axis=0)
        # A constant variable (a node pinned at a bound) keeps unit scale instead of dividing by 0.
        std = np.where(std > 1e-12, std, 1.0)
        self.mean_ = [float(v) for v in mean]
        self.std_ = [float(v) for v in std]

    def node_index(self, node_ids) -> np.ndarray:
        """Embedding indices of node ids; ids not in the training log map to :data:`UNKNOWN_NODE`."""
        lookup = {nid: i + 1 for i, nid in enumerate(self.node_ids_)}
        return np.array([lookup.get(int(n), UNKNOWN_NODE) for n in np.asarray(node_ids).reshape(-1)], dtype=np.int64)

    # -- training --------------------------------------------------------------------------------

    def split_steps(self, steps: int) -> int:
        """The first validation step of a log of ``steps`` steps (``steps`` when none)."""
        return steps - int(round(self.val_fraction * steps))

    def windows(self, log, start: int, stop: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Samples whose targets lie in steps ``start..stop-1``: scaled history, scaled target, node index.

        Returns:
            ``(x, y, node)`` of shapes ``(S, window, 4)``, ``(S, horizon, 4)`` and ``(S,)``.
        """
        from schedlab.learn.forecast.baselines import log_windows

        hist, tgt = log_windows(log, self.window, self.horizon, start, stop)
        n = len(log.node_ids)
        per_node = hist.shape[0] // n if n else 0
        node = np.repeat(self.node_index(log.node_ids), per_node)
        return self.transform(hist), self.transform(tgt), node

    def fit(self, log, *, progress: Callable[[float], None] | None = None) -> NeuralForecaster:
        """Train on a node log; return ``self``.

        The first steps are training targets, the last ``val_fraction`` validation targets.
        ``progress`` is called after every epoch with the share of ``epochs`` done (1.0 at the
        end, also when stopping early). :attr:`history_` then holds ``train_loss`` and
        ``val_loss`` (per epoch), ``best_epoch`` (1-based), ``epochs_run``, ``train_samples``,
        ``val_samples``, ``wall_s`` and ``cpu_s`` (process CPU seconds).

        Raises:
            DataError: The log is too short for the window, the horizon and the split.
        """
        self._check_params()
        torch = _torch()
        wall0, cpu0 = time.perf_counter(), time.process_time()
        steps = log.steps
        t_train = self.split_steps(steps)
        n_val = steps - t_train
        need = self.window + self.horizon
        if t_train < need or (n_val and n_val < self.horizon):
            raise DataError(
                f"node log too short for the window: {steps} steps; window {self.window} and horizon "
                f"{self.horizon} need at least {need} training steps"
                + (f" and {self.horizon} validation steps" if n_val else "")
                + f" (val_fraction {self.val_fraction} leaves {t_train} and {n_val})",
                field="steps",
            )
        self.node_ids_ = sorted(int(n) for n in log.node_ids)
        self._fit_scaler(log.values[:t_train])
        scaled = self.transform(log.values[:t_train])
        diffs = np.diff(scaled, axis=0).reshape(-1, _NVARS)
        step_std = diffs.std(axis=0) if diffs.size else np.ones(_NVARS)
        self.step_std_ = [float(v) if v > 1e-12 else 1.0 for v in step_std]

        x_tr, y_tr, n_tr = self.windows(log, 1, t_train)
        x_va, y_va, n_va = self.windows(log, t_train, steps) if n_val else (None, None, None)

        prev_threads = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.seed)
                self.net = self.build_net(len(self.node_ids_) + 1)
                history = self._train(torch, (x_tr, y_tr, n_tr), (x_va, y_va, n_va), progress)
        finally:
            torch.set_num_threads(prev_threads)
        history.update(
            train_samples=int(x_tr.shape[0]),
            val_samples=0 if x_va is None else int(x_va.shape[0]),
            first_val_step=int(t_train),
            wall_s=time.perf_counter() - wall0,
            cpu_s=time.process_time() - cpu0,
        )
        self.history_ = history
        if progress is not None:
            progress(1.0)
        return self

    def trainable_parameters(self) -> list:
        """The parameters the optimiser updates (all that require gradients)."""
        return [p for p in self.net.parameters() if p.requires_grad]

    def loss(self, pred, target):
        """The training loss on scaled states ``(batch, horizon, 4)``: weighted mean over variables."""
        torch = _torch()
        err = pred - target
        per_var = (err**2).mean(dim=(0, 1))
        if self.huber_delay:
            delay = torch.nn.functional.huber_loss(pred[..., _DELAY], target[..., _DELAY], delta=1.0)
            # Huber is half the squared error near zero; double it so delay keeps its weight there.
            per_var = torch.cat([per_var[:_DELAY], (2 * delay).reshape(1), per_var[_DELAY + 1 :]])
        weights = torch.ones(_NVARS, dtype=pred.dtype)
        weights[_DELAY] = self.delay_weight
        return (per_var * weights).sum() / weights.sum()

    def _train(self, torch, train, val, progress) -> dict[str, Any]:
        x_tr, y_tr, n_tr = (torch.as_tensor(a) for a in train)
        x_tr, y_tr = x_tr.float(), y_tr.float()
        has_val = val[0] is not None and val[0].shape[0] > 0
        if has_val:
            x_va, y_va, n_va = (torch.as_tensor(a) for a in val)
            x_va, y_va = x_va.float(), y_va.float()
        gen = torch.Generator().manual_seed(self.seed)
        opt = torch.optim.AdamW(self.trainable_parameters(), lr=self.lr, weight_decay=self.weight_decay)
        net = self.net
        s = x_tr.shape[0]
        train_loss: list[float] = []
        val_loss: list[float] = []
        best, best_epoch, best_state, waited = math.inf, 0, None, 0
        stopped_early = False
        for epoch in range(1, self.epochs + 1):
            net.train()
            perm = torch.randperm(s, generator=gen)
            total = 0.0
            for i in range(0, s, self.batch_size):
                idx = perm[i : i + self.batch_size]
                node = n_tr[idx]
                if self.node_dropout > 0:
                    drop = torch.rand(idx.shape[0], generator=gen) < self.node_dropout
                    node = torch.where(drop, torch.full_like(node, UNKNOWN_NODE), node)
                loss = self.loss(net(x_tr[idx], node), y_tr[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.trainable_parameters(), 1.0)
                opt.step()
                total += float(loss.detach()) * idx.shape[0]
            train_loss.append(total / s)
            if has_val:
                val_loss.append(self._eval_loss(torch, x_va, y_va, n_va))
            score = val_loss[-1] if has_val else train_loss[-1]
            if score < best:
                best, best_epoch, waited = score, epoch, 0
                best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            else:
                waited += 1
            if progress is not None:
                progress(epoch / self.epochs)
            if self.patience and waited >= self.patience and epoch < self.epochs:
                stopped_early = True
                break
        if best_state is not None:
            net.load_state_dict(best_state)
        net.eval()
        return {
            "train_loss": train_loss,
            "val_loss": val_loss,
            "best_epoch": best_epoch,
            "best_loss": best,
            "epochs_run": len(train_loss),
            "stopped_early": stopped_early,
        }

    def _eval_loss(self, torch, x, y, node) -> float:
        self.net.eval()
        total = 0.0
        with torch.no_grad():
            for i in range(0, x.shape[0], _PREDICT_BATCH):
                sl = slice(i, i + _PREDICT_BATCH)
                total += float(self.loss(self.net(x[sl], node[sl]), y[sl])) * x[sl].shape[0]
        return total / x.shape[0]

    # -- prediction ------------------------------------------------------------------------------

    def predict(self, history: np.ndarray, node_ids: np.ndarray, steps: int = 1) -> np.ndarray:
        """The next ``steps`` states of each node, ``(nodes, steps, 4)`` in raw units.

        Raises:
            ConfigError: The forecaster is not fitted, or the shapes do not match.
        """
        if not self.fitted:
            raise ConfigError(f"the {self.name or 'neural'} forecaster is not fitted; fit or load it first")
        history = np.asarray(history, dtype=np.float64)
        node_ids = np.asarray(node_ids).reshape(-1)
        if history.ndim != 3 or history.shape[2] != _NVARS or history.shape[1] < 1:
            raise ConfigError(f"history must have shape (nodes, rows >= 1, {_NVARS}), got {history.shape}")
        if node_ids.shape[0] != history.shape[0]:
            raise ConfigError(f"{node_ids.shape[0]} node ids for {history.shape[0]} histories")
        if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 1:
            raise ConfigError(f"steps must be a positive integer, got {steps!r}", field="steps")
        if history.shape[0] == 0:
            return np.zeros((0, int(steps), _NVARS))
        torch = _torch()
        x = self.transform(pad_history(history, self.window))
        node = torch.as_tensor(self.node_index(node_ids))
        prev_threads = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            out = self._roll(torch, torch.as_tensor(x).float(), node, int(steps))
        finally:
            torch.set_num_threads(prev_threads)
        return self.inverse_transform(out.double().numpy())

    def _roll(self, torch, x, node, steps: int):
        self.net.eval()
        parts = []
        with torch.no_grad():
            for i in range(0, x.shape[0], _PREDICT_BATCH):
                cur = x[i : i + _PREDICT_BATCH]
                nd = node[i : i + _PREDICT_BATCH]
                made = []
                done = 0
                while done < steps:
                    pred = self.net(cur, nd)
                    made.append(pred)
                    done += pred.shape[1]
                    if done < steps:
                        cur = torch.cat([cur, pred], dim=1)[:, -self.window :]
                parts.append(torch.cat(made, dim=1)[:, :steps])
        return torch.cat(parts, dim=0)

    # -- state on disk ---------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Node ids, scaling and training history, as JSON values."""
        return {
            "node_ids": list(self.node_ids_),
            "mean": list(self.mean_),
            "std": list(self.std_),
            "step_std": list(self.step_std_),
            "history": _jsonable(self.history_),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` and build the network (weights come from :meth:`load_weights`).

        Raises:
            DataError: A field is missing or has the wrong shape.
        """
        try:
            node_ids = [int(n) for n in state["node_ids"]]
            mean = [float(v) for v in state["mean"]]
            std = [float(v) for v in state["std"]]
            step_std = [float(v) for v in state.get("step_std", [1.0] * _NVARS)]
        except (KeyError, TypeError, ValueError) as e:
            raise DataError(f"missing or malformed state ({e!r}); was the forecaster fitted?", field="state") from None
        if len(mean) != _NVARS or len(std) != _NVARS or len(step_std) != _NVARS:
            raise DataError(f"mean, std and step_std must hold {_NVARS} numbers each", field="state")
        if not all(math.isfinite(v) for v in mean) or not all(math.isfinite(v) and v > 0 for v in std + step_std):
            # float() reads "nan" and "inf"; scaled by them, every forecast would be NaN.
            raise DataError("mean must hold finite numbers, std and step_std positive finite ones", field="state")
        if len(set(node_ids)) != len(node_ids) or not all(0 <= n < 2**31 for n in node_ids):
            raise DataError("node_ids must be distinct node ids from 0 to 2**31 - 1", field="state.node_ids")
        self.node_ids_, self.mean_, self.std_, self.step_std_ = node_ids, mean, std, step_std
        self.history_ = dict(state.get("history", {}))
        torch = _torch()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.net = self.build_net(len(node_ids) + 1)
        self.net.eval()

    def weights(self) -> dict[str, Any]:
        """The tensors :meth:`save_weights` writes: the whole network's state by default."""
        return self.net.state_dict()

    def save_weights(self, path: Path) -> None:
        """Write :meth:`weights` to ``path`` as safetensors.

        Raises:
            ConfigError: The forecaster is not fitted.
        """
        if not self.fitted:
            raise ConfigError(f"the {self.name or 'neural'} forecaster is not fitted; nothing to save")
        from safetensors.torch import save_file

        tensors = {k: v.detach().cpu().contiguous().clone() for k, v in self.weights().items()}
        tmp = Path(str(path) + ".tmp")
        # One metadata key: the writer orders keys by hash, so two would make same-seed files differ.
        save_file(tensors, str(tmp), metadata={"format": f"schedlab-forecaster-1/{self.name}"})
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # the writer makes the file private; give it the usual mode
        tmp.replace(path)

    def load_weights(self, path: Path) -> None:
        """Read tensors written by :meth:`save_weights` into the network (all of :meth:`weights`).

        Raises:
            DataError: The file is missing, unreadable, or does not fit the network.
        """
        path = Path(path)
        if not path.is_file():
            raise DataError("no such file: the forecaster's weights are missing", source=str(path))
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            tensors = load_file(str(path))
        except (SafetensorError, OSError, ValueError) as e:
            raise DataError(f"not a safetensors file ({e})", source=str(path)) from None
        expected = self.weights()
        missing = sorted(set(expected) - set(tensors))
        unknown = sorted(set(tensors) - set(expected))
        if missing or unknown:
            what = f"missing tensors {missing[:3]}" if missing else f"unexpected tensors {unknown[:3]}"
            raise DataError(f"weights do not fit the {self.name} network: {what}", source=str(path))
        for k, v in tensors.items():
            if tuple(v.shape) != tuple(expected[k].shape):
                raise DataError(
                    f"tensor {k} has shape {tuple(v.shape)}, the network expects {tuple(expected[k].shape)}",
                    source=str(path),
                )
            if v.dtype != expected[k].dtype:
                raise DataError(f"tensor {k} is {v.dtype}, the network expects {expected[k].dtype}", source=str(path))
            if v.is_floating_point() and not bool(v.isfinite().all()):
                # A trained network never holds them; the forecasts would be NaN for every node.
                raise DataError(f"tensor {k} holds NaN or infinite values: the file is damaged", source=str(path))
        self.net.load_state_dict(tensors, strict=False)
        self.net.eval()


def forecast_head(f: NeuralForecaster, features: int):
    """The output layer of every neural forecaster: pooled features -> the next ``f.horizon`` states.

    ``forward(z, x)`` maps features ``z (B, features)`` and the input window ``x (B, window, 4)``
    to ``(B, horizon, 4)``, scaled. With ``f.residual`` it predicts the change from the latest
    state, in units of the typical change over h steps, and starts at zero, so that an untrained
    net is last-value persistence.
    """
    import torch
    from torch import nn

    class _Head(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.horizon, self.residual = f.horizon, f.residual
            self.linear = nn.Linear(features, f.horizon * 4)
            # The typical change over h steps grows like sqrt(h) for a random walk.
            scale = torch.tensor(f.step_std_ or [1.0] * 4, dtype=torch.float32)
            ahead = torch.sqrt(torch.arange(1, f.horizon + 1, dtype=torch.float32))
            self.register_buffer("delta_scale", ahead[:, None] * scale[None, :])
            if self.residual:
                nn.init.zeros_(self.linear.weight)
                nn.init.zeros_(self.linear.bias)

        def forward(self, z, x):
            out = self.linear(z).view(-1, self.horizon, 4)
            return x[:, -1:, :] + out * self.delta_scale if self.residual else out

    return _Head()


def _torch():
    try:
        import torch
    except ImportError:
        # Only the neural forecasters need torch: say what to install in one line.
        raise ConfigError(
            "the neural forecasters need torch: pip install torch==2.13.0, then pip install 'schedlab[learn]'",
            field="model",
        ) from None
    return torch


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
