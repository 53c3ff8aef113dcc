"""Decima's policy as a spark scheduler: one ``Assign`` per decision, stage then parallelism limit."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from schedlab.errors import ConfigError
from schedlab.families.spark.graph import GraphCache
from schedlab.learn.decima.features import Decision, observe, to_assign
from schedlab.learn.decima.network import ARCHITECTURE, NumpyDecima
from schedlab.learn.policy import WEIGHTS_FILE, read_arrays, read_card
from schedlab.schedulers.base import Scheduler
from schedlab.sim.actions import Assign

__all__ = ["DecimaScheduler", "SampledDecimaScheduler", "choose", "shipped_decima", "MODEL_ENV"]

#: A policy directory to use when no ``model`` is given, before the shipped one (so that runs
#: in worker processes, which name the scheduler only, can evaluate another policy).
MODEL_ENV = "SCHEDLAB_DECIMA_MODEL"


def shipped_decima() -> Path | None:
    """The policy directory shipped in the package (``learn/policies/spark-decima``), if present."""
    folder = resources.files("schedlab.learn") / "policies" / "spark-decima"
    if not folder.is_dir() or not (folder / "policy.json").is_file():
        return None
    return Path(str(folder))


def _pick(p: np.ndarray, rng: np.random.Generator | None) -> int:
    """Argmax of ``p`` (rng None), else a draw from it: one uniform, so a seed fixes every choice."""
    if rng is None:
        return int(np.argmax(p))
    c = np.cumsum(p)
    i = int(np.searchsorted(c, rng.random() * c[-1], side="right"))
    # Rounding can put the draw past the last positive entry; step back onto one.
    i = min(i, len(p) - 1)
    while p[i] <= 0.0:
        i -= 1
    return i


def choose(net: NumpyDecima, d: Decision, rng: np.random.Generator | None) -> tuple[int, int, float]:
    """The stage slot, job-level limit (1-based) and their joint log-probability at ``d``.

    Args:
        net: The network.
        d: The decision point.
        rng: Samples both choices; None takes the most probable ones.
    """
    e, jobs, glob = net.encode(d)
    ps = net.stage_probs(d, e, jobs, glob)
    slot = _pick(ps, rng)
    job = int(d.node_job[d.stage_node[slot]])
    pl = net.limit_probs(d, job, jobs, glob)
    limit = _pick(pl, rng) + 1
    return slot, limit, math.log(ps[slot]) + math.log(pl[limit - 1])


class DecimaScheduler(Scheduler):
    """Decima's graph neural policy (``schedlab train spark decima``) as a scheduler.

    At each decision it picks one schedulable stage and a parallelism limit for the stage's
    job, and assigns the executors that limit leaves room for; the round calls again while
    executors remain. A limit at the job's current executors assigns nothing and ends the
    round (the free executors return to the common pool).

    Args:
        model: A policy directory (``weights.safetensors`` + ``policy.json`` of a decima
            policy); default ``$SCHEDLAB_DECIMA_MODEL`` if set, else the policy shipped with
            schedlab.
        greedy: Take the most probable stage and limit (deterministic); False samples them
            from the scheduler's seeded stream.

    Raises:
        ConfigError: No ``model`` given and no policy ships.
        DataError: The directory is not a decima policy for spark, or its weights do not fit.
    """

    name: ClassVar[str] = "decima"
    families: ClassVar[tuple[str, ...]] = ("spark",)

    def __init__(self, model: str | None = None, greedy: bool = True) -> None:
        self.model = model
        self.greedy = bool(greedy)
        path = model
        if path is None:
            path = os.environ.get(MODEL_ENV) or None
        if path is None:
            found = shipped_decima()
            if found is None:
                raise ConfigError(
                    "no decima policy ships; train one with `schedlab train spark decima --out DIR` "
                    "and pass --param model=DIR",
                    field="model",
                )
            path = str(found)
        card = read_card(path, algorithm="decima", family="spark")
        # A card without pass_limit predates it: its executor head never assigned nothing.
        arch = {**ARCHITECTURE, "pass_limit": False, **card["architecture"].get("network", {})}
        tensors = read_arrays(Path(path) / WEIGHTS_FILE)
        try:
            self._net = NumpyDecima(tensors, arch)
        except ValueError as e:
            from schedlab.errors import DataError

            raise DataError(f"weights do not fit the network: {e}", source=str(Path(path) / WEIGHTS_FILE)) from None
        self._rng: np.random.Generator | None = None
        self._cache = GraphCache()

    @classmethod
    def from_weights(cls, tensors: Mapping[str, Any], arch: Mapping[str, Any] = ARCHITECTURE, greedy: bool = True):
        """A scheduler over weights in memory (a trainer's, for validation)."""
        self = cls.__new__(cls)
        self.model = None
        self.greedy = bool(greedy)
        self._net = NumpyDecima(tensors, arch)
        self._rng = None
        self._cache = GraphCache()
        return self

    def get_params(self) -> dict[str, Any]:
        return {"model": self.model, "greedy": self.greedy}

    def reset(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._cache = GraphCache()

    def decide(self, view: Any) -> list[Assign]:
        if not view.schedulable or view.committable < 1:
            return []
        d = observe(view, self._cache)
        rng = None if self.greedy else (self._rng if self._rng is not None else np.random.default_rng(0))
        slot, limit, _ = choose(self._net, d, rng)
        a = to_assign(view, d, slot, limit)
        return [a] if a is not None else []


class SampledDecimaScheduler(DecimaScheduler):
    """:class:`DecimaScheduler` sampling its actions (``greedy=False``), reachable by its import path.

    For comparisons that name schedulers by string (``schedlab evaluate``), which pass no
    parameters: ``schedlab.learn.decima.scheduler:SampledDecimaScheduler``.
    """

    def __init__(self, model: str | None = None, greedy: bool = False) -> None:
        super().__init__(model, greedy)
