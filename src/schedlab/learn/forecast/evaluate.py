"""Score a forecaster on a node log: k-step-ahead errors over every node and step, and the table behind them.

A *sample* is one node at one origin step ``t``: the forecaster sees that node's states up to
``t - 1`` (at most its ``window`` rows; fewer at the start of the log, padded as in
:func:`~schedlab.learn.forecast.base.pad_history`) and predicts steps ``t .. t + k - 1``. The
k-step-ahead error compares the prediction of step ``t + k - 1`` with the logged state. Every
sample of a log is predicted in one batched call.

Metrics (flat, raw units): ``cpu_mae``, ``cpu_rmse`` (cores), ``mem_mae``, ``mem_rmse`` (GB),
``delay_mae_ms``, ``delay_rmse_ms``, ``load_mae``, ``load_rmse``, plus ``steps_ahead`` and
``samples``.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from schedlab.errors import ConfigError, DataError
from schedlab.families.edge.nodes import STATE_COLUMNS, NodeLog

__all__ = [
    "DEFAULT_START",
    "METRIC_KEYS",
    "Predictions",
    "evaluate",
    "evaluate_horizons",
    "metrics",
    "predict_log",
    "slice_log",
    "write_predictions_csv",
]

#: Default first origin step: every forecaster here reads at most 30 rows, so from step 30 on all
#: of them are scored on the same samples, each with a full history.
DEFAULT_START = 30
_UNITS = {"delay": "_ms"}
#: The metric names, in table order.
METRIC_KEYS = tuple(f"{v}_{m}{_UNITS.get(v, '')}" for v in STATE_COLUMNS for m in ("mae", "rmse"))
#: Columns of the predictions table.
PREDICTION_COLUMNS = ("step", "node_id", "horizon") + tuple(
    f"{kind}_{v}" for v in STATE_COLUMNS for kind in ("pred", "true")
)


@dataclass(frozen=True)
class Predictions:
    """Predictions and the logged truth for every sample of a log.

    Attributes:
        pred: ``(samples, steps, 4)`` predicted states, raw units.
        true: ``(samples, steps, 4)`` logged states.
        node_ids: ``(samples,)`` the sample's node.
        origin: ``(samples,)`` the first predicted step (``pred[:, h]`` is step ``origin + h``).
    """

    pred: np.ndarray
    true: np.ndarray
    node_ids: np.ndarray
    origin: np.ndarray


def slice_log(log: NodeLog, start: int = 0, stop: int | None = None) -> NodeLog:
    """Steps ``start .. stop - 1`` of a log, as a log (timestamps kept)."""
    sl = slice(start, stop)
    return NodeLog(log.time_s[sl], log.node_ids, log.values[sl])


def predict_log(forecaster, log: NodeLog, *, steps_ahead: int = 1, start: int | None = None) -> Predictions:
    """Predict the next ``steps_ahead`` states from every origin step ``start .. T - steps_ahead``.

    Args:
        forecaster: A fitted :class:`~schedlab.learn.forecast.base.Forecaster`.
        log: The log to score on.
        steps_ahead: States predicted from each origin.
        start: First origin step (default :data:`DEFAULT_START`, or the forecaster's window if
            longer; at least 1).

    Raises:
        ConfigError: ``steps_ahead`` or ``start`` is not a positive integer.
        DataError: The log has no sample: it is too short for ``start`` and ``steps_ahead``.
    """
    from schedlab.learn.forecast.baselines import log_windows

    k = _positive(steps_ahead, "steps_ahead")
    start = max(DEFAULT_START, int(getattr(forecaster, "window", 1))) if start is None else _positive(start, "start")
    window = max(1, int(getattr(forecaster, "window", 1)))
    hist, true = log_windows(log, window, k, start)
    n = len(log.node_ids)
    per_node = hist.shape[0] // n if n else 0
    if per_node == 0:
        raise DataError(
            f"node log too short to score: {log.steps} steps, first origin step {start}, {k} step(s) ahead "
            f"(need at least {start + k} steps)",
            field="steps",
        )
    node_ids = np.repeat(np.asarray(log.node_ids), per_node)
    origin = np.tile(np.arange(start, start + per_node), n)
    pred = np.asarray(forecaster.predict(hist, node_ids, steps=k), dtype=np.float64)
    return Predictions(pred, true, node_ids, origin)


def metrics(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """MAE and RMSE per variable of ``(samples, 4)`` predictions against the truth."""
    err = np.asarray(pred, float) - np.asarray(true, float)
    mae = np.abs(err).mean(axis=0)
    rmse = np.sqrt((err**2).mean(axis=0))
    out: dict[str, float] = {}
    for j, v in enumerate(STATE_COLUMNS):
        unit = _UNITS.get(v, "")
        out[f"{v}_mae{unit}"] = float(mae[j])
        out[f"{v}_rmse{unit}"] = float(rmse[j])
    return out


def evaluate(forecaster, log: NodeLog, *, steps_ahead: int = 1, start: int | None = None) -> dict[str, float | int]:
    """Errors of the ``steps_ahead``-step-ahead prediction over all nodes and origin steps.

    Args:
        forecaster: A fitted forecaster.
        log: The log to score on.
        steps_ahead: Which future state is scored (1: the next one).
        start: First origin step; see :func:`predict_log`.

    Returns:
        The flat metrics of :data:`METRIC_KEYS`, plus ``steps_ahead`` and ``samples``.

    Raises:
        ConfigError: A bad ``steps_ahead`` or ``start``.
        DataError: The log is too short to hold a sample.
    """
    p = predict_log(forecaster, log, steps_ahead=steps_ahead, start=start)
    out: dict[str, float | int] = dict(metrics(p.pred[:, -1], p.true[:, -1]))
    out["steps_ahead"] = int(steps_ahead)
    out["samples"] = int(p.pred.shape[0])
    return out


def evaluate_horizons(
    forecaster, log: NodeLog, horizons: tuple[int, ...] = (1, 5), *, start: int | None = None
) -> dict[int, dict[str, float | int]]:
    """Errors at several horizons from one batched prediction of ``max(horizons)`` states.

    Every horizon is scored on the same samples (origins ``start .. T - max(horizons)``), which
    costs one forward pass per origin instead of one per horizon.

    Returns:
        Horizon -> the metrics of :func:`evaluate` for that horizon.

    Raises:
        ConfigError: A bad horizon or ``start``.
        DataError: The log is too short to hold a sample.
    """
    if not horizons:
        raise ConfigError("give at least one horizon", field="horizons")
    for k in horizons:
        _positive(k, "horizons")
    p = predict_log(forecaster, log, steps_ahead=max(horizons), start=start)
    out = {}
    for k in horizons:
        m: dict[str, float | int] = dict(metrics(p.pred[:, k - 1], p.true[:, k - 1]))
        m["steps_ahead"] = int(k)
        m["samples"] = int(p.pred.shape[0])
        out[int(k)] = m
    return out


def write_predictions_csv(path: str | os.PathLike, predictions: Predictions) -> Path:
    """Write predictions vs truth, one row per sample and horizon, atomically.

    Columns: ``step`` (the predicted step), ``node_id``, ``horizon`` (1 = next state), then
    ``pred_<var>`` and ``true_<var>`` for cpu, mem, delay and load.
    """
    from schedlab.sim.io import write_atomic

    p = predictions
    s, k, _ = p.pred.shape
    horizon = np.tile(np.arange(1, k + 1), s)
    step = np.repeat(p.origin, k) + horizon - 1
    node = np.repeat(p.node_ids, k)
    pred = p.pred.reshape(-1, len(STATE_COLUMNS))
    true = p.true.reshape(-1, len(STATE_COLUMNS))
    cols = [step, node, horizon]
    for j in range(len(STATE_COLUMNS)):
        cols += [pred[:, j], true[:, j]]
    buf = io.StringIO()
    buf.write(",".join(PREDICTION_COLUMNS) + "\n")
    table = np.column_stack(cols) if s else np.zeros((0, len(PREDICTION_COLUMNS)))
    fmt = ["%d", "%d", "%d"] + ["%.6g"] * (len(PREDICTION_COLUMNS) - 3)
    np.savetxt(buf, table, fmt=fmt, delimiter=",")
    out = Path(path)
    write_atomic(out, buf.getvalue().encode())
    return out


def _positive(value, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ConfigError(f"must be a positive integer, got {value!r}", field=field)
    return int(value)
