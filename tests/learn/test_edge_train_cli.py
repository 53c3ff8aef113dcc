"""edge train, evaluate and infer from the command line: the files they write, and one-line errors."""

import csv
import json

import pytest
from typer.testing import CliRunner

from schedlab.cli import app
from schedlab.learn.forecast.evaluate import METRIC_KEYS, PREDICTION_COLUMNS

runner = CliRunner()
SMALL = ["--window", 8, "--epochs", 2, "--d-model", 16, "--nhead", 2, "--layers", 1, "--ffn", 32]


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    d = tmp_path_factory.mktemp("logs")
    for seed in (1, 2):
        r = run("edge", "gen-logs", "--num-nodes", 3, "--steps", 150, "--seed", seed, "--out", d / f"s{seed}.csv", "-q")
        assert r.exit_code == 0, r.output
    return d


@pytest.fixture(scope="module")
def trained(logs, tmp_path_factory):
    pytest.importorskip("torch", reason="the transformer forecaster needs torch (schedlab[learn])")
    out = tmp_path_factory.mktemp("model") / "m"
    r = run("edge", "train", "--input", logs / "s1.csv", "--model", "transformer", "--out", out, "--seed", 3, *SMALL)
    assert r.exit_code == 0, r.output
    return out, r.output


def one_line_error(r, *words):
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("schedlab: error:"), r.output
    for w in words:
        assert w in lines[0], lines[0]


def test_train_writes_model_metrics_predictions_and_history(trained):
    out, printed = trained
    assert {p.name for p in out.iterdir()} == {
        "forecaster.json",
        "weights.safetensors",
        "metrics.json",
        "predictions.csv",
        "history.csv",
    }
    m = json.loads((out / "metrics.json").read_text())
    for key in METRIC_KEYS:
        assert m[key] >= 0 and m[f"{key}_5step"] >= 0
    assert m["test_first_step"] == 120 and m["samples"] == 3 * 30 and m["samples_5step"] == 3 * 26
    assert m["epochs_run"] == 2 and m["train_cpu_s"] > 0 and m["model"] == "transformer"
    assert all(not isinstance(v, dict | list) for v in m.values())
    with open(out / "predictions.csv") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == PREDICTION_COLUMNS
    assert min(int(r["step"]) for r in rows) == 120 and {r["horizon"] for r in rows} == {"1", "2", "3", "4", "5"}
    history = (out / "history.csv").read_text().splitlines()
    assert history[0] == "epoch,train_loss,val_loss,best" and len(history) == 3
    params = json.loads((out / "forecaster.json").read_text())["params"]
    assert params["d_model"] == 16 and params["seed"] == 3 and params["window"] == 8
    assert "cpu (cores)" in printed


def test_train_is_deterministic(logs, trained, tmp_path):
    out, _ = trained
    r = run("edge", "train", "--input", logs / "s1.csv", "--out", tmp_path / "again", "--seed", 3, *SMALL, "-q")
    assert r.exit_code == 0 and r.output == ""
    assert (tmp_path / "again" / "weights.safetensors").read_bytes() == (out / "weights.safetensors").read_bytes()
    assert (tmp_path / "again" / "predictions.csv").read_text() == (out / "predictions.csv").read_text()


def test_evaluate_on_other_logs(logs, trained, tmp_path):
    out, _ = trained
    mj, pc = tmp_path / "m.json", tmp_path / "p.csv"
    r = run("edge", "evaluate", "--model-dir", out, "--input", logs / "s2.csv", "--steps-ahead", 3,
            "--metrics-json", mj, "--predictions-csv", pc)  # fmt: skip
    assert r.exit_code == 0, r.output
    m = json.loads(mj.read_text())
    assert set(METRIC_KEYS) <= set(m) and m["steps_ahead"] == 3 and m["samples"] == 3 * (150 - 30 - 2)
    assert len(pc.read_text().splitlines()) == 1 + m["samples"] * 3


