"""The cost-regression GNN as a multiproc scheduler: place each task where it is predicted to complete first.

At each decision the scheduler computes the node features of every CPU for the task waiting
longest, predicts the log of the task's completion time on each (:class:`NumpyCostGNN`, NumPy
only), and picks by its ``rule``:

``argmin`` (default)
    The CPU with the least predicted completion time (ties: the lowest id, as the oracle's).
``slack-fit``
    The risk rule of the ``slack-fit`` baseline with predicted completions in place of the
    declared-size formula: the slowest CPU predicted to complete at least ``margin_s`` before
    the deadline (ties: the earlier prediction, then the lowest id); when none is, the
    ``argmin`` pick, or with ``triage`` the slowest CPU (the task is late anyway).

``predictor="formula"`` replaces the network by the formula it corrects, ``(work_remaining +
size) / speed``: the same rule without learning, the ablation that attributes a gain to the
weights.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from schedlab.errors import ConfigError, DataError
from schedlab.learn.gnn_cost.features import ESTIMATE, node_features
from schedlab.learn.gnn_cost.network import ARCHITECTURE, NumpyCostGNN
from schedlab.schedulers.base import Scheduler
from schedlab.sim.actions import Enqueue

__all__ = ["GnnCostScheduler", "FormulaCostScheduler", "shipped_gnn_cost", "RULES", "PREDICTORS"]

RULES = ("argmin", "slack-fit")
PREDICTORS = ("learned", "formula")


def shipped_gnn_cost() -> Path | None:
    """The policy directory shipped in the package (``learn/policies/multiproc-gnn-cost``), if present."""
    folder = resources.files("schedlab.learn") / "policies" / "multiproc-gnn-cost"
    if not folder.is_dir() or not (folder / "policy.json").is_file():
        return None
    return Path(str(folder))


def load_network(path: str | Path) -> NumpyCostGNN:
    """The network of a ``gnn-cost`` policy directory.

    Raises:
        DataError: Not a multiproc gnn-cost policy, weights missing or corrupt, or weights that
            do not fit the architecture in the card.
    """
    from schedlab.learn.policy import POLICY_FILE, WEIGHTS_FILE, read_arrays, read_card

    card = read_card(path, algorithm="gnn-cost", family="multiproc")
    arch = card["architecture"].get("network", ARCHITECTURE)
    if not isinstance(arch, dict):
        raise DataError("expected an object", source=str(Path(path) / POLICY_FILE), field="architecture.network")
    tensors = read_arrays(Path(path) / WEIGHTS_FILE)
    try:
        return NumpyCostGNN(tensors, arch)
    except ValueError as e:
        raise DataError(f"weights do not fit the network: {e}", source=str(Path(path) / WEIGHTS_FILE)) from None


class GnnCostScheduler(Scheduler):
    """Each task to the CPU where a cost-regression GNN predicts it completes first (see the module docstring).

    Args:
        model: A policy directory of ``schedlab train multiproc gnn-cost``; default the policy
            shipped with schedlab. Unused with ``predictor="formula"``.
        predictor: ``"learned"`` (the network) or ``"formula"`` (``(work_remaining + size) /
            speed``, the ablation).
        rule: ``"argmin"`` or ``"slack-fit"``.
        margin_s: ``slack-fit``: time kept in reserve before the deadline (s, at least 0).
        triage: ``slack-fit``: a task predicted late on every CPU goes to the slowest.

    Raises:
        ConfigError: A bad knob, or no ``model`` given and no policy ships.
        DataError: ``model`` is not a multiproc gnn-cost policy, or its weights are missing,
            corrupt or do not fit.
    """

    name: ClassVar[str] = "gnn-cost"
    families: ClassVar[tuple[str, ...]] = ("multiproc",)

    def __init__(
        self,
        model: str | None = None,
        predictor: str = "learned",
        rule: str = "argmin",
        margin_s: float = 0.75,
        triage: bool = True,
    ) -> None:
        _check_knobs(predictor, rule, margin_s, triage)
        self.model = model
        self.predictor = predictor
        self.rule = rule
        self.margin_s = float(margin_s)
        self.triage = triage
        self._net: NumpyCostGNN | None = None
        if predictor == "learned":
            path = model
            if path is None:
                found = shipped_gnn_cost()
                if found is None:
                    raise ConfigError(
                        "no gnn-cost policy ships; train one with `schedlab train multiproc gnn-cost --out DIR` "
                        "and pass --param model=DIR",
                        field="model",
                    )
                path = str(found)
            self._net = load_network(path)

    @classmethod
    def from_weights(
        cls,
        tensors: Mapping[str, Any],
        arch: Mapping[str, Any] = ARCHITECTURE,
        *,
        rule: str = "argmin",
        margin_s: float = 0.75,
        triage: bool = True,
    ) -> GnnCostScheduler:
        """A scheduler over weights in memory (a trainer's, for validation); the knobs as the constructor's.

        Raises:
            ConfigError: A bad knob.
            ValueError: Weights that do not fit ``arch``.
        """
        self = cls(predictor="formula", rule=rule, margin_s=margin_s, triage=triage)
        self.predictor = "learned"
        self._net = NumpyCostGNN(tensors, arch)
        return self

    def get_params(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "predictor": self.predictor,
            "rule": self.rule,
            "margin_s": self.margin_s,
            "triage": self.triage,
        }

    def predict_log(self, view: Any, task: Any | None = None) -> np.ndarray:
        """Log of the predicted completion time of ``task`` (default ``view.task``) on each CPU, minus now (s)."""
        x = node_features(view, task)
        return self._net(x) if self._net is not None else x[:, ESTIMATE]

    def predict(self, view: Any, task: Any | None = None) -> np.ndarray:
        """Predicted completion time of ``task`` (default ``view.task``) on each CPU, minus now (s)."""
        return np.exp(self.predict_log(view, task))

    def decide(self, view: Any) -> list[Enqueue]:
        task = view.task
        log_t = self.predict_log(view, task)
        if self.rule == "argmin":
            # The log is increasing: its least is the least completion time, no exp needed.
            return [Enqueue(task.id, int(np.argmin(log_t)))]
        return [Enqueue(task.id, self._slack_fit(view, task, np.exp(log_t).tolist()))]

    def _slack_fit(self, view: Any, task: Any, pred: list[float]) -> int:
        left = task.deadline - view.now
        cpus = view.workers
        fits = [c for c in cpus if pred[c.id] + self.margin_s <= left]
        if fits:
            return min(fits, key=lambda c: (c.speed, pred[c.id], c.id)).id
        if self.triage and all(pred[c.id] > left for c in cpus):
            return min(cpus, key=lambda c: (c.speed, pred[c.id], c.id)).id
        return min(range(len(pred)), key=pred.__getitem__)


class FormulaCostScheduler(GnnCostScheduler):
    """:class:`GnnCostScheduler` with the formula as its predictor, reachable by its import path.

    The ablation, for comparisons that name schedulers by string and pass no parameters:
    ``schedlab.learn.gnn_cost.scheduler:FormulaCostScheduler``.
    """

    def __init__(
        self,
        model: str | None = None,
        predictor: str = "formula",
        rule: str = "argmin",
        margin_s: float = 0.75,
        triage: bool = True,
    ) -> None:
        super().__init__(model, predictor, rule, margin_s, triage)


def _check_knobs(predictor: Any, rule: Any, margin_s: Any, triage: Any) -> None:
    if predictor not in PREDICTORS:
        raise ConfigError(f"must be one of {', '.join(PREDICTORS)}, got {predictor!r}", field="predictor")
    if rule not in RULES:
        raise ConfigError(f"must be one of {', '.join(RULES)}, got {rule!r}", field="rule")
    if not isinstance(margin_s, (int, float)) or isinstance(margin_s, bool) or not math.isfinite(margin_s):
        raise ConfigError(f"must be a number of seconds, got {margin_s!r}", field="margin_s")
    if margin_s < 0:
        raise ConfigError(f"must be at least 0 s, got {margin_s!r}", field="margin_s")
    if not isinstance(triage, bool):
        raise ConfigError(f"must be true or false, got {triage!r}", field="triage")
