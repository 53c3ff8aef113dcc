"""Renamed scenario fields: the old names still load, with a DeprecationWarning, for one release.

The mapping (old -> new):

- edge: ``nodes`` -> ``cluster``, ``nodes.count`` -> ``cluster.nodes``, ``requests`` ->
  ``workload``, ``requests.count`` -> ``workload.jobs``, ``requests.rate_per_ms`` ->
  ``workload.arrival_rate_per_ms``;
- multiproc: ``cpus`` -> ``cluster`` (``cpus.speeds`` -> ``cluster.speeds``).
"""

import re
import warnings

import pytest
import yaml
from pydantic import BaseModel

from schedlab import plugins
from schedlab.errors import ConfigError
from schedlab.families.edge.scenario import EdgeScenario
from schedlab.runs.sweep import Suite, plan_suite
from schedlab.scenarios import load_scenario, parse_scenario, preset_names
from schedlab.scenarios.schema import apply_renames, renamed_key

# (old mapping, the same scenario with the new names, the renames the warnings name)
CASES = {
    "edge-counts": (
        {"family": "edge", "nodes": {"count": 4}, "requests": {"count": 120, "rate_per_ms": 0.2}},
        {"family": "edge", "cluster": {"nodes": 4}, "workload": {"jobs": 120, "arrival_rate_per_ms": 0.2}},
        [
            ("nodes.count", "cluster.nodes"),
            ("requests.count", "workload.jobs"),
            ("requests.rate_per_ms", "workload.arrival_rate_per_ms"),
        ],
    ),
    "edge-sections": (
        {
            "family": "edge",
            "nodes": {"interval_ms": 10, "cpu": [2, 4], "dynamics": {"load_noise": 0.01}},
            "requests": {"deadline_ms": 60, "timeout_ms": 90, "cost_mean": 12},
        },
        {
            "family": "edge",
            "cluster": {"interval_ms": 10, "cpu": [2, 4], "dynamics": {"load_noise": 0.01}},
            "workload": {"deadline_ms": 60, "timeout_ms": 90, "cost_mean": 12},
        },
        [("nodes", "cluster"), ("requests", "workload")],
    ),
    "edge-mixed": (  # an old section beside keys already under the new one
        {"family": "edge", "nodes": {"count": 3, "interval_ms": 5}, "cluster": {"load": [0, 0.5]}},
        {"family": "edge", "cluster": {"nodes": 3, "interval_ms": 5, "load": [0, 0.5]}},
        [("nodes.count", "cluster.nodes"), ("nodes", "cluster")],
    ),
    "multiproc": (
        {"family": "multiproc", "cpus": {"speeds": [1, 2]}},
        {"family": "multiproc", "cluster": {"speeds": [1, 2]}},
        [("cpus", "cluster")],
    ),
}


def _deprecations(record):
    return [str(w.message) for w in record if issubclass(w.category, DeprecationWarning)]


@pytest.mark.parametrize("case", list(CASES))
def test_old_names_load_with_a_warning_and_give_the_same_scenario(case):
    old, new, renames = CASES[case]
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        got = parse_scenario(old, source="old.yaml")
    messages = _deprecations(record)
    assert len(messages) == len(renames), messages
    for (o, n), msg in zip(sorted(renames), sorted(messages)):
        assert msg.startswith("old.yaml: ") and f"{o!r} is renamed {n!r}" in msg and "deprecated" in msg
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        want = parse_scenario(new)
    assert got == want
    assert old == CASES[case][0]  # the caller's mapping is left alone


def test_a_file_with_old_names_names_the_file_and_points_at_the_caller(tmp_path):
    path = tmp_path / "old-edge.yaml"
    path.write_text("family: edge\nnodes: {count: 3}\nrequests: {count: 50, rate_per_ms: 0.1}\n")
    with pytest.warns(DeprecationWarning) as record:
        sc = load_scenario(str(path))
    assert (sc.cluster.nodes, sc.workload.jobs, sc.workload.arrival_rate_per_ms) == (3, 50, 0.1)
    assert all(str(path) in str(w.message) for w in record)
    assert {"'nodes.count' is renamed 'cluster.nodes'", "'requests.count' is renamed 'workload.jobs'"} <= {
        str(w.message).split(": ", 1)[1].split(";")[0].removeprefix("scenario field ") for w in record
    }
    assert all(w.filename == __file__ for w in record)  # stacklevel: the line that loaded it


def test_direct_validation_reads_old_names_too():
    with pytest.warns(DeprecationWarning, match="'requests.count' is renamed 'workload.jobs'"):
        sc = EdgeScenario.model_validate({"requests": {"count": 9}})
    assert sc.workload.jobs == 9


@pytest.mark.parametrize(
    "preset, old_key, value, new_path",
    [
        ("edge", "requests.count", 77, ("workload", "jobs")),
        ("edge", "nodes.count", 3, ("cluster", "nodes")),
        ("edge", "nodes.interval_ms", 7.5, ("cluster", "interval_ms")),
        ("edge", "requests.rate_per_ms", 0.05, ("workload", "arrival_rate_per_ms")),
        ("edge", "nodes.dynamics.load_noise", 0.0, ("cluster", "dynamics", "load_noise")),
        ("multiproc", "cpus.speeds", [1.0, 4.0], ("cluster", "speeds")),
    ],
)
def test_overrides_with_old_names_set_the_new_field(preset, old_key, value, new_path):
    with pytest.warns(DeprecationWarning, match=f"override {old_key}: scenario field {old_key!r} is renamed"):
        sc = load_scenario(preset, {old_key: value})
    node = sc
    for part in new_path:
        node = getattr(node, part)
    assert node == (tuple(value) if isinstance(value, list) else value)


