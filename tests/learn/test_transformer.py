"""The transformer forecaster: its network, residual start, determinism, saving, and a held-out win."""

import numpy as np
import pytest
import torch

from schedlab.errors import ConfigError
from schedlab.families.edge.nodes import NodeLog
from schedlab.learn.forecast import load_forecaster, make_forecaster
from schedlab.learn.forecast.evaluate import evaluate
from schedlab.learn.forecast.transformer import TransformerForecaster

SMALL = {"d_model": 16, "nhead": 2, "layers": 1, "ffn": 32, "window": 12, "batch_size": 32}


def sin_log(seed, t=300, n=4, period=24):
    """Every variable a sinusoid of one period with a per-node phase, plus 1% noise."""
    rng = np.random.default_rng(seed)
    k = np.arange(t)[:, None]
    phase = rng.uniform(0, 2 * np.pi, n)
    base, amp = np.array([3, 8, 50, 0.5]), np.array([1, 2, 20, 0.2])
    values = base + amp * np.sin(2 * np.pi * k / period + phase)[:, :, None] + rng.normal(0, 0.01, (t, n, 4)) * amp
    return NodeLog(np.arange(t) * 0.02, tuple(range(n)), values)


def small(**kw):
    return make_forecaster("transformer", **(SMALL | {"epochs": 1} | kw))


def test_defaults_and_params():
    f = TransformerForecaster()
    p = f.get_params()
    assert (p["d_model"], p["nhead"], p["layers"], p["ffn"], p["dropout"]) == (128, 4, 3, 256, 0.1)
    assert (p["window"], p["horizon"], p["epochs"], p["batch_size"], p["lr"]) == (30, 5, 40, 64, 1e-3)
    assert p["log_delay"] and p["huber_delay"] and p["delay_weight"] == 5.0 and p["residual"]
    assert make_forecaster("transformer", **p).get_params() == p


@pytest.mark.parametrize(
    ("kw", "field"), [({"nhead": 3}, "nhead"), ({"dropout": 1.0}, "dropout"), ({"pool": "max"}, "pool")]
)
def test_bad_parameters(kw, field):
    with pytest.raises(ConfigError) as e:
        TransformerForecaster(**kw)
    assert e.value.field == field


def test_network_shapes_and_node_rows_from_the_data():
    log = sin_log(0, t=80, n=3)
    f = small(horizon=4).fit(log)
    assert f.net.node.num_embeddings == 3 + 1
    x = torch.zeros(5, 12, 4)
    assert f.net(x, torch.zeros(5, dtype=torch.long)).shape == (5, 4, 4)
    assert f.predict(log.values[-12:].transpose(1, 0, 2), log.node_ids, steps=9).shape == (3, 9, 4)


def test_residual_network_starts_as_last_value():
    log = sin_log(0, t=80, n=2)
    f = small(lr=1e-12, epochs=1).fit(log)  # a step too small to move the zero-initialised head
    h = log.values[-12:].transpose(1, 0, 2)
    pred = f.predict(h, log.node_ids, steps=3)
    assert np.allclose(pred, np.repeat(h[:, -1:], 3, axis=1), rtol=1e-5)


def test_same_seed_same_weights_with_dropout():
    log = sin_log(0, t=80, n=2)
    a, b = small(seed=5, dropout=0.2).fit(log), small(seed=5, dropout=0.2).fit(log)
    sa, sb = a.net.state_dict(), b.net.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    h = log.values[-12:].transpose(1, 0, 2)
    assert np.array_equal(a.predict(h, [0, 1], 6), b.predict(h, [0, 1], 6))


def test_save_and_load_give_identical_predictions(tmp_path):
    log = sin_log(0, t=80, n=2)
    f = small(residual=False, pool="mean").fit(log)
    g = load_forecaster(f.save(tmp_path / "m"))
    assert g.get_params() == f.get_params() and not g.residual
    h = log.values[-12:].transpose(1, 0, 2)
    assert np.array_equal(f.predict(h, [0, 5], 7), g.predict(h, [0, 5], 7))


def test_beats_last_value_on_a_held_out_sinusoid():
    # last value lags a sinusoid by one step; the network extrapolates it. Trained on one draw of
    # phases, scored on another.
    f = make_forecaster("transformer", **(SMALL | {"epochs": 4, "lr": 3e-3, "patience": 0, "dropout": 0.0}))
    f.fit(sin_log(0))
    test = sin_log(1)
    learned = evaluate(f, test, steps_ahead=1)
    last = evaluate(make_forecaster("last"), test, steps_ahead=1)
    for key in ("cpu_mae", "mem_mae", "delay_mae_ms", "load_mae"):
        assert learned[key] < 0.5 * last[key], key
