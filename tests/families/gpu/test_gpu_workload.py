"""Reading GSwarm configs and requests: both formats, estimates, and every input that cannot run."""

import copy
import datetime as dt
import json

import numpy as np
import pytest
import yaml

from schedlab.errors import DataError
from schedlab.families.gpu.gswarm import (
    arrival_offsets,
    check_fits,
    default_config,
    execution_time_table,
    generate_requests,
    load_config,
    load_requests,
)


def write(tmp_path, name, doc):
    p = tmp_path / name
    p.write_text(json.dumps(doc) if name.endswith(".json") else yaml.safe_dump(doc, sort_keys=False))
    return p


def requests_doc(*items):
    return {
        "requests": [{"request_id": f"r{i}", "timestamp": "2025-01-01T00:00:00", **it} for i, it in enumerate(items)]
    }


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_config_and_requests_in_json_and_yaml(tmp_path, tiny, suffix):
    cfg = load_config(write(tmp_path, f"c{suffix}", tiny.config))
    assert list(cfg.models) == ["A", "B", "S", "G"] and cfg.models["G"].gpus_required == 2
    ab = cfg.workflows["ab"]
    assert [(n.id, n.parents, n.children) for n in ab.nodes] == [("n1", (), (1,)), ("n2", (0,), ())]
    reqs = load_requests(
        write(tmp_path, f"r{suffix}", requests_doc({"workflow_id": "ab", "node_execution_times": {"n1": 1.5}})), cfg
    )
    assert reqs[0].request_id == "r0" and reqs[0].timestamp == dt.datetime(2025, 1, 1)
    assert reqs[0].node_execution_times == {"n1": 1.5}


def test_yaml_datetimes_and_plain_seconds_give_offsets(tmp_path, tiny):
    cfg = load_config(write(tmp_path, "c.yaml", tiny.config))
    text = (
        "requests:\n"
        "- {request_id: a, timestamp: 2025-06-25T04:26:00.5, workflow_id: s}\n"
        "- {request_id: b, timestamp: '2025-06-25T04:25:59.25', workflow_id: s}\n"
    )
    (tmp_path / "r.yaml").write_text(text)
    assert arrival_offsets(load_requests(tmp_path / "r.yaml", cfg)) == [1.25, 0.0]
    (tmp_path / "n.yaml").write_text("requests:\n- {request_id: a, timestamp: 7, workflow_id: s}\n"
                                     "- {request_id: b, timestamp: 9.5, workflow_id: s}\n")  # fmt: skip
    assert arrival_offsets(load_requests(tmp_path / "n.yaml", cfg)) == [0.0, 2.5]


def test_missing_times_are_estimated_from_the_model_and_seeded(tiny, tmp_path):
    cfg = default_config()
    reqs = generate_requests(np.random.default_rng(3), cfg, 5, 0.1)
    a = execution_time_table(cfg, reqs, np.random.default_rng(7))
    b = execution_time_table(cfg, reqs, np.random.default_rng(7))
    c = execution_time_table(cfg, reqs, np.random.default_rng(8))
    assert a == b and a != c
    # llm7b: ~512 tokens at 50 tok/s (~10 s); stable_diffusion: ~2 s.
    for r, row in zip(reqs, a):
        nodes = cfg.workflows[r.workflow_id].nodes
        for n, t in zip(nodes, row):
            assert t > 0
            if n.model == "stable_diffusion":
                assert 0.2 <= t < 6
            if n.model == "llm7b":
                assert 1.0 <= t < 25
    # A model with no estimate and a request without its time is an error naming both.
    cfg2 = load_config(write(tmp_path, "c.json", tiny.config))
    reqs2 = load_requests(write(tmp_path, "r.json", requests_doc({"workflow_id": "ab"})), cfg2)
    with pytest.raises(DataError, match="no execution time for node 'n1' and model 'A' has nothing to estimate"):
        execution_time_table(cfg2, reqs2, np.random.default_rng(0))


# -- the four inputs the issue names, then the rest --------------------------------------------


def test_model_needing_more_gpus_than_the_cluster(tmp_path, tiny):
    path = write(tmp_path, "c.json", tiny.config)
    cfg = load_config(path)
    reqs = load_requests(write(tmp_path, "r.json", requests_doc({"workflow_id": "g"})), cfg)
    check_fits(cfg, reqs, 2)
    with pytest.raises(DataError) as e:
        check_fits(cfg, reqs, 1)
    assert str(e.value) == (
        f"{path}: models.G.gpus_required: model 'G' needs 2 consecutive GPUs but the cluster has 1 "
        "(--gpus / cluster.gpus); node 'g' of workflow 'g' calls it"
    )
    # Only models that requested workflows use must fit.
    check_fits(cfg, load_requests(write(tmp_path, "s.json", requests_doc({"workflow_id": "s"})), cfg), 1)


def test_edge_naming_a_node_that_does_not_exist(tmp_path, tiny):
    doc = copy.deepcopy(tiny.config)
    doc["workflows"]["ab"]["nodes"][0]["outputs"] = ["prompt"]
    doc["workflows"]["ab"]["edges"].append({"from": "prompt", "to": "n2"})
    path = write(tmp_path, "c.json", doc)
    with pytest.raises(DataError) as e:
        load_config(path)
    assert str(e.value).startswith(f"{path}: workflows.ab.edges[1].from: names no node of workflow 'ab': 'prompt'")
    assert "that is an output of node 'n1'; did you mean 'n1'?" in str(e.value)
    doc["workflows"]["ab"]["edges"][1] = {"from": "n1", "to": "n3"}
    with pytest.raises(DataError, match=r"edges\[1\]\.to: names no node of workflow 'ab': 'n3'; its nodes are n1, n2"):
        load_config(write(tmp_path, "c2.json", doc))


