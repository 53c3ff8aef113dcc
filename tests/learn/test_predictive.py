"""The predictive edge scheduler: its score by hand, each knob at work, determinism, the CLI."""

import inspect
import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from schedlab.cli import app
from schedlab.errors import ConfigError, DataError, UnknownNameError
from schedlab.families.edge.model import NodeView, RequestView
from schedlab.learn.forecast import make_forecaster
from schedlab.learn.forecast.baselines import LastValue
from schedlab.learn.forecast.predictive import PredictiveNode
from schedlab.metrics.checker import check_trace
from schedlab.runs import simulate
from schedlab.scenarios import load_scenario
from schedlab.schedulers import make
from schedlab.testing import check_scheduler

runner = CliRunner()
# Knobs that switch every spreading mechanism off: pure least-score.
GREEDY = dict(epsilon=0.0, fair_gamma=0.0, cooldown_ms=0.0, safety_threshold_ms=None, margin_ms=0.0)


@pytest.fixture(scope="module")
def small():
    return load_scenario("edge", {"workload.jobs": 200})


class FakeView:
    """A hand-made view: fixed node states, one sample at ``sampled_at``."""

    def __init__(self, cpu, load, delay, *, cost=20.0, outstanding=None, sampled_at=0.0, request=0):
        n = len(cpu)
        outstanding = outstanding or [0] * n
        self.now, self.now_ms = sampled_at / 1000.0, sampled_at
        self.request = RequestView(request, sampled_at, cost, sampled_at + 80.0, sampled_at + 250.0)
        # queue_length 0: the outstanding requests are all still on their way.
        self.nodes = tuple(NodeView(k, cpu[k], 8.0, delay[k], load[k], 0, outstanding[k], 0) for k in range(n))
        self.waiting, self.workers = (self.request,), self.nodes
        self.sampled_at = sampled_at
        self.deadline_ms, self.timeout_ms = 80.0, 250.0
        self._state = np.array([[cpu[k], 8.0, delay[k], load[k], 0.0] for k in range(n)])

    def history(self, window):
        return self._state[None]


def picks(trace):
    return list(trace.decisions["worker"])


def longest_run(seq):
    best = run = 1
    for a, b in zip(seq, seq[1:]):
        run = run + 1 if a == b else 1
        best = max(best, run)
    return best


# -- the score -------------------------------------------------------------------------------


def test_score_by_hand():
    # speeds: 2*(1-0.5)=1, 4*(1-0)=4, 1*(1-0)=1; latency = delay + 20/speed.
    view = FakeView(cpu=[2.0, 4.0, 1.0], load=[0.5, 0.0, 0.0], delay=[10.0, 30.0, 5.0])
    s = PredictiveNode(forecaster="last", **GREEDY)
    assert s.scores(view) == pytest.approx([30.0, 35.0, 25.0])
    # margin 60: each latency + 60 passes the 80 ms deadline by latency - 20, added on top
    s = PredictiveNode(forecaster="last", **{**GREEDY, "margin_ms": 60.0})
    assert s.scores(view) == pytest.approx([40.0, 50.0, 30.0])
    # req_cost replaces the request's own cost
    s = PredictiveNode(forecaster="last", **{**GREEDY, "req_cost": 4.0})
    assert s.scores(view) == pytest.approx([14.0, 31.0, 9.0])


def test_outstanding_work_queues_until_served():
    s = PredictiveNode(forecaster="last", **GREEDY)
    s.reset(np.random.default_rng(0))
    cpu, load, delay = [1.0, 1.0], [0.0, 0.0], [5.0, 40.0]
    assert s.decide(FakeView(cpu, load, delay, cost=20.0))[0].worker == 0
    assert s.decide(FakeView(cpu, load, delay, cost=30.0, outstanding=[1, 0], request=1))[0].worker == 0
    # 50 core-ms outstanding at speed 1, minus the 5 ms on the way: 45 ms queueing
    view = FakeView(cpu, load, delay, cost=20.0, outstanding=[2, 0], request=2)
    assert s.scores(view) == pytest.approx([5.0 + 45.0 + 20.0, 40.0 + 20.0])
    # the node served the first (oldest) request: 30 core-ms left
    view = FakeView(cpu, load, delay, cost=20.0, outstanding=[1, 0], request=2)
    assert s.scores(view) == pytest.approx([5.0 + 25.0 + 20.0, 60.0])