def test_infer_prints_a_table_and_json(logs, trained):
    out, _ = trained
    r = run("edge", "infer", "--model-dir", out, "--input", logs / "s2.csv", "--node-id", 1, "--steps-ahead", 7)
    assert r.exit_code == 0, r.output
    assert "node 1" in r.output and "156" in r.output and "delay (ms)" in r.output
    r = run(
        "edge", "infer", "--model-dir", out, "--input", logs / "s2.csv", "--node-id", 2, "--steps-ahead", 2, "--json"
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["node_id"] == 2 and [p["step"] for p in doc["predictions"]] == [150, 151]
    assert set(doc["predictions"][0]) == {"step", "time_s", "cpu", "mem", "delay_ms", "load"}


def test_baseline_models_train_too(logs, tmp_path):
    r = run("edge", "train", "--input", logs / "s1.csv", "--model", "ewma", "--out", tmp_path / "e", "-q")
    assert r.exit_code == 0, r.output
    m = json.loads((tmp_path / "e" / "metrics.json").read_text())
    assert m["epochs_run"] == 0 and m["model"] == "ewma"
    assert (tmp_path / "e" / "history.csv").read_text() == "epoch,train_loss,val_loss,best\n"
    r = run("edge", "train", "--input", logs / "s1.csv", "--model", "sma", "--span", 5, "--out", tmp_path / "s", "-q")
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize("model", ["last", "ewma", "sma", "linear"])
def test_every_model_takes_the_run_options(logs, tmp_path, model):
    """--seed and --threads, which a script passes to every model, are taken by the baselines too."""
    out = tmp_path / model
    r = run(
        "edge", "train", "--input", logs / "s1.csv", "--model", model, "--seed", 7, "--threads", 1, "--out", out, "-q"
    )
    assert r.exit_code == 0, r.output
    assert json.loads((out / "metrics.json").read_text())["seed"] == 7
    again = tmp_path / "again"
    assert run("edge", "train", "--input", logs / "s1.csv", "--model", model, "--out", again, "-q").exit_code == 0
    assert (again / "forecaster.json").read_text() == (out / "forecaster.json").read_text()


def test_errors_are_one_line_and_leave_no_output(logs, trained, tmp_path):
    out, _ = trained
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,node_id,cpu,mem,delay,load\n0,0,1,2,x,0.5\n")
    short = tmp_path / "short.csv"
    short.write_text("timestamp,node_id,cpu,mem,delay,load\n" + "".join(f"{k},0,1,2,30,0.5\n" for k in range(40)))
    dest = tmp_path / "never"
    one_line_error(run("edge", "train", "--input", logs / "s1.csv", "--model", "transfomer", "--out", dest),
                   "--model", "did you mean 'transformer'")  # fmt: skip
    one_line_error(run("edge", "train", "--input", tmp_path / "none.csv", "--out", dest), "none.csv", "no such file")
    one_line_error(run("edge", "train", "--input", bad, "--out", dest), "bad.csv", "line 2", "delay")
    one_line_error(run("edge", "train", "--input", short, "--out", dest), "short.csv", "too short for the window")
    one_line_error(run("edge", "train", "--input", logs / "s1.csv", "--model", "ewma", "--window", 5, "--out", dest),
                   "--window", "ewma")  # fmt: skip
    one_line_error(run("edge", "train", "--input", logs / "s1.csv", "--nhead", 3, "--out", dest), "--nhead")
    one_line_error(run("edge", "train", "--input", logs / "s1.csv", "--test-fraction", 1.5, "--out", dest),
                   "--test-fraction")  # fmt: skip
    assert not dest.exists()
    mj = tmp_path / "m.json"
    one_line_error(run("edge", "evaluate", "--model-dir", tmp_path, "--input", logs / "s2.csv", "--metrics-json", mj),
                   "forecaster.json")  # fmt: skip
    assert not mj.exists()
    one_line_error(run("edge", "infer", "--model-dir", out, "--input", logs / "s2.csv", "--node-id", 9),
                   "--node-id", "node 9")  # fmt: skip
    one_line_error(run("edge", "infer", "--model-dir", out, "--input", logs / "s2.csv", "--node-id", 0,
                       "--steps-ahead", 0), "--steps-ahead")  # fmt: skip


def test_a_neural_forecaster_without_torch_is_a_one_line_error(logs, tmp_path, monkeypatch):
    import sys

    for name in [
        m
        for m in sys.modules
        if m.startswith("schedlab.learn.forecast.") and m.endswith(("transformer", "neural", "lm"))
    ]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "torch", None)  # what an environment without torch looks like to import
    dest = tmp_path / "never"
    one_line_error(run("edge", "train", "--input", logs / "s1.csv", "--model", "transformer", "--out", dest),
                   "need torch", "schedlab[learn]")  # fmt: skip
    assert not dest.exists()
