"""The edge predictive ablation benchmark: its paired analysis, and that it refuses a test seed to train on."""

import importlib.util
from pathlib import Path

import pytest

PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_edge_predictive_ablation.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_edge_predictive_ablation", PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _values(base: float, step: float, n: int = 5) -> list[float]:
    return [base + step * i for i in range(n)]


def test_paired_difference_is_transformer_minus_last_with_the_metric_direction(bench):
    last = {k: _values(10.0, 1.0) for k in bench.KEYS}
    # Lower latency and higher fairness than last on every seed, by a constant: a sure gain.
    transformer = {k: [v + (0.5 if k == "jain_fairness" else -2.0) for v in last[k]] for k in bench.KEYS}
    ewma = {k: list(v) for k, v in last.items()}
    out = bench.analyse({"transformer": transformer, "last": last, "ewma": ewma})
    row = out["diffs"]["transformer - last"]
    assert row["latency_p95_ms"]["diff"] == pytest.approx(-2.0)
    assert row["latency_p95_ms"]["verdict"] == "better"
    assert row["jain_fairness"]["diff"] == pytest.approx(0.5)
    assert row["jain_fairness"]["verdict"] == "better"
    assert row["timeout_rate"]["pairs"] == 5
    mean, half = out["stats"]["last"]["latency_p50_ms"]
    assert mean == pytest.approx(12.0) and half > 0


def test_noisy_difference_is_a_tie(bench):
    last = {k: _values(10.0, 1.0) for k in bench.KEYS}
    transformer = {k: [v + d for v, d in zip(last[k], (1.0, -1.0, 1.0, -1.0, 0.0))] for k in bench.KEYS}
    out = bench.analyse({"transformer": transformer, "last": last})
    assert {c["verdict"] for c in out["diffs"]["transformer - last"].values()} == {"tie"}
    assert "transformer - ewma" not in out["diffs"]


def test_refuses_to_train_on_a_non_training_seed(bench, capsys):
    assert bench.main(["--train-seed", "42"]) == 2
    assert "training seed" in capsys.readouterr().err
