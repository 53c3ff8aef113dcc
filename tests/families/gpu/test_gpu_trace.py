"""The execution log (GSwarm's fields, written and read back), and the checker on gangs and switches."""

import copy
import json

import pytest

from schedlab.errors import DataError
from schedlab.families.gpu.checks import check_gangs
from schedlab.families.gpu.gswarm import LOG_TRACE_KEY, execution_log, trace_from_execution_log
from schedlab.metrics.checker import check_trace
from schedlab.runs import simulate
from schedlab.runs.traces import load_trace, save_trace
from schedlab.scenarios import load_scenario
from schedlab.sim.trace import Trace

GSWARM_FIELDS = ("request_id", "workflow_id", "node_id", "model_name", "gpu_id", "start_time", "end_time",
                 "execution_time", "estimated_time", "switch_time", "waiting_time")  # fmt: skip


@pytest.fixture(scope="module")
def run():
    return simulate(load_scenario("gpu", {"workload.jobs": 10}), "ray-like", seed=2)


def test_log_keeps_gswarm_fields_and_adds_the_gang(run):
    log = execution_log(run.trace)
    s = log["summary"]
    assert (s["total_requests"], s["completed_requests"], s["mode"], s["simulate"], s["gpus"]) == (
        10, 10, "offline", False, [0, 1, 2, 3]
    )  # fmt: skip
    assert s["makespan"] == run.metrics["makespan_s"] and s["total_model_switches"] == run.metrics["model_switches"]
    assert s["p99_request_response_time"] == run.metrics["p99_jct_s"]
    assert s["scheduler"] == "ray-like" and s["seed"] == 2
    ex = log["executions"]
    assert len(ex) == run.metrics["tasks"]
    assert [e["start_time"] for e in ex] == sorted(e["start_time"] for e in ex)
    for e in ex:
        assert set(GSWARM_FIELDS) <= set(e) and {"gpu_ids", "ready_time", "previous_models"} <= set(e)
        assert e["gpu_id"] == e["gpu_ids"][0] and e["execution_time"] == e["end_time"] - e["start_time"]
        assert e["waiting_time"] == e["start_time"] - e["switch_time"] - e["ready_time"]
    gangs = [e for e in ex if len(e["gpu_ids"]) == 2]
    assert gangs and all(e["model_name"] == "llm30b" for e in gangs)
    assert "tasks" not in log[LOG_TRACE_KEY]  # one copy of the executions


def test_log_round_trips_to_the_same_trace(run, tmp_path):
    p = save_trace(run.trace, tmp_path / "log.json", native=True)
    doc = json.loads(p.read_text())
    assert "executions" in doc and "format" not in doc
    back = load_trace(p)
    assert back.digest() == run.trace.digest()
    assert check_trace(back).ok
    # Without native=True the schedlab format is written, as for every family.
    assert "format" in json.loads(run.trace.save(tmp_path / "t.json").read_text())


def test_an_overlap_on_the_second_gpu_of_a_gang_is_caught(run):
    # The flaw of GSwarm's log: only gpu_id (the first GPU) was recorded, so a node placed
    # on the second GPU of a running gang went unseen. Move a one-GPU execution onto the
    # second GPU of a gang, inside the gang's run.
    log = copy.deepcopy(execution_log(run.trace))
    ex = log["executions"]
    gang = next(e for e in ex if len(e["gpu_ids"]) == 2)
    single = next(e for e in ex if len(e["gpu_ids"]) == 1 and e["gpu_id"] != gang["gpu_ids"][1])
    length = single["end_time"] - single["start_time"]
    single.update(gpu_id=gang["gpu_ids"][1], gpu_ids=[gang["gpu_ids"][1]], switch_time=0.0,
                  start_time=gang["start_time"], end_time=gang["start_time"] + length)  # fmt: skip
    report = check_trace(trace_from_execution_log(log))
    assert not report.ok and report.counts["capacity"] >= 1
    msg = next(v.message for v in report.violations if v.check == "capacity")
    assert f"worker {gang['gpu_ids'][1]} runs 2 tasks" in msg


def test_the_switch_before_a_start_occupies_the_gpu(tiny):
    # Story of test_two_requests_on_one_gpu_exact_times: r0.n2 switches on GPU 0 from 12 to
    # 15, then runs. Stretching r1.n1 (9..12) to 12.5 misses r0.n2's run but hits its switch.
    _, trace = tiny.run("ray-like", [("ab", {"n1": 4, "n2": 2}, 0), ("ab", {"n1": 3, "n2": 1}, 0)])
    assert check_trace(trace).ok
    trace.tasks["start"][1], trace.tasks["end"][1] = 9.0, 12.5
    report = check_trace(trace)
    assert report.counts == {**dict.fromkeys(report.checks, 0), "capacity": 1}
    assert report.violations[0].message == (
        "worker 0 runs 2 tasks at 12.0 s, over its capacity of 1: task (job 0, stage 1, task 0) starts its "
        "setup (it runs from 15.0 s) while task (job 1, stage 0, task 0) runs"
    )


