"""Fixtures of the gpu tests: tiny configs whose switch costs are round numbers, and the real data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from helpers import drive
from schedlab.families.gpu.gswarm import WorkflowRequest, parse_config
from schedlab.families.gpu.model import EstimatedTimes, GpuCluster
from schedlab.sim.engine import Engine

GSWARM_DIR = Path(__file__).resolve().parents[3].parent / "shared" / "datasets" / "gpu-workflows"

# Switches at 16 GB/s + 2 s: A<->B (10 + 6) / 16 + 2 = 3.0 s; S<->G (2 + 4) / 16 + 2 = 2.375 s.
TINY = {
    "models": {
        "A": {"name": "A", "memory_gb": 10, "gpus_required": 1, "load_time_seconds": 5},
        "B": {"name": "B", "memory_gb": 6, "gpus_required": 1, "load_time_seconds": 3},
        "S": {"name": "S", "memory_gb": 2, "gpus_required": 1, "load_time_seconds": 1, "inference_time_mean": 2.0},
        "G": {"name": "G", "memory_gb": 4, "gpus_required": 2, "load_time_seconds": 2, "inference_time_mean": 4.0},
    },
    "workflows": {
        "ab": {"name": "A then B", "nodes": [{"id": "n1", "model": "A"}, {"id": "n2", "model": "B"}],
               "edges": [{"from": "n1", "to": "n2"}]},
        "s": {"name": "one S", "nodes": [{"id": "s", "model": "S"}], "edges": []},
        "g": {"name": "one G", "nodes": [{"id": "g", "model": "G"}], "edges": []},
    },
}  # fmt: skip


def requests_of(*specs):
    """``(workflow, {node: seconds}, timestamp)`` triples -> requests named req_0, req_1, ..."""
    return [
        WorkflowRequest(request_id=f"req_{i}", workflow_id=w, timestamp=float(ts), node_execution_times=dict(times))
        for i, (w, times, ts) in enumerate(specs)
    ]


def run_tiny(scheduler, specs, *, gpus=1, online=False, config=None):
    """Run a scheduler (name or object) on TINY requests; return (model, trace)."""
    from schedlab.families.gpu.gswarm import arrival_offsets, execution_time_table

    cfg = parse_config(config or TINY)
    reqs = requests_of(*specs)
    eng = Engine()
    arrivals = arrival_offsets(reqs) if online else [0.0] * len(reqs)
    times = EstimatedTimes(execution_time_table(cfg, reqs, np.random.default_rng(0)))
    model = GpuCluster(eng, cfg, reqs, arrivals, gpus=gpus, times=times)
    trace = drive(eng, model, scheduler, scenario={"workload": {"mode": "online" if online else "offline"}})
    return model, trace


def rows(trace, *cols):
    """The task table as tuples of the named columns, in the trace's (start) order."""
    return list(zip(*(trace.tasks[c] for c in cols)))


@pytest.fixture
def gswarm_dir():
    if not (GSWARM_DIR / "simple_config.json").is_file():
        pytest.skip("GSwarm data not found at ../shared/datasets/gpu-workflows")
    return GSWARM_DIR


class Tiny:
    """The builders above, handed to tests as the ``tiny`` fixture."""

    config = TINY
    requests_of = staticmethod(requests_of)
    run = staticmethod(run_tiny)
    rows = staticmethod(rows)


@pytest.fixture
def tiny():
    return Tiny
