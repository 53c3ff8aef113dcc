"""``schedlab train``: one training loop for every learning algorithm, with the protocol's bookkeeping.

:func:`train` drives a *trainer* (an algorithm on a family, registered in :data:`ALGORITHMS`)
iteration by iteration and does what every algorithm needs the same way:

- validation on the validation seeds (1000-1099; never the test seeds 1-20) every
  ``val_every`` iterations and at the end: the family's metric, mean and 95% CI over the seeds,
  with the current policy run as a scheduler through :func:`schedlab.runs.simulate`;
- the best policy by that validation metric written to ``OUT/`` (``weights.safetensors`` +
  ``policy.json``), so ``OUT`` is at once a scheduler (``-s OUT`` or ``--param model=OUT``);
- ``OUT/history.csv`` (one row per iteration: steps, wall and CPU seconds, losses, entropy,
  validation mean and CI) and ``OUT/learning_curve.png``;
- ``OUT/checkpoints/last/`` every ``checkpoint_every`` iterations, at the end and on Ctrl-C,
  from which ``resume=True`` carries on (the episodes after a resume are not those an
  uninterrupted run would have seen).

A trainer implements: ``iterate() -> dict`` (one iteration; losses), ``num_timesteps``,
``card()``, ``weights()``, ``scheduler()``, ``training_state()``,
``load_training_state(tensors, meta)``, ``worker_pids()`` and ``close()``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from schedlab.errors import ConfigError, DataError
from schedlab.learn.policy import read_tensors, save_policy, write_tensors
from schedlab.sim.io import write_atomic

__all__ = [
    "ALGORITHMS",
    "TrainConfig",
    "TrainResult",
    "train",
    "default_metric",
    "optimizer_state",
    "load_optimizer_state",
]

#: Algorithm -> ``"module:Class"`` of its trainer and the families it trains on (None: any
#: family with a Gymnasium environment).
ALGORITHMS: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "ppo": ("schedlab.learn.sb3:SB3Trainer", None),
    "dqn": ("schedlab.learn.sb3:SB3Trainer", None),
    "decima": ("schedlab.learn.decima.trainer:DecimaTrainer", ("spark",)),
    "gnn-cost": ("schedlab.learn.gnn_cost.trainer:GnnCostTrainer", ("multiproc",)),
    "netllm": ("schedlab.learn.netllm.trainer:NetLLMTrainer", ("spark",)),
}

#: The training seeds' floor (``EVALUATION.md``): no episode below it is ever trained on.
TRAIN_SEED_FLOOR = 10_000
VALIDATION_SEEDS = range(1000, 1100)

_CONFIG_FILE = "train.json"
_HISTORY_FILE = "history.csv"
_CURVE_FILE = "learning_curve.png"
_LAST = Path("checkpoints") / "last"


@dataclass
class TrainConfig:
    """What a training run is: saved as ``OUT/train.json`` and read back by ``resume``.

    Attributes:
        family: The family trained on.
        algorithm: A key of :data:`ALGORITHMS`.
        scenario: Preset name or YAML path of the training scenario.
        iterations: Iterations in all (a resumed run goes on up to this many).
        steps: Environment steps per iteration, over all workers.
        workers: Parallel rollout processes.
        seed: Seeds the learner and the workers.
        train_seeds: Inclusive range of training episode seeds (10,000 and up).
        val_seeds: Validation seeds (within 1000-1099).
        val_every: Validate every this many iterations (and at the last one).
        checkpoint_every: Save ``checkpoints/last`` every this many iterations.
        metric: The validation metric (default: the one the environment's reward sums to).
        params: Algorithm knobs (see the trainer).
        ray: Run the rollout workers on Ray.
        command: The command line that started the run, for the policy card.
    """

    family: str
    algorithm: str
    scenario: str
    iterations: int = 50
    steps: int = 2048
    workers: int = 1
    seed: int = 0
    train_seeds: tuple[int, int] = (10_000, 19_999)
    val_seeds: list[int] = field(default_factory=lambda: list(range(1000, 1005)))
    val_every: int = 5
    checkpoint_every: int = 5
    metric: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    ray: bool = False
    command: str = ""

    def check(self) -> None:
        """Refuse settings that break the evaluation protocol or make no sense.

        Raises:
            ConfigError: Naming the option.
        """
        lo, hi = self.train_seeds
        if lo < TRAIN_SEED_FLOOR or hi < lo:
            raise ConfigError(
                f"training seeds are {TRAIN_SEED_FLOOR} and up, lowest first; got {lo}-{hi}", field="--train-seeds"
            )
        if not self.val_seeds:
            raise ConfigError("give at least one validation seed", field="--val-seeds")
        outside = [s for s in self.val_seeds if s not in VALIDATION_SEEDS]
        if outside:
            raise ConfigError(
                f"validation seeds are 1000-1099 (test seeds 1-20 are never used to choose); got {outside[:3]}",
                field="--val-seeds",
            )
        for name in ("iterations", "steps", "workers", "val_every", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ConfigError("must be at least 1", field=f"--{name.replace('_', '-')}")
        if not 0 <= self.seed < 2**32:
            # The RL libraries seed NumPy's legacy generator, which takes 32 bits.
            raise ConfigError(f"must be from 0 to 2**32 - 1, got {self.seed}", field="--seed")


@dataclass
class TrainResult:
    """What :func:`train` returns."""

    out: Path
    iterations: int
    steps: int
    best_iteration: int | None
    best_value: float | None
    best_ci95: float | None
    metric: str
    history: list[dict[str, Any]]


def default_metric(family: str) -> str:
    """The metric a family's environment reward sums to (its ``metric`` attribute), else its first table key."""
    from schedlab import plugins

    spec = plugins.get(family)
    if spec.env is not None:
        try:
            metric = getattr(plugins.resolve(spec.env), "metric", None)
        except ImportError:
            metric = None
        if metric:
            return metric
    return spec.table_keys[0]


def make_trainer(config: TrainConfig, scenario: Any):
    """Build the trainer of ``config.algorithm``.

    Raises:
        ConfigError: Unknown algorithm, or one that does not train on the family.
    """
    import difflib

    from schedlab.plugins import resolve

    entry = ALGORITHMS.get(config.algorithm)
    if entry is None:
        close = difflib.get_close_matches(config.algorithm, ALGORITHMS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"unknown algorithm {config.algorithm!r}.{hint} Valid: {', '.join(ALGORITHMS)}", field="ALGORITHM"
        )
    target, families = entry
    if families is not None and config.family not in families:
        raise ConfigError(f"{config.algorithm} trains on {', '.join(families)}, not on {config.family}", field="FAMILY")
    cls = resolve(target)
    return cls(
        config.family,
        config.algorithm,
        scenario,
        train_seeds=tuple(config.train_seeds),
        steps=config.steps,
        workers=config.workers,
        seed=config.seed,
        params=config.params,
        **({"ray": True} if config.ray else {}),
    )


def train(
    config: TrainConfig,
    out: str | os.PathLike,
    *,
    resume: bool = False,
    on_iteration: Callable[[dict[str, Any]], None] | None = None,
) -> TrainResult:
    """Train, validate, checkpoint and keep the best policy; see the module docstring.

    Args:
        config: The run's settings (with ``resume``, those saved in ``OUT`` are used, except
            ``iterations``, which may grow).
        out: The output directory.
        resume: Carry on from ``OUT/checkpoints/last``.
        on_iteration: Called with each history row (for progress bars).

    Raises:
        ConfigError: Bad settings; ``OUT`` already holds a run (without ``resume``) or holds
            none (with it).
        KeyboardInterrupt: After saving the last checkpoint and the history.
    """
    from schedlab.metrics.summary import METRIC_INFO
    from schedlab.scenarios import load_scenario

    out = Path(out)
    if resume:
        config = _resumed_config(out, config)
    elif (out / _CONFIG_FILE).exists():
        raise ConfigError("holds a training run already: pass --resume, or choose another --out", source=str(out))
    config.check()
    metric = config.metric or default_metric(config.family)
    config.metric = metric
    # A metric not listed keeps the old reading, lower is better; one listed without a
    # direction (utilization, counts) cannot pick a best policy.
    lower_is_better = METRIC_INFO[metric].lower_is_better if metric in METRIC_INFO else True
    if lower_is_better is None:
        raise ConfigError(f"{metric!r} has no better direction, so it cannot pick the best policy", field="--metric")
    scenario = load_scenario(config.scenario)
    if scenario.family != config.family:
        raise ConfigError(f"a {scenario.family} scenario; training is for {config.family}", field="--scenario")
    if metric not in METRIC_INFO:
        # A family's own metric (not in the table) is found by one baseline run, before the
        # training rather than at its first validation.
        from schedlab.runs import simulate
        from schedlab.schedulers import default_name

        keys = simulate(scenario, default_name(config.family), config.val_seeds[0]).metrics
        if metric not in keys:
            raise ConfigError(f"the runs have no metric {metric!r}; they have {', '.join(keys)}", field="--metric")
    trainer = make_trainer(config, scenario)
    try:
        history: list[dict[str, Any]] = []
        best: dict[str, Any] | None = None
        start = 0
        if resume:
            history, best, start = _restore(out, trainer)
        else:
            out.mkdir(parents=True, exist_ok=True)
            write_atomic(out / _CONFIG_FILE, (json.dumps(asdict(config), indent=2) + "\n").encode())
        clock = _Clock(trainer.worker_pids(), history[-1] if history else None)
        iteration = start
        try:
            for iteration in range(start + 1, config.iterations + 1):
                losses = trainer.iterate()
                row: dict[str, Any] = {"iteration": iteration, "steps": trainer.num_timesteps, **clock.read(), **losses}
                if iteration % config.val_every == 0 or iteration == config.iterations:
                    mean, half = _validate(trainer.scheduler(), scenario, config.val_seeds, metric)
                    row["val_metric"], row["val_ci95"] = mean, half
                    if _improves(mean, best, lower_is_better):
                        # JSON has no NaN: the interval of one validation seed is null.
                        ci95 = half if math.isfinite(half) else None
                        best = {"iteration": iteration, "value": mean, "ci95": ci95, "steps": trainer.num_timesteps}
                        _save_best(out, trainer, config, best, row)
                history.append(row)
                _write_history(out, history)
                if "val_metric" in row:
                    _write_curve(out, history, metric)
                if iteration % config.checkpoint_every == 0 or iteration == config.iterations:
                    _checkpoint(out, trainer, iteration, best)
                if on_iteration is not None:
                    on_iteration(row)
        except KeyboardInterrupt:
            # The checkpoint holds the weights as they are, under the last finished iteration.
            _checkpoint(out, trainer, history[-1]["iteration"] if history else start, best)
            _write_history(out, history)
            raise
    finally:
        trainer.close()
    return TrainResult(
        out=out,
        iterations=len(history) and history[-1]["iteration"],
        steps=trainer.num_timesteps,
        best_iteration=best and best["iteration"],
        best_value=best and best["value"],
        best_ci95=best and best["ci95"],
        metric=metric,
        history=history,
    )


# -- validation ------------------------------------------------------------------------------


def _validate(scheduler: Any, scenario: Any, seeds: Sequence[int], metric: str) -> tuple[float, float]:
    from schedlab.runs import simulate
    from schedlab.runs.compare import mean_ci

    values = []
    for seed in seeds:
        result = simulate(scenario, scheduler, seed)
        value = result.metrics.get(metric)
        if value is None:
            raise ConfigError(f"the runs have no metric {metric!r}", field="--metric")
        values.append(float(value))
    return mean_ci(values)


def _improves(value: float, best: dict[str, Any] | None, lower_is_better: bool) -> bool:
    if not math.isfinite(value):
        return best is None
    if best is None or not math.isfinite(best["value"]):
        return True
    return value < best["value"] if lower_is_better else value > best["value"]


# -- files -----------------------------------------------------------------------------------


def _save_best(out: Path, trainer: Any, config: TrainConfig, best: dict[str, Any], row: dict[str, Any]) -> None:
    card = trainer.card()
    card["training"] = {
        "scenario": config.scenario,
        "train_seeds": list(config.train_seeds),
        "val_seeds": list(config.val_seeds),
        "metric": config.metric,
        "best": best,
        "iterations": row["iteration"],
        "steps": trainer.num_timesteps,
        "wall_s": row["wall_s"],
        "cpu_s": row["cpu_s"],
        "workers": config.workers,
        "seed": config.seed,
        "params": config.params,
        "command": config.command,
    }
    save_policy(out, trainer.weights(), card)


def _checkpoint(out: Path, trainer: Any, iteration: int, best: dict[str, Any] | None) -> None:
    folder = out / _LAST
    folder.mkdir(parents=True, exist_ok=True)
    tensors, meta = trainer.training_state()
    write_tensors(folder / "state.safetensors", tensors, "schedlab-checkpoint/1")
    doc = {"iteration": iteration, "best": best, **meta}
    write_atomic(folder / "state.json", (json.dumps(doc, indent=2) + "\n").encode())


def _resumed_config(out: Path, given: TrainConfig) -> TrainConfig:
    path = out / _CONFIG_FILE
    if not path.is_file():
        raise ConfigError(f"no {_CONFIG_FILE} here: nothing to resume", source=str(out))
    try:
        saved = json.loads(path.read_text())
        config = TrainConfig(**saved)
    except (OSError, ValueError, TypeError) as e:
        raise DataError(f"not a training config ({e})", source=str(path)) from None
    if (config.family, config.algorithm) != (given.family, given.algorithm):
        raise ConfigError(
            f"holds a {config.family} {config.algorithm} run, not {given.family} {given.algorithm}", source=str(out)
        )
    config.train_seeds = tuple(config.train_seeds)
    config.iterations = max(config.iterations, given.iterations)
    write_atomic(path, (json.dumps(asdict(config), indent=2) + "\n").encode())
    return config


def _restore(out: Path, trainer: Any) -> tuple[list[dict[str, Any]], dict[str, Any] | None, int]:
    folder = out / _LAST
    state_path = folder / "state.json"
    if not state_path.is_file():
        raise ConfigError("no checkpoint to resume from (checkpoints/last/state.json)", source=str(out))
    try:
        meta = json.loads(state_path.read_text())
    except (OSError, ValueError) as e:
        raise DataError(f"not valid JSON ({e})", source=str(state_path)) from None
    tensors = read_tensors(folder / "state.safetensors")
    trainer.load_training_state(tensors, meta)
    iteration = int(meta["iteration"])
    history = [r for r in _read_history(out) if int(r["iteration"]) <= iteration]
    return history, meta.get("best"), iteration


def _write_history(out: Path, history: Sequence[dict[str, Any]]) -> None:
    columns = list(dict.fromkeys(k for row in history for k in row))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns)
    w.writeheader()
    w.writerows(history)
    write_atomic(out / _HISTORY_FILE, buf.getvalue().encode())


