"""The shared machinery of neural forecasters, on a tiny linear network: scaling, split, training, saving."""

import numpy as np
import pytest
import torch

from schedlab.errors import ConfigError, DataError
from schedlab.families.edge.nodes import NodeLog
from schedlab.learn.forecast.neural import UNKNOWN_NODE, NeuralForecaster


class Tiny(NeuralForecaster):
    """A linear map from the flattened window, plus a per-node bias."""

    name = "tiny"

    def __init__(self, *, frozen: bool = False, **shared) -> None:
        self.frozen = frozen
        super().__init__(**shared)

    def build_net(self, num_nodes):
        window, horizon, frozen = self.window, self.horizon, self.frozen

        class Net(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.lin = torch.nn.Linear(window * 4, horizon * 4)
                self.emb = torch.nn.Embedding(num_nodes, horizon * 4)

            def forward(self, x, node):
                if frozen:  # the output ignores the weights: no epoch can do better than the first
                    return x[:, -1:].repeat(1, horizon, 1) + 0 * self.lin.bias.sum()
                return (self.lin(x.flatten(1)) + self.emb(node)).view(-1, horizon, 4)

        return Net()


def make_log(t=120, n=3, seed=0):
    rng = np.random.default_rng(seed)
    values = np.empty((t, n, 4))
    values[..., 0] = 3 + np.cumsum(rng.normal(0, 0.05, (t, n)), axis=0)
    values[..., 1] = 8 + np.cumsum(rng.normal(0, 0.05, (t, n)), axis=0)
    values[..., 2] = np.exp(3 + np.cumsum(rng.normal(0, 0.05, (t, n)), axis=0))
    values[..., 3] = np.clip(0.3 + np.cumsum(rng.normal(0, 0.02, (t, n)), axis=0), 0, 1)
    return NodeLog(np.arange(t) * 0.02, tuple(range(10, 10 + n)), values)


def tiny(**kw):
    args = {"window": 6, "horizon": 3, "epochs": 2, "batch_size": 16} | kw
    return Tiny(**args)


def weights(f):
    return {k: v.clone() for k, v in f.net.state_dict().items()}


def test_params_include_the_shared_ones():
    p = tiny(frozen=True).get_params()
    assert p["frozen"] is True and p["window"] == 6 and p["delay_weight"] == 5.0 and p["threads"] == 1
    assert set(NeuralForecaster.param_names()) <= set(p)


@pytest.mark.parametrize(
    ("kw", "field"),
    [({"window": 0}, "window"), ({"lr": 0.0}, "lr"), ({"val_fraction": 1.0}, "val_fraction"), ({"seed": 1.5}, "seed")],
)
def test_bad_parameters_name_their_field(kw, field):
    with pytest.raises(ConfigError) as e:
        tiny(**kw)
    assert e.value.field == field


def test_scaling_is_fitted_on_the_training_split_and_inverts():
    log = make_log()
    f = tiny().fit(log)
    first_val = f.history_["first_val_step"]
    assert first_val == 120 - 24
    train = log.values[:first_val].reshape(-1, 4).copy()
    train[:, 2] = np.log1p(train[:, 2])
    assert np.allclose(f.mean_, train.mean(axis=0)) and np.allclose(f.std_, train.std(axis=0))
    scaled = f.transform(log.values)
    assert np.allclose(scaled[:first_val].reshape(-1, 4).mean(axis=0), 0, atol=1e-9)
    assert np.allclose(f.inverse_transform(scaled), log.values)
    g = tiny(log_delay=False).fit(log)
    assert g.mean_[2] == pytest.approx(log.values[:first_val, :, 2].mean())


def test_validation_targets_are_all_later_than_training_targets():
    log = make_log()
    # every variable of step k holds k, so scaled targets reveal their steps
    log = NodeLog(log.time_s, log.node_ids, np.repeat(np.arange(120.0)[:, None, None], 3, axis=1).repeat(4, axis=2))
    f = tiny(log_delay=False).fit(log)
    first_val = f.history_["first_val_step"]
    _, y_tr, _ = f.windows(log, 1, first_val)
    _, y_va, _ = f.windows(log, first_val, log.steps)
    tr_steps = f.inverse_transform(y_tr)[..., 0]
    va_steps = f.inverse_transform(y_va)[..., 0]
    assert np.isclose(tr_steps.max(), first_val - 1) and np.isclose(va_steps.min(), first_val)
    assert f.history_["train_samples"] == y_tr.shape[0] and f.history_["val_samples"] == y_va.shape[0]


def test_same_seed_same_weights_and_predictions_other_seed_differs():
    log = make_log()
    a, b, c = tiny(seed=3).fit(log), tiny(seed=3).fit(log), tiny(seed=4).fit(log)
    wa, wb, wc = weights(a), weights(b), weights(c)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)
    h = log.values[-6:].transpose(1, 0, 2)
    assert np.array_equal(a.predict(h, log.node_ids, 5), b.predict(h, log.node_ids, 5))
    assert a.history_["train_loss"] == b.history_["train_loss"]


