"""Baseline forecasters, the forecaster registry, windows of a log, and the evaluation metrics."""

import json

import numpy as np
import pytest

from schedlab.errors import ConfigError, DataError, UnknownNameError
from schedlab.families.edge.nodes import NodeLog
from schedlab.learn.forecast import FORECASTERS, load_forecaster, make_forecaster
from schedlab.learn.forecast.base import pad_history
from schedlab.learn.forecast.baselines import log_windows
from schedlab.learn.forecast.evaluate import (
    METRIC_KEYS,
    PREDICTION_COLUMNS,
    evaluate,
    predict_log,
    write_predictions_csv,
)


def make_log(values, node_ids=None):
    values = np.asarray(values, float)
    t, n, _ = values.shape
    return NodeLog(np.arange(t) * 0.02, tuple(node_ids or range(n)), values)


def random_walk(t=400, n=3, seed=0, step=0.1):
    rng = np.random.default_rng(seed)
    return make_log(10 + np.cumsum(rng.normal(0, step, (t, n, 4)), axis=0))


def test_registry_names_and_did_you_mean():
    assert set(FORECASTERS) == {"last", "sma", "ewma", "linear", "transformer", "lm"}
    with pytest.raises(UnknownNameError, match="did you mean 'ewma'"):
        make_forecaster("emwa")


def test_log_windows_pairs_history_with_the_next_states():
    # 1 node, 6 steps; the value of every variable is the step number
    log = make_log(np.repeat(np.arange(6.0)[:, None, None], 4, axis=2))
    hist, tgt = log_windows(log, window=3, steps=2, start=1)
    assert hist.shape == (4, 3, 4) and tgt.shape == (4, 2, 4)
    # origin 1 sees step 0 (padded with itself) and predicts steps 1, 2
    assert hist[0, :, 0].tolist() == [0, 0, 0] and tgt[0, :, 0].tolist() == [1, 2]
    # the last origin (4) sees 1..3 and predicts 4, 5
    assert hist[-1, :, 0].tolist() == [1, 2, 3] and tgt[-1, :, 0].tolist() == [4, 5]
    hist, tgt = log_windows(log, window=3, steps=1, start=2, stop=4)
    assert tgt[:, 0, 0].tolist() == [2, 3]


def test_pad_history_keeps_newest_rows_and_pads_with_oldest():
    h = np.arange(8.0).reshape(1, 2, 4)
    padded = pad_history(h, 4)
    assert padded.shape == (1, 4, 4) and np.array_equal(padded[0, :3], np.repeat(h[0, :1], 3, axis=0))
    assert np.array_equal(pad_history(padded, 2), padded[:, 2:])


def test_last_value_repeats_the_latest_state():
    h = np.random.default_rng(0).normal(size=(5, 7, 4))
    pred = make_forecaster("last").predict(h, np.arange(5), steps=3)
    assert pred.shape == (5, 3, 4)
    assert np.array_equal(pred, np.repeat(h[:, -1:], 3, axis=1))


def test_tuned_ewma_picks_alpha_one_on_a_random_walk_and_small_on_noise():
    ewma = make_forecaster("ewma").fit(random_walk())
    assert ewma.chosen == [1.0] * 4
    rng = np.random.default_rng(1)
    noise = make_log(5 + rng.normal(0, 1, (400, 3, 4)))
    assert max(make_forecaster("ewma").fit(noise).chosen) <= 0.1


def test_tuned_sma_and_linear_choose_from_their_grids():
    rng = np.random.default_rng(2)
    noise = make_log(5 + rng.normal(0, 1, (300, 2, 4)))
    assert min(make_forecaster("sma").fit(noise).chosen) >= 12  # long averages for noise
    assert make_forecaster("sma").fit(random_walk()).chosen == [2] * 4  # the shortest for a walk
    ramp = make_log(np.broadcast_to(np.arange(300.0)[:, None, None] * 0.5, (300, 2, 4)))
    lin = make_forecaster("linear").fit(ramp)
    h = np.arange(10.0)[None, :, None].repeat(4, axis=2)
    assert np.allclose(lin.predict(h, [0], steps=3)[0, :, 0], [10, 11, 12])


