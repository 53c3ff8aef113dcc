"""``schedlab evaluate`` and :mod:`schedlab.runs.evaluate`: paired CIs, verdicts, splits, the CLI."""

import json
import math

import pytest
import yaml
from typer.testing import CliRunner

from schedlab.cli import app
from schedlab.runs.compare import mean_ci
from schedlab.runs.evaluate import SPLITS, evaluate, paired_ci, split_seeds, verdict
from schedlab.testing import small_scenario

runner = CliRunner()
T975_2 = 4.303  # Student t, 97.5% quantile, 2 degrees of freedom


def cli(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("evaluate") / "multiproc-small.yaml"
    path.write_text(yaml.safe_dump(small_scenario("multiproc").model_dump(mode="json")))
    return path


def test_paired_ci_on_hand_numbers():
    mean, half, n = paired_ci([11.0, 22.0, 33.0], [10.0, 20.0, 30.0])  # diffs 1, 2, 3: sd 1
    assert n == 3 and mean == pytest.approx(2.0)
    assert half == pytest.approx(T975_2 * 1 / math.sqrt(3))
    # Pairs with a missing value are left out; one pair has no interval, none has no mean.
    mean, half, n = paired_ci([5.0, None, 7.0], [4.0, 1.0, None])
    assert (mean, n) == (1.0, 1) and math.isnan(half)
    mean, half, n = paired_ci([None], [1.0])
    assert n == 0 and math.isnan(mean) and math.isnan(half)
    # Equal differences: an interval of width zero.
    assert paired_ci([3.0, 4.0], [1.0, 2.0]) == (2.0, 0.0, 2)
    with pytest.raises(ValueError):
        paired_ci([1.0], [1.0, 2.0])


def test_verdict_needs_the_interval_to_exclude_zero():
    assert verdict(-2.0, 1.0, lower_is_better=True) == "better"
    assert verdict(-2.0, 1.0, lower_is_better=False) == "worse"
    assert verdict(2.0, 1.0, lower_is_better=False) == "better"
    assert verdict(2.0, 1.0, lower_is_better=True) == "worse"
    assert verdict(0.5, 1.0, lower_is_better=True) == "tie"
    assert verdict(1.0, 1.0, lower_is_better=True) == "tie"  # touching zero does not exclude it
    assert verdict(1.0, math.nan, lower_is_better=True) == "tie"  # one seed: undefined
    assert verdict(1.0, 0.0, lower_is_better=True) == "worse"
    assert verdict(0.0, 0.0, lower_is_better=True) == "tie"


def test_default_seeds_are_those_of_evaluation_md():
    assert split_seeds("test") == tuple(range(1, 21)) == SPLITS["test"]
    assert split_seeds("validation") == tuple(range(1000, 1100))
    assert not set(SPLITS["test"]) & set(SPLITS["validation"])
    assert all(s < 10_000 for seeds in SPLITS.values() for s in seeds)  # never training seeds


def test_evaluate_returns_plain_result():
    sc = small_scenario("multiproc")
    res = evaluate(sc, ["random", "lwr"], "random", seeds=[1, 2, 3, 4, 5])
    assert res.ok and res.traces_checked == 10 and res.seeds == [1, 2, 3, 4, 5]
    sla = next(m for m in res.metrics if m.key == "sla_violation_rate")
    assert sla.lower_is_better
    lwr, rnd = sla.per_scheduler["lwr"], sla.per_scheduler["random"]
    assert rnd.verdict == "baseline" and lwr.verdict == "better"
    assert (lwr.mean, lwr.ci95) == pytest.approx(mean_ci(lwr.values))
    diffs = [a - b for a, b in zip(lwr.values, rnd.values)]
    assert (lwr.diff_mean, lwr.diff_ci95) == pytest.approx(mean_ci(diffs))
    assert res.latency["lwr"].decisions > 0
    assert 0 < res.latency["lwr"].median_us <= res.latency["lwr"].p99_us


def test_cli_evaluate_prints_verdicts_and_writes_json(scenario_file, tmp_path):
    out = tmp_path / "ev"
    r = cli("evaluate", scenario_file, "-s", "random,lwr", "--baseline", "random", "--seeds", "1-5",
            "--workers", 2, "--out", out)  # fmt: skip
    assert r.exit_code == 0, r.output
    assert max(len(line) for line in r.output.splitlines()) <= 80
    assert "better" in r.output and "baseline" in r.output
    assert "traces checked: 10, all pass" in r.output
    assert "median (µs)" in r.output and "wall clock" in r.output
    doc = json.loads((out / "evaluation.json").read_text())
    assert doc["baseline"] == "random" and doc["seeds"] == [1, 2, 3, 4, 5] and doc["split"] == "test"
    assert doc["traces_checked"] == 10 and doc["traces_ok"] and doc["violations"] == []
    for key in ("sla_violation_rate", "avg_completion_time_s"):
        lwr = doc["metrics"][key]["schedulers"]["lwr"]
        assert lwr["verdict"] == "better" and lwr["diff_mean"] < 0 and lwr["diff_ci95"] < -lwr["diff_mean"]
        assert len(lwr["values"]) == 5
    lat = doc["decision_latency_us"]
    assert lat["clock"] == "wall" and lat["lwr"]["decisions"] > 0 and lat["lwr"]["p99"] >= lat["lwr"]["median"]
    assert len(list((out / "traces").glob("*.json"))) == 10


def test_cli_one_seed_writes_null_intervals(scenario_file, tmp_path):
    r = cli("evaluate", scenario_file, "-s", "random,lwr", "--baseline", "random", "--seeds", "3",
            "--metrics", "sla_violation_rate", "--out", tmp_path)  # fmt: skip
    assert r.exit_code == 0, r.output
    sla = json.loads((tmp_path / "evaluation.json").read_text())["metrics"]["sla_violation_rate"]
    assert list(json.loads((tmp_path / "evaluation.json").read_text())["metrics"]) == ["sla_violation_rate"]
    assert sla["schedulers"]["lwr"]["ci95"] is None and sla["schedulers"]["lwr"]["diff_ci95"] is None
    assert sla["schedulers"]["lwr"]["verdict"] == "tie"


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["-s", "random,lwr", "--baseline", "oracle"], "--baseline"),
        (["-s", "random,lwr", "--baseline", "random", "--split", "training"], "--split"),
        (["-s", "random,lwr", "--baseline", "random", "--seeds", "5-1"], "--seeds"),
        (["-s", "random,lwr", "--baseline", "random", "--seeds", "1-2", "--metrics", "nope"], "--metrics"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(scenario_file, tmp_path, args, field):
    r = cli("evaluate", scenario_file, *args, "--out", tmp_path / "ev")
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("schedlab: error:") and field in lines[0]
    assert not (tmp_path / "ev" / "evaluation.json").exists()


def test_cli_trace_violations_exit_1(scenario_file, monkeypatch):
    from schedlab.metrics import checker

    real = checker.check_trace

    def failing(trace, *a, **k):
        report = real(trace, *a, **k)
        if trace.meta.get("scheduler") == "lwr":
            report.violations.append(checker.Violation("times", "task 0 starts after it ends"))
            report.ok = False
        return report

    monkeypatch.setattr(checker, "check_trace", failing)
    r = cli("evaluate", scenario_file, "-s", "random,lwr", "--baseline", "random", "--seeds", "1-2", "--workers", 1)
    assert r.exit_code == 1, r.output
    assert "lwr seed 1: [times] task 0 starts after it ends" in r.output
    assert "2 of 4 trace(s) fail" in r.output