def test_safety_threshold_excludes_a_slow_to_reach_node():
    # node 0 is far (100 ms) but very fast; node 1 is near and slow
    view = FakeView(cpu=[5.0, 1.0], load=[0.0, 0.0], delay=[100.0, 10.0], cost=200.0)
    off = PredictiveNode(forecaster="last", **GREEDY)
    assert off.decide(view)[0].worker == 0  # 100 + 40 < 10 + 200
    on = PredictiveNode(forecaster="last", **{**GREEDY, "safety_threshold_ms": 5.0})
    assert on.scores(view)[0] == math.inf
    assert on.decide(view)[0].worker == 1
    wide = PredictiveNode(forecaster="last", **{**GREEDY, "safety_threshold_ms": 90.0})
    assert wide.decide(view)[0].worker == 0


def test_forecasts_once_per_sample(small):
    class Counting(LastValue):
        calls = 0

        def predict(self, history, node_ids, steps=1):
            Counting.calls += 1
            return super().predict(history, node_ids, steps)

    res = simulate(small, PredictiveNode(forecaster=Counting()), 1)
    samples = len(set(res.trace.extra["samples"]["time"]))
    assert 0 < Counting.calls <= samples < res.metrics["decisions"]


# -- each knob acts --------------------------------------------------------------------------


class Checked(PredictiveNode):
    """Asserts that each pick is the argmin of the scores just before it."""

    def decide(self, view):
        expected = int(np.argmin(self.scores(view)))
        actions = super().decide(view)
        assert actions[0].worker == expected
        return actions


@pytest.mark.parametrize("knobs", [dict(epsilon=0.0, top_k=3), dict(epsilon=0.7, top_k=1)])
def test_no_exploration_is_greedy_argmin(small, knobs):
    res = simulate(small, Checked(**knobs), 2)
    assert check_trace(res.trace).ok


def test_exploration_leaves_the_argmin(small):
    greedy = picks(simulate(small, PredictiveNode(epsilon=0.0, top_k=3, safety_threshold_ms=None), 2).trace)
    explore = picks(simulate(small, PredictiveNode(epsilon=0.5, top_k=3, safety_threshold_ms=None), 2).trace)
    differ = sum(a != b for a, b in zip(greedy, explore))
    assert differ > 20
    with pytest.raises(AssertionError):
        simulate(small, Checked(epsilon=0.5, top_k=3, safety_threshold_ms=None), 2)


def test_cooldown_caps_consecutive_picks(small):
    base = dict(GREEDY)
    free = picks(simulate(small, PredictiveNode(**base), 1).trace)
    assert longest_run(free) > 2  # without it, a node is picked many times in a row
    capped = picks(simulate(small, PredictiveNode(**{**base, "cooldown_k": 2, "cooldown_ms": 1e9}), 1).trace)
    assert longest_run(capped) <= 2
    one = picks(simulate(small, PredictiveNode(**{**base, "cooldown_k": 1, "cooldown_ms": 1e9}), 1).trace)
    assert longest_run(one) == 1


def test_fairness_raises_jain_index(small):
    jain = {}
    for gamma in (0.0, 1.0, 100.0):
        res = simulate(small, PredictiveNode(**{**GREEDY, "fair_gamma": gamma}), 3)
        jain[gamma] = res.metrics["jain_fairness"]
    assert jain[100.0] > jain[1.0] > jain[0.0] + 0.01
    assert jain[100.0] > 0.95 > jain[0.0]


def test_margin_acts_with_the_penalties_only(small):
    # alone it adds an increasing function of the latency: the order of nodes stays
    a = picks(simulate(small, PredictiveNode(**GREEDY), 4).trace)
    b = picks(simulate(small, PredictiveNode(**{**GREEDY, "margin_ms": 70.0}), 4).trace)
    assert a == b
    # with fairness on, it keeps requests on nodes that meet the deadline with the margin
    fair = {**GREEDY, "fair_gamma": 2.0}
    c = picks(simulate(small, PredictiveNode(**fair), 4).trace)
    d = picks(simulate(small, PredictiveNode(**{**fair, "margin_ms": 70.0}), 4).trace)
    assert c != d