def test_given_parameters_are_kept_and_checked():
    assert make_forecaster("ewma", alpha=0.3).fit(random_walk()).chosen == [0.3] * 4
    with pytest.raises(ConfigError) as e:
        make_forecaster("ewma", alpha=1.5)
    assert e.value.field == "alpha"
    with pytest.raises(ConfigError):
        make_forecaster("sma", span=0)
    with pytest.raises(ConfigError):
        make_forecaster("linear", span=1)


def test_baselines_save_and_load_as_json(tmp_path):
    log = random_walk()
    for name in ("last", "sma", "ewma", "linear"):
        f = make_forecaster(name).fit(log)
        folder = f.save(tmp_path / name)
        doc = json.loads((folder / "forecaster.json").read_text())
        assert doc["model"] == name
        g = load_forecaster(folder)
        h = log.values[-30:].transpose(1, 0, 2)
        assert np.array_equal(f.predict(h, [0, 1, 2], 4), g.predict(h, [0, 1, 2], 4))


def test_load_forecaster_rejects_missing_and_malformed_folders(tmp_path):
    with pytest.raises(DataError, match="no forecaster.json"):
        load_forecaster(tmp_path)
    (tmp_path / "forecaster.json").write_text("{not json")
    with pytest.raises(DataError, match="not valid JSON"):
        load_forecaster(tmp_path)
    (tmp_path / "forecaster.json").write_text(json.dumps({"model": "ewma", "params": {"alpha": 7}}))
    with pytest.raises(DataError) as e:
        load_forecaster(tmp_path)
    assert e.value.field == "params.alpha"


def test_evaluate_matches_a_hand_computation():
    # 2 nodes, 5 steps; last value predicts the previous state
    cpu = np.array([[1.0, 10.0], [2.0, 10.0], [4.0, 13.0], [4.0, 12.0], [7.0, 12.0]])
    values = np.zeros((5, 2, 4))
    values[:, :, 0] = cpu
    values[:, :, 2] = cpu * 10  # delay, ms
    log = make_log(values, node_ids=[3, 8])
    m = evaluate(make_forecaster("last"), log, steps_ahead=1, start=1)
    # errors: node 3: 1, 2, 0, 3; node 8: 0, 3, 1, 0
    errs = np.array([1, 2, 0, 3, 0, 3, 1, 0], float)
    assert m["samples"] == 8 and m["steps_ahead"] == 1
    assert m["cpu_mae"] == pytest.approx(errs.mean())
    assert m["cpu_rmse"] == pytest.approx(np.sqrt((errs**2).mean()))
    assert m["delay_mae_ms"] == pytest.approx(10 * errs.mean())
    assert m["mem_mae"] == 0 and m["load_rmse"] == 0
    assert set(METRIC_KEYS) <= set(m)
    # two steps ahead from origin t: compare state t+1 with state t-1
    m2 = evaluate(make_forecaster("last"), log, steps_ahead=2, start=1)
    errs2 = np.array([3, 2, 3, 3, 2, 1], float)  # node 3: |4-1|, |4-2|, |7-4|; node 8: |13-10|, |12-10|, |12-13|
    assert m2["samples"] == 6 and m2["cpu_mae"] == pytest.approx(errs2.mean())


def test_evaluate_rejects_a_log_without_samples():
    log = make_log(np.zeros((3, 1, 4)))
    with pytest.raises(DataError, match="too short"):
        evaluate(make_forecaster("last"), log, steps_ahead=1)  # default start 30
    with pytest.raises(ConfigError):
        evaluate(make_forecaster("last"), log, steps_ahead=0)


def test_predictions_csv_has_one_row_per_sample_and_horizon(tmp_path):
    log = random_walk(t=40, n=2)
    p = predict_log(make_forecaster("last"), log, steps_ahead=3, start=30)
    path = write_predictions_csv(tmp_path / "p.csv", p)
    lines = path.read_text().splitlines()
    assert lines[0].split(",") == list(PREDICTION_COLUMNS)
    assert len(lines) == 1 + 2 * 8 * 3  # 2 nodes, origins 30..37, 3 horizons
    first = lines[1].split(",")
    assert first[:3] == ["30", "0", "1"]
    assert float(first[3]) == pytest.approx(log.values[29, 0, 0], abs=1e-4)  # pred_cpu: the state at 29
    assert float(first[4]) == pytest.approx(log.values[30, 0, 0], abs=1e-4)  # true_cpu
    third = lines[3].split(",")
    assert third[:3] == ["32", "0", "3"]
