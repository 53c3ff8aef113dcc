"""``schedlab train multiproc gnn-cost``: supervised regression of completion times from several schedulers' runs.

Data
    Each iteration runs ``episodes`` new training episodes, each under one of the
    ``data_schedulers`` in turn (default lwr, oracle, slack-fit-triage, edf-pull and
    round-robin, so the states cover more than one policy's), on training seeds taken in order
    from the bottom of the range, and records every decision: the node features of each CPU and
    the log of the task's true completion time there, minus now (s). The decisions go into a
    buffer of at most ``buffer`` decisions (the oldest leave first).
Held-out data
    ``holdout_episodes`` episodes on the top training seeds (never trained on), one per data
    scheduler in turn, collected once: each iteration reports the prediction error there, of
    the network and of the formula it corrects, and how often each ranks first the CPU that
    truly completes first. Reported, not used to choose anything.
Update
    ``updates`` Adam steps on minibatches of ``batch_size`` decisions drawn uniformly from the
    buffer; the loss is the mean squared error of the log completion time over every CPU of
    every decision (each CPU's label is known).

``steps`` and ``workers`` are not used: episodes run whole, in this process, and
``num_timesteps`` counts the decisions recorded. The validation run of :mod:`schedlab.learn.train`
uses the ``argmin`` rule.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from schedlab.errors import ConfigError
from schedlab.learn.gnn_cost.features import ESTIMATE, FEATURES, Dataset, collect

__all__ = ["GnnCostTrainer", "HYPERPARAMETERS"]

#: Defaults of the knobs (``schedlab train multiproc gnn-cost --param key=value``).
HYPERPARAMETERS: dict[str, Any] = {
    "hidden": 32,
    "layers": 2,
    "context": True,
    "learning_rate": 3e-3,
    "batch_size": 256,
    "updates": 300,
    "episodes": 1,
    "buffer": 300_000,
    "holdout_episodes": 5,
    "data_schedulers": "lwr,oracle,slack-fit-triage,edf-pull,round-robin",
}


def _parse_params(params: Mapping[str, Any] | None) -> dict[str, Any]:
    hp = dict(HYPERPARAMETERS)
    for key, value in (params or {}).items():
        if key not in hp:
            raise ConfigError(f"unknown gnn-cost parameter {key!r}; known: {', '.join(hp)}", field="--param")
        default = hp[key]
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise ConfigError(f"{key} must be true or false, got {value!r}", field="--param")
        elif key == "data_schedulers":
            if isinstance(value, (list, tuple)):
                value = ",".join(str(v) for v in value)
            if not isinstance(value, str):
                raise ConfigError(f"{key} must be comma-separated scheduler names, got {value!r}", field="--param")
        elif isinstance(default, int):
            if not isinstance(value, int) or isinstance(value, bool):
                raise ConfigError(f"{key} must be an integer, got {value!r}", field="--param")
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key} must be a number, got {value!r}", field="--param")
        hp[key] = value
    for key in ("hidden", "batch_size", "updates", "episodes", "buffer"):
        if hp[key] < 1:
            raise ConfigError(f"{key} must be at least 1, got {hp[key]}", field="--param")
    for key in ("layers", "holdout_episodes"):
        if hp[key] < 0:
            raise ConfigError(f"{key} must be at least 0, got {hp[key]}", field="--param")
    if not hp["learning_rate"] > 0:
        raise ConfigError(f"learning_rate must be positive, got {hp['learning_rate']}", field="--param")
    return hp


class GnnCostTrainer:
    """The cost-regression GNN on multiproc (see the module docstring), for :mod:`schedlab.learn.train`.

    Args:
        family: ``"multiproc"``.
        algorithm: ``"gnn-cost"``.
        scenario: The validated training scenario.
        train_seeds: Inclusive range of training episode seeds.
        steps: Unused (episodes run whole); kept for the protocol.
        workers: Unused (episodes run in this process); kept for the protocol.
        seed: Seeds the network's initialisation and the minibatch draws.
        params: Overrides of :data:`HYPERPARAMETERS`.
        ray: Unused, as ``workers``: a script may pass ``--ray`` to every algorithm.

    Raises:
        ConfigError: Not multiproc, an unknown or bad parameter, an unknown data
            scheduler, or a training range too small for the held-out episodes.
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
        try:
            import torch
        except ImportError:
            # Only training needs torch (the scheduler runs on NumPy): say what to install in one line.
            raise ConfigError(
                "training gnn-cost needs torch: pip install torch==2.13.0, then pip install 'schedlab[learn]'",
                field="ALGORITHM",
            ) from None

        from schedlab.learn.gnn_cost.network import CostGNN
        from schedlab.schedulers import check_name

        if family != "multiproc":
            raise ConfigError(f"gnn-cost trains on multiproc, not on {family}", field="FAMILY")
        hp = _parse_params(params)
        names = [s.strip() for s in hp["data_schedulers"].split(",") if s.strip()]
        if not names:
            raise ConfigError("data_schedulers names no scheduler", field="--param")
        for name in names:
            if name == "gnn-cost":
                raise ConfigError("data_schedulers cannot hold gnn-cost itself", field="--param")
            check_name(name, "multiproc")
        lo, hi = int(train_seeds[0]), int(train_seeds[1])
        if hi - lo + 1 <= hp["holdout_episodes"]:
            raise ConfigError(
                f"{hi - lo + 1} training seeds leave none to train on beside {hp['holdout_episodes']} held out",
                field="--train-seeds",
            )
        self.family, self.algorithm = family, algorithm
        self.hp = hp
        self.data_schedulers = names
        self.scenario = scenario
        self.scenario_data = scenario.model_dump(mode="json")
        self.train_seeds = (lo, hi)
        self.seed = seed
        self.arch = {
            "features": len(FEATURES),
            "hidden": hp["hidden"],
            "layers": hp["layers"],
            "context": hp["context"],
        }
        # One thread: the figures in the docs count the CPU time of one core, and small
        # matrices gain nothing from more.
        torch.set_num_threads(1)
        torch.manual_seed(seed)
        self.net = CostGNN(self.arch)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=hp["learning_rate"])
        self.rng = np.random.default_rng(seed)
        self.iteration = 0
        self.num_timesteps = 0
        self.episodes = 0
        self.buffer: Dataset | None = None
        # Collected on first use, inside the loop's clock, so the training CPU time counts it.
        self._holdout: Dataset | None = None

    # -- data ------------------------------------------------------------------------------

    def _episode(self, k: int) -> tuple[str, int]:
        """The data scheduler and training seed of the ``k``-th training episode (0-based)."""
        lo, hi = self.train_seeds
        usable = hi - lo + 1 - self.hp["holdout_episodes"]
        return self.data_schedulers[k % len(self.data_schedulers)], lo + k % usable

    @property
    def holdout(self) -> Dataset | None:
        """The held-out decisions (None without held-out episodes), collected on first use."""
        if self._holdout is None and self.hp["holdout_episodes"]:
            hi = self.train_seeds[1]
            parts = [
                collect(self.scenario, self.data_schedulers[k % len(self.data_schedulers)], hi - k)
                for k in range(self.hp["holdout_episodes"])
            ]
            self._holdout = Dataset.concat(parts)
        return self._holdout

    def _add(self, data: Dataset) -> None:
        buf = data if self.buffer is None else Dataset.concat([self.buffer, data])
        cap = self.hp["buffer"]
        if len(buf) > cap:
            buf = Dataset(buf.x[-cap:], buf.y[-cap:])
        self.buffer = buf

    def _collect(self, count: int) -> int:
        """Run the next ``count`` training episodes into the buffer; the decisions recorded."""
        added = 0
        for _ in range(count):
            name, seed = self._episode(self.episodes)
            data = collect(self.scenario, name, seed)
            self._add(data)
            self.episodes += 1
            added += len(data)
        return added

    # -- one iteration ---------------------------------------------------------------------

    def iterate(self) -> dict[str, float]:
        """Collect ``episodes`` episodes, take ``updates`` Adam steps; the losses and held-out errors."""
        import torch

        t0 = time.perf_counter()
        added = self._collect(self.hp["episodes"])
        self.num_timesteps += added
        if self.iteration == 0:
            self.net.set_normalisation(torch.from_numpy(self.buffer.x))
        t1 = time.perf_counter()
        x_all = torch.from_numpy(self.buffer.x)
        y_all = torch.from_numpy(self.buffer.y)
        bs = min(self.hp["batch_size"], len(self.buffer))
        losses = []
        self.net.train()
        for _ in range(self.hp["updates"]):
            idx = torch.from_numpy(self.rng.integers(0, len(self.buffer), size=bs))
            pred = self.net(x_all[idx])
            loss = torch.mean((pred - y_all[idx]) ** 2)
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            losses.append(float(loss.detach()))
        self.iteration += 1
        out = {
            "train_log_mse": float(np.mean(losses)),
            "decisions": float(len(self.buffer)),
            "episodes": float(self.episodes),
            "collect_s": t1 - t0,
            "update_s": time.perf_counter() - t1,
        }
        out.update(self.holdout_errors())
        return out

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The network's predicted log completion times for node features ``x`` (torch, no gradient)."""
        import torch

        self.net.eval()
        with torch.no_grad():
            return self.net(torch.from_numpy(np.asarray(x, dtype=np.float32))).numpy()

    def holdout_errors(self) -> dict[str, float]:
        """Prediction errors on the held-out episodes, of the network and of the formula (``formula_*``).

        ``log_mse``: mean squared error of the log completion time; ``mae_s``: mean absolute
        error of the completion time (s); ``rel_err``: its mean relative error; ``rank_agree``:
        share of decisions whose least prediction is the CPU that truly completes first.
        """
        held = self.holdout
        if held is None:
            return {}
        out: dict[str, float] = {}
        for prefix, pred in (("holdout_", self.predict(held.x)), ("holdout_formula_", held.x[..., ESTIMATE])):
            out.update({f"{prefix}{k}": v for k, v in regression_errors(pred, held.y).items()})
        return out

    # -- what the loop saves ---------------------------------------------------------------

    def card(self) -> dict[str, Any]:
        """The policy card (without the training section, which the loop adds)."""
        from schedlab.learn.gnn_cost.network import parameter_count

        return {
            "algorithm": "gnn-cost",
            "family": "multiproc",
            "architecture": {"library": "torch", "network": self.arch, "parameters": parameter_count(self.arch)},
            "observation": {
                "node_features": list(FEATURES),
                "features": "schedlab.learn.gnn_cost.features:node_features",
                "target": "log(true completion time - now), s",
                "scenario": self.scenario_data,
            },
            "hyperparameters": self.hp,
            "data": {
                "schedulers": self.data_schedulers,
                "episodes": self.episodes,
                "train_seeds_used": [self._episode(0)[1], self._episode(max(self.episodes - 1, 0))[1]],
                "holdout_seeds": [self.train_seeds[1] - k for k in range(self.hp["holdout_episodes"])],
            },
        }

    def weights(self) -> dict[str, Any]:
        """The network's tensors."""
        return {k: v.detach().clone() for k, v in self.net.state_dict().items()}

    def _weights_np(self) -> dict[str, np.ndarray]:
        return {k: v.detach().cpu().numpy().copy() for k, v in self.net.state_dict().items()}

    def scheduler(self):
        """The current network as an ``argmin`` scheduler (a copy: training on does not change it)."""
        from schedlab.learn.gnn_cost.scheduler import GnnCostScheduler

        return GnnCostScheduler.from_weights(self._weights_np(), self.arch)

    def training_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """Tensors and JSON values to resume from: network, optimizer, counters, the random stream."""
        from schedlab.learn.train import optimizer_state

        tensors = {f"net.{k}": v for k, v in self.net.state_dict().items()}
        optim, param_groups = optimizer_state(self.opt)
        tensors.update(optim)
        meta = {
            "iteration_count": self.iteration,
            "num_timesteps": self.num_timesteps,
            "episodes": self.episodes,
            "param_groups": param_groups,
            "rng": self.rng.bit_generator.state,
        }
        return tensors, meta

    def load_training_state(self, tensors: Mapping[str, Any], meta: Mapping[str, Any]) -> None:
        """Restore what :meth:`training_state` returned; the buffer is rebuilt by re-running its episodes.

        The simulations are deterministic, so the rebuilt buffer equals the one saved from.
        """
        from schedlab.learn.train import load_optimizer_state

        self.net.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("net.")})
        load_optimizer_state(self.opt, tensors, meta["param_groups"])
        self.iteration = int(meta["iteration_count"])
        self.num_timesteps = int(meta["num_timesteps"])
        self.rng.bit_generator.state = meta["rng"]
        self.episodes, self.buffer = 0, None
        self._collect(int(meta["episodes"]))

    def worker_pids(self) -> list[int]:
        """No rollout workers: everything runs in this process."""
        return []

    def close(self) -> None:
        """Nothing to release."""


def regression_errors(pred_log: np.ndarray, true_log: np.ndarray) -> dict[str, float]:
    """Errors of predicted log completion times against the true ones, both ``(decisions, num_cpus)``.

    Returns:
        ``log_mse`` (squared error of the logs), ``mae_s`` (absolute error of the completion
        times, s), ``rel_err`` (absolute error over the true completion time), ``rank_agree``
        (share of decisions whose least prediction is the CPU with the least true completion
        time, ties to the lowest id on both sides, as the oracle's).
    """
    p = np.asarray(pred_log, dtype=np.float64)
    y = np.asarray(true_log, dtype=np.float64)
    tp, ty = np.exp(p), np.exp(y)
    return {
        "log_mse": float(np.mean((p - y) ** 2)),
        "mae_s": float(np.mean(np.abs(tp - ty))),
        "rel_err": float(np.mean(np.abs(tp - ty) / ty)),
        "rank_agree": float(np.mean(np.argmin(p, axis=-1) == np.argmin(y, axis=-1))),
    }