@pytest.mark.parametrize("knob, value", [("steps_ahead", 5), ("window", 3), ("fair_window", 5), ("req_cost", 5.0)])
def test_forecast_and_window_knobs_change_choices(small, knob, value):
    base = {**GREEDY, "forecaster": "linear", "fair_gamma": 1.0}
    a = picks(simulate(small, PredictiveNode(**base), 5).trace)
    b = picks(simulate(small, PredictiveNode(**{**base, knob: value}), 5).trace)
    assert a != b


# -- contract --------------------------------------------------------------------------------


def test_conformance_and_determinism(small):
    check_scheduler(lambda: make("predictive", "edge", epsilon=0.3, top_k=3), small, seeds=(0, 1))
    a = simulate(small, PredictiveNode(epsilon=0.3, top_k=3), 7).trace.digest()
    b = simulate(small, PredictiveNode(epsilon=0.3, top_k=3), 7).trace.digest()
    c = simulate(small, PredictiveNode(epsilon=0.3, top_k=3), 8).trace.digest()
    assert a == b != c


def test_saved_baseline_forecaster_runs_closed_loop(small, tmp_path):
    folder = make_forecaster("ewma", alpha=0.5).save(tmp_path / "ewma")
    saved = simulate(small, PredictiveNode(model_dir=folder), 2)
    named = simulate(small, PredictiveNode(forecaster="ewma", forecaster_params={"alpha": 0.5}), 2)
    assert check_trace(saved.trace).ok
    assert saved.metrics["completed_jobs"] == 200
    assert saved.trace.digest() == named.trace.digest()
    other = simulate(small, PredictiveNode(forecaster="ewma", forecaster_params={"alpha": 0.05}), 2)
    assert other.trace.digest() != saved.trace.digest()
    # the default forecaster is EWMA with alpha 0.3
    default = simulate(small, PredictiveNode(), 2).trace.digest()
    assert default == simulate(small, PredictiveNode(forecaster_params={"alpha": 0.3}), 2).trace.digest()
    assert default != simulate(small, PredictiveNode(forecaster="last"), 2).trace.digest()


def test_registered_and_params_round_trip():
    s = make("predictive", "edge", top_k=3, epsilon=0.1)
    assert isinstance(s, PredictiveNode) and s.name == "predictive"
    params = s.get_params()
    assert params["top_k"] == 3 and params["margin_ms"] == 14.0
    assert PredictiveNode(**params).get_params() == params


@pytest.mark.parametrize(
    "knobs, field, message",
    [
        ({"top_k": 0}, "top_k", "must be an integer of at least 1, got 0"),
        ({"top_k": 1.5}, "top_k", "must be an integer"),
        ({"top_k": True}, "top_k", "must be an integer"),
        ({"cooldown_k": 0}, "cooldown_k", "at least 1"),
        ({"fair_window": -1}, "fair_window", "at least 1"),
        ({"window": 0}, "window", "at least 1"),
        ({"steps_ahead": 0}, "steps_ahead", "at least 1"),
        ({"epsilon": 1.5}, "epsilon", "in [0, 1], got 1.5"),
        ({"epsilon": -0.1}, "epsilon", "in [0, 1]"),
        ({"req_cost": 0.0}, "req_cost", "above 0"),
        ({"margin_ms": -1.0}, "margin_ms", "at least 0"),
        ({"fair_gamma": float("nan")}, "fair_gamma", "finite number"),
        ({"fair_scale_ms": "big"}, "fair_scale_ms", "got 'big'"),
        ({"cooldown_ms": float("inf")}, "cooldown_ms", "finite number"),
        ({"safety_threshold_ms": -5.0}, "safety_threshold_ms", "at least 0"),
        ({"forecaster": "transformer"}, "forecaster", "must be trained first"),
        ({"forecaster": 3}, "forecaster", "expected a forecaster name or object"),
        ({"forecaster_params": {"alpha": 2.0}}, "forecaster_params", "alpha: must be in (0, 1]"),
        ({"forecaster_params": {"beta": 1}}, "forecaster_params", "do not fit forecaster 'ewma'"),
        ({"forecaster_params": [1]}, "forecaster_params", "expected a mapping"),
        ({"forecaster": "last", "model_dir": "x"}, "model_dir", "not both"),
    ],
)
def test_bad_knobs_name_the_knob(knobs, field, message):
    with pytest.raises(ConfigError) as e:
        PredictiveNode(**knobs)
    assert e.value.field == field
    assert message in e.value.problem


