"""Forecasts are shown beside persistence (last), and every predictive run names its forecaster."""

import re

import pytest
from typer.testing import CliRunner

from schedlab.cli import app
from schedlab.families.edge.nodes import read_node_logs
from schedlab.learn.forecast import make_forecaster
from schedlab.learn.forecast.evaluate import evaluate, slice_log
from schedlab.learn.forecast.predictive import PredictiveNode
from schedlab.report.format import fmt

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def log_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("logs") / "s1.csv"
    r = run("edge", "gen-logs", "--num-nodes", 3, "--steps", 150, "--seed", 1, "--out", path, "-q")
    assert r.exit_code == 0, r.output
    return path


def _row(output: str, first: str) -> list[str]:
    """The cells of the table row whose first non-empty cells start with ``first``."""
    for line in output.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃]", line)[1:-1]]
        if [c for c in cells if c][: len(first.split("|"))] == first.split("|"):
            return [c for c in cells if c]
    raise AssertionError(f"no row {first!r} in\n{output}")


def test_train_table_shows_persistence_on_the_same_tail(log_file, tmp_path):
    r = run("edge", "train", "--input", log_file, "--model", "sma", "--span", 5, "--out", tmp_path / "m")
    assert r.exit_code == 0, r.output
    assert "sma and persistence (last) on the last 30 steps" in r.output
    log = read_node_logs(log_file)
    last = make_forecaster("last").fit(slice_log(log, 0, 120))
    want = evaluate(last, log, steps_ahead=1, start=120)
    lines = r.output.splitlines()
    cpu = next(i for i, line in enumerate(lines) if "cpu (cores)" in line)
    assert _row(lines[cpu], "cpu (cores)|sma")[0:2] == ["cpu (cores)", "sma"]
    persistence = _row(lines[cpu + 1], "last")
    assert persistence[1:3] == [fmt(want["cpu_mae"]), fmt(want["cpu_rmse"])]


def test_train_of_last_itself_has_no_second_row(log_file, tmp_path):
    r = run("edge", "train", "--input", log_file, "--model", "last", "--out", tmp_path / "l")
    assert r.exit_code == 0, r.output
    assert "persistence" not in r.output and "forecaster" not in r.output


def test_simulate_compare_adds_persistence_and_names_forecasters():
    r = run("edge", "simulate", "--requests", 120, "--forecaster", "sma", "--forecaster-param", "span=5", "--compare")
    assert r.exit_code == 0, r.output
    assert "predictive (sma)" in r.output and "predictive (last)" in r.output
    assert "forecaster sma span=5" in r.output
    assert "no value is marked best" in " ".join(r.output.split())  # one seed: no paired test


def test_simulate_names_its_forecaster_without_compare():
    r = run("edge", "simulate", "--requests", 120)
    assert r.exit_code == 0, r.output
    assert "forecaster ewma alpha=0.3" in r.output


def test_forecaster_label(tmp_path):
    assert PredictiveNode().forecaster_label == "ewma alpha=0.3"
    assert PredictiveNode(forecaster="last").forecaster_label == "last"
    assert PredictiveNode(forecaster="sma", forecaster_params={"span": 5}).forecaster_label == "sma span=5"
    folder = make_forecaster("linear").save(tmp_path / "lin")
    node = PredictiveNode(model_dir=folder)
    assert (node.forecaster_name, node.forecaster_label) == ("linear", f"linear from {folder}")