def test_cycle(tmp_path, tiny):
    doc = copy.deepcopy(tiny.config)
    doc["workflows"]["ab"]["edges"].append({"from": "n2", "to": "n1"})
    path = write(tmp_path, "c.yaml", doc)
    with pytest.raises(DataError) as e:
        load_config(path)
    assert (
        str(e.value) == f"{path}: workflows.ab.edges: the edges form a cycle (n1 -> n2 -> n1); a workflow must be a DAG"
    )
    doc["workflows"]["ab"]["edges"] = [{"from": "n1", "to": "n1"}]
    with pytest.raises(DataError, match=r"cycle \(n1 -> n1\)"):
        load_config(write(tmp_path, "c2.yaml", doc))


def test_request_for_an_unknown_workflow(tmp_path, tiny):
    cfg = load_config(write(tmp_path, "c.json", tiny.config))
    path = write(tmp_path, "r.yaml", requests_doc({"workflow_id": "s"}, {"workflow_id": "abc"}))
    with pytest.raises(DataError) as e:
        load_requests(path, cfg)
    assert str(e.value) == (
        f"{path}: requests[1].workflow_id: unknown workflow 'abc' (did you mean 'ab'?); "
        f"{tmp_path / 'c.json'} defines ab, s, g"
    )


@pytest.mark.parametrize(
    "change, field, message",
    [
        (lambda d: d["models"]["A"].pop("memory_gb"), "models.A.memory_gb", "missing"),
        (lambda d: d["models"]["A"].update(gpus_required=0), "models.A.gpus_required", "expected a whole number >= 1"),
        (lambda d: d["models"]["A"].update(load_time_seconds=-1), "models.A.load_time_seconds", "non-negative"),
        (lambda d: d["workflows"]["s"]["nodes"][0].update(model="Z"), "workflows.s.nodes[0].model", "unknown model 'Z'"),
        (lambda d: d["workflows"]["ab"]["nodes"].append({"id": "n1", "model": "A"}), "workflows.ab.nodes[2].id",
         "duplicate node id 'n1'"),
        (lambda d: d.pop("workflows"), "workflows", "missing"),
    ],
)  # fmt: skip
def test_bad_config_fields(tmp_path, tiny, change, field, message):
    doc = copy.deepcopy(tiny.config)
    change(doc)
    path = write(tmp_path, "c.json", doc)
    with pytest.raises(DataError) as e:
        load_config(path)
    assert str(e.value).startswith(f"{path}: {field}: ") and message in str(e.value)


@pytest.mark.parametrize(
    "items, field, message",
    [
        ([{"workflow_id": "ab", "node_execution_times": {"n9": 1}}], "requests[0].node_execution_times.n9",
         "names no node of workflow 'ab'"),
        ([{"workflow_id": "ab", "node_execution_times": {"n1": -2}}], "requests[0].node_execution_times.n1",
         "non-negative number of seconds"),
        ([{"workflow_id": "s", "timestamp": "yesterday"}], "requests[0].timestamp", "expected an ISO date-time"),
    ],
)  # fmt: skip
def test_bad_request_fields(tmp_path, tiny, items, field, message):
    cfg = load_config(write(tmp_path, "c.json", tiny.config))
    doc = requests_doc(*items)
    path = write(tmp_path, "r.json", doc)
    with pytest.raises(DataError) as e:
        load_requests(path, cfg)
    assert str(e.value).startswith(f"{path}: {field}: ") and message in str(e.value)


def test_duplicate_request_ids_malformed_and_missing_files(tmp_path, tiny):
    cfg = load_config(write(tmp_path, "c.json", tiny.config))
    doc = requests_doc({"workflow_id": "s"}, {"workflow_id": "s"})
    doc["requests"][1]["request_id"] = "r0"
    with pytest.raises(DataError, match=r"requests\[1\]\.request_id: duplicate request id 'r0'"):
        load_requests(write(tmp_path, "r.json", doc), cfg)
    (tmp_path / "bad.yaml").write_text("models: [unclosed\n")
    with pytest.raises(DataError, match=r"bad.yaml: line \d+: malformed YAML"):
        load_config(tmp_path / "bad.yaml")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(DataError, match="bad.json: line 1: malformed JSON"):
        load_config(tmp_path / "bad.json")
    with pytest.raises(DataError, match="nope.yaml: no such file"):
        load_config(tmp_path / "nope.yaml")


def test_files_are_reread_when_they_change(tmp_path, tiny):
    path = write(tmp_path, "c.json", tiny.config)
    assert "A" in load_config(path).models
    doc = copy.deepcopy(tiny.config)
    doc["models"]["A2"] = doc["models"].pop("A")
    doc["workflows"] = {"s": doc["workflows"]["s"]}
    path.write_text(json.dumps(doc) + "\n\n")  # a different size, whatever the clock
    assert "A2" in load_config(path).models
