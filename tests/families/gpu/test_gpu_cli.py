"""`schedlab run gpu` as GSwarm users call it: flags, the execution log, check, list, one-line errors."""

import copy
import json

import pytest
import yaml
from typer.testing import CliRunner

from schedlab.cli import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def files(tmp_path, tiny):
    cfg = tmp_path / "system_config.yaml"
    cfg.write_text(yaml.safe_dump(tiny.config, sort_keys=False))
    reqs = tmp_path / "workflow_requests.json"
    reqs.write_text(json.dumps({"requests": [
        {"request_id": "a", "timestamp": "2025-01-01T00:00:00", "workflow_id": "ab", "node_execution_times": {"n1": 4, "n2": 2}},
        {"request_id": "b", "timestamp": "2025-01-01T00:00:10", "workflow_id": "g", "node_execution_times": {"g": 3}},
        {"request_id": "c", "timestamp": "2025-01-01T00:00:20", "workflow_id": "s", "node_execution_times": {"s": 1}},
    ]}))  # fmt: skip
    return cfg, reqs


@pytest.mark.parametrize("scheduler", ["ray-like", "eft"])
@pytest.mark.parametrize("mode", ["offline", "online"])
def test_run_writes_the_execution_log_and_metrics(files, tmp_path, scheduler, mode):
    cfg, reqs = files
    log, metrics = tmp_path / "log.json", tmp_path / "m.json"
    r = run("run", "gpu", "--scheduler", scheduler, "--seed", 4, "--gpus", 2, "--mode", mode, "--config", cfg,
            "--requests", reqs, "--trace", log, "--metrics-json", metrics)  # fmt: skip
    assert r.exit_code == 0, r.output
    doc = json.loads(log.read_text())
    assert doc["summary"]["mode"] == mode and doc["summary"]["gpus"] == [0, 1]
    assert {e["request_id"] for e in doc["executions"]} == {"a", "b", "c"}
    gang = next(e for e in doc["executions"] if e["request_id"] == "b")
    assert gang["gpu_ids"] == [0, 1] and gang["model_name"] == "G"
    m = json.loads(metrics.read_text())
    assert m["completed_jobs"] == 3 and m["tasks"] == 4
    for key in ("makespan_s", "avg_jct_s", "median_jct_s", "p99_jct_s", "min_jct_s", "max_jct_s", "avg_wait_s",
                "model_switches", "switch_time_s", "gpu_utilization", "gpu1_busy_s", "gpu1_executions",
                "gpu1_utilization", "model_G_executions"):  # fmt: skip
        assert key in m
    assert all(isinstance(v, (int, float)) for v in m.values())
    if mode == "online":
        assert [e["ready_time"] for e in doc["executions"] if e["node_id"] in ("n1", "g", "s")] == [0.0, 10.0, 20.0]
    ok = run("check", log)
    assert ok.exit_code == 0 and "ok (9 checks passed)" in " ".join(ok.output.split())


def test_check_finds_an_edited_overlap_in_the_log(files, tmp_path):
    cfg, reqs = files
    log = tmp_path / "log.json"
    assert run("run", "gpu", "-s", "ray-like", "--gpus", 2, "--config", cfg, "--requests", reqs, "--trace", log,
               "-q").exit_code == 0  # fmt: skip
    doc = json.loads(log.read_text())
    gang = next(e for e in doc["executions"] if e["request_id"] == "b")
    gang["gpu_ids"], gang["gpu_id"] = [1, 2], 1
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    r = run("check", bad)
    assert r.exit_code == 1 and "[gangs] task (job 1, stage 0, task 0) lists unknown worker(s) 2" in r.output


def test_builtin_preset_runs_without_files(tmp_path):
    r = run("run", "gpu", "--scheduler", "eft", "--jobs", 6, "--gpus", 3, "--metrics-json", tmp_path / "m.json", "-q")
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "m.json").read_text())["completed_jobs"] == 6


def test_list_shows_the_gpu_schedulers():
    r = run("list")
    assert r.exit_code == 0
    for word in ("gpu", "ray-like", "eft", "eft-fifo"):
        assert word in r.output


def bad_config(tmp_path, tiny, change):
    doc = copy.deepcopy(tiny.config)
    change(doc)
    p = tmp_path / "bad_config.json"
    p.write_text(json.dumps(doc))
    return p


@pytest.mark.parametrize(
    "case, message",
    [
        ("gpus", "models.G.gpus_required: model 'G' needs 2 consecutive GPUs but the cluster has 1"),
        ("edge", "workflows.ab.edges[1].to: names no node of workflow 'ab': 'n9'"),
        ("cycle", "workflows.ab.edges: the edges form a cycle (n1 -> n2 -> n1)"),
        ("workflow", "workflow_requests.json: requests[0].workflow_id: unknown workflow 'zz'"),
        ("scheduler", "unknown gpu scheduler 'ray-lik'. Did you mean 'ray-like'?"),
        ("mode", "workload.mode: Input should be 'offline' or 'online' (got 'batch')"),
        ("missing", "nope.yaml: no such file"),
    ],
)
def test_bad_inputs_are_one_line_exit_2(files, tmp_path, tiny, case, message):
    cfg, reqs = files
    args = {"--scheduler": "ray-like", "--gpus": 2, "--config": cfg, "--requests": reqs}
    if case == "gpus":
        args["--gpus"] = 1
    elif case == "edge":
        args["--config"] = bad_config(
            tmp_path, tiny, lambda d: d["workflows"]["ab"]["edges"].append({"from": "n1", "to": "n9"})
        )
    elif case == "cycle":
        args["--config"] = bad_config(
            tmp_path, tiny, lambda d: d["workflows"]["ab"]["edges"].append({"from": "n2", "to": "n1"})
        )
    elif case == "workflow":
        doc = json.loads(reqs.read_text())
        doc["requests"][0]["workflow_id"] = "zz"
        reqs.write_text(json.dumps(doc))
    elif case == "scheduler":
        args["--scheduler"] = "ray-lik"
    elif case == "mode":
        args["--mode"] = "batch"
    elif case == "missing":
        args["--config"] = tmp_path / "nope.yaml"
    out = tmp_path / "m.json"
    r = run("run", "gpu", *[x for kv in args.items() for x in kv], "--metrics-json", out)
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("schedlab: error:"), r.output
    assert message in lines[0]
    assert not out.exists()