def _read_history(out: Path) -> list[dict[str, Any]]:
    path = out / _HISTORY_FILE
    if not path.is_file():
        return []
    rows = []
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            rows.append({k: _number(v) for k, v in row.items() if v != ""})
    return rows


def _number(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def _write_curve(out: Path, history: Sequence[dict[str, Any]], metric: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from schedlab.metrics.summary import METRIC_INFO

    rows = [r for r in history if "val_metric" in r]
    steps = np.array([r["steps"] for r in rows], dtype=float)
    mean = np.array([r["val_metric"] for r in rows], dtype=float)
    half = np.nan_to_num(np.array([r.get("val_ci95", math.nan) for r in rows], dtype=float))
    fig, ax = plt.subplots(figsize=(6.4, 3.6), layout="constrained")
    ax.plot(steps, mean, marker="o", label="validation (mean, 95% CI)")
    ax.fill_between(steps, mean - half, mean + half, alpha=0.25)
    ax.set_xlabel("environment steps")
    ax.set_ylabel(METRIC_INFO.get(metric, (metric,))[0])
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    write_atomic(out / _CURVE_FILE, buf.getvalue())


class _Clock:
    """Wall and CPU seconds since the run began (this process and the rollout workers)."""

    def __init__(self, worker_pids: Sequence[int], last: dict[str, Any] | None) -> None:
        self._pids = list(worker_pids)
        self._wall0 = time.perf_counter() - (float(last["wall_s"]) if last else 0.0)
        self._cpu0 = self._cpu() - (float(last["cpu_s"]) if last else 0.0)

    def read(self) -> dict[str, float]:
        return {"wall_s": round(time.perf_counter() - self._wall0, 3), "cpu_s": round(self._cpu() - self._cpu0, 3)}

    def _cpu(self) -> float:
        t = os.times()
        total = t.user + t.system
        tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        for pid in self._pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
            except (OSError, IndexError, ValueError):
                pass
        return total


def optimizer_state(optimizer: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A torch optimizer's state for a checkpoint: tensors ``optim.<param>.<name>`` and its param groups.

    Safetensors hold tensors only, so scalar entries (Adam's step count) become 0-d tensors;
    the param groups are plain values and go to JSON.
    """
    import torch

    saved = optimizer.state_dict()
    tensors = {}
    for pid, st in saved["state"].items():
        for name, value in st.items():
            tensors[f"optim.{pid}.{name}"] = value if torch.is_tensor(value) else torch.tensor(value)
    return tensors, saved["param_groups"]


def load_optimizer_state(optimizer: Any, tensors: Mapping[str, Any], param_groups: list[dict[str, Any]]) -> None:
    """Restore what :func:`optimizer_state` returned (other tensors in ``tensors`` are ignored)."""
    state: dict[int, dict[str, Any]] = {}
    for k, v in tensors.items():
        if k.startswith("optim."):
            _, pid, name = k.split(".", 2)
            state.setdefault(int(pid), {})[name] = v
    optimizer.load_state_dict({"state": state, "param_groups": param_groups})