def test_bad_forecaster_name_and_folder(tmp_path):
    with pytest.raises(UnknownNameError, match="did you mean 'ewma'") as e:
        PredictiveNode(forecaster="ewmaa")
    assert e.value.field == "forecaster"
    with pytest.raises(DataError, match="not a saved forecaster"):
        PredictiveNode(model_dir=tmp_path / "nothing")
    assert PredictiveNode(safety_threshold_ms=math.inf).safety_threshold_ms == math.inf


# -- command line ----------------------------------------------------------------------------


def cli(*args):
    return runner.invoke(app, ["edge", "simulate", *(str(a) for a in args)])


def test_cli_simulate_writes_metrics_and_trace(tmp_path):
    m, t = tmp_path / "m.json", tmp_path / "t.json"
    r = cli("--requests", 150, "--seed", 1, "--forecaster", "ewma", "--forecaster-param", "alpha=0.3",
            "--top-k", 3, "--metrics-json", m, "--trace", t)  # fmt: skip
    assert r.exit_code == 0, r.output
    metrics = json.loads(m.read_text())
    assert metrics["completed_jobs"] == 150 and metrics["latency_p95_ms"] > 0
    assert "p95 latency (ms)" in r.output
    same = simulate(
        load_scenario("edge", {"workload.jobs": 150}),
        PredictiveNode(forecaster_params={"alpha": 0.3}, top_k=3),
        1,
    )
    assert same.metrics["latency_p95_ms"] == metrics["latency_p95_ms"]
    assert t.is_file()


def test_cli_simulate_compare_and_model_dir(tmp_path):
    folder = make_forecaster("last").save(tmp_path / "last")
    r = cli("--requests", 150, "--model-dir", folder, "--compare")
    assert r.exit_code == 0, r.output
    for name in ("predictive", "random", "round-robin", "least-delay", "least-loaded", "Jain"):
        assert name in r.output
    assert max(len(line) for line in r.output.splitlines()) <= 80


def test_cli_defaults_are_the_schedulers():
    from schedlab.cli.edge_simulate import edge_simulate

    cli_defaults = {p.name: p.default for p in inspect.signature(edge_simulate).parameters.values()}
    for name, p in inspect.signature(PredictiveNode).parameters.items():
        if name in cli_defaults and name not in ("forecaster", "model_dir"):
            assert cli_defaults[name] == p.default, name


@pytest.mark.parametrize(
    "args, message",
    [
        (("--epsilon", 2), "--epsilon: must be a finite number in [0, 1], got 2.0"),
        (("--top-k", 0), "--top-k: must be an integer of at least 1, got 0"),
        (("--fair-gamma", -1), "--fair-gamma: must be a finite number at least 0"),
        (("--forecaster", "nope"), "--forecaster: unknown forecaster 'nope'"),
        (("--forecaster", "lm"), "--forecaster: forecaster 'lm' must be trained first"),
        (("--forecaster-param", "alpha=5"), "--forecaster-param: alpha: must be in (0, 1]"),
        (("--forecaster-param", "alpha"), "--forecaster-param: expected KEY=VALUE"),
        (("--model-dir", "no_such_dir"), "no_such_dir: no forecaster.json here"),
        (("--scenario", "multiproc"), "--scenario: scenario 'multiproc' is of family"),
        (("--requests", 0), "--requests: must be at least 1"),
    ],
)
def test_cli_bad_knobs_fail_cleanly(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = cli("--requests", 50, *args, "--metrics-json", tmp_path / "m.json")
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("schedlab: error:"), r.output
    assert message in lines[0]
    assert not (tmp_path / "m.json").exists()


def test_cli_takes_the_seed_systems_flags(tmp_path):
    m = tmp_path / "m.json"
    r = cli("--requests", 150, "--req-cost", 1.5, "--margin-ms", 14, "--fair-gamma", 1.0, "--fair-scale-ms", 25,
            "--fair-window", 20, "--cooldown-k", 2, "--cooldown-ms", 4, "--top-k", 2, "--epsilon", 0.2,
            "--safety-threshold-ms", 5.0, "--metrics-json", m, "-q")  # fmt: skip
    assert r.exit_code == 0, r.output
    assert r.output == ""
    flags = dict(req_cost=1.5, safety_threshold_ms=5.0)
    same = simulate(load_scenario("edge", {"workload.jobs": 150}), PredictiveNode(**flags), 0)
    assert json.loads(m.read_text())["latency_p95_ms"] == same.metrics["latency_p95_ms"]
