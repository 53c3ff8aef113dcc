"""The predictive edge scheduler: rank nodes by forecast latency, with fairness and exploration knobs.

Each request goes to the node with the lowest *score*, an estimate of the request's latency on
that node from a forecast of the node's next states, plus penalties that spread the load. See
:class:`PredictiveNode` for the score and docs/edge.md ("Predictive scheduler") for how its knobs
trade latency against balance.
"""

from __future__ import annotations

import math
import os
from collections import deque
from typing import Any

import numpy as np

from schedlab.errors import ConfigError, UnknownNameError
from schedlab.families.edge.model import EdgeView
from schedlab.schedulers.base import Scheduler
from schedlab.sim.actions import Enqueue

__all__ = ["PredictiveNode", "UNTRAINED_FORECASTERS", "DEFAULT_FORECASTER"]

#: Forecasters that predict sensibly without training, so they may be named without ``model_dir``.
UNTRAINED_FORECASTERS = ("last", "sma", "ewma", "linear")
#: The forecaster used when none is given: exponential smoothing with weight 0.3 on the newest sample.
DEFAULT_FORECASTER = ("ewma", {"alpha": 0.3})
# A node never serves slower than this share of its cores (as in the edge model).
_MIN_SPEED_SHARE = 0.05
# Forecast cores below this are treated as this, so that a broken forecast cannot divide by 0.
_MIN_CPU = 1e-3


