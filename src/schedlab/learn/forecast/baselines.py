"""The simple forecasters every learned one must beat: last value, moving average, EWMA, linear trend.

Each smoothing parameter left as ``None`` is chosen by :meth:`fit`, per variable, as the value of
a small grid with the least one-step mean absolute error on the training log; a given value is
kept as is. Tuned baselines keep the comparison with learned models honest.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from schedlab.errors import ConfigError, DataError
from schedlab.families.edge.nodes import STATE_COLUMNS
from schedlab.learn.forecast.base import Forecaster, pad_history

__all__ = ["LastValue", "MovingAverage", "EWMA", "LinearTrend", "log_windows"]

_ALPHAS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1.0)
_SPANS = (2, 3, 5, 8, 12, 20, 30)
_NVARS = len(STATE_COLUMNS)


class LastValue(Forecaster):
    """Persistence: every future state equals the latest one."""

    name = "last"
    window = 1

    def predict(self, history: np.ndarray, node_ids: np.ndarray, steps: int = 1) -> np.ndarray:
        return np.repeat(history[:, -1:, :], steps, axis=1).astype(float)


class _Tuned(Forecaster):
    """A forecaster with one smoothing parameter per variable, tuned on the log when not given."""

    grid: tuple = ()
    param: str = ""

    def __init__(self, value: Any = None) -> None:
        setattr(self, self.param, value)
        self.chosen: list = []
        if value is not None:
            self._check(value)

    def _check(self, value: Any) -> None:
        """Raise ConfigError when ``value`` is not a valid setting."""

    def _settings(self) -> list:
        if self.chosen:
            return self.chosen
        value = getattr(self, self.param)
        return [value if value is not None else self.grid[len(self.grid) // 2]] * _NVARS

    def fit(self, log, *, progress: Callable[[float], None] | None = None) -> Forecaster:
        value = getattr(self, self.param)
        if value is not None:
            self._check(value)
            self.chosen = [value] * _NVARS
            return self
        history, target = log_windows(log, self.window, 1)
        errors = []
        for i, v in enumerate(self.grid):
            pred = self._forecast(history, [v] * _NVARS, 1)[:, 0]
            errors.append(np.abs(pred - target[:, 0]).mean(axis=0))
            if progress is not None:
                progress((i + 1) / len(self.grid))
        best = np.argmin(np.array(errors), axis=0)
        self.chosen = [self.grid[int(b)] for b in best]
        return self

    def predict(self, history: np.ndarray, node_ids: np.ndarray, steps: int = 1) -> np.ndarray:
        return self._forecast(pad_history(np.asarray(history, float), self.window), self._settings(), steps)

    def _forecast(self, history: np.ndarray, settings: list, steps: int) -> np.ndarray:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        return {"chosen": list(self.chosen)}

    def load_state(self, state: dict[str, Any]) -> None:
        chosen = state.get("chosen", [])
        if not isinstance(chosen, list) or len(chosen) not in (0, _NVARS):
            raise DataError(f"expected a list of {_NVARS} settings, got {chosen!r}", field="state.chosen")
        for v in chosen:
            try:
                self._check(v)
            except ConfigError as e:
                raise DataError(e.problem, field="state.chosen") from None
        self.chosen = list(chosen)


class _Span(_Tuned):
    """A smoother over the last ``span`` rows of the window."""

    param = "span"
    window = max(_SPANS)
    min_span = 1

    def _check(self, value: Any) -> None:
        if not (isinstance(value, int) and self.min_span <= value <= self.window):
            raise ConfigError(f"must be an integer in {self.min_span}..{self.window}, got {value!r}", field="span")


class MovingAverage(_Span):
    """Mean of the last ``span`` states, flat into the future.

    Args:
        span: Rows averaged; ``None`` tunes it per variable on the training log.
    """

    name = "sma"
    grid = _SPANS

    def __init__(self, span: int | None = None) -> None:
        super().__init__(span)

    def _forecast(self, history: np.ndarray, settings: list, steps: int) -> np.ndarray:
        level = np.stack([history[:, -s:, j].mean(axis=1) for j, s in enumerate(settings)], axis=-1)
        return np.repeat(level[:, None, :], steps, axis=1)


class EWMA(_Tuned):
    """Exponentially weighted moving average over the window, flat into the future.

    Args:
        alpha: Weight of the newest state (0 < alpha <= 1); ``None`` tunes it per variable.
    """

    name = "ewma"
    grid = _ALPHAS
    param = "alpha"
    window = 30

    def __init__(self, alpha: float | None = None) -> None:
        super().__init__(alpha)

    def _check(self, value: Any) -> None:
        if not (isinstance(value, int | float) and 0 < value <= 1):
            raise ConfigError(f"must be in (0, 1], got {value!r}", field="alpha")

    def _forecast(self, history: np.ndarray, settings: list, steps: int) -> np.ndarray:
        w = history.shape[1]
        levels = []
        for j, a in enumerate(settings):
            # Weights a(1-a)^k for the k-th newest row; the oldest row takes the remaining mass,
            # as if it had been the level since forever.
            k = np.arange(w)[::-1]
            weights = a * (1 - a) ** k
            weights[0] = (1 - a) ** (w - 1)
            levels.append(history[:, :, j] @ weights)
        level = np.stack(levels, axis=-1)
        return np.repeat(level[:, None, :], steps, axis=1)


class LinearTrend(_Span):
    """Least-squares line through the last ``span`` states, extrapolated.

    Args:
        span: Rows the line is fitted to (at least 2); ``None`` tunes it per variable.
    """

    name = "linear"
    grid = tuple(s for s in _SPANS if s >= 3)
    min_span = 2

    def __init__(self, span: int | None = None) -> None:
        super().__init__(span)

    def _forecast(self, history: np.ndarray, settings: list, steps: int) -> np.ndarray:
        ahead = np.arange(1, steps + 1, dtype=float)
        out = np.empty((history.shape[0], steps, _NVARS))
        for j, s in enumerate(settings):
            y = history[:, -s:, j]
            x = np.arange(s, dtype=float) - (s - 1) / 2  # centred: the slope and mean decouple
            slope = (y @ x) / (x @ x)
            out[:, :, j] = y.mean(axis=1)[:, None] + slope[:, None] * ((s - 1) / 2 + ahead)[None, :]
        return out


def log_windows(log, window: int, steps: int, start: int = 0, stop: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Every (history, next ``steps`` states) pair of a log, all nodes stacked.

    Args:
        log: The node log.
        window: History rows per sample.
        steps: Future rows per sample.
        start: First step whose next state is a target (at least 1; earlier history is padded).
        stop: One past the last step used as a target (default: the end of the log).

    Returns:
        ``(history, target)`` of shapes ``(samples, window, 4)`` and ``(samples, steps, 4)``,
        ordered node by node, then by time.
    """
    states = np.asarray(log.values, float).transpose(1, 0, 2)  # (nodes, T, 4)
    n, t, _ = states.shape
    stop = t if stop is None else stop
    first = max(start, 1)
    last = stop - steps  # targets t0 .. t0+steps-1 must exist
    if last < first:
        return np.zeros((0, window, _NVARS)), np.zeros((0, steps, _NVARS))
    padded = np.concatenate([np.repeat(states[:, :1], window - 1, axis=1), states], axis=1)
    idx = np.arange(first, last + 1)
    hist = np.stack([padded[:, i - 1 : i - 1 + window] for i in idx], axis=1)  # states i-window .. i-1
    tgt = np.stack([states[:, i : i + steps] for i in idx], axis=1)
    return hist.reshape(-1, window, _NVARS), tgt.reshape(-1, steps, _NVARS)