@pytest.mark.parametrize(
    "workers, setup, message",
    [
        ([0, 2], 0.0, "runs on workers [0, 2], which are not consecutive ascending ids"),
        ([1, 0], 0.0, "has workers [1, 0] but worker 0"),
        ([0, 9], 0.0, "lists unknown worker(s) 9"),
        ([0, 0], 0.0, "lists a worker twice"),
        ("0-1", 0.0, "expected a non-empty list of worker ids"),
        ([0, 1], -1.0, "has setup -1.0, expected a finite non-negative number"),
        ([0, 1], 1e6, "from negative time"),
    ],
)
def test_gangs_check(workers, setup, message):
    tr = Trace(family="gpu", time_unit="s")
    tr.workers.update(id=[0, 1, 2], kind=["gpu"] * 3, capacity=[1] * 3)
    tr.jobs.update(id=[0], name=["r"], arrival=[0.0], completion=[5.0])
    tr.stages.update(job=[0], stage=[0], num_tasks=[1], parents=[[]])
    tr.tasks.update(job=[0], stage=[0], task=[0], worker=[0], start=[2.0], end=[5.0], workers=[workers], setup=[setup])
    report = check_trace(tr)
    assert report.checks[-1] == "gangs"
    assert report.counts["gangs"] == 1, report.violations
    assert message in report.violations[-1].message
    # A gang the gangs check rejects is not reported again by the capacity check.
    assert report.counts["capacity"] == 0
    assert check_gangs(tr)[0].message == report.violations[-1].message


def test_gangs_check_runs_only_on_gpu_traces():
    tr = Trace(family="spark")
    tr.workers.update(id=[0], kind=["executor"], capacity=[1])
    assert "gangs" not in check_trace(tr).checks


def test_reading_a_gswarm_log_without_the_trace(tmp_path):
    # GSwarm's own log: no DAG, no arrivals, only gpu_id. Overlaps on a GPU are still found.
    log = {
        "summary": {"total_requests": 2, "gpus": [0, 1], "makespan": 9.0},
        "executions": [
            {"request_id": "req_1", "workflow_id": "w", "node_id": "a", "model_name": "m", "gpu_id": 0,
             "start_time": 1.0, "end_time": 4.0, "execution_time": 3.0, "estimated_time": 3.0, "switch_time": 1.0},
            {"request_id": "req_1", "workflow_id": "w", "node_id": "b", "model_name": "m", "gpu_id": 1,
             "start_time": 4.0, "end_time": 9.0, "execution_time": None, "estimated_time": 5.0, "switch_time": 0.0},
            {"request_id": "req_2", "workflow_id": "w", "node_id": "a", "model_name": "m", "gpu_id": 0,
             "start_time": 4.0, "end_time": 6.0, "execution_time": 2.0, "estimated_time": 2.0, "switch_time": 0.0},
        ],
    }  # fmt: skip
    p = tmp_path / "baseline_execution_log.json"
    p.write_text(json.dumps(log))
    tr = load_trace(p)
    assert tr.family == "gpu" and tr.jobs["name"] == ["req_1", "req_2"] and tr.jobs["completion"] == [9.0, 6.0]
    assert check_trace(tr).ok
    log["executions"][2]["start_time"] = 3.0  # overlaps req_1.a on GPU 0
    p.write_text(json.dumps(log))
    report = check_trace(load_trace(p))
    assert report.counts == {**dict.fromkeys(report.checks, 0), "capacity": 1}


def test_malformed_logs_are_data_errors(tmp_path):
    p = tmp_path / "log.json"
    p.write_text(json.dumps({"summary": {}, "executions": [{"request_id": "r"}]}))
    with pytest.raises(DataError, match=r"executions\[0\]\.node_id: missing"):
        load_trace(p)
    p.write_text(json.dumps({"summary": {}, "executions": [{"request_id": "r", "node_id": ["a"], "gpu_id": 0,
                                                            "start_time": 0, "end_time": 1}]}))  # fmt: skip
    with pytest.raises(DataError, match=r"executions\[0\]\.node_id: expected an id, got \['a'\]"):
        load_trace(p)
    p.write_text(json.dumps({"summary": {}}))
    with pytest.raises(DataError, match="not a schedlab trace"):
        load_trace(p)
    with pytest.raises(DataError, match="gpu traces, not 'spark'"):
        execution_log(Trace(family="spark"))