def test_an_old_file_takes_overrides_by_the_new_names(tmp_path):
    path = tmp_path / "old.yaml"
    path.write_text("family: edge\nrequests: {count: 50}\n")
    with pytest.warns(DeprecationWarning):
        sc = load_scenario(str(path), {"workload.jobs": 20})
    assert sc.workload.jobs == 20


@pytest.mark.parametrize(
    "data, field, message",
    [
        ({"family": "edge", "nodes": {"bogus": 1}}, "cluster.bogus", "unknown key"),
        ({"family": "edge", "requests": {"count": 5, "rate": 1}}, "workload.rate", "unknown key"),
        ({"family": "edge", "nodez": {"count": 5}}, "nodez", "unknown key"),
        ({"family": "edge", "cluster": {"count": 5}}, "cluster.count", "unknown key"),  # the old name, new place
        ({"family": "multiproc", "cpus": {"speed": [1]}}, "cluster.speed", "unknown key"),
        ({"family": "edge", "nodes": {"count": 0}}, "cluster.nodes", "greater than or equal to 1"),
    ],
)
def test_unknown_keys_and_bad_values_are_still_errors(data, field, message):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(ConfigError) as e:
            parse_scenario(data, source="s.yaml")
    assert e.value.field == field and message in e.value.problem


@pytest.mark.parametrize(
    "data, message",
    [
        (
            {"family": "edge", "nodes": {"count": 4}, "cluster": {"nodes": 5}},
            "both nodes.count (the old name) and cluster.nodes are given",
        ),
        (
            {"family": "edge", "requests": {"deadline_ms": 50}, "workload": {"deadline_ms": 60}},
            "both requests.deadline_ms (the old name) and workload.deadline_ms are given",
        ),
    ],
)
def test_an_old_and_a_new_name_for_one_field_is_an_error(data, message, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(ConfigError, match=re.escape(message)) as e:
            parse_scenario(data)
        assert "(got" not in str(e.value)
        path = tmp_path / "both.yaml"
        path.write_text(yaml.safe_dump(data))
        with pytest.raises(ConfigError, match=re.escape(message)) as e:
            load_scenario(str(path))
    assert e.value.source == str(path)


def test_the_same_value_under_both_names_is_accepted():
    with pytest.warns(DeprecationWarning):
        sc = parse_scenario({"family": "edge", "nodes": {"count": 4}, "cluster": {"nodes": 4}})
    assert sc.cluster.nodes == 4


@pytest.mark.parametrize("preset", preset_names())
def test_presets_load_without_warnings(preset):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sc = load_scenario(preset)
    assert hasattr(sc, "cluster") and hasattr(sc, "workload")


@pytest.mark.parametrize("preset", preset_names())
def test_every_family_has_cluster_and_workload_sections(preset):
    fields = type(load_scenario(preset)).model_fields
    assert {"cluster", "workload"} <= set(fields)


def _models(cls, seen):
    if cls in seen:
        return
    seen.add(cls)
    for f in cls.model_fields.values():
        stack = [f.annotation]
        while stack:
            t = stack.pop()
            if isinstance(t, type) and issubclass(t, BaseModel):
                _models(t, seen)
            stack.extend(getattr(t, "__args__", ()) or ())


@pytest.mark.parametrize("family", ["spark", "gpu", "edge", "multiproc", "hetero"])
def test_every_scenario_field_is_described(family):
    seen: set = set()
    _models(plugins.get(family).scenario_class(), seen)
    missing = [f"{cls.__name__}.{name}" for cls in seen for name, f in cls.model_fields.items() if not f.description]
    assert missing == []


@pytest.mark.parametrize("family", ["spark", "gpu", "edge", "multiproc", "hetero"])
def test_times_and_rates_name_their_unit(family):
    seen: set = set()
    _models(plugins.get(family).scenario_class(), seen)
    bad = []
    for cls in seen:
        for name, f in cls.model_fields.items():
            if name.endswith(("_ms", "_s")) and not any(u in f.description for u in ("(ms", "(s", "ms)", "s)")):
                bad.append(f"{cls.__name__}.{name}")
            if "rate_per" in name and "per" not in f.description:
                bad.append(f"{cls.__name__}.{name}")
    assert bad == []


def test_renamed_key_maps_sections_and_fields():
    renames = EdgeScenario.renamed_fields
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        assert renamed_key("nodes.count", renames) == "cluster.nodes"
        assert renamed_key("nodes.dynamics.spike_rate", renames) == "cluster.dynamics.spike_rate"
        assert renamed_key("requests.rate_per_ms", renames) == "workload.arrival_rate_per_ms"
    assert renamed_key("workload.jobs", renames) == "workload.jobs"
    assert renamed_key("nodesx.count", renames) == "nodesx.count"
    data = {"family": "edge", "cluster": {"nodes": 2}}
    assert apply_renames(data, renames) is data  # nothing old: no copy, no warning


def test_a_sweep_accepts_old_param_names():
    suite = Suite(
        name="old", scenarios=["edge"], schedulers=["round-robin"], seeds=[1], params={"requests.count": [5, 6]}
    )
    with pytest.warns(DeprecationWarning, match="'requests.count' is renamed 'workload.jobs'"):
        runs = plan_suite(suite)
    assert sorted(r.scenario_data["workload"]["jobs"] for r in runs) == [5, 6]