def test_fit_leaves_global_torch_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    threads = torch.get_num_threads()
    torch.manual_seed(123)
    tiny(threads=1).fit(make_log())
    assert torch.equal(torch.rand(3), expected)
    assert torch.get_num_threads() == threads


def test_history_records_every_epoch():
    f = tiny(epochs=3, patience=0).fit(make_log())
    h = f.history_
    assert len(h["train_loss"]) == len(h["val_loss"]) == h["epochs_run"] == 3
    assert 1 <= h["best_epoch"] <= 3 and h["val_loss"][h["best_epoch"] - 1] == min(h["val_loss"])
    assert h["cpu_s"] > 0 and h["wall_s"] > 0
    assert f.state_dict()["history"]["epochs_run"] == 3


def test_early_stopping_stops_and_keeps_the_best_weights():
    seen = []
    f = tiny(frozen=True, epochs=20, patience=2, lr=0.1)

    def snapshot(_frac):
        seen.append(weights(f))

    f.fit(make_log(), progress=snapshot)
    h = f.history_
    # the loss never improves after epoch 1: two more epochs, then stop
    assert h["epochs_run"] == 3 and h["stopped_early"] and h["best_epoch"] == 1
    final = weights(f)
    best = seen[0]
    assert all(torch.equal(final[k], best[k]) for k in final)  # weight decay moved them after epoch 1
    assert not all(torch.equal(final[k], seen[2][k]) for k in final)


def test_progress_is_reported_per_epoch_and_ends_at_one():
    fracs = []
    tiny(epochs=4, patience=0).fit(make_log(), progress=fracs.append)
    assert fracs == [0.25, 0.5, 0.75, 1.0, 1.0]


def test_predict_shapes_rollout_and_short_history():
    log = make_log()
    f = tiny().fit(log)
    h = log.values[-6:].transpose(1, 0, 2)
    direct = f.predict(h, log.node_ids, steps=3)
    rolled = f.predict(h, log.node_ids, steps=8)
    assert direct.shape == (3, 3, 4) and rolled.shape == (3, 8, 4)
    assert np.allclose(rolled[:, :3], direct)
    # the roll-out continues from the predictions fed back as history
    again = f.predict(np.concatenate([h, direct], axis=1), log.node_ids, steps=3)
    assert np.allclose(rolled[:, 3:6], again, atol=1e-4)
    short = f.predict(h[:, -2:], log.node_ids, steps=2)  # padded at the front
    assert short.shape == (3, 2, 4) and np.isfinite(short).all()


def test_unknown_node_ids_map_to_the_reserved_index():
    log = make_log()
    f = tiny().fit(log)
    assert f.node_index([10, 12, 99, -1]).tolist() == [1, 3, UNKNOWN_NODE, UNKNOWN_NODE]
    assert f.net.emb.num_embeddings == 4  # 3 nodes from the data + the unknown one
    h = log.values[-6:].transpose(1, 0, 2)
    pred = f.predict(h, [99, 98, 97], steps=2)
    assert np.isfinite(pred).all()
    assert np.array_equal(pred, f.predict(h, [7, 7, 7], steps=2))


def test_save_load_round_trip_without_pickle(tmp_path, monkeypatch):
    import pickle

    from schedlab.learn.forecast.base import FORECASTERS, load_forecaster

    log = make_log()
    f = tiny().fit(log)
    monkeypatch.setitem(FORECASTERS, "tiny", f"{__name__}:Tiny")
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: pytest.fail("unpickled"))
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("torch.load"))
    folder = f.save(tmp_path / "m")
    assert sorted(p.name for p in folder.iterdir()) == ["forecaster.json", "weights.safetensors"]
    g = load_forecaster(folder)
    h = log.values[-6:].transpose(1, 0, 2)
    assert np.array_equal(f.predict(h, log.node_ids, 7), g.predict(h, log.node_ids, 7))
    assert g.node_ids_ == [10, 11, 12] and g.history_ == f.history_


def test_weights_that_do_not_fit_are_a_data_error(tmp_path):
    from safetensors.torch import save_file

    f = tiny().fit(make_log())
    save_file({"lin.weight": torch.zeros(2, 2)}, str(tmp_path / "w.safetensors"))
    with pytest.raises(DataError, match="do not fit"):
        f.load_weights(tmp_path / "w.safetensors")
    (tmp_path / "bad.safetensors").write_bytes(b"not a tensor file")
    with pytest.raises(DataError):
        f.load_weights(tmp_path / "bad.safetensors")
    with pytest.raises(DataError, match="missing"):
        f.load_weights(tmp_path / "none.safetensors")


def test_unfitted_and_too_short():
    with pytest.raises(ConfigError, match="not fitted"):
        tiny().predict(np.zeros((1, 6, 4)), [0])
    with pytest.raises(DataError, match="too short for the window"):
        tiny(window=100).fit(make_log())