class PredictiveNode(Scheduler):
    """Send each request to the node with the lowest forecast-based score.

    At each new sample of node state the forecaster predicts, from the last ``window`` samples,
    each node's next ``steps_ahead`` states; the score uses their mean (cpu ``ĉ``, delay ``d̂``,
    load ``l̂``). For the request of cost ``c`` (``req_cost`` when given, else the request's own
    cost) and node ``i``, with predicted speed ``v_i = ĉ_i · max(0.05, 1 − l̂_i)``::

        latency_i = d̂_i + max(0, W_i / v_i − d̂_i) + c / v_i
        score_i   = latency_i
                  + max(0, latency_i + margin_ms − deadline_ms)          # deadline margin
                  + fair_gamma · fair_scale_ms · max(0, N · s_i − 1)     # fairness
                  + cooldown_ms · [i was picked the last cooldown_k times] # cooldown

    - ``W_i`` is the work (core-ms) the scheduler has sent to node ``i`` and not yet seen
      served: it remembers the cost of each request it sent, and drops the oldest ones as the
      node's ``outstanding`` count falls (a node serves in arrival order). With ``req_cost``
      set, ``W_i = outstanding_i · req_cost``. The node works its backlog off while the new
      request travels, hence the ``− d̂_i``: the expected queueing.
    - The *deadline margin* adds, on top of the latency, how far the latency plus ``margin_ms``
      goes past the deadline: nodes predicted to finish within ``deadline − margin_ms`` are
      ranked by latency alone, the others pay twice for every ms beyond. (A margin added to every
      node alike would change no choice.)
    - ``s_i`` is the share node ``i`` would have among the last ``fair_window`` picks if it
      took this request (a window not yet full counts its missing picks as nobody's), ``N``
      the number of nodes: a pick that gives a node twice its fair share costs
      ``fair_gamma · fair_scale_ms``; one within its fair share costs nothing.
    - *Safety*: nodes whose predicted delay exceeds the least predicted delay by more than
      ``safety_threshold_ms`` are not candidates (``None``: every node is).

    With probability ``epsilon`` the scheduler picks uniformly among the ``top_k`` candidates of
    lowest score, else the lowest (ties to the lowest node id); its random stream is the one
    :meth:`reset` receives. It forecasts once per new sample, so a decision costs a few NumPy
    operations over the nodes. A forecast that is not finite falls back to the latest sample.

    Args:
        forecaster: Name of a forecaster that needs no training (``last``, ``sma``, ``ewma``,
            ``linear``), or a fitted :class:`~schedlab.learn.forecast.Forecaster`; ``None``:
            :data:`DEFAULT_FORECASTER` (EWMA, alpha 0.3). A named one left untuned uses the
            middle of its tuning grid for each parameter not given.
        forecaster_params: Hyper-parameters for the named forecaster, e.g. ``{"alpha": 0.5}``.
        model_dir: Folder of a saved forecaster (any kind, trained); replaces ``forecaster``.
        window: Samples of history given to the forecaster (default: the forecaster's own window).
        steps_ahead: Samples ahead the score looks (the mean of the forecasts 1..steps_ahead).
        req_cost: Service cost (core-ms) assumed for every request; ``None`` uses its own cost.
        margin_ms: Safety margin before the deadline (ms).
        fair_gamma: Weight of the fairness penalty (0 turns it off).
        fair_scale_ms: Fairness penalty (ms) for a node with twice its fair share, at gamma 1.
        fair_window: Number of recent picks the shares are counted over.
        cooldown_k: Consecutive picks of one node after which it pays ``cooldown_ms``.
        cooldown_ms: Penalty (ms) of a node picked ``cooldown_k`` times in a row (0 turns it off).
        top_k: Number of best candidates an exploring pick chooses from.
        epsilon: Probability of an exploring pick.
        safety_threshold_ms: Largest predicted delay above the best one a candidate may have
            (``None``, the default, or ``inf``: no limit).

    Raises:
        ConfigError: A knob is out of range (the error names it).
        UnknownNameError: Unknown forecaster name.
        DataError: ``model_dir`` is not a saved forecaster.
    """

    name = "predictive"
    families = ("edge",)

    def __init__(
        self,
        *,
        forecaster: Any = None,
        forecaster_params: dict[str, Any] | None = None,
        model_dir: str | os.PathLike | None = None,
        window: int | None = None,
        steps_ahead: int = 1,
        req_cost: float | None = None,
        margin_ms: float = 14.0,
        fair_gamma: float = 1.0,
        fair_scale_ms: float = 25.0,
        fair_window: int = 20,
        cooldown_k: int = 2,
        cooldown_ms: float = 4.0,
        top_k: int = 2,
        epsilon: float = 0.2,
        safety_threshold_ms: float | None = None,
    ) -> None:
        self.forecaster = forecaster
        self.forecaster_params = forecaster_params
        self.model_dir = None if model_dir is None else str(model_dir)
        self.window = window
        self.steps_ahead = steps_ahead
        self.req_cost = req_cost
        self.margin_ms = margin_ms
        self.fair_gamma = fair_gamma
        self.fair_scale_ms = fair_scale_ms
        self.fair_window = fair_window
        self.cooldown_k = cooldown_k
        self.cooldown_ms = cooldown_ms
        self.top_k = top_k
        self.epsilon = epsilon
        self.safety_threshold_ms = safety_threshold_ms
        self._validate()
        self._model = self._build_forecaster()
        self._rng = np.random.default_rng(0)
        self._n = 0

    # -- knobs ---------------------------------------------------------------------------------

    def _validate(self) -> None:
        _integer("window", self.window, 1, optional=True)
        _integer("steps_ahead", self.steps_ahead, 1)
        _integer("fair_window", self.fair_window, 1)
        _integer("cooldown_k", self.cooldown_k, 1)
        _integer("top_k", self.top_k, 1)
        _number("req_cost", self.req_cost, 0.0, strict=True, optional=True)
        for knob in ("margin_ms", "fair_gamma", "fair_scale_ms", "cooldown_ms"):
            _number(knob, getattr(self, knob), 0.0)
        _number("epsilon", self.epsilon, 0.0, high=1.0)
        _number("safety_threshold_ms", self.safety_threshold_ms, 0.0, optional=True, infinite=True)
        if self.forecaster_params is not None and not isinstance(self.forecaster_params, dict):
            raise ConfigError(f"expected a mapping, got {self.forecaster_params!r}", field="forecaster_params")
        if self.model_dir is not None and (self.forecaster is not None or self.forecaster_params):
            raise ConfigError("give a forecaster (and its params) or model_dir, not both", field="model_dir")

    def _build_forecaster(self):
        from schedlab.learn.forecast import FORECASTERS, Forecaster, load_forecaster, make_forecaster

        if self.model_dir is not None:
            return load_forecaster(self.model_dir)
        fc, params = (self.forecaster, self.forecaster_params or {})
        if fc is None:
            fc, params = DEFAULT_FORECASTER[0], params or DEFAULT_FORECASTER[1]
        if isinstance(fc, Forecaster):
            if self.forecaster_params:
                raise ConfigError("only a forecaster given by name takes params", field="forecaster_params")
            return fc
        if not isinstance(fc, str):
            raise ConfigError(f"expected a forecaster name or object, got {fc!r}", field="forecaster")
        if fc in FORECASTERS and fc not in UNTRAINED_FORECASTERS:
            raise ConfigError(
                f"forecaster {fc!r} must be trained first: fit and save it, then give its folder as model_dir",
                field="forecaster",
            )
        try:
            return make_forecaster(fc, **params)
        except UnknownNameError as e:
            raise UnknownNameError(e.problem, field="forecaster") from None
        except ConfigError as e:
            raise ConfigError(f"{e.field}: {e.problem}" if e.field else e.problem, field="forecaster_params") from None
        except TypeError as e:
            raise ConfigError(f"do not fit forecaster {fc!r} ({e})", field="forecaster_params") from None

    @property
    def forecaster_name(self) -> str:
        """The registered name of the forecaster this scheduler uses (``ewma``, ``transformer``...)."""
        return self._model.name or type(self._model).__name__

    @property
    def forecaster_label(self) -> str:
        """Which forecaster this scheduler uses, for tables and titles.

        The name and the hyper-parameters set (``ewma alpha=0.3``; one left out is tuned or
        takes the middle of its grid), or the name and folder of a saved one
        (``transformer from models/tf``).
        """
        name = self.forecaster_name
        if self.model_dir is not None:
            return f"{name} from {self.model_dir}"
        given = {k: v for k, v in self._model.get_params().items() if v is not None}
        return " ".join([name, *(f"{k}={v}" for k, v in given.items())])

    # -- episode -------------------------------------------------------------------------------

    def reset(self, rng: np.random.Generator) -> None:
        """Forget the episode (forecast cache, picks, outstanding work) and take ``rng``."""
        self._rng = rng
        self._n = 0

    def _start(self, n: int) -> None:
        self._n = n
        self._ids = np.arange(n)
        self._sampled_at: float | None = None
        self._sent: list[deque[float]] = [deque() for _ in range(n)]
        self._work = np.zeros(n)
        self._recent: deque[int] = deque()
        self._counts = np.zeros(n)
        self._last = -1
        self._run = 0

    def _forecast(self, view: EdgeView) -> None:
        """Predict the nodes' next states from the history; called once per new sample."""
        hist = view.history(self._model.window if self.window is None else self.window)
        latest = hist[-1, :, :4]
        pred = np.asarray(self._model.predict(hist[:, :, :4].transpose(1, 0, 2), self._ids, self.steps_ahead), float)
        if pred.shape != (self._n, self.steps_ahead, 4):
            raise ConfigError(
                f"forecaster predicted shape {pred.shape}, expected {(self._n, self.steps_ahead, 4)}",
                field="forecaster",
            )
        mean = pred.mean(axis=1)
        mean = np.where(np.isfinite(mean), mean, latest)
        cpu = np.maximum(mean[:, 0], _MIN_CPU)
        load = np.clip(mean[:, 3], 0.0, 1.0)
        self._delay = np.maximum(mean[:, 2], 0.0)
        self._speed = cpu * np.maximum(_MIN_SPEED_SHARE, 1.0 - load)
        if self.safety_threshold_ms is None:
            self._safe = np.ones(self._n, bool)
        else:
            self._safe = self._delay <= self._delay.min() + self.safety_threshold_ms
        self._sampled_at = view.sampled_at

    # -- deciding ------------------------------------------------------------------------------

    def scores(self, view: EdgeView) -> np.ndarray:
        """Each node's score for the view's request; ``inf`` for nodes the safety rule excludes.

        Updates the forecast (once per new sample) and the outstanding work it tracks, but
        records no pick.
        """
        n = len(view.nodes)
        if n != self._n:
            self._start(n)
        if view.sampled_at != self._sampled_at:
            self._forecast(view)
        outstanding = np.fromiter((node.outstanding for node in view.nodes), float, n)
        if self.req_cost is None:
            for k, node in enumerate(view.nodes):
                sent = self._sent[k]
                while len(sent) > node.outstanding:
                    self._work[k] -= sent.popleft()
                if not sent:
                    self._work[k] = 0.0  # no drift from float sums
            work = self._work
            cost = view.request.cost
        else:
            work = outstanding * self.req_cost
            cost = self.req_cost
        delay, speed = self._delay, self._speed
        latency = delay + np.maximum(0.0, work / speed - delay) + cost / speed
        score = latency + np.maximum(0.0, latency + self.margin_ms - view.deadline_ms)
        weight = self.fair_gamma * self.fair_scale_ms
        if weight > 0:
            # the share node i would have among the last fair_window picks, were it picked now
            score = score + weight * np.maximum(0.0, (self._counts + 1.0) * (n / self.fair_window) - 1.0)
        if self.cooldown_ms > 0 and self._run >= self.cooldown_k:
            score[self._last] += self.cooldown_ms
        return np.where(self._safe, score, np.inf)

    def decide(self, view: EdgeView) -> list[Enqueue]:
        """Send the request to the best-scoring candidate node (or, exploring, a near-best one)."""
        score = self.scores(view)
        candidates = int(self._safe.sum())
        if self.epsilon > 0 and self._rng.random() < self.epsilon and min(self.top_k, candidates) > 1:
            order = np.argsort(score, kind="stable")
            pick = int(order[self._rng.integers(min(self.top_k, candidates))])
        else:
            pick = int(np.argmin(score))
        self._record(pick, view.request.cost)
        return [Enqueue(view.request.id, pick)]

    def _record(self, pick: int, cost: float) -> None:
        if self.req_cost is None:
            self._sent[pick].append(cost)
            self._work[pick] += cost
        self._recent.append(pick)
        self._counts[pick] += 1
        if len(self._recent) >= self.fair_window:  # keep the last fair_window - 1 picks
            self._counts[self._recent.popleft()] -= 1
        self._run = self._run + 1 if pick == self._last else 1
        self._last = pick


def _integer(knob: str, value: Any, low: int, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ConfigError(f"must be an integer of at least {low}, got {value!r}", field=knob)


def _number(
    knob: str,
    value: Any,
    low: float,
    *,
    high: float | None = None,
    strict: bool = False,
    optional: bool = False,
    infinite: bool = False,
) -> None:
    if value is None and optional:
        return
    ok = not isinstance(value, bool) and isinstance(value, int | float | np.integer | np.floating)
    if ok:
        x = float(value)
        ok = not math.isnan(x) and (infinite or math.isfinite(x))
        ok = ok and (x > low if strict else x >= low) and (high is None or x <= high)
    if not ok:
        span = f"in [{low:g}, {high:g}]" if high is not None else f"{'above' if strict else 'at least'} {low:g}"
        kind = "a number" if infinite else "a finite number"
        raise ConfigError(f"must be {kind} {span}, got {value!r}", field=knob)
