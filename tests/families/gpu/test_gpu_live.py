"""The gpu family run live: against a fake OpenAI server (no torch) and the built-in server.

Nothing here asserts wall-clock speed: only that nodes are sent to the server, that what was
measured lands next to the estimates, that the log passes both checkers, that the built-in
server is gone after the command however it ends, and that a bad ``--server-url`` is one line.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from schedlab.cli import app
from schedlab.errors import ConfigError, DataError
from schedlab.families.gpu import gswarm
from schedlab.families.gpu.live.gswarm_check import check_execution_log
from schedlab.families.gpu.live.run import model_kinds, run_live
from schedlab.metrics.checker import check_trace
from schedlab.runs.traces import load_trace
from schedlab.scenarios import parse_scenario

runner = CliRunner()
SERVER_MODULE = "schedlab.families.gpu.live.server"


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:  # blocked (tests/without_torch) or broken
        return False


needs_server = pytest.mark.skipif(
    not all(_importable(m) for m in ("torch", "transformers", "fastapi", "uvicorn", "safetensors")),
    reason="the built-in model server needs torch, transformers, fastapi, uvicorn and safetensors (extra 'live')",
)

#: A workflow of an encoder and a generative model, small enough to run live in seconds.
TINY_CONFIG = {
    "models": {
        "minilm": {
            "name": "MiniLM embedder",
            "memory_gb": 0.1,
            "gpus_required": 1,
            "load_time_seconds": 1,
            "inference_time_mean": 0.25,
        },
        "llm": {
            "name": "LLM",
            "memory_gb": 1,
            "gpus_required": 1,
            "load_time_seconds": 2,
            "tokens_per_second": 50,
            "token_mean": 64,
        },
        "big": {
            "name": "Big LLM",
            "memory_gb": 4,
            "gpus_required": 2,
            "load_time_seconds": 4,
            "tokens_per_second": 20,
            "token_mean": 40,
        },
    },
    "workflows": {
        "w": {
            "name": "embed, then generate twice",
            "nodes": [
                {"id": "a", "model": "minilm"},
                {"id": "b", "model": "llm"},
                {"id": "c", "model": "big"},
            ],
            "edges": [{"from": "a", "to": "b"}, {"from": "a", "to": "c"}],
        }
    },
}


def _scenario(tmp_path: Path, jobs: int = 2, gpus: int = 2):
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(TINY_CONFIG))
    return parse_scenario(
        {"family": "gpu", "name": "tiny", "cluster": {"gpus": gpus}, "workload": {"config": str(cfg), "jobs": jobs}}
    )


def _one_line(r, text: str) -> str:
    assert r.exit_code == 2, r.output
    lines = r.output.strip().split("\n")
    assert len(lines) == 1 and lines[0].startswith("schedlab: error: "), r.output
    assert text in lines[0] and "Traceback" not in r.output
    return lines[0]


def _server_children() -> list[int]:
    """Pids of this process's children that run the built-in server."""
    return _children_running(os.getpid(), SERVER_MODULE)


def _children_running(ppid: int, module: str) -> list[int]:
    """Pids of the children of ``ppid`` whose command line names ``module``."""
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            parent = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError, IndexError):  # gone meanwhile, or unreadable
            continue
        if parent == ppid and module in cmd:
            found.append(int(d.name))
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# -- a fake OpenAI-compatible server (standard library, no torch) ------------------------------


class _FakeOpenAI(BaseHTTPRequestHandler):
    """Serves the config's models; each call sleeps 5 ms per token or input."""

    served = ("minilm", "llm", "big")
    calls: list[dict] = []

    def log_message(self, *args):  # quiet
        pass

    def _send(self, code: int, doc) -> None:
        body = json.dumps(doc).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/v1/models":
            self._send(200, {"object": "list", "data": [{"id": m, "object": "model"} for m in self.served]})
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self):
        doc = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).calls.append({"path": self.path, **doc})
        if self.path == "/v1/completions":
            time.sleep(0.005 * doc["max_tokens"])
            self._send(200, {"object": "text_completion", "choices": [{"index": 0, "text": "x"}]})
        elif self.path == "/v1/embeddings":
            time.sleep(0.005 * len(doc["input"]))
            self._send(
                200, {"object": "list", "data": [{"embedding": [0.0], "index": i} for i in range(len(doc["input"]))]}
            )
        else:
            self._send(404, {"error": "not found"})


@pytest.fixture
def fake_server():
    _FakeOpenAI.calls = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _FakeOpenAI)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


class _NotFound(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def plain_server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _NotFound)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _dead_url() -> str:
    import socket

    with socket.socket() as s:  # a port nobody listens on once closed
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


# -- the live executor against a server ------------------------------------------------------


def test_encoders_are_told_apart_by_name():
    kinds = model_kinds(gswarm.parse_config(TINY_CONFIG))
    assert kinds == {"minilm": "encoder", "llm": "generative", "big": "generative"}


def test_a_config_s_type_decides_before_the_name():
    models = {
        "clip": {"name": "CLIP-ViT", "memory_gb": 4, "gpus_required": 1, "load_time_seconds": 3,
                 "inference_time_mean": 0.2, "type": "embedding"},
        "bert_gen": {"name": "BERT-named LLM", "memory_gb": 1, "gpus_required": 1, "load_time_seconds": 1,
                     "tokens_per_second": 50, "token_mean": 8, "type": "llm"},
    }  # fmt: skip
    cfg = {"models": models, "workflows": {"w": {"name": "w", "nodes": [{"id": "a", "model": "clip"}]}}}
    assert model_kinds(gswarm.parse_config(cfg)) == {"clip": "encoder", "bert_gen": "generative"}
    bad = {**cfg, "models": {**models, "clip": {**models["clip"], "type": 3}}}
    with pytest.raises(DataError, match=r"models\.clip\.type"):
        gswarm.parse_config(bad)


def test_a_live_run_sends_every_node_and_records_what_it_measured(tmp_path, fake_server):
    r = run_live(_scenario(tmp_path, jobs=3), "ray-like", 0, server_url=fake_server)
    t = r.trace.tasks
    assert len(t["start"]) == 9 and r.metrics["completed_jobs"] == 3
    assert check_trace(r.trace).ok
    # Standard requests only: an external server gets no gang field, and no load endpoint.
    calls = _FakeOpenAI.calls
    assert {c["path"] for c in calls} == {"/v1/completions", "/v1/embeddings"}
    assert not any("gpus" in c for c in calls)
    # A switch is timed as a first tiny call: one per (gang, new model), on top of the 9 nodes.
    switches = sum(1 for prev, m in zip(t["previous_models"], t["model"]) if any(p != m for p in prev))
    assert len(calls) == 9 + switches
    assert all(m > 0 for m in t["measured_time"]) and all(e > 0 for e in t["estimated_time"])
    # The row's execution is the measured call: it ends when the call came back.
    for s, e, m in zip(t["start"], t["end"], t["measured_time"]):
        assert e - s <= m + 1e-9
    assert r.trace.meta["live"] == "model-server" and r.trace.meta["server"]["builtin"] is False
    assert "makespan_gap" not in r.metrics


def test_switch_times_may_leave_out_models_the_scenario_s_cost_model_fills_in(tmp_path, fake_server):
    # Only "big" gets a given switch time; minilm and llm keep the scenario's cost model: minilm
    # loads on an empty GPU (1 s), llm then replaces it ((0.1 + 1) GB / 16 GB/s + 2 s).
    r = run_live(_scenario(tmp_path, jobs=2), "ray-like", 0, server_url=fake_server, switch_times={"big": 7.5})
    t = r.trace.tasks
    first = {}
    for m, est in zip(t["model"], t["estimated_switch"]):
        first.setdefault(m, est)
    assert first == pytest.approx({"minilm": 1.0, "llm": (0.1 + 1) / 16 + 2, "big": 7.5})


def test_a_running_gpu_shows_its_estimated_end(tmp_path, fake_server):
    from schedlab.families.gpu.schedulers import RayLike

    seen = []

    class Recording(RayLike):
        def decide(self, view):
            seen.extend((view.now, g.free_at) for g in view.gpus if not g.idle)
            return super().decide(view)

    r = run_live(_scenario(tmp_path, jobs=4), Recording(), 0, server_url=fake_server)
    assert r.metrics["completed_jobs"] == 4
    # b and c of a request run side by side: one is still out when the other comes back.
    assert seen
    assert all(math.isfinite(f) and f >= now for now, f in seen)


def test_the_log_of_a_live_run_passes_both_checkers(tmp_path, fake_server):
    log = tmp_path / "log.json"
    res = runner.invoke(
        app,
        [
            "run",
            str(_write_scenario(tmp_path)),
            "--live",
            "--server-url",
            fake_server,
            "--limit",
            "2",
            "--trace",
            str(log),
            "-q",
        ],
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(log.read_text())
    assert doc["summary"]["simulate"] is True and doc["summary"]["total_requests"] == 2
    for e in doc["executions"]:
        assert {"estimated_time", "measured_time", "estimated_switch", "measured_load"} <= set(e)
    assert check_execution_log(doc) == []
    assert runner.invoke(app, ["check", str(log)]).exit_code == 0
    assert check_trace(load_trace(log)).ok
    # Both checkers can fail: an overlap on a GPU, and an execution_time that disagrees.
    e0 = doc["executions"][0]
    bad = dict(doc, executions=[*doc["executions"], dict(e0, request_id=e0["request_id"])])
    assert any("overlap" in p for p in check_execution_log(bad))
    bad = dict(doc, executions=[dict(e0, execution_time=e0["execution_time"] + 1), *doc["executions"][1:]])
    assert any("execution_time" in p for p in check_execution_log(bad))
    bad_file = tmp_path / "bad.json"
    later = dict(doc["executions"][1], start_time=e0["start_time"], gpu_id=e0["gpu_id"], gpu_ids=e0["gpu_ids"])
    bad_file.write_text(json.dumps(dict(doc, executions=[e0, later, *doc["executions"][2:]])))
    assert runner.invoke(app, ["check", str(bad_file)]).exit_code == 1


def _write_scenario(tmp_path: Path, gpus: int = 2) -> Path:
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(TINY_CONFIG))
    sc = tmp_path / "tiny.yaml"
    sc.write_text(f"family: gpu\nname: tiny\ncluster: {{gpus: {gpus}}}\nworkload: {{config: {cfg}}}\n")
    return sc


# -- a bad --server-url, and options that need --live ----------------------------------------


def test_a_dead_server_url_is_one_line_and_writes_nothing(tmp_path):
    log = tmp_path / "log.json"
    r = runner.invoke(app, ["run", "gpu", "--live", "--server-url", _dead_url(), "--limit", "1", "--trace", str(log)])
    line = _one_line(r, "--server-url")
    assert "cannot reach" in line and not log.exists()


def test_a_server_that_is_not_openai_compatible_is_one_line(plain_server):
    line = _one_line(
        runner.invoke(app, ["run", "gpu", "--simulate", "true", "--server-url", plain_server]), "--server-url"
    )
    assert "not an OpenAI-compatible server" in line and "404" in line


def test_a_server_without_the_configs_models_is_one_line(tmp_path, fake_server, monkeypatch):
    monkeypatch.setattr(_FakeOpenAI, "served", ("other",))
    line = _one_line(
        runner.invoke(app, ["run", str(_write_scenario(tmp_path)), "--live", "--server-url", fake_server]),
        "--server-url",
    )
    assert "'minilm'" in line and "'other'" in line


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--server-url", "http://127.0.0.1:1"], "--server-url"),
        (["--simulate", "false", "--server-url", "http://127.0.0.1:1"], "--server-url"),
        (["--simulate", "maybe"], "--simulate"),
        (["--simulate", "false", "--live"], "--simulate"),
        (["--live", "--workers", "2"], "--workers"),
        (["--limit", "2", "--jobs", "3"], "--limit"),
    ],
)
def test_live_only_and_conflicting_options_are_refused(args, field):
    _one_line(runner.invoke(app, ["run", "gpu", *args]), field)


def test_limit_runs_the_first_requests_in_simulation_too(tmp_path):
    m = tmp_path / "m.json"
    r = runner.invoke(app, ["run", "gpu", "--limit", "3", "--metrics-json", str(m), "-q"])
    assert r.exit_code == 0, r.output
    assert json.loads(m.read_text())["jobs"] == 3


@pytest.mark.parametrize("seed", [-1, True, 1.5])
def test_run_live_refuses_a_bad_seed_before_any_server_is_asked(tmp_path, seed):
    with pytest.raises(ConfigError, match="a seed is a non-negative integer"):
        run_live(_scenario(tmp_path), "ray-like", seed, server_url="http://127.0.0.1:1")


def test_run_live_refuses_faults(tmp_path):
    sc = _scenario(tmp_path).model_copy(
        update={"faults": parse_scenario({"family": "gpu", "faults": {"stragglers": {"probability": 0.5}}}).faults}
    )
    with pytest.raises(ConfigError, match="faults"):
        run_live(sc, "ray-like", 0, server_url="http://127.0.0.1:1")


# -- the built-in server --------------------------------------------------------------------


@needs_server
@pytest.mark.slow
def test_the_built_in_server_runs_real_models_and_is_gone_afterwards(tmp_path):
    log = tmp_path / "log.json"
    r = runner.invoke(
        app, ["run", str(_write_scenario(tmp_path)), "--simulate", "true", "--limit", "2", "--trace", str(log), "-q"]
    )
    assert r.exit_code == 0, r.output
    assert _server_children() == []
    doc = json.loads(log.read_text())
    assert check_execution_log(doc) == [] and runner.invoke(app, ["check", str(log)]).exit_code == 0
    trace = load_trace(log)
    pid = trace.meta["server"]["pid"]
    assert trace.meta["server"]["builtin"] and not _alive(pid)
    execs = doc["executions"]
    assert {e["model_name"] for e in execs} == {"minilm", "llm", "big"}
    # Real loads: every first use of a model on a gang read weights from disk.
    assert all(e["measured_load"] > 0 for e in execs if e["previous_models"] != [e["model_name"]] * len(e["gpu_ids"]))
    assert all(e["measured_time"] > 0 for e in execs)


@needs_server
@pytest.mark.slow
def test_the_built_in_server_is_stopped_when_the_run_fails(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from schedlab.sim.actions import Place\n"
        "class Bad:\n"
        "    families = ('gpu',)\n"
        "    def reset(self, rng=None):\n        pass\n"
        "    def decide(self, view):\n        return [Place(10**6, (0,))]\n"
    )
    r = runner.invoke(app, ["run", str(_write_scenario(tmp_path)), "--live", "--limit", "1", "-s", f"{bad}:Bad"])
    assert r.exit_code == 2 and "no task" in r.output, r.output
    assert _server_children() == []


@needs_server
@pytest.mark.slow
def test_ctrl_c_mid_run_stops_the_built_in_server_and_writes_nothing(tmp_path):
    import signal
    import subprocess
    import sys
    import urllib.request

    log = tmp_path / "log.json"
    cmd = [sys.executable, "-m", "schedlab.cli", "run", str(_write_scenario(tmp_path)), "--live", "--limit", "40",
           "--trace", str(log), "-q"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, text=True)
    try:
        server, deadline = None, time.monotonic() + 120
        while server is None and time.monotonic() < deadline and proc.poll() is None:
            server = next(iter(_children_running(proc.pid, SERVER_MODULE)), None)
            time.sleep(0.05)
        assert server is not None, "the built-in server never started"
        port = _server_port(server)
        while time.monotonic() < deadline and proc.poll() is None:  # the run begins once it answers
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        time.sleep(0.5)
        assert proc.poll() is None, "the run ended before it could be interrupted"
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode not in (0, 2), stderr
    assert "Traceback" not in stderr
    assert not _alive(server)
    assert not log.exists()


def _server_port(pid: int) -> int:
    args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    return int(args[args.index(b"--port") + 1])


@needs_server
@pytest.mark.slow
def test_the_built_in_server_answers_the_openai_api():
    from schedlab.families.gpu.live.client import ModelServer
    from schedlab.families.gpu.live.run import builtin_server

    models = {"minilm": {"kind": "encoder", "memory_gb": 0.1}, "llm": {"kind": "generative", "memory_gb": 1}}
    with builtin_server(models) as s:
        server = ModelServer(s.url).connect({"minilm": "encoder", "llm": "generative"})
        assert server.builtin
        first = server.load("llm", "generative", (0, 1))
        assert first > 0 and server.load("llm", "generative", (0, 1)) == 0.0  # already held
        assert server.load("llm", "generative", (1,)) == 0.0
        assert server.call("llm", "generative", 3, (0, 1)) > 0
        assert server.call("minilm", "encoder", 2, (2,)) > 0  # loads on the way
        pid = s.pid
        assert _alive(pid)
    assert not _alive(pid)
